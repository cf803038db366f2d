//! The model store for CLI commands, and loading a voice from it (the
//! server's `engine` module does the resolving, so the CLI and `serve` load
//! models the same way).

use std::path::PathBuf;

use anyhow::Context;
use vocalis_inference::phonemize::{PhonemizerConfig, WorkerCommand};
use vocalis_inference::{PiperVoice, SessionOptions};
use vocalis_models::ModelStore;
use vocalis_server::engine;

/// The voice used when none is named.
pub const DEFAULT_VOICE: &str = "en_US-joe-medium";

/// The hidden subcommand that runs an isolated espeak-ng worker.
pub const ESPEAK_WORKER_COMMAND: &str = "espeak-worker";

/// espeak-ng in child processes of this very binary (`vocalis
/// espeak-worker`), so text that crashes espeak-ng fails one request only.
pub fn isolated_phonemizer() -> anyhow::Result<PhonemizerConfig> {
    let program = std::env::current_exe().context("cannot locate the vocalis binary")?;
    Ok(PhonemizerConfig::Isolated(WorkerCommand::new(
        program,
        [ESPEAK_WORKER_COMMAND],
    )))
}

/// The model store at `dir`, or at `$VOCALIS_MODELS` / the default.
pub fn store(dir: Option<PathBuf>) -> anyhow::Result<ModelStore> {
    Ok(match dir {
        Some(dir) => ModelStore::new(dir),
        None => ModelStore::from_env()?,
    })
}

/// Loads an installed Piper voice with `threads` intra-op threads.
pub fn load_voice(store: &ModelStore, name: &str, threads: usize) -> anyhow::Result<PiperVoice> {
    engine::init_onnx_runtime(store)?;
    let files = engine::voice_files(store, name)?;
    let options = SessionOptions {
        intra_threads: threads,
        ..SessionOptions::default()
    };
    PiperVoice::load(&files, &options, &isolated_phonemizer()?)
        .with_context(|| format!("cannot load voice `{name}`"))
}
