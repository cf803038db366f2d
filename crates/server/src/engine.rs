//! The engines a running server uses, loaded once at start-up from the model
//! store: the Whisper pool, the Piper pool, and the Silero VAD shared by
//! streaming sessions.
//!
//! Loading resolves every model through `vocalis-models`, so a missing or
//! damaged model stops the server at start-up with the `vocalis models pull`
//! command that fixes it.

use std::path::Path;
use std::sync::Arc;

use vocalis_inference::phonemize::PhonemizerConfig;
use vocalis_inference::pool::{tts_pool, PoolConfig, PoolStats, SttPool, TtsPool};
use vocalis_inference::stt::{SttModel, SttModelConfig};
use vocalis_inference::vad::{SileroModel, Vad, VadConfig};
use vocalis_inference::{runtime, SessionOptions, VoiceFiles};
use vocalis_models::{ModelStore, Quantization, ResolvedModel};

/// Why the engines could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A model is missing, damaged or unknown (the message names the fix).
    #[error(transparent)]
    Model(#[from] vocalis_models::ModelError),
    /// ONNX Runtime could not be loaded.
    #[error(transparent)]
    Runtime(#[from] vocalis_inference::RuntimeError),
    /// Whisper failed to load or start its workers.
    #[error(transparent)]
    Stt(#[from] vocalis_inference::stt::SttError),
    /// The voice failed to load.
    #[error(transparent)]
    Tts(#[from] vocalis_inference::TtsError),
    /// The VAD failed to load.
    #[error(transparent)]
    Vad(#[from] vocalis_inference::vad::VadError),
    /// A model's files passed the store's size checks but its engine could
    /// not load them (a damaged file; the message names the fix).
    #[error("model `{name}` could not be loaded: {detail}; if its files are damaged, `{fix}` reinstalls it (`vocalis models verify {name}` checks it)")]
    Unloadable {
        /// The model's name.
        name: String,
        /// What the engine said.
        detail: String,
        /// The command that reinstalls it.
        fix: String,
    },
    /// The named model is not of the kind asked for.
    #[error("model `{name}` is not {expected}")]
    WrongKind {
        /// The model's name.
        name: String,
        /// What was expected, e.g. "a Piper voice".
        expected: &'static str,
    },
}

/// What the engines are loaded from.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineSettings {
    /// The Whisper model served (a manifest name, e.g. `tiny.en`).
    pub stt_model: String,
    /// Its weights: a quantized variant, or `None` for f16.
    pub stt_weights: Option<Quantization>,
    /// The voice served by default.
    pub voice: String,
    /// Worker and queue sizing.
    pub pool: PoolConfig,
}

/// Loaded engines, shared by every session.
pub struct Engines {
    /// Whisper workers.
    pub stt: SttPool,
    /// Piper workers.
    pub tts: TtsPool,
    /// Voice activity detection for streaming sessions (cheap per stream).
    pub vad: Vad,
    /// Name of the Whisper model.
    pub stt_model: String,
    /// Whether the Whisper model detects and transcribes other languages.
    pub multilingual: bool,
    /// Name of the default voice.
    pub voice: String,
    /// The voice's native sample rate.
    pub voice_rate: u32,
    /// The speaker encoder for `diarize=true`, when `resemblyzer` is installed.
    pub diarizer: Option<Arc<vocalis_inference::diarize::Diarizer>>,
}

impl std::fmt::Debug for Engines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engines")
            .field("stt_model", &self.stt_model)
            .field("voice", &self.voice)
            .finish_non_exhaustive()
    }
}

/// Loads ONNX Runtime from the store (once per process).
pub fn init_onnx_runtime(store: &ModelStore) -> Result<(), EngineError> {
    let runtime_model = store.resolve("onnxruntime")?;
    runtime::init(&runtime_model.primary)?;
    Ok(())
}

/// The `.onnx` and `.onnx.json` of an installed voice.
pub fn voice_files(store: &ModelStore, name: &str) -> Result<VoiceFiles, EngineError> {
    let model: ResolvedModel = store.resolve(name)?;
    let config = model.config.clone().ok_or_else(|| EngineError::WrongKind {
        name: name.to_owned(),
        expected: "a Piper voice",
    })?;
    Ok(VoiceFiles {
        onnx: model.primary,
        config,
    })
}

/// Loads the installed Silero VAD.
pub fn load_vad(store: &ModelStore) -> Result<Vad, EngineError> {
    init_onnx_runtime(store)?;
    let model = store.resolve("silero-vad")?;
    Ok(Vad::new(
        Arc::new(SileroModel::load(&model.primary)?),
        VadConfig::default(),
    )?)
}

/// Loads an installed Whisper model: its `weights` variant (`Some(q8_0)`,
/// the default, measured as fast and as accurate in BENCHMARKS.md) or the
/// f16 conversion (`None`). A store without the variant (pulled before q8_0
/// became the default) falls back to f16 and says how to add it.
pub fn load_stt_model(
    store: &ModelStore,
    name: &str,
    weights: Option<Quantization>,
) -> Result<Arc<SttModel>, EngineError> {
    let model = store.resolve(name)?;
    let path: &Path = match model.ggml(weights) {
        Ok(path) => path,
        Err(missing) => {
            tracing::warn!(%missing, "using the f16 weights");
            model.ggml(None)?
        }
    };
    tracing::info!(model = %name, weights = %path.display(), "Whisper weights");
    Ok(Arc::new(SttModel::load(path, &SttModelConfig::default())?))
}

/// Loads the speaker encoder if `resemblyzer` is installed. It is optional:
/// without it `diarize=true` answers with a warning naming the pull command.
pub fn load_diarizer(store: &ModelStore) -> Option<Arc<vocalis_inference::diarize::Diarizer>> {
    let model = match store.resolve(DIARIZE_MODEL) {
        Ok(model) => model,
        Err(error) => {
            tracing::info!(%error, "speaker diarization off");
            return None;
        }
    };
    let dir = model.primary.parent()?;
    match vocalis_inference::diarize::Diarizer::load(dir) {
        Ok(d) => Some(Arc::new(d)),
        Err(error) => {
            tracing::warn!(%error, fix = %vocalis_models::pull_command(DIARIZE_MODEL, None), "speaker model unusable; diarization off");
            None
        }
    }
}

/// The manifest name of the speaker encoder.
pub const DIARIZE_MODEL: &str = "resemblyzer";

/// Names the model and the command that reinstalls it on an engine's load
/// failure; store errors (missing, wrong size) already name it.
fn unloadable(name: &str) -> impl FnOnce(EngineError) -> EngineError + '_ {
    move |error| match error {
        EngineError::Model(_) | EngineError::WrongKind { .. } | EngineError::Unloadable { .. } => {
            error
        }
        other => EngineError::Unloadable {
            name: name.to_owned(),
            detail: other.to_string(),
            fix: vocalis_models::pull_command(name, None),
        },
    }
}

impl Engines {
    /// Loads every engine from the store at `models_dir`; each Piper worker
    /// phonemizes where `phonemizer` says (a server: isolated).
    pub fn load(
        models_dir: &Path,
        settings: &EngineSettings,
        phonemizer: &PhonemizerConfig,
    ) -> Result<Self, EngineError> {
        let store = ModelStore::new(models_dir);
        init_onnx_runtime(&store).map_err(unloadable("onnxruntime"))?;
        let vad = load_vad(&store).map_err(unloadable("silero-vad"))?;
        let stt_model = load_stt_model(&store, &settings.stt_model, settings.stt_weights)
            .map_err(unloadable(&settings.stt_model))?;
        let multilingual = stt_model.is_multilingual();
        let stt = SttPool::new(stt_model, Some(vad.clone()), &settings.pool)?;
        let files = voice_files(&store, &settings.voice)?;
        // 0: the pool shares the cores among its workers (tts_intra_threads).
        let session = SessionOptions {
            intra_threads: 0,
            ..SessionOptions::default()
        };
        let tts = tts_pool(&files, &session, phonemizer, &settings.pool)
            .map_err(EngineError::from)
            .map_err(unloadable(&settings.voice))?;
        let voice_rate = vocalis_inference::VoiceConfig::load(&files.config)
            .map_err(EngineError::from)
            .map_err(unloadable(&settings.voice))?
            .sample_rate;
        let diarizer = load_diarizer(&store);
        Ok(Self {
            stt,
            tts,
            vad,
            stt_model: settings.stt_model.clone(),
            multilingual,
            voice: settings.voice.clone(),
            voice_rate,
            diarizer,
        })
    }

    /// Load of both pools.
    pub fn stats(&self) -> (PoolStats, PoolStats) {
        (self.stt.stats(), self.tts.stats())
    }
}
