//! Early first audio on `/ws/tts`: the first sentence of a segment is spoken
//! as its first clause and then the rest (`tts::phrase`). Checked on the
//! wire by message order (two contexts take turns piece by piece, so b's
//! first audio comes after a's first clause, not after a's whole sentence:
//! a's first audio went out before its sentence was synthesised), and by
//! content: the split sentence is as long as the same sentence spoken whole
//! (as the second sentence of a segment, which is never split), has no
//! pause longer than its own comma pause, and transcribes back.

use serde_json::json;
use vocalis_audio::RawEncoding;

use super::{
    base64_decode, collect_until, connect, decode, expect_type, next_json, send, transcribe,
};
use crate::support::{dev_key, wer, ServerProcess};

/// First sentences with an early clause mark (both are split).
const LONG_A: &str = "Good morning, and welcome to the weekly update from the support team.";
const LONG_B: &str = "Thank you, your order left our warehouse early this morning.";
/// A short sentence (never split) to put before `LONG_A` as a reference.
const OKAY: &str = "Okay.";

/// Longest run of quiet 10 ms frames inside the speech of 16 kHz audio, s.
fn longest_inner_pause(samples: &[f32]) -> f64 {
    let loud: Vec<bool> = samples
        .chunks(160)
        .map(|f| (f.iter().map(|x| x * x).sum::<f32>() / f.len() as f32).sqrt() > 0.01)
        .collect();
    let (Some(first), Some(last)) = (loud.iter().position(|&l| l), loud.iter().rposition(|&l| l))
    else {
        return 0.0;
    };
    let (mut longest, mut run) = (0, 0);
    for &l in &loud[first..=last] {
        run = if l { 0 } else { run + 1 };
        longest = longest.max(run);
    }
    f64::from(longest) / 100.0
}

/// Speaks `text` as one flush segment of a session-dialect stream (linear16
/// 16 kHz); returns the audio and `flushed.audio_seconds`.
async fn segment(socket: &mut crate::support::Socket, text: &str) -> (Vec<u8>, f64) {
    send(socket, json!({"type": "text", "text": text})).await;
    send(socket, json!({"type": "flush"})).await;
    let (frames, flushed, others) = collect_until(socket, "flushed").await;
    assert!(others.is_empty(), "{others:?}");
    (frames.concat(), flushed["audio_seconds"].as_f64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_first_sentence_is_spoken_clause_first_without_a_seam() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());

    // Order: each context's first sentence goes out as two pieces, and the
    // contexts take turns piece by piece: a's clause, b's clause, a's rest…
    let (mut socket, _) = connect(&server, &key).await;
    for id in ["a", "b"] {
        send(
            &mut socket,
            json!({"create_context": {"context_id": id,
                   "audio_config": {"audio_encoding": "LINEAR16", "sample_rate_hertz": 16000}}}),
        )
        .await;
        let created = next_json(&mut socket).await;
        assert_eq!(created["context_created"]["context_id"], id, "{created}");
    }
    for (id, text) in [("a", LONG_A), ("b", LONG_B)] {
        send(
            &mut socket,
            json!({"send_text": {"context_id": id, "text": text}}),
        )
        .await;
    }
    for id in ["a", "b"] {
        send(&mut socket, json!({"flush_context": {"context_id": id}})).await;
    }
    // Bytes of a's audio that arrived before b's first chunk.
    let mut a_before_b = None;
    let mut audio_a = Vec::new();
    let mut completed = 0;
    while completed < 2 {
        let message = next_json(&mut socket).await;
        if let Some(chunk) = message.get("audio_chunk") {
            if chunk["context_id"] == "a" {
                audio_a.extend(base64_decode(chunk["audioContent"].as_str().unwrap()));
            } else {
                a_before_b.get_or_insert(audio_a.len());
            }
        } else if message.get("flush_completed").is_some() {
            completed += 1;
        } else {
            panic!("unexpected {message}");
        }
    }
    // Spoken whole, all of a's sentence would come before b's first audio
    // (but its last padded frame); clause first, only a's first clause does.
    let a_before_b = a_before_b.expect("audio for b");
    assert!(
        a_before_b > 0 && a_before_b * 10 < audio_a.len() * 6,
        "{a_before_b} of a's {} bytes came before b's first audio",
        audio_a.len()
    );
    let heard = transcribe(decode(&audio_a, RawEncoding::Linear16, 16_000)).await;
    assert!(wer(LONG_A, &heard) <= 0.2, "{heard:?}");
    send(&mut socket, json!({"type": "stop"})).await;
    drop(socket);

    // Content: as long as the sentence spoken whole, no seam-sized pause.
    let (mut socket, _) = connect(&server, &key).await;
    send(
        &mut socket,
        json!({"type": "start", "config": {"encoding": "linear16", "sample_rate": 16000}}),
    )
    .await;
    expect_type(&mut socket, "session_started").await;
    let (split, split_s) = segment(&mut socket, LONG_A).await;
    let (_, okay_s) = segment(&mut socket, OKAY).await;
    let (_, both_s) = segment(&mut socket, &format!("{OKAY} {LONG_A}")).await;
    // The second sentence of a segment follows a 0.2 s gap and is not split.
    let whole_s = both_s - okay_s - 0.2;
    assert!(
        (split_s - whole_s).abs() <= 0.15 * whole_s,
        "split {split_s:.2} s, whole {whole_s:.2} s (okay {okay_s:.2} s, both {both_s:.2} s)"
    );
    let pause = longest_inner_pause(&decode(&split, RawEncoding::Linear16, 16_000));
    assert!(
        pause <= 0.5,
        "a {pause:.2} s pause inside the split sentence"
    );
    send(&mut socket, json!({"type": "stop"})).await;
    expect_type(&mut socket, "session_stopped").await;
}
