//! Whisper speech-to-text latency: one 5 s sentence (the first sentence of
//! `tests/data/two_sentences.wav`) transcribed by tiny.en, f16 and q8_0, with
//! 2 threads, greedy decoding, VAD off and the default (`Auto`) encoder
//! window; plus the same clip with the full 30 s window for reference.
//!
//! `cargo bench -p vocalis-inference --bench stt -- --quick`. Needs
//! `vocalis models pull tiny.en --quantize q8_0`.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use vocalis_inference::stt::{AudioCtx, SttWorker, Transcribe, TranscribeOptions, VadMode};

const THREADS: usize = 2;

fn transcribe_5s(c: &mut Criterion) {
    let mut audio = common::read_audio_16k(&common::test_data("two_sentences.wav"));
    audio.truncate(5 * 16_000);

    let mut group = c.benchmark_group("stt_5s");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let runs = [
        ("tiny.en_f16", None, AudioCtx::Auto),
        ("tiny.en_q8_0", Some("q8_0"), AudioCtx::Auto),
        ("tiny.en_f16_full_window", None, AudioCtx::Full),
    ];
    for (label, quant, audio_ctx) in runs {
        let model = common::stt_model("tiny.en", quant);
        let mut worker = SttWorker::new(model, THREADS, None)
            .unwrap_or_else(|e| common::fail(&format!("cannot create a Whisper state: {e}")));
        let options = TranscribeOptions {
            vad: VadMode::Off,
            audio_ctx,
            ..TranscribeOptions::default()
        };
        let first = worker
            .transcribe(&audio, &options)
            .unwrap_or_else(|e| common::fail(&format!("transcription failed: {e}")));
        assert!(
            first.text().to_lowercase().contains("umbrella"),
            "unexpected transcript {:?}",
            first.text()
        );
        group.bench_function(BenchmarkId::new(label, "2_threads"), |b| {
            b.iter(|| worker.transcribe(black_box(&audio), &options).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, transcribe_5s);
criterion_main!(benches);
