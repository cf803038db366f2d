//! `POST /v1/audio/speech` over real HTTP with the real Piper voice: content
//! types and decodable audio per format (the WAV checked by Whisper), error
//! statuses, chunked streaming (audio arrives before synthesis is done, and
//! a client that leaves stops it), and one usage row per request.

use std::time::Duration;

use serde_json::{json, Value};

use crate::rest_transcriptions::usage_ids;
use crate::support::{dev_key, wer, ServerProcess};

const TEXT: &str =
    "Hello from Basics. The weather is lovely today, so we will walk to the park after lunch.";

async fn speak(
    server: &ServerProcess,
    key: &str,
    body: Value,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let response = reqwest::Client::new()
        .post(server.url("/v1/audio/speech"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Waits until the tenant has `count` usage rows (speech rows are written
/// when the worker finishes, just after the body ends).
async fn wait_for_rows(server: &ServerProcess, key: &str, count: usize) -> Vec<Value> {
    for _ in 0..600 {
        let rows = usage_ids(server, key).await;
        if rows.len() >= count {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("expected {count} usage rows");
}

#[tokio::test]
async fn every_format_has_its_content_type_and_decodes() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    let mut ids = Vec::new();

    let cases = [
        (
            json!({"model":"basics-tts","input":TEXT,"voice":"default","encoding":"mp3"}),
            "audio/mpeg",
        ),
        (
            json!({"model":"tts-1","input":TEXT,"voice":"alloy","response_format":"wav"}),
            "audio/wav",
        ),
        (
            json!({"model":"tts-1","input":TEXT,"voice":"nova","response_format":"pcm"}),
            "audio/L16;rate=24000",
        ),
        (json!({"input":TEXT,"encoding":"mulaw"}), "audio/basic"),
        (
            json!({"input":TEXT,"voice":"someone-new","encoding":"linear16","sample_rate":16000,"speed":1.25}),
            "audio/L16;rate=16000",
        ),
    ];
    let mut wav = Vec::new();
    for (body, content_type) in cases {
        let (status, headers, audio) = speak(&server, &key, body.clone()).await;
        assert_eq!(status, 200, "{body}: {}", String::from_utf8_lossy(&audio));
        assert_eq!(header(&headers, "content-type"), content_type, "{body}");
        assert_eq!(header(&headers, "transfer-encoding"), "chunked", "{body}");
        let id = header(&headers, "x-request-id").to_owned();
        assert_eq!(id.len(), 36, "x-request-id: {id:?}");
        ids.push(id);
        let decoded = match content_type {
            "audio/mpeg" => vocalis_audio::decode_file(&audio, Some("mp3"), 16_000).unwrap(),
            "audio/wav" => {
                wav = audio.clone();
                vocalis_audio::decode_file(&audio, Some("wav"), 16_000).unwrap()
            }
            "audio/basic" => vocalis_audio::decode_raw(
                &audio,
                vocalis_audio::RawEncoding::Mulaw,
                8_000,
                1,
                16_000,
            )
            .unwrap(),
            _ => {
                let rate = content_type.rsplit('=').next().unwrap().parse().unwrap();
                assert_eq!(audio.len() % 2, 0);
                vocalis_audio::decode_raw(
                    &audio,
                    vocalis_audio::RawEncoding::Linear16,
                    rate,
                    1,
                    16_000,
                )
                .unwrap()
            }
        };
        assert!(
            (1.5..15.0).contains(&decoded.duration_s),
            "{body}: {} s",
            decoded.duration_s
        );
        let peak = decoded.samples.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!(peak > 0.1, "{body}: silent audio");
    }

    // What the WAV says, Whisper hears.
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(wav)
                .file_name("speech.wav")
                .mime_str("audio/wav")
                .unwrap(),
        )
        .text("response_format", "json");
    let response = reqwest::Client::new()
        .post(server.url("/v1/audio/transcriptions"))
        .bearer_auth(&key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    ids.push(
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned(),
    );
    let body: Value = response.json().await.unwrap();
    let heard = body["text"].as_str().unwrap();
    assert!(wer(TEXT, heard) <= 0.15, "{heard:?}");

    // Exactly one usage row per request.
    let rows = wait_for_rows(&server, &key, ids.len()).await;
    assert_eq!(rows.len(), ids.len(), "{rows:?}");
    for id in &ids {
        assert_eq!(
            rows.iter()
                .filter(|r| r["session_id"] == id.as_str())
                .count(),
            1,
            "{id}"
        );
    }
    let tts: Vec<&Value> = rows.iter().filter(|r| r["service"] == "tts").collect();
    assert_eq!(tts.len(), 5);
    for row in tts {
        assert_eq!(row["outcome"], "ok", "{row}");
        assert_eq!(row["characters"], TEXT.chars().count(), "{row}");
        assert!(row["audio_seconds"].as_f64().unwrap() > 1.0, "{row}");
    }
}

/// OpenAI's `speed` spans 0.25 to 4.0 and is applied as asked, not clamped.
#[tokio::test]
async fn openai_speed_spans_a_quarter_to_four_times() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    let mut seconds = Vec::new();
    for speed in [0.25, 1.0, 4.0] {
        let body = json!({"input": TEXT, "response_format": "pcm", "speed": speed});
        let (status, _, pcm) = speak(&server, &key, body).await;
        assert_eq!(status, 200, "{speed}: {}", String::from_utf8_lossy(&pcm));
        seconds.push(pcm.len() as f64 / 2.0 / 24_000.0);
    }
    let (slow, normal, fast) = (seconds[0], seconds[1], seconds[2]);
    // Speech stretches with the speed; pauses between sentences do not.
    assert!(slow > 2.5 * normal, "{seconds:?}");
    assert!(fast < 0.6 * normal, "{seconds:?}");
}

#[tokio::test]
async fn bad_requests_get_json_errors_and_one_row_each() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("vocalis.toml");
    std::fs::write(&config, "max_speech_chars = 200\n").unwrap();
    let server = ServerProcess::start(data.path(), &["--config", config.to_str().unwrap()]);
    let key = dev_key(data.path());
    let cases = [
        (json!({"input": ""}), 422),
        (json!({"input": "   "}), 422),
        (json!({"voice": "alloy"}), 422),
        (json!({"input": "a".repeat(201)}), 413),
        (json!({"input": "Hi.", "response_format": "aac"}), 400),
        (
            json!({"input": "Hi.", "encoding": "mp3", "response_format": "wav"}),
            400,
        ),
        (json!({"input": "Hi.", "model": "eleven-turbo"}), 400),
        (json!({"input": "Hi.", "speed": 9.0}), 422),
        (
            json!({"input": "Hi.", "encoding": "mp3", "sample_rate": 11000}),
            422,
        ),
    ];
    for (body, want) in &cases {
        let (status, headers, text) = speak(&server, &key, body.clone()).await;
        assert_eq!(status, *want, "{body}: {}", String::from_utf8_lossy(&text));
        let error: Value = serde_json::from_slice(&text).unwrap();
        let code = if *want == 413 {
            "payload_too_large"
        } else {
            "invalid_payload"
        };
        assert_eq!(error["error"]["code"], code, "{body}");
        assert!(!header(&headers, "x-request-id").is_empty());
    }
    let unauthenticated = reqwest::Client::new()
        .post(server.url("/v1/audio/speech"))
        .json(&json!({"input": "Hi."}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let rows = usage_ids(&server, &key).await;
    assert_eq!(rows.len(), cases.len(), "{rows:?}");
    assert!(rows
        .iter()
        .all(|r| r["outcome"] == "client_error" && r["characters"] == 0));
}

#[tokio::test]
async fn audio_streams_before_synthesis_ends_and_stops_when_the_client_leaves() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    let text = (1..=120)
        .map(|i| format!("This is sentence number {i} of a long announcement."))
        .collect::<Vec<_>>()
        .join(" ");
    let mut response = reqwest::Client::new()
        .post(server.url("/v1/audio/speech"))
        .bearer_auth(&key)
        // 48 kHz WAV: far more audio than socket buffers hold, so the worker
        // must wait for this client and cannot finish on its own.
        .json(&json!({"input": text, "response_format": "wav", "sample_rate": 48000}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("content-length").is_none());
    assert_eq!(header(response.headers(), "transfer-encoding"), "chunked");
    let id = header(response.headers(), "x-request-id").to_owned();
    let first = response.chunk().await.unwrap().expect("a first chunk");
    assert_eq!(&first[..4], b"RIFF");
    // The first audio is here while the rest is still being synthesized:
    // the request's usage row is only written when the worker is done.
    let rows = usage_ids(&server, &key).await;
    assert!(
        rows.iter().all(|r| r["session_id"] != id.as_str()),
        "synthesis finished before the first chunk arrived: {rows:?}"
    );
    let mut received = first.len();
    for _ in 0..3 {
        received += response.chunk().await.unwrap().map_or(0, |c| c.len());
    }
    drop(response);

    // The worker stops between sentences; the row says what was spoken.
    let rows = wait_for_rows(&server, &key, 1).await;
    let row = rows
        .iter()
        .find(|r| r["session_id"] == id.as_str())
        .unwrap();
    assert_eq!(row["outcome"], "cancelled", "{row}");
    assert_eq!(row["error_code"], "client_closed", "{row}");
    let characters = row["characters"].as_u64().unwrap();
    assert!(
        characters > 0 && characters < text.chars().count() as u64,
        "{row}"
    );
    assert!(received > 44);
}
