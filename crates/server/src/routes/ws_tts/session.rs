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
//! Streams with ready work take turns (round robin), so several contexts
//! interleave sentence by sentence. A flush marker is reached only after every
//! sentence queued before it was spoken; it drains the encoder, pads the last
//! frame and answers `flushed` / `flush_completed`.

use std::collections::VecDeque;
use std::time::Duration;

use axum::extract::ws::Message;
use base64::Engine as _;
use futures_util::{Stream, StreamExt as _};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use vocalis_audio::{AudioEncoder, OutputFormat};
use vocalis_inference::pool::{JobHandle, PoolError};

use super::framer::Framer;
use super::synth::{self, SynthError, SynthJob, SynthOutput};
use super::text::TextBuffer;
use crate::billing::Meter;
use crate::error::SessionClose;
use crate::server::AppState;
use crate::wire::sixtydb_tts::{
    ClientMessage, ContextEncoding, ContextMessage, ContextServerMessage, CreateContext,
    EffectiveAudioConfig, EffectiveTtsConfig, SessionMessage, SessionServerMessage, StartConfig,
    TtsEncoding,
};

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
/// Speaking rates accepted.
const SPEEDS: std::ops::RangeInclusive<f32> = 0.5..=2.0;

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

fn output_format(encoding: TtsEncoding) -> OutputFormat {
    match encoding {
        TtsEncoding::Linear16 => OutputFormat::Pcm16,
        TtsEncoding::Mulaw => OutputFormat::Mulaw,
        TtsEncoding::Alaw => OutputFormat::Alaw,
        TtsEncoding::Mp3 => OutputFormat::Mp3,
        TtsEncoding::Wav => OutputFormat::Wav,
    }
}

fn context_format(encoding: ContextEncoding) -> OutputFormat {
    match encoding {
        ContextEncoding::Linear16 => OutputFormat::Pcm16,
        ContextEncoding::Mulaw => OutputFormat::Mulaw,
        ContextEncoding::Alaw => OutputFormat::Alaw,
        ContextEncoding::Mp3 => OutputFormat::Mp3,
    }
}

fn check_speed(speed: Option<f32>) -> Result<f32, Reject> {
    let speed = speed.unwrap_or(1.0);
    if SPEEDS.contains(&speed) {
        Ok(speed)
    } else {
        Err(Reject::new(
            "invalid_config",
            format!("speed must be between 0.5 and 2.0, got {speed}"),
        ))
    }
}

/// Validates a `start` config: (encoding, rate, speed).
fn session_config(
    config: &StartConfig,
    voice_rate: u32,
) -> Result<(TtsEncoding, u32, f32), Reject> {
    let encoding = match config.encoding.as_deref() {
        None => TtsEncoding::Linear16,
        Some(name) => TtsEncoding::from_name(name).ok_or_else(|| {
            Reject::new(
                "unsupported_encoding",
                format!("unsupported encoding `{name}` (use linear16, mulaw, alaw, mp3 or wav)"),
            )
        })?,
    };
    let rate = match (config.sample_rate, encoding) {
        (Some(rate), _) => rate,
        (None, TtsEncoding::Mulaw | TtsEncoding::Alaw) => 8_000,
        (None, _) => voice_rate,
    };
    if !SESSION_RATES.contains(&rate) {
        return Err(Reject::new(
            "unsupported_sample_rate",
            format!("unsupported sample_rate {rate} (use 8000, 16000, 22050, 24000 or 48000)"),
        ));
    }
    Ok((encoding, rate, check_speed(config.speed)?))
}

/// Validates a `create_context`: (encoding, rate, speed).
fn context_config(create: &CreateContext) -> Result<(ContextEncoding, u32, f32), Reject> {
    let id = create.context_id.as_str();
    let config = create.audio_config.clone().unwrap_or_default();
    let encoding = match config.audio_encoding.as_deref() {
        None => ContextEncoding::Linear16,
        Some(name) => ContextEncoding::from_name(name).ok_or_else(|| {
            Reject::new(
                "unsupported_encoding",
                format!("Unsupported audio_encoding `{name}` (use LINEAR16, MULAW, ALAW or MP3)"),
            )
            .context(id)
        })?,
    };
    let telephony = matches!(encoding, ContextEncoding::Mulaw | ContextEncoding::Alaw);
    let rate = match config.sample_rate_hertz {
        Some(rate) => rate,
        None if telephony => 8_000,
        None => 16_000,
    };
    if !CONTEXT_RATES.contains(&rate) {
        return Err(Reject::new(
            "unsupported_sample_rate",
            format!("Unsupported sample_rate_hertz {rate} (use 8000, 16000, 24000 or 48000)"),
        )
        .context(id));
    }
    if telephony && rate != 8_000 {
        return Err(Reject::new(
            "unsupported_sample_rate",
            format!(
                "Unsupported sample_rate_hertz {rate}: MULAW and ALAW are only available at 8000"
            ),
        )
        .context(id));
    }
    let speed = check_speed(create.speed).map_err(|r| r.context(id))?;
    Ok((encoding, rate, speed))
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

    fn on_message(
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

    /// Characters waiting for synthesis, over all streams.
    fn pending_chars(&self) -> usize {
        self.streams
            .iter()
            .map(|s| {
                s.text.chars()
                    + s.ready
                        .iter()
                        .map(|w| match w {
                            Work::Sentence { chars, .. } => *chars,
                            Work::Flush => 0,
                        })
                        .sum::<usize>()
            })
            .sum()
    }

    fn append(&mut self, index: usize, text: &str) -> Result<(), Reject> {
        let incoming = text.chars().count();
        if self.pending_chars() + incoming > MAX_PENDING_CHARS {
            return Err(Reject::new(
                "too_much_text",
                format!("at most {MAX_PENDING_CHARS} characters may wait for synthesis; flush and wait for audio before sending more"),
            ));
        }
        let stream = &mut self.streams[index];
        let now = Instant::now();
        for sentence in stream.text.push(text) {
            stream.ready.push_back(Work::Sentence {
                chars: sentence.chars().count(),
                text: sentence,
                ready_at: now,
            });
        }
        Ok(())
    }

    fn flush(&mut self, index: usize) {
        let stream = &mut self.streams[index];
        if let Some(rest) = stream.text.take_rest() {
            stream.ready.push_back(Work::Sentence {
                chars: rest.chars().count(),
                text: rest,
                ready_at: Instant::now(),
            });
        }
        stream.ready.push_back(Work::Flush);
    }

    /// Drops a stream's pending text, queued work and queued audio, and
    /// cancels its sentence in flight.
    fn clear(&mut self, index: usize, in_flight: &mut Option<InFlight>) {
        let stream = &mut self.streams[index];
        let slot = stream.slot;
        if in_flight.as_ref().is_some_and(|job| job.slot == slot) {
            // Dropping the handle cancels the job; its encoder goes with it.
            *in_flight = None;
        }
        stream.text.clear();
        stream.ready.clear();
        stream.encoder = None;
        stream.framer.reset();
        stream.segment = Segment::default();
        self.outbox.retain(|o| o.slot != Some(slot));
    }

    /// Starts the next piece of work when nothing is in flight and the
    /// writer has taken everything queued.
    fn schedule(&mut self, in_flight: &mut Option<InFlight>) -> Result<(), End> {
        while in_flight.is_none() && self.outbox.is_empty() {
            let count = self.streams.len();
            let Some(index) = (0..count)
                .map(|i| (self.turn + i) % count)
                .find(|&i| !self.streams[i].ready.is_empty())
            else {
                return Ok(());
            };
            self.turn = index + 1;
            match self.streams[index].ready.pop_front() {
                Some(Work::Flush) => self.finish_segment(index)?,
                Some(Work::Sentence {
                    text,
                    chars,
                    ready_at,
                }) => *in_flight = Some(self.submit(index, text, chars, ready_at)?),
                None => {}
            }
        }
        Ok(())
    }

    fn submit(
        &mut self,
        index: usize,
        text: String,
        chars: usize,
        ready_at: Instant,
    ) -> Result<InFlight, End> {
        let voice_rate = self.state.engines.voice_rate;
        let stream = &mut self.streams[index];
        let encoder = match stream.encoder.take() {
            Some(encoder) => encoder,
            None => AudioEncoder::new(stream.format, voice_rate, stream.rate).map_err(|error| {
                tracing::error!(%error, "cannot create the audio encoder");
                End::Close(SessionClose::Internal)
            })?,
        };
        let first_in_segment = !stream.segment.spoke;
        stream.segment.spoke = true;
        let job = SynthJob {
            text,
            speed: stream.speed,
            gap_before: !first_in_segment,
            encoder,
        };
        match synth::submit(&self.state.engines.tts, job) {
            Ok(handle) => Ok(InFlight {
                slot: stream.slot,
                chars,
                ready_at,
                first_in_segment,
                handle,
            }),
            Err(PoolError::Busy { .. }) => {
                self.state.metrics.rejected_busy();
                Err(End::Close(SessionClose::Busy))
            }
            Err(PoolError::ShutDown(_)) => Err(End::Close(SessionClose::ShuttingDown)),
            Err(error) => {
                tracing::error!(%error, "cannot submit synthesis");
                Err(End::Close(SessionClose::Internal))
            }
        }
    }

    fn on_job_done(
        &mut self,
        job: InFlight,
        output: Result<SynthOutput, PoolError>,
    ) -> Result<(), End> {
        let output = output.map_err(|error| {
            tracing::error!(%error, "synthesis job lost");
            End::Close(SessionClose::Internal)
        })?;
        let Some(index) = self.streams.iter().position(|s| s.slot == job.slot) else {
            return Ok(());
        };
        if let Some(meter) = &mut self.meter {
            meter.add_audio_seconds(output.audio_seconds);
        }
        let stream = &mut self.streams[index];
        stream.encoder = Some(output.encoder);
        stream.segment.audio_seconds += output.audio_seconds;
        let mut failed = None;
        let characters = match output.result {
            Ok(()) => job.chars as u64,
            Err(SynthError::Tts(error)) => {
                tracing::warn!(%error, "sentence synthesis failed");
                failed = Some((
                    crate::error::tts_sentence_error_code(&error),
                    error.to_string(),
                ));
                0
            }
            Err(SynthError::Encode(error)) => {
                tracing::error!(%error, "audio encoding failed");
                return Err(End::Close(SessionClose::Internal));
            }
            // Only jobs still wanted are awaited; a cancelled one is dropped.
            Err(SynthError::Cancelled) => 0,
        };
        stream.segment.characters += characters;
        if let Some(meter) = &mut self.meter {
            meter.add_characters(characters);
        }
        self.state.metrics.add_tts(output.audio_seconds, characters);
        let frames = stream.framer.push(&output.bytes);
        if !frames.is_empty() && job.first_in_segment && !stream.segment.first_audio_seen {
            stream.segment.first_audio_seen = true;
            self.state
                .metrics
                .tts_first_audio
                .observe(job.ready_at.elapsed().as_secs_f64());
        }
        for frame in frames {
            self.push_audio(index, frame);
        }
        if let Some((code, error)) = failed {
            let context = self.streams[index].context_id.clone();
            let mut reject = Reject::new(
                code,
                format!("a sentence could not be synthesized and was skipped: {error}"),
            );
            reject.context_id = context;
            self.reject(reject);
        }
        Ok(())
    }

    fn push_audio(&mut self, index: usize, bytes: Vec<u8>) {
        let stream = &self.streams[index];
        let slot = stream.slot;
        let message = match &stream.context_id {
            None => Message::Binary(bytes.into()),
            Some(id) => json_message(&ContextServerMessage::AudioChunk {
                context_id: id.clone(),
                audio_content: base64::engine::general_purpose::STANDARD.encode(&bytes),
            }),
        };
        self.push(Some(slot), message);
    }

    /// A flush marker: drain the encoder, pad the last frame, report.
    fn finish_segment(&mut self, index: usize) -> Result<(), End> {
        let stream = &mut self.streams[index];
        let tail = match stream.encoder.take() {
            Some(encoder) => encoder.finish().map_err(|error| {
                tracing::error!(%error, "audio encoder flush failed");
                End::Close(SessionClose::Internal)
            })?,
            None => Vec::new(),
        };
        let mut frames = stream.framer.push(&tail);
        frames.extend(stream.framer.finish());
        let segment = std::mem::take(&mut stream.segment);
        let report = match &stream.context_id {
            None => json_message(&SessionServerMessage::Flushed {
                characters: segment.characters,
                audio_seconds: (segment.audio_seconds * 1000.0).round() / 1000.0,
            }),
            Some(id) => json_message(&ContextServerMessage::FlushCompleted {
                context_id: id.clone(),
            }),
        };
        for frame in frames {
            self.push_audio(index, frame);
        }
        self.push(None, report);
        Ok(())
    }
}

fn json_message<T: serde::Serialize>(message: &T) -> Message {
    // Wire types are plain structs of strings and numbers: serializing cannot fail.
    let text = serde_json::to_string(message).unwrap_or_else(|_| "{}".to_owned());
    Message::Text(text.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::sixtydb_tts::AudioConfig;

    fn create(encoding: Option<&str>, rate: Option<u32>) -> CreateContext {
        CreateContext {
            context_id: "c".into(),
            voice_id: None,
            audio_config: Some(AudioConfig {
                audio_encoding: encoding.map(Into::into),
                sample_rate_hertz: rate,
            }),
            speed: None,
        }
    }

    #[test]
    fn context_configs_follow_the_60db_rules() {
        let ok = |e, r| context_config(&create(e, r)).map(|(e, r, _)| (e, r)).ok();
        assert_eq!(
            ok(Some("LINEAR16"), Some(16_000)),
            Some((ContextEncoding::Linear16, 16_000))
        );
        assert_eq!(
            ok(Some("MULAW"), None),
            Some((ContextEncoding::Mulaw, 8_000))
        );
        assert_eq!(ok(None, None), Some((ContextEncoding::Linear16, 16_000)));
        for (encoding, rate, code, needle) in [
            (
                Some("LINEAR16"),
                Some(44_100),
                "unsupported_sample_rate",
                "Unsupported sample_rate_hertz",
            ),
            (
                Some("MULAW"),
                Some(16_000),
                "unsupported_sample_rate",
                "only available at 8000",
            ),
            (
                Some("OGG_OPUS"),
                Some(24_000),
                "unsupported_encoding",
                "Unsupported audio_encoding",
            ),
        ] {
            let Err(reject) = context_config(&create(encoding, rate)) else {
                panic!("{encoding:?} {rate:?} accepted");
            };
            assert_eq!(reject.code, code);
            assert!(reject.message.contains(needle), "{}", reject.message);
            assert_eq!(reject.context_id.as_deref(), Some("c"));
        }
    }

    #[test]
    fn session_configs_default_and_validate() {
        let config = |encoding: Option<&str>, rate, speed| StartConfig {
            encoding: encoding.map(Into::into),
            sample_rate: rate,
            speed,
        };
        let (e, r, s) = session_config(&config(None, None, None), 22_050)
            .ok()
            .unwrap();
        assert_eq!((e, r, s), (TtsEncoding::Linear16, 22_050, 1.0));
        let (e, r, _) = session_config(&config(Some("mulaw"), None, None), 22_050)
            .ok()
            .unwrap();
        assert_eq!((e, r), (TtsEncoding::Mulaw, 8_000));
        for (cfg, code) in [
            (config(Some("opus"), None, None), "unsupported_encoding"),
            (config(None, Some(44_100), None), "unsupported_sample_rate"),
            (config(None, None, Some(3.0)), "invalid_config"),
        ] {
            let Err(reject) = session_config(&cfg, 22_050) else {
                panic!("{cfg:?} accepted")
            };
            assert_eq!(reject.code, code);
        }
    }
}
