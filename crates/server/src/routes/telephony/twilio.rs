//! Twilio Media Streams on the live STT routes (`/v1/twilio`, and `/ws/stt`
//! or `/v1/listen` when the first text frame is Twilio's).
//!
//! Each track of `start.tracks` (`inbound` caller, `outbound` agent) is its
//! own channel with its own recogniser and transcripts, tagged `track` and
//! `channel`. Twilio sends no headers or query string on `<Stream>`, so the
//! API key may come from `start.customParameters` (`apiKey`): the route
//! checks it before any audio is processed ([`super::serve_twilio`]).
//!
//! Speech back to the caller (bidirectional `<Connect><Stream>`): the
//! `greeting` custom parameter is spoken after `start`, and a bridge in front
//! of Twilio may inject `{"event":"speak","text":…,"mark":…}`. The audio goes
//! out as Twilio `media` frames (base64 μ-law 8 kHz) followed by a `mark`;
//! `clear` drops what is still queued and is forwarded to Twilio.

use std::sync::Arc;

use base64::Engine as _;
use vocalis_inference::streaming::{StreamEvent, StreamingConfig};
use vocalis_inference::stt::TranscribeOptions;

use super::playback::{Playback, Played};
use crate::billing::{Committed, Meter};
use crate::engine::Engines;
use crate::error::SessionClose;
use crate::metrics::Metrics;
use crate::routes::ws_stt::events::EventWriter;
use crate::session::audio_input::{AudioInput, InputEncoding};
use crate::session::live::{json, Core, Dialect, End, Frame, Outbox, PoolStream};
use crate::session::pacing::Pacer;
use crate::session::stt_stream::SttStream;
use crate::store::ledger::Outcome;
use crate::wire::sixtydb::SttServerMessage;
use crate::wire::twilio::{Inbound, MarkBody, MediaOut, Outbound, StartInfo};

/// One Twilio stream's translation state.
pub struct Twilio {
    engines: Arc<Engines>,
    metrics: Arc<Metrics>,
    pacer: Pacer,
    stream_sid: String,
    tracks: Vec<String>,
    writers: Vec<EventWriter>,
    started: bool,
    told_not_started: bool,
    playback: Playback,
    speaks: usize,
    tts_meter: Option<Meter>,
    new_tts_meter: Option<MeterFactory>,
}

/// Starts the meter of speech played back, on the first `speak`.
pub type MeterFactory = Box<dyn FnOnce() -> Meter + Send>;

fn error(code: &'static str, message: impl Into<String>) -> axum::extract::ws::Message {
    json(&Outbound::error(code, message))
}

impl Twilio {
    /// A stream not started yet; `new_tts_meter` bills speech played back
    /// (one `tts` usage record, written only when something was spoken).
    pub fn new(
        engines: Arc<Engines>,
        metrics: Arc<Metrics>,
        pacer: Pacer,
        new_tts_meter: MeterFactory,
    ) -> Self {
        Self {
            playback: Playback::new(engines.clone()),
            engines,
            metrics,
            pacer,
            stream_sid: String::new(),
            tracks: Vec::new(),
            writers: Vec::new(),
            started: false,
            told_not_started: false,
            speaks: 0,
            tts_meter: None,
            new_tts_meter: Some(new_tts_meter),
        }
    }

    fn start(
        &mut self,
        core: &mut Core<PoolStream>,
        sid: Option<String>,
        start: StartInfo,
        out: &mut Outbox,
    ) -> Result<(), End> {
        if self.started {
            out.push(error("already_started", "the stream has already started"));
            return Ok(());
        }
        let format = start.media_format.clone();
        let encoding = match format
            .as_ref()
            .and_then(|f| f.encoding.as_deref())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("audio/x-mulaw" | "audio/mulaw" | "audio/pcmu" | "mulaw") => {
                InputEncoding::Mulaw
            }
            Some("audio/x-alaw" | "audio/alaw" | "audio/pcma" | "alaw") => InputEncoding::Alaw,
            Some("audio/x-l16" | "audio/l16" | "linear16") => InputEncoding::Linear16,
            Some(other) => {
                out.push(error(
                    "unsupported_encoding",
                    format!("mediaFormat.encoding `{other}` is not supported; Twilio streams audio/x-mulaw"),
                ));
                return Ok(());
            }
        };
        let rate = format.as_ref().and_then(|f| f.sample_rate).unwrap_or(8_000);
        let mut tracks: Vec<String> = Vec::new();
        for track in &start.tracks {
            let track = track.trim_end_matches("_track").to_owned();
            if !tracks.contains(&track) && tracks.len() < 2 {
                tracks.push(track);
            }
        }
        if tracks.is_empty() {
            tracks.push("inbound".into());
        }
        let param = |name: &str| {
            start.custom_parameters.get(name).and_then(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .or_else(|| Some(v.to_string()))
            })
        };
        let language = match param("language").map(|l| l.to_ascii_lowercase()) {
            Some(l) if !l.is_empty() => {
                let code = l.split(['-', '_']).next().unwrap_or("en").to_owned();
                if !self.engines.multilingual && code != "en" {
                    out.push(error(
                        "unsupported_language",
                        format!("the served model speaks English only, not `{l}`"),
                    ));
                    return Ok(());
                }
                Some(code)
            }
            _ if self.engines.multilingual => None,
            _ => Some("en".to_owned()),
        };
        let interim = param("interimResults")
            .or_else(|| param("interim_results"))
            .is_none_or(|v| v != "false");
        let config = StreamingConfig {
            interim_results: interim,
            options: TranscribeOptions {
                language,
                ..TranscribeOptions::default()
            },
            ..StreamingConfig::default()
        };
        let mut streams = Vec::new();
        for _ in &tracks {
            let input = match AudioInput::new(encoding, rate, 1) {
                Ok(input) => input,
                Err(e) => {
                    out.push(error("unsupported_sample_rate", e.to_string()));
                    return Ok(());
                }
            };
            let stream = SttStream::new(input, &self.engines.vad, config.clone())?
                .with_pacer(self.pacer.clone());
            streams.push(PoolStream::new(stream, self.engines.clone()));
        }
        core.open(streams);
        self.writers = tracks
            .iter()
            .map(|_| {
                let mut writer = EventWriter::new(self.engines.multilingual);
                writer.set_interim(interim);
                writer
            })
            .collect();
        self.tracks = tracks;
        self.stream_sid = sid.or(start.stream_sid.clone()).unwrap_or_default();
        self.started = true;
        if let Some(greeting) = param("greeting") {
            self.speak(&greeting, None, out);
        }
        Ok(())
    }

    fn speak(&mut self, text: &str, mark: Option<String>, out: &mut Outbox) {
        self.speaks += 1;
        let mark = mark.unwrap_or_else(|| format!("speak-{}", self.speaks));
        match self.playback.speak(text, mark) {
            Ok(()) => {
                if let Some(start) = self.new_tts_meter.take() {
                    self.tts_meter = Some(start());
                }
            }
            Err(why) => out.push(error("invalid_message", why)),
        }
    }
}

impl Dialect<PoolStream> for Twilio {
    async fn on_frame(
        &mut self,
        core: &mut Core<PoolStream>,
        frame: Frame,
        out: &mut Outbox,
    ) -> Result<(), End> {
        let text = match frame {
            Frame::Text(text) => text,
            Frame::Binary(_) => {
                out.push(error(
                    "invalid_message",
                    "Twilio Media Streams send JSON text frames; binary frames are ignored",
                ));
                return Ok(());
            }
        };
        let inbound = match serde_json::from_str::<Inbound>(&text) {
            Ok(inbound) => inbound,
            Err(e) => {
                out.push(error("invalid_message", format!("cannot parse frame: {e}")));
                return Ok(());
            }
        };
        match inbound {
            Inbound::Connected { .. } | Inbound::Mark { .. } | Inbound::Dtmf { .. } => core.touch(),
            Inbound::Start { stream_sid, start } => {
                core.touch();
                self.start(core, stream_sid, start, out)?;
            }
            Inbound::Media { media } => {
                core.touch();
                if !self.started {
                    if !self.told_not_started {
                        self.told_not_started = true;
                        out.push(error("not_started", "media before `start` is ignored"));
                    }
                    return Ok(());
                }
                let bytes =
                    match base64::engine::general_purpose::STANDARD.decode(media.payload.trim()) {
                        Ok(bytes) => bytes,
                        Err(e) => {
                            out.push(error(
                                "invalid_message",
                                format!("`payload` is not base64: {e}"),
                            ));
                            return Ok(());
                        }
                    };
                let track = media
                    .track
                    .as_deref()
                    .unwrap_or("inbound")
                    .trim_end_matches("_track");
                let Some(channel) = self.tracks.iter().position(|t| t == track) else {
                    return Ok(());
                };
                core.push(channel, &bytes).await?;
                if let Some(writer) = self.writers.get_mut(channel) {
                    writer.audio_received(core.position(channel));
                }
            }
            Inbound::Stop => return Err(End::Stopped),
            Inbound::Clear => {
                core.touch();
                self.playback.clear();
                out.push(json(&Outbound::Clear {
                    stream_sid: self.stream_sid.clone(),
                }));
            }
            Inbound::Speak { text, mark } => {
                core.touch();
                self.speak(&text, mark, out);
            }
        }
        Ok(())
    }

    fn on_events(&mut self, channel: usize, _: usize, events: Vec<StreamEvent>, out: &mut Outbox) {
        let track = self.tracks.get(channel).cloned().unwrap_or_default();
        let Some(writer) = self.writers.get_mut(channel) else {
            return;
        };
        for event in events {
            match writer.message(event, &self.metrics) {
                Some(SttServerMessage::SpeechStarted { timestamp }) => {
                    out.push(json(&Outbound::SpeechStarted {
                        kind: "speech_started",
                        stream_sid: self.stream_sid.clone(),
                        track: track.clone(),
                        channel,
                        timestamp,
                    }))
                }
                Some(SttServerMessage::Transcription {
                    text,
                    confidence,
                    language,
                    is_final,
                    speech_final,
                    start,
                    end,
                    ..
                }) => out.push(json(&Outbound::Transcription {
                    kind: "transcription",
                    stream_sid: self.stream_sid.clone(),
                    track: track.clone(),
                    channel,
                    text,
                    is_final,
                    speech_final,
                    confidence,
                    language,
                    start,
                    end,
                })),
                _ => {}
            }
        }
    }

    async fn background(&mut self) -> Outbox {
        let played = self.playback.next().await;
        let stream_sid = self.stream_sid.clone();
        vec![match played {
            Played::Audio(bytes) => json(&Outbound::Media {
                stream_sid,
                media: MediaOut {
                    payload: base64::engine::general_purpose::STANDARD.encode(bytes),
                },
            }),
            Played::Mark(name) => json(&Outbound::Mark {
                stream_sid,
                mark: MarkBody { name },
            }),
            Played::Failed(why) => error("synthesis_failed", why),
        }]
    }

    async fn closing(&mut self) {
        self.playback.clear();
        if let Some(mut meter) = self.tts_meter.take() {
            meter.add_characters(self.playback.characters());
            if let Err(e) = meter.commit(Outcome::Ok, None).await {
                tracing::error!(error = %e, "cannot record speech usage");
            }
        }
    }

    fn farewell(
        &mut self,
        end: &End,
        committed: Option<&Committed>,
        out: &mut Outbox,
    ) -> Option<(u16, String)> {
        if let End::Closed(reason) = end {
            if !matches!(reason, SessionClose::ShuttingDown) {
                out.push(error(reason.code(), reason.to_string()));
            }
        }
        if let Some(committed) = committed {
            out.push(json(&Outbound::SessionStopped {
                kind: "session_stopped",
                stream_sid: self.stream_sid.clone(),
                billing_summary: committed.billing_summary(),
            }));
        }
        match end {
            End::Stopped => Some((1000, String::new())),
            End::Closed(reason) => Some((reason.close_code(), reason.reason().to_owned())),
            End::ClientGone => None,
        }
    }
}
