//! Shared set-up for the inference benches: the model store, loading each
//! model with a clear "run `vocalis models pull …`" failure when it is
//! missing, and the test audio.
#![allow(dead_code)] // every bench uses a different subset

use std::path::{Path, PathBuf};
use std::sync::Arc;

use vocalis_inference::stt::SttModel;
use vocalis_inference::stt::SttModelConfig;
use vocalis_inference::vad::{SileroModel, Vad, VadConfig};
use vocalis_inference::{runtime, PiperVoice, SessionOptions, VoiceFiles};

/// The default voice (the one `vocalis models pull` installs).
pub const VOICE: &str = "en_US-joe-medium";

/// The model store: `$VOCALIS_MODELS` or `~/.cache/vocalis/models`.
pub fn models_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("VOCALIS_MODELS") {
        return PathBuf::from(dir);
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".cache/vocalis/models"),
        None => fail("neither VOCALIS_MODELS nor HOME is set: cannot find the model store"),
    }
}

/// Prints `message` and exits non-zero (a missing model is a set-up error,
/// not a panic worth a backtrace).
pub fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2)
}

/// `path` if it is a file; otherwise fails naming the command that installs
/// `model` (`pull_args` are the extra `vocalis models pull` arguments).
pub fn require(path: &Path, model: &str, pull_args: &str) -> PathBuf {
    if !path.is_file() {
        fail(&format!(
            "model `{model}` is not installed ({} not found).\n       \
             Install it with:  vocalis models pull {model}{pull_args}\n       \
             (store: $VOCALIS_MODELS or ~/.cache/vocalis/models; `make models-test` pulls every model)",
            path.display()
        ));
    }
    path.to_path_buf()
}

/// Loads ONNX Runtime from the store (idempotent).
pub fn init_runtime() {
    let dir = models_root().join("onnxruntime");
    let library = std::fs::read_dir(&dir)
        .ok()
        .and_then(|entries| {
            entries.flatten().map(|e| e.path()).find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("libonnxruntime.so."))
            })
        })
        .unwrap_or_else(|| dir.join("libonnxruntime.so.1.31.1"));
    let library = require(&library, "onnxruntime", "");
    if let Err(e) = runtime::init(&library) {
        fail(&format!(
            "cannot load ONNX Runtime {}: {e}",
            library.display()
        ));
    }
}

/// Path of a Whisper model's ggml file; `quant` = `Some("q8_0")` for the
/// quantized one.
pub fn stt_model_path(name: &str, quant: Option<&str>) -> PathBuf {
    let dir = models_root().join(name);
    match quant {
        None => require(&dir.join("ggml-model.bin"), name, ""),
        Some(q) => require(
            &dir.join(format!("ggml-model-{q}.bin")),
            name,
            &format!(" --quantize {q}"),
        ),
    }
}

/// Loads a Whisper model from the store.
pub fn stt_model(name: &str, quant: Option<&str>) -> Arc<SttModel> {
    stt_model_with(name, quant, &SttModelConfig::default())
}

/// Loads a Whisper model from the store with `config`.
pub fn stt_model_with(name: &str, quant: Option<&str>, config: &SttModelConfig) -> Arc<SttModel> {
    let path = stt_model_path(name, quant);
    SttModel::load(&path, config)
        .map(Arc::new)
        .unwrap_or_else(|e| fail(&format!("cannot load {}: {e}", path.display())))
}

/// Silero VAD from the store, default configuration.
pub fn vad() -> Vad {
    init_runtime();
    let path = require(
        &models_root().join("silero-vad/silero_vad.onnx"),
        "silero-vad",
        "",
    );
    let model = SileroModel::load(&path)
        .unwrap_or_else(|e| fail(&format!("cannot load {}: {e}", path.display())));
    Vad::new(Arc::new(model), VadConfig::default())
        .unwrap_or_else(|e| fail(&format!("cannot create the VAD: {e}")))
}

/// A Piper voice from the store with `threads` intra-op threads.
pub fn voice(name: &str, threads: usize) -> PiperVoice {
    voice_with(
        name,
        &SessionOptions {
            intra_threads: threads,
            ..SessionOptions::default()
        },
    )
}

/// A Piper voice from the store with session `options`.
pub fn voice_with(name: &str, options: &SessionOptions) -> PiperVoice {
    init_runtime();
    let files = VoiceFiles::in_dir(&models_root().join(name), name);
    require(&files.onnx, name, "");
    require(&files.config, name, "");
    // Trusted bench text: espeak runs in process.
    PiperVoice::load(
        &files,
        options,
        &vocalis_inference::phonemize::PhonemizerConfig::InProcess,
    )
    .unwrap_or_else(|e| fail(&format!("cannot load voice {name}: {e}")))
}

/// A file of `crates/inference/tests/data`.
pub fn test_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Decodes an audio file (any format `vocalis-audio` reads, e.g. 16 kHz PCM
/// or 8 kHz μ-law WAV) to mono 16 kHz `f32`, the way the server does.
pub fn read_audio_16k(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())));
    let hint = path.extension().and_then(|e| e.to_str());
    vocalis_audio::decode_file(&bytes, hint, 16_000)
        .unwrap_or_else(|e| fail(&format!("cannot decode {}: {e}", path.display())))
        .samples
}
