//! `GET /v1/voices`: the voices this server speaks with, for pickers such as
//! the playground's. Vocalis loads one Piper voice (the `voice` setting);
//! `/ws/tts` and `/v1/audio/speech` speak every requested name with it, so
//! it is the one voice listed, marked `default`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use vocalis_models::Manifest;

use crate::auth::Authenticated;
use crate::server::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v1/voices", get(voices))
}

/// The body of `GET /v1/voices`.
#[derive(Debug, Serialize)]
pub struct VoiceList {
    /// Always `list`.
    pub object: &'static str,
    /// The voice used when a request names none (or names another).
    pub default: String,
    /// The voices.
    pub voices: Vec<Voice>,
}

/// One voice.
#[derive(Debug, Serialize)]
pub struct Voice {
    /// The name to pass as `voice` (`/ws/tts`, `/v1/audio/speech`).
    pub id: String,
    /// Its language tag, from the Piper name (`en_US-joe-medium` → `en_US`).
    pub language: Option<String>,
    /// The voice's native sample rate, in Hz.
    pub sample_rate: u32,
    /// The model manifest's description, when the voice is in it.
    pub description: Option<String>,
    /// Whether this is the default voice.
    pub default: bool,
}

async fn voices(State(state): State<AppState>, _caller: Authenticated) -> Json<VoiceList> {
    let id = state.engines.voice.clone();
    let description = Manifest::embedded()
        .get(&id)
        .ok()
        .map(|spec| spec.description.clone());
    Json(VoiceList {
        object: "list",
        default: id.clone(),
        voices: vec![Voice {
            language: language_of(&id),
            sample_rate: state.engines.voice_rate,
            description,
            default: true,
            id,
        }],
    })
}

/// The language part of a Piper voice name (`xx_YY-name-quality`).
fn language_of(voice: &str) -> Option<String> {
    let tag = voice.split('-').next()?;
    let (lang, region) = tag.split_once('_')?;
    let ok = lang.len() == 2
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && region.len() == 2
        && region.bytes().all(|b| b.is_ascii_uppercase());
    ok.then(|| tag.to_owned())
}

#[cfg(test)]
mod tests {
    use super::language_of;

    #[test]
    fn language_comes_from_the_piper_name() {
        assert_eq!(language_of("en_US-joe-medium").as_deref(), Some("en_US"));
        assert_eq!(language_of("de_DE-thorsten-high").as_deref(), Some("de_DE"));
        assert_eq!(language_of("custom"), None);
        assert_eq!(language_of("english-voice"), None);
    }
}
