//! `vocalis-model.json`: the receipt written last when a model is installed. It records where
//! the files came from (package, version, wheel sha256), the converter version and the sha256
//! and size of every stored file, so `list` can show provenance and `pull` can skip work.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic;
use crate::error::{pull_command, ModelError, Result};
use crate::manifest::{ModelKind, ModelSpec};

/// File name of the receipt inside a model directory.
pub const RECEIPT_FILE: &str = "vocalis-model.json";
/// Receipt schema version.
pub const RECEIPT_SCHEMA: u32 = 1;

/// Provenance of one wheel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptSource {
    /// Registry (`pypi`).
    pub registry: String,
    /// Package name.
    pub package: String,
    /// Version.
    pub version: String,
    /// Wheel file name.
    pub wheel: String,
    /// Wheel sha256.
    pub wheel_sha256: String,
}

/// Digest and size of one stored file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptFile {
    /// Lowercase hex sha256.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// Contents of `vocalis-model.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Schema version ([`RECEIPT_SCHEMA`]).
    pub schema: u32,
    /// Model name.
    pub name: String,
    /// Model kind.
    pub kind: ModelKind,
    /// Stored format.
    pub format: String,
    /// License.
    pub license: String,
    /// Wheels the files came from.
    pub sources: Vec<ReceiptSource>,
    /// Converter version for converted models.
    #[serde(default)]
    pub converter: Option<String>,
    /// Stored file name → digest.
    pub files: BTreeMap<String, ReceiptFile>,
    /// Install time, RFC 3339 UTC.
    pub installed_at: String,
}

impl Receipt {
    /// A receipt for `spec` with no files yet, stamped now.
    pub fn new(spec: &ModelSpec, converter: Option<&str>) -> Self {
        Self {
            schema: RECEIPT_SCHEMA,
            name: spec.name.clone(),
            kind: spec.kind,
            format: spec.format.clone(),
            license: spec.license.clone(),
            sources: spec
                .sources
                .iter()
                .map(|s| ReceiptSource {
                    registry: s.registry.clone(),
                    package: s.package.clone(),
                    version: s.version.clone(),
                    wheel: s.wheel.clone(),
                    wheel_sha256: s.sha256.clone(),
                })
                .collect(),
            converter: converter.map(str::to_owned),
            files: BTreeMap::new(),
            installed_at: now_rfc3339(),
        }
    }

    /// Whether the receipt's provenance still matches the manifest entry.
    pub fn matches_sources(&self, spec: &ModelSpec) -> bool {
        self.schema == RECEIPT_SCHEMA
            && self.name == spec.name
            && self.sources.len() == spec.sources.len()
            && self.sources.iter().zip(&spec.sources).all(|(r, s)| {
                r.package == s.package && r.version == s.version && r.wheel_sha256 == s.sha256
            })
    }

    /// Reads the receipt in `dir`; `Ok(None)` if there is none.
    pub fn load(dir: &Path, name: &str) -> Result<Option<Self>> {
        let path = dir.join(RECEIPT_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ModelError::io("cannot read", path, e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ModelError::Receipt {
                path,
                reason: e.to_string(),
                fix: pull_command(name, None),
            })
    }

    /// Writes the receipt into `dir` atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| ModelError::Receipt {
            path: dir.join(RECEIPT_FILE),
            reason: e.to_string(),
            fix: pull_command(&self.name, None),
        })?;
        text.push('\n');
        write_atomic(&dir.join(RECEIPT_FILE), text.as_bytes())?;
        Ok(())
    }
}

/// Current time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_rfc3339(secs)
}

/// Formats Unix seconds as RFC 3339 UTC (proleptic Gregorian calendar).
pub fn format_rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn save_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let spec = Manifest::embedded().get("silero-vad").unwrap();
        let mut r = Receipt::new(spec, None);
        r.files.insert(
            "silero_vad.onnx".into(),
            ReceiptFile {
                sha256: "00".repeat(32),
                bytes: 1,
            },
        );
        r.save(dir.path()).unwrap();
        let back = Receipt::load(dir.path(), "silero-vad").unwrap().unwrap();
        assert_eq!(back, r);
        assert!(back.matches_sources(spec));
        assert!(!back.matches_sources(Manifest::embedded().get("base").unwrap()));
        std::fs::write(dir.path().join(RECEIPT_FILE), "{").unwrap();
        let err = Receipt::load(dir.path(), "silero-vad")
            .unwrap_err()
            .to_string();
        assert!(err.contains("vocalis models pull silero-vad"), "{err}");
    }
}
