//! Telephony platforms against the real server, each client written from
//! that platform's own documentation: Twilio Media Streams (JSON frames,
//! both tracks, the API key in `customParameters`, speech played back with
//! `media` + `mark`, `clear`), jambonz's custom speech vendor API (STT
//! WebSocket and TTS HTTP), FreeSWITCH `mod_audio_fork` (metadata frame,
//! L16 16 kHz stereo) and Asterisk `chan_websocket` (`MEDIA_START`
//! control frames, `slin16` and `ulaw`).

use std::process::Command;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{dev_key, read_to_close, speak_mulaw_8k, ServerProcess, Socket};

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard padded base64, as Twilio sends `media.payload`.
fn b64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
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

fn b64_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut n, mut bits) = (0u32, 0);
    for c in text.bytes().take_while(|&c| c != b'=') {
        let value = ALPHABET.iter().position(|&a| a == c).expect("base64") as u32;
        n = n << 6 | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((n >> bits) as u8);
        }
    }
    out
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

#[test]
fn base64_round_trips() {
    for len in 0..8 {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 200) as u8).collect();
        assert_eq!(b64_decode(&b64_encode(&bytes)), bytes);
    }
    assert_eq!(b64_encode(b"Ma"), "TWE=");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_media_streams_both_tracks_key_in_custom_parameters_and_speech_back() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    let caller = speak_mulaw_8k("Thank you for calling the pharmacy.");
    let agent = speak_mulaw_8k("How can I help you today?");

    // A wrong key in customParameters: refused before any audio, 1008.
    let mut refused = connect(format!("ws://{}/v1/twilio", server.addr)).await;
    send_json(
        &mut refused,
        json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
    )
    .await;
    send_json(&mut refused, json!({"event": "start", "sequenceNumber": "1", "streamSid": "MZbad",
        "start": {"streamSid": "MZbad", "accountSid": "AC1", "callSid": "CA1", "tracks": ["inbound"],
                  "customParameters": {"apiKey": "sk_live_wrongwrongwrongwrongwrongwrongwrongwr"},
                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})).await;
    let (messages, close) = read_to_close(&mut refused).await;
    assert_eq!(close.map(|c| c.0), Some(1008), "{messages:?}");
    assert_eq!(messages[0]["code"], "unauthorized", "{messages:?}");

    // No credential and not Twilio: refused at the first frame, 1008.
    let mut keyless = connect(format!("ws://{}/ws/stt", server.addr)).await;
    send_json(&mut keyless, json!({"type": "start"})).await;
    let (messages, close) = read_to_close(&mut keyless).await;
    assert_eq!(close.map(|c| c.0), Some(1008), "{messages:?}");

    // Twilio's own socket, forwarded as it is to /ws/stt: no header, no query.
    let mut socket = connect(format!("ws://{}/ws/stt", server.addr)).await;
    send_json(
        &mut socket,
        json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
    )
    .await;
    // Media before `start` (before the key is checked) is never processed.
    send_json(&mut socket, json!({"event": "media", "streamSid": "MZ1",
        "media": {"track": "inbound", "chunk": "0", "timestamp": "0", "payload": b64_encode(&[0x7Fu8; 160])}})).await;
    send_json(&mut socket, json!({"event": "start", "sequenceNumber": "1", "streamSid": "MZ1",
        "start": {"streamSid": "MZ1", "accountSid": "AC1", "callSid": "CA1",
                  "tracks": ["inbound", "outbound"],
                  "customParameters": {"apiKey": key, "FirstName": "Jane"},
                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})).await;
    // Both tracks, 20 ms frames, then a second of silence on each.
    let silence = vec![0xFFu8; 8_000];
    let inbound: Vec<u8> = caller.iter().chain(&silence).copied().collect();
    let outbound: Vec<u8> = agent.iter().chain(&silence).copied().collect();
    let frames = inbound.len().max(outbound.len()).div_ceil(160);
    let mut sequence = 2;
    for i in 0..frames {
        for (track, audio) in [("inbound", &inbound), ("outbound", &outbound)] {
            let Some(chunk) = audio.chunks(160).nth(i) else {
                continue;
            };
            sequence += 1;
            send_json(&mut socket, json!({"event": "media", "sequenceNumber": sequence.to_string(), "streamSid": "MZ1",
                "media": {"track": track, "chunk": i.to_string(), "timestamp": (i * 20).to_string(), "payload": b64_encode(chunk)}})).await;
        }
    }
    send_json(&mut socket, json!({"event": "dtmf", "streamSid": "MZ1", "dtmf": {"track": "inbound_track", "digit": "1"}})).await;
    // Speech back to the caller: media frames, then the mark.
    send_json(
        &mut socket,
        json!({"event": "speak", "text": "Your order is ready.", "mark": "reply-1"}),
    )
    .await;
    let mut messages = Vec::new();
    let mut played = 0usize;
    loop {
        let message = next_json(&mut socket)
            .await
            .expect("the mark before any close");
        if message["event"] == "media" {
            assert_eq!(message["streamSid"], "MZ1");
            let payload = b64_decode(message["media"]["payload"].as_str().unwrap());
            assert!(!payload.is_empty() && payload.len() <= 160);
            played += payload.len();
        } else if message["event"] == "mark" {
            assert_eq!(message["mark"]["name"], "reply-1");
            break;
        }
        messages.push(message);
    }
    assert!(
        played > 4_000,
        "about a second of μ-law at least: {played} bytes"
    );

    // Barge-in: a long reply, cleared at its first frame.
    send_json(&mut socket, json!({"event": "speak", "text": "Please listen carefully, as our menu options have recently changed. ".repeat(4), "mark": "long"})).await;
    loop {
        let message = next_json(&mut socket).await.expect("media");
        if message["event"] == "media" {
            break;
        }
        messages.push(message);
    }
    send_json(&mut socket, json!({"event": "clear", "streamSid": "MZ1"})).await;
    let mut after_clear = 0usize;
    loop {
        let message = next_json(&mut socket).await.expect("the clear");
        if message["event"] == "clear" {
            break;
        }
        if message["event"] == "media" {
            after_clear += 1;
        }
        messages.push(message);
    }
    assert!(
        after_clear <= 60,
        "at most the one second sent ahead: {after_clear} frames"
    );
    send_json(
        &mut socket,
        json!({"event": "mark", "streamSid": "MZ1", "mark": {"name": "reply-1"}}),
    )
    .await;
    send_json(
        &mut socket,
        json!({"event": "stop", "sequenceNumber": "999", "streamSid": "MZ1",
        "stop": {"accountSid": "AC1", "callSid": "CA1"}}),
    )
    .await;
    let (rest, close) = read_to_close(&mut socket).await;
    assert_eq!(close.map(|c| c.0), Some(1000), "{rest:#?}");
    assert!(
        !rest
            .iter()
            .any(|m| m["event"] == "media" || m["event"] == "mark"),
        "nothing of the cleared reply after the clear: {rest:#?}"
    );
    messages.extend(rest);
    let is_final = |track: &'static str| {
        move |m: &Value| {
            m["event"] == "transcription" && m["is_final"] == true && m["track"] == track
        }
    };
    let inbound_text = finals(&messages, is_final("inbound"));
    let outbound_text = finals(&messages, is_final("outbound"));
    assert!(inbound_text.contains("pharmacy"), "{messages:#?}");
    assert!(outbound_text.contains("help"), "{messages:#?}");
    assert!(
        !inbound_text.contains("help") && !outbound_text.contains("pharmacy"),
        "tracks stay apart: {messages:#?}"
    );
    for m in messages.iter().filter(|m| m["event"] == "transcription") {
        assert_eq!(m["type"], "transcription");
        assert_eq!(m["streamSid"], "MZ1");
        assert_eq!(m["channel"], if m["track"] == "inbound" { 0 } else { 1 });
    }
    let stopped = messages
        .iter()
        .find(|m| m["event"] == "session_stopped")
        .expect("session_stopped");
    let billed = stopped["billing_summary"]["total_duration_seconds"]
        .as_f64()
        .unwrap();
    let expected = (inbound.len() + outbound.len()) as f64 / 8_000.0;
    assert!(
        (billed - expected).abs() < 0.01,
        "both tracks billed, the pre-start frame not: {billed} vs {expected}"
    );
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
    assert!(text.contains("sales"), "{text}");
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
