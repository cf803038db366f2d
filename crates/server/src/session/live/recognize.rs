//! What the live-session core needs from a recogniser, and its
//! implementation over [`SttStream`] and the Whisper worker pool.
//!
//! The core only pushes audio, asks for finals and awaits the events of
//! background decodes; a test stands a scripted fake in for the models.

use std::future::Future;
use std::sync::Arc;

use vocalis_inference::streaming::StreamEvent;

use crate::engine::Engines;
use crate::session::stt_stream::{SttStream, SttStreamError, RETRY_INTERVAL};

/// One channel's recogniser, driven by the session core.
pub trait Recognize: Send {
    /// Feeds wire bytes; returns the events they produce at once. May wait
    /// (pacing, queued finals): the session reads no more of its socket
    /// meanwhile, which is the back-pressure.
    fn push(
        &mut self,
        bytes: &[u8],
    ) -> impl Future<Output = Result<Vec<StreamEvent>, SttStreamError>> + Send;
    /// Ends the current utterance now; its final follows from [`Self::decoded`].
    fn finalize(&mut self);
    /// The decode language from now on (`None`: detect).
    fn set_language(&mut self, language: Option<String>);
    /// The events of the next background decode; pending forever while
    /// there is none. Cancel-safe: it sits in the session's `select!`.
    fn decoded(&mut self) -> impl Future<Output = Result<Vec<StreamEvent>, SttStreamError>> + Send;
    /// Ends the stream and runs every remaining decode; failures are logged.
    fn finish(&mut self) -> impl Future<Output = Vec<StreamEvent>> + Send;
    /// Seconds of audio received (billing).
    fn seconds_received(&self) -> f64;
    /// Seconds of audio the recogniser has consumed (latency metrics).
    fn position(&self) -> f64;
    /// Where the words stand, for gap detection (Deepgram's
    /// `UtteranceEnd`); nothing known by default.
    fn word_timing(&self) -> WordTiming {
        WordTiming::default()
    }
}

/// The word clock of one channel, in stream seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WordTiming {
    /// End of the latest word decoded (partials included).
    pub last_word_end: Option<f64>,
    /// End of the latest audio the VAD scored as speech.
    pub last_speech_end: Option<f64>,
    /// Whether a decode is in flight or waiting (its words are not known yet).
    pub pending: bool,
}

/// A live [`SttStream`] whose decodes run on the engines' Whisper pool.
#[derive(Debug)]
pub struct PoolStream {
    stream: SttStream,
    engines: Arc<Engines>,
}

impl PoolStream {
    /// `stream` decoding on `engines.stt`.
    pub fn new(stream: SttStream, engines: Arc<Engines>) -> Self {
        Self { stream, engines }
    }
}

impl Recognize for PoolStream {
    async fn push(&mut self, bytes: &[u8]) -> Result<Vec<StreamEvent>, SttStreamError> {
        self.stream.push(bytes, &self.engines.stt).await
    }

    fn finalize(&mut self) {
        self.stream.finalize();
    }

    fn set_language(&mut self, language: Option<String>) {
        self.stream.set_language(language);
    }

    async fn decoded(&mut self) -> Result<Vec<StreamEvent>, SttStreamError> {
        loop {
            self.stream.schedule(&self.engines.stt)?;
            if self.stream.is_decoding() {
                let decoded = self.stream.decoded().await;
                return self.stream.complete(decoded);
            }
            if self.stream.is_waiting_for_worker() {
                tokio::time::sleep(RETRY_INTERVAL).await;
                continue;
            }
            return std::future::pending().await;
        }
    }

    async fn finish(&mut self) -> Vec<StreamEvent> {
        self.stream.finish_and_drain(&self.engines.stt).await
    }

    fn seconds_received(&self) -> f64 {
        self.stream.seconds_received()
    }

    fn position(&self) -> f64 {
        self.stream.position()
    }

    fn word_timing(&self) -> WordTiming {
        let (last_word_end, last_speech_end, pending) = self.stream.word_timing();
        WordTiming {
            last_word_end,
            last_speech_end,
            pending,
        }
    }
}
