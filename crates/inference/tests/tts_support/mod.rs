//! Shared helpers for tests that need the real model store.
//!
//! The store root is `$VOCALIS_MODELS` or `~/.cache/vocalis/models`. Missing
//! models make the tests fail (never skip) with a hint to run
//! `vocalis models pull`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use vocalis_inference::{runtime, PiperVoice, SessionOptions, VoiceFiles};

pub const VOICE: &str = "en_US-joe-medium";
pub const ORT_LIB: &str = "libonnxruntime.so.1.31.1";

pub fn store_root() -> PathBuf {
    match std::env::var_os("VOCALIS_MODELS") {
        Some(root) if !root.is_empty() => PathBuf::from(root),
        _ => PathBuf::from(std::env::var_os("HOME").expect("HOME is not set"))
            .join(".cache/vocalis/models"),
    }
}

pub fn ort_library() -> PathBuf {
    let path = store_root().join("onnxruntime").join(ORT_LIB);
    assert!(
        path.is_file(),
        "ONNX Runtime missing at {}: run `vocalis models pull onnxruntime` (or set VOCALIS_MODELS)",
        path.display()
    );
    path
}

pub fn voice_files() -> VoiceFiles {
    let files = VoiceFiles::in_dir(&store_root().join(VOICE), VOICE);
    for path in [&files.onnx, &files.config] {
        assert!(
            path.is_file(),
            "voice file missing at {}: run `vocalis models pull {VOICE}` (or set VOCALIS_MODELS)",
            path.display()
        );
    }
    files
}

/// Loads a fresh voice (its own session and model-run counter).
pub fn load_voice(intra_threads: usize) -> PiperVoice {
    runtime::init(&ort_library()).expect("ONNX Runtime failed to load");
    let options = SessionOptions {
        intra_threads,
        ..SessionOptions::default()
    };
    // Trusted test text: espeak runs in process.
    PiperVoice::load(
        &voice_files(),
        &options,
        &vocalis_inference::phonemize::PhonemizerConfig::InProcess,
    )
    .expect("voice failed to load")
}

/// A voice shared by the tests of one binary.
pub fn shared_voice() -> &'static PiperVoice {
    static VOICE: OnceLock<PiperVoice> = OnceLock::new();
    VOICE.get_or_init(|| load_voice(1))
}

pub fn rms(samples: &[f32]) -> f32 {
    (samples.iter().map(|x| x * x).sum::<f32>() / samples.len().max(1) as f32).sqrt()
}

/// Resident set size of this process in KiB (from /proc/self/status).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}
