//! Cross-checks against `sox` (installed by the project's setup): G.711
//! bit-exactness in both directions, and decoding of FLAC / Ogg Vorbis / WAV
//! variants that sox writes, including truncated and over-long inputs.
//!
//! These tests fail loudly when `sox` is missing instead of passing silently.

use std::f64::consts::PI;
use std::path::Path;
use std::process::Command;

use vocalis_audio::g711;
use vocalis_audio::{decode_file, decode_file_with_limits, DecodeError, DecodeLimits};

/// Runs sox with `args`, panicking with a clear message if it is missing or fails.
fn sox(args: &[&str]) {
    let output = Command::new("sox").args(args).output().unwrap_or_else(|e| {
        panic!(
            "could not run `sox` ({e}). These interop tests need sox on PATH: \
             install it with `apt-get install sox` (the project's setup does this)."
        )
    });
    assert!(
        output.status.success(),
        "sox {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// Power of `x` at `freq` Hz (Goertzel), normalised by length.
fn power_at(x: &[f32], rate: u32, freq: f64) -> f64 {
    let w = 2.0 * PI * freq / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s0 = f64::from(v) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (x.len() as f64).powi(2)
}

fn assert_tone(x: &[f32], rate: u32, freq: f64) {
    let p = power_at(x, rate, freq);
    for other in [freq * 0.5, freq * 1.5, freq * 2.0, 1_234.0] {
        let q = power_at(x, rate, other);
        assert!(p > 100.0 * q, "{freq} Hz power {p:e} vs {other} Hz {q:e}");
    }
}

#[test]
fn g711_encoders_match_sox_bit_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let ramp = dir.path().join("ramp.raw");
    let ramp_bytes: Vec<u8> = (i16::MIN..=i16::MAX)
        .flat_map(|x| x.to_le_bytes())
        .collect();
    std::fs::write(&ramp, &ramp_bytes).unwrap();
    for (law, name) in [("u-law", "mu.raw"), ("a-law", "a.raw")] {
        let out = dir.path().join(name);
        // -D disables sox's default dither, which would otherwise randomise
        // the 16 -> 14/13-bit reduction.
        sox(&[
            "-D",
            "-t",
            "raw",
            "-r",
            "8000",
            "-e",
            "signed",
            "-b",
            "16",
            "-c",
            "1",
            path_str(&ramp),
            "-t",
            "raw",
            "-e",
            law,
            path_str(&out),
        ]);
        let sox_codes = std::fs::read(&out).unwrap();
        assert_eq!(sox_codes.len(), 65_536, "{law}");
        for (i, x) in (i16::MIN..=i16::MAX).enumerate() {
            let (rounded, classic, step) = if law == "u-law" {
                (
                    g711::linear_to_mulaw_rounded(x),
                    g711::linear_to_mulaw(x),
                    4,
                )
            } else {
                (g711::linear_to_alaw_rounded(x), g711::linear_to_alaw(x), 8)
            };
            assert_eq!(rounded, sox_codes[i], "{law} rounded encoder, x = {x}");
            if i32::from(x) % step == 0 {
                assert_eq!(classic, sox_codes[i], "{law} classic encoder, x = {x}");
            }
        }
    }
}

#[test]
fn g711_decoders_match_sox_bit_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let codes = dir.path().join("codes.raw");
    std::fs::write(&codes, (0..=255u8).collect::<Vec<_>>()).unwrap();
    for (law, table) in [
        ("u-law", &g711::MULAW_TO_LINEAR),
        ("a-law", &g711::ALAW_TO_LINEAR),
    ] {
        let out = dir.path().join("decoded.raw");
        sox(&[
            "-D",
            "-t",
            "raw",
            "-r",
            "8000",
            "-e",
            law,
            "-c",
            "1",
            path_str(&codes),
            "-t",
            "raw",
            "-e",
            "signed",
            "-b",
            "16",
            path_str(&out),
        ]);
        let bytes = std::fs::read(&out).unwrap();
        let decoded: Vec<i16> = bytes
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(decoded.as_slice(), table.as_slice(), "{law}");
    }
}

/// Writes a 440 Hz tone with sox and returns the file's bytes.
fn sox_tone(
    dir: &Path,
    name: &str,
    rate: u32,
    channels: u32,
    seconds: f64,
    extra: &[&str],
) -> Vec<u8> {
    let path = dir.join(name);
    let rate = rate.to_string();
    let channels = channels.to_string();
    let seconds = seconds.to_string();
    let mut args = vec!["-D", "-n", "-r", &rate, "-c", &channels];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[
        path_str(&path),
        "synth",
        &seconds,
        "sine",
        "440",
        "vol",
        "0.5",
    ]);
    sox(&args);
    std::fs::read(&path).unwrap()
}

#[test]
fn flac_from_sox_decodes() {
    let dir = tempfile::tempdir().unwrap();
    let flac = sox_tone(dir.path(), "tone.flac", 44_100, 2, 1.0, &["-b", "16"]);
    let out = decode_file(&flac, Some("audio/flac"), 16_000).unwrap();
    assert_eq!(out.source_rate, 44_100);
    assert_eq!(out.source_channels, 2);
    assert_eq!(out.sample_rate, 16_000);
    assert!((out.duration_s - 1.0).abs() < 1e-3, "{}", out.duration_s);
    assert_eq!(out.samples.len(), 16_000);
    assert_tone(&out.samples, 16_000, 440.0);
    // Content wins over a wrong hint, and no hint is needed.
    assert_eq!(
        decode_file(&flac, Some("mp3"), 16_000)
            .unwrap()
            .samples
            .len(),
        16_000
    );
    assert_eq!(
        decode_file(&flac, None, 16_000).unwrap().samples.len(),
        16_000
    );
}

#[test]
fn ogg_vorbis_from_sox_decodes() {
    let dir = tempfile::tempdir().unwrap();
    let ogg = sox_tone(dir.path(), "tone.ogg", 48_000, 1, 1.0, &[]);
    let out = decode_file(&ogg, Some("ogg"), 16_000).unwrap();
    assert_eq!(out.source_rate, 48_000);
    assert_eq!(out.source_channels, 1);
    assert!((out.duration_s - 1.0).abs() < 0.05, "{}", out.duration_s);
    assert_tone(&out.samples, 16_000, 440.0);
}

#[test]
fn wav_variants_from_sox_decode() {
    let dir = tempfile::tempdir().unwrap();
    for (name, extra) in [
        ("s16.wav", &["-b", "16"][..]),
        ("s24.wav", &["-b", "24"][..]),
        ("s32.wav", &["-b", "32"][..]),
        ("u8.wav", &["-b", "8", "-e", "unsigned"][..]),
        ("f32.wav", &["-b", "32", "-e", "floating-point"][..]),
        ("ulaw.wav", &["-e", "u-law"][..]),
        ("alaw.wav", &["-e", "a-law"][..]),
    ] {
        let wav = sox_tone(dir.path(), name, 8_000, 2, 0.5, extra);
        let out = decode_file(&wav, Some("wav"), 8_000).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out.samples.len(), 4_000, "{name}");
        assert_eq!(out.source_channels, 2, "{name}");
        assert_tone(&out.samples, 8_000, 440.0);
        let peak = out.samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((peak - 0.5).abs() < 0.02, "{name}: peak {peak}");
    }
}

#[test]
fn streaming_wav_from_sox_pipe_decodes() {
    // sox writing to a pipe cannot patch the header; it leaves 0x7FFFF000.
    let output = Command::new("sox")
        .args([
            "-D", "-n", "-r", "8000", "-c", "1", "-b", "16", "-t", "wav", "-", "synth", "0.25",
            "sine", "440",
        ])
        .output()
        .expect("could not run `sox`: install it with `apt-get install sox`");
    assert!(output.status.success());
    let wav = output.stdout;
    assert_eq!(&wav[40..44], &0x7FFF_F000u32.to_le_bytes());
    let out = decode_file(&wav, None, 8_000).unwrap();
    assert_eq!(out.samples.len(), 2_000);
}

#[test]
fn truncated_compressed_files_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    // Long enough that both files span several FLAC frames / Ogg pages.
    let flac = sox_tone(dir.path(), "t.flac", 44_100, 1, 10.0, &[]);
    let ogg = sox_tone(dir.path(), "t.ogg", 44_100, 1, 10.0, &[]);
    for (name, bytes) in [("flac", &flac), ("ogg", &ogg)] {
        // Cut mid-stream: whatever decoded before the cut is returned.
        let half = &bytes[..bytes.len() / 2];
        let out = decode_file(half, None, 16_000).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            out.duration_s > 1.0 && out.duration_s < 9.9,
            "{name}: {}",
            out.duration_s
        );
        assert_tone(&out.samples, 16_000, 440.0);
        // Cut inside the headers: a typed error.
        for cut in [1usize, 4, 10, 30] {
            let err = decode_file(&bytes[..cut], None, 16_000).unwrap_err();
            assert!(
                matches!(
                    err,
                    DecodeError::Truncated { .. }
                        | DecodeError::Unsupported { .. }
                        | DecodeError::Malformed { .. }
                        | DecodeError::Empty
                ),
                "{name} cut at {cut}: {err:?}"
            );
        }
    }
}

#[test]
fn long_flac_is_rejected_by_duration_limit() {
    let dir = tempfile::tempdir().unwrap();
    // 60 s of silence compresses to a few kilobytes.
    let path = dir.path().join("silence.flac");
    sox(&[
        "-D",
        "-n",
        "-r",
        "48000",
        "-c",
        "1",
        "-b",
        "16",
        path_str(&path),
        "trim",
        "0",
        "60",
    ]);
    let flac = std::fs::read(&path).unwrap();
    assert!(flac.len() < 100_000, "{} bytes", flac.len());
    let limits = DecodeLimits::with_max_duration_s(5.0);
    let err = decode_file_with_limits(&flac, None, 16_000, &limits).unwrap_err();
    assert!(
        matches!(err, DecodeError::TooLong { max_s, .. } if max_s == 5.0),
        "{err:?}"
    );

    // Same file with the STREAMINFO total-samples field zeroed ("unknown"):
    // the limit must then trip while decoding.
    let mut unknown = flac.clone();
    assert_eq!(&unknown[..4], b"fLaC");
    unknown[21] &= 0xF0;
    unknown[22..26].fill(0);
    let err = decode_file_with_limits(&unknown, None, 16_000, &limits).unwrap_err();
    assert!(matches!(err, DecodeError::TooLong { .. }), "{err:?}");
    assert!(decode_file(&unknown, None, 16_000).is_ok());
}
