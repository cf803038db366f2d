//! Validating a `start` message into effective session settings.
//!
//! An explicit `start` is honoured exactly or refused with a stable code
//! (`unsupported_encoding`, `unsupported_sample_rate`,
//! `unsupported_language`, `unsupported_setting`, `invalid_message`); no
//! setting silently falls back to a default, and a `config` field the server
//! does not know is refused by name, never ignored. Only an absent field
//! takes its default (μ-law, 8000 Hz, 500 ms, partials on).

use vocalis_inference::diarize::DiarizeOptions;
use vocalis_inference::streaming::StreamingConfig;
use vocalis_inference::stt::TranscribeOptions;

use crate::session::audio_input::{AudioInput, InputEncoding, SUPPORTED_RATES};
use crate::wire::openai::language_code;
use crate::wire::sixtydb::{EffectiveSttConfig, StartConfig, SttEncoding};

/// The most languages a session may name.
pub const MAX_LANGUAGES: usize = 5;

/// The `start.config` fields this server reads: 60db's (`encoding`,
/// `sample_rate`, `utterance_end_ms`, `continuous_mode`) and Vocalis's own.
/// Any other field refuses the `start` (`unsupported_setting`).
pub const CONFIG_FIELDS: &[&str] = &[
    "encoding",
    "sample_rate",
    "utterance_end_ms",
    "continuous_mode",
    "interim_results",
    "diarize",
    "diarize_speakers",
    "min_speakers",
    "max_speakers",
];

/// A `start` the server cannot accept, with its stable error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartError {
    /// `unsupported_encoding`, `unsupported_sample_rate`, `unsupported_language`,
    /// `unsupported_setting`, `invalid_message`.
    pub code: &'static str,
    /// Human message.
    pub message: String,
}

fn invalid(code: &'static str, message: impl Into<String>) -> StartError {
    StartError {
        code,
        message: message.into(),
    }
}

/// Effective settings of an accepted `start`.
#[derive(Debug)]
pub struct Accepted {
    /// Echoed to the client in `session_started`.
    pub effective: EffectiveSttConfig,
    /// Audio conversion for the session.
    pub input: AudioInput,
    /// Recognizer settings.
    pub streaming: StreamingConfig,
    /// Live diarization: `diarize` asked.
    pub diarize: bool,
    /// Speaker-count hints for live diarization.
    pub speakers: DiarizeOptions,
}

/// The language to decode with: one named language is fixed; several (or
/// none) mean detection. English-only models accept only English.
pub fn decode_language(
    languages: Option<&[String]>,
    multilingual: bool,
) -> Result<Option<String>, StartError> {
    let Some(languages) = languages.filter(|l| !l.is_empty()) else {
        return Ok(if multilingual {
            None
        } else {
            Some("en".into())
        });
    };
    if languages.len() > MAX_LANGUAGES {
        return Err(invalid(
            "invalid_message",
            format!("at most {MAX_LANGUAGES} languages per session"),
        ));
    }
    let mut normalized: Vec<String> = Vec::with_capacity(languages.len());
    for language in languages {
        let base = language
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let well_formed =
            (2..=3).contains(&base.len()) && base.bytes().all(|b| b.is_ascii_alphabetic());
        // A code Whisper does not know would be decoded as some other
        // language: refuse it rather than guess.
        match language_code(&base).filter(|_| well_formed) {
            Some(code) => {
                if !normalized.iter().any(|n| n == code) {
                    normalized.push(code.to_owned());
                }
            }
            None => {
                return Err(invalid(
                    "unsupported_language",
                    format!("`{language}` is not a language this server can transcribe"),
                ))
            }
        }
    }
    if !multilingual {
        return if normalized.iter().all(|l| l == "en") {
            Ok(Some("en".into()))
        } else {
            Err(invalid(
                "unsupported_language",
                "the served model is English-only; start the server with a multilingual model (e.g. --stt-model base)",
            ))
        };
    }
    Ok(if normalized.len() == 1 {
        normalized.into_iter().next()
    } else {
        None
    })
}

/// Most unknown field names quoted in one error message.
const MAX_NAMED_FIELDS: usize = 5;
/// Longest unknown field name quoted in an error message, in characters.
const MAX_NAME_CHARS: usize = 64;

/// A client-chosen field name, cut to [`MAX_NAME_CHARS`] so an error never
/// echoes a megabyte back.
fn bounded_name(name: &str) -> String {
    match name.char_indices().nth(MAX_NAME_CHARS) {
        Some((end, _)) => format!("{}…", &name[..end]),
        None => name.to_owned(),
    }
}

/// Validates a `start` (or the implicit telephony start when `config` is `None`).
pub fn accept(
    languages: Option<Vec<String>>,
    config: Option<&StartConfig>,
    prompt: Option<String>,
    multilingual: bool,
) -> Result<Accepted, StartError> {
    let default = StartConfig::default();
    let config = config.unwrap_or(&default);
    if !config.unknown.is_empty() {
        let mut names: Vec<String> = config
            .unknown
            .keys()
            .take(MAX_NAMED_FIELDS)
            .map(|k| format!("`{}`", bounded_name(k)))
            .collect();
        if config.unknown.len() > MAX_NAMED_FIELDS {
            names.push(format!(
                "and {} more",
                config.unknown.len() - MAX_NAMED_FIELDS
            ));
        }
        return Err(invalid(
            "unsupported_setting",
            format!(
                "unknown config field {}: this server does not support it (supported: {})",
                names.join(", "),
                CONFIG_FIELDS.join(", ")
            ),
        ));
    }
    let encoding = match config
        .encoding
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("mulaw" | "ulaw" | "pcmu" | "mu-law") => SttEncoding::Mulaw,
        Some("alaw" | "pcma" | "a-law") => SttEncoding::Alaw,
        Some("linear" | "linear16" | "pcm" | "pcm_s16le" | "s16le") => SttEncoding::Linear,
        Some(other) => {
            return Err(invalid(
                "unsupported_encoding",
                format!("encoding `{other}` is not supported; use mulaw, alaw or linear"),
            ))
        }
    };
    let sample_rate = config.sample_rate.unwrap_or(8_000);
    if !SUPPORTED_RATES.contains(&sample_rate) {
        return Err(invalid(
            "unsupported_sample_rate",
            format!("sample_rate {sample_rate} is not supported; use 8000, 16000, 22050, 24000, 44100 or 48000"),
        ));
    }
    if config.continuous_mode == Some(false) {
        return Err(invalid(
            "unsupported_setting",
            "continuous_mode false is not supported: sessions always keep transcribing \
             until `stop`",
        ));
    }
    let utterance_end_ms = config.utterance_end_ms.unwrap_or(500);
    if !(300..=10_000).contains(&utterance_end_ms) {
        return Err(invalid(
            "invalid_message",
            "utterance_end_ms must be within 300–10000",
        ));
    }
    for (name, count) in [
        ("diarize_speakers", config.diarize_speakers),
        ("min_speakers", config.min_speakers),
        ("max_speakers", config.max_speakers),
    ] {
        if count.is_some_and(|n| !(1..=16).contains(&n)) {
            return Err(invalid(
                "invalid_message",
                format!("{name} must be a speaker count of 1 to 16"),
            ));
        }
    }
    let speakers = crate::routes::transcriptions::diarize::options(
        config.diarize_speakers,
        config.min_speakers,
        config.max_speakers,
    );
    let language = decode_language(languages.as_deref(), multilingual)?;
    let input_encoding = match encoding {
        SttEncoding::Mulaw => InputEncoding::Mulaw,
        SttEncoding::Alaw => InputEncoding::Alaw,
        SttEncoding::Linear => InputEncoding::Linear16,
    };
    let input = AudioInput::new(input_encoding, sample_rate, 1)
        .map_err(|e| invalid("unsupported_sample_rate", e.to_string()))?;
    let interim_results = config.interim_results.unwrap_or(true);
    let streaming = StreamingConfig {
        interim_results,
        utterance_end_ms,
        options: TranscribeOptions {
            language,
            initial_prompt: prompt,
            ..TranscribeOptions::default()
        },
        ..StreamingConfig::default()
    };
    Ok(Accepted {
        effective: EffectiveSttConfig {
            encoding,
            sample_rate,
            utterance_end_ms,
            interim_results,
            continuous_mode: true,
            languages: languages.filter(|l| !l.is_empty()),
        },
        input,
        streaming,
        diarize: config.diarize == Some(true),
        speakers,
    })
}

/// Turns a 60db `context` object (`{general:[{key,value}], text, terms}`) or
/// string into a Whisper prompt: the words that bias decoding.
pub fn context_prompt(context: Option<&serde_json::Value>) -> Option<String> {
    fn collect(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::String(s) if !s.trim().is_empty() => out.push(s.trim().to_owned()),
            serde_json::Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
            serde_json::Value::Object(map) => {
                for (key, v) in map {
                    if key != "key" {
                        collect(v, out);
                    }
                }
            }
            _ => {}
        }
    }
    let mut parts = Vec::new();
    collect(context?, &mut parts);
    let prompt = parts.join(". ");
    // Whisper's prompt holds at most 224 tokens; keep well inside it.
    let prompt: String = prompt.chars().take(600).collect();
    (!prompt.is_empty()).then_some(prompt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn start(value: serde_json::Value) -> StartConfig {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn defaults_are_telephony_mulaw_8k() {
        let accepted = accept(None, None, None, false).unwrap();
        assert_eq!(accepted.effective.encoding, SttEncoding::Mulaw);
        assert_eq!(accepted.effective.sample_rate, 8_000);
        assert_eq!(accepted.effective.utterance_end_ms, 500);
        assert_eq!(accepted.streaming.options.language.as_deref(), Some("en"));
    }

    #[test]
    fn rejects_bad_settings_with_stable_codes() {
        let cases = [
            (json!({"encoding": "opus"}), "unsupported_encoding"),
            (json!({"sample_rate": 11025}), "unsupported_sample_rate"),
            (json!({"utterance_end_ms": 100}), "invalid_message"),
            (json!({"encoding": ""}), "unsupported_encoding"),
            (
                json!({"encoding": "flac", "sample_rate": 16000}),
                "unsupported_encoding",
            ),
            (json!({"sample_rate": 0}), "unsupported_sample_rate"),
            (json!({"continuous_mode": false}), "unsupported_setting"),
            (json!({"punctuate": true}), "unsupported_setting"),
            (
                json!({"diarize": true, "max_speakers": 0}),
                "invalid_message",
            ),
            (json!({"diarize_speakers": 17}), "invalid_message"),
        ];
        for (config, code) in cases {
            let error = accept(None, Some(&start(config.clone())), None, true).unwrap_err();
            assert_eq!(error.code, code, "{config}");
        }
        let six: Vec<String> = ["en", "de", "fr", "es", "it", "pt"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            accept(Some(six), None, None, true).unwrap_err().code,
            "invalid_message"
        );
        for bad in ["zz", "", "english!", "x"] {
            let error = accept(Some(vec![bad.into()]), None, None, true).unwrap_err();
            assert_eq!(error.code, "unsupported_language", "{bad}");
        }
        let ok =
            start(json!({"encoding": "linear", "sample_rate": 16000, "continuous_mode": true}));
        let accepted = accept(None, Some(&ok), None, true).unwrap();
        assert_eq!(accepted.effective.encoding, SttEncoding::Linear);
        assert_eq!(accepted.effective.sample_rate, 16_000);
    }

    #[test]
    fn unknown_config_fields_are_refused_by_name() {
        let config =
            start(json!({"encoding": "linear", "sample_rate": 16000, "smart_format": true}));
        let error = accept(None, Some(&config), None, true).unwrap_err();
        assert_eq!(error.code, "unsupported_setting");
        assert!(
            error.message.contains("`smart_format`"),
            "{}",
            error.message
        );
        // A huge name or a thousand fields never make a huge message.
        let mut hostile = serde_json::Map::new();
        hostile.insert("é".repeat(100_000), json!(1));
        for i in 0..1000 {
            hostile.insert(format!("f{i}"), json!(i));
        }
        let config = start(serde_json::Value::Object(hostile));
        let error = accept(None, Some(&config), None, true).unwrap_err();
        assert_eq!(error.code, "unsupported_setting");
        assert!(error.message.len() < 1000, "{}", error.message.len());
        assert!(error.message.contains("more"), "{}", error.message);
        // Every field the server documents is read, none is "unknown".
        let all = start(json!({
            "encoding": "linear", "sample_rate": 16000, "utterance_end_ms": 800,
            "continuous_mode": true, "interim_results": false, "diarize": true,
            "diarize_speakers": 2, "min_speakers": 2, "max_speakers": 3,
        }));
        assert!(all.unknown.is_empty(), "{:?}", all.unknown);
        let accepted = accept(None, Some(&all), None, true).unwrap();
        assert_eq!(accepted.effective.utterance_end_ms, 800);
        assert!(!accepted.effective.interim_results);
        assert!(accepted.diarize);
        // An exact count wins over the bounds.
        assert_eq!(
            (
                accepted.speakers.min_speakers,
                accepted.speakers.max_speakers
            ),
            (2, 2)
        );
        let capped = start(json!({"diarize": true, "max_speakers": 3}));
        let accepted = accept(None, Some(&capped), None, true).unwrap();
        assert_eq!(accepted.speakers.max_speakers, 3);
        let mut object = serde_json::Map::new();
        for field in CONFIG_FIELDS {
            object.insert((*field).to_owned(), serde_json::Value::Null);
        }
        assert!(start(serde_json::Value::Object(object)).unknown.is_empty());
    }

    #[test]
    fn languages_fix_or_detect() {
        assert_eq!(
            decode_language(Some(&["de".into()]), true).unwrap(),
            Some("de".into())
        );
        assert_eq!(
            decode_language(Some(&["en-US".into()]), true).unwrap(),
            Some("en".into())
        );
        assert_eq!(
            decode_language(Some(&["en".into(), "hi".into()]), true).unwrap(),
            None
        );
        assert_eq!(
            decode_language(Some(&["en-US".into(), "en-GB".into()]), true).unwrap(),
            Some("en".into())
        );
        assert_eq!(decode_language(None, true).unwrap(), None);
        assert_eq!(decode_language(None, false).unwrap(), Some("en".into()));
        assert_eq!(
            decode_language(Some(&["de".into()]), false)
                .unwrap_err()
                .code,
            "unsupported_language"
        );
    }

    #[test]
    fn context_becomes_a_prompt() {
        let context = json!({"general": [{"key": "domain", "value": "Cricket coaching"}], "terms": ["Tendulkar"]});
        assert_eq!(
            context_prompt(Some(&context)).as_deref(),
            Some("Cricket coaching. Tendulkar")
        );
        assert_eq!(
            context_prompt(Some(&json!("Vocalis, Jambonz"))).as_deref(),
            Some("Vocalis, Jambonz")
        );
        assert_eq!(context_prompt(None), None);
    }
}
