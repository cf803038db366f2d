//! Unit tests of [`super`]: names and MIME types, round trips of every
//! output format through this crate's decoder, streaming against whole-buffer
//! encoding, typed errors, clipping.

use super::*;
use crate::decode::{decode_file, decode_raw, RawEncoding};
use std::f64::consts::PI;

fn tone(rate: u32, freq: f64, seconds: f64) -> Vec<f32> {
    let n = (f64::from(rate) * seconds) as usize;
    (0..n)
        .map(|i| (0.5 * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin()) as f32)
        .collect()
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

#[test]
fn mime_types_and_names() {
    assert_eq!(OutputFormat::Wav.mime_type(16_000), "audio/wav");
    assert_eq!(
        OutputFormat::Pcm16.mime_type(24_000),
        "audio/L16;rate=24000"
    );
    assert_eq!(OutputFormat::Mulaw.mime_type(8_000), "audio/basic");
    assert_eq!(
        OutputFormat::Mulaw.mime_type(16_000),
        "audio/PCMU;rate=16000"
    );
    assert_eq!(OutputFormat::Alaw.mime_type(8_000), "audio/x-alaw-basic");
    assert_eq!(OutputFormat::Mp3.mime_type(22_050), "audio/mpeg");
    for f in OutputFormat::ALL {
        assert_eq!(f.name().parse::<OutputFormat>(), Ok(f));
        assert_eq!(f.to_string(), f.name());
        assert!(!f.extension().is_empty());
    }
    assert_eq!("LINEAR16".parse(), Ok(OutputFormat::Pcm16));
    assert_eq!("ulaw".parse(), Ok(OutputFormat::Mulaw));
    assert!("ogg".parse::<OutputFormat>().is_err());
    assert_eq!("ogg-opus".parse(), Ok(OutputFormat::Opus));
    assert!(OutputFormat::Mp3.supports_rate(22_050));
    assert!(!OutputFormat::Mp3.supports_rate(96_000));
    assert!(OutputFormat::Wav.supports_rate(96_000));
}

#[test]
fn wav_round_trip_through_decoder() {
    let input = tone(16_000, 440.0, 0.5);
    let bytes = encode(&input, 16_000, OutputFormat::Wav, 16_000).unwrap();
    assert_eq!(bytes.len(), 44 + input.len() * 2);
    assert_eq!(&bytes[4..8], &(36 + input.len() as u32 * 2).to_le_bytes());
    let decoded = decode_file(&bytes, Some("audio/wav"), 16_000).unwrap();
    assert_eq!(decoded.samples.len(), input.len());
    for (a, b) in decoded.samples.iter().zip(&input) {
        assert!((a - b).abs() <= 1.0 / 32_768.0, "{a} vs {b}");
    }
}

#[test]
fn wav_with_resampling_has_expected_length() {
    let input = tone(24_000, 440.0, 1.0);
    let bytes = encode(&input, 24_000, OutputFormat::Wav, 8_000).unwrap();
    let decoded = decode_file(&bytes, None, 8_000).unwrap();
    assert_eq!(decoded.samples.len(), 8_000);
    assert_eq!(decoded.source_rate, 8_000);
}

#[test]
fn streaming_wav_uses_placeholder_and_decodes() {
    let input = tone(16_000, 440.0, 0.3);
    let mut enc = AudioEncoder::new(OutputFormat::Wav, 16_000, 16_000).unwrap();
    let mut bytes = Vec::new();
    for chunk in input.chunks(333) {
        bytes.extend(enc.push(chunk).unwrap());
    }
    bytes.extend(enc.finish().unwrap());
    assert_eq!(&bytes[4..8], &[0xFF; 4]);
    assert_eq!(&bytes[40..44], &[0xFF; 4]);
    let decoded = decode_file(&bytes, None, 16_000).unwrap();
    assert_eq!(decoded.samples.len(), input.len());
    // Even an empty stream yields a header.
    let enc = AudioEncoder::new(OutputFormat::Wav, 16_000, 16_000).unwrap();
    assert_eq!(enc.finish().unwrap().len(), 44);
}

#[test]
fn streaming_matches_whole_buffer_for_raw_formats() {
    let input = tone(22_050, 300.0, 0.4);
    for format in [OutputFormat::Pcm16, OutputFormat::Mulaw, OutputFormat::Alaw] {
        let whole = encode(&input, 22_050, format, 8_000).unwrap();
        let mut enc = AudioEncoder::new(format, 22_050, 8_000).unwrap();
        let mut streamed = Vec::new();
        for chunk in input.chunks(160) {
            enc.push_into(chunk, &mut streamed).unwrap();
        }
        streamed.extend(enc.finish().unwrap());
        assert_eq!(streamed, whole, "{format}");
    }
}

#[test]
fn g711_and_pcm16_outputs_decode_back() {
    let input = tone(8_000, 1_000.0, 0.25);
    let mu = encode(&input, 8_000, OutputFormat::Mulaw, 8_000).unwrap();
    assert_eq!(mu.len(), input.len());
    let back = decode_raw(&mu, RawEncoding::Mulaw, 8_000, 1, 8_000).unwrap();
    let err: f32 = back
        .samples
        .iter()
        .zip(&input)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(err < 0.02, "μ-law max error {err}");
    let a = encode(&input, 8_000, OutputFormat::Alaw, 8_000).unwrap();
    let back = decode_raw(&a, RawEncoding::Alaw, 8_000, 1, 8_000).unwrap();
    let err: f32 = back
        .samples
        .iter()
        .zip(&input)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(err < 0.02, "A-law max error {err}");
    let pcm = encode(&input, 8_000, OutputFormat::Pcm16, 8_000).unwrap();
    assert_eq!(pcm.len(), input.len() * 2);
}

#[test]
fn mp3_decodes_to_same_duration_and_tone() {
    let input = tone(16_000, 440.0, 1.0);
    let mp3 = encode(&input, 16_000, OutputFormat::Mp3, 16_000).unwrap();
    assert!(mp3.len() > 1_000);
    let decoded = decode_file(&mp3, Some("audio/mpeg"), 16_000).unwrap();
    assert_eq!(decoded.source_rate, 16_000);
    assert!(
        (decoded.duration_s - 1.0).abs() < 0.2,
        "duration {}",
        decoded.duration_s
    );
    let x = &decoded.samples;
    let at_440 = power_at(x, 16_000, 440.0);
    for other in [220.0, 660.0, 880.0, 1_000.0, 3_000.0] {
        let p = power_at(x, 16_000, other);
        assert!(at_440 > 100.0 * p, "440 Hz {at_440:e} vs {other} Hz {p:e}");
    }
}

#[test]
fn mp3_streaming_and_resampled_rates() {
    let input = tone(24_000, 1_000.0, 0.5);
    let mut enc = AudioEncoder::new(OutputFormat::Mp3, 24_000, 8_000).unwrap();
    assert_eq!(enc.mime_type(), "audio/mpeg");
    let mut bytes = Vec::new();
    for chunk in input.chunks(480) {
        bytes.extend(enc.push(chunk).unwrap());
    }
    bytes.extend(enc.finish().unwrap());
    let decoded = decode_file(&bytes, None, 8_000).unwrap();
    assert_eq!(decoded.source_rate, 8_000);
    assert!(
        (decoded.duration_s - 0.5).abs() < 0.3,
        "{}",
        decoded.duration_s
    );
}

#[test]
fn encode_errors_are_typed() {
    assert!(matches!(
        AudioEncoder::new(OutputFormat::Mp3, 16_000, 96_000),
        Err(EncodeError::UnsupportedMp3Rate { rate: 96_000 })
    ));
    assert!(matches!(
        encode(&[0.0], 0, OutputFormat::Wav, 16_000),
        Err(EncodeError::Resample(_))
    ));
    assert!(matches!(
        encode(&[0.0], 16_000, OutputFormat::Mulaw, 1),
        Err(EncodeError::Resample(_))
    ));
}

#[test]
fn clipping_and_nan_in_output() {
    let bytes = encode(&[2.0, -2.0, f32::NAN], 8_000, OutputFormat::Pcm16, 8_000).unwrap();
    assert_eq!(bytes, [0xFF, 0x7F, 0x00, 0x80, 0x00, 0x00]);
}
