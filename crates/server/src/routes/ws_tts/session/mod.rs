//! The `/ws/tts` session state machine, driven by one `select!` loop.
//!
//! A session holds one output *stream* per context (the session dialect has
//! exactly one, created by `start`). Each stream has a [`TextBuffer`], a queue
//! of ready work (sentences and flush markers, in order), its encoder and its
//! [`Framer`]. The loop waits on four things at once: the next client
//! message, the one synthesis job in flight, room in the writer's bounded
//! queue for the next outgoing message, and the idle / slow-reader timers.
//!
//! Scheduling: at most one sentence is synthesized at a time per session, and
//! the next one is submitted only once the previous one's audio has been
//! handed to the writer, so a slow reader holds back synthesis instead of
//! making the server buffer audio (at most one sentence waits in the outbox).
//! The first sentence of each flush segment is cut after its first phrase
//! when it has a short one (`tts::phrase`): the phrase is spoken first, so
//! first audio waits for a model run over a few words only, and the rest of
//! the sentence follows as a continuation (no inter-sentence gap, the
//! phrase's gain, so the join is not heard).
//! Streams with ready work take turns (round robin), so several contexts
//! interleave sentence by sentence. A flush marker is reached only after every
//! sentence queued before it was spoken; it drains the encoder, pads the last
//! frame and answers `flushed` / `flush_completed`.
//!
//! # Layout
//! - this module: the session's state, its outbox and the `select!` loop;
//! - [`config`]: validation of `start` and `create_context` settings;
//! - [`messages`]: what each client message does;
//! - [`work`]: sentence scheduling, synthesis jobs, audio framing, flushes.

mod config;
mod messages;
mod work;

use std::collections::VecDeque;
use std::time::Duration;

use axum::extract::ws::Message;
use futures_util::{Stream, StreamExt as _};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use vocalis_audio::{AudioEncoder, OutputFormat};
use vocalis_inference::pool::{JobHandle, PoolError};

use super::framer::Framer;
use super::synth::SynthOutput;
use super::text::TextBuffer;
use crate::billing::Meter;
use crate::error::SessionClose;
use crate::server::AppState;
use crate::wire::sixtydb_tts::{ContextServerMessage, SessionServerMessage};

/// Characters of text a connection may have waiting for synthesis.
pub(crate) const MAX_PENDING_CHARS: usize = 100_000;
/// Open contexts per connection.
pub(crate) const MAX_CONTEXTS: usize = 16;
/// Messages that may wait for the writer before the reader counts as stalled.
pub(crate) const MAX_OUTBOX: usize = 1024;
/// Output rates of the session dialect.
pub(crate) const SESSION_RATES: [u32; 5] = [8_000, 16_000, 22_050, 24_000, 48_000];
/// Output rates of the context dialect.
pub(crate) const CONTEXT_RATES: [u32; 4] = [8_000, 16_000, 24_000, 48_000];

/// How the loop ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum End {
    /// The client sent `stop`.
    Stop,
    /// The client sent a close frame.
    ClientClosed,
    /// The connection broke or ended without a close frame.
    Disconnected,
    /// The session must close with this code and reason.
    Close(SessionClose),
    /// The client does not read its audio.
    SlowConsumer,
}

/// Which message set the connection speaks (fixed by its first `start` or
/// `create_context`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Undecided,
    Session,
    Contexts,
}

#[derive(Debug)]
enum Work {
    Sentence {
        text: String,
        chars: usize,
        ready_at: Instant,
        /// The rest of a sentence whose first phrase was the stream's
        /// previous job: no gap before it, and spoken at the phrase's gain.
        continues: bool,
    },
    Flush,
}

/// What one flush segment produced so far.
#[derive(Debug, Default)]
struct Segment {
    characters: u64,
    audio_seconds: f64,
    /// A sentence of this segment was submitted (the next gets a gap).
    spoke: bool,
    /// Time to first audio was recorded for this segment.
    first_audio_seen: bool,
    /// The gain of the stream's last job (carried into a continuation).
    gain: Option<f32>,
}

#[derive(Debug)]
struct OutputStream {
    slot: u64,
    context_id: Option<String>,
    format: OutputFormat,
    rate: u32,
    speed: f32,
    text: TextBuffer,
    ready: VecDeque<Work>,
    encoder: Option<AudioEncoder>,
    framer: Framer,
    segment: Segment,
}

/// The sentence being synthesized.
#[derive(Debug)]
pub(crate) struct InFlight {
    slot: u64,
    chars: usize,
    ready_at: Instant,
    first_in_segment: bool,
    handle: JobHandle<SynthOutput>,
}

#[derive(Debug)]
struct Outgoing {
    /// The stream an audio message belongs to; `None` for control messages.
    slot: Option<u64>,
    message: Message,
}

/// One `/ws/tts` session.
pub(crate) struct Session {
    state: AppState,
    session_id: String,
    /// `None` once taken to be committed.
    meter: Option<Meter>,
    dialect: Dialect,
    streams: Vec<OutputStream>,
    next_slot: u64,
    turn: usize,
    outbox: VecDeque<Outgoing>,
    overflow: bool,
}

/// A recoverable problem answered with an `error` message.
struct Reject {
    code: &'static str,
    message: String,
    context_id: Option<String>,
}

impl Reject {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            context_id: None,
        }
    }

    fn context(mut self, id: &str) -> Self {
        self.context_id = Some(id.to_owned());
        self
    }
}

async fn poll_job(in_flight: &mut Option<InFlight>) -> Result<SynthOutput, PoolError> {
    match in_flight {
        Some(job) => (&mut job.handle).await,
        None => std::future::pending().await,
    }
}

impl Session {
    /// A session metered by `meter`.
    pub(crate) fn new(state: AppState, meter: Meter) -> Self {
        Self {
            state,
            session_id: meter.session_id().to_owned(),
            meter: Some(meter),
            dialect: Dialect::Undecided,
            streams: Vec::new(),
            next_slot: 0,
            turn: 0,
            outbox: VecDeque::new(),
            overflow: false,
        }
    }

    /// Takes the meter to commit it, once the loop is over.
    pub(crate) fn take_meter(&mut self) -> Option<Meter> {
        self.meter.take()
    }

    /// Queues a session-dialect message (also used in the context dialect
    /// for `connection_established` and `session_stopped`).
    pub(crate) fn send(&mut self, message: &SessionServerMessage) {
        self.push(None, json_message(message));
    }

    /// Queues the error that precedes a close, in the connection's dialect.
    pub(crate) fn send_close_error(&mut self, reason: &SessionClose, detail: String) {
        self.reject(Reject::new(reason.code(), detail));
    }

    /// Drops queued audio (for `stop`); control messages stay.
    pub(crate) fn drop_queued_audio(&mut self) {
        self.outbox.retain(|o| o.slot.is_none());
    }

    /// Takes the messages still queued, oldest first.
    pub(crate) fn take_outbox(&mut self) -> Vec<Message> {
        self.outbox.drain(..).map(|o| o.message).collect()
    }

    fn push(&mut self, slot: Option<u64>, message: Message) {
        if self.outbox.len() >= MAX_OUTBOX {
            self.overflow = true;
            return;
        }
        self.outbox.push_back(Outgoing { slot, message });
    }

    fn reject(&mut self, reject: Reject) {
        let message = if self.dialect == Dialect::Contexts {
            json_message(&ContextServerMessage::Error {
                context_id: reject.context_id,
                message: reject.message,
                code: reject.code,
            })
        } else {
            json_message(&SessionServerMessage::Error {
                code: reject.code,
                error: reject.message,
            })
        };
        self.push(None, message);
    }

    /// Runs the session until it ends; drops any job in flight on return.
    pub(crate) async fn drive<S, E>(&mut self, reader: &mut S, out: &mpsc::Sender<Message>) -> End
    where
        S: Stream<Item = Result<Message, E>> + Unpin,
        E: Into<End>,
    {
        // Capped so `since + idle` cannot overflow (validation bounds it too).
        let idle_ms = self.state.config.idle_timeout_ms;
        let idle = Duration::from_millis(idle_ms.min(crate::config::MAX_DURATION_MS));
        let mut in_flight: Option<InFlight> = None;
        let mut idle_since = Instant::now();
        let mut stalled_since = Instant::now();
        let shutdown = self.state.shutdown.clone();
        let mut ping = crate::session::socket::ping_timer(self.state.config.ping_interval_ms);
        loop {
            if let Err(end) = self.schedule(&mut in_flight) {
                return end;
            }
            if self.overflow {
                return End::SlowConsumer;
            }
            let now = Instant::now();
            let working = in_flight.is_some() || !self.outbox.is_empty();
            if working {
                idle_since = now;
            }
            if self.outbox.is_empty() {
                stalled_since = now;
            }
            tokio::select! {
                incoming = reader.next() => {
                    // A pong answers our ping: it says the peer is alive,
                    // not that the session is in use.
                    if !matches!(incoming, Some(Ok(Message::Pong(_)))) {
                        idle_since = Instant::now();
                    }
                    let result = match incoming {
                        Some(Ok(message)) => self.on_message(message, &mut in_flight),
                        Some(Err(error)) => Err(error.into()),
                        None => Err(End::Disconnected),
                    };
                    if let Err(end) = result {
                        return end;
                    }
                }
                output = poll_job(&mut in_flight) => {
                    if let Some(job) = in_flight.take() {
                        if let Err(end) = self.on_job_done(job, output) {
                            return end;
                        }
                        if let Some(meter) = &mut self.meter {
                            if let Err(reason) = meter.checkpoint().await {
                                return End::Close(reason);
                            }
                        }
                    }
                }
                permit = out.reserve(), if !self.outbox.is_empty() => {
                    let Ok(permit) = permit else {
                        return End::Disconnected;
                    };
                    if let Some(item) = self.outbox.pop_front() {
                        permit.send(item.message);
                    }
                    stalled_since = Instant::now();
                }
                () = sleep_until(stalled_since + idle), if !self.outbox.is_empty() => {
                    return End::SlowConsumer;
                }
                () = sleep_until(idle_since + idle), if !working => {
                    return End::Close(SessionClose::IdleTimeout);
                }
                _ = ping.tick() => {
                    // Straight to the writer, past the outbox (a queued ping
                    // would count as work and hold off the idle timeout); a
                    // full writer queue is busy sending anyway, so this ping
                    // is skipped.
                    match out.try_send(crate::session::socket::ping()) {
                        Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
                        Err(mpsc::error::TrySendError::Closed(_)) => return End::Disconnected,
                    }
                }
                () = shutdown.cancelled() => return End::Close(SessionClose::ShuttingDown),
            }
        }
    }
}

fn json_message<T: serde::Serialize>(message: &T) -> Message {
    // Wire types are plain structs of strings and numbers: serializing cannot fail.
    let text = serde_json::to_string(message).unwrap_or_else(|_| "{}".to_owned());
    Message::Text(text.into())
}
