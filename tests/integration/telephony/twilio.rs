//! Twilio Media Streams, with a client written from Twilio's documentation:
//! `connected`, `start` (tracks, `customParameters` carrying the API key),
//! `media` on both tracks, `dtmf`, `mark`, `stop`; speech played back as
//! `media` + `mark`; `clear` (barge-in); the same frames on a keyed
//! `WS /v1/listen` (a bridge holding a Deepgram key).

use futures_util::SinkExt as _;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;

use super::{b64_decode, b64_encode, connect, finals, next_json, send_json};
use crate::support::{dev_key, read_to_close, speak_mulaw_8k, ServerProcess};

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

    // Keyless on Deepgram's route: Deepgram's 401 before any upgrade, unless
    // the request is Twilio's own (Twilio signs it with X-Twilio-Signature).
    let url = format!("ws://{}/v1/listen", server.addr);
    match tokio_tungstenite::connect_async(url.as_str())
        .await
        .map(|_| ())
    {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401);
        }
        other => panic!("a keyless /v1/listen upgrade was not refused: {other:?}"),
    }
    let mut signed = url.into_client_request().unwrap();
    signed
        .headers_mut()
        .insert("x-twilio-signature", "c2lnbmF0dXJl".parse().unwrap());
    let (mut signed, _) = tokio_tungstenite::connect_async(signed)
        .await
        .expect("Twilio's signed keyless upgrade to /v1/listen");
    send_json(&mut signed, json!({"event": "start", "sequenceNumber": "1", "streamSid": "MZsig",
        "start": {"streamSid": "MZsig", "accountSid": "AC1", "callSid": "CA1", "tracks": ["inbound"],
                  "customParameters": {"apiKey": "sk_live_wrongwrongwrongwrongwrongwrongwrongwr"},
                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})).await;
    let (messages, close) = read_to_close(&mut signed).await;
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
        json!({"event": "speak", "text": "Your order is ready, and it is waiting at the front counter. Please bring your card.", "mark": "reply-1"}),
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
    // Both sentences (spoken clause first, sentence by sentence) before the
    // mark: well over 3 s of μ-law.
    assert!(
        played > 24_000,
        "every sentence before the mark: {played} bytes"
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

/// A bridge that holds a Deepgram key forwards Twilio's socket as it is to
/// `WS /v1/listen`: the first frame, Twilio's `connected`, switches the
/// session to Twilio (no key in `customParameters` needed, both tracks
/// transcribed apart, Twilio's replies); a Deepgram client whose first text
/// frame is `KeepAlive` stays Deepgram.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_frames_on_a_keyed_v1_listen_are_served_as_twilio() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    let caller = speak_mulaw_8k("I would like to refill my prescription.");
    let agent = speak_mulaw_8k("Sure, what is your date of birth?");
    let keyed = |scheme: &str, query: &str| {
        let mut request = format!("ws://{}/v1/listen{query}", server.addr)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("{scheme} {key}").parse().unwrap());
        request
    };

    let (mut socket, _) = tokio_tungstenite::connect_async(keyed("Token", ""))
        .await
        .expect("keyed upgrade");
    send_json(
        &mut socket,
        json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
    )
    .await;
    send_json(&mut socket, json!({"event": "start", "sequenceNumber": "1", "streamSid": "MZdg",
        "start": {"streamSid": "MZdg", "accountSid": "AC1", "callSid": "CA1",
                  "tracks": ["inbound", "outbound"], "customParameters": {"FirstName": "Jane"},
                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})).await;
    let silence = vec![0xFFu8; 8_000];
    let inbound: Vec<u8> = caller.iter().chain(&silence).copied().collect();
    let outbound: Vec<u8> = agent.iter().chain(&silence).copied().collect();
    let frames = inbound.len().max(outbound.len()).div_ceil(160);
    for i in 0..frames {
        for (track, audio) in [("inbound", &inbound), ("outbound", &outbound)] {
            let Some(chunk) = audio.chunks(160).nth(i) else {
                continue;
            };
            send_json(&mut socket, json!({"event": "media", "sequenceNumber": (i + 2).to_string(), "streamSid": "MZdg",
                "media": {"track": track, "chunk": i.to_string(), "timestamp": (i * 20).to_string(), "payload": b64_encode(chunk)}})).await;
        }
    }
    send_json(
        &mut socket,
        json!({"event": "mark", "streamSid": "MZdg", "mark": {"name": "m1"}}),
    )
    .await;
    send_json(&mut socket, json!({"event": "dtmf", "streamSid": "MZdg", "dtmf": {"track": "inbound_track", "digit": "5"}})).await;
    send_json(
        &mut socket,
        json!({"event": "stop", "sequenceNumber": "9999", "streamSid": "MZdg",
        "stop": {"accountSid": "AC1", "callSid": "CA1"}}),
    )
    .await;
    let (messages, close) = read_to_close(&mut socket).await;
    assert_eq!(close.map(|c| c.0), Some(1000), "{messages:#?}");
    assert!(
        !messages.iter().any(|m| m["type"] == "Results"),
        "Twilio's replies, not Deepgram's: {messages:#?}"
    );
    let is_final = |track: &'static str| {
        move |m: &Value| {
            m["event"] == "transcription" && m["is_final"] == true && m["track"] == track
        }
    };
    let inbound_text = finals(&messages, is_final("inbound"));
    let outbound_text = finals(&messages, is_final("outbound"));
    assert!(inbound_text.contains("prescription"), "{messages:#?}");
    assert!(outbound_text.contains("birth"), "{messages:#?}");
    assert!(
        !inbound_text.contains("birth") && !outbound_text.contains("prescription"),
        "tracks stay apart: {messages:#?}"
    );
    for m in messages.iter().filter(|m| m["event"] == "transcription") {
        assert_eq!(m["streamSid"], "MZdg");
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
    assert!((billed - expected).abs() < 0.01, "{billed} vs {expected}");

    // A Deepgram client opening with KeepAlive is not taken for Twilio.
    let (mut socket, _) =
        tokio_tungstenite::connect_async(keyed("Bearer", "?encoding=mulaw&sample_rate=8000"))
            .await
            .expect("keyed upgrade");
    send_json(&mut socket, json!({"type": "KeepAlive"})).await;
    for chunk in inbound.chunks(800) {
        socket
            .send(Message::Binary(chunk.to_vec().into()))
            .await
            .unwrap();
    }
    send_json(&mut socket, json!({"type": "CloseStream"})).await;
    let (messages, close) = read_to_close(&mut socket).await;
    assert_eq!(close.map(|c| c.0), Some(1000), "{messages:#?}");
    assert!(
        !messages.iter().any(|m| m.get("event").is_some()),
        "{messages:#?}"
    );
    let transcript: Vec<&str> = messages
        .iter()
        .filter(|m| m["type"] == "Results" && m["is_final"] == true)
        .map(|m| {
            m["channel"]["alternatives"][0]["transcript"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert!(
        transcript.join(" ").to_lowercase().contains("prescription"),
        "{messages:#?}"
    );
    assert_eq!(
        messages.last().unwrap()["type"],
        "Metadata",
        "{messages:#?}"
    );
}
