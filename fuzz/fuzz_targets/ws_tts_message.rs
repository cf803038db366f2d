//! Fuzz target: a `/ws/tts` text frame through `ClientMessage::parse`.
//! Never panics; a context message has a 1–128 character id; parsing is
//! unchanged by re-serialising the frame; every encoding name that parses
//! round-trips through its wire name.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vocalis_server::wire::sixtydb_tts::{
    ClientMessage, ContextEncoding, ContextMessage, SessionMessage, TtsEncoding,
    MAX_CONTEXT_ID_CHARS,
};

fn wire_name(value: impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .expect("an encoding serialises")
        .as_str()
        .expect("an encoding is a string")
        .to_owned()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = ClientMessage::parse(text);
    // Every error renders (the route sends it to the client).
    if let Err(error) = &parsed {
        let _ = error.to_string();
    }
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        let again = serde_json::to_string(&value).expect("a value serialises");
        // Long numbers need not survive serde_json's inexact float parsing.
        if serde_json::from_str::<serde_json::Value>(&again).ok() == Some(value) {
            assert_eq!(ClientMessage::parse(&again), parsed, "{text}");
        }
    }
    let encoding = match parsed {
        Ok(ClientMessage::Context(message)) => {
            let id = match &message {
                ContextMessage::CreateContext(c) => &c.context_id,
                ContextMessage::SendText(s) => &s.context_id,
                ContextMessage::FlushContext(r) | ContextMessage::CloseContext(r) => &r.context_id,
            };
            assert!((1..=MAX_CONTEXT_ID_CHARS).contains(&id.chars().count()));
            let ContextMessage::CreateContext(create) = message else {
                return;
            };
            let Some(name) = create.audio_config.and_then(|a| a.audio_encoding) else {
                return;
            };
            if let Some(encoding) = ContextEncoding::from_name(&name) {
                assert_eq!(
                    ContextEncoding::from_name(&wire_name(encoding)),
                    Some(encoding)
                );
            }
            name
        }
        Ok(ClientMessage::Session(SessionMessage::Start {
            config: Some(config),
            ..
        })) => match config.encoding {
            Some(name) => name,
            None => return,
        },
        _ => return,
    };
    if let Some(encoding) = TtsEncoding::from_name(&encoding) {
        assert_eq!(TtsEncoding::from_name(&wire_name(encoding)), Some(encoding));
    }
});
