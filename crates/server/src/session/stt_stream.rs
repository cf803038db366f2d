//! A [`StreamingRecognizer`] driven from async code.
//!
//! The recognizer is sans-IO: pushing audio runs the wire-audio conversion,
//! the resampler and the VAD (about 0.1 ms of ONNX work per 32 ms frame), and
//! every Whisper decode it asks for is submitted here to the STT worker pool.
//! None of that runs on the async runtime: conversion and VAD run on tokio's
//! blocking threads (one message at a time per stream, so a 1 MiB frame of
//! μ-law — two minutes of audio — never stalls other connections), and
//! decodes on the pool. At most one decode per stream is in flight.
//!
//! Input is bounded two ways: a [`Pacer`] holds a stream to its burst plus a
//! multiple of real time, and a stream whose queued finals reach
//! [`MAX_QUEUED_FINALS`] runs them before it reads more audio. Either way the
//! session simply stops reading its socket for a while (TCP back-pressure);
//! no audio is dropped and memory stays bounded.
//!
//! When the pool is full a partial is simply skipped (a later one covers
//! it); a final is retried every [`RETRY_INTERVAL`] and the stream fails with
//! [`SttStreamError::Busy`] once it has waited [`BUSY_LIMIT`]. Finals ask
//! for a beam search; it is granted only while no decode runs or waits
//! (`SttPool::fit_to_load`), so under load finals decode greedily.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use vocalis_inference::pool::{JobHandle, PoolError, Priority, SttPool};
use vocalis_inference::streaming::{
    DecodeKind, DecodeRequest, StreamError, StreamEvent, StreamingConfig, StreamingRecognizer,
    Ticket,
};
use vocalis_inference::stt::{SttError, Transcript};
use vocalis_inference::vad::Vad;

use super::audio_input::{AudioInput, AudioInputError};
use super::pacing::Pacer;

/// Finals a stream may have waiting for a worker before it stops reading
/// audio and runs them first.
pub const MAX_QUEUED_FINALS: usize = 4;

/// Utterances whose audio a diarizing stream keeps at once (the queued
/// finals plus the open utterance).
pub const KEPT_UTTERANCES: usize = MAX_QUEUED_FINALS + 2;

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
    /// The blocking task converting audio failed (it panicked).
    #[error("audio processing failed: {0}")]
    Processing(String),
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

/// The CPU side of a stream: wire audio → 16 kHz → VAD → recognizer. Run on
/// blocking threads; the mutex is only ever taken by this stream's own task
/// or by the one blocking job it is awaiting, so it is never contended.
struct Core {
    input: AudioInput,
    recognizer: StreamingRecognizer,
}

/// One live stream: audio conversion, recognizer and the decode in flight.
pub struct SttStream {
    core: Arc<Mutex<Core>>,
    in_flight: Option<InFlight>,
    busy_since: Option<Instant>,
    pacer: Pacer,
    bytes_per_second: f64,
    /// Live diarization: the latest decoded audio of each recent utterance,
    /// by its start (stream seconds). Empty unless
    /// [`SttStream::keep_final_audio`] was asked.
    keep_final_audio: bool,
    utterance_audio: std::collections::VecDeque<(f64, Vec<f32>)>,
}

impl std::fmt::Debug for SttStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SttStream")
            .field("position", &self.position())
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
        let bytes_per_second = input.bytes_per_second();
        Ok(Self {
            core: Arc::new(Mutex::new(Core {
                input,
                recognizer: StreamingRecognizer::new(vad, config)?,
            })),
            in_flight: None,
            busy_since: None,
            pacer: Pacer::live_default(),
            bytes_per_second,
            keep_final_audio: false,
            utterance_audio: Default::default(),
        })
    }

    /// Holds this stream to `pacer` (by default [`Pacer::live_default`]).
    pub fn with_pacer(mut self, pacer: Pacer) -> Self {
        self.pacer = pacer;
        self
    }

    /// Keeps the 16 kHz audio of the latest decode of each recent utterance
    /// (each bounded by the recogniser's maximum utterance length, at most
    /// [`KEPT_UTTERANCES`] of them) for
    /// [`take_final_audio`](Self::take_final_audio): live diarization.
    pub fn keep_final_audio(mut self) -> Self {
        self.keep_final_audio = true;
        self
    }

    /// The audio of the final whose utterance starts at `start` (stream
    /// seconds), forgetting it and any older utterance's.
    pub fn take_final_audio(&mut self, start: f64) -> Option<Vec<f32>> {
        let index = self
            .utterance_audio
            .iter()
            .position(|(s, _)| (s - start).abs() < 1e-6)?;
        self.utterance_audio.drain(..index);
        self.utterance_audio.pop_front().map(|(_, audio)| audio)
    }

    fn keep_audio(&mut self, start: f64, audio: &[f32]) {
        if let Some(kept) = self
            .utterance_audio
            .iter_mut()
            .find(|(s, _)| (s - start).abs() < 1e-6)
        {
            kept.1 = audio.to_vec();
            return;
        }
        if self.utterance_audio.len() >= KEPT_UTTERANCES {
            self.utterance_audio.pop_front();
        }
        self.utterance_audio.push_back((start, audio.to_vec()));
    }

    fn core(&self) -> MutexGuard<'_, Core> {
        // A panic on a blocking thread cannot leave the core half-updated in
        // a way that matters more than the error it already reported.
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `work` on the core on a blocking thread.
    async fn on_core<R: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Core) -> Result<R, SttStreamError> + Send + 'static,
    ) -> Result<R, SttStreamError> {
        let core = Arc::clone(&self.core);
        tokio::task::spawn_blocking(move || {
            let mut core = core.lock().unwrap_or_else(|p| p.into_inner());
            work(&mut core)
        })
        .await
        .map_err(|e| SttStreamError::Processing(e.to_string()))?
    }

    /// Seconds of audio received (for billing).
    pub fn seconds_received(&self) -> f64 {
        self.core().input.seconds_received()
    }

    /// Seconds of stream audio the recognizer has consumed.
    pub fn position(&self) -> f64 {
        self.core().recognizer.position()
    }

    /// The recognizer's settings.
    pub fn config(&self) -> StreamingConfig {
        self.core().recognizer.config().clone()
    }

    /// Replaces the decode options used from the next decode on (e.g. a
    /// language change).
    pub fn set_language(&mut self, language: Option<String>) {
        self.core().recognizer.set_language(language);
    }

    /// Feeds wire bytes; returns the events they produce: VAD events, and —
    /// when this stream had [`MAX_QUEUED_FINALS`] finals waiting — the
    /// partials and finals of the decodes run before returning. Waits first
    /// when the client is ahead of its [`Pacer`].
    pub async fn push(
        &mut self,
        bytes: &[u8],
        pool: &SttPool,
    ) -> Result<Vec<StreamEvent>, SttStreamError> {
        if self.bytes_per_second > 0.0 {
            self.pacer
                .pace(bytes.len() as f64 / self.bytes_per_second)
                .await;
        }
        let bytes = bytes.to_vec();
        let mut events = self
            .on_core(move |core| {
                let audio = core.input.push(&bytes)?;
                Ok(core.recognizer.push(audio)?)
            })
            .await?;
        while self.core().recognizer.queued_finals() >= MAX_QUEUED_FINALS {
            self.schedule(pool)?;
            if self.in_flight.is_none() {
                tokio::time::sleep(RETRY_INTERVAL).await;
                continue;
            }
            let decoded = self.decoded().await;
            events.extend(self.complete(decoded)?);
        }
        Ok(events)
    }

    /// Ends the current utterance now; its final follows from the decodes.
    pub fn finalize(&mut self) {
        self.core().recognizer.finalize();
    }

    /// Ends the stream: flushes the audio and the VAD, finalizes the open utterance.
    pub async fn finish(&mut self) -> Result<Vec<StreamEvent>, SttStreamError> {
        self.on_core(|core| {
            let tail = core.input.flush()?.to_vec();
            let mut events = core.recognizer.push(&tail)?;
            events.extend(core.recognizer.finish()?);
            Ok(events)
        })
        .await
    }

    /// The end of the latest word decoded and of the latest VAD speech
    /// (stream seconds), and whether a decode is in flight or waiting: what
    /// gap detection (Deepgram's `UtteranceEnd`) needs.
    pub fn word_timing(&self) -> (Option<f64>, Option<f64>, bool) {
        let core = self.core();
        let recognizer = &core.recognizer;
        (
            recognizer.last_word_end(),
            recognizer.last_speech_end(),
            recognizer.has_pending_work() || self.in_flight.is_some(),
        )
    }

    /// Whether a decode is in flight or waiting.
    pub fn has_pending_work(&self) -> bool {
        self.core().recognizer.has_pending_work()
    }

    /// Whether a decode is running on the pool.
    pub fn is_decoding(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Whether a refused final is waiting for a worker.
    pub fn is_waiting_for_worker(&self) -> bool {
        self.busy_since.is_some()
    }

    /// Submits the next decode if none is in flight. Partials go to the
    /// pool at low priority, finals (and the speculative partial that
    /// stands in for one, [`DecodeRequest::urgent`]) at high; a partial
    /// still in flight when this stream's next final (or speculative
    /// partial) is ready is cancelled so the final never waits behind it.
    /// A full pool skips a partial and keeps a final for a retry; a final
    /// kept waiting longer than [`BUSY_LIMIT`] is an error.
    pub fn schedule(&mut self, pool: &SttPool) -> Result<(), SttStreamError> {
        if let Some(flight) = self.in_flight.take() {
            let preempt = flight.kind == DecodeKind::Partial && {
                let core = self.core();
                core.recognizer.queued_finals() > 0 || core.recognizer.speculative_partial_waiting()
            };
            if !preempt {
                self.in_flight = Some(flight);
                return Ok(());
            }
            flight.handle.cancel();
            drop(flight.handle);
            // A cancelled partial yields no event.
            let _ = self
                .core()
                .recognizer
                .complete(flight.ticket, Err(SttError::Cancelled));
        }
        let Some(request) = self.core().recognizer.next_request() else {
            return Ok(());
        };
        let DecodeRequest {
            ticket,
            kind,
            ref audio,
            ref options,
            urgent,
            ..
        } = request;
        // Urgent: a final, or the speculative partial that stands in for it.
        let priority = if urgent {
            Priority::High
        } else {
            Priority::Low
        };
        let mut options = options.clone();
        pool.fit_to_load(&mut options, urgent);
        match pool.try_transcribe_at(priority, audio.clone(), options) {
            Ok(handle) => {
                self.busy_since = None;
                if self.keep_final_audio {
                    self.keep_audio(request.start, audio);
                }
                self.in_flight = Some(InFlight {
                    ticket,
                    kind,
                    handle,
                });
                Ok(())
            }
            Err(PoolError::Busy { .. }) => {
                self.core().recognizer.release(request);
                if kind == DecodeKind::Final {
                    let since = *self.busy_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= BUSY_LIMIT {
                        return Err(SttStreamError::Busy);
                    }
                }
                Ok(())
            }
            Err(other) => {
                self.core().recognizer.release(request);
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
        Ok(self.core().recognizer.complete(decoded.ticket, result)?)
    }

    /// Ends the stream and runs its remaining decodes: every event that
    /// follows, in order. Failures are logged, not returned: at the end of a
    /// session the events obtained so far are all that can still be sent.
    pub async fn finish_and_drain(&mut self, pool: &SttPool) -> Vec<StreamEvent> {
        let mut events = match self.finish().await {
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
