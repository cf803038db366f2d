//! Loading a ggml Whisper model ([`SttModel`]), shared by every worker.

use std::path::{Path, PathBuf};
use std::sync::Once;

use whisper_rs::{WhisperContext, WhisperContextParameters, WhisperState};

use super::SttError;

/// Settings for loading a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SttModelConfig {
    /// Use a GPU backend if whisper.cpp was built with one (default: on in
    /// `cuda` builds).
    pub use_gpu: bool,
    /// Flash attention in the encoder/decoder.
    pub flash_attn: bool,
}

// Not derivable: the default depends on the `cuda` feature.
#[allow(clippy::derivable_impls)]
impl Default for SttModelConfig {
    fn default() -> Self {
        Self {
            use_gpu: cfg!(feature = "cuda"),
            flash_attn: false,
        }
    }
}

/// A loaded Whisper model (weights + vocabulary). `Send + Sync`: load once,
/// share in an `Arc`, and give each worker thread its own
/// [`super::SttWorker`] (which owns the mutable decoding state).
pub struct SttModel {
    ctx: WhisperContext,
    path: PathBuf,
    multilingual: bool,
    n_audio_ctx: i32,
    token_eot: i32,
}

impl std::fmt::Debug for SttModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SttModel")
            .field("path", &self.path)
            .field("multilingual", &self.multilingual)
            .field("n_audio_ctx", &self.n_audio_ctx)
            .finish_non_exhaustive()
    }
}

/// Routes whisper.cpp/ggml logging into `tracing` (once per process).
fn install_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(whisper_rs::install_logging_hooks);
}

impl SttModel {
    /// Loads a ggml model file (e.g. `<store>/tiny.en/ggml-model.bin`).
    pub fn load(path: &Path, config: &SttModelConfig) -> Result<Self, SttError> {
        if !path.is_file() {
            let name = path.parent().and_then(Path::file_name).map_or_else(
                || "<model>".to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            return Err(SttError::ModelMissing {
                path: path.to_path_buf(),
                name,
            });
        }
        install_logging();
        let params = WhisperContextParameters {
            use_gpu: config.use_gpu,
            flash_attn: config.flash_attn,
            ..WhisperContextParameters::default()
        };
        let ctx =
            WhisperContext::new_with_params(path, params).map_err(|e| SttError::ModelLoad {
                path: path.to_path_buf(),
                message: format!("{e:?}"),
            })?;
        let multilingual = ctx.is_multilingual();
        let n_audio_ctx = ctx.model_n_audio_ctx();
        let token_eot = ctx.token_eot();
        tracing::info!(model = %path.display(), multilingual, "Whisper model loaded");
        Ok(Self {
            ctx,
            path: path.to_path_buf(),
            multilingual,
            n_audio_ctx,
            token_eot,
        })
    }

    /// Path the model was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the model knows languages other than English.
    pub fn is_multilingual(&self) -> bool {
        self.multilingual
    }

    /// Full encoder window in 20 ms frames (1500 = 30 s).
    pub fn n_audio_ctx(&self) -> i32 {
        self.n_audio_ctx
    }

    pub(crate) fn token_eot(&self) -> i32 {
        self.token_eot
    }

    pub(crate) fn context(&self) -> &WhisperContext {
        &self.ctx
    }

    pub(crate) fn create_state(&self) -> Result<WhisperState, SttError> {
        self.ctx
            .create_state()
            .map_err(|e| SttError::State(format!("{e:?}")))
    }
}
