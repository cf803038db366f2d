//! Checking a `/v1/audio/speech` request: the model and voice names it may
//! use (all mean the served Piper voice) and the output format and rate
//! from `encoding` or `response_format`.

use vocalis_audio::OutputFormat;
use vocalis_models::{Manifest, ModelKind};

use crate::error::ApiError;
use crate::server::AppState;

/// Model names that mean the served voice.
const TTS_MODELS: [&str; 5] = [
    "basics-tts",
    "tts-1",
    "tts-1-hd",
    "gpt-4o-mini-tts",
    "piper",
];

/// OpenAI's voices; all map to the served voice.
const OPENAI_VOICES: [&str; 13] = [
    "alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse",
    "marin", "cedar",
];

/// The output formats, for error messages.
const FORMATS: &str =
    "mp3, wav, pcm (24 kHz s16le), linear16, mulaw, alaw, opus (Ogg, 48 kHz), flac";

pub(super) fn check_model(state: &AppState, model: Option<&str>) -> Result<(), ApiError> {
    let Some(model) = model.map(str::trim).filter(|m| !m.is_empty()) else {
        return Ok(());
    };
    if TTS_MODELS.iter().any(|m| m.eq_ignore_ascii_case(model))
        || model.eq_ignore_ascii_case(&state.engines.voice)
    {
        return Ok(());
    }
    Err(ApiError::InvalidPayload(format!(
        "unknown model `{model}`; accepted: {}, {}",
        TTS_MODELS.join(", "),
        state.engines.voice
    )))
}

/// `default`, OpenAI voice names and unknown-but-plausible names mean the
/// served voice; another Piper voice from the manifest cannot be served
/// by this process (400 naming the served one).
pub(super) fn check_voice(state: &AppState, voice: Option<&str>) -> Result<(), ApiError> {
    let Some(voice) = voice.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(());
    };
    let served = &state.engines.voice;
    if voice.eq_ignore_ascii_case("default")
        || voice.eq_ignore_ascii_case(served)
        || OPENAI_VOICES.iter().any(|v| v.eq_ignore_ascii_case(voice))
    {
        return Ok(());
    }
    if Manifest::embedded()
        .get(voice)
        .is_ok_and(|spec| spec.kind == ModelKind::Tts)
    {
        return Err(ApiError::InvalidPayload(format!(
            "voice `{voice}` is not loaded; this server serves `{served}`"
        )));
    }
    let plausible = voice.len() <= 64
        && voice
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' '));
    if plausible {
        Ok(())
    } else {
        Err(ApiError::InvalidPayload(format!(
            "`voice` must be a voice name (letters, digits, `_`, `-`, `.`; at most 64), got `{}`",
            voice.escape_debug()
        )))
    }
}

/// The output format and its default rate, from `encoding` or
/// `response_format` (which must agree when both are given).
pub(super) fn output_format(
    encoding: Option<&str>,
    response_format: Option<&str>,
    voice_rate: u32,
) -> Result<(OutputFormat, u32), ApiError> {
    let name = match (encoding.map(str::trim), response_format.map(str::trim)) {
        (Some(a), Some(b)) if !a.eq_ignore_ascii_case(b) => {
            return Err(ApiError::InvalidPayload(format!(
                "`encoding` ({a}) and `response_format` ({b}) disagree; give one"
            )))
        }
        (Some(name), _) | (None, Some(name)) => name.to_ascii_lowercase(),
        (None, None) => "mp3".to_owned(),
    };
    let mp3_rate = if OutputFormat::Mp3.supports_rate(voice_rate) {
        voice_rate
    } else {
        24_000
    };
    Ok(match name.as_str() {
        "mp3" | "mpeg" => (OutputFormat::Mp3, mp3_rate),
        "wav" | "wave" => (OutputFormat::Wav, voice_rate),
        "pcm" | "linear16" | "pcm16" | "l16" | "s16le" => (OutputFormat::Pcm16, 24_000),
        "mulaw" | "ulaw" | "pcmu" => (OutputFormat::Mulaw, 8_000),
        "alaw" | "pcma" => (OutputFormat::Alaw, 8_000),
        "opus" | "ogg_opus" | "ogg-opus" => (OutputFormat::Opus, 48_000),
        "flac" => (OutputFormat::Flac, voice_rate),
        other => {
            return Err(ApiError::InvalidPayload(format!(
                "unsupported format `{other}`; supported: {FORMATS}"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_rates() {
        let f = |e: Option<&str>, r: Option<&str>| output_format(e, r, 22_050);
        assert_eq!(f(None, None).unwrap(), (OutputFormat::Mp3, 22_050));
        assert_eq!(f(Some("wav"), None).unwrap(), (OutputFormat::Wav, 22_050));
        assert_eq!(f(None, Some("pcm")).unwrap(), (OutputFormat::Pcm16, 24_000));
        assert_eq!(
            f(Some("mulaw"), None).unwrap(),
            (OutputFormat::Mulaw, 8_000)
        );
        assert_eq!(f(Some("MP3"), Some("mp3")).unwrap().0, OutputFormat::Mp3);
        assert!(f(Some("mp3"), Some("wav")).is_err());
        assert_eq!(f(None, Some("opus")).unwrap(), (OutputFormat::Opus, 48_000));
        assert_eq!(f(None, Some("flac")).unwrap(), (OutputFormat::Flac, 22_050));
        let err = f(None, Some("aac")).unwrap_err();
        assert!(err.to_string().contains("mp3, wav"), "{err}");
        assert_eq!(
            output_format(None, None, 16_000).unwrap(),
            (OutputFormat::Mp3, 16_000)
        );
    }
}
