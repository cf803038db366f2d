//! Deepgram-compatible live `WS /v1/listen` with real speech: message shapes,
//! `Finalize`/`CloseStream`, WAV streams, per-channel transcripts, close codes,
//! `UtteranceEnd` by audio time, `endpointing=false`, `speech_final` only at a
//! silence endpoint, warnings for parameters not applied.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{dev_key, read_to_close, speak_mulaw_8k, wer, ServerProcess, Socket};

const LEFT: &str = "Thank you for calling the support line.";
const RIGHT: &str = "My internet connection stopped working this morning.";

async fn connect(server: &ServerProcess, key: &str, query: &str) -> Socket {
    let mut request = format!("ws://{}/v1/listen?{query}", server.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Authorization", format!("Token {key}").parse().unwrap());
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade");
    socket
}

async fn send_all(socket: &mut Socket, audio: &[u8], chunk: usize) {
    for frame in audio.chunks(chunk) {
        socket
            .send(Message::Binary(frame.to_vec().into()))
            .await
            .unwrap();
    }
}

fn finals(messages: &[Value], channel: u64) -> Vec<&Value> {
    messages
        .iter()
        .filter(|m| {
            m["type"] == "Results" && m["is_final"] == true && m["channel_index"][0] == channel
        })
        .collect()
}

fn transcript(results: &[&Value]) -> String {
    results
        .iter()
        .map(|m| {
            m["channel"]["alternatives"][0]["transcript"]
                .as_str()
                .unwrap()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn raw_mulaw_stream_gets_deepgram_results_and_metadata() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let mut socket = connect(
        &server,
        &dev_key(data.path()),
        "model=nova-2&encoding=mulaw&sample_rate=8000&interim_results=true&vad_events=true&utterance_end_ms=1000&punctuate=true&endpointing=500&unknown_param=1",
    )
    .await;
    let mut audio = speak_mulaw_8k(LEFT);
    // Two seconds of silence: `UtteranceEnd` needs 1 s of audio after the last word.
    audio.extend(std::iter::repeat_n(0xFF, 16_000));
    // At real-time pace, as a call sends it: interim results come while it speaks.
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    for frame in audio.chunks(160) {
        ticker.tick().await;
        socket
            .send(Message::Binary(frame.to_vec().into()))
            .await
            .unwrap();
    }
    socket
        .send(Message::Text(r#"{"type":"KeepAlive"}"#.into()))
        .await
        .unwrap();
    socket
        .send(Message::Text(r#"{"type":"CloseStream"}"#.into()))
        .await
        .unwrap();
    let (messages, close) = read_to_close(&mut socket).await;
    assert_eq!(close.map(|c| c.0), Some(1000), "{messages:#?}");

    let results = finals(&messages, 0);
    assert!(!results.is_empty(), "{messages:#?}");
    let first = results[0];
    assert_eq!(first["channel_index"], serde_json::json!([0, 1]));
    assert_eq!(first["speech_final"], true);
    assert_eq!(first["from_finalize"], false);
    assert!(first["duration"].as_f64().unwrap() > 0.5);
    assert_eq!(first["metadata"]["model_info"]["arch"], "whisper");
    let words = first["channel"]["alternatives"][0]["words"]
        .as_array()
        .unwrap();
    assert!(words
        .iter()
        .all(|w| w["punctuated_word"].is_string() && w["word"].is_string()));
    let error = wer(LEFT, &transcript(&results));
    assert!(error <= 0.15, "WER {error:.2}: {}", transcript(&results));
    assert_interim_words(&messages);
    assert!(messages
        .iter()
        .any(|m| m["type"] == "SpeechStarted" && m["channel"] == serde_json::json!([0, 1])));
    assert!(
        messages.iter().any(|m| m["type"] == "UtteranceEnd"),
        "{messages:#?}"
    );
    let metadata = messages.last().unwrap();
    assert_eq!(metadata["type"], "Metadata", "{messages:#?}");
    assert_eq!(metadata["channels"], 1);
    assert!((metadata["duration"].as_f64().unwrap() - audio.len() as f64 / 8000.0).abs() < 0.01);
    assert_eq!(metadata["sha256"].as_str().unwrap().len(), 64);
}

/// Interim `Results` carry Deepgram's words and a confidence, as finals do:
/// timed inside the result, spelling its (punctuated) transcript.
fn assert_interim_words(messages: &[Value]) {
    let interim: Vec<&Value> = messages
        .iter()
        .filter(|m| {
            m["type"] == "Results"
                && m["is_final"] == false
                && m["channel"]["alternatives"][0]["transcript"] != ""
        })
        .collect();
    assert!(!interim.is_empty(), "no interim Results: {messages:#?}");
    for result in &interim {
        let alternative = &result["channel"]["alternatives"][0];
        let words = alternative["words"].as_array().unwrap();
        assert!(!words.is_empty(), "interim without words: {result}");
        assert!(
            alternative["confidence"].as_f64().unwrap() > 0.0,
            "{result}"
        );
        let start = result["start"].as_f64().unwrap();
        let end = start + result["duration"].as_f64().unwrap();
        // Whisper may time the word cut by the end of the audio so far
        // zero-length; the others have a duration.
        let timed = |w: &Value| w["start"].as_f64().unwrap() < w["end"].as_f64().unwrap();
        assert!(words.iter().any(timed), "{result}");
        for word in words {
            let (s, e) = (
                word["start"].as_f64().unwrap(),
                word["end"].as_f64().unwrap(),
            );
            assert!(
                start - 0.05 <= s && s <= e && e <= end + 0.05,
                "{word} outside {result}"
            );
            assert!(word["confidence"].as_f64().unwrap() > 0.0, "{word}");
            assert!(
                word["word"].is_string() && word["punctuated_word"].is_string(),
                "{word}"
            );
        }
        let spelled: Vec<&str> = words
            .iter()
            .map(|w| w["punctuated_word"].as_str().unwrap())
            .collect();
        assert_eq!(spelled.join(" "), alternative["transcript"], "{result}");
    }
}

#[tokio::test]
async fn finalize_flushes_and_marks_results_from_finalize() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let mut socket = connect(
        &server,
        &dev_key(data.path()),
        "encoding=mulaw&sample_rate=8000",
    )
    .await;
    // No trailing silence: only Finalize can end this utterance.
    send_all(&mut socket, &speak_mulaw_8k(LEFT), 800).await;
    socket
        .send(Message::Text(r#"{"type":"Finalize"}"#.into()))
        .await
        .unwrap();
    let result = loop {
        let message = tokio::time::timeout(Duration::from_secs(60), socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] == "Results" && value["is_final"] == true {
                break value;
            }
        }
    };
    assert_eq!(result["from_finalize"], true, "{result}");
    // Plain style (no punctuate): lower case, no punctuation.
    let text = result["channel"]["alternatives"][0]["transcript"]
        .as_str()
        .unwrap();
    assert_eq!(text, text.to_lowercase());
    assert!(!text.contains('.'), "{text}");
    socket
        .send(Message::Text(r#"{"type":"CloseStream"}"#.into()))
        .await
        .unwrap();
    let (messages, close) = read_to_close(&mut socket).await;
    assert_eq!(close.map(|c| c.0), Some(1000));
    assert_eq!(messages.last().unwrap()["type"], "Metadata");
}

#[tokio::test]
async fn stereo_calls_are_transcribed_per_channel() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let left = speak_mulaw_8k(LEFT);
    let right = speak_mulaw_8k(RIGHT);
    // Agent speaks first, then the caller; interleave as a stereo call recording.
    let silence = |n: usize| std::iter::repeat_n(0xFFu8, n);
    let left: Vec<u8> = left
        .iter()
        .copied()
        .chain(silence(right.len() + 8_000))
        .collect();
    let right: Vec<u8> = silence(left.len() - right.len() - 8_000)
        .chain(right.iter().copied())
        .chain(silence(8_000))
        .collect();
    let stereo: Vec<u8> = left
        .iter()
        .zip(&right)
        .flat_map(|(l, r)| [*l, *r])
        .collect();
    let mut socket = connect(
        &server,
        &dev_key(data.path()),
        "encoding=mulaw&sample_rate=8000&channels=2&multichannel=true&punctuate=true",
    )
    .await;
    send_all(&mut socket, &stereo, 3_200).await;
    socket
        .send(Message::Text(r#"{"type":"CloseStream"}"#.into()))
        .await
        .unwrap();
    let (messages, close) = read_to_close(&mut socket).await;
    assert_eq!(close.map(|c| c.0), Some(1000));
    let (agent, caller) = (finals(&messages, 0), finals(&messages, 1));
    assert!(agent.iter().all(|m| m["channel_index"][1] == 2));
    assert!(
        wer(LEFT, &transcript(&agent)) <= 0.2,
        "agent: {}",
        transcript(&agent)
    );
    assert!(
        wer(RIGHT, &transcript(&caller)) <= 0.2,
        "caller: {}",
        transcript(&caller)
    );
    assert_eq!(messages.last().unwrap()["channels"], 2);
}

#[tokio::test]
async fn wav_streams_are_read_from_their_header() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let mulaw = speak_mulaw_8k(LEFT);
    let samples: Vec<f32> = vocalis_audio::g711::decode_mulaw_f32(&mulaw);
    let wav =
        vocalis_audio::encode(&samples, 8_000, vocalis_audio::OutputFormat::Wav, 16_000).unwrap();
    let mut socket = connect(&server, &dev_key(data.path()), "punctuate=true").await;
    send_all(&mut socket, &wav, 1_000).await;
    socket
        .send(Message::Text(r#"{"type":"CloseStream"}"#.into()))
        .await
        .unwrap();
    let (messages, close) = read_to_close(&mut socket).await;
    assert_eq!(close.map(|c| c.0), Some(1000));
    let results = finals(&messages, 0);
    assert!(
        wer(LEFT, &transcript(&results)) <= 0.15,
        "{}",
        transcript(&results)
    );
}

#[tokio::test]
async fn undecodable_audio_closes_1008_data_0000() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let mut socket = connect(&server, &dev_key(data.path()), "").await;
    socket
        .send(Message::Binary(
            // A MIDI file: not audio any live container carries.
            b"MThd\0\0\0\x06\0\x01\0\x02\x01\xe0 definitely not audio"
                .to_vec()
                .into(),
        ))
        .await
        .unwrap();
    let (_, close) = read_to_close(&mut socket).await;
    assert_eq!(close, Some((1008, "DATA-0000".to_owned())));
}

#[tokio::test]
async fn silence_without_keepalive_closes_1011_net_0001() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &["--idle-timeout-ms", "1500"]);
    let mut socket = connect(
        &server,
        &dev_key(data.path()),
        "encoding=linear16&sample_rate=16000",
    )
    .await;
    let (_, close) = read_to_close(&mut socket).await;
    assert_eq!(close, Some((1011, "NET-0001".to_owned())));
}

#[tokio::test]
async fn bad_parameters_and_credentials_are_refused_before_upgrade() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    for (query, key, status) in [
        ("encoding=speex&sample_rate=16000", key.as_str(), 400),
        ("encoding=mulaw", key.as_str(), 400),
        ("language=de", key.as_str(), 400),
        ("language=-x", key.as_str(), 400),
        ("language=klingon", key.as_str(), 400),
        // Deepgram: utterance_end_ms needs interim results.
        ("utterance_end_ms=1000", key.as_str(), 400),
        ("interim_results=true&utterance_end_ms=0", key.as_str(), 400),
        ("", "sk_live_wrongwrongwrongwrongwrongwrongwrongwr", 401),
    ] {
        let mut request = format!("ws://{}/v1/listen?{query}", server.addr)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("Authorization", format!("Token {key}").parse().unwrap());
        match tokio_tungstenite::connect_async(request).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), status, "{query}")
            }
            other => panic!("{query}: expected {status}, got {other:?}"),
        }
    }
}

/// Sends `audio` in 100 ms frames, then `CloseStream`; everything until the close.
async fn stream_and_close(
    server: &ServerProcess,
    key: &str,
    query: &str,
    audio: &[u8],
) -> Vec<Value> {
    let mut socket = connect(server, key, query).await;
    send_all(&mut socket, audio, 800).await;
    socket
        .send(Message::Text(r#"{"type":"CloseStream"}"#.into()))
        .await
        .unwrap();
    let (messages, close) = read_to_close(&mut socket).await;
    assert_eq!(close.map(|c| c.0), Some(1000), "{messages:#?}");
    messages
}

fn silence(seconds: f64) -> impl Iterator<Item = u8> {
    std::iter::repeat_n(0xFF, (seconds * 8_000.0) as usize)
}

#[tokio::test]
async fn utterance_end_comes_after_its_gap_in_audio_time_and_unsupported_params_warn() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    let speech = speak_mulaw_8k(LEFT);
    let speech_s = speech.len() as f64 / 8_000.0;
    let query = "encoding=mulaw&sample_rate=8000&interim_results=true&utterance_end_ms=2000\
                 &redact=pci&numerals=true";

    // 1.2 s of silence after the speech: shorter than the 2 s gap, however
    // long the server takes in wall-clock time. The parameters it does not
    // apply are reported first.
    let audio: Vec<u8> = speech.iter().copied().chain(silence(1.2)).collect();
    // Named in the 101's header, never as a message Deepgram's listen socket
    // does not have (its SDKs would hand it to the handler as `None`).
    let mut request = format!("ws://{}/v1/listen?{query}", server.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Authorization", format!("Token {key}").parse().unwrap());
    let (socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(
        response.headers()["x-vocalis-unsupported-parameters"],
        "redact, numerals"
    );
    drop(socket);
    let messages = stream_and_close(&server, &key, query, &audio).await;
    assert!(
        !messages.iter().any(|m| m["type"] == "Warning"),
        "{messages:#?}"
    );
    assert!(!finals(&messages, 0).is_empty(), "{messages:#?}");
    let metadata = messages.last().unwrap();
    assert_eq!(metadata["type"], "Metadata");
    assert_eq!(metadata["warnings"][0]["parameter"], "redact", "{metadata}");
    assert_eq!(metadata["warnings"][1]["type"], "unsupported_feature");
    assert!(
        !messages.iter().any(|m| m["type"] == "UtteranceEnd"),
        "{messages:#?}"
    );

    // 3.5 s of silence: exactly one UtteranceEnd, at the last word's end.
    let audio: Vec<u8> = speech.iter().copied().chain(silence(3.5)).collect();
    let messages = stream_and_close(&server, &key, query, &audio).await;
    let ends: Vec<&Value> = messages
        .iter()
        .filter(|m| m["type"] == "UtteranceEnd")
        .collect();
    assert_eq!(ends.len(), 1, "{messages:#?}");
    assert_eq!(ends[0]["channel"], serde_json::json!([0, 1]));
    let last_word_end = ends[0]["last_word_end"].as_f64().unwrap();
    assert!(
        last_word_end > 1.0 && last_word_end <= speech_s + 0.3,
        "last_word_end {last_word_end} for {speech_s} s of speech"
    );
    let last_final_word = finals(&messages, 0)
        .iter()
        .filter_map(|m| m["channel"]["alternatives"][0]["words"].as_array()?.last())
        .map(|w| w["end"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(
        (last_word_end - last_final_word).abs() < 0.5,
        "{last_word_end} vs {last_final_word}"
    );
}

#[tokio::test]
async fn endpointing_false_gives_finals_only_at_finalize_and_cuts_are_not_speech_final() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    let speech = speak_mulaw_8k(LEFT);

    // Twelve seconds of silence (longer than any hidden endpoint), then
    // Finalize: the only final is the Finalize one.
    let mut socket = connect(
        &server,
        &key,
        "encoding=mulaw&sample_rate=8000&endpointing=false&interim_results=true",
    )
    .await;
    let audio: Vec<u8> = speech.iter().copied().chain(silence(12.0)).collect();
    send_all(&mut socket, &audio, 800).await;
    socket
        .send(Message::Text(r#"{"type":"Finalize"}"#.into()))
        .await
        .unwrap();
    socket
        .send(Message::Text(r#"{"type":"CloseStream"}"#.into()))
        .await
        .unwrap();
    let (messages, close) = read_to_close(&mut socket).await;
    assert_eq!(close.map(|c| c.0), Some(1000));
    let results = finals(&messages, 0);
    assert_eq!(results.len(), 1, "{messages:#?}");
    assert_eq!(results[0]["from_finalize"], true, "{}", results[0]);
    assert_eq!(results[0]["speech_final"], false, "{}", results[0]);
    assert!(
        wer(LEFT, &transcript(&results)) <= 0.2,
        "{}",
        transcript(&results)
    );

    // No Finalize: 27 s of silence pass the 25 s long-utterance cut, then
    // CloseStream flushes. Neither is a silence endpoint.
    let audio: Vec<u8> = speech.iter().copied().chain(silence(27.0)).collect();
    let messages = stream_and_close(
        &server,
        &key,
        "encoding=mulaw&sample_rate=8000&endpointing=false",
        &audio,
    )
    .await;
    let results = finals(&messages, 0);
    assert!(!results.is_empty(), "{messages:#?}");
    assert!(
        results
            .iter()
            .all(|m| m["speech_final"] == false && m["from_finalize"] == false),
        "{results:#?}"
    );
    assert!(
        wer(LEFT, &transcript(&results)) <= 0.2,
        "{}",
        transcript(&results)
    );

    // With a silence endpoint the same speech ends speech_final.
    let audio: Vec<u8> = speech.iter().copied().chain(silence(1.5)).collect();
    let messages = stream_and_close(
        &server,
        &key,
        "encoding=mulaw&sample_rate=8000&endpointing=400",
        &audio,
    )
    .await;
    let results = finals(&messages, 0);
    assert_eq!(results[0]["speech_final"], true, "{results:#?}");
}
