//! Fuzz target: μ-law bytes → G.711 decode → streaming 8 kHz → 16 kHz
//! resampling in input-chosen chunk sizes. After every chunk the output length
//! lies in `[2n - delay_samples, 2n]`; after `flush` it is exactly `2n`.
//!
//! The first two input bytes seed the chunk-size sequence; the rest is μ-law.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vocalis_audio::{g711, StreamingResampler};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let mut state = u32::from(u16::from_le_bytes([data[0], data[1]])) | 1;
    let samples = g711::decode_mulaw_f32(&data[2..]);
    let mut resampler = StreamingResampler::new(8_000, 16_000).expect("valid rates");
    let delay = resampler.delay_samples();
    let mut out = Vec::new();
    let mut fed = 0usize;
    let mut rest = &samples[..];
    while !rest.is_empty() {
        // xorshift32 chunk sizes in 1..=1024.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = (1 + (state % 1024) as usize).min(rest.len());
        resampler.push(&rest[..n], &mut out).expect("push");
        rest = &rest[n..];
        fed += n;
        assert!(out.len() <= 2 * fed, "{} > 2 * {fed}", out.len());
        assert!(
            out.len() + delay >= 2 * fed,
            "{} + {delay} < 2 * {fed}",
            out.len()
        );
    }
    resampler.flush(&mut out).expect("flush");
    assert_eq!(out.len(), 2 * samples.len());
    assert!(out.iter().all(|s| s.is_finite() && s.abs() < 2.0));
});
