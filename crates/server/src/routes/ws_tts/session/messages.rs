//! What each client message does: `start`, `text`, `flush`, `clear`, `stop`
//! and the context dialect's messages.

use std::collections::VecDeque;

use axum::extract::ws::Message;
use vocalis_audio::OutputFormat;

use super::config::{context_config, context_format, output_format, session_config};
use super::{
    json_message, Dialect, End, InFlight, OutputStream, Reject, Segment, Session, MAX_CONTEXTS,
};
use crate::error::SessionClose;
use crate::routes::ws_tts::framer::Framer;
use crate::routes::ws_tts::text::TextBuffer;
use crate::wire::sixtydb_tts::{
    ClientMessage, ContextMessage, ContextServerMessage, EffectiveAudioConfig, EffectiveTtsConfig,
    SessionMessage, SessionServerMessage,
};

impl Session {
    pub(super) fn on_message(
        &mut self,
        message: Message,
        in_flight: &mut Option<InFlight>,
    ) -> Result<(), End> {
        let limit = self.state.config.max_frame_bytes;
        match message {
            Message::Text(text) => {
                if text.len() > limit {
                    return Err(End::Close(SessionClose::TooBig));
                }
                match ClientMessage::parse(text.as_str()) {
                    Err(error) => self.reject(Reject::new("invalid_message", error.to_string())),
                    Ok(ClientMessage::Session(message)) => {
                        return self.on_session_message(message, in_flight)
                    }
                    Ok(ClientMessage::Context(message)) => {
                        self.on_context_message(message, in_flight)
                    }
                }
            }
            Message::Binary(bytes) => {
                if bytes.len() > limit {
                    return Err(End::Close(SessionClose::TooBig));
                }
                self.reject(Reject::new(
                    "invalid_message",
                    "binary frames are not accepted on /ws/tts; send JSON text frames",
                ));
            }
            Message::Ping(_) | Message::Pong(_) => {}
            Message::Close(_) => return Err(End::ClientClosed),
        }
        Ok(())
    }

    fn new_stream(
        &mut self,
        context_id: Option<String>,
        format: OutputFormat,
        rate: u32,
        speed: f32,
    ) -> u64 {
        let slot = self.next_slot;
        self.next_slot += 1;
        self.streams.push(OutputStream {
            slot,
            context_id,
            format,
            rate,
            speed,
            text: TextBuffer::default(),
            ready: VecDeque::new(),
            encoder: None,
            framer: Framer::new(format, rate),
            segment: Segment::default(),
        });
        slot
    }

    fn on_session_message(
        &mut self,
        message: SessionMessage,
        in_flight: &mut Option<InFlight>,
    ) -> Result<(), End> {
        if let SessionMessage::Stop = message {
            return Err(End::Stop);
        }
        if let SessionMessage::Keepalive = message {
            return Ok(());
        }
        if self.dialect == Dialect::Contexts {
            self.reject(Reject::new(
                "invalid_message",
                "this connection uses the context messages (create_context…); `type` messages other than stop and keepalive are not accepted",
            ));
            return Ok(());
        }
        if let SessionMessage::Start { voice, config } = message {
            if self.dialect == Dialect::Session {
                self.reject(Reject::new(
                    "already_started",
                    "the session has already started",
                ));
                return Ok(());
            }
            let engines = &self.state.engines;
            let voice_rate = engines.voice_rate;
            match session_config(&config.unwrap_or_default(), voice_rate) {
                Err(reject) => self.reject(reject),
                Ok((encoding, rate, speed)) => {
                    let format = output_format(encoding);
                    let loaded = engines.voice.clone();
                    let fallback = voice.as_ref().is_some_and(|v| *v != loaded);
                    self.new_stream(None, format, rate, speed);
                    self.dialect = Dialect::Session;
                    let config = EffectiveTtsConfig {
                        voice: loaded,
                        requested_voice: voice.filter(|_| fallback),
                        voice_fallback: fallback,
                        encoding,
                        sample_rate: rate,
                        speed,
                        frame_ms: self.streams[0].framer.frame_ms(),
                        voice_sample_rate: voice_rate,
                    };
                    let session_id = self.session_id.clone();
                    self.send(&SessionServerMessage::SessionStarted { session_id, config });
                }
            }
            return Ok(());
        }
        if self.dialect != Dialect::Session {
            self.reject(Reject::new("not_started", "send `start` first"));
            return Ok(());
        }
        match message {
            SessionMessage::Text { text } => {
                if let Err(reject) = self.append(0, &text) {
                    self.reject(reject);
                }
            }
            SessionMessage::Flush => self.flush(0),
            SessionMessage::Clear => {
                self.clear(0, in_flight);
                self.send(&SessionServerMessage::Cleared);
            }
            SessionMessage::Start { .. } | SessionMessage::Stop | SessionMessage::Keepalive => {}
        }
        Ok(())
    }

    fn on_context_message(&mut self, message: ContextMessage, in_flight: &mut Option<InFlight>) {
        if self.dialect == Dialect::Session {
            self.reject(Reject::new(
                "invalid_message",
                "this connection uses `start`/`text` messages; context messages are not accepted",
            ));
            return;
        }
        self.dialect = Dialect::Contexts;
        let find = |streams: &[OutputStream], id: &str| {
            streams
                .iter()
                .position(|s| s.context_id.as_deref() == Some(id))
        };
        let unknown = |id: &str| {
            Reject::new("unknown_context", format!("Unknown context_id `{id}`")).context(id)
        };
        match message {
            ContextMessage::CreateContext(create) => {
                let id = create.context_id.clone();
                if find(&self.streams, &id).is_some() {
                    let reject = Reject::new(
                        "context_exists",
                        format!("context_id `{id}` is already open"),
                    );
                    return self.reject(reject.context(&id));
                }
                if self.streams.len() >= MAX_CONTEXTS {
                    let reject = Reject::new(
                        "too_many_contexts",
                        format!("at most {MAX_CONTEXTS} contexts may be open on one connection"),
                    );
                    return self.reject(reject.context(&id));
                }
                match context_config(&create) {
                    Err(reject) => self.reject(reject),
                    Ok((encoding, rate, speed)) => {
                        self.new_stream(Some(id.clone()), context_format(encoding), rate, speed);
                        let created = ContextServerMessage::ContextCreated {
                            context_id: id,
                            voice_id: self.state.engines.voice.clone(),
                            audio_config: EffectiveAudioConfig {
                                audio_encoding: encoding,
                                sample_rate_hertz: rate,
                            },
                        };
                        self.push(None, json_message(&created));
                    }
                }
            }
            ContextMessage::SendText(send) => match find(&self.streams, &send.context_id) {
                None => self.reject(unknown(&send.context_id)),
                Some(index) => {
                    if let Err(reject) = self.append(index, &send.text) {
                        self.reject(reject.context(&send.context_id));
                    }
                }
            },
            ContextMessage::FlushContext(target) => match find(&self.streams, &target.context_id) {
                None => self.reject(unknown(&target.context_id)),
                Some(index) => self.flush(index),
            },
            ContextMessage::CloseContext(target) => match find(&self.streams, &target.context_id) {
                None => self.reject(unknown(&target.context_id)),
                Some(index) => {
                    self.clear(index, in_flight);
                    self.streams.remove(index);
                    let closed = ContextServerMessage::ContextClosed {
                        context_id: target.context_id,
                    };
                    self.push(None, json_message(&closed));
                }
            },
        }
    }
}
