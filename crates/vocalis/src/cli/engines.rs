//! The model store for CLI commands, and loading a voice from it (the
//! server's `engine` module does the resolving, so the CLI and `serve` load
//! models the same way).

use std::path::PathBuf;

use anyhow::Context;
use vocalis_inference::{PiperVoice, SessionOptions};
use vocalis_models::ModelStore;
use vocalis_server::engine;

/// The voice used when none is named.
pub const DEFAULT_VOICE: &str = "en_US-joe-medium";

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
    PiperVoice::load(&files, &options).with_context(|| format!("cannot load voice `{name}`"))
}
