//! `POST /v1/audio/transcriptions` and pre-recorded `POST /v1/listen` over
//! real HTTP with real speech (a Piper clip from `vocalis speak`): the
//! Deepgram shape with `text`, every OpenAI `response_format`, base64 JSON
//! with μ-law, multichannel and diarize on one voice, each error status with its
//! JSON body, and one usage row per request.

use std::collections::BTreeSet;
use std::process::Command;

use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::support::{dev_key, speak_mulaw_8k, wer, ServerProcess};

pub(crate) const SENTENCE: &str =
    "Please call me back this afternoon about the delivery schedule for next week.";

/// Speech for `text` from `vocalis speak` in `format` (`wav`, `mp3`…).
pub(crate) fn speak(text: &str, format: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(format!("speech.{format}"));
    let status = Command::new(env!("CARGO_BIN_EXE_vocalis"))
        .args([
            "speak",
            text,
            "-o",
            out.to_str().unwrap(),
            "--format",
            format,
        ])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run vocalis speak");
    assert!(
        status.status.success(),
        "vocalis speak failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    std::fs::read(out).unwrap()
}

/// A 16-bit stereo WAV: `left` on channel 0, silence on channel 1.
fn stereo_with_silent_right(mono_wav: &[u8]) -> Vec<u8> {
    let audio = vocalis_audio::decode_file(mono_wav, Some("wav"), 16_000).unwrap();
    let mut data = Vec::with_capacity(audio.samples.len() * 4);
    for sample in &audio.samples {
        data.extend_from_slice(&vocalis_audio::pcm::f32_to_i16(*sample).to_le_bytes());
        data.extend_from_slice(&0i16.to_le_bytes());
    }
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16_000u32.to_le_bytes());
    out.extend_from_slice(&64_000u32.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}

fn form(wav: &[u8], fields: &[(&str, &str)]) -> Form {
    let mut form = Form::new().part(
        "file",
        Part::bytes(wav.to_vec())
            .file_name("speech.wav")
            .mime_str("audio/wav")
            .unwrap(),
    );
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    form
}

/// Sends a multipart upload; returns status, `x-request-id` and body text.
async fn upload(
    server: &ServerProcess,
    key: &str,
    wav: &[u8],
    fields: &[(&str, &str)],
) -> (u16, String, String) {
    let response = reqwest::Client::new()
        .post(server.url("/v1/audio/transcriptions"))
        .bearer_auth(key)
        .multipart(form(wav, fields))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, id, response.text().await.unwrap())
}

fn assert_error(status: u16, body: &str, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    let body: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON error: {body}"));
    assert_eq!(body["error"]["code"], want_code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.len() > 10),
        "{body}"
    );
}

/// The session ids of the tenant's usage rows.
pub(crate) async fn usage_ids(server: &ServerProcess, key: &str) -> Vec<Value> {
    let usage: Value = server.usage(key).await;
    usage["sessions"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn deepgram_json_and_every_openai_format() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    let wav = speak(SENTENCE, "wav");
    let mut ids = BTreeSet::new();

    // Default: Deepgram's pre-recorded shape plus `text`.
    let (status, id, body) = upload(&server, &key, &wav, &[("model", "basics-stt")]).await;
    assert_eq!(status, 200, "{body}");
    ids.insert(id.clone());
    let body: Value = serde_json::from_str(&body).unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(wer(SENTENCE, text) <= 0.10, "WER too high: {text:?}");
    let metadata = &body["metadata"];
    assert_eq!(metadata["request_id"], id.as_str());
    assert_eq!(metadata["channels"], 1);
    assert!(metadata["duration"].as_f64().unwrap() > 1.0, "{metadata}");
    assert_eq!(metadata["sha256"].as_str().unwrap().len(), 64);
    let model = metadata["models"][0].as_str().unwrap();
    assert_eq!(metadata["model_info"][model]["arch"], "whisper");
    let channel = &body["results"]["channels"][0];
    assert_eq!(channel["detected_language"], "en");
    let alternative = &channel["alternatives"][0];
    assert_eq!(alternative["transcript"], text);
    assert!(alternative["confidence"].as_f64().unwrap() > 0.3);
    let words = alternative["words"].as_array().unwrap();
    assert!(words.len() >= 7, "{alternative}");
    for word in words {
        for field in ["word", "punctuated_word"] {
            assert!(word[field].is_string(), "{word}");
        }
        assert!(word["start"].as_f64().unwrap() <= word["end"].as_f64().unwrap());
    }
    assert_eq!(words[0]["word"], "please");
    assert_eq!(words[0]["punctuated_word"], "Please");

    // OpenAI `json`, with the `whisper-1` name.
    let (status, id, body) = upload(
        &server,
        &key,
        &wav,
        &[("model", "whisper-1"), ("response_format", "json")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    ids.insert(id);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert!(
        wer(SENTENCE, body["text"].as_str().unwrap()) <= 0.10,
        "{body}"
    );
    assert!(body.get("results").is_none(), "{body}");

    // The model names OpenAI clients send today mean the served model too.
    for model in ["gpt-4o-transcribe", "gpt-4o-mini-transcribe"] {
        let (status, id, body) = upload(
            &server,
            &key,
            &wav,
            &[("model", model), ("response_format", "json")],
        )
        .await;
        assert_eq!(status, 200, "{model}: {body}");
        ids.insert(id);
    }

    // `text`, `srt`, `vtt`.
    let (status, id, body) = upload(&server, &key, &wav, &[("response_format", "text")]).await;
    assert_eq!(status, 200);
    ids.insert(id);
    assert!(wer(SENTENCE, &body) <= 0.10, "{body}");
    let (status, id, srt) = upload(&server, &key, &wav, &[("response_format", "srt")]).await;
    assert_eq!(status, 200);
    ids.insert(id);
    assert!(srt.starts_with("1\n00:00:0"), "{srt}");
    assert!(srt.contains(" --> "), "{srt}");
    let (status, id, vtt) = upload(&server, &key, &wav, &[("response_format", "vtt")]).await;
    assert_eq!(status, 200);
    ids.insert(id);
    assert!(vtt.starts_with("WEBVTT\n\n00:00:0"), "{vtt}");

    // `verbose_json` with segments and, when asked, words.
    let (status, id, body) = upload(
        &server,
        &key,
        &wav,
        &[
            ("response_format", "verbose_json"),
            ("timestamp_granularities[]", "word"),
            ("timestamp_granularities[]", "segment"),
            ("language", "en"),
            ("temperature", "0"),
            ("prompt", "A voicemail."),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    ids.insert(id);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["task"], "transcribe");
    assert_eq!(body["language"], "english");
    assert!(body["duration"].as_f64().unwrap() > 1.0);
    let segment = &body["segments"][0];
    for field in [
        "id",
        "seek",
        "start",
        "end",
        "text",
        "tokens",
        "temperature",
        "avg_logprob",
        "compression_ratio",
        "no_speech_prob",
    ] {
        assert!(
            segment.get(field).is_some(),
            "segment lacks {field}: {segment}"
        );
    }
    assert!(body["words"].as_array().unwrap().len() >= 7, "{body}");
    let (status, id, body) =
        upload(&server, &key, &wav, &[("response_format", "verbose_json")]).await;
    assert_eq!(status, 200);
    ids.insert(id);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert!(
        body.get("words").is_none() && body["segments"].is_array(),
        "{body}"
    );

    // The gateway's JSON: base64 μ-law at 8 kHz.
    let mulaw = speak_mulaw_8k(SENTENCE);
    let response = reqwest::Client::new()
        .post(server.url("/v1/audio/transcriptions"))
        .bearer_auth(&key)
        .json(&json!({
            "model": "basics-stt",
            "audio": base64_encode(&mulaw),
            "mime_type": "audio/mulaw;rate=8000",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    ids.insert(
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned(),
    );
    let body: Value = response.json().await.unwrap();
    assert!(
        wer(SENTENCE, body["text"].as_str().unwrap()) <= 0.10,
        "{body}"
    );
    let duration = body["metadata"]["duration"].as_f64().unwrap();
    assert!(
        (duration - mulaw.len() as f64 / 8000.0).abs() < 0.01,
        "{duration}"
    );

    // Deepgram pre-recorded: raw body, query parameters, warnings.
    let client = reqwest::Client::new();
    let response = client
        .post(server.url("/v1/listen?model=nova-2&punctuate=false&diarize=true"))
        .header("Authorization", format!("Token {key}"))
        .header("Content-Type", "audio/wav")
        .body(wav.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    ids.insert(
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned(),
    );
    let body: Value = response.json().await.unwrap();
    assert!(body.get("text").is_none(), "{body}");
    let alternative = &body["results"]["channels"][0]["alternatives"][0];
    let transcript = alternative["transcript"].as_str().unwrap();
    assert!(wer(SENTENCE, transcript) <= 0.10, "{transcript}");
    assert_eq!(transcript, transcript.to_lowercase(), "punctuate=false");
    assert!(!transcript.contains('.'), "{transcript}");
    assert!(alternative["words"][0].get("punctuated_word").is_none());
    // One voice: every word is speaker 0 (tests/integration/diarize.rs has two).
    let words = alternative["words"].as_array().unwrap();
    assert!(words.iter().all(|w| w["speaker"] == 0), "{words:?}");
    let warnings = body["metadata"]["warnings"].as_array();
    assert!(
        warnings.is_none_or(|w| w.iter().all(|w| w["parameter"] != "diarize")),
        "{warnings:?}"
    );

    // Raw μ-law with encoding + sample_rate, and two channels transcribed apart.
    let response = client
        .post(server.url("/v1/listen?encoding=mulaw&sample_rate=8000&smart_format=true"))
        .bearer_auth(&key)
        .header("Content-Type", "application/octet-stream")
        .body(mulaw.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    ids.insert(
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned(),
    );
    let body: Value = response.json().await.unwrap();
    let transcript = body["results"]["channels"][0]["alternatives"][0]["transcript"]
        .as_str()
        .unwrap();
    assert!(wer(SENTENCE, transcript) <= 0.10, "{transcript}");
    let response = client
        .post(server.url("/v1/listen?multichannel=true&punctuate=true"))
        .bearer_auth(&key)
        .header("Content-Type", "audio/wav")
        .body(stereo_with_silent_right(&wav))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    ids.insert(
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned(),
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["metadata"]["channels"], 2, "{body}");
    let channels = body["results"]["channels"].as_array().unwrap();
    let left = channels[0]["alternatives"][0]["transcript"]
        .as_str()
        .unwrap();
    assert!(wer(SENTENCE, left) <= 0.10, "{left}");
    assert_eq!(channels[1]["alternatives"][0]["transcript"], "");

    // Exactly one usage row per request, under its request id.
    let rows = usage_ids(&server, &key).await;
    let row_ids: BTreeSet<String> = rows
        .iter()
        .map(|r| r["session_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(rows.len(), ids.len(), "{rows:?}");
    assert_eq!(row_ids, ids);
    assert!(rows
        .iter()
        .all(|r| r["service"] == "stt" && r["outcome"] == "ok"));
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn errors_are_json_with_their_status() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("vocalis.toml");
    std::fs::write(
        &config,
        "max_body_bytes = 400000\nmax_audio_seconds = 2.0\n",
    )
    .unwrap();
    let server = ServerProcess::start(data.path(), &["--config", config.to_str().unwrap()]);
    let key = dev_key(data.path());
    let short = speak("Hello.", "wav");
    let client = reqwest::Client::new();

    // 415: a PNG, declared or sniffed.
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
    for mime in ["image/png", "application/octet-stream"] {
        let form = Form::new().part(
            "file",
            Part::bytes(png.to_vec())
                .file_name("picture.png")
                .mime_str(mime)
                .unwrap(),
        );
        let response = client
            .post(server.url("/v1/audio/transcriptions"))
            .bearer_auth(&key)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert_error(
            status,
            &response.text().await.unwrap(),
            415,
            "unsupported_media_type",
        );
    }

    // 400: unknown model, and an installed Whisper model that is not served.
    let (status, _, body) = upload(&server, &key, &short, &[("model", "gpt-9-transcribe")]).await;
    assert_error(status, &body, 400, "invalid_payload");
    assert!(body.contains("tiny.en"), "names the served model: {body}");
    let (status, _, body) = upload(&server, &key, &short, &[("model", "base")]).await;
    assert_error(status, &body, 400, "invalid_payload");
    assert!(
        body.contains("`base`") && body.contains("tiny.en"),
        "{body}"
    );

    // 400: unknown response_format; 422: no file, bad temperature.
    let (status, _, body) = upload(&server, &key, &short, &[("response_format", "xml")]).await;
    assert_error(status, &body, 400, "invalid_payload");
    let (status, _, body) = upload(&server, &key, &short, &[("temperature", "7")]).await;
    assert_error(status, &body, 422, "invalid_payload");
    let response = client
        .post(server.url("/v1/audio/transcriptions"))
        .bearer_auth(&key)
        .multipart(Form::new().text("model", "whisper-1"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_error(
        status,
        &response.text().await.unwrap(),
        422,
        "invalid_payload",
    );

    // 413: a body over `max_body_bytes`, and audio over `max_audio_seconds`.
    let big = vec![0u8; 500_000];
    let (status, _, body) = upload(&server, &key, &big, &[]).await;
    assert_error(status, &body, 413, "payload_too_large");
    let long = speak(
        "This sentence is long enough to take more than two seconds to say aloud.",
        "wav",
    );
    let (status, _, body) = upload(&server, &key, &long, &[]).await;
    assert_error(status, &body, 413, "payload_too_large");

    // 401 without a key (no usage row for unauthenticated requests).
    let response = client
        .post(server.url("/v1/audio/transcriptions"))
        .multipart(form(&short, &[]))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    // Its body was never read: the server says it closes the connection, so
    // the client does not reuse it for the next request.
    assert_eq!(
        response.headers().get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..])
    );
    assert_error(status, &response.text().await.unwrap(), 401, "unauthorized");

    // `/v1/listen`: URLs cannot be fetched here.
    let response = client
        .post(server.url("/v1/listen"))
        .bearer_auth(&key)
        .json(&json!({"url": "https://example.com/audio.wav"}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    // Deepgram's route answers in Deepgram's error shape.
    assert_eq!(status, 400, "{body}");
    let value: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(value["err_code"], "Bad Request", "{body}");
    assert!(body.contains("cannot fetch"), "{body}");

    // Every authenticated request was recorded once, as a client error.
    let rows = usage_ids(&server, &key).await;
    assert_eq!(rows.len(), 10, "{rows:?}");
    assert!(rows
        .iter()
        .all(|r| r["outcome"] == "client_error" && r["billed_seconds"] == 0.0));
}
