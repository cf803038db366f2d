//! Hostile prompts and floods against the real server: a prompt past
//! whisper.cpp's 1 024-token buffer on every route that takes one (OpenAI
//! `prompt`, Deepgram `keywords`/`keyterm`, 60db `context`), and one 1 MiB
//! μ-law frame (two minutes of audio) on `/ws/stt`. Each must be served
//! normally and leave the server healthy.

use futures_util::SinkExt as _;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::rest_transcriptions::speak;
use crate::support::{dev_key, read_to_close_code, speak_mulaw_8k, wer, ServerProcess, Socket};

const SENTENCE: &str = "Please send the final numbers to the finance team by Friday.";
/// Most word errors allowed on the sentence under a hostile prompt (3 of 11).
const PROMPTED_MAX_WER: f64 = 0.3;

/// 1 500 words, one 20 000-letter word, stacked clitics and emoji.
fn hostile_prompt() -> String {
    let words: Vec<String> = (0..1_500).map(|i| format!("word{i}")).collect();
    format!(
        "{} {} {} {}",
        words.join(" "),
        "x".repeat(20_000),
        "s's".repeat(300),
        "😀".repeat(500)
    )
}

async fn healthy(server: &ServerProcess) {
    let status = reqwest::get(server.url("/healthz")).await.unwrap().status();
    assert_eq!(status, 200);
}

async fn start_stt(server: &ServerProcess, key: &str, context: Value) -> Socket {
    let url = format!("ws://{}/ws/stt?apiKey={key}", server.addr);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    socket
        .send(Message::Text(
            json!({"type": "start", "languages": ["en"], "context": context,
                   "config": {"encoding": "mulaw", "sample_rate": 8000}})
            .to_string()
            .into(),
        ))
        .await
        .unwrap();
    socket
}

fn finals(messages: &[Value]) -> String {
    messages
        .iter()
        .filter(|m| m["type"] == "transcription" && m["is_final"] == true)
        .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_prompts_and_a_two_minute_frame_are_served() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    let prompt = hostile_prompt();
    let wav = speak(SENTENCE, "wav");

    // OpenAI-style upload with the prompt.
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(wav.clone()).file_name("speech.wav"),
        )
        .text("model", "whisper-1")
        .text("response_format", "json")
        .text("prompt", prompt.clone());
    let response = reqwest::Client::new()
        .post(server.url("/v1/audio/transcriptions"))
        .bearer_auth(&key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let text = body["text"].as_str().unwrap();
    // A junk prompt of hundreds of terms may still pull a word or two
    // (Piper's audio varies run to run); the point is a normal transcript.
    assert!(wer(SENTENCE, text) <= PROMPTED_MAX_WER, "{text}");
    healthy(&server).await;

    // Deepgram keywords and keyterm (query parameters, so a smaller prompt
    // fits the URL, but still hundreds of terms and one enormous word).
    let terms: Vec<String> = (0..300).map(|i| format!("keyterm=term{i}")).collect();
    let url = format!(
        "/v1/listen?model=nova-2&keywords={}&{}",
        "y".repeat(4_000),
        terms.join("&")
    );
    let response = reqwest::Client::new()
        .post(server.url(&url))
        .header("Authorization", format!("Token {key}"))
        .header("Content-Type", "audio/wav")
        .body(wav)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let text = body["results"]["channels"][0]["alternatives"][0]["transcript"]
        .as_str()
        .unwrap();
    // A junk prompt of hundreds of terms may still pull a word or two
    // (Piper's audio varies run to run); the point is a normal transcript.
    assert!(wer(SENTENCE, text) <= PROMPTED_MAX_WER, "{text}");
    healthy(&server).await;

    // 60db context, then one frame of two minutes: speech, then silence.
    let mut socket = start_stt(&server, &key, json!({"text": prompt})).await;
    let mut audio = speak_mulaw_8k(SENTENCE);
    audio.resize(1024 * 1024 - 64, 0xFF);
    socket
        .send(Message::Binary(audio.clone().into()))
        .await
        .unwrap();
    healthy(&server).await;
    socket
        .send(Message::Text(r#"{"type":"stop"}"#.into()))
        .await
        .unwrap();
    let (messages, code) = read_to_close_code(&mut socket).await;
    assert_eq!(code, Some(1000), "{messages:#?}");
    let heard = finals(&messages);
    assert!(wer(SENTENCE, &heard) <= 0.2, "{heard}");
    let stopped = messages
        .iter()
        .find(|m| m["type"] == "session_stopped")
        .expect("session_stopped");
    let billed = stopped["billing_summary"]["total_duration_seconds"]
        .as_f64()
        .unwrap();
    let sent = audio.len() as f64 / 8_000.0;
    assert!((billed - sent).abs() < 0.1, "billed {billed} s of {sent} s");
    healthy(&server).await;
}
