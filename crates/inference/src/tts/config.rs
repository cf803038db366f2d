//! Piper voice files and their `.onnx.json` configuration.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::TtsError;

/// Paths of one Piper voice: the ONNX model and its JSON config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceFiles {
    /// `<name>.onnx`.
    pub onnx: PathBuf,
    /// `<name>.onnx.json`.
    pub config: PathBuf,
}

impl VoiceFiles {
    /// `<dir>/<name>.onnx` and `<dir>/<name>.onnx.json`.
    pub fn in_dir(dir: &Path, name: &str) -> Self {
        Self {
            onnx: dir.join(format!("{name}.onnx")),
            config: dir.join(format!("{name}.onnx.json")),
        }
    }
}

/// The parts of a Piper voice config that synthesis needs.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceConfig {
    /// Output sample rate in Hz (`audio.sample_rate`).
    pub sample_rate: u32,
    /// espeak-ng voice used for phonemization (`espeak.voice`).
    pub espeak_voice: String,
    /// Default `inference.noise_scale`.
    pub noise_scale: f32,
    /// Default `inference.length_scale` (larger is slower).
    pub length_scale: f32,
    /// Default `inference.noise_w`.
    pub noise_w: f32,
    /// Phoneme → model ids (`phoneme_id_map`).
    pub phoneme_id_map: HashMap<char, Vec<i64>>,
    /// Phoneme → replacement phonemes applied before id lookup (`phoneme_map`).
    pub phoneme_map: HashMap<char, Vec<char>>,
    /// Number of speakers; > 1 means the model takes a `sid` input.
    pub num_speakers: u32,
    /// Speaker name → id (`speaker_id_map`).
    pub speaker_id_map: BTreeMap<String, u32>,
}

#[derive(Deserialize)]
struct RawConfig {
    audio: RawAudio,
    #[serde(default)]
    espeak: Option<RawEspeak>,
    #[serde(default)]
    inference: Option<RawInference>,
    #[serde(default)]
    phoneme_type: Option<String>,
    #[serde(default)]
    phoneme_map: HashMap<String, Vec<String>>,
    phoneme_id_map: HashMap<String, Vec<i64>>,
    #[serde(default = "one")]
    num_speakers: u32,
    #[serde(default)]
    speaker_id_map: BTreeMap<String, u32>,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
struct RawAudio {
    sample_rate: u32,
}

#[derive(Deserialize)]
struct RawEspeak {
    voice: String,
}

#[derive(Deserialize)]
struct RawInference {
    #[serde(default = "default_noise_scale")]
    noise_scale: f32,
    #[serde(default = "default_length_scale")]
    length_scale: f32,
    #[serde(default = "default_noise_w")]
    noise_w: f32,
}

fn default_noise_scale() -> f32 {
    0.667
}
fn default_length_scale() -> f32 {
    1.0
}
fn default_noise_w() -> f32 {
    0.8
}

/// Symbols Piper's id encoding requires.
pub(crate) const PAD: char = '_';
pub(crate) const BOS: char = '^';
pub(crate) const EOS: char = '$';

impl VoiceConfig {
    /// Reads and parses a `.onnx.json` file.
    pub fn load(path: &Path) -> Result<Self, TtsError> {
        if !path.is_file() {
            return Err(TtsError::VoiceMissing {
                path: path.to_path_buf(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|source| TtsError::ConfigIo {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text)
    }

    /// Parses the contents of a `.onnx.json` file.
    pub fn from_json(json: &str) -> Result<Self, TtsError> {
        let raw: RawConfig =
            serde_json::from_str(json).map_err(|e| TtsError::InvalidConfig(e.to_string()))?;
        if let Some(kind) = raw.phoneme_type.as_deref() {
            if kind != "espeak" {
                return Err(TtsError::InvalidConfig(format!(
                    "phoneme_type {kind:?} is not supported (only \"espeak\")"
                )));
            }
        }
        if raw.audio.sample_rate == 0 {
            return Err(TtsError::InvalidConfig("audio.sample_rate is 0".into()));
        }
        let mut phoneme_id_map = HashMap::with_capacity(raw.phoneme_id_map.len());
        for (key, ids) in raw.phoneme_id_map {
            match single_char(&key) {
                Some(c) => {
                    phoneme_id_map.insert(c, ids);
                }
                None => {
                    tracing::warn!(phoneme = %key, "ignoring multi-codepoint phoneme in phoneme_id_map")
                }
            }
        }
        for required in [PAD, BOS, EOS] {
            if phoneme_id_map.get(&required).is_none_or(Vec::is_empty) {
                return Err(TtsError::InvalidConfig(format!(
                    "phoneme_id_map lacks {required:?}"
                )));
            }
        }
        let mut phoneme_map = HashMap::new();
        for (from, to) in raw.phoneme_map {
            let to: Option<Vec<char>> = to.iter().map(|s| single_char(s)).collect();
            match (single_char(&from), to) {
                (Some(f), Some(t)) => {
                    phoneme_map.insert(f, t);
                }
                _ => {
                    tracing::warn!(phoneme = %from, "ignoring multi-codepoint entry in phoneme_map")
                }
            }
        }
        let inference = raw.inference.unwrap_or(RawInference {
            noise_scale: default_noise_scale(),
            length_scale: default_length_scale(),
            noise_w: default_noise_w(),
        });
        Ok(Self {
            sample_rate: raw.audio.sample_rate,
            espeak_voice: raw.espeak.map_or_else(|| "en-us".to_owned(), |e| e.voice),
            noise_scale: inference.noise_scale,
            length_scale: inference.length_scale,
            noise_w: inference.noise_w,
            phoneme_id_map,
            phoneme_map,
            num_speakers: raw.num_speakers.max(1),
            speaker_id_map: raw.speaker_id_map,
        })
    }
}

fn single_char(s: &str) -> Option<char> {
    let mut it = s.chars();
    match (it.next(), it.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{
        "audio": {"sample_rate": 16000},
        "espeak": {"voice": "en-gb"},
        "inference": {"noise_scale": 0.5, "length_scale": 1.2, "noise_w": 0.7},
        "phoneme_type": "espeak",
        "phoneme_map": {"g": ["ɡ"]},
        "phoneme_id_map": {"_": [0], "^": [1], "$": [2], "a": [3], "ab": [9]},
        "num_speakers": 3,
        "speaker_id_map": {"x": 0, "y": 2}
    }"#;

    #[test]
    fn parses_piper_config() {
        let c = VoiceConfig::from_json(MINIMAL).unwrap();
        assert_eq!(c.sample_rate, 16000);
        assert_eq!(c.espeak_voice, "en-gb");
        assert_eq!((c.noise_scale, c.length_scale, c.noise_w), (0.5, 1.2, 0.7));
        assert_eq!(c.phoneme_id_map.len(), 4);
        assert_eq!(c.phoneme_map[&'g'], vec!['ɡ']);
        assert_eq!(c.num_speakers, 3);
        assert_eq!(c.speaker_id_map["y"], 2);
    }

    #[test]
    fn rejects_bad_configs() {
        assert!(VoiceConfig::from_json("{}").is_err());
        let no_bos = MINIMAL.replace(r#""^": [1], "#, "");
        assert!(matches!(
            VoiceConfig::from_json(&no_bos),
            Err(TtsError::InvalidConfig(_))
        ));
        let text = MINIMAL.replace(r#""phoneme_type": "espeak""#, r#""phoneme_type": "text""#);
        assert!(VoiceConfig::from_json(&text).is_err());
    }
}
