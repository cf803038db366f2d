//! Speech played back on a telephony socket: text is synthesized on the
//! Piper pool into μ-law 8 kHz, then sent at most [`LEAD_S`] ahead of real
//! time, so a barge-in (`clear`) stops the audio still queued here at once
//! (Twilio drops what it buffered when it gets the `clear` we forward).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use vocalis_audio::{AudioEncoder, OutputFormat};
use vocalis_inference::pool::{JobHandle, PoolError};
use vocalis_inference::SynthesisOptions;

use crate::engine::Engines;

/// How far ahead of real time played-back audio is sent, seconds.
pub const LEAD_S: f64 = 1.0;
/// Audio per frame sent: 20 ms of μ-law 8 kHz (Twilio's own frame size).
pub const FRAME_BYTES: usize = 160;
/// The most text one `speak` may ask for, characters.
pub const MAX_SPEAK_CHARS: usize = 2_000;
/// The most `speak`s waiting for synthesis at once.
pub const MAX_QUEUED: usize = 8;

/// What the playback has to send next.
#[derive(Debug, PartialEq)]
pub enum Played {
    /// μ-law 8 kHz for the caller (one frame).
    Audio(Vec<u8>),
    /// The audio of a `speak` has all been sent; its mark follows it.
    Mark(String),
    /// A `speak` could not be synthesized.
    Failed(String),
}

type Job = JobHandle<Result<Vec<u8>, String>>;

/// One socket's playback queue.
pub struct Playback {
    engines: Arc<Engines>,
    queue: VecDeque<(String, String)>,
    job: Option<(Job, String)>,
    audio: VecDeque<u8>,
    mark: Option<String>,
    clock: Option<(Instant, f64)>,
    characters: u64,
}

impl std::fmt::Debug for Playback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Playback")
            .field("queued", &self.queue.len())
            .field("audio", &self.audio.len())
            .finish_non_exhaustive()
    }
}

impl Playback {
    /// An empty queue synthesizing on `engines.tts`.
    pub fn new(engines: Arc<Engines>) -> Self {
        Self {
            engines,
            queue: VecDeque::new(),
            job: None,
            audio: VecDeque::new(),
            mark: None,
            clock: None,
            characters: 0,
        }
    }

    /// Characters accepted for synthesis so far (billing).
    pub fn characters(&self) -> u64 {
        self.characters
    }

    /// Queues `text`, to be followed by the mark `mark`.
    pub fn speak(&mut self, text: &str, mark: String) -> Result<(), &'static str> {
        let text = text.trim();
        if text.is_empty() {
            return Err("nothing to speak");
        }
        if text.chars().count() > MAX_SPEAK_CHARS {
            return Err("text too long to speak (at most 2000 characters)");
        }
        if self.queue.len() >= MAX_QUEUED {
            return Err("too many speak requests queued");
        }
        self.characters += text.chars().count() as u64;
        self.queue.push_back((text.to_owned(), mark));
        Ok(())
    }

    /// Barge-in: drops everything not yet sent; whether anything was.
    pub fn clear(&mut self) -> bool {
        let had = !self.queue.is_empty()
            || self.job.is_some()
            || !self.audio.is_empty()
            || self.mark.is_some();
        if let Some((job, _)) = self.job.take() {
            job.cancel();
        }
        self.queue.clear();
        self.audio.clear();
        self.mark = None;
        had
    }

    /// The next thing to send; pending while there is none. Cancel-safe.
    pub async fn next(&mut self) -> Played {
        loop {
            if !self.audio.is_empty() {
                let now = Instant::now();
                let (start, sent) = *self.clock.get_or_insert((now, 0.0));
                let ahead = sent - (now - start).as_secs_f64();
                if ahead > LEAD_S {
                    tokio::time::sleep(Duration::from_secs_f64(ahead - LEAD_S)).await;
                    continue;
                }
                let take = FRAME_BYTES.min(self.audio.len());
                let frame: Vec<u8> = self.audio.drain(..take).collect();
                self.clock = Some((start, sent + take as f64 / 8_000.0));
                return Played::Audio(frame);
            }
            if let Some(mark) = self.mark.take() {
                return Played::Mark(mark);
            }
            if let Some((job, _)) = self.job.as_mut() {
                let result = job.await;
                let Some((_, mark)) = self.job.take() else {
                    continue;
                };
                match result {
                    Ok(Ok(bytes)) => {
                        // After a pause, the clock restarts from now.
                        let now = Instant::now();
                        if self
                            .clock
                            .is_none_or(|(start, sent)| sent < (now - start).as_secs_f64())
                        {
                            self.clock = Some((now, 0.0));
                        }
                        self.audio.extend(bytes);
                        self.mark = Some(mark);
                    }
                    Ok(Err(error)) => return Played::Failed(error),
                    Err(error) => return Played::Failed(error.to_string()),
                }
                continue;
            }
            if let Some((text, mark)) = self.queue.pop_front() {
                match submit(&self.engines, text) {
                    Ok(job) => self.job = Some((job, mark)),
                    Err(error) => return Played::Failed(error.to_string()),
                }
                continue;
            }
            return std::future::pending().await;
        }
    }
}

fn submit(engines: &Engines, text: String) -> Result<Job, PoolError> {
    engines.tts.try_submit(move |voice, ctx| {
        let mut encoder = AudioEncoder::new(OutputFormat::Mulaw, voice.sample_rate(), 8_000)
            .map_err(|e| e.to_string())?;
        let mut bytes = Vec::new();
        let stream = voice
            .synthesize_stream(&text, &SynthesisOptions::default())
            .map_err(|e| e.to_string())?;
        for chunk in stream {
            if ctx.is_cancelled() {
                return Err("cancelled".to_owned());
            }
            let chunk = chunk.map_err(|e| e.to_string())?;
            encoder
                .push_into(&chunk.samples, &mut bytes)
                .map_err(|e| e.to_string())?;
        }
        bytes.extend(encoder.finish().map_err(|e| e.to_string())?);
        Ok(bytes)
    })
}
