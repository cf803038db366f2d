//! ONNX Runtime bootstrap and session construction.
//!
//! `libonnxruntime` is not linked at build time: it is `dlopen()`ed from the
//! model store (`<root>/onnxruntime/libonnxruntime.so.<ver>`) through `ort`'s
//! `load-dynamic` feature. [`init`] does this once per process (later calls are
//! no-ops) and creates the single ORT environment every session shares.
//! [`build_session`] then applies Vocalis' session defaults: configurable
//! intra-op threads (no busy-waiting workers unless asked), sequential
//! execution, memory pattern off (inputs have variable lengths, so
//! pre-planned buffers would only be re-planned and kept around), and full
//! graph optimisation. Every model of the crate should be opened through
//! [`build_session`] after [`init`].

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;

/// Errors raised while loading ONNX Runtime or building a session.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The shared library is not on disk.
    #[error("ONNX Runtime library not found at {path}; run `vocalis models pull onnxruntime`")]
    LibraryMissing {
        /// Path that was looked up.
        path: PathBuf,
    },
    /// The shared library exists but could not be loaded (wrong file, bad version...).
    #[error("failed to load ONNX Runtime from {path}: {message}")]
    LibraryLoad {
        /// Path that was loaded.
        path: PathBuf,
        /// Loader diagnostic.
        message: String,
    },
    /// A session was requested before [`init`] was called.
    #[error("ONNX Runtime is not initialised; call vocalis_inference::runtime::init first")]
    NotInitialized,
    /// The model file is not on disk.
    #[error("model file not found at {path}; run `vocalis models pull`")]
    ModelMissing {
        /// Path that was looked up.
        path: PathBuf,
    },
    /// An execution provider was requested that this build does not include.
    #[error("execution provider {0} is not compiled in (enable the `{0}` cargo feature of vocalis-inference)")]
    ProviderUnavailable(&'static str),
    /// Any error reported by ONNX Runtime itself.
    #[error("onnxruntime: {0}")]
    Ort(#[from] ort::Error),
}

impl From<ort::Error<ort::session::builder::SessionBuilder>> for RuntimeError {
    fn from(e: ort::Error<ort::session::builder::SessionBuilder>) -> Self {
        // Builder errors carry the builder for recovery; only the error is kept.
        Self::Ort(e.into())
    }
}

/// Graph optimisation level for new sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptimizationLevel {
    /// No graph rewrites.
    Disabled,
    /// Constant folding and redundant-node removal only.
    Basic,
    /// Basic plus node fusions.
    Extended,
    /// Everything, including layout optimisations (default).
    #[default]
    All,
}

impl OptimizationLevel {
    fn to_ort(self) -> GraphOptimizationLevel {
        match self {
            Self::Disabled => GraphOptimizationLevel::Disable,
            Self::Basic => GraphOptimizationLevel::Level1,
            Self::Extended => GraphOptimizationLevel::Level2,
            Self::All => GraphOptimizationLevel::All,
        }
    }
}

/// Where a session runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecutionProvider {
    /// ORT's default CPU provider.
    #[default]
    Cpu,
    /// NVIDIA CUDA (requires the `cuda` feature and a GPU build of
    /// libonnxruntime with its provider libraries next to it). ORT falls back
    /// to the CPU if the provider cannot be registered at run time.
    Cuda {
        /// CUDA device ordinal.
        device_id: i32,
    },
}

/// Options applied to every session Vocalis builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOptions {
    /// Threads used *within* an operator (0 lets ORT pick: one per core).
    pub intra_threads: usize,
    /// Graph optimisation level.
    pub optimization: OptimizationLevel,
    /// Execution provider.
    pub execution_provider: ExecutionProvider,
    /// Let idle intra-op worker threads busy-wait for work (slightly lower
    /// latency, but burns CPU that concurrent requests could use). Off by
    /// default; irrelevant with one thread.
    pub intra_op_spinning: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            intra_threads: 1,
            optimization: OptimizationLevel::All,
            // `cuda` builds run sessions on the first GPU.
            execution_provider: if cfg!(feature = "cuda") {
                ExecutionProvider::Cuda { device_id: 0 }
            } else {
                ExecutionProvider::Cpu
            },
            intra_op_spinning: false,
        }
    }
}

struct Loaded {
    env: Environment,
    path: PathBuf,
}

static RUNTIME: OnceLock<Loaded> = OnceLock::new();
static INIT_LOCK: Mutex<()> = Mutex::new(());

/// Loads ONNX Runtime from `library` and creates the process-wide environment.
///
/// Idempotent: once a library is loaded, later calls return `Ok` (a different
/// path is ignored with a warning, as a process can only host one ORT).
pub fn init(library: &Path) -> Result<(), RuntimeError> {
    if let Some(loaded) = RUNTIME.get() {
        warn_if_other(&loaded.path, library);
        return Ok(());
    }
    let _guard = INIT_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(loaded) = RUNTIME.get() {
        warn_if_other(&loaded.path, library);
        return Ok(());
    }
    if !library.is_file() {
        return Err(RuntimeError::LibraryMissing {
            path: library.to_path_buf(),
        });
    }
    let builder = ort::init_from(library).map_err(|e| RuntimeError::LibraryLoad {
        path: library.to_path_buf(),
        message: e.to_string(),
    })?;
    let env = builder.with_name("vocalis").with_telemetry(false).build()?;
    tracing::info!(path = %library.display(), "ONNX Runtime loaded");
    // Cannot fail: we hold INIT_LOCK and checked RUNTIME above.
    let _ = RUNTIME.set(Loaded {
        env,
        path: library.to_path_buf(),
    });
    Ok(())
}

fn warn_if_other(loaded: &Path, requested: &Path) {
    if loaded != requested {
        tracing::warn!(
            loaded = %loaded.display(),
            requested = %requested.display(),
            "ONNX Runtime already loaded from another path; keeping the first"
        );
    }
}

/// Whether [`init`] has succeeded in this process.
pub fn is_initialized() -> bool {
    RUNTIME.get().is_some()
}

/// Builds an ORT session for `model` with Vocalis' defaults (see module docs).
pub fn build_session(model: &Path, options: &SessionOptions) -> Result<Session, RuntimeError> {
    let loaded = RUNTIME.get().ok_or(RuntimeError::NotInitialized)?;
    if !model.is_file() {
        return Err(RuntimeError::ModelMissing {
            path: model.to_path_buf(),
        });
    }
    let mut builder = Session::builder(&loaded.env)?
        .with_optimization_level(options.optimization.to_ort())?
        .with_intra_threads(options.intra_threads)?
        .with_inter_threads(1)?
        .with_parallel_execution(false)?
        .with_memory_pattern(false)?
        .with_intra_op_spinning(options.intra_op_spinning)?;
    builder = apply_provider(builder, options.execution_provider)?;
    let session = builder.commit_from_file(model)?;
    Ok(session)
}

#[cfg(feature = "cuda")]
fn apply_provider(
    builder: ort::session::builder::SessionBuilder,
    provider: ExecutionProvider,
) -> Result<ort::session::builder::SessionBuilder, RuntimeError> {
    match provider {
        ExecutionProvider::Cpu => Ok(builder),
        ExecutionProvider::Cuda { device_id } => {
            Ok(builder.with_execution_providers([ort::ep::CUDA::default()
                .with_device_id(device_id)
                .build()])?)
        }
    }
}

#[cfg(not(feature = "cuda"))]
fn apply_provider(
    builder: ort::session::builder::SessionBuilder,
    provider: ExecutionProvider,
) -> Result<ort::session::builder::SessionBuilder, RuntimeError> {
    match provider {
        ExecutionProvider::Cpu => Ok(builder),
        ExecutionProvider::Cuda { .. } => Err(RuntimeError::ProviderUnavailable("cuda")),
    }
}
