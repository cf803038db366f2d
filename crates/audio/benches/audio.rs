//! Throughput benchmarks for the hot paths of a telephony/TTS pipeline:
//! μ-law decoding, 8 → 16 kHz streaming resampling on 20 ms chunks, and
//! 22.05 → 8 kHz resampling (one-shot and streaming).
//!
//! Run with `cargo bench -p vocalis-audio -- --quick` for a short pass.

use std::f64::consts::PI;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use vocalis_audio::{g711, resample, StreamingResampler};

fn tone(rate: u32, seconds: f64) -> Vec<f32> {
    let n = (f64::from(rate) * seconds) as usize;
    (0..n)
        .map(|i| (0.5 * (2.0 * PI * 440.0 * i as f64 / f64::from(rate)).sin()) as f32)
        .collect()
}

fn configure<M: criterion::measurement::Measurement>(group: &mut BenchmarkGroup<'_, M>) {
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
}

fn mulaw_decode(c: &mut Criterion) {
    let bytes: Vec<u8> = (0..160_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let mut group = c.benchmark_group("g711");
    configure(&mut group);
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("mulaw_decode_f32", |b| {
        b.iter(|| g711::decode_mulaw_f32(black_box(&bytes)))
    });
    let pcm: Vec<i16> = g711::decode_mulaw(&bytes);
    group.throughput(Throughput::Elements(pcm.len() as u64));
    group.bench_function("mulaw_encode", |b| {
        b.iter(|| g711::encode_mulaw(black_box(&pcm)))
    });
    group.finish();
}

fn streaming_8k_to_16k(c: &mut Criterion) {
    let input = tone(8_000, 1.0);
    let mut resampler = StreamingResampler::new(8_000, 16_000).unwrap();
    let mut out = Vec::with_capacity(40_000);
    let mut group = c.benchmark_group("resample");
    configure(&mut group);
    group.throughput(Throughput::Elements(input.len() as u64));
    group.bench_function("stream_8k_to_16k_160_sample_chunks", |b| {
        b.iter(|| {
            out.clear();
            for chunk in input.chunks(160) {
                resampler.push(black_box(chunk), &mut out).unwrap();
            }
            black_box(out.len())
        })
    });
    group.finish();
}

fn resample_22k_to_8k(c: &mut Criterion) {
    let input = tone(22_050, 1.0);
    let mut group = c.benchmark_group("resample");
    configure(&mut group);
    group.throughput(Throughput::Elements(input.len() as u64));
    group.bench_function("one_shot_22k05_to_8k", |b| {
        b.iter(|| resample(black_box(&input), 22_050, 8_000).unwrap())
    });
    let mut resampler = StreamingResampler::new(22_050, 8_000).unwrap();
    let mut out = Vec::with_capacity(20_000);
    group.bench_function("stream_22k05_to_8k_441_sample_chunks", |b| {
        b.iter(|| {
            out.clear();
            for chunk in input.chunks(441) {
                resampler.push(black_box(chunk), &mut out).unwrap();
            }
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    mulaw_decode,
    streaming_8k_to_16k,
    resample_22k_to_8k
);
criterion_main!(benches);
