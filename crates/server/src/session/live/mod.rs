//! One live speech-to-text session, whatever its wire dialect.
//!
//! The core owns what every live STT route shares: the recognisers (one per
//! channel), the usage [`Meter`] (checkpoints, exactly one record on every
//! way out), the idle deadline, keep-alive pings, back-pressure (a frame is
//! fully pushed before the next is read) and shutdown. It runs one `select!`
//! over the socket, the channels' background decodes, the dialect's own
//! background work (e.g. speech synthesis sent back on the socket), the idle
//! timer, the ping timer and the shutdown token, and contains a panic to
//! the session (1011, usage committed).
//!
//! A [`Dialect`] only translates: client frames into calls on the [`Core`]
//! (open channels, push audio, finalize, stop) and engine events into
//! frames; at the end it says goodbye in its own words and picks the close.
//! The 60db, Deepgram and telephony routes are such adapters.
//!
//! # Layout
//! - [`dialect`]: the [`Dialect`] trait and the types it shares with the
//!   core ([`End`], [`Frame`], [`Outbox`], [`Limits`]).
//! - [`recognize`]: the recogniser trait and its Whisper-pool implementation.
//! - [`transport`]: the socket trait (axum's WebSocket; a fake in tests).

mod dialect;
mod recognize;
mod transport;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Message;
use futures_util::future::select_all;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use vocalis_inference::streaming::StreamEvent;

use crate::billing::Meter;
use crate::error::SessionClose;
use crate::metrics::Metrics;
use crate::session::stt_stream::SttStreamError;

pub use dialect::{Dialect, End, Frame, Limits, Outbox};
pub use recognize::{PoolStream, Recognize, Speaker, WordTiming};
pub use transport::Transport;

/// The dialect-free state of one live session.
pub struct Core<R> {
    channels: Vec<R>,
    meter: Option<Meter>,
    limits: Limits,
    idle_deadline: Instant,
    events: Vec<(usize, StreamEvent)>,
    metrics: Arc<Metrics>,
    replay: std::collections::VecDeque<Frame>,
}

impl<R> std::fmt::Debug for Core<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("channels", &self.channels.len())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

enum Step {
    Replay(Frame),
    Incoming(Option<Result<Message, axum::Error>>),
    Decoded(usize, Result<Vec<StreamEvent>, SttStreamError>),
    Background(Outbox),
    Ping,
    End(End),
}

impl<R: Recognize> Core<R> {
    /// A session metered by `meter`, with no channel open yet.
    pub fn new(meter: Meter, limits: Limits, metrics: Arc<Metrics>) -> Self {
        Self {
            channels: Vec::new(),
            meter: Some(meter),
            limits,
            idle_deadline: deadline(limits.idle_timeout_ms),
            events: Vec::new(),
            metrics,
            replay: Default::default(),
        }
    }

    /// Opens channels (appended after those already open).
    pub fn open(&mut self, channels: impl IntoIterator<Item = R>) {
        self.channels.extend(channels);
    }

    /// Hands `frame` to the dialect first, before anything is read from
    /// the socket (a frame a route already read, e.g. while authenticating).
    pub fn replay(&mut self, frame: Frame) {
        self.replay.push_back(frame);
    }

    /// Channels open.
    pub fn channels(&self) -> usize {
        self.channels.len()
    }

    /// Whether any channel is open.
    pub fn is_open(&self) -> bool {
        !self.channels.is_empty()
    }

    /// The client is active: the idle deadline moves on.
    pub fn touch(&mut self) {
        self.idle_deadline = deadline(self.limits.idle_timeout_ms);
    }

    /// The session's meter (e.g. to limit it to the tenant's credit).
    pub fn meter(&mut self) -> Option<&mut Meter> {
        self.meter.as_mut()
    }

    /// Pushes wire audio to `channel` (ignored when it is not open); its
    /// events are sent after the current frame. Bills it and writes a
    /// checkpoint when one is due.
    pub async fn push(&mut self, channel: usize, bytes: &[u8]) -> Result<(), End> {
        let Some(stream) = self.channels.get_mut(channel) else {
            return Ok(());
        };
        let events = stream.push(bytes).await?;
        self.events.extend(events.into_iter().map(|e| (channel, e)));
        let billed = self.billed_seconds();
        if let Some(meter) = self.meter.as_mut() {
            meter.set_audio_seconds(billed);
            meter.checkpoint().await.map_err(End::Closed)?;
        }
        // Time spent pacing, running queued finals or waiting for a usage
        // checkpoint (retried while the database restarts) is not client
        // idleness.
        self.touch();
        Ok(())
    }

    /// Ends the current utterance of `channel` (every channel for `None`).
    pub fn finalize(&mut self, channel: Option<usize>) {
        for (index, stream) in self.channels.iter_mut().enumerate() {
            if channel.is_none_or(|c| c == index) {
                stream.finalize();
            }
        }
    }

    /// Sets the decode language of every channel.
    pub fn set_language(&mut self, language: Option<String>) {
        for stream in &mut self.channels {
            stream.set_language(language.clone());
        }
    }

    /// Seconds of audio `channel` has consumed.
    pub fn position(&self, channel: usize) -> f64 {
        self.channels.get(channel).map_or(0.0, R::position)
    }

    /// The word clock of `channel` (see [`WordTiming`]).
    pub fn word_timing(&self, channel: usize) -> WordTiming {
        self.channels
            .get(channel)
            .map_or_else(WordTiming::default, R::word_timing)
    }

    /// Billed audio: every channel is transcribed, so each counts.
    pub fn billed_seconds(&self) -> f64 {
        self.channels.iter().map(R::seconds_received).sum()
    }

    /// Runs the session to its end over `transport`; returns how it ended.
    pub async fn run<D: Dialect<R>, T: Transport>(
        mut self,
        dialect: &mut D,
        transport: &mut T,
        shutdown: &CancellationToken,
    ) -> End {
        // A panic in the loop ends this session only: 1011, usage committed.
        let end = crate::fault::contain(self.serve(dialect, transport, shutdown))
            .await
            .unwrap_or(End::Closed(SessionClose::Internal));
        self.end(dialect, transport, end.clone()).await;
        end
    }

    async fn serve<D: Dialect<R>, T: Transport>(
        &mut self,
        dialect: &mut D,
        transport: &mut T,
        shutdown: &CancellationToken,
    ) -> End {
        let mut ping = crate::session::socket::ping_timer(self.limits.ping_interval_ms);
        let mut out = Outbox::new();
        loop {
            let step = if let Some(frame) = self.replay.pop_front() {
                Step::Replay(frame)
            } else {
                let idle = tokio::time::sleep_until(self.idle_deadline);
                let channels = &mut self.channels;
                let decoded = async move {
                    if channels.is_empty() {
                        return std::future::pending().await;
                    }
                    let futures = channels.iter_mut().enumerate().map(|(index, stream)| {
                        Box::pin(async move { (index, stream.decoded().await) })
                    });
                    select_all(futures).await.0
                };
                tokio::select! {
                    incoming = transport.recv() => Step::Incoming(incoming),
                    (index, result) = decoded => Step::Decoded(index, result),
                    frames = dialect.background() => Step::Background(frames),
                    () = idle => Step::End(End::Closed(SessionClose::IdleTimeout)),
                    _ = ping.tick() => Step::Ping,
                    () = shutdown.cancelled() => Step::End(End::Closed(SessionClose::ShuttingDown)),
                }
            };
            let result = match step {
                Step::End(end) => return end,
                Step::Replay(frame) => dialect.on_frame(self, frame, &mut out).await,
                Step::Ping => {
                    if !transport.send(crate::session::socket::ping()).await {
                        return End::ClientGone;
                    }
                    continue;
                }
                Step::Background(frames) => {
                    out.extend(frames);
                    Ok(())
                }
                Step::Decoded(index, result) => match result {
                    Ok(events) => {
                        self.events.extend(events.into_iter().map(|e| (index, e)));
                        Ok(())
                    }
                    Err(error) => Err(End::from(error)),
                },
                Step::Incoming(None) => return End::ClientGone,
                Step::Incoming(Some(Err(error))) => {
                    // A message over the limit (1009) or a text frame that
                    // is not UTF-8 (1007) is answered with a close; anything
                    // else means the connection is gone.
                    tracing::debug!(%error, "receive failed");
                    return SessionClose::from_receive_error(error)
                        .map_or(End::ClientGone, End::Closed);
                }
                Step::Incoming(Some(Ok(message))) => {
                    let frame = match message {
                        Message::Text(text) => {
                            crate::fault::on_client_text(&text);
                            Frame::Text(text)
                        }
                        Message::Binary(bytes) => Frame::Binary(bytes),
                        Message::Close(_) => return End::ClientGone,
                        Message::Ping(_) | Message::Pong(_) => continue,
                    };
                    let size = match &frame {
                        Frame::Text(text) => text.len(),
                        Frame::Binary(bytes) => bytes.len(),
                    };
                    if size > self.limits.max_frame_bytes {
                        return End::Closed(SessionClose::TooBig);
                    }
                    dialect.on_frame(self, frame, &mut out).await
                }
            };
            self.convert_events(dialect, &mut out);
            if !send_all(transport, &mut out).await {
                return End::ClientGone;
            }
            if let Err(end) = result {
                return end;
            }
        }
    }

    fn convert_events<D: Dialect<R>>(&mut self, dialect: &mut D, out: &mut Outbox) {
        for (channel, event) in std::mem::take(&mut self.events) {
            self.hand_over(dialect, channel, event, out);
        }
    }

    /// One event of `channel` to the dialect, a final with its speaker.
    fn hand_over<D: Dialect<R>>(
        &mut self,
        d: &mut D,
        channel: usize,
        e: StreamEvent,
        out: &mut Outbox,
    ) {
        if matches!(e, StreamEvent::Final { .. }) {
            d.on_speaker(
                channel,
                self.channels.get_mut(channel).and_then(R::take_speaker),
            );
        }
        d.on_events(channel, self.channels.len().max(1), vec![e], out);
    }

    /// Flushes finals (when the way out calls for it), commits usage, lets
    /// the dialect say goodbye and closes.
    async fn end<D: Dialect<R>, T: Transport>(
        mut self,
        dialect: &mut D,
        transport: &mut T,
        end: End,
    ) {
        let client_present = !matches!(end, End::ClientGone);
        let mut out = Outbox::new();
        if end.flushes() {
            let channels = self.channels.len();
            for index in 0..channels {
                let events = self.channels[index].finish().await;
                if client_present {
                    for event in events {
                        self.hand_over(dialect, index, event, &mut out);
                    }
                }
            }
            if client_present {
                send_all(transport, &mut out).await;
            }
        }
        dialect.closing().await;
        let billed = self.billed_seconds();
        let received = self
            .channels
            .iter()
            .map(R::seconds_received)
            .fold(0.0, f64::max);
        self.metrics.add_stt_audio(received);
        let (outcome, code) = end.outcome();
        let committed = match self.meter.take() {
            Some(mut meter) => {
                meter.set_audio_seconds(billed);
                match meter.commit(outcome, code).await {
                    Ok(committed) => Some(committed),
                    Err(error) => {
                        tracing::error!(%error, "cannot record usage");
                        None
                    }
                }
            }
            None => None,
        };
        tracing::info!(
            outcome = outcome.as_str(),
            seconds = received,
            "session ended"
        );
        if !client_present {
            return;
        }
        let close = dialect.farewell(&end, committed.as_ref(), &mut out);
        send_all(transport, &mut out).await;
        if let Some((code, reason)) = close {
            transport.close(code, &reason).await;
        }
    }
}

/// Sends and empties `out`; false when the client is gone.
async fn send_all<T: Transport>(transport: &mut T, out: &mut Outbox) -> bool {
    for message in out.drain(..) {
        if !transport.send(message).await {
            return false;
        }
    }
    true
}

fn deadline(ms: u64) -> Instant {
    let now = Instant::now();
    now.checked_add(Duration::from_millis(
        ms.min(crate::config::MAX_DURATION_MS),
    ))
    .unwrap_or(now)
}

/// A JSON text frame.
pub fn json<T: serde::Serialize>(value: &T) -> Message {
    Message::Text(serde_json::to_string(value).unwrap_or_default().into())
}
