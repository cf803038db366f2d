//! The query parameters of `/v1/listen`, shared by the pre-recorded `POST`
//! and the live WebSocket, with Deepgram's names and defaults.

/// A query parameter with a value Deepgram would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query parameter `{name}={value}` is invalid: expected {expected}")]
pub struct ParamError {
    /// The parameter.
    pub name: String,
    /// The value given.
    pub value: String,
    /// What would have been accepted.
    pub expected: &'static str,
}

/// `endpointing=`: silence (ms) that ends an utterance, or `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpointing {
    /// Turned off (`endpointing=false`).
    Disabled,
    /// After this many ms of silence.
    Ms(u32),
}

/// Most audio channels any route accepts: the `channels` query parameter,
/// a live WAV header on `/v1/listen`, and per-channel transcription of
/// uploads (`multichannel=true`).
pub const MAX_CHANNELS: u16 = 8;

/// The query parameters of `/v1/listen` (pre-recorded and live), with
/// Deepgram's names and defaults. Unknown parameters are collected in
/// [`ignored`](Self::ignored), never refused (Deepgram adds features often).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListenParams {
    /// `model` (e.g. `nova-3`); `None` = the served model.
    pub model: Option<String>,
    /// `language` (BCP-47; `multi` or absent = detect on multilingual models).
    pub language: Option<String>,
    /// `detect_language`.
    pub detect_language: bool,
    /// `punctuate`.
    pub punctuate: bool,
    /// `smart_format` (implies punctuation).
    pub smart_format: bool,
    /// `diarize`.
    pub diarize: bool,
    /// `multichannel`.
    pub multichannel: bool,
    /// `channels` (raw audio), default 1.
    pub channels: Option<u16>,
    /// `encoding` of raw audio (`linear16`, `mulaw`, `alaw`, …).
    pub encoding: Option<String>,
    /// `sample_rate` of raw audio.
    pub sample_rate: Option<u32>,
    /// `keywords` (repeatable; the `:intensifier` suffix removed).
    pub keywords: Vec<String>,
    /// `keyterm` (repeatable).
    pub keyterm: Vec<String>,
    /// `interim_results` (live).
    pub interim_results: bool,
    /// `endpointing` (live); `None` = Deepgram's default of 10 ms.
    pub endpointing: Option<Endpointing>,
    /// `utterance_end_ms` (live; needs `interim_results`).
    pub utterance_end_ms: Option<u32>,
    /// `vad_events` (live).
    pub vad_events: bool,
    /// `utterances` (pre-recorded).
    pub utterances: bool,
    /// `utt_split`: seconds of pause between words that start a new
    /// utterance (pre-recorded, with `utterances`); `None` = Deepgram's 0.8.
    pub utt_split: Option<f64>,
    /// Speaker-count hints for `diarize`: `diarize_speakers` fixes the
    /// count, `min_speakers` / `max_speakers` bound it (1–16). Live, only the
    /// upper bound can be applied (a cap).
    pub diarize_speakers: Option<u32>,
    /// `min_speakers`.
    pub min_speakers: Option<u32>,
    /// `max_speakers`.
    pub max_speakers: Option<u32>,
    /// Names of parameters that were not understood and are ignored.
    pub ignored: Vec<String>,
}

fn parse_bool(name: &str, value: &str) -> Result<bool, ParamError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ParamError {
            name: name.to_owned(),
            value: value.to_owned(),
            expected: "true or false",
        }),
    }
}

fn parse_num<T: std::str::FromStr>(
    name: &str,
    value: &str,
    expected: &'static str,
) -> Result<T, ParamError> {
    value.trim().parse().map_err(|_| ParamError {
        name: name.to_owned(),
        value: value.to_owned(),
        expected,
    })
}

/// `word:2.5` → `word` (Deepgram's keyword intensifier is not a prompt word).
fn strip_intensifier(keyword: &str) -> &str {
    match keyword.rsplit_once(':') {
        Some((word, boost)) if boost.trim().parse::<f32>().is_ok() => word,
        _ => keyword,
    }
}

/// Credential parameters, which are not Deepgram options.
const CREDENTIAL_PARAMS: [&str; 3] = ["apiKey", "api_key", "token"];

impl ListenParams {
    /// Parses a raw query string (`a=1&keywords=x&keywords=y`).
    pub fn from_query(query: Option<&str>) -> Result<Self, ParamError> {
        let mut params = Self::default();
        let Some(query) = query else {
            return Ok(params);
        };
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let (name, value) = (name.as_ref(), value.trim());
            match name {
                "model" if !value.is_empty() => params.model = Some(value.to_owned()),
                "language" if !value.is_empty() => params.language = Some(value.to_owned()),
                "detect_language" => params.detect_language = parse_bool(name, value)?,
                "punctuate" => params.punctuate = parse_bool(name, value)?,
                "smart_format" => params.smart_format = parse_bool(name, value)?,
                "diarize" => params.diarize = parse_bool(name, value)?,
                "multichannel" => params.multichannel = parse_bool(name, value)?,
                "interim_results" => params.interim_results = parse_bool(name, value)?,
                "vad_events" => params.vad_events = parse_bool(name, value)?,
                "utterances" => params.utterances = parse_bool(name, value)?,
                "channels" => {
                    let channels: u16 = parse_num(name, value, "a channel count of 1 to 8")?;
                    if !(1..=MAX_CHANNELS).contains(&channels) {
                        return Err(ParamError {
                            name: name.into(),
                            value: value.into(),
                            expected: "a channel count of 1 to 8",
                        });
                    }
                    params.channels = Some(channels);
                }
                "encoding" if !value.is_empty() => {
                    params.encoding = Some(value.to_ascii_lowercase())
                }
                "sample_rate" => {
                    params.sample_rate = Some(parse_num(name, value, "a sample rate in Hz")?)
                }
                "keywords" | "keyword" if !value.is_empty() => {
                    params.keywords.push(strip_intensifier(value).to_owned())
                }
                "keyterm" | "keyterms" if !value.is_empty() => {
                    params.keyterm.push(value.to_owned())
                }
                "endpointing" => {
                    params.endpointing = Some(match value.to_ascii_lowercase().as_str() {
                        "false" => Endpointing::Disabled,
                        "true" => Endpointing::Ms(10),
                        _ => Endpointing::Ms(parse_num(name, value, "milliseconds or false")?),
                    })
                }
                "utt_split" => {
                    let split: f64 = parse_num(name, value, "seconds (e.g. 0.8)")?;
                    if !(split.is_finite() && (0.0..=3600.0).contains(&split)) {
                        return Err(ParamError {
                            name: name.into(),
                            value: value.into(),
                            expected: "seconds (e.g. 0.8)",
                        });
                    }
                    params.utt_split = Some(split);
                }
                "diarize_speakers" | "min_speakers" | "max_speakers" => {
                    let n: u32 = parse_num(name, value, "a speaker count of 1 to 16")?;
                    if !(1..=16).contains(&n) {
                        return Err(ParamError {
                            name: name.into(),
                            value: value.into(),
                            expected: "a speaker count of 1 to 16",
                        });
                    }
                    *match name {
                        "diarize_speakers" => &mut params.diarize_speakers,
                        "min_speakers" => &mut params.min_speakers,
                        _ => &mut params.max_speakers,
                    } = Some(n);
                }
                "utterance_end_ms" => {
                    params.utterance_end_ms = Some(parse_num(name, value, "milliseconds")?)
                }
                _ if CREDENTIAL_PARAMS.contains(&name) => {}
                _ => {
                    if !params.ignored.iter().any(|n| n == name) {
                        params.ignored.push(name.to_owned());
                    }
                }
            }
        }
        Ok(params)
    }

    /// Keywords and key terms as one Whisper prompt (`None` when there are none).
    pub fn prompt(&self) -> Option<String> {
        let terms: Vec<&str> = self
            .keyterm
            .iter()
            .chain(&self.keywords)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect();
        (!terms.is_empty()).then(|| terms.join(", "))
    }

    /// Whether transcripts carry punctuation and casing.
    pub fn punctuated(&self) -> bool {
        self.punctuate || self.smart_format
    }

    /// The language to force, if any (`multi` and absent mean detect).
    pub fn fixed_language(&self) -> Option<&str> {
        if self.detect_language {
            return None;
        }
        match self.language.as_deref() {
            None | Some("multi") | Some("auto") => None,
            // `en-US` → `en`: Whisper knows languages, not regions. A code
            // with no language part (`-x`) is kept whole, to be refused.
            Some(code) => match code.split(['-', '_']).next() {
                Some(base) if !base.is_empty() => Some(base),
                _ => Some(code),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_parse_like_deepgram() {
        let p = ListenParams::from_query(Some(
            "model=nova-2&punctuate=true&keywords=Vocalis:2&keywords=Piper&keyterm=whisper.cpp\
             &encoding=MULAW&sample_rate=8000&endpointing=false&apiKey=x&redact=pci",
        ))
        .unwrap();
        assert_eq!(p.model.as_deref(), Some("nova-2"));
        assert!(p.punctuated());
        assert_eq!(p.encoding.as_deref(), Some("mulaw"));
        assert_eq!(p.sample_rate, Some(8000));
        assert_eq!(p.endpointing, Some(Endpointing::Disabled));
        assert_eq!(p.prompt().as_deref(), Some("whisper.cpp, Vocalis, Piper"));
        assert_eq!(p.ignored, vec!["redact".to_owned()]);
        let err = ListenParams::from_query(Some("diarize=maybe")).unwrap_err();
        assert_eq!(err.name, "diarize");
        assert!(ListenParams::from_query(Some("channels=0")).is_err());
        let p = ListenParams::from_query(Some("language=en-US")).unwrap();
        assert_eq!(p.fixed_language(), Some("en"));
        assert_eq!(ListenParams::default().fixed_language(), None);
        let p = ListenParams::from_query(Some("utterances=true&utt_split=1.5")).unwrap();
        assert!(p.utterances);
        assert_eq!(p.utt_split, Some(1.5));
        assert!(ListenParams::from_query(Some("utt_split=-1")).is_err());
        assert!(ListenParams::from_query(Some("utt_split=NaN")).is_err());
        let p =
            ListenParams::from_query(Some("diarize=true&min_speakers=2&max_speakers=3")).unwrap();
        assert_eq!((p.min_speakers, p.max_speakers), (Some(2), Some(3)));
        assert!(p.ignored.is_empty());
        assert!(ListenParams::from_query(Some("diarize_speakers=0")).is_err());
        assert!(ListenParams::from_query(Some("max_speakers=17")).is_err());
    }
}
