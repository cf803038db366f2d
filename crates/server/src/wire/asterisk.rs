//! Asterisk `chan_websocket` control frames (text), in the plain-text form
//! (`MEDIA_START connection_id:abc channel:PJSIP/x format:ulaw
//! optimal_frame_size:160 ptime:20`) and the JSON form
//! (`control_message_format=json`: `{"type":"MEDIA_START","format":"slin16",…}`).
//! Media itself arrives as binary frames in the negotiated codec.

use std::collections::BTreeMap;

use serde_json::Value;

/// One control frame: its name (`MEDIA_START`, `MEDIA_XOFF`, `DTMF_END`…)
/// and its `key:value` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Control {
    /// Upper-case event name.
    pub name: String,
    /// Parameters, keys lower-case.
    pub params: BTreeMap<String, String>,
}

/// A media codec Asterisk may send, as the recogniser takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// G.711 μ-law, 8 kHz.
    Ulaw,
    /// G.711 A-law, 8 kHz.
    Alaw,
    /// Signed linear 16-bit little-endian at this rate.
    Slin(u32),
}

impl Control {
    /// Parses a text frame; `None` when it is not a control frame.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.starts_with('{') {
            let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) else {
                return None;
            };
            let name = map
                .get("type")
                .or_else(|| map.get("event"))
                .or_else(|| map.get("command"))
                .and_then(Value::as_str)?
                .to_ascii_uppercase();
            if !is_control_name(&name) {
                return None;
            }
            let params = map
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "type" | "event" | "command"))
                .map(|(k, v)| {
                    let value = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    (k.to_ascii_lowercase(), value)
                })
                .collect();
            return Some(Self { name, params });
        }
        let mut words = text.split_whitespace();
        let name = words.next()?.to_ascii_uppercase();
        if !is_control_name(&name) {
            return None;
        }
        let params = words
            .filter_map(|w| w.split_once(':'))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
            .collect();
        Some(Self { name, params })
    }

    /// The codec named by `format` (also `codec`), if any.
    pub fn codec(&self) -> Option<Result<Codec, String>> {
        let format = self
            .params
            .get("format")
            .or_else(|| self.params.get("codec"))?;
        Some(codec(format))
    }
}

/// An Asterisk format name as a codec: `ulaw`, `alaw`, `slin` (8 kHz),
/// `slin12` … `slin192`.
pub fn codec(format: &str) -> Result<Codec, String> {
    let format = format.trim().to_ascii_lowercase();
    match format.as_str() {
        "ulaw" | "mulaw" | "pcmu" => Ok(Codec::Ulaw),
        "alaw" | "pcma" => Ok(Codec::Alaw),
        "slin" => Ok(Codec::Slin(8_000)),
        other => match other
            .strip_prefix("slin")
            .and_then(|k| k.parse::<u32>().ok())
        {
            Some(44) => Ok(Codec::Slin(44_100)),
            Some(khz) if (8..=192).contains(&khz) => Ok(Codec::Slin(khz * 1000)),
            _ => Err(format!(
                "format `{format}` is not supported; use ulaw, alaw, slin or slin16"
            )),
        },
    }
}

fn is_control_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
        && name.contains('_')
        || matches!(name, "ANSWER" | "HANGUP" | "STATUS")
}

/// Whether a text frame is an Asterisk control frame.
pub fn looks_like(text: &str) -> bool {
    Control::parse(text)
        .is_some_and(|c| c.name.starts_with("MEDIA_") || c.name.starts_with("DTMF_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_json_media_start_name_the_codec() {
        let plain = Control::parse(
            "MEDIA_START connection_id:abc channel:PJSIP/alice-0001 format:slin16 optimal_frame_size:640 ptime:20",
        )
        .unwrap();
        assert_eq!(plain.name, "MEDIA_START");
        assert_eq!(plain.codec(), Some(Ok(Codec::Slin(16_000))));
        let json = Control::parse(
            r#"{"type":"MEDIA_START","connection_id":"abc","format":"ulaw","optimal_frame_size":160}"#,
        )
        .unwrap();
        assert_eq!(json.codec(), Some(Ok(Codec::Ulaw)));
        assert_eq!(json.params["optimal_frame_size"], "160");
        assert!(looks_like("MEDIA_XOFF"));
        assert!(looks_like(r#"{"event":"DTMF_END","digit":"5"}"#));
        assert!(!looks_like(r#"{"type":"start"}"#));
        assert!(!looks_like("hello world"));
        assert_eq!(codec("slin"), Ok(Codec::Slin(8_000)));
        assert_eq!(codec("slin44"), Ok(Codec::Slin(44_100)));
        assert!(codec("opus").is_err());
    }
}
