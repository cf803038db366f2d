//! FreeSWITCH `mod_audio_fork` (`/v1/audiofork`).
//!
//! The module connects to the URL it was given (the API key travels in it,
//! `?apiKey=`, or in an `Authorization` header), sends its metadata as one
//! text frame, then binary L16 at the `sampling-rate` it was started with
//! (8 or 16 kHz), two interleaved channels for `stereo` (caller, callee).
//! The rate and mix are not on the wire: they come from the URL
//! (`?sample_rate=16k&mix_type=stereo`) or the metadata (`sampleRate`,
//! `mixType`); default 8 kHz mono. Later text frames (`send_text`, the
//! `stop` metadata) are accepted and ignored. Results go back as
//! `{"type":"transcription","data":{…}}` text frames.

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse as _, Response};
use vocalis_inference::streaming::{StreamEvent, StreamingConfig};
use vocalis_inference::stt::TranscribeOptions;

use crate::auth::Authenticated;
use crate::billing::Committed;
use crate::engine::Engines;
use crate::error::{ApiError, SessionClose};
use crate::metrics::Metrics;
use crate::routes::ws_stt::events::EventWriter;
use crate::server::AppState;
use crate::session::audio_input::{AudioInput, InputEncoding, SUPPORTED_RATES};
use crate::session::live::{json, Core, Dialect, End, Frame, Outbox, PoolStream};
use crate::session::pacing::Pacer;
use crate::session::stt_stream::{SttStream, SttStreamError};
use crate::wire::audiofork::{Alternative, ErrorData, ForkFormat, Outbound, Transcript};
use crate::wire::sixtydb::SttServerMessage;

fn error(code: &'static str, message: impl Into<String>) -> axum::extract::ws::Message {
    json(&Outbound::Error(ErrorData {
        code,
        message: message.into(),
    }))
}

fn check(format: ForkFormat) -> Result<ForkFormat, String> {
    if !SUPPORTED_RATES.contains(&format.rate) {
        return Err(format!(
            "sample rate {} Hz is not supported; mod_audio_fork streams 8k or 16k",
            format.rate
        ));
    }
    Ok(format)
}

pub(super) async fn upgrade(
    State(state): State<AppState>,
    caller: Authenticated,
    RawQuery(query): RawQuery,
    upgrade: WebSocketUpgrade,
) -> Response {
    let mut format = ForkFormat::default();
    for (key, value) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        if let Err(message) = format.apply(&key, &value) {
            return ApiError::InvalidPayload(message).into_response();
        }
    }
    let format = match check(format) {
        Ok(format) => format,
        Err(message) => return ApiError::InvalidPayload(message).into_response(),
    };
    super::serve_keyed(
        state,
        caller,
        upgrade,
        "/v1/audiofork",
        |code, message| error(code, message),
        move |state| {
            AudioFork::new(
                state.engines.clone(),
                state.metrics.clone(),
                state.live_pacer(),
                format,
            )
        },
    )
    .await
}

/// One forked call's translation state.
pub struct AudioFork {
    engines: Arc<Engines>,
    metrics: Arc<Metrics>,
    pacer: Pacer,
    format: ForkFormat,
    metadata_seen: bool,
    carry: Vec<u8>,
    writers: Vec<EventWriter>,
}

impl AudioFork {
    /// A fork streaming `format` unless its metadata says otherwise.
    pub fn new(
        engines: Arc<Engines>,
        metrics: Arc<Metrics>,
        pacer: Pacer,
        format: ForkFormat,
    ) -> Self {
        Self {
            engines,
            metrics,
            pacer,
            format,
            metadata_seen: false,
            carry: Vec::new(),
            writers: Vec::new(),
        }
    }

    fn open(&mut self, core: &mut Core<PoolStream>) -> Result<(), End> {
        let config = StreamingConfig {
            options: TranscribeOptions {
                language: (!self.engines.multilingual).then(|| "en".to_owned()),
                ..TranscribeOptions::default()
            },
            ..StreamingConfig::default()
        };
        let mut streams = Vec::new();
        for _ in 0..self.format.channels {
            let input = AudioInput::new(InputEncoding::Linear16, self.format.rate, 1)
                .map_err(SttStreamError::from)?;
            let stream = SttStream::new(input, &self.engines.vad, config.clone())?
                .with_pacer(self.pacer.clone());
            streams.push(PoolStream::new(stream, self.engines.clone()));
            self.writers
                .push(EventWriter::new(self.engines.multilingual));
        }
        core.open(streams);
        Ok(())
    }

    /// Splits interleaved L16 into one buffer per channel.
    fn split(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let channels = usize::from(self.format.channels.max(1));
        if channels == 1 {
            return vec![bytes.to_vec()];
        }
        let frame = 2 * channels;
        self.carry.extend_from_slice(bytes);
        let whole = self.carry.len() / frame * frame;
        let mut out = vec![Vec::with_capacity(whole / channels); channels];
        for chunk in self.carry[..whole].chunks_exact(frame) {
            for (channel, sample) in chunk.chunks_exact(2).enumerate() {
                out[channel].extend_from_slice(sample);
            }
        }
        self.carry.drain(..whole);
        out
    }
}

impl Dialect<PoolStream> for AudioFork {
    async fn on_frame(
        &mut self,
        core: &mut Core<PoolStream>,
        frame: Frame,
        out: &mut Outbox,
    ) -> Result<(), End> {
        match frame {
            Frame::Text(text) => {
                core.touch();
                if !self.metadata_seen && !core.is_open() {
                    self.metadata_seen = true;
                    let mut format = self.format;
                    match format.apply_metadata(&text).and_then(|()| check(format)) {
                        Ok(format) => self.format = format,
                        Err(message) => out.push(error("invalid_message", message)),
                    }
                }
            }
            Frame::Binary(bytes) if bytes.is_empty() => core.touch(),
            Frame::Binary(bytes) => {
                core.touch();
                if !core.is_open() {
                    self.metadata_seen = true;
                    self.open(core)?;
                }
                for (channel, samples) in self.split(&bytes).into_iter().enumerate() {
                    core.push(channel, &samples).await?;
                    if let Some(writer) = self.writers.get_mut(channel) {
                        writer.audio_received(core.position(channel));
                    }
                }
            }
        }
        Ok(())
    }

    fn on_events(&mut self, channel: usize, _: usize, events: Vec<StreamEvent>, out: &mut Outbox) {
        let Some(writer) = self.writers.get_mut(channel) else {
            return;
        };
        for event in events {
            if let Some(SttServerMessage::Transcription {
                text,
                confidence,
                language,
                is_final,
                speech_final,
                start,
                end,
                ..
            }) = writer.message(event, &self.metrics)
            {
                let text = text.trim().to_owned();
                out.push(json(&Outbound::Transcription(Transcript {
                    alternatives: vec![Alternative {
                        transcript: text.clone(),
                        confidence,
                    }],
                    text,
                    is_final,
                    speech_final,
                    confidence,
                    language,
                    channel,
                    start,
                    end,
                })));
            }
        }
    }

    fn farewell(
        &mut self,
        end: &End,
        _: Option<&Committed>,
        out: &mut Outbox,
    ) -> Option<(u16, String)> {
        match end {
            End::Stopped => Some((1000, String::new())),
            End::Closed(reason) => {
                if !matches!(reason, SessionClose::ShuttingDown) {
                    out.push(error(reason.code(), reason.to_string()));
                }
                Some((reason.close_code(), reason.reason().to_owned()))
            }
            End::ClientGone => None,
        }
    }
}
