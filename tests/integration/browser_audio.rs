//! Browser and phone recordings against the real server: real Piper speech
//! (`vocalis speak`) turned by ffmpeg into what browsers and phones upload —
//! WebM/Opus (Chrome's `MediaRecorder`), Ogg/Opus (Firefox), MP4 and M4A
//! with AAC (Safari, phones), FLAC — transcribed on
//! `/v1/audio/transcriptions` and `POST /v1/listen` (also as Deepgram's
//! `encoding=opus|ogg-opus|flac` and raw linear16 at 11 025 Hz); speech
//! written as Ogg Opus and FLAC and transcribed back; truncated and damaged
//! containers answered with stable 4xx codes; and WebM, Ogg, MP3, FLAC and
//! fragmented MP4 (Safari) streams sent in small chunks on `WS /v1/listen`
//! (MP3, FLAC and MP4 at about twice real time, as a live encoder would).

use std::path::Path;
use std::process::Command;

use futures_util::SinkExt as _;
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;

use crate::rest_transcriptions::{speak, SENTENCE};
use crate::support::{dev_key, read_to_close, wer, ServerProcess, Socket};

/// Runs ffmpeg on `input` with `args`, writing to stdout; returns the bytes.
fn ffmpeg(input: &Path, args: &[&str]) -> Vec<u8> {
    let output = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(input)
        .args(args)
        .arg("-")
        .output()
        .expect("ffmpeg is installed by scripts/setup.sh");
    assert!(
        output.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// ffmpeg writing to a seekable file (MP4 needs to seek back for `moov`).
fn ffmpeg_file(input: &Path, args: &[&str], ext: &str) -> Vec<u8> {
    let out = input.with_extension(ext);
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(input)
        .args(args)
        .arg(&out)
        .status()
        .expect("ffmpeg is installed by scripts/setup.sh");
    assert!(status.success(), "ffmpeg {args:?}");
    std::fs::read(out).unwrap()
}

/// `(name, bytes, mime type, file name)` of each browser/phone recording.
fn recordings(wav: &Path) -> Vec<(&'static str, Vec<u8>, &'static str, &'static str)> {
    vec![
        (
            "webm",
            ffmpeg(wav, &["-c:a", "libopus", "-f", "webm", "-live", "1"]),
            "audio/webm;codecs=opus",
            "recording.webm",
        ),
        (
            "ogg",
            ffmpeg(wav, &["-c:a", "libopus", "-f", "ogg"]),
            "audio/ogg;codecs=opus",
            "recording.ogg",
        ),
        (
            "mp4",
            ffmpeg_file(wav, &["-c:a", "aac"], "mp4"),
            "audio/mp4",
            "recording.mp4",
        ),
        (
            "m4a",
            ffmpeg_file(wav, &["-c:a", "aac", "-f", "ipod"], "m4a"),
            "audio/x-m4a",
            "recording.m4a",
        ),
        (
            "flac",
            ffmpeg(wav, &["-c:a", "flac", "-f", "flac"]),
            "audio/flac",
            "recording.flac",
        ),
    ]
}

/// Uploads to `/v1/audio/transcriptions`; returns status and JSON body.
async fn openai(
    server: &ServerProcess,
    key: &str,
    bytes: &[u8],
    mime: &str,
    name: &str,
) -> (u16, Value) {
    let form = Form::new()
        .part(
            "file",
            Part::bytes(bytes.to_vec())
                .file_name(name.to_owned())
                .mime_str(mime)
                .unwrap(),
        )
        .text("model", "whisper-1")
        .text("response_format", "json");
    let response = reqwest::Client::new()
        .post(server.url("/v1/audio/transcriptions"))
        .bearer_auth(key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Posts to Deepgram's `/v1/listen?{query}`; returns status and JSON body.
async fn deepgram(
    server: &ServerProcess,
    key: &str,
    query: &str,
    bytes: &[u8],
    mime: &str,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(server.url(&format!("/v1/listen?{query}")))
        .header("Authorization", format!("Token {key}"))
        .header("Content-Type", mime)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn deepgram_transcript(body: &Value) -> &str {
    body["results"]["channels"][0]["alternatives"][0]["transcript"]
        .as_str()
        .unwrap_or_default()
}

/// A 4xx with its stable code: 400 `invalid_payload` or 415 `unsupported_media_type`.
fn assert_stable_rejection(what: &str, status: u16, body: &Value) {
    let code = body["error"]["code"].as_str().unwrap_or_default();
    assert!(
        matches!(
            (status, code),
            (400, "invalid_payload") | (415, "unsupported_media_type")
        ),
        "{what}: {status} {body}"
    );
}

#[tokio::test]
async fn browser_and_phone_files_on_both_rest_routes_and_speech_round_trips() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    let wav_path = data.path().join("speech.wav");
    std::fs::write(&wav_path, speak(SENTENCE, "wav")).unwrap();

    for (name, bytes, mime, file) in recordings(&wav_path) {
        let (status, body) = openai(&server, &key, &bytes, mime, file).await;
        assert_eq!(status, 200, "{name} on /v1/audio/transcriptions: {body}");
        let text = body["text"].as_str().unwrap();
        assert!(wer(SENTENCE, text) <= 0.15, "{name}: {text:?}");

        let (status, body) = deepgram(&server, &key, "punctuate=true", &bytes, mime).await;
        assert_eq!(status, 200, "{name} on /v1/listen: {body}");
        let text = deepgram_transcript(&body);
        assert!(wer(SENTENCE, text) <= 0.15, "{name}: {text:?}");
        let duration = body["metadata"]["duration"].as_f64().unwrap();
        assert!(duration > 3.0, "{name}: {duration} s");

        // Deepgram's containerized encodings.
        let encoding = match name {
            "ogg" => "opus",
            "webm" => "ogg-opus",
            "flac" => "flac",
            _ => continue,
        };
        let query = format!("encoding={encoding}");
        let (status, body) =
            deepgram(&server, &key, &query, &bytes, "application/octet-stream").await;
        assert_eq!(status, 200, "{name} as {query}: {body}");
        assert!(wer(SENTENCE, deepgram_transcript(&body)) <= 0.15, "{body}");
    }

    // Raw linear16 at a rate outside the usual six.
    let raw = ffmpeg(&wav_path, &["-ar", "11025", "-f", "s16le"]);
    let (status, body) = deepgram(
        &server,
        &key,
        "encoding=linear16&sample_rate=11025",
        &raw,
        "application/octet-stream",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(wer(SENTENCE, deepgram_transcript(&body)) <= 0.15, "{body}");

    // Speech as Ogg Opus and FLAC: the right types, readable by ffprobe,
    // and transcribed back to the sentence.
    for (format, content_type, magic, codec) in [
        ("opus", "audio/ogg; codecs=opus", &b"OggS"[..], "opus"),
        ("flac", "audio/flac", &b"fLaC"[..], "flac"),
    ] {
        let response = reqwest::Client::new()
            .post(server.url("/v1/audio/speech"))
            .bearer_auth(&key)
            .json(&json!({"model": "tts-1", "input": SENTENCE, "voice": "alloy", "response_format": format}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{format}");
        assert_eq!(response.headers()["content-type"], content_type);
        let bytes = response.bytes().await.unwrap().to_vec();
        assert!(bytes.starts_with(magic), "{format}");
        let file = data.path().join(format!("speech-out.{format}"));
        std::fs::write(&file, &bytes).unwrap();
        let probe = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name",
                "-of",
                "csv=p=0",
            ])
            .arg(&file)
            .output()
            .expect("ffprobe");
        assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), codec);
        let (status, body) = openai(&server, &key, &bytes, content_type, "speech").await;
        assert_eq!(status, 200, "{format}: {body}");
        let text = body["text"].as_str().unwrap();
        assert!(wer(SENTENCE, text) <= 0.15, "{format}: {text:?}");
    }

    // Damaged containers: stable 4xx answers, never a 5xx or a crash.
    let all = recordings(&wav_path);
    for (name, bytes, mime, file) in &all {
        let (status, body) = openai(&server, &key, &bytes[..60], mime, file).await;
        assert_stable_rejection(&format!("{name} header only"), status, &body);
        let (status, body) = deepgram(&server, &key, "", &bytes[..60], mime).await;
        assert!(
            (400..500).contains(&status),
            "{name} header only on /v1/listen: {status} {body}"
        );
        let mut damaged = bytes.clone();
        for i in (200..damaged.len()).step_by(61) {
            damaged[i] ^= 0xA5;
        }
        let (status, body) = openai(&server, &key, &damaged, mime, file).await;
        assert!(
            status == 200 || (400..500).contains(&status),
            "{name} damaged: {status} {body}"
        );
    }
    // A WebM cut in the middle keeps the audio before the cut.
    let webm = &all[0].1;
    let (status, body) = openai(
        &server,
        &key,
        &webm[..webm.len() / 2],
        "audio/webm",
        "cut.webm",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let text = body["text"].as_str().unwrap().to_lowercase();
    assert!(text.contains("call me back"), "{text:?}");
    // Browsers label recordings as video too.
    let (status, body) = openai(&server, &key, webm, "video/webm", "clip.webm").await;
    assert_eq!(status, 200, "{body}");

    let health = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

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

/// Streams `bytes` in `chunk`-byte messages, then `CloseStream`; returns
/// the final transcript and the Metadata duration.
async fn stream(
    server: &ServerProcess,
    key: &str,
    query: &str,
    bytes: &[u8],
    chunk: usize,
) -> (String, f64) {
    stream_paced(server, key, query, bytes, chunk, 0.0).await
}

/// [`stream`], each message sent after the time its share of
/// `seconds_per_byte` takes at twice real time (a live encoder's pace).
async fn stream_paced(
    server: &ServerProcess,
    key: &str,
    query: &str,
    bytes: &[u8],
    chunk: usize,
    seconds_per_byte: f64,
) -> (String, f64) {
    let mut socket = connect(server, key, query).await;
    for piece in bytes.chunks(chunk) {
        socket
            .send(Message::Binary(piece.to_vec().into()))
            .await
            .unwrap();
        if seconds_per_byte > 0.0 {
            let pause = piece.len() as f64 * seconds_per_byte / 2.0;
            tokio::time::sleep(std::time::Duration::from_secs_f64(pause)).await;
        }
    }
    socket
        .send(Message::Text(r#"{"type":"CloseStream"}"#.into()))
        .await
        .unwrap();
    let (messages, close) = read_to_close(&mut socket).await;
    assert_eq!(close.map(|c| c.0), Some(1000), "{query}: {messages:?}");
    let transcript = messages
        .iter()
        .filter(|m| m["type"] == "Results" && m["is_final"] == true)
        .filter_map(|m| m["channel"]["alternatives"][0]["transcript"].as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let metadata = messages
        .iter()
        .find(|m| m["type"] == "Metadata")
        .expect("Metadata");
    (transcript, metadata["duration"].as_f64().unwrap())
}

#[tokio::test]
async fn webm_ogg_mp3_flac_and_mp4_streams_on_listen_ws() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    let wav_path = data.path().join("speech.wav");
    std::fs::write(&wav_path, speak(SENTENCE, "wav")).unwrap();
    let seconds = vocalis_audio::decode_file(&std::fs::read(&wav_path).unwrap(), None, 16_000)
        .unwrap()
        .duration_s;

    // MediaRecorder-style WebM (unknown sizes), 1 KB messages, no parameters.
    let webm = ffmpeg(&wav_path, &["-c:a", "libopus", "-f", "webm", "-live", "1"]);
    let (text, duration) = stream(&server, &key, "punctuate=true", &webm, 1_000).await;
    assert!(wer(SENTENCE, &text) <= 0.15, "webm: {text:?}");
    assert!(
        (duration - seconds).abs() < 0.1,
        "webm: {duration} vs {seconds}"
    );

    // Firefox-style Ogg Opus announced as Deepgram's `encoding=opus`, 300 B messages.
    let ogg = ffmpeg(&wav_path, &["-c:a", "libopus", "-f", "ogg"]);
    let (text, duration) = stream(&server, &key, "encoding=opus&punctuate=true", &ogg, 300).await;
    assert!(wer(SENTENCE, &text) <= 0.15, "ogg: {text:?}");
    assert!(
        (duration - seconds).abs() < 0.1,
        "ogg: {duration} vs {seconds}"
    );

    // MP3 as a live encoder sends it (ffmpeg to a pipe, 44.1 kHz stereo),
    // 4 KB messages at twice real time, no parameters.
    let mp3 = ffmpeg(
        &wav_path,
        &[
            "-ar",
            "44100",
            "-ac",
            "2",
            "-c:a",
            "libmp3lame",
            "-f",
            "mp3",
        ],
    );
    let pace = seconds / mp3.len() as f64;
    let (text, duration) = stream_paced(&server, &key, "punctuate=true", &mp3, 4_096, pace).await;
    assert!(wer(SENTENCE, &text) <= 0.15, "mp3: {text:?}");
    assert!(
        (duration - seconds).abs() < 0.1,
        "mp3: {duration} vs {seconds}"
    );

    // FLAC piped (STREAMINFO without totals) as Deepgram's `encoding=flac`;
    // its last frame arrives with CloseStream.
    let flac = ffmpeg(&wav_path, &["-ar", "16000", "-c:a", "flac", "-f", "flac"]);
    let pace = seconds / flac.len() as f64;
    let (text, duration) = stream_paced(
        &server,
        &key,
        "encoding=flac&punctuate=true",
        &flac,
        4_096,
        pace,
    )
    .await;
    assert!(wer(SENTENCE, &text) <= 0.15, "flac: {text:?}");
    assert!(
        (duration - seconds).abs() < 0.01,
        "flac: {duration} vs {seconds}"
    );

    // Fragmented MP4 with AAC as Safari's MediaRecorder sends it (a moof
    // and mdat per 250 ms timeslice), 4 KB messages at twice real time.
    let mp4 = ffmpeg(
        &wav_path,
        &[
            "-c:a",
            "aac",
            "-f",
            "mp4",
            "-movflags",
            "empty_moov+default_base_moof",
            "-frag_duration",
            "250000",
        ],
    );
    let pace = seconds / mp4.len() as f64;
    let (text, duration) = stream_paced(&server, &key, "punctuate=true", &mp4, 4_096, pace).await;
    assert!(wer(SENTENCE, &text) <= 0.15, "mp4: {text:?}");
    // AAC keeps its encoder priming (about 20–60 ms).
    assert!(
        (duration - seconds).abs() < 0.15,
        "mp4: {duration} vs {seconds}"
    );

    // Ogg Vorbis is not a live codec: 1008 DATA-0000.
    let vorbis = ffmpeg(&wav_path, &["-c:a", "libvorbis", "-f", "ogg"]);
    let mut socket = connect(&server, &key, "").await;
    socket
        .send(Message::Binary(vorbis[..4_000].to_vec().into()))
        .await
        .unwrap();
    let (_, close) = read_to_close(&mut socket).await;
    assert_eq!(close, Some((1008, "DATA-0000".to_owned())));
    // An encoding that is not live audio is refused at the upgrade.
    let response = reqwest::Client::new()
        .get(server.url("/v1/listen?encoding=mp4&sample_rate=16000"))
        .header("Authorization", format!("Token {key}"))
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
}
