//! OpenAI semantics on `/v1/audio/*` against the real server, written from
//! OpenAI's API reference: `stream=true` transcriptions as
//! `transcript.text.delta` / `transcript.text.done` server-sent events,
//! `stream_format: "sse"` speech as `speech.audio.delta` (base64 audio) and
//! `speech.audio.done` (usage), and every error (400, 401, 402, 405, 413,
//! 415, 422, malformed JSON and multipart) in exactly OpenAI's body
//! `{"error":{"message","type","param","code"}}`.

use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::rest_transcriptions::{speak, SENTENCE};
use crate::support::{create_key, dev_key, wer, ServerProcess};

/// The `data:` payloads of an event stream, and whether any event was an
/// `event: error`.
fn sse_events(body: &str) -> (Vec<Value>, bool) {
    let mut events = Vec::new();
    let mut error = false;
    for block in body.split("\n\n").filter(|b| !b.trim().is_empty()) {
        for line in block.lines() {
            if line == "event: error" {
                error = true;
            } else if let Some(data) = line.strip_prefix("data: ") {
                events.push(serde_json::from_str(data).unwrap_or_else(|_| panic!("{data}")));
            } else {
                panic!("not an SSE line: {line:?}");
            }
        }
    }
    (events, error)
}

/// Asserts OpenAI's error body, exactly: `error` with `message` (text),
/// `type` (text), `param` (null) and `code` (`code`), and nothing else.
fn assert_openai_error(status: u16, body: &str, want_status: u16, code: &str) {
    assert_eq!(status, want_status, "{body}");
    let value: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    let outer: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert_eq!(outer, ["error"], "{body}");
    let error = value["error"].as_object().unwrap();
    let mut keys: Vec<&str> = error.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "message", "param", "type"], "{body}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(error["type"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(error["param"], Value::Null, "{body}");
    assert_eq!(error["code"], code, "{body}");
}

/// Standard, padded base64 (the test crate has no base64 dependency).
fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    assert_eq!(text.len() % 4, 0, "padded base64");
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for quad in text.as_bytes().chunks(4) {
        let mut bits = 0u32;
        let mut pads = 0;
        for &c in quad {
            let value = if c == b'=' {
                pads += 1;
                0
            } else {
                ALPHABET
                    .iter()
                    .position(|&a| a == c)
                    .expect("base64 alphabet") as u32
            };
            bits = bits << 6 | value;
        }
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - pads]);
    }
    out
}

async fn post(request: reqwest::RequestBuilder) -> (u16, String, String) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, kind, response.text().await.unwrap())
}

#[tokio::test]
async fn streaming_transcription_sse_speech_and_openai_error_bodies() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("vocalis.toml");
    std::fs::write(
        &config,
        "max_speech_chars = 300\nmax_body_bytes = 2000000\n",
    )
    .unwrap();
    let server = ServerProcess::start(data.path(), &["--config", config.to_str().unwrap()]);
    let key = dev_key(data.path());
    let client = reqwest::Client::new();
    let wav = speak(SENTENCE, "wav");
    let file = || {
        Part::bytes(wav.clone())
            .file_name("speech.wav")
            .mime_str("audio/wav")
            .unwrap()
    };

    // stream=true: deltas that add up to the done event's text.
    let form = Form::new()
        .part("file", file())
        .text("model", "gpt-4o-mini-transcribe")
        .text("stream", "true");
    let (status, kind, body) = post(
        client
            .post(server.url("/v1/audio/transcriptions"))
            .bearer_auth(&key)
            .multipart(form),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(kind.starts_with("text/event-stream"), "{kind}");
    let (events, error) = sse_events(&body);
    assert!(!error, "{body}");
    let (done, deltas) = events.split_last().unwrap();
    assert!(!deltas.is_empty(), "{body}");
    let mut joined = String::new();
    for delta in deltas {
        assert_eq!(delta["type"], "transcript.text.delta", "{delta}");
        assert!(delta.get("logprobs").is_none(), "{delta}");
        joined.push_str(delta["delta"].as_str().unwrap());
    }
    assert_eq!(done["type"], "transcript.text.done", "{done}");
    assert_eq!(done["text"].as_str().unwrap(), joined);
    assert!(wer(SENTENCE, &joined) <= 0.10, "{joined}");
    // stream=false answers as before; stream with srt is refused.
    let form = Form::new()
        .part("file", file())
        .text("response_format", "json")
        .text("stream", "false");
    let (status, kind, body) = post(
        client
            .post(server.url("/v1/audio/transcriptions"))
            .bearer_auth(&key)
            .multipart(form),
    )
    .await;
    assert_eq!((status, kind.as_str()), (200, "application/json"), "{body}");
    let form = Form::new()
        .part("file", file())
        .text("response_format", "srt")
        .text("stream", "true");
    let (status, _, body) = post(
        client
            .post(server.url("/v1/audio/transcriptions"))
            .bearer_auth(&key)
            .multipart(form),
    )
    .await;
    assert_openai_error(status, &body, 400, "invalid_payload");

    // stream_format "sse": base64 WAV deltas, then done with usage.
    let text = "Streaming speech arrives as events. Each one carries audio.";
    let (status, kind, body) = post(
        client
            .post(server.url("/v1/audio/speech"))
            .bearer_auth(&key)
            .json(
                &json!({"model": "gpt-4o-mini-tts", "voice": "coral", "input": text,
                          "response_format": "wav", "stream_format": "sse"}),
            ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(kind.starts_with("text/event-stream"), "{kind}");
    let (events, error) = sse_events(&body);
    assert!(!error, "{body}");
    let (done, deltas) = events.split_last().unwrap();
    let mut audio = Vec::new();
    for delta in deltas {
        assert_eq!(delta["type"], "speech.audio.delta", "{delta}");
        let chunk = base64_decode(delta["audio"].as_str().unwrap());
        audio.extend_from_slice(&chunk);
    }
    assert_eq!(done["type"], "speech.audio.done", "{done}");
    let chars = text.chars().count() as u64;
    assert_eq!(done["usage"]["input_tokens"], chars, "{done}");
    assert_eq!(done["usage"]["total_tokens"], chars, "{done}");
    assert_eq!(done["usage"]["output_tokens"], 0, "{done}");
    assert_eq!(&audio[..4], b"RIFF");
    let heard = vocalis_audio::decode_file(&audio, Some("wav"), 16_000).unwrap();
    assert!(heard.samples.len() > 16_000, "at least a second of speech");
    let (status, _, body) = post(
        client
            .post(server.url("/v1/audio/speech"))
            .bearer_auth(&key)
            .json(&json!({"input": "Hi.", "stream_format": "carrier-pigeon"})),
    )
    .await;
    assert_openai_error(status, &body, 400, "invalid_payload");

    // Error bodies, every path: malformed JSON, bad multipart, 401, 402,
    // 405, 413, 415, 422.
    let (status, _, body) = post(
        client
            .post(server.url("/v1/audio/speech"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body("{\"input\": "),
    )
    .await;
    assert_openai_error(status, &body, 400, "invalid_payload");
    let (status, _, body) = post(
        client
            .post(server.url("/v1/audio/transcriptions"))
            .bearer_auth(&key)
            .header("content-type", "multipart/form-data; boundary=XYZ")
            .body("--XYZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nunterminated"),
    )
    .await;
    assert_openai_error(status, &body, 400, "invalid_payload");
    let (status, _, body) = post(
        client
            .post(server.url("/v1/audio/transcriptions"))
            .bearer_auth(&key)
            .header("content-type", "multipart/form-data"),
    )
    .await;
    assert_openai_error(status, &body, 400, "invalid_payload");
    let (status, _, body) = post(
        client
            .post(server.url("/v1/audio/speech"))
            .json(&json!({"input": "Hi."})),
    )
    .await;
    assert_openai_error(status, &body, 401, "unauthorized");
    let broke = create_key(data.path(), "broke", &["--credits", "0"]);
    let (status, _, body) = post(
        client
            .post(server.url("/v1/audio/speech"))
            .bearer_auth(&broke)
            .json(&json!({"input": "Hi."})),
    )
    .await;
    assert_openai_error(status, &body, 402, "insufficient_credits");
    assert!(body.contains("insufficient_quota"), "{body}");
    let (status, _, body) = post(
        client
            .get(server.url("/v1/audio/transcriptions"))
            .bearer_auth(&key),
    )
    .await;
    assert_eq!(status, 405, "{body}");
    let value: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(value["error"]["type"], "invalid_request_error", "{body}");
    assert_eq!(value["error"]["param"], Value::Null, "{body}");
    let (status, _, body) = post(
        client
            .post(server.url("/v1/audio/speech"))
            .bearer_auth(&key)
            .json(&json!({"input": "a".repeat(301)})),
    )
    .await;
    assert_openai_error(status, &body, 413, "payload_too_large");
    let png = Part::bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec())
        .file_name("x.png")
        .mime_str("image/png")
        .unwrap();
    let (status, _, body) = post(
        client
            .post(server.url("/v1/audio/transcriptions"))
            .bearer_auth(&key)
            .multipart(Form::new().part("file", png)),
    )
    .await;
    assert_openai_error(status, &body, 415, "unsupported_media_type");
    let (status, _, body) = post(
        client
            .post(server.url("/v1/audio/speech"))
            .bearer_auth(&key)
            .json(&json!({"input": "Hi.", "speed": 9.0})),
    )
    .await;
    assert_openai_error(status, &body, 422, "invalid_payload");
}

/// A multi-sentence paragraph of about 25 s when spoken.
const PARAGRAPH: &str = "The library opens at nine in the morning on weekdays. \
    Visitors can borrow up to ten books at a time with a valid card. \
    The reading room on the second floor is kept quiet for study. \
    Children's stories are read aloud every Saturday at eleven. \
    Please return borrowed books before the date printed on the receipt. \
    Late returns are charged a small fee for each day.";

#[tokio::test]
async fn streamed_transcription_sends_each_piece_as_it_is_decoded() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = create_key(data.path(), "streamer", &[]);
    let client = reqwest::Client::new();
    let wav = speak(PARAGRAPH, "wav");
    let form = Form::new()
        .part(
            "file",
            Part::bytes(wav)
                .file_name("paragraph.wav")
                .mime_str("audio/wav")
                .unwrap(),
        )
        .text("model", "whisper-1")
        .text("stream", "true");
    let mut response = client
        .post(server.url("/v1/audio/transcriptions"))
        .bearer_auth(&key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    // The body as it arrives: each chunk read, in order.
    let mut chunks = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        chunks.push(String::from_utf8(chunk.to_vec()).unwrap());
    }
    let body = chunks.concat();
    let (events, error) = sse_events(&body);
    assert!(!error, "{body}");
    let (done, deltas) = events.split_last().unwrap();
    assert_eq!(done["type"], "transcript.text.done", "{body}");
    let text = done["text"].as_str().unwrap();
    assert!(deltas.len() >= 2, "one delta for a 25 s paragraph: {body}");
    let mut joined = String::new();
    for delta in deltas {
        assert_eq!(delta["type"], "transcript.text.delta", "{delta}");
        let piece = delta["delta"].as_str().unwrap();
        assert!(!piece.trim().is_empty(), "{delta}");
        joined.push_str(piece);
    }
    assert_eq!(joined, text);
    assert!(wer(PARAGRAPH, text) <= 0.15, "{text}");
    // The first delta went out before the last piece was decoded: it came
    // in an earlier read than `done`, and it is only the start of the text.
    let first = chunks
        .iter()
        .position(|c| c.contains("transcript.text.delta"))
        .unwrap();
    let last = chunks
        .iter()
        .position(|c| c.contains("transcript.text.done"))
        .unwrap();
    assert!(first < last, "{chunks:#?}");
    let first_text = deltas[0]["delta"].as_str().unwrap();
    assert!(first_text.len() * 2 < text.len(), "{first_text} / {text}");

    // A short clip is one piece and still streams.
    let form = Form::new()
        .part(
            "file",
            Part::bytes(speak(SENTENCE, "wav"))
                .file_name("speech.wav")
                .mime_str("audio/wav")
                .unwrap(),
        )
        .text("stream", "true")
        .text("response_format", "text");
    let (status, kind, short) = post(
        client
            .post(server.url("/v1/audio/transcriptions"))
            .bearer_auth(&key)
            .multipart(form),
    )
    .await;
    assert_eq!(status, 200, "{short}");
    assert!(kind.starts_with("text/event-stream"), "{kind}");
    let (events, error) = sse_events(&short);
    assert!(!error && events.len() >= 2, "{short}");
    let done = events.last().unwrap();
    assert!(
        wer(SENTENCE, done["text"].as_str().unwrap()) <= 0.10,
        "{short}"
    );

    // One usage record for the streamed request, with the whole audio.
    let usage = server.usage(&key).await;
    let rows = usage["sessions"].as_array().cloned().unwrap_or_default();
    let streamed: Vec<&Value> = rows.iter().filter(|r| r["session_id"] == id).collect();
    assert_eq!(streamed.len(), 1, "{rows:?}");
    assert_eq!(streamed[0]["outcome"], "ok", "{rows:?}");
    let seconds = streamed[0]["audio_seconds"].as_f64().unwrap();
    assert!((15.0..40.0).contains(&seconds), "{rows:?}");
    assert_eq!(usage["totals"]["sessions"], 2, "{usage}");
}
