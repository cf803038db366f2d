//! `stream_format: "sse"`: the synthesized audio as OpenAI's server-sent
//! events, `speech.audio.delta` (base64 audio of the response format) for
//! each chunk and `speech.audio.done` with usage at the end. A failure
//! after the first event is one `event: error` with OpenAI's error body,
//! and the stream ends without `done`.

use axum::body::{Body, Bytes};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt as _};

use crate::error::{ApiError, Dialect};
use crate::wire::openai::{sse_data, sse_error, SpeechStreamEvent, SpeechUsage, EVENT_STREAM};

/// The event-stream response for `audio` (the encoded chunks, ending
/// cleanly only when the whole input was spoken).
pub(super) fn response<S>(audio: S, characters: u64) -> Response
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
{
    let events = futures_util::stream::unfold(
        (Box::pin(audio), false),
        move |(mut audio, ended)| async move {
            if ended {
                return None;
            }
            let event = match audio.next().await {
                Some(Ok(bytes)) => (sse_data(&SpeechStreamEvent::delta(&bytes)), false),
                Some(Err(error)) => {
                    let error = match error.into_inner() {
                        Some(inner) => match inner.downcast::<ApiError>() {
                            Ok(api) => *api,
                            Err(other) => ApiError::Internal(other.to_string()),
                        },
                        None => ApiError::Internal("synthesis abandoned".into()),
                    };
                    (sse_error(&error.body(Dialect::OpenAi, "")), true)
                }
                None => {
                    let done = SpeechStreamEvent::Done {
                        usage: SpeechUsage::for_characters(characters),
                    };
                    (sse_data(&done), true)
                }
            };
            Some((Ok::<_, std::io::Error>(event.0), (audio, event.1)))
        },
    );
    let mut response = Body::from_stream(events).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(EVENT_STREAM));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn chunks_become_deltas_then_done() {
        let audio = futures_util::stream::iter([
            Ok(Bytes::from_static(b"ab")),
            Ok(Bytes::from_static(b"c")),
        ]);
        let response = response(audio, 7);
        assert_eq!(response.headers()[CONTENT_TYPE], "text/event-stream");
        let text = body_text(response).await;
        let events: Vec<serde_json::Value> = text
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap())
            .collect();
        assert_eq!(events.len(), 3, "{text}");
        assert_eq!(events[0]["type"], "speech.audio.delta");
        assert_eq!(events[0]["audio"], "YWI=");
        assert_eq!(events[1]["audio"], "Yw==");
        assert_eq!(events[2]["type"], "speech.audio.done");
        assert_eq!(events[2]["usage"]["input_tokens"], 7);
        assert_eq!(events[2]["usage"]["total_tokens"], 7);
    }

    #[tokio::test]
    async fn a_failure_is_one_error_event_and_no_done() {
        let failed = std::io::Error::other(ApiError::Unspeakable("cannot say that".into()));
        let audio = futures_util::stream::iter([Ok(Bytes::from_static(b"ab")), Err(failed)]);
        let text = body_text(response(audio, 7)).await;
        assert!(text.contains("event: error\ndata: {"), "{text}");
        assert!(text.contains("\"code\":\"text_unspeakable\""), "{text}");
        assert!(!text.contains("speech.audio.done"), "{text}");
    }
}
