//! Deterministic-random property tests mirroring the fuzz targets in `fuzz/`,
//! so the same invariants are checked on stable Rust in CI:
//!
//! * `decode_file` never panics; on success the output respects the duration
//!   limit and every sample is finite.
//! * μ-law bytes → decode → streaming 8 kHz → 16 kHz resampling in random
//!   chunk sizes keeps the output length within `[2n - delay, 2n]` after every
//!   chunk and exactly `2n` after `flush`.

use std::f64::consts::PI;

use vocalis_audio::g711;
use vocalis_audio::{
    decode_file, decode_file_with_limits, encode, DecodeError, DecodeLimits, OutputFormat,
    StreamingResampler,
};

/// xorshift64* — small, deterministic, good enough for test-case generation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const RATES: [u32; 6] = [8_000, 16_000, 22_050, 24_000, 44_100, 48_000];

fn tone(rate: u32, seconds: f64) -> Vec<f32> {
    let n = (f64::from(rate) * seconds) as usize;
    (0..n)
        .map(|i| (0.4 * (2.0 * PI * 330.0 * i as f64 / f64::from(rate)).sin()) as f32)
        .collect()
}

fn wav_header(tag: u16, channels: u16, rate: u32, bits: u16, data_len: u32) -> Vec<u8> {
    let align = channels * (bits / 8);
    let mut v = b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0".to_vec();
    v.extend_from_slice(&tag.to_le_bytes());
    v.extend_from_slice(&channels.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(rate * u32::from(align)).to_le_bytes());
    v.extend_from_slice(&align.to_le_bytes());
    v.extend_from_slice(&bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_len.to_le_bytes());
    v
}

/// Valid inputs the mutator starts from.
fn seed_corpus(rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    let pcm = encode(&tone(8_000, 0.2), 8_000, OutputFormat::Wav, 8_000).unwrap();
    seeds.push(pcm);
    let mut mulaw = wav_header(7, 1, 8_000, 8, 400);
    mulaw.extend(rng.bytes(400));
    seeds.push(mulaw);
    let mut float = wav_header(3, 2, 16_000, 32, 0xFFFF_FFFF);
    for _ in 0..200 {
        float.extend_from_slice(&((rng.below(2001) as f32 - 1000.0) / 1000.0).to_le_bytes());
    }
    seeds.push(float);
    let mut s24 = wav_header(1, 1, 22_050, 24, 300);
    s24.extend(rng.bytes(300));
    seeds.push(s24);
    seeds.push(encode(&tone(16_000, 0.3), 16_000, OutputFormat::Mp3, 16_000).unwrap());
    seeds.push(encode(&tone(8_000, 0.3), 8_000, OutputFormat::Mp3, 8_000).unwrap());
    seeds
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            2 => {
                let len = rng.below(v.len() + 1);
                v.truncate(len);
            }
            3 if v.len() >= 4 => {
                // Overwrite a 32-bit field with an "interesting" value.
                let i = rng.below(v.len() - 3);
                let pick = rng.below(7);
                let value: u32 = [0, 1, 0xFFFF_FFFF, 0x7FFF_F000, 0x8000_0000, 384_001, 7][pick];
                v[i..i + 4].copy_from_slice(&value.to_le_bytes());
            }
            4 => {
                let i = rng.below(v.len() + 1);
                let len = rng.below(64);
                let extra = rng.bytes(len);
                v.splice(i..i, extra);
            }
            _ => {}
        }
    }
    v
}

/// The `decode_file` fuzz property.
fn check_decode(bytes: &[u8], hint: Option<&str>, target: u32, limits: &DecodeLimits) {
    match decode_file_with_limits(bytes, hint, target, limits) {
        Ok(audio) => {
            assert_eq!(audio.sample_rate, target);
            assert!(
                audio.duration_s <= limits.max_duration_s + 1e-9,
                "{}",
                audio.duration_s
            );
            let max_len = (limits.max_duration_s * f64::from(target)).ceil() as usize + 1;
            assert!(
                audio.samples.len() <= max_len,
                "{} > {max_len}",
                audio.samples.len()
            );
            assert!(!audio.samples.is_empty());
            assert!(audio.samples.iter().all(|s| s.is_finite()));
        }
        Err(DecodeError::Resample(e)) => panic!("valid target rate rejected: {e}"),
        Err(_) => {}
    }
}

#[test]
fn decode_file_survives_mutated_and_random_inputs() {
    let mut rng = Rng(0x5EED_0001);
    let seeds = seed_corpus(&mut rng);
    for seed in &seeds {
        // Every seed is valid before mutation.
        decode_file(seed, None, 16_000).unwrap();
    }
    let hints = [
        None,
        Some("wav"),
        Some("audio/mpeg"),
        Some("flac"),
        Some("ogg"),
        Some("x/y"),
    ];
    let limits = DecodeLimits::with_max_duration_s(2.0);
    for i in 0..3_000 {
        let bytes = if i % 5 == 0 {
            let n = rng.below(2_048);
            rng.bytes(n)
        } else {
            let seed = &seeds[rng.below(seeds.len())];
            mutate(&mut rng, seed)
        };
        let hint = hints[rng.below(hints.len())];
        let target = RATES[rng.below(RATES.len())];
        check_decode(&bytes, hint, target, &limits);
    }
}

#[test]
fn mp3_damage_is_handled() {
    let mp3 = encode(&tone(16_000, 2.0), 16_000, OutputFormat::Mp3, 16_000).unwrap();
    let half = decode_file(&mp3[..mp3.len() / 2], Some("mp3"), 16_000).unwrap();
    assert!(
        half.duration_s > 0.5 && half.duration_s < 1.6,
        "{}",
        half.duration_s
    );
    for cut in [0usize, 1, 3, 100] {
        assert!(decode_file(&mp3[..cut], Some("audio/mpeg"), 16_000).is_err());
    }
    let limits = DecodeLimits::with_max_duration_s(1.0);
    assert!(matches!(
        decode_file_with_limits(&mp3, None, 16_000, &limits),
        Err(DecodeError::TooLong { .. })
    ));
}

/// The `mulaw_resample` fuzz property.
fn check_mulaw_resample(bytes: &[u8], chunk_sizes: &mut dyn FnMut() -> usize) {
    let samples = g711::decode_mulaw_f32(bytes);
    let mut r = StreamingResampler::new(8_000, 16_000).unwrap();
    let delay = r.delay_samples();
    let mut out = Vec::new();
    let mut fed = 0usize;
    let mut rest = &samples[..];
    while !rest.is_empty() {
        let n = chunk_sizes().min(rest.len());
        r.push(&rest[..n], &mut out).unwrap();
        rest = &rest[n..];
        fed += n;
        assert!(out.len() <= 2 * fed, "{} > 2 * {fed}", out.len());
        assert!(
            out.len() + delay >= 2 * fed,
            "{} + {delay} < 2 * {fed}",
            out.len()
        );
    }
    r.flush(&mut out).unwrap();
    assert_eq!(out.len(), 2 * samples.len());
    // Band-limited interpolation of full-scale input overshoots a little, never much.
    assert!(out.iter().all(|s| s.is_finite() && s.abs() < 2.0));
}

#[test]
fn mulaw_streaming_resample_properties() {
    let mut rng = Rng(0x5EED_0002);
    for _ in 0..2_000 {
        let n = rng.below(4_000);
        let bytes = rng.bytes(n);
        let max_chunk = [1usize, 7, 160, 1_000, 5_000][rng.below(5)];
        let mut chunk_rng = Rng(rng.next() | 1);
        check_mulaw_resample(&bytes, &mut || 1 + chunk_rng.below(max_chunk));
    }
}
