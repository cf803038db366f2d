//! Deepgram semantics on pre-recorded `POST /v1/listen` against the real
//! server, written from Deepgram's documentation: `utterances=true` (with
//! `utt_split`) returns `results.utterances[]`, unsupported feature
//! parameters (`redact`, `search`, `numerals`, `summarize`…) are reported in
//! `metadata.warnings`, never silently dropped, and every error is
//! Deepgram's `{"err_code","err_msg","request_id"}` naming the request.

use serde_json::Value;

use crate::rest_transcriptions::speak;
use crate::support::{dev_key, wer, ServerProcess};

const FIRST: &str = "The package left the warehouse this morning.";
const SECOND: &str = "It should arrive before noon tomorrow.";

/// 16 kHz s16le: `FIRST`, 1.5 s of silence, `SECOND`.
fn two_utterances() -> Vec<u8> {
    let mut samples = Vec::new();
    for (i, text) in [FIRST, SECOND].iter().enumerate() {
        if i > 0 {
            samples.extend(std::iter::repeat_n(0.0f32, 24_000));
        }
        let audio = vocalis_audio::decode_file(&speak(text, "wav"), Some("wav"), 16_000).unwrap();
        samples.extend_from_slice(&audio.samples);
    }
    samples
        .iter()
        .flat_map(|s| vocalis_audio::pcm::f32_to_i16(*s).to_le_bytes())
        .collect()
}

/// A `POST /v1/listen` with `query`: status, `x-request-id`, JSON body.
async fn listen(
    server: &ServerProcess,
    key: Option<&str>,
    query: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, String, Value) {
    let mut request = reqwest::Client::new()
        .post(server.url(&format!("/v1/listen?{query}")))
        .header("content-type", content_type)
        .body(body);
    if let Some(key) = key {
        request = request.header("authorization", format!("Token {key}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let id = response
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, id, body)
}

/// Asserts Deepgram's error body, exactly its three fields, naming `id`.
fn assert_deepgram_error(status: u16, id: &str, body: &Value, want: u16, err_code: &str) {
    assert_eq!(status, want, "{body}");
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["err_code", "err_msg", "request_id"], "{body}");
    assert_eq!(body["err_code"], err_code, "{body}");
    assert!(body["err_msg"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(!id.is_empty(), "x-request-id is set");
    assert_eq!(body["request_id"], id, "{body}");
}

#[tokio::test]
async fn utterances_warnings_and_deepgram_errors() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    let audio = two_utterances();
    let raw = "encoding=linear16&sample_rate=16000";

    // utterances=true: two utterances around the 1.5 s pause.
    let (status, _, body) = listen(
        &server,
        Some(&key),
        &format!("{raw}&utterances=true&punctuate=true"),
        "application/octet-stream",
        audio.clone(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let utterances = body["results"]["utterances"].as_array().unwrap();
    assert_eq!(utterances.len(), 2, "{body:#}");
    for (utterance, text) in utterances.iter().zip([FIRST, SECOND]) {
        for field in [
            "start",
            "end",
            "confidence",
            "channel",
            "transcript",
            "words",
            "id",
        ] {
            assert!(utterance.get(field).is_some(), "{field}: {utterance}");
        }
        assert_eq!(utterance["channel"], 0);
        let transcript = utterance["transcript"].as_str().unwrap();
        assert!(wer(text, transcript) <= 0.15, "{transcript}");
        let words = utterance["words"].as_array().unwrap();
        assert_eq!(words[0]["start"], utterance["start"]);
        assert_eq!(words[words.len() - 1]["end"], utterance["end"]);
    }
    assert!(utterances[0]["end"].as_f64() < utterances[1]["start"].as_f64());
    assert_ne!(utterances[0]["id"], utterances[1]["id"]);
    // A split longer than the pause keeps one utterance; without
    // `utterances` there are none.
    let (_, _, body) = listen(
        &server,
        Some(&key),
        &format!("{raw}&utterances=true&utt_split=3"),
        "application/octet-stream",
        audio.clone(),
    )
    .await;
    assert_eq!(body["results"]["utterances"].as_array().unwrap().len(), 1);

    // Unsupported features are reported, one warning each.
    let (status, _, body) = listen(
        &server,
        Some(&key),
        &format!("{raw}&redact=pci&search=refund&numerals=true&summarize=v2&replace=a:b"),
        "application/octet-stream",
        audio,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["results"].get("utterances").is_none(), "{body}");
    let warnings = body["metadata"]["warnings"].as_array().unwrap();
    for parameter in ["redact", "search", "numerals", "summarize", "replace"] {
        let warning = warnings
            .iter()
            .find(|w| w["parameter"] == parameter)
            .unwrap_or_else(|| panic!("no warning for {parameter}: {warnings:?}"));
        assert_eq!(warning["type"], "unsupported_feature");
        assert!(warning["message"].as_str().unwrap().contains(parameter));
    }

    // Errors in Deepgram's shape: 401, 400 (bad parameter, URL body),
    // 415, and axum's own rejection of a plain GET.
    let wav = speak("Hello.", "wav");
    let (status, id, body) = listen(&server, None, "", "audio/wav", wav.clone()).await;
    assert_deepgram_error(status, &id, &body, 401, "INVALID_AUTH");
    let (status, id, body) = listen(
        &server,
        Some(&key),
        "diarize=maybe",
        "audio/wav",
        wav.clone(),
    )
    .await;
    assert_deepgram_error(status, &id, &body, 400, "Bad Request");
    let url = br#"{"url":"https://example.com/a.wav"}"#.to_vec();
    let (status, id, body) = listen(&server, Some(&key), "", "application/json", url).await;
    assert_deepgram_error(status, &id, &body, 400, "Bad Request");
    assert!(body["err_msg"].as_str().unwrap().contains("cannot fetch"));
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let (status, id, body) = listen(&server, Some(&key), "", "image/png", png).await;
    assert_deepgram_error(status, &id, &body, 415, "UNSUPPORTED_MEDIA_TYPE");
    let response = reqwest::Client::new()
        .get(server.url("/v1/listen"))
        .header("authorization", format!("Token {key}"))
        .send()
        .await
        .unwrap();
    // axum's own rejection of a handshake without `Upgrade`, in Deepgram's shape.
    let status = response.status().as_u16();
    assert!(matches!(status, 400 | 405 | 426), "{status}");
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(response.headers()["dg-request-id"].to_str().unwrap(), id);
    let body: Value = response.json().await.unwrap();
    assert_deepgram_error(status, &id, &body, status, "Bad Request");
}
