//! Speaker diarization against the real server and CLI: a two-party
//! conversation (the Piper voice from `vocalis speak` and espeak-ng's `en+f2`
//! from the `espeak-ng` CLI, alternating turns) on `POST /v1/listen?diarize=true`
//! (words carry `speaker` and `speaker_confidence`, `utterances` carry
//! `speaker`), `/v1/audio/transcriptions` with `gpt-4o-transcribe-diarize`
//! (`diarized_json` segments, VTT voice tags), multichannel (one speaker per
//! channel), and `vocalis transcribe --diarize`.

use std::process::Command;

use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::rest_transcriptions::speak;
use crate::support::{dev_key, ServerProcess};

const PIPER_LINES: [&str; 3] = [
    "Hello, thanks for calling the support line today.",
    "Sure, can you give me the order number please?",
    "Thank you, your package should arrive by Friday afternoon.",
];
const ESPEAK_LINES: [&str; 3] = [
    "Hi, I would like to check the status of my order.",
    "It is four five seven two nine one.",
    "Great, that is good news, thank you so much.",
];

fn espeak(text: &str) -> Vec<f32> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("e.wav");
    let status = Command::new("espeak-ng")
        .args(["-v", "en+f2", "-w", out.to_str().unwrap(), text])
        .status()
        .expect("espeak-ng CLI");
    assert!(status.success());
    let bytes = std::fs::read(out).unwrap();
    vocalis_audio::decode_file(&bytes, Some("wav"), 16_000)
        .unwrap()
        .samples
}

fn piper(text: &str) -> Vec<f32> {
    vocalis_audio::decode_file(&speak(text, "wav"), Some("wav"), 16_000)
        .unwrap()
        .samples
}

/// 16-bit PCM WAV of `channels` interleaved tracks (equal lengths) at 16 kHz.
fn wav(tracks: &[&[f32]]) -> Vec<u8> {
    let n = tracks[0].len();
    let mut data = Vec::with_capacity(n * 2 * tracks.len());
    for i in 0..n {
        for t in tracks {
            data.extend_from_slice(&vocalis_audio::pcm::f32_to_i16(t[i]).to_le_bytes());
        }
    }
    let ch = tracks.len() as u16;
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&ch.to_le_bytes());
    out.extend_from_slice(&16_000u32.to_le_bytes());
    out.extend_from_slice(&(32_000 * u32::from(ch)).to_le_bytes());
    out.extend_from_slice(&(2 * ch).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}

/// The conversation (Piper first) and its turns `(start, end, speaker)`.
fn conversation() -> (Vec<f32>, Vec<(f64, f64, usize)>) {
    let mut audio = vec![0.0; 8_000];
    let mut turns = Vec::new();
    for i in 0..3 {
        for (speaker, clip) in [(0, piper(PIPER_LINES[i])), (1, espeak(ESPEAK_LINES[i]))] {
            let start = audio.len() as f64 / 16_000.0;
            audio.extend(clip);
            turns.push((start, audio.len() as f64 / 16_000.0, speaker));
            audio.extend(std::iter::repeat_n(0.0, 9_600));
        }
    }
    (audio, turns)
}

fn truth_at(turns: &[(f64, f64, usize)], t: f64) -> usize {
    turns
        .iter()
        .min_by(|a, b| {
            let da = (a.0 - t).max(t - a.1).max(0.0);
            let db = (b.0 - t).max(t - b.1).max(0.0);
            da.total_cmp(&db)
        })
        .unwrap()
        .2
}

#[tokio::test]
async fn diarize_on_listen_transcriptions_and_cli() {
    let (audio, turns) = conversation();
    let body = wav(&[&audio]);
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let key = dev_key(dir.path());
    let client = reqwest::Client::new();

    // Deepgram: every word has a speaker; attribution after mapping >= 90 %.
    let response = client
        .post(server.url("/v1/listen?diarize=true&utterances=true&punctuate=true"))
        .header("Authorization", format!("Token {key}"))
        .header("Content-Type", "audio/wav")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let json: Value = response.json().await.unwrap();
    assert!(json["metadata"].get("warnings").is_none(), "{json}");
    let words = json["results"]["channels"][0]["alternatives"][0]["words"]
        .as_array()
        .unwrap();
    assert!(words.len() >= 30, "{words:?}");
    let mut agree = [[0usize; 2]; 2];
    for w in words {
        let speaker = w["speaker"].as_u64().expect("speaker") as usize;
        assert!(speaker < 2, "{w}");
        let c = w["speaker_confidence"]
            .as_f64()
            .expect("speaker_confidence");
        assert!((0.0..=1.0).contains(&c), "{w}");
        let mid = (w["start"].as_f64().unwrap() + w["end"].as_f64().unwrap()) / 2.0;
        agree[speaker][truth_at(&turns, mid)] += 1;
    }
    let best = (agree[0][0] + agree[1][1]).max(agree[0][1] + agree[1][0]);
    assert!(best as f64 >= 0.9 * words.len() as f64, "{agree:?}");
    let utterances = json["results"]["utterances"].as_array().unwrap();
    assert!(utterances.len() >= 6, "{utterances:?}");
    assert!(utterances.iter().all(|u| u["speaker"].is_u64()));

    // A speaker-count hint is obeyed: one speaker asked, one given.
    let response = client
        .post(server.url("/v1/listen?diarize=true&diarize_speakers=1"))
        .bearer_auth(&key)
        .header("Content-Type", "audio/wav")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let json: Value = response.json().await.unwrap();
    let words = json["results"]["channels"][0]["alternatives"][0]["words"]
        .as_array()
        .unwrap();
    assert!(words.len() >= 30 && words.iter().all(|w| w["speaker"] == 0));

    // OpenAI diarized_json: alternating A/B segments.
    let form = Form::new()
        .text("model", "gpt-4o-transcribe-diarize")
        .text("response_format", "diarized_json")
        .part("file", Part::bytes(body.clone()).file_name("call.wav"));
    let response = client
        .post(server.url("/v1/audio/transcriptions"))
        .bearer_auth(&key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let json: Value = response.json().await.unwrap();
    let segments = json["segments"].as_array().unwrap();
    let speakers: Vec<&str> = segments
        .iter()
        .map(|s| s["speaker"].as_str().unwrap())
        .collect();
    assert!(speakers.len() >= 6 && speakers.len() <= 8, "{speakers:?}");
    assert_eq!(speakers[0], "A", "{speakers:?}");
    assert!(
        speakers.contains(&"B") && !speakers.contains(&"C"),
        "{speakers:?}"
    );
    assert!(json["text"].as_str().unwrap().len() > 100);
    assert_eq!(json["segments"][0]["type"], "transcript.text.segment");

    // VTT with the diarizing model: voice tags per turn.
    let form = Form::new()
        .text("model", "gpt-4o-transcribe-diarize")
        .text("response_format", "vtt")
        .part("file", Part::bytes(body.clone()).file_name("call.wav"));
    let vtt = client
        .post(server.url("/v1/audio/transcriptions"))
        .bearer_auth(&key)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        vtt.contains("<v Speaker A>") && vtt.contains("<v Speaker B>"),
        "{vtt}"
    );

    // Multichannel: one speaker per channel, no clustering across them.
    let left: Vec<f32> = piper(PIPER_LINES[0]);
    let mut right = vec![0.0; left.len()];
    let e = espeak(ESPEAK_LINES[0]);
    right[..e.len().min(left.len())].copy_from_slice(&e[..e.len().min(left.len())]);
    let response = client
        .post(server.url("/v1/listen?diarize=true&multichannel=true"))
        .bearer_auth(&key)
        .header("Content-Type", "audio/wav")
        .body(wav(&[&left, &right]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let json: Value = response.json().await.unwrap();
    for (index, channel) in json["results"]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let words = channel["alternatives"][0]["words"].as_array().unwrap();
        assert!(!words.is_empty(), "channel {index}");
        assert!(words.iter().all(|w| w["speaker"] == index), "{words:?}");
    }

    // The CLI prints speaker-labelled lines.
    let file = dir.path().join("call.wav");
    std::fs::write(&file, &body).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vocalis"))
        .args(["transcribe", "--diarize", file.to_str().unwrap()])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 6, "{text}");
    assert!(lines[0].starts_with("Speaker A: "), "{text}");
    assert!(lines.iter().any(|l| l.starts_with("Speaker B: ")), "{text}");
}

/// `(first word start, last word end, speaker)` of finals: at least six,
/// at least two ids, and ≥ 80 % of them the speaker of their voice after the
/// best one-to-one mapping of two ids to the two voices (any other id, e.g.
/// a short first fragment taken for a new voice, counts as wrong).
fn check_live_speakers(finals: &[(f64, f64, usize)], turns: &[(f64, f64, usize)]) {
    assert!(finals.len() >= 6, "{finals:?}");
    let mut ids: Vec<usize> = finals.iter().map(|f| f.2).collect();
    ids.sort_unstable();
    ids.dedup();
    assert!(ids.len() >= 2, "{finals:?}");
    let truth: Vec<usize> = finals
        .iter()
        .map(|&(start, end, _)| truth_at(turns, (start + end) / 2.0))
        .collect();
    let mut best = 0;
    for &a in &ids {
        for &b in ids.iter().filter(|&&b| b != a) {
            let right = finals
                .iter()
                .zip(&truth)
                .filter(|((_, _, s), t)| (*s == a && **t == 0) || (*s == b && **t == 1))
                .count();
            best = best.max(right);
        }
    }
    assert!(
        best as f64 >= 0.8 * finals.len() as f64,
        "{best} {finals:?} {turns:?}"
    );
}

/// The finals of the conversation sent as 20 ms linear16 frames (not paced)
/// on `WS /v1/listen?diarize=true&{query}` then `CloseStream`: every final's
/// words carry one speaker and a `speaker_confidence`.
async fn deepgram_live_finals(
    server: &ServerProcess,
    key: &str,
    frames: &[Vec<u8>],
    query: &str,
) -> Vec<(f64, f64, usize)> {
    use futures_util::SinkExt as _;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    use tokio_tungstenite::tungstenite::Message;

    let mut request = format!(
        "ws://{}/v1/listen?encoding=linear16&sample_rate=16000&diarize=true&punctuate=true{query}",
        server.addr
    )
    .into_client_request()
    .unwrap();
    request
        .headers_mut()
        .insert("Authorization", format!("Token {key}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade");
    for frame in frames {
        socket
            .send(Message::Binary(frame.clone().into()))
            .await
            .unwrap();
    }
    socket
        .send(Message::Text(r#"{"type":"CloseStream"}"#.into()))
        .await
        .unwrap();
    let (messages, close) = crate::support::read_to_close(&mut socket).await;
    assert_eq!(close.map(|c| c.0), Some(1000), "{messages:?}");
    assert!(
        !messages.iter().any(|m| m["type"] == "Warning"),
        "{messages:?}"
    );
    let mut finals = Vec::new();
    for m in messages
        .iter()
        .filter(|m| m["type"] == "Results" && m["is_final"] == true)
    {
        let words = m["channel"]["alternatives"][0]["words"].as_array().unwrap();
        if words.is_empty() {
            continue;
        }
        let speaker = words[0]["speaker"].as_u64().expect("speaker");
        for w in words {
            assert_eq!(w["speaker"].as_u64(), Some(speaker), "{m}");
            let c = w["speaker_confidence"]
                .as_f64()
                .expect("speaker_confidence");
            assert!((0.0..=1.0).contains(&c), "{w}");
        }
        let start = words[0]["start"].as_f64().unwrap();
        let end = words[words.len() - 1]["end"].as_f64().unwrap();
        finals.push((start, end, speaker as usize));
    }
    finals
}

/// The same on `/ws/stt` with `config.diarize` (plus `config_extra`) then `stop`.
async fn sixtydb_live_finals(
    server: &ServerProcess,
    key: &str,
    frames: &[Vec<u8>],
    config_extra: &str,
) -> Vec<(f64, f64, usize)> {
    use futures_util::SinkExt as _;
    use tokio_tungstenite::tungstenite::Message;

    let url = format!("ws://{}/ws/stt?apiKey={key}", server.addr);
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade");
    let start = format!(
        r#"{{"type":"start","languages":["en"],"config":{{"encoding":"linear","sample_rate":16000,"diarize":true{config_extra}}}}}"#
    );
    socket.send(Message::Text(start.into())).await.unwrap();
    for frame in frames {
        socket
            .send(Message::Binary(frame.clone().into()))
            .await
            .unwrap();
    }
    socket
        .send(Message::Text(r#"{"type":"stop"}"#.into()))
        .await
        .unwrap();
    let (messages, close) = crate::support::read_to_close(&mut socket).await;
    assert_eq!(close.map(|c| c.0), Some(1000), "{messages:?}");
    assert!(
        !messages.iter().any(|m| m["type"] == "error"),
        "{messages:?}"
    );
    let mut finals = Vec::new();
    for m in messages
        .iter()
        .filter(|m| m["type"] == "transcription" && m["is_final"] == true)
    {
        let words = m["words"].as_array().unwrap();
        if words.is_empty() {
            continue;
        }
        let speaker = m["speaker"]
            .as_u64()
            .unwrap_or_else(|| panic!("speaker: {m}"));
        assert!(
            words.iter().all(|w| w["speaker"].as_u64() == Some(speaker)),
            "{m}"
        );
        let start = words[0]["start"].as_f64().unwrap();
        let end = words[words.len() - 1]["end"].as_f64().unwrap();
        finals.push((start, end, speaker as usize));
    }
    finals
}

/// Live: the conversation on `WS /v1/listen?diarize=true` and on `/ws/stt`
/// with `config.diarize`. Every final's words carry its speaker, ids are
/// stable and match the voices ([`check_live_speakers`]); a speaker-count
/// hint of one (`diarize_speakers=1`, `"max_speakers":1`) caps both routes
/// at speaker 0.
#[tokio::test]
async fn live_listen_labels_finals_with_stable_speakers() {
    let (audio, turns) = conversation();
    let frames: Vec<Vec<u8>> = audio
        .chunks(320)
        .map(|frame| {
            frame
                .iter()
                .flat_map(|s| vocalis_audio::pcm::f32_to_i16(*s).to_le_bytes())
                .collect()
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let key = dev_key(dir.path());

    check_live_speakers(
        &deepgram_live_finals(&server, &key, &frames, "").await,
        &turns,
    );
    check_live_speakers(
        &sixtydb_live_finals(&server, &key, &frames, "").await,
        &turns,
    );
    for finals in [
        deepgram_live_finals(&server, &key, &frames, "&diarize_speakers=1").await,
        sixtydb_live_finals(&server, &key, &frames, r#","max_speakers":1"#).await,
    ] {
        assert!(finals.len() >= 6, "{finals:?}");
        assert!(finals.iter().all(|f| f.2 == 0), "{finals:?}");
    }
}
