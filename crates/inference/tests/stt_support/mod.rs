//! Shared helpers for the STT/VAD/streaming/pool tests.
//!
//! Models come from `$VOCALIS_MODELS` or `~/.cache/vocalis/models`; a missing
//! model fails the test (never skips) naming `vocalis models pull NAME`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use vocalis_inference::runtime;
use vocalis_inference::stt::{SttModel, SttModelConfig, SttWorker};
use vocalis_inference::vad::{SileroModel, Vad, VadConfig};

/// Text of `tests/data/fox.wav` (Piper, en_US-joe-medium).
pub const FOX: &str = "The quick brown fox jumps over the lazy dog near the river bank.";
/// Text of `tests/data/two_sentences.wav`: 0.3 s silence, sentence 1, 1 s
/// silence, sentence 2, 0.3 s silence (Piper).
pub const SENTENCE_1: &str = "Please remember to bring your umbrella tomorrow because the forecast says it will rain all afternoon.";
pub const SENTENCE_2: &str =
    "After the meeting we will walk to the station and take the train back home.";

pub fn store_root() -> PathBuf {
    match std::env::var_os("VOCALIS_MODELS") {
        Some(root) if !root.is_empty() => PathBuf::from(root),
        _ => PathBuf::from(std::env::var_os("HOME").expect("HOME is not set"))
            .join(".cache/vocalis/models"),
    }
}

/// `<root>/<name>/<file>`, failing with the pull command when missing.
pub fn require(name: &str, file: &str) -> PathBuf {
    let path = store_root().join(name).join(file);
    assert!(
        path.is_file(),
        "model file missing at {}: run `vocalis models pull {name}` (or set VOCALIS_MODELS)",
        path.display()
    );
    path
}

pub fn init_runtime() {
    runtime::init(&require("onnxruntime", "libonnxruntime.so.1.31.1"))
        .expect("ONNX Runtime failed to load");
}

pub fn silero() -> Arc<SileroModel> {
    static MODEL: OnceLock<Arc<SileroModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            init_runtime();
            Arc::new(
                SileroModel::load(&require("silero-vad", "silero_vad.onnx"))
                    .expect("Silero VAD failed to load"),
            )
        })
        .clone()
}

pub fn vad() -> Vad {
    Vad::new(silero(), VadConfig::default()).expect("VAD config")
}

pub fn whisper(name: &str) -> Arc<SttModel> {
    static TINY: OnceLock<Arc<SttModel>> = OnceLock::new();
    static BASE: OnceLock<Arc<SttModel>> = OnceLock::new();
    let cell = match name {
        "tiny.en" => &TINY,
        "base" => &BASE,
        other => panic!("no test cache for {other}"),
    };
    cell.get_or_init(|| {
        Arc::new(
            SttModel::load(&require(name, "ggml-model.bin"), &SttModelConfig::default())
                .expect("Whisper model failed to load"),
        )
    })
    .clone()
}

/// A tiny.en worker with the VAD gate (1 thread: tests run in parallel).
pub fn worker() -> SttWorker {
    SttWorker::new(whisper("tiny.en"), 1, Some(vad())).expect("worker")
}

pub fn data_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Reads a 16 kHz mono 16-bit WAV from `tests/data`.
pub fn read_wav(name: &str) -> Vec<f32> {
    let mut reader = hound::WavReader::open(data_path(name)).expect("open wav");
    let spec = reader.spec();
    assert_eq!((spec.sample_rate, spec.channels), (16_000, 1), "{name}");
    reader
        .samples::<i16>()
        .map(|s| f32::from(s.expect("sample")) / 32768.0)
        .collect()
}

/// Deterministic white noise (xorshift) at `amplitude` peak.
pub fn white_noise(seconds: f64, amplitude: f32) -> Vec<f32> {
    let mut x: u32 = 0x9E37_79B9;
    (0..(seconds * 16_000.0) as usize)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x as f32 / u32::MAX as f32 * 2.0 - 1.0) * amplitude
        })
        .collect()
}
