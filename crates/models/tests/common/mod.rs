//! Shared helpers for the integration tests: locating installed models (failing with the pull
//! command when they are missing), synthesising speech with espeak-ng + sox, and running
//! whisper.cpp through whisper-rs.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use vocalis_models::{ModelStore, ResolvedModel};

/// The store the library uses by default (`$VOCALIS_MODELS` or `~/.cache/vocalis/models`).
pub fn store() -> ModelStore {
    ModelStore::from_env().expect("model store location")
}

/// Resolves an installed model or fails naming the command that installs it.
pub fn require(name: &str) -> ResolvedModel {
    let store = store();
    store.resolve(name).unwrap_or_else(|e| {
        panic!(
            "model `{name}` is required in {} but unavailable: {e}\n\
             (install it with `vocalis models pull {name}`, or during development \
             `cargo run -p vocalis-models --release --example pull -- {name}`)",
            store.root().display()
        )
    })
}

/// Runs a command, panicking with its stderr on failure.
fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Speaks `text` with espeak-ng and returns 16 kHz mono f32 samples (via sox).
pub fn speech(dir: &Path, text: &str) -> Vec<f32> {
    let raw = dir.join("espeak.wav");
    let wav = dir.join("speech16k.wav");
    run(Command::new("espeak-ng").arg("-w").arg(&raw).arg(text));
    run(Command::new("sox")
        .arg(&raw)
        .args(["-r", "16000", "-c", "1", "-b", "16"])
        .arg(&wav));
    let mut reader = hound::WavReader::open(&wav).expect("read resampled wav");
    let spec = reader.spec();
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (16000, 1, 16)
    );
    let samples: Vec<f32> = reader
        .samples::<i16>()
        .map(|s| f32::from(s.expect("sample")) / 32768.0)
        .collect();
    assert!(samples.len() > 16000, "speech clip too short");
    samples
}

/// Transcription result.
pub struct Transcript {
    /// Lowercased text without punctuation.
    pub text: String,
    /// whisper.cpp language id of the state (0 = English).
    pub lang_id: i32,
}

/// Loads `model` with whisper.cpp and transcribes `samples`.
pub fn transcribe(model: &Path, samples: &[f32], language: &str) -> Transcript {
    use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};
    if std::env::var_os("VOCALIS_TEST_WHISPER_LOG").is_none() {
        whisper_rs::install_logging_hooks();
    }
    let ctx = WhisperContext::new_with_params(model, WhisperContextParameters::default())
        .unwrap_or_else(|e| {
            panic!(
                "whisper.cpp rejected {}: {e:?} (set VOCALIS_TEST_WHISPER_LOG=1 for its log)",
                model.display()
            )
        });
    let mut state = ctx.create_state().expect("whisper state");
    let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
    params.set_n_threads(2);
    params.set_language(Some(language));
    params.set_print_progress(false);
    params.set_print_realtime(false);
    params.set_print_special(false);
    params.set_print_timestamps(false);
    state.full(params, samples).expect("whisper_full");
    let text: String = state
        .as_iter()
        .map(|s| s.to_str_lossy().expect("segment text").into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    Transcript {
        text: normalize(&text),
        lang_id: state.full_lang_id_from_state(),
    }
}

/// Lowercases and replaces punctuation with spaces, collapsing whitespace.
pub fn normalize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() || c.is_whitespace() {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Asserts that all but at most one key word appear in the transcript (allowing one edit in
/// words of five or more letters): synthetic espeak speech is hard on small models.
pub fn assert_words(transcript: &str, keys: &[&str]) {
    let words: Vec<&str> = transcript.split_whitespace().collect();
    let missing: Vec<&&str> = keys
        .iter()
        .filter(|k| {
            !words
                .iter()
                .any(|w| *w == **k || (k.len() >= 5 && edit_distance(w, k) <= 1))
        })
        .collect();
    assert!(
        missing.len() <= 1,
        "transcript {transcript:?} lacks {missing:?}"
    );
}

/// A scratch directory for the test.
pub fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// Path to a file inside a resolved model directory.
pub fn file(model: &ResolvedModel, name: &str) -> PathBuf {
    model.dir.join(name)
}
