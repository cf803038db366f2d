//! Telephony platforms against the real server, each client written from
//! that platform's own documentation: Twilio Media Streams (JSON frames,
//! both tracks, the API key in `customParameters`, speech played back with
//! `media` + `mark`, `clear`), jambonz's custom speech vendor API (STT
//! WebSocket and TTS HTTP), FreeSWITCH `mod_audio_fork` (metadata frame,
//! L16 16 kHz stereo) and Asterisk `chan_websocket` (`MEDIA_START`
//! control frames, `slin16` and `ulaw`).
//!
//! # Layout
//! - [`twilio`]: the Twilio Media Streams client.

mod twilio;

use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{dev_key, read_to_close, speak_mulaw_8k, ServerProcess, Socket};

/// Standard padded base64, as Twilio sends `media.payload`.
fn b64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn b64_decode(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64 payload")
}

/// Speech for `text` as raw s16le mono at `rate` (`vocalis speak`).
fn speak_pcm(text: &str, rate: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("speech.raw");
    let status = Command::new(env!("CARGO_BIN_EXE_vocalis"))
        .args([
            "speak",
            text,
            "-o",
            out.to_str().unwrap(),
            "--format",
            "pcm",
        ])
        .args(["--rate", &rate.to_string()])
        .env("RUST_LOG", "warn")
        .status()
        .expect("run vocalis speak");
    assert!(status.success(), "vocalis speak failed");
    std::fs::read(out).unwrap()
}

async fn connect(url: String) -> Socket {
    tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade")
        .0
}

async fn send_json(socket: &mut Socket, value: Value) {
    socket
        .send(Message::Text(value.to_string().into()))
        .await
        .expect("send");
}

/// The next JSON text frame (binary frames skipped), `None` at the close.
async fn next_json(socket: &mut Socket) -> Option<Value> {
    loop {
        let next = tokio::time::timeout(Duration::from_secs(120), socket.next())
            .await
            .expect("a frame within 120 s")?;
        match next {
            Ok(Message::Text(text)) => return Some(serde_json::from_str(&text).expect("JSON")),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

fn finals(messages: &[Value], keep: impl Fn(&Value) -> bool) -> String {
    messages
        .iter()
        .filter(|m| keep(m))
        .map(|m| m["text"].as_str().unwrap_or_default().to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jambonz_custom_speech_tts_http_and_stt_websocket() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    let client = reqwest::Client::new();

    // TTS: jambonz POSTs {language, voice, type, text}; audio/l16 comes back.
    let response = client
        .post(server.url("/v1/jambonz/tts"))
        .bearer_auth(&key)
        .json(
            &json!({"language": "en-US", "voice": "en-US-Standard-C", "type": "text",
                      "text": "Your prescription is ready for pickup."}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "audio/l16;rate=8000");
    let speech = response.bytes().await.unwrap().to_vec();
    assert!(
        speech.len() > 16_000,
        "over a second of 8 kHz L16: {}",
        speech.len()
    );
    let ssml = client
        .post(server.url("/v1/jambonz/tts?sample_rate=16000"))
        .bearer_auth(&key)
        .json(&json!({"language": "en-US", "voice": "x", "type": "ssml", "text": "<speak>Hello <break time=\"500ms\"/> there.</speak>"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ssml.status(), 200);
    assert_eq!(ssml.headers()["content-type"], "audio/l16;rate=16000");
    let unauthorized = client
        .post(server.url("/v1/jambonz/tts"))
        .json(&json!({"text": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);

    // STT: Authorization: Bearer on the upgrade, start, binary L16, stop.
    let mut request = format!("ws://{}/v1/jambonz/stt", server.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Authorization", format!("Bearer {key}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    // Audio before `start` is not guessed at.
    socket
        .send(Message::Binary(vec![0u8; 320].into()))
        .await
        .unwrap();
    assert_eq!(next_json(&mut socket).await.unwrap()["type"], "error");
    send_json(
        &mut socket,
        json!({"type": "start", "language": "en-US", "format": "raw", "encoding": "LINEAR16",
        "sampleRateHz": 8000, "interimResults": true, "options": {}}),
    )
    .await;
    let silence = vec![0u8; 16_000];
    for frame in speech
        .iter()
        .chain(&silence)
        .copied()
        .collect::<Vec<_>>()
        .chunks(320)
    {
        socket
            .send(Message::Binary(frame.to_vec().into()))
            .await
            .unwrap();
    }
    send_json(&mut socket, json!({"type": "stop"})).await;
    let (messages, close) = read_to_close(&mut socket).await;
    assert_eq!(close.map(|c| c.0), Some(1000), "{messages:#?}");
    let transcripts: Vec<&Value> = messages
        .iter()
        .filter(|m| m["type"] == "transcription")
        .collect();
    assert!(
        transcripts
            .iter()
            .all(|m| m["alternatives"][0]["transcript"].is_string()
                && m["alternatives"][0]["confidence"].is_number()
                && m["language"] == "en-US"),
        "{messages:#?}"
    );
    let text: String = transcripts
        .iter()
        .filter(|m| m["is_final"] == true)
        .map(|m| {
            m["alternatives"][0]["transcript"]
                .as_str()
                .unwrap()
                .to_lowercase()
        })
        .collect();
    assert!(text.contains("prescription"), "{messages:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeswitch_audio_fork_metadata_then_l16_16k_stereo() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    let caller = speak_pcm("I would like to book a table for two.", 16_000);
    let callee = speak_pcm("Certainly, what time works for you?", 16_000);
    // `uuid_audio_fork <uuid> start ws://…?apiKey=… stereo 16k {…}`: the
    // metadata frame names the rate and mix; the URL carries the key only.
    let mut socket = connect(format!("ws://{}/v1/audiofork?apiKey={key}", server.addr)).await;
    send_json(&mut socket, json!({"callid": "a1b2", "from": "1000", "to": "1002", "sampleRate": 16000, "mixType": "stereo"})).await;
    let samples = caller.len().max(callee.len()) / 2 + 24_000;
    let sample = |audio: &[u8], i: usize| {
        [
            audio.get(2 * i).copied().unwrap_or(0),
            audio.get(2 * i + 1).copied().unwrap_or(0),
        ]
    };
    let mut stereo = Vec::with_capacity(samples * 4);
    for i in 0..samples {
        stereo.extend(sample(&caller, i));
        stereo.extend(sample(&callee, i));
    }
    for frame in stereo.chunks(640 * 2) {
        socket
            .send(Message::Binary(frame.to_vec().into()))
            .await
            .unwrap();
    }
    let mut messages = Vec::new();
    let mut channels_done = [false, false];
    while channels_done != [true, true] {
        let message = next_json(&mut socket)
            .await
            .expect("transcripts before any close");
        assert_eq!(message["type"], "transcription", "{message}");
        let data = &message["data"];
        if data["is_final"] == true && !data["text"].as_str().unwrap().is_empty() {
            channels_done[data["channel"].as_u64().unwrap() as usize] = true;
        }
        messages.push(message);
    }
    // FreeSWITCH ends the fork by closing the socket.
    socket.close(None).await.unwrap();
    let text = |channel: u64| {
        finals(
            &messages
                .iter()
                .map(|m| m["data"].clone())
                .collect::<Vec<_>>(),
            |d| d["is_final"] == true && d["channel"] == channel,
        )
    };
    assert!(text(0).contains("table"), "{messages:#?}");
    assert!(text(1).contains("time"), "{messages:#?}");
    assert!(
        !text(0).contains("time"),
        "channels stay apart: {messages:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asterisk_chan_websocket_media_start_sets_slin16_and_ulaw() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());

    // Plain-text control frames, slin16: 16 kHz linear, never μ-law.
    let speech = speak_pcm("Please press one for billing.", 16_000);
    let mut socket = connect(format!("ws://{}/v1/asterisk?apiKey={key}", server.addr)).await;
    socket.send(Message::Text("MEDIA_START connection_id:c1 channel:PJSIP/alice-00000001 format:slin16 optimal_frame_size:640 ptime:20".into())).await.unwrap();
    let silence = vec![0u8; 48_000];
    for frame in speech
        .iter()
        .chain(&silence)
        .copied()
        .collect::<Vec<_>>()
        .chunks(640)
    {
        socket
            .send(Message::Binary(frame.to_vec().into()))
            .await
            .unwrap();
    }
    socket
        .send(Message::Text("MEDIA_XOFF".into()))
        .await
        .unwrap();
    let text = until_final(&mut socket).await;
    assert!(text.contains("billing"), "{text}");
    socket.close(None).await.unwrap();

    // JSON control frames on /ws/stt, ulaw: recognised, not `invalid_message`.
    let speech = speak_mulaw_8k("Please press two for sales.");
    let mut socket = connect(format!("ws://{}/ws/stt?apiKey={key}", server.addr)).await;
    send_json(
        &mut socket,
        json!({"type": "MEDIA_START", "connection_id": "c2", "channel": "PJSIP/bob-00000002",
        "format": "ulaw", "optimal_frame_size": 160, "ptime": 20}),
    )
    .await;
    for frame in speech
        .iter()
        .chain(&vec![0xFFu8; 24_000])
        .copied()
        .collect::<Vec<_>>()
        .chunks(160)
    {
        socket
            .send(Message::Binary(frame.to_vec().into()))
            .await
            .unwrap();
    }
    let text = until_final(&mut socket).await;
    // tiny.en hears "sale" or "sales" at 8 kHz depending on where the final's
    // window ends (a speculative partial or the endpoint); either proves the
    // frames were read as μ-law: misread bytes decode to noise, not words.
    assert!(text.contains("sale"), "{text}");
}

/// Reads until the first non-empty final `transcription`; no `error` allowed.
async fn until_final(socket: &mut Socket) -> String {
    loop {
        let message = next_json(socket).await.expect("a final before any close");
        assert_ne!(message["type"], "error", "{message}");
        if message["type"] == "transcription" && message["is_final"] == true {
            let text = message["text"].as_str().unwrap().to_lowercase();
            if !text.trim().is_empty() {
                return text;
            }
        }
    }
}
