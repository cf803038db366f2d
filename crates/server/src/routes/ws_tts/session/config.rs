//! Validation of the `start` and `create_context` settings.

use vocalis_audio::OutputFormat;

use super::Reject;
use crate::wire::sixtydb_tts::{ContextEncoding, CreateContext, StartConfig, TtsEncoding};

use super::{CONTEXT_RATES, SESSION_RATES};

/// Speaking rates accepted.
const SPEEDS: std::ops::RangeInclusive<f32> = 0.5..=2.0;

pub(super) fn output_format(encoding: TtsEncoding) -> OutputFormat {
    match encoding {
        TtsEncoding::Linear16 => OutputFormat::Pcm16,
        TtsEncoding::Mulaw => OutputFormat::Mulaw,
        TtsEncoding::Alaw => OutputFormat::Alaw,
        TtsEncoding::Mp3 => OutputFormat::Mp3,
        TtsEncoding::Wav => OutputFormat::Wav,
    }
}

pub(super) fn context_format(encoding: ContextEncoding) -> OutputFormat {
    match encoding {
        ContextEncoding::Linear16 => OutputFormat::Pcm16,
        ContextEncoding::Mulaw => OutputFormat::Mulaw,
        ContextEncoding::Alaw => OutputFormat::Alaw,
        ContextEncoding::Mp3 => OutputFormat::Mp3,
    }
}

fn check_speed(speed: Option<f32>) -> Result<f32, Reject> {
    let speed = speed.unwrap_or(1.0);
    if SPEEDS.contains(&speed) {
        Ok(speed)
    } else {
        Err(Reject::new(
            "invalid_config",
            format!("speed must be between 0.5 and 2.0, got {speed}"),
        ))
    }
}

/// Validates a `start` config: (encoding, rate, speed).
pub(super) fn session_config(
    config: &StartConfig,
    voice_rate: u32,
) -> Result<(TtsEncoding, u32, f32), Reject> {
    let encoding = match config.encoding.as_deref() {
        None => TtsEncoding::Linear16,
        Some(name) => TtsEncoding::from_name(name).ok_or_else(|| {
            Reject::new(
                "unsupported_encoding",
                format!("unsupported encoding `{name}` (use linear16, mulaw, alaw, mp3 or wav)"),
            )
        })?,
    };
    let rate = match (config.sample_rate, encoding) {
        (Some(rate), _) => rate,
        (None, TtsEncoding::Mulaw | TtsEncoding::Alaw) => 8_000,
        (None, _) => voice_rate,
    };
    if !SESSION_RATES.contains(&rate) {
        return Err(Reject::new(
            "unsupported_sample_rate",
            format!("unsupported sample_rate {rate} (use 8000, 16000, 22050, 24000 or 48000)"),
        ));
    }
    Ok((encoding, rate, check_speed(config.speed)?))
}

/// Validates a `create_context`: (encoding, rate, speed).
pub(super) fn context_config(
    create: &CreateContext,
) -> Result<(ContextEncoding, u32, f32), Reject> {
    let id = create.context_id.as_str();
    let config = create.audio_config.clone().unwrap_or_default();
    let encoding = match config.audio_encoding.as_deref() {
        None => ContextEncoding::Linear16,
        Some(name) => ContextEncoding::from_name(name).ok_or_else(|| {
            Reject::new(
                "unsupported_encoding",
                format!("Unsupported audio_encoding `{name}` (use LINEAR16, MULAW, ALAW or MP3)"),
            )
            .context(id)
        })?,
    };
    let telephony = matches!(encoding, ContextEncoding::Mulaw | ContextEncoding::Alaw);
    let rate = match config.sample_rate_hertz {
        Some(rate) => rate,
        None if telephony => 8_000,
        None => 16_000,
    };
    if !CONTEXT_RATES.contains(&rate) {
        return Err(Reject::new(
            "unsupported_sample_rate",
            format!("Unsupported sample_rate_hertz {rate} (use 8000, 16000, 24000 or 48000)"),
        )
        .context(id));
    }
    if telephony && rate != 8_000 {
        return Err(Reject::new(
            "unsupported_sample_rate",
            format!(
                "Unsupported sample_rate_hertz {rate}: MULAW and ALAW are only available at 8000"
            ),
        )
        .context(id));
    }
    let speed = check_speed(create.speed).map_err(|r| r.context(id))?;
    Ok((encoding, rate, speed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::sixtydb_tts::AudioConfig;

    fn create(encoding: Option<&str>, rate: Option<u32>) -> CreateContext {
        CreateContext {
            context_id: "c".into(),
            voice_id: None,
            audio_config: Some(AudioConfig {
                audio_encoding: encoding.map(Into::into),
                sample_rate_hertz: rate,
            }),
            speed: None,
        }
    }

    #[test]
    fn context_configs_follow_the_60db_rules() {
        let ok = |e, r| context_config(&create(e, r)).map(|(e, r, _)| (e, r)).ok();
        assert_eq!(
            ok(Some("LINEAR16"), Some(16_000)),
            Some((ContextEncoding::Linear16, 16_000))
        );
        assert_eq!(
            ok(Some("MULAW"), None),
            Some((ContextEncoding::Mulaw, 8_000))
        );
        assert_eq!(ok(None, None), Some((ContextEncoding::Linear16, 16_000)));
        for (encoding, rate, code, needle) in [
            (
                Some("LINEAR16"),
                Some(44_100),
                "unsupported_sample_rate",
                "Unsupported sample_rate_hertz",
            ),
            (
                Some("MULAW"),
                Some(16_000),
                "unsupported_sample_rate",
                "only available at 8000",
            ),
            (
                Some("OGG_OPUS"),
                Some(24_000),
                "unsupported_encoding",
                "Unsupported audio_encoding",
            ),
        ] {
            let Err(reject) = context_config(&create(encoding, rate)) else {
                panic!("{encoding:?} {rate:?} accepted");
            };
            assert_eq!(reject.code, code);
            assert!(reject.message.contains(needle), "{}", reject.message);
            assert_eq!(reject.context_id.as_deref(), Some("c"));
        }
    }

    #[test]
    fn session_configs_default_and_validate() {
        let config = |encoding: Option<&str>, rate, speed| StartConfig {
            encoding: encoding.map(Into::into),
            sample_rate: rate,
            speed,
        };
        let (e, r, s) = session_config(&config(None, None, None), 22_050)
            .ok()
            .unwrap();
        assert_eq!((e, r, s), (TtsEncoding::Linear16, 22_050, 1.0));
        let (e, r, _) = session_config(&config(Some("mulaw"), None, None), 22_050)
            .ok()
            .unwrap();
        assert_eq!((e, r), (TtsEncoding::Mulaw, 8_000));
        for (cfg, code) in [
            (config(Some("opus"), None, None), "unsupported_encoding"),
            (config(None, Some(44_100), None), "unsupported_sample_rate"),
            (config(None, None, Some(3.0)), "invalid_config"),
        ] {
            let Err(reject) = session_config(&cfg, 22_050) else {
                panic!("{cfg:?} accepted")
            };
            assert_eq!(reject.code, code);
        }
    }
}
