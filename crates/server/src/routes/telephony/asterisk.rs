//! Asterisk `chan_websocket` (`/v1/asterisk`, and `/ws/stt` when the first
//! text frame is a control frame).
//!
//! Binary frames are media in the codec Asterisk negotiated; text frames
//! are control messages, plain-text or JSON. `MEDIA_START … format:<codec>`
//! sets the codec and rate (`ulaw`, `alaw`: 8 kHz; `slin`: 8 kHz linear;
//! `slin16`: 16 kHz linear, never decoded as μ-law …); the other control
//! frames (`MEDIA_XOFF`, `MEDIA_XON`, `DTMF_END`, `MEDIA_BUFFERING_COMPLETED`,
//! `STATUS`…) are accepted silently. Media before `MEDIA_START` uses the
//! `?format=` of the URL, or is dropped with one `error` when there is none.
//! Transcripts go out in the 60db `transcription` shape (Asterisk itself
//! ignores text it does not know).

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use vocalis_inference::streaming::{StreamEvent, StreamingConfig};
use vocalis_inference::stt::TranscribeOptions;

use crate::auth::Authenticated;
use crate::billing::Committed;
use crate::engine::Engines;
use crate::metrics::Metrics;
use crate::routes::ws_stt::dialect::{error, farewell};
use crate::routes::ws_stt::events::EventWriter;
use crate::server::AppState;
use crate::session::audio_input::{AudioInput, InputEncoding};
use crate::session::live::{json, Core, Dialect, End, Frame, Outbox, PoolStream};
use crate::session::pacing::Pacer;
use crate::session::stt_stream::{SttStream, SttStreamError};
use crate::wire::asterisk::{codec, Codec, Control};

pub(super) async fn upgrade(
    State(state): State<AppState>,
    caller: Authenticated,
    RawQuery(query): RawQuery,
    upgrade: WebSocketUpgrade,
) -> Response {
    let default = form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "format" || k == "codec")
        .map(|(_, v)| codec(&v));
    let default = match default {
        Some(Err(message)) => {
            use axum::response::IntoResponse as _;
            return crate::error::ApiError::InvalidPayload(message).into_response();
        }
        Some(Ok(codec)) => Some(codec),
        None => None,
    };
    super::serve_keyed(
        state,
        caller,
        upgrade,
        "/v1/asterisk",
        |code, message| error(code, message),
        move |state| {
            Asterisk::new(
                state.engines.clone(),
                state.metrics.clone(),
                state.live_pacer(),
                default,
            )
        },
    )
    .await
}

/// One Asterisk channel's translation state.
pub struct Asterisk {
    engines: Arc<Engines>,
    metrics: Arc<Metrics>,
    pacer: Pacer,
    codec: Option<Codec>,
    writer: EventWriter,
    told: bool,
}

impl Asterisk {
    /// A channel whose media is in `codec` until a `MEDIA_START` says otherwise.
    pub fn new(
        engines: Arc<Engines>,
        metrics: Arc<Metrics>,
        pacer: Pacer,
        codec: Option<Codec>,
    ) -> Self {
        Self {
            writer: EventWriter::new(engines.multilingual),
            engines,
            metrics,
            pacer,
            codec,
            told: false,
        }
    }

    fn open(&mut self, core: &mut Core<PoolStream>, codec: Codec) -> Result<(), End> {
        let (encoding, rate) = match codec {
            Codec::Ulaw => (InputEncoding::Mulaw, 8_000),
            Codec::Alaw => (InputEncoding::Alaw, 8_000),
            Codec::Slin(rate) => (InputEncoding::Linear16, rate),
        };
        let input = AudioInput::new(encoding, rate, 1).map_err(SttStreamError::from)?;
        let config = StreamingConfig {
            options: TranscribeOptions {
                language: (!self.engines.multilingual).then(|| "en".to_owned()),
                ..TranscribeOptions::default()
            },
            ..StreamingConfig::default()
        };
        let stream =
            SttStream::new(input, &self.engines.vad, config)?.with_pacer(self.pacer.clone());
        core.open([PoolStream::new(stream, self.engines.clone())]);
        Ok(())
    }

    fn on_control(&mut self, core: &mut Core<PoolStream>, control: Control, out: &mut Outbox) {
        if control.name != "MEDIA_START" {
            return;
        }
        match control.codec() {
            Some(Ok(codec)) if !core.is_open() => match codec {
                Codec::Slin(rate)
                    if !crate::session::audio_input::SUPPORTED_RATES.contains(&rate) =>
                {
                    out.push(error(
                        "unsupported_sample_rate",
                        format!("slin at {rate} Hz is not supported; use slin, slin16, slin24 or slin48"),
                    ));
                }
                codec => self.codec = Some(codec),
            },
            Some(Ok(_)) => {}
            Some(Err(message)) => out.push(error("unsupported_encoding", message)),
            None => {}
        }
    }
}

impl Dialect<PoolStream> for Asterisk {
    async fn on_frame(
        &mut self,
        core: &mut Core<PoolStream>,
        frame: Frame,
        out: &mut Outbox,
    ) -> Result<(), End> {
        match frame {
            Frame::Text(text) => {
                core.touch();
                match Control::parse(&text) {
                    Some(control) => self.on_control(core, control, out),
                    None => out.push(error(
                        "invalid_message",
                        "not an Asterisk control message (MEDIA_START …)",
                    )),
                }
            }
            Frame::Binary(bytes) if bytes.is_empty() => core.touch(),
            Frame::Binary(bytes) => {
                core.touch();
                if !core.is_open() {
                    match self.codec {
                        Some(codec) => self.open(core, codec)?,
                        None => {
                            if !self.told {
                                self.told = true;
                                out.push(error(
                                    "start_required",
                                    "media before MEDIA_START (and no ?format=) is ignored",
                                ));
                            }
                            return Ok(());
                        }
                    }
                }
                core.push(0, &bytes).await?;
                self.writer.audio_received(core.position(0));
            }
        }
        Ok(())
    }

    fn on_events(&mut self, _: usize, _: usize, events: Vec<StreamEvent>, out: &mut Outbox) {
        for event in events {
            if let Some(message) = self.writer.message(event, &self.metrics) {
                out.push(json(&message));
            }
        }
    }

    fn farewell(
        &mut self,
        end: &End,
        committed: Option<&Committed>,
        out: &mut Outbox,
    ) -> Option<(u16, String)> {
        farewell(end, committed, out)
    }
}
