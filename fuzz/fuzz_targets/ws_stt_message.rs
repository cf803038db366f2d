//! Fuzz target: a `/ws/stt` text frame through the route's parse and `start`
//! validation. Never panics; a parse is the same whether the route's
//! `from_str` or a `Value` re-serialisation is used; an accepted `start`
//! has settings inside the documented limits.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vocalis_server::routes::ws_stt::start::{accept, context_prompt, MAX_LANGUAGES};
use vocalis_server::wire::sixtydb::SttClientMessage;

const RATES: [u32; 6] = [8_000, 16_000, 22_050, 24_000, 44_100, 48_000];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Exactly what the route does with a text frame.
    let Ok(message) = SttClientMessage::parse(text) else {
        return;
    };
    // The same frame, re-serialised through a JSON value, parses the same
    // (unless the re-serialised value itself differs: serde_json's float
    // parsing is not exact for long numbers, so a value need not survive).
    let value: serde_json::Value = serde_json::from_str(text).expect("parsed once already");
    let again = serde_json::to_string(&value).expect("a value serialises");
    if serde_json::from_str::<serde_json::Value>(&again).ok() != Some(value) {
        return;
    }
    assert_eq!(
        SttClientMessage::parse(&again).ok().as_ref(),
        Some(&message),
        "{text}"
    );
    let SttClientMessage::Start {
        languages,
        config,
        context,
    } = message
    else {
        return;
    };
    let prompt = context_prompt(context.as_ref());
    if let Some(prompt) = &prompt {
        assert!(!prompt.is_empty() && prompt.chars().count() <= 600);
    }
    for multilingual in [false, true] {
        let Ok(accepted) = accept(
            languages.clone(),
            config.as_ref(),
            prompt.clone(),
            multilingual,
        ) else {
            continue;
        };
        let effective = &accepted.effective;
        assert!(RATES.contains(&effective.sample_rate), "{effective:?}");
        assert!((300..=10_000).contains(&effective.utterance_end_ms));
        assert!(effective
            .languages
            .as_ref()
            .is_none_or(|l| l.len() <= MAX_LANGUAGES));
        let language = accepted.streaming.options.language.as_deref();
        if !multilingual {
            assert_eq!(language, Some("en"));
        }
        if let Some(code) = language {
            assert!((2..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_lowercase()));
        }
    }
});
