//! What the live-session core needs from a recogniser, and its
//! implementation over [`SttStream`] and the Whisper worker pool.
//!
//! The core only pushes audio, asks for finals and awaits the events of
//! background decodes; a test stands a scripted fake in for the models.
//!
//! Live diarization ([`PoolStream::with_diarizer`]): each final's utterance
//! audio is embedded on a blocking thread and joins the session's
//! [`OnlineSpeakers`]; the core hands the speaker to the dialect with the
//! final ([`Recognize::take_speaker`]).

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;

use tokio::task::JoinHandle;
use vocalis_inference::diarize::{DiarizeOptions, Diarizer, OnlineSpeakers};
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
    /// The speaker of the next final event returned (in event order), when
    /// the channel diarizes; `None` otherwise or when it could not be told.
    fn take_speaker(&mut self) -> Option<Speaker> {
        None
    }
}

/// Who spoke a final (live diarization).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Speaker {
    /// Speaker id, stable within the channel's session, from 0.
    pub id: usize,
    /// How clearly the utterance belongs to this speaker, 0–1.
    pub confidence: f32,
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
    diarize: Option<Diarize>,
}

/// The embeddings of a batch of finals (`None`: too short or failed).
type EmbedJob = JoinHandle<Vec<Option<Vec<f32>>>>;

/// A channel's live diarization state.
struct Diarize {
    diarizer: Arc<Diarizer>,
    speakers: OnlineSpeakers,
    /// The speaker of each final event already returned and not yet taken.
    labels: VecDeque<Option<Speaker>>,
    /// Events of a finished decode whose finals are being embedded (kept
    /// here so [`Recognize::decoded`] stays cancel-safe).
    labelling: Option<(Vec<StreamEvent>, EmbedJob)>,
}

impl std::fmt::Debug for Diarize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Diarize")
            .field("speakers", &self.speakers.count())
            .finish_non_exhaustive()
    }
}

impl PoolStream {
    /// `stream` decoding on `engines.stt`.
    pub fn new(stream: SttStream, engines: Arc<Engines>) -> Self {
        Self {
            stream,
            engines,
            diarize: None,
        }
    }

    /// Labels each final with its speaker using `diarizer` (no-op for
    /// `None`: diarization not requested or the model not installed), with
    /// the client's speaker-count hints (`options.max_speakers` caps the
    /// speakers; see [`OnlineSpeakers`]).
    pub fn with_diarizer(
        mut self,
        diarizer: Option<Arc<Diarizer>>,
        options: &DiarizeOptions,
    ) -> Self {
        if let Some(diarizer) = diarizer {
            self.stream = self.stream.keep_final_audio();
            self.diarize = Some(Diarize {
                diarizer,
                speakers: OnlineSpeakers::new(options),
                labels: VecDeque::new(),
                labelling: None,
            });
        }
        self
    }

    /// Starts embedding the finals of `events` on a blocking thread; `None`
    /// when there is nothing to embed (the events are then ready).
    fn start_labelling(&mut self, events: Vec<StreamEvent>) -> Option<Vec<StreamEvent>> {
        let Some(diarize) = self.diarize.as_mut() else {
            return Some(events);
        };
        let audio: Vec<Option<Vec<f32>>> = events
            .iter()
            .filter_map(|event| match event {
                StreamEvent::Final { start, .. } => Some(self.stream.take_final_audio(*start)),
                _ => None,
            })
            .collect();
        if audio.is_empty() {
            return Some(events);
        }
        let diarizer = Arc::clone(&diarize.diarizer);
        let job = tokio::task::spawn_blocking(move || {
            audio
                .into_iter()
                .map(|audio| {
                    let audio = audio?;
                    match diarizer.embed_utterance(&audio) {
                        Ok(embedding) => embedding,
                        Err(error) => {
                            tracing::warn!(%error, "cannot embed an utterance");
                            None
                        }
                    }
                })
                .collect()
        });
        diarize.labelling = Some((events, job));
        None
    }

    /// Waits for the labelling in progress (cancel-safe) and returns its
    /// events, their speakers queued; `None` when there is none.
    async fn finish_labelling(&mut self) -> Option<Vec<StreamEvent>> {
        let diarize = self.diarize.as_mut()?;
        let (_, job) = diarize.labelling.as_mut()?;
        let embeddings = job.await.unwrap_or_else(|error| {
            tracing::warn!(%error, "utterance embedding failed");
            Vec::new()
        });
        let (events, _) = diarize.labelling.take()?;
        let mut embeddings = embeddings.into_iter();
        for event in &events {
            if matches!(event, StreamEvent::Final { .. }) {
                let label = embeddings.next().flatten().map(|embedding| {
                    let (id, confidence) = diarize.speakers.assign(&embedding);
                    Speaker { id, confidence }
                });
                diarize.labels.push_back(label);
            }
        }
        Some(events)
    }

    /// `events` with their finals labelled (waits for the embeddings).
    async fn labelled(&mut self, events: Vec<StreamEvent>) -> Vec<StreamEvent> {
        match self.start_labelling(events) {
            Some(events) => events,
            None => self.finish_labelling().await.unwrap_or_default(),
        }
    }
}

impl Recognize for PoolStream {
    async fn push(&mut self, bytes: &[u8]) -> Result<Vec<StreamEvent>, SttStreamError> {
        let mut events = self.finish_labelling().await.unwrap_or_default();
        let more = self.stream.push(bytes, &self.engines.stt).await?;
        events.extend(self.labelled(more).await);
        Ok(events)
    }

    fn finalize(&mut self) {
        self.stream.finalize();
    }

    fn set_language(&mut self, language: Option<String>) {
        self.stream.set_language(language);
    }

    async fn decoded(&mut self) -> Result<Vec<StreamEvent>, SttStreamError> {
        loop {
            if let Some(events) = self.finish_labelling().await {
                return Ok(events);
            }
            self.stream.schedule(&self.engines.stt)?;
            if self.stream.is_decoding() {
                let decoded = self.stream.decoded().await;
                let events = self.stream.complete(decoded)?;
                match self.start_labelling(events) {
                    Some(events) => return Ok(events),
                    None => continue,
                }
            }
            if self.stream.is_waiting_for_worker() {
                tokio::time::sleep(RETRY_INTERVAL).await;
                continue;
            }
            return std::future::pending().await;
        }
    }

    async fn finish(&mut self) -> Vec<StreamEvent> {
        let mut events = self.finish_labelling().await.unwrap_or_default();
        let more = self.stream.finish_and_drain(&self.engines.stt).await;
        events.extend(self.labelled(more).await);
        events
    }

    fn take_speaker(&mut self) -> Option<Speaker> {
        self.diarize.as_mut()?.labels.pop_front().flatten()
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
