//! `stream=true` on `/v1/audio/transcriptions`: the transcript as OpenAI's
//! server-sent events, one `transcript.text.delta` per Whisper segment
//! (after the first, with the space that joins it, so the deltas add up to
//! the text) and `transcript.text.done` with the whole text.
//!
//! The file is transcribed first (the pieces of a long file in parallel),
//! so every error is still an ordinary HTTP error and the events follow at
//! once. `stream` is honoured with `response_format` `json` or `text` (or
//! none), as OpenAI's streaming is; `false` (or absent) answers as before.

use axum::body::{Body, Bytes};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use vocalis_inference::stt::Transcript;

use crate::error::ApiError;
use crate::wire::openai::{sse_data, ResponseFormat, TranscriptionStreamEvent, EVENT_STREAM};

/// Whether `stream` asks for events with `format` (`Err` when it cannot be
/// given with that format, or is not a boolean).
pub(super) fn wanted(stream: Option<&str>, format: ResponseFormat) -> Result<bool, ApiError> {
    let on = match stream.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return Err(ApiError::InvalidPayload(format!(
                "`stream` must be true or false, got `{other}`"
            )))
        }
    };
    if on
        && !matches!(
            format,
            ResponseFormat::Json | ResponseFormat::Text | ResponseFormat::Deepgram
        )
    {
        return Err(ApiError::InvalidPayload(
            "`stream=true` is available with response_format `json` or `text`".into(),
        ));
    }
    Ok(on)
}

/// The events of a finished transcript.
pub(super) fn events(transcript: &Transcript) -> Vec<TranscriptionStreamEvent> {
    // Joined as `Transcript::text` joins them, so the deltas add up to it.
    let mut events: Vec<TranscriptionStreamEvent> = transcript
        .segments
        .iter()
        .filter(|s| !s.text.is_empty())
        .enumerate()
        .map(|(i, s)| TranscriptionStreamEvent::Delta {
            delta: if i == 0 {
                s.text.clone()
            } else {
                format!(" {}", s.text)
            },
        })
        .collect();
    events.push(TranscriptionStreamEvent::Done {
        text: transcript.text(),
    });
    events
}

/// The event-stream response of a finished transcript.
pub(super) fn response(transcript: &Transcript) -> Response {
    let frames: Vec<Result<Bytes, std::io::Error>> =
        events(transcript).iter().map(|e| Ok(sse_data(e))).collect();
    let mut response = Body::from_stream(futures_util::stream::iter(frames)).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(EVENT_STREAM));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use vocalis_inference::stt::Segment;

    fn segment(text: &str) -> Segment {
        Segment {
            start: 0.0,
            end: 1.0,
            text: text.into(),
            avg_logprob: -0.1,
            no_speech_prob: 0.0,
        }
    }

    #[test]
    fn deltas_add_up_to_the_text() {
        let transcript = Transcript {
            segments: vec![segment("Hello there."), segment(""), segment("Goodbye.")],
            words: vec![],
            language: Some(("en".into(), 1.0)),
            duration_s: 2.0,
        };
        let events = events(&transcript);
        assert_eq!(events.len(), 3);
        let mut joined = String::new();
        for event in &events[..2] {
            match event {
                TranscriptionStreamEvent::Delta { delta } => joined.push_str(delta),
                other => panic!("not a delta: {other:?}"),
            }
        }
        let TranscriptionStreamEvent::Done { text } = &events[2] else {
            panic!("no done event");
        };
        assert_eq!(&joined, text);
        assert_eq!(text, &transcript.text());
    }

    #[test]
    fn stream_needs_json_or_text() {
        assert!(!wanted(None, ResponseFormat::Json).unwrap());
        assert!(!wanted(Some("false"), ResponseFormat::Srt).unwrap());
        assert!(wanted(Some("true"), ResponseFormat::Text).unwrap());
        assert!(wanted(Some("True"), ResponseFormat::Deepgram).unwrap());
        assert!(wanted(Some("true"), ResponseFormat::VerboseJson).is_err());
        assert!(wanted(Some("maybe"), ResponseFormat::Json).is_err());
    }
}
