//! Piper text-to-speech latency: one sentence (≈3 s of audio) with the
//! default voice, whole synthesis and time to the first streamed chunk of a
//! three-sentence paragraph, with 1 intra-op thread (the server default)
//! and 2.
//!
//! `cargo bench -p vocalis-inference --bench tts -- --quick`. Needs
//! `vocalis models pull en_US-joe-medium onnxruntime`.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use vocalis_inference::SynthesisOptions;

const SENTENCE: &str = "The quick brown fox jumps over the lazy dog near the river bank.";
const PARAGRAPH: &str = "Good morning, and welcome to the weekly update. \
    Our team finished the new release two days ahead of schedule. \
    Please read the notes before the meeting on Friday.";

fn synthesize(c: &mut Criterion) {
    let options = SynthesisOptions::default();
    let mut group = c.benchmark_group("tts");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for threads in [1, 2] {
        let voice = common::voice(common::VOICE, threads);
        let audio = voice
            .synthesize(SENTENCE, &options)
            .unwrap_or_else(|e| common::fail(&format!("synthesis failed: {e}")));
        assert!(audio.duration_secs() > 1.0, "too little audio");
        let id = format!("{threads}_thread");
        group.bench_function(BenchmarkId::new("sentence", &id), |b| {
            b.iter(|| voice.synthesize(black_box(SENTENCE), &options).unwrap())
        });
        group.bench_function(BenchmarkId::new("paragraph_first_chunk", &id), |b| {
            b.iter(|| {
                let mut stream = voice
                    .synthesize_stream(black_box(PARAGRAPH), &options)
                    .unwrap();
                stream.next().unwrap().unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, synthesize);
criterion_main!(benches);
