//! The 60db dialect of `/ws/stt` over the live-session core: `start`,
//! binary or base64 audio, `config`, `finalize`, `stop`, `test`,
//! `keepalive` in; `session_started`, `speech_started`, `transcription`,
//! `error`, `session_stopped` out.

use std::sync::Arc;

use base64::Engine as _;
use vocalis_inference::streaming::StreamEvent;

use super::events::EventWriter;
use super::start;
use crate::billing::Committed;
use crate::engine::Engines;
use crate::error::SessionClose;
use crate::metrics::Metrics;
use crate::session::live::{json, Core, Dialect, End, Frame, Outbox, PoolStream};
use crate::session::pacing::Pacer;
use crate::session::socket::unix_ms;
use crate::session::stt_stream::SttStream;
use crate::wire::sixtydb::{SttClientMessage, SttServerMessage};

/// Whether audio may open a telephony session by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ImplicitStart {
    /// No `start` yet: binary audio opens a μ-law 8 kHz session (60db).
    Allowed,
    /// A `start` was refused: audio must not silently open a session with
    /// settings the client did not ask for; the client has been told once.
    Refused { told: bool },
}

/// One `/ws/stt` session's 60db translation state.
pub(crate) struct SixtyDb {
    engines: Arc<Engines>,
    metrics: Arc<Metrics>,
    pacer: Pacer,
    session_id: String,
    events: EventWriter,
    implicit_start: ImplicitStart,
}

pub(crate) fn error(code: &'static str, message: impl Into<String>) -> axum::extract::ws::Message {
    json(&SttServerMessage::Error {
        code,
        error: message.into(),
    })
}

impl SixtyDb {
    pub(crate) fn new(
        engines: Arc<Engines>,
        metrics: Arc<Metrics>,
        pacer: Pacer,
        session_id: String,
    ) -> Self {
        Self {
            events: EventWriter::new(engines.multilingual),
            engines,
            metrics,
            pacer,
            session_id,
            implicit_start: ImplicitStart::Allowed,
        }
    }

    async fn start(
        &mut self,
        core: &mut Core<PoolStream>,
        languages: Option<Vec<String>>,
        config: Option<crate::wire::sixtydb::StartConfig>,
        prompt: Option<String>,
        out: &mut Outbox,
    ) -> Result<(), End> {
        let accepted = match start::accept(
            languages,
            config.as_ref(),
            prompt,
            self.engines.multilingual,
        ) {
            Ok(accepted) => accepted,
            Err(refused) => {
                self.implicit_start = ImplicitStart::Refused { told: false };
                out.push(error(refused.code, refused.message));
                return Ok(());
            }
        };
        let stream = SttStream::new(accepted.input, &self.engines.vad, accepted.streaming)?
            .with_pacer(self.pacer.clone());
        let diarize = accepted.diarize;
        let diarizer = diarize.then(|| self.engines.diarizer.clone()).flatten();
        if diarize && diarizer.is_none() {
            tracing::warn!(
                fix = %vocalis_models::pull_command(crate::engine::DIARIZE_MODEL, None),
                "diarize asked on /ws/stt without the speaker model; finals carry no speaker"
            );
        }
        core.open([PoolStream::new(stream, self.engines.clone())
            .with_diarizer(diarizer, &accepted.speakers)]);
        self.events.set_interim(accepted.effective.interim_results);
        out.push(json(&SttServerMessage::SessionStarted {
            session_id: self.session_id.clone(),
            config: accepted.effective,
        }));
        out.push(json(&SttServerMessage::Connected {
            session_id: self.session_id.clone(),
        }));
        Ok(())
    }

    async fn push(&mut self, core: &mut Core<PoolStream>, bytes: &[u8]) -> Result<(), End> {
        core.push(0, bytes).await?;
        self.events.audio_received(core.position(0));
        Ok(())
    }

    async fn on_command(
        &mut self,
        core: &mut Core<PoolStream>,
        command: SttClientMessage,
        out: &mut Outbox,
    ) -> Result<(), End> {
        match command {
            SttClientMessage::Start {
                languages,
                config,
                context,
            } => {
                core.touch();
                if core.is_open() {
                    out.push(error("already_started", "the session has already started"));
                } else {
                    let prompt = start::context_prompt(context.as_ref());
                    self.start(core, languages, config, prompt, out).await?;
                }
            }
            SttClientMessage::Audio { audio } => {
                core.touch();
                match base64::engine::general_purpose::STANDARD.decode(audio.trim()) {
                    Err(e) => out.push(error(
                        "invalid_message",
                        format!("`audio` is not base64: {e}"),
                    )),
                    Ok(bytes) if core.is_open() => self.push(core, &bytes).await?,
                    Ok(_) => out.push(error("not_started", "send `start` before audio")),
                }
            }
            SttClientMessage::Config { languages, .. } => {
                if !core.is_open() {
                    out.push(error("not_started", "send `start` before `config`"));
                } else {
                    match start::decode_language(languages.as_deref(), self.engines.multilingual) {
                        Ok(language) => {
                            core.set_language(language);
                            out.push(json(&SttServerMessage::ConfigUpdated { languages }));
                        }
                        Err(e) => out.push(error(e.code, e.message)),
                    }
                }
            }
            SttClientMessage::Finalize => {
                if core.is_open() {
                    core.finalize(None);
                } else {
                    out.push(error("not_started", "send `start` before `finalize`"));
                }
            }
            SttClientMessage::Stop => return Err(End::Stopped),
            SttClientMessage::Test => out.push(json(&SttServerMessage::TestResponse {
                server_time: unix_ms(),
            })),
            SttClientMessage::Keepalive => core.touch(),
        }
        Ok(())
    }
}

impl Dialect<PoolStream> for SixtyDb {
    async fn on_frame(
        &mut self,
        core: &mut Core<PoolStream>,
        frame: Frame,
        out: &mut Outbox,
    ) -> Result<(), End> {
        match frame {
            // An empty frame carries no audio: it neither starts telephony
            // mode nor reaches the recognizer.
            Frame::Binary(bytes) if bytes.is_empty() => core.touch(),
            Frame::Binary(bytes) => {
                core.touch();
                if !core.is_open() {
                    match self.implicit_start {
                        // 60db telephony mode: binary audio before `start` is μ-law 8 kHz.
                        ImplicitStart::Allowed => {
                            self.start(core, None, None, None, out).await?;
                        }
                        // After a refused `start`, audio is dropped (and not
                        // billed) until a `start` is accepted.
                        ImplicitStart::Refused { told: false } => {
                            self.implicit_start = ImplicitStart::Refused { told: true };
                            out.push(error(
                                "start_required",
                                "audio ignored: the last `start` was refused; send a valid `start` first",
                            ));
                            return Ok(());
                        }
                        ImplicitStart::Refused { told: true } => return Ok(()),
                    }
                }
                self.push(core, &bytes).await?;
            }
            Frame::Text(text) => match SttClientMessage::parse(&text) {
                Ok(command) => return self.on_command(core, command, out).await,
                Err(e) => {
                    // A `start` that cannot even be read (a field of the
                    // wrong type) is refused like any other: audio after
                    // it must not open a session with default settings.
                    let start = crate::wire::sixtydb::is_start(&text);
                    if start && !core.is_open() {
                        self.implicit_start = ImplicitStart::Refused { told: false };
                    }
                    let field = start
                        .then(|| crate::wire::sixtydb::unreadable_start_field(&text))
                        .flatten()
                        .map(|field| format!(" (field `{field}`)"))
                        .unwrap_or_default();
                    out.push(error(
                        "invalid_message",
                        format!("cannot parse message{field}: {e}"),
                    ))
                }
            },
        }
        Ok(())
    }

    fn on_speaker(&mut self, _: usize, speaker: Option<crate::session::live::Speaker>) {
        self.events.set_speaker(speaker);
    }

    fn on_events(&mut self, _: usize, _: usize, events: Vec<StreamEvent>, out: &mut Outbox) {
        for event in events {
            if let Some(message) = self.events.message(event, &self.metrics) {
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

/// The 60db goodbye: an `error` for an abnormal end (not on shutdown), the
/// `session_stopped` billing summary, and the close.
pub(crate) fn farewell(
    end: &End,
    committed: Option<&Committed>,
    out: &mut Outbox,
) -> Option<(u16, String)> {
    if let End::Closed(reason) = end {
        if !matches!(reason, SessionClose::ShuttingDown) {
            out.push(error(reason.code(), reason.to_string()));
        }
    }
    match committed {
        Some(committed) => out.push(json(&SttServerMessage::SessionStopped {
            billing_summary: committed.billing_summary(),
        })),
        None => out.push(error("internal_error", "usage could not be recorded")),
    }
    match end {
        End::Stopped => Some((1000, String::new())),
        End::Closed(reason) => Some((reason.close_code(), reason.reason().to_owned())),
        End::ClientGone => None,
    }
}
