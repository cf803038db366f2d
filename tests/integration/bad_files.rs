//! Hostile and broken uploads against one real server: a FLAC
//! decompression bomb (an hour of 384 kHz audio in 310 KB, several at once)
//! with the server's peak RSS (`VmHWM`) checked afterwards, truncated and
//! lying WAVs, WAVs with 0 channels, 0 Hz and an unsupported 768 kHz, text
//! named `.wav`, MP3s of garbage frames, a multipart body without `file`,
//! and a live `/v1/listen?multichannel=true` WAV header claiming 65 535
//! channels. Each is answered with its stable error code (or, for a valid
//! 384 kHz WAV, a transcript), every request has its one usage row, and the
//! server stays healthy.

use std::collections::BTreeMap;

use futures_util::SinkExt as _;
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{dev_key, read_to_close, ServerProcess};

/// The bomb `vocalis-audio`'s own tests build (see `decode_bomb.rs` there).
const FLAC_BOMB: &[u8] = include_bytes!("../../crates/audio/tests/data/flac_bomb_384k.flac");

/// Peak RSS the server may reach: models plus a few bounded decodes. Before
/// decodes were bounded, one bomb took it past 5.5 GB.
const RSS_BUDGET_KIB: u64 = 1536 * 1024;

/// A WAV with the given `fmt ` fields, `data` declaring `declared` bytes
/// (`None`: the real length) and holding `data`.
fn wav(channels: u16, rate: u32, bits: u16, declared: Option<u32>, data: &[u8]) -> Vec<u8> {
    let align = channels.wrapping_mul(bits / 8);
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&rate.wrapping_mul(u32::from(align)).to_le_bytes());
    out.extend_from_slice(&align.to_le_bytes());
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&declared.unwrap_or(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// One broken upload and the answer it must get.
struct Case {
    what: &'static str,
    bytes: Vec<u8>,
    name: &'static str,
    mime: &'static str,
    status: u16,
    code: &'static str,
}

/// Deterministic noise bytes.
fn garbage(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect()
}

/// MP3 frames: each a 4-byte header (`header`) and 413 bytes of garbage.
fn mp3_frames(header: [u8; 4]) -> Vec<u8> {
    (0..200)
        .flat_map(|i| header.into_iter().chain(garbage(413, i)))
        .collect()
}

/// A peak-memory figure (`VmHWM`, `VmRSS`) of a process, KiB.
fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Status, `x-request-id` and JSON body of a multipart transcription upload.
async fn upload(server: &ServerProcess, key: &str, form: Form) -> (u16, String, Value) {
    let response = reqwest::Client::new()
        .post(server.url("/v1/audio/transcriptions"))
        .bearer_auth(key)
        .multipart(form)
        .send()
        .await
        .expect("POST /v1/audio/transcriptions");
    let status = response.status().as_u16();
    let id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(!id.is_empty(), "every answer has an x-request-id");
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body: {text}"));
    (status, id, body)
}

fn file(bytes: &[u8], name: &str, mime: &str) -> Form {
    Form::new().part(
        "file",
        Part::bytes(bytes.to_vec())
            .file_name(name.to_owned())
            .mime_str(mime)
            .unwrap(),
    )
}

async fn assert_healthy(server: &ServerProcess) {
    let response = reqwest::get(server.url("/healthz")).await.expect("healthz");
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn hostile_files_get_stable_errors_and_the_server_stays_small() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    let pid = server.pid();
    let rss_at_start = proc_status_kib(pid, "VmHWM");
    // Request id → the outcome its usage row must have.
    let mut expected: BTreeMap<String, &str> = BTreeMap::new();

    // The bomb, four at once: two decode (max_concurrent_decodes = 2), the
    // others wait for a slot or are refused busy. None expands.
    let bombs = (0..4).map(|_| upload(&server, &key, file(FLAC_BOMB, "bomb.flac", "audio/flac")));
    for (status, id, body) in futures_util::future::join_all(bombs).await {
        match status {
            413 => {
                assert_eq!(body["error"]["code"], "payload_too_large", "{body}");
                expected.insert(id, "client_error");
            }
            503 => {
                assert_eq!(body["error"]["code"], "busy", "{body}");
                expected.insert(id, "server_error");
            }
            other => panic!("bomb answered {other}: {body}"),
        }
    }
    assert!(
        expected.values().any(|o| *o == "client_error"),
        "at least one bomb is decoded and refused as too long"
    );
    // Deepgram's pre-recorded route decodes the same way.
    let response = reqwest::Client::new()
        .post(server.url("/v1/listen"))
        .bearer_auth(&key)
        .header("content-type", "audio/flac")
        .body(FLAC_BOMB.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let peak = proc_status_kib(pid, "VmHWM");
    eprintln!(
        "server VmHWM: {} MiB after start-up, {} MiB after five FLAC bombs",
        rss_at_start / 1024,
        peak / 1024
    );
    assert!(
        peak < RSS_BUDGET_KIB,
        "server peak RSS {} MiB exceeds {} MiB",
        peak / 1024,
        RSS_BUDGET_KIB / 1024
    );
    assert_healthy(&server).await;

    // Broken files, one request each: (what, bytes, name, mime, status, code).
    let tone: Vec<u8> = (0..16_000i16)
        .flat_map(|i| ((i % 40 - 20) * 500).to_le_bytes())
        .collect();
    let good = wav(1, 16_000, 16, None, &tone);
    let mp3_garbage_headers = {
        let mut bytes = b"ID3\x04\0\0\0\0\0\0".to_vec();
        bytes.extend(mp3_frames([0xFF, 0xFB, 0xF0, 0x64])); // bitrate index 15 is invalid
        bytes
    };
    let cases = vec![
        Case {
            what: "truncated WAV (ends inside fmt)",
            bytes: good[..30].to_vec(),
            name: "cut.wav",
            mime: "audio/wav",
            status: 400,
            code: "invalid_payload",
        },
        Case {
            what: "WAV whose data chunk claims 1 MB but holds 2 000 bytes",
            bytes: wav(1, 16_000, 16, Some(1_000_000), &tone[..2_000]),
            name: "liar.wav",
            mime: "audio/wav",
            status: 400,
            code: "invalid_payload",
        },
        Case {
            what: "WAV with 0 channels",
            bytes: wav(0, 16_000, 16, None, &tone),
            name: "zero-channels.wav",
            mime: "audio/wav",
            status: 400,
            code: "invalid_payload",
        },
        Case {
            what: "WAV at 0 Hz",
            bytes: wav(1, 0, 16, None, &tone),
            name: "zero-hz.wav",
            mime: "audio/wav",
            status: 400,
            code: "invalid_payload",
        },
        Case {
            what: "WAV at 768 kHz",
            bytes: wav(1, 768_000, 16, None, &tone),
            name: "fast.wav",
            mime: "audio/wav",
            status: 415,
            code: "unsupported_media_type",
        },
        Case {
            what: "text named .wav",
            bytes: b"These are meeting notes, not audio. Action items follow.\n".repeat(40),
            name: "notes.wav",
            mime: "audio/wav",
            status: 415,
            code: "unsupported_media_type",
        },
        Case {
            what: "MP3 of frames with invalid headers and garbage",
            bytes: mp3_garbage_headers,
            name: "garbage.mp3",
            mime: "audio/mpeg",
            status: 415,
            code: "unsupported_media_type",
        },
    ];
    for case in cases {
        let (status, id, body) =
            upload(&server, &key, file(&case.bytes, case.name, case.mime)).await;
        assert_eq!(status, case.status, "{}: {body}", case.what);
        assert_eq!(body["error"]["code"], case.code, "{}: {body}", case.what);
        expected.insert(id, "client_error");
    }

    // Valid MP3 frame headers over garbage: symphonia skips the frames it
    // cannot decode, so this may decode a few frames or none; either way a
    // clean answer, never a 5xx.
    let (status, id, body) = upload(
        &server,
        &key,
        file(
            &mp3_frames([0xFF, 0xFB, 0x90, 0x64]),
            "noise.mp3",
            "audio/mpeg",
        ),
    )
    .await;
    assert!(status == 200 || status == 400, "{status}: {body}");
    expected.insert(id, if status == 200 { "ok" } else { "client_error" });

    // A real 384 kHz WAV (the highest supported rate) is transcribed.
    let high: Vec<u8> = (0..384_000i32)
        .flat_map(|i| (((i % 960) - 480) as i16 * 20).to_le_bytes())
        .collect();
    let (status, id, body) = upload(
        &server,
        &key,
        file(&wav(1, 384_000, 16, None, &high), "high.wav", "audio/wav"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        (body["metadata"]["duration"].as_f64().unwrap() - 1.0).abs() < 1e-3,
        "{body}"
    );
    expected.insert(id, "ok");

    // A multipart body without `file`.
    let (status, id, body) = upload(&server, &key, Form::new().text("model", "whisper-1")).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_payload", "{body}");
    expected.insert(id, "client_error");

    // Live: a WAV header claiming 65 535 channels with multichannel=true is
    // refused like other undecodable audio, before any recognizer exists.
    let mut request = format!("ws://{}/v1/listen?multichannel=true", server.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Authorization", format!("Token {key}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade");
    let header = wav(u16::MAX, 16_000, 16, Some(u32::MAX), &[]);
    socket.send(Message::Binary(header.into())).await.unwrap();
    let (_, close) = read_to_close(&mut socket).await;
    assert_eq!(close, Some((1008, "DATA-0000".to_owned())));

    assert_healthy(&server).await;
    assert!(proc_status_kib(pid, "VmHWM") < RSS_BUDGET_KIB);

    // Every request was accepted, so every one has its usage row.
    let usage = server.usage(&key).await;
    let rows = usage["sessions"].as_array().cloned().unwrap_or_default();
    for (id, outcome) in &expected {
        let row = rows
            .iter()
            .find(|r| r["session_id"] == id.as_str())
            .unwrap_or_else(|| panic!("no usage row for {id}: {rows:?}"));
        assert_eq!(row["outcome"], *outcome, "{row}");
    }
}
