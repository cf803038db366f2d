//! `/ws/tts` end to end against the real binary: sentence-by-sentence
//! streaming (audio for a sentence before the next one is even sent), 20 ms
//! framing, speech that Whisper transcribes back to the text, barge-in with
//! `clear`, the 60db context dialect, billing and the usage ledger, and every
//! error and close path (401 before the upgrade, recoverable errors, 1008,
//! 1009, 1011, and a client that stops reading). [`first_audio`]: a long
//! first sentence is spoken clause first, without a seam.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;
use vocalis_audio::{decode_raw, RawEncoding};

use crate::support::{dev_key, vocalis, wer, ServerProcess, Socket};

mod first_audio;

const FIRST: &str = "The quick brown fox jumps over the lazy dog near the river bank.";
const SECOND: &str = "Please call me back tomorrow morning after nine o'clock.";

/// What the server sent next.
#[derive(Debug)]
enum Event {
    Json(Value),
    Audio(Vec<u8>),
    Closed(Option<u16>, String),
}

async fn next_event(socket: &mut Socket) -> Event {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(120), socket.next())
            .await
            .expect("a message within 120 s");
        match message {
            Some(Ok(Message::Text(text))) => {
                return Event::Json(serde_json::from_str(&text).expect("JSON"))
            }
            Some(Ok(Message::Binary(bytes))) => return Event::Audio(bytes.to_vec()),
            Some(Ok(Message::Close(frame))) => {
                return Event::Closed(
                    frame.as_ref().map(|f| u16::from(f.code)),
                    frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                )
            }
            Some(Ok(_)) => {}
            Some(Err(error)) => return Event::Closed(None, error.to_string()),
            None => return Event::Closed(None, String::new()),
        }
    }
}

async fn next_json(socket: &mut Socket) -> Value {
    match next_event(socket).await {
        Event::Json(value) => value,
        other => panic!("expected a JSON message, got {other:?}"),
    }
}

async fn expect_type(socket: &mut Socket, kind: &str) -> Value {
    let message = next_json(socket).await;
    assert_eq!(message["type"], kind, "{message}");
    message
}

async fn send(socket: &mut Socket, value: Value) {
    socket
        .send(Message::Text(value.to_string().into()))
        .await
        .expect("send");
}

/// Connects and reads `connecting` and `connection_established`.
async fn connect(server: &ServerProcess, key: &str) -> (Socket, Value) {
    let url = format!("ws://{}/ws/tts?apiKey={key}", server.addr);
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade");
    let connecting = expect_type(&mut socket, "connecting").await;
    assert_eq!(connecting["connecting"], true);
    let established = expect_type(&mut socket, "connection_established").await;
    (socket, established)
}

/// Reads until a JSON message of type `kind`; returns the audio frames
/// before it, the message and any other JSON seen.
async fn collect_until(socket: &mut Socket, kind: &str) -> (Vec<Vec<u8>>, Value, Vec<Value>) {
    let mut frames = Vec::new();
    let mut others = Vec::new();
    loop {
        match next_event(socket).await {
            Event::Audio(bytes) => frames.push(bytes),
            Event::Json(value) if value["type"] == kind => return (frames, value, others),
            Event::Json(value) => others.push(value),
            Event::Closed(code, reason) => {
                panic!("closed ({code:?} {reason}) while waiting for {kind}; saw {others:?}")
            }
        }
    }
}

async fn expect_close(socket: &mut Socket) -> (Option<u16>, String, Vec<Value>) {
    let mut messages = Vec::new();
    loop {
        match next_event(socket).await {
            Event::Json(value) => messages.push(value),
            Event::Audio(_) => {}
            Event::Closed(code, reason) => return (code, reason, messages),
        }
    }
}

/// Transcribes 16 kHz audio with the real tiny.en model and the VAD.
async fn transcribe(audio: Vec<f32>) -> String {
    tokio::task::spawn_blocking(move || {
        use vocalis_inference::stt::{SttWorker, Transcribe as _, TranscribeOptions};
        let store = vocalis_models::ModelStore::from_env().expect("model store");
        let vad = vocalis_server::engine::load_vad(&store)
            .unwrap_or_else(|e| panic!("{e} (run `vocalis models pull silero-vad onnxruntime`)"));
        let model = vocalis_server::engine::load_stt_model(&store, "tiny.en", None)
            .unwrap_or_else(|e| panic!("{e} (run `vocalis models pull tiny.en`)"));
        let mut worker = SttWorker::new(model, 2, Some(vad)).expect("whisper worker");
        worker
            .transcribe(&audio, &TranscribeOptions::default())
            .expect("transcription")
            .text()
    })
    .await
    .expect("transcription task")
}

fn decode(bytes: &[u8], encoding: RawEncoding, rate: u32) -> Vec<f32> {
    decode_raw(bytes, encoding, rate, 1, 16_000)
        .expect("decodable audio")
        .samples
}

/// Standard, padded base64 (the context dialect's `audioContent`).
fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for byte in text.bytes().filter(|&b| b != b'=') {
        let value = ALPHABET
            .iter()
            .position(|&c| c == byte)
            .expect("base64 character") as u32;
        acc = (acc << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

async fn usage(server: &ServerProcess, key: &str) -> Value {
    server.usage(key).await
}

fn chars(text: &str) -> u64 {
    text.chars().count() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mulaw_audio_of_a_sentence_arrives_before_the_next_is_sent_and_transcribes_back() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    let (mut socket, established) = connect(&server, &key).await;
    assert_eq!(established["connection_established"]["service"], "tts");
    assert_eq!(established["connection_established"]["tenant"], "default");

    send(
        &mut socket,
        json!({"type": "start", "voice": "no-such-voice",
               "config": {"encoding": "mulaw", "sample_rate": 8000}}),
    )
    .await;
    let started = expect_type(&mut socket, "session_started").await;
    let session_id = started["session_id"].as_str().unwrap().to_owned();
    let config = &started["config"];
    assert_eq!(config["voice"], "en_US-joe-medium", "{started}");
    assert_eq!(config["voice_fallback"], true);
    assert_eq!(config["requested_voice"], "no-such-voice");
    assert_eq!(config["encoding"], "mulaw");
    assert_eq!(config["sample_rate"], 8000);
    assert_eq!(config["frame_ms"], 20);

    // Only the first sentence, no flush: its audio must come on its own.
    send(
        &mut socket,
        json!({"type": "text", "text": format!("{FIRST} ")}),
    )
    .await;
    let mut frames = match next_event(&mut socket).await {
        Event::Audio(bytes) => vec![bytes],
        other => {
            panic!("expected audio of the first sentence before sending the second, got {other:?}")
        }
    };
    send(&mut socket, json!({"type": "text", "text": SECOND})).await;
    send(&mut socket, json!({"type": "flush"})).await;
    let (rest, flushed, others) = collect_until(&mut socket, "flushed").await;
    assert!(others.is_empty(), "{others:?}");
    frames.extend(rest);

    assert!(
        frames
            .iter()
            .all(|f| !f.is_empty() && f.len().is_multiple_of(160)),
        "frame sizes {:?}",
        frames.iter().map(Vec::len).collect::<Vec<_>>()
    );
    let audio: Vec<u8> = frames.concat();
    let expected_chars = chars(FIRST) + chars(SECOND);
    assert_eq!(flushed["characters"], expected_chars, "{flushed}");
    let seconds = flushed["audio_seconds"].as_f64().unwrap();
    let sent_seconds = audio.len() as f64 / 8_000.0;
    assert!(seconds > 3.0, "{flushed}");
    assert!(
        (seconds - sent_seconds).abs() < 0.1,
        "{seconds} s produced, {sent_seconds} s sent"
    );

    send(&mut socket, json!({"type": "stop"})).await;
    let stopped = expect_type(&mut socket, "session_stopped").await;
    let billing = &stopped["billing_summary"];
    assert_eq!(billing["session_id"], session_id.as_str());
    assert_eq!(billing["characters"], expected_chars, "{stopped}");
    assert!((billing["total_duration_seconds"].as_f64().unwrap() - seconds).abs() < 0.01);
    assert!(billing["total_cost"].as_f64().unwrap() > 0.0);
    let (code, _, _) = expect_close(&mut socket).await;
    assert_eq!(code, Some(1000));

    let usage = usage(&server, &key).await;
    let row = usage["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["session_id"] == session_id.as_str())
        .unwrap_or_else(|| panic!("no usage row for {session_id}: {usage}"));
    assert_eq!(row["service"], "tts");
    assert_eq!(row["route"], "/ws/tts");
    assert_eq!(row["characters"], expected_chars);
    assert_eq!(row["outcome"], "ok");

    // Transcribed after the session, so loading Whisper cannot idle it out.
    let text = transcribe(decode(&audio, RawEncoding::Mulaw, 8_000)).await;
    let reference = format!("{FIRST} {SECOND}");
    let error_rate = wer(&reference, &text);
    assert!(error_rate <= 0.15, "WER {error_rate:.2}: {text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_drops_pending_audio_and_the_session_goes_on() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    let (mut socket, _) = connect(&server, &key).await;
    send(
        &mut socket,
        json!({"type": "start", "config": {"encoding": "linear16", "sample_rate": 16000}}),
    )
    .await;
    let started = expect_type(&mut socket, "session_started").await;
    assert_eq!(started["config"]["voice_fallback"], false);

    let long = [FIRST, SECOND].repeat(6).join(" ");
    send(&mut socket, json!({"type": "text", "text": long})).await;
    send(&mut socket, json!({"type": "flush"})).await;
    assert!(matches!(next_event(&mut socket).await, Event::Audio(_)));
    send(&mut socket, json!({"type": "clear"})).await;
    let (_, _, before) = collect_until(&mut socket, "cleared").await;
    assert!(
        before.is_empty(),
        "nothing but audio may precede `cleared`: {before:?}"
    );

    // After `cleared`, only the new text's audio arrives, then its `flushed`.
    let after = "Okay, one more thing.";
    send(&mut socket, json!({"type": "text", "text": after})).await;
    send(&mut socket, json!({"type": "flush"})).await;
    let (frames, flushed, others) = collect_until(&mut socket, "flushed").await;
    assert!(others.is_empty(), "{others:?}");
    assert_eq!(flushed["characters"], chars(after), "{flushed}");
    assert!(frames.iter().all(|f| f.len().is_multiple_of(640)));
    let received = frames.iter().map(Vec::len).sum::<usize>() as f64 / 32_000.0;
    let produced = flushed["audio_seconds"].as_f64().unwrap();
    assert!(
        (received - produced).abs() < 0.1,
        "{received} s received after `cleared` for {produced} s of new audio"
    );

    send(&mut socket, json!({"type": "stop"})).await;
    let stopped = expect_type(&mut socket, "session_stopped").await;
    let billed = stopped["billing_summary"]["characters"].as_u64().unwrap();
    assert!(
        billed >= chars(after) && billed < chars(after) + chars(&long),
        "{stopped}"
    );
    assert_eq!(expect_close(&mut socket).await.0, Some(1000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_dialect_round_trip_with_two_contexts() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    let (mut socket, established) = connect(&server, &key).await;
    assert!(established["connection_established"].is_object());

    for (id, encoding, rate) in [("ctx-a", "LINEAR16", 16000), ("ctx-b", "MULAW", 8000)] {
        send(
            &mut socket,
            json!({"create_context": {"context_id": id, "voice_id": "fbb75ed2",
                   "audio_config": {"audio_encoding": encoding, "sample_rate_hertz": rate}}}),
        )
        .await;
        let created = next_json(&mut socket).await;
        assert_eq!(created["context_created"]["context_id"], id, "{created}");
        assert_eq!(
            created["context_created"]["audio_config"]["sample_rate_hertz"],
            rate
        );
    }
    let errors = [
        (
            json!({"create_context": {"context_id": "ctx-c",
                   "audio_config": {"audio_encoding": "LINEAR16", "sample_rate_hertz": 44100}}}),
            "ctx-c",
            "Unsupported sample_rate_hertz",
        ),
        (
            json!({"create_context": {"context_id": "ctx-d",
                   "audio_config": {"audio_encoding": "MULAW", "sample_rate_hertz": 16000}}}),
            "ctx-d",
            "Unsupported sample_rate_hertz",
        ),
        (
            json!({"create_context": {"context_id": "ctx-a"}}),
            "ctx-a",
            "already open",
        ),
        (
            json!({"send_text": {"context_id": "nope", "text": "hi"}}),
            "nope",
            "Unknown context_id",
        ),
    ];
    for (message, id, needle) in errors {
        send(&mut socket, message.clone()).await;
        let error = next_json(&mut socket).await;
        assert_eq!(error["error"]["context_id"], id, "{message} → {error}");
        assert!(
            error["error"]["message"].as_str().unwrap().contains(needle),
            "{message} → {error}"
        );
    }

    let text_a = "Hello from the first context, speaking clearly.";
    let text_b = "And this is the second context, on the telephone.";
    send(
        &mut socket,
        json!({"send_text": {"context_id": "ctx-a", "text": text_a}}),
    )
    .await;
    send(
        &mut socket,
        json!({"send_text": {"context_id": "ctx-b", "text": text_b}}),
    )
    .await;
    send(
        &mut socket,
        json!({"flush_context": {"context_id": "ctx-a"}}),
    )
    .await;
    send(
        &mut socket,
        json!({"flush_context": {"context_id": "ctx-b"}}),
    )
    .await;

    let mut audio = [Vec::new(), Vec::new()];
    let mut done = [false, false];
    while done != [true, true] {
        let message = next_json(&mut socket).await;
        if let Some(chunk) = message.get("audio_chunk") {
            let slot = usize::from(chunk["context_id"] == "ctx-b");
            assert!(!done[slot], "audio after flush_completed: {message}");
            let bytes = base64_decode(chunk["audioContent"].as_str().unwrap());
            let frame = [640, 160][slot];
            assert!(
                !bytes.is_empty() && bytes.len().is_multiple_of(frame),
                "{} bytes",
                bytes.len()
            );
            audio[slot].extend(bytes);
        } else if let Some(flushed) = message.get("flush_completed") {
            done[usize::from(flushed["context_id"] == "ctx-b")] = true;
        } else {
            panic!("unexpected {message}");
        }
    }
    for id in ["ctx-a", "ctx-b"] {
        send(&mut socket, json!({"close_context": {"context_id": id}})).await;
        let closed = next_json(&mut socket).await;
        assert_eq!(closed["context_closed"]["context_id"], id, "{closed}");
    }
    send(&mut socket, json!({"type": "stop"})).await;
    let stopped = expect_type(&mut socket, "session_stopped").await;
    assert_eq!(
        stopped["billing_summary"]["characters"],
        chars(text_a) + chars(text_b)
    );
    assert_eq!(expect_close(&mut socket).await.0, Some(1000));

    let heard_a = transcribe(decode(&audio[0], RawEncoding::Linear16, 16_000)).await;
    let heard_b = transcribe(decode(&audio[1], RawEncoding::Mulaw, 8_000)).await;
    assert!(wer(text_a, &heard_a) <= 0.3, "{heard_a:?}");
    assert!(wer(text_b, &heard_b) <= 0.3, "{heard_b:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_messages_and_credit_are_handled() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());

    // Wrong or missing key: 401 JSON before any upgrade.
    for query in ["?apiKey=sk_live_wrongwrongwrongwrongwrongwrongwrongwr", ""] {
        let url = format!("ws://{}/ws/tts{query}", server.addr);
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 401);
                let body: Value = serde_json::from_slice(response.body().as_deref().unwrap())
                    .expect("JSON error body");
                assert_eq!(body["error"]["code"], "unauthorized", "{body}");
            }
            other => panic!("expected a 401, got {other:?}"),
        }
    }

    // A browser's subprotocol credential is echoed back.
    let mut request = format!("ws://{}/ws/tts", server.addr)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        format!("token, {key}").parse().unwrap(),
    );
    let (mut socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade with a subprotocol credential");
    assert_eq!(response.headers()["sec-websocket-protocol"], "token");
    expect_type(&mut socket, "connecting").await;
    expect_type(&mut socket, "connection_established").await;

    // Recoverable errors keep the connection open.
    let cases = [
        (Message::Text("{not json".into()), "invalid_message"),
        (
            Message::Text(r#"{"type":"dance"}"#.into()),
            "invalid_message",
        ),
        (Message::Binary(vec![0u8; 10].into()), "invalid_message"),
        (
            Message::Text(r#"{"type":"text","text":"Hi."}"#.into()),
            "not_started",
        ),
        (
            Message::Text(r#"{"type":"start","config":{"encoding":"opus"}}"#.into()),
            "unsupported_encoding",
        ),
        (
            Message::Text(r#"{"type":"start","config":{"sample_rate":44100}}"#.into()),
            "unsupported_sample_rate",
        ),
        (
            Message::Text(r#"{"type":"start","config":{"speed":9}}"#.into()),
            "invalid_config",
        ),
    ];
    for (message, code) in cases {
        socket.send(message.clone()).await.unwrap();
        let error = expect_type(&mut socket, "error").await;
        assert_eq!(error["code"], code, "{message:?} → {error}");
        assert!(!error["error"].as_str().unwrap().is_empty());
    }
    send(&mut socket, json!({"type": "start"})).await;
    let started = expect_type(&mut socket, "session_started").await;
    assert_eq!(started["config"]["encoding"], "linear16");
    assert_eq!(started["config"]["sample_rate"], 22050);
    send(&mut socket, json!({"type": "start"})).await;
    assert_eq!(
        expect_type(&mut socket, "error").await["code"],
        "already_started"
    );
    send(&mut socket, json!({"create_context": {"context_id": "x"}})).await;
    assert_eq!(
        expect_type(&mut socket, "error").await["code"],
        "invalid_message"
    );
    send(&mut socket, json!({"type": "stop"})).await;
    let stopped = expect_type(&mut socket, "session_stopped").await;
    assert_eq!(stopped["billing_summary"]["characters"], 0);
    assert_eq!(expect_close(&mut socket).await.0, Some(1000));

    // No credit left: told why, then 1008 before any work.
    let output = vocalis(data.path())
        .args(["keys", "create", "--tenant", "broke", "--credits", "0"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let broke = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let (mut socket, established) = connect(&server, &broke).await;
    assert_eq!(established["connection_established"]["credit_balance"], 0.0);
    let (code, reason, messages) = expect_close(&mut socket).await;
    assert_eq!(code, Some(1008));
    assert_eq!(reason, "INSUFFICIENT_CREDITS");
    assert!(
        messages.iter().any(|m| m["code"] == "insufficient_credits"),
        "{messages:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_close_with_1009_1011_and_drop_a_client_that_does_not_read() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("vocalis.toml");
    std::fs::write(&config, "max_frame_bytes = 4096\nidle_timeout_ms = 1000\n").unwrap();
    let server = ServerProcess::start(data.path(), &["--config", config.to_str().unwrap()]);
    let key = dev_key(data.path());

    // Over max_frame_bytes, read whole: error, then close 1009.
    let (mut socket, _) = connect(&server, &key).await;
    let big = json!({"type": "text", "text": "a".repeat(5_000)});
    send(&mut socket, big).await;
    let (code, reason, messages) = expect_close(&mut socket).await;
    assert_eq!((code, reason.as_str()), (Some(1009), "MESSAGE_TOO_BIG"));
    assert!(messages.iter().any(|m| m["code"] == "message_too_big"));

    // Far over it (past what the WebSocket layer reads at all): still 1009.
    let (mut socket, _) = connect(&server, &key).await;
    // The send may fail once the server gives up on the connection.
    let _ = socket
        .send(Message::Binary(vec![0u8; 200_000].into()))
        .await;
    let (code, _, _) = expect_close(&mut socket).await;
    assert_eq!(code, Some(1009));

    // Silence: error, then close 1011.
    let (mut socket, _) = connect(&server, &key).await;
    let (code, reason, messages) = expect_close(&mut socket).await;
    assert_eq!((code, reason.as_str()), (Some(1011), "IDLE_TIMEOUT"));
    assert!(messages.iter().any(|m| m["code"] == "idle_timeout"));

    // A client that never reads (tiny receive window) is disconnected
    // instead of having its audio buffered without bound.
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(4096).unwrap();
    let stream = tcp.connect(server.addr).await.unwrap();
    let url = format!("ws://{}/ws/tts?apiKey={key}", server.addr);
    let (mut slow, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .expect("upgrade");
    let start = json!({"type": "start", "config": {"encoding": "linear16", "sample_rate": 48000}});
    slow.send(Message::Text(start.to_string().into()))
        .await
        .unwrap();
    // About 11 MB of 48 kHz audio: more than the socket buffers hold (4 MB).
    for _ in 0..16 {
        let text = json!({"type": "text", "text": format!("{FIRST} {SECOND} ")});
        slow.send(Message::Text(text.to_string().into()))
            .await
            .unwrap();
    }
    let mut dropped = None;
    for _ in 0..240 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let usage = usage(&server, &key).await;
        dropped = usage["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["error_code"] == "slow_consumer")
            .cloned();
        if dropped.is_some() {
            break;
        }
    }
    let dropped = dropped.expect("the non-reading client is dropped and its session recorded");
    assert_eq!(dropped["outcome"], "client_error");
    assert!(dropped["characters"].as_u64().unwrap() > 0, "{dropped}");
    drop(slow);

    // Every connection above left exactly one usage row.
    let usage = usage(&server, &key).await;
    let codes: Vec<&str> = usage["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["error_code"].as_str().unwrap_or("-"))
        .collect();
    let mut sorted = codes.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "idle_timeout",
            "message_too_big",
            "message_too_big",
            "slow_consumer"
        ],
        "{usage}"
    );
}
