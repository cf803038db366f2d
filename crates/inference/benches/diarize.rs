//! Speaker diarization cost per minute of audio: one minute built from the
//! three espeak-ng clips of `tests/data/diarize/` (three voices in turns with
//! 0.5 s pauses), VAD regions found once; the bench times embedding every
//! window and clustering (`Diarizer::diarize`).
//!
//! `cargo bench -p vocalis-inference --bench diarize -- --quick`. Needs
//! `vocalis models pull resemblyzer silero-vad onnxruntime`.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use vocalis_inference::diarize::{DiarizeOptions, Diarizer, MODEL_FILE};

fn diarize_60s(c: &mut Criterion) {
    let clips: Vec<Vec<f32>> = ["m3.wav", "f2.wav", "us_f4.wav"]
        .iter()
        .map(|n| common::read_audio_16k(&common::test_data(&format!("diarize/{n}"))))
        .collect();
    let mut audio = Vec::new();
    for i in 0.. {
        if audio.len() >= 60 * 16_000 {
            break;
        }
        audio.extend_from_slice(&clips[i % clips.len()]);
        audio.extend(std::iter::repeat_n(0.0, 8_000));
    }
    audio.truncate(60 * 16_000);
    let regions = common::vad()
        .speech_regions(&audio)
        .unwrap_or_else(|e| common::fail(&format!("VAD failed: {e}")));
    let model = common::require(
        &common::models_root().join("resemblyzer").join(MODEL_FILE),
        "resemblyzer",
        "",
    );
    let diarizer = Diarizer::load(model.parent().unwrap_or(&model))
        .unwrap_or_else(|e| common::fail(&format!("speaker encoder failed to load: {e}")));
    let options = DiarizeOptions::default();
    let found = diarizer
        .diarize(&audio, &regions, &options)
        .map(|d| d.speakers);
    assert_eq!(found.ok(), Some(3), "three voices expected");

    let mut group = c.benchmark_group("diarize_60s");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(10));
    group.bench_function("embed_and_cluster", |b| {
        b.iter(|| {
            diarizer
                .diarize(black_box(&audio), &regions, &options)
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, diarize_60s);
criterion_main!(benches);
