//! Silero voice activity detection over 10 s of speech
//! (`tests/data/two_sentences.wav`): whole-buffer speech regions read in
//! batched rows on one and two threads and in one sequential pass, and the
//! streaming detector fed 20 ms telephony-sized chunks.
//!
//! `cargo bench -p vocalis-inference --bench vad -- --quick`. Needs
//! `vocalis models pull silero-vad onnxruntime`.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn vad_10s(c: &mut Criterion) {
    let audio = common::read_audio_16k(&common::test_data("two_sentences.wav"));
    let vad = common::vad();
    let regions = vad
        .speech_regions(&audio)
        .unwrap_or_else(|e| common::fail(&format!("VAD failed: {e}")));
    assert!(!regions.is_empty(), "no speech found in two_sentences.wav");

    let mut group = c.benchmark_group("vad_10s");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(audio.len() as u64));
    group.bench_function("speech_regions", |b| {
        b.iter(|| vad.speech_regions(black_box(&audio)).unwrap())
    });
    group.bench_function("speech_regions_2_threads", |b| {
        b.iter(|| vad.speech_regions_on(black_box(&audio), 2).unwrap())
    });
    group.bench_function("sequential_pass", |b| {
        b.iter(|| {
            let probs = vad
                .frame_probabilities_sequential(black_box(&audio))
                .unwrap();
            vad.regions(&probs, audio.len())
        })
    });
    group.bench_function("stream_20ms_chunks", |b| {
        b.iter(|| {
            let mut stream = vad.stream();
            let mut events = 0;
            for chunk in audio.chunks(320) {
                events += stream.push(black_box(chunk)).unwrap().len();
            }
            events + stream.finish().unwrap().len()
        })
    });
    group.finish();
}

criterion_group!(benches, vad_10s);
criterion_main!(benches);
