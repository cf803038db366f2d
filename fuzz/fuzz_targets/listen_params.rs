//! Fuzz target: Deepgram `/v1/listen` input. An even first byte fuzzes the
//! query string (`ListenParams::from_query`), an odd one a live control
//! message (`KeepAlive`, `Finalize`, `CloseStream`).
//!
//! Never panics; accepted parameters are within their limits and survive a
//! round trip through a query string written from them; a parsed control
//! message round-trips through its JSON form.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vocalis_server::wire::deepgram::{ClientMessage, Endpointing, ListenParams};

/// A query string that parses back into `params` (keywords get an explicit
/// intensifier, which parsing strips).
fn to_query(params: &ListenParams) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in [("model", &params.model), ("language", &params.language)] {
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    for (name, value) in [
        ("detect_language", params.detect_language),
        ("punctuate", params.punctuate),
        ("smart_format", params.smart_format),
        ("diarize", params.diarize),
        ("multichannel", params.multichannel),
        ("interim_results", params.interim_results),
        ("vad_events", params.vad_events),
        ("utterances", params.utterances),
    ] {
        query.append_pair(name, if value { "true" } else { "false" });
    }
    if let Some(channels) = params.channels {
        query.append_pair("channels", &channels.to_string());
    }
    if let Some(encoding) = &params.encoding {
        query.append_pair("encoding", encoding);
    }
    if let Some(rate) = params.sample_rate {
        query.append_pair("sample_rate", &rate.to_string());
    }
    for keyword in &params.keywords {
        query.append_pair("keywords", &format!("{keyword}:1"));
    }
    for term in &params.keyterm {
        query.append_pair("keyterm", term);
    }
    match params.endpointing {
        Some(Endpointing::Disabled) => {
            query.append_pair("endpointing", "false");
        }
        Some(Endpointing::Ms(ms)) => {
            query.append_pair("endpointing", &ms.to_string());
        }
        None => {}
    }
    if let Some(ms) = params.utterance_end_ms {
        query.append_pair("utterance_end_ms", &ms.to_string());
    }
    for name in &params.ignored {
        query.append_pair(name, "");
    }
    query.finish()
}

fn to_json(message: &ClientMessage) -> serde_json::Value {
    match message {
        ClientMessage::KeepAlive => serde_json::json!({"type": "KeepAlive"}),
        ClientMessage::Finalize { channel: None } => serde_json::json!({"type": "Finalize"}),
        ClientMessage::Finalize {
            channel: Some(channel),
        } => serde_json::json!({"type": "Finalize", "channel": channel}),
        ClientMessage::CloseStream => serde_json::json!({"type": "CloseStream"}),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if selector % 2 == 1 {
        // Exactly what the live route does with a text frame.
        if let Ok(message) = serde_json::from_str::<ClientMessage>(text) {
            let back: ClientMessage =
                serde_json::from_value(to_json(&message)).expect("round trip");
            assert_eq!(back, message, "{text}");
        }
        return;
    }
    let Ok(params) = ListenParams::from_query(Some(text)) else {
        return;
    };
    assert!(params.channels.is_none_or(|c| (1..=8).contains(&c)));
    for (i, name) in params.ignored.iter().enumerate() {
        assert!(!params.ignored[..i].contains(name), "duplicate {name}");
        assert!(!["apiKey", "api_key", "token"].contains(&name.as_str()));
    }
    if let Some(prompt) = params.prompt() {
        assert!(!prompt.trim().is_empty());
    }
    let _ = (params.punctuated(), params.fixed_language());
    let query = to_query(&params);
    assert_eq!(
        ListenParams::from_query(Some(&query)).as_ref(),
        Ok(&params),
        "{text:?} -> {query:?}"
    );
});
