//! Glue from the model store to the engines: resolve installed models to
//! file paths and load them. Shared by the CLI commands and `serve`.

use std::path::PathBuf;

use anyhow::Context;
use vocalis_inference::{runtime, PiperVoice, SessionOptions, VoiceFiles};
use vocalis_models::ModelStore;

/// The voice used when none is named.
pub const DEFAULT_VOICE: &str = "en_US-joe-medium";

/// The model store at `dir`, or at `$VOCALIS_MODELS` / the default.
pub fn store(dir: Option<PathBuf>) -> anyhow::Result<ModelStore> {
    Ok(match dir {
        Some(dir) => ModelStore::new(dir),
        None => ModelStore::from_env()?,
    })
}

/// Loads ONNX Runtime from the store (once per process).
pub fn init_onnx_runtime(store: &ModelStore) -> anyhow::Result<()> {
    let runtime_model = store.resolve("onnxruntime")?;
    runtime::init(&runtime_model.primary).context("cannot load ONNX Runtime")?;
    Ok(())
}

/// Loads an installed Piper voice with `threads` intra-op threads.
pub fn load_voice(store: &ModelStore, name: &str, threads: usize) -> anyhow::Result<PiperVoice> {
    init_onnx_runtime(store)?;
    let model = store.resolve(name)?;
    let config = model
        .config
        .clone()
        .with_context(|| format!("model `{name}` is not a voice (it has no .onnx.json)"))?;
    let files = VoiceFiles {
        onnx: model.primary.clone(),
        config,
    };
    let options = SessionOptions {
        intra_threads: threads,
        ..SessionOptions::default()
    };
    PiperVoice::load(&files, &options).with_context(|| format!("cannot load voice `{name}`"))
}
