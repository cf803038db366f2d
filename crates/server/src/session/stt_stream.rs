//! A [`StreamingRecognizer`] driven from async code.
//!
//! The recognizer is sans-IO: pushing audio runs only the VAD (about 0.1 ms
//! of ONNX work per 32 ms frame, done inline), and every Whisper decode it
//! asks for is submitted here to the STT worker pool, so no Whisper work runs
//! on the async runtime. At most one decode per stream is in flight.
//!
//! When the pool is full a partial is simply skipped (a later one covers
//! it); a final is retried every [`RETRY_INTERVAL`] and the stream fails with
//! [`SttStreamError::Busy`] once it has waited [`BUSY_LIMIT`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use vocalis_inference::pool::{JobHandle, PoolError, SttPool};
use vocalis_inference::streaming::{
    DecodeKind, DecodeRequest, StreamError, StreamEvent, StreamingConfig, StreamingRecognizer,
    Ticket,
};
use vocalis_inference::stt::{SttError, Transcript};
use vocalis_inference::vad::Vad;

use super::audio_input::{AudioInput, AudioInputError};

/// How long a final may wait for a free worker before the stream fails.
pub const BUSY_LIMIT: Duration = Duration::from_secs(10);
/// How often a final refused by a full pool is tried again.
pub const RETRY_INTERVAL: Duration = Duration::from_millis(100);

/// Why a stream failed.
#[derive(Debug, thiserror::Error)]
pub enum SttStreamError {
    /// The audio could not be converted.
    #[error(transparent)]
    Audio(#[from] AudioInputError),
    /// The recognizer failed (VAD error, invalid config, failed final).
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// No worker became free for a final within [`BUSY_LIMIT`].
    #[error("all speech workers stayed busy for {}s", BUSY_LIMIT.as_secs())]
    Busy,
    /// The pool is shutting down or lost the job.
    #[error(transparent)]
    Pool(PoolError),
}

impl SttStreamError {
    /// How a session ends on this error (the shared close-code mapping).
    pub fn close_reason(&self) -> crate::error::SessionClose {
        use crate::error::SessionClose;
        match self {
            Self::Busy => SessionClose::Busy,
            Self::Audio(error) => {
                tracing::info!(%error, "unusable audio");
                SessionClose::BadAudio
            }
            other => {
                tracing::error!(error = %other, "stream failed");
                SessionClose::Internal
            }
        }
    }
}

struct InFlight {
    ticket: Ticket,
    kind: DecodeKind,
    handle: JobHandle<Result<Transcript, SttError>>,
}

/// One live stream: audio conversion, recognizer and the decode in flight.
pub struct SttStream {
    input: AudioInput,
    recognizer: StreamingRecognizer,
    in_flight: Option<InFlight>,
    busy_since: Option<Instant>,
}

impl std::fmt::Debug for SttStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SttStream")
            .field("position", &self.recognizer.position())
            .field("in_flight", &self.in_flight.as_ref().map(|f| f.kind))
            .finish_non_exhaustive()
    }
}

/// What [`SttStream::decoded`] resolves to.
pub struct Decoded {
    kind: DecodeKind,
    ticket: Ticket,
    result: Result<Result<Transcript, SttError>, PoolError>,
}

impl SttStream {
    /// A stream over `input` with recognizer settings `config`.
    pub fn new(
        input: AudioInput,
        vad: &Vad,
        config: StreamingConfig,
    ) -> Result<Self, SttStreamError> {
        Ok(Self {
            input,
            recognizer: StreamingRecognizer::new(vad, config)?,
            in_flight: None,
            busy_since: None,
        })
    }

    /// Seconds of audio received (for billing).
    pub fn seconds_received(&self) -> f64 {
        self.input.seconds_received()
    }

    /// Seconds of stream audio the recognizer has consumed.
    pub fn position(&self) -> f64 {
        self.recognizer.position()
    }

    /// The recognizer's settings.
    pub fn config(&self) -> &StreamingConfig {
        self.recognizer.config()
    }

    /// Replaces the decode options used from the next decode on (e.g. a
    /// language change).
    pub fn set_language(&mut self, language: Option<String>) {
        self.recognizer.set_language(language);
    }

    /// Feeds wire bytes; returns VAD events (speech started).
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<StreamEvent>, SttStreamError> {
        let audio = self.input.push(bytes)?;
        Ok(self.recognizer.push(audio)?)
    }

    /// Ends the current utterance now; its final follows from the decodes.
    pub fn finalize(&mut self) {
        self.recognizer.finalize();
    }

    /// Ends the stream: flushes the audio and the VAD, finalizes the open utterance.
    pub fn finish(&mut self) -> Result<Vec<StreamEvent>, SttStreamError> {
        let tail = self.input.flush()?.to_vec();
        let mut events = self.recognizer.push(&tail)?;
        events.extend(self.recognizer.finish()?);
        Ok(events)
    }

    /// Whether a decode is in flight or waiting.
    pub fn has_pending_work(&self) -> bool {
        self.recognizer.has_pending_work()
    }

    /// Whether a refused final is waiting for a worker.
    pub fn is_waiting_for_worker(&self) -> bool {
        self.busy_since.is_some()
    }

    /// Submits the next decode if none is in flight. A full pool skips a
    /// partial and keeps a final for a retry; a final kept waiting longer
    /// than [`BUSY_LIMIT`] is an error.
    pub fn schedule(&mut self, pool: &SttPool) -> Result<(), SttStreamError> {
        if self.in_flight.is_some() {
            return Ok(());
        }
        let Some(request) = self.recognizer.next_request() else {
            return Ok(());
        };
        let DecodeRequest {
            ticket,
            kind,
            ref audio,
            ref options,
            ..
        } = request;
        match pool.try_transcribe(audio.clone(), options.clone()) {
            Ok(handle) => {
                self.busy_since = None;
                self.in_flight = Some(InFlight {
                    ticket,
                    kind,
                    handle,
                });
                Ok(())
            }
            Err(PoolError::Busy { .. }) => {
                self.recognizer.release(request);
                if kind == DecodeKind::Final {
                    let since = *self.busy_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= BUSY_LIMIT {
                        return Err(SttStreamError::Busy);
                    }
                }
                Ok(())
            }
            Err(other) => {
                self.recognizer.release(request);
                Err(SttStreamError::Pool(other))
            }
        }
    }

    /// Resolves when the decode in flight finishes; pending forever when
    /// there is none (so it can sit in a `select!`).
    pub fn decoded(&mut self) -> DecodedFuture<'_> {
        DecodedFuture { stream: self }
    }

    /// Hands a finished decode to the recognizer; returns partials/finals.
    pub fn complete(&mut self, decoded: Decoded) -> Result<Vec<StreamEvent>, SttStreamError> {
        let result = match decoded.result {
            Ok(result) => result,
            Err(error) if decoded.kind == DecodeKind::Partial => {
                tracing::debug!(%error, "partial decode lost");
                Err(SttError::Cancelled)
            }
            Err(error) => return Err(SttStreamError::Pool(error)),
        };
        Ok(self.recognizer.complete(decoded.ticket, result)?)
    }

    /// Ends the stream and runs its remaining decodes: every event that
    /// follows, in order. Failures are logged, not returned: at the end of a
    /// session the events obtained so far are all that can still be sent.
    pub async fn finish_and_drain(&mut self, pool: &SttPool) -> Vec<StreamEvent> {
        let mut events = match self.finish() {
            Ok(events) => events,
            Err(error) => {
                tracing::warn!(%error, "cannot finish the stream");
                return Vec::new();
            }
        };
        match self.drain(pool).await {
            Ok(more) => events.extend(more),
            Err(error) => tracing::warn!(%error, "final decodes failed at session end"),
        }
        events
    }

    /// Runs every remaining decode to completion (after [`finish`](Self::finish)
    /// or [`finalize`](Self::finalize)), returning their events in order.
    pub async fn drain(&mut self, pool: &SttPool) -> Result<Vec<StreamEvent>, SttStreamError> {
        let mut events = Vec::new();
        loop {
            self.schedule(pool)?;
            if self.in_flight.is_none() {
                if self.busy_since.is_some() {
                    tokio::time::sleep(RETRY_INTERVAL).await;
                    continue;
                }
                if !self.has_pending_work() {
                    return Ok(events);
                }
            }
            let decoded = self.decoded().await;
            events.extend(self.complete(decoded)?);
        }
    }
}

/// The future returned by [`SttStream::decoded`].
pub struct DecodedFuture<'a> {
    stream: &'a mut SttStream,
}

impl Future for DecodedFuture<'_> {
    type Output = Decoded;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Decoded> {
        let Some(flight) = self.stream.in_flight.as_mut() else {
            return Poll::Pending;
        };
        let result = match Pin::new(&mut flight.handle).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(result) => result,
        };
        let (kind, ticket) = (flight.kind, flight.ticket);
        self.stream.in_flight = None;
        Poll::Ready(Decoded {
            kind,
            ticket,
            result,
        })
    }
}
