//! Speech played back on a telephony socket, on the same synthesis path as
//! `/ws/tts` (`ws_tts::synth` jobs on the Piper pool, `ws_tts::text`
//! sentences, the first sentence of each `speak` spoken clause first): first
//! audio waits for a model run over a few words, not the whole text. Audio
//! is μ-law 8 kHz, sent at most [`LEAD_S`] ahead of real time, so a barge-in
//! (`clear`) stops the audio still queued here at once (Twilio drops what it
//! buffered when it gets the `clear` we forward). The next sentence is
//! synthesized while the previous one plays, and only while less than
//! [`SYNTH_AHEAD_BYTES`] of audio wait to be sent (bounded memory).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::time::Instant;
use vocalis_audio::{AudioEncoder, OutputFormat};
use vocalis_inference::pool::JobHandle;
use vocalis_inference::tts::phrase::first_phrase_end;

use crate::engine::Engines;
use crate::routes::ws_tts::synth::{self, SynthJob, SynthOutput};
use crate::routes::ws_tts::text::TextBuffer;

/// How far ahead of real time played-back audio is sent, seconds.
pub const LEAD_S: f64 = 1.0;
/// Audio per frame sent: 20 ms of μ-law 8 kHz (Twilio's own frame size).
pub const FRAME_BYTES: usize = 160;
/// The most text one `speak` may ask for, characters.
pub const MAX_SPEAK_CHARS: usize = 2_000;
/// The most `speak`s waiting for synthesis at once.
pub const MAX_QUEUED: usize = 8;
/// The next sentence is synthesized only while less than this much audio
/// (3 s of μ-law 8 kHz) waits to be sent.
pub const SYNTH_AHEAD_BYTES: usize = 24_000;

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

/// One synthesis job's text within a `speak`.
#[derive(Debug)]
struct Piece {
    text: String,
    /// Silence before it (a sentence after another).
    gap_before: bool,
    /// The first clause of the `speak`'s first sentence.
    first_clause: bool,
    /// The rest of that sentence (continues at the clause's gain).
    continues: bool,
}

/// One socket's playback queue.
pub struct Playback {
    engines: Arc<Engines>,
    /// `speak`s not started: text and mark.
    queue: VecDeque<(String, String)>,
    /// The current `speak`'s pieces not yet submitted, and its mark.
    pieces: VecDeque<Piece>,
    current_mark: Option<String>,
    job: Option<JobHandle<SynthOutput>>,
    /// The current `speak`'s encoder (resampler state carries across its
    /// sentences) and the gain of its first clause.
    encoder: Option<AudioEncoder>,
    gain: Option<f32>,
    audio: VecDeque<u8>,
    /// Marks, each with the count of bytes queued before it.
    marks: VecDeque<(u64, String)>,
    queued_bytes: u64,
    sent_bytes: u64,
    clock: Option<(Instant, f64)>,
    characters: u64,
}

impl std::fmt::Debug for Playback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Playback")
            .field("queued", &self.queue.len())
            .field("pieces", &self.pieces.len())
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
            pieces: VecDeque::new(),
            current_mark: None,
            job: None,
            encoder: None,
            gain: None,
            audio: VecDeque::new(),
            marks: VecDeque::new(),
            queued_bytes: 0,
            sent_bytes: 0,
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
            || !self.pieces.is_empty()
            || self.job.is_some()
            || !self.audio.is_empty()
            || !self.marks.is_empty();
        if let Some(job) = self.job.take() {
            job.cancel();
        }
        self.queue.clear();
        self.pieces.clear();
        self.current_mark = None;
        self.encoder = None;
        self.gain = None;
        self.audio.clear();
        self.marks.clear();
        self.sent_bytes = self.queued_bytes;
        had
    }

    /// The next thing to send; pending while there is none. Cancel-safe.
    pub async fn next(&mut self) -> Played {
        loop {
            if let Some(failed) = self.start_synthesis() {
                return failed;
            }
            if let Some(result) = self.job.as_mut().and_then(|job| job.now_or_never()) {
                self.job = None;
                if let Some(failed) = self.synthesized(result) {
                    return failed;
                }
                continue;
            }
            if let Some((at, _)) = self.marks.front() {
                if *at <= self.sent_bytes {
                    let (_, mark) = self.marks.pop_front().expect("a mark");
                    return Played::Mark(mark);
                }
            }
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
                self.sent_bytes += take as u64;
                self.clock = Some((start, sent + take as f64 / 8_000.0));
                return Played::Audio(frame);
            }
            match self.job.as_mut() {
                Some(job) => {
                    let result = job.await;
                    self.job = None;
                    if let Some(failed) = self.synthesized(result) {
                        return failed;
                    }
                }
                None => return std::future::pending().await,
            }
        }
    }

    /// Submits the next piece when none is in flight and little audio
    /// waits; a failure to submit fails the current `speak`.
    fn start_synthesis(&mut self) -> Option<Played> {
        if self.job.is_some() || self.audio.len() >= SYNTH_AHEAD_BYTES {
            return None;
        }
        if self.pieces.is_empty() {
            let (text, mark) = self.queue.pop_front()?;
            self.pieces = pieces(&text);
            self.current_mark = Some(mark);
            self.encoder = None;
            self.gain = None;
        }
        let piece = self.pieces.pop_front()?;
        let encoder = match self.encoder.take() {
            Some(encoder) => encoder,
            None => match AudioEncoder::new(OutputFormat::Mulaw, self.engines.voice_rate, 8_000) {
                Ok(encoder) => encoder,
                Err(error) => return Some(self.fail(error.to_string())),
            },
        };
        let job = SynthJob {
            text: piece.text,
            speed: 1.0,
            gap_before: piece.gap_before,
            gain: self.gain.take().filter(|_| piece.continues),
            first_clause: piece.first_clause,
            encoder,
        };
        match synth::submit(&self.engines.tts, job) {
            Ok(job) => {
                self.job = Some(job);
                None
            }
            Err(error) => Some(self.fail(error.to_string())),
        }
    }

    /// Takes a finished piece's audio; after the `speak`'s last piece, the
    /// encoder's tail and the mark.
    fn synthesized(
        &mut self,
        result: Result<SynthOutput, vocalis_inference::pool::PoolError>,
    ) -> Option<Played> {
        let output = match result {
            Ok(output) => output,
            Err(error) => return Some(self.fail(error.to_string())),
        };
        self.queue_audio(output.bytes);
        if let Err(error) = output.result {
            return Some(self.fail(error.to_string()));
        }
        self.gain = output.gain;
        if !self.pieces.is_empty() {
            self.encoder = Some(output.encoder);
            return None;
        }
        match output.encoder.finish() {
            Ok(tail) => self.queue_audio(tail),
            Err(error) => return Some(self.fail(error.to_string())),
        }
        if let Some(mark) = self.current_mark.take() {
            self.marks.push_back((self.queued_bytes, mark));
        }
        None
    }

    fn queue_audio(&mut self, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        // After a pause, the clock restarts from now.
        let now = Instant::now();
        if self.audio.is_empty()
            && self
                .clock
                .is_none_or(|(start, sent)| sent < (now - start).as_secs_f64())
        {
            self.clock = Some((now, 0.0));
        }
        self.queued_bytes += bytes.len() as u64;
        self.audio.extend(bytes);
    }

    /// Drops the rest of the current `speak` (its mark is not sent).
    fn fail(&mut self, why: String) -> Played {
        self.pieces.clear();
        self.current_mark = None;
        self.encoder = None;
        self.gain = None;
        Played::Failed(why)
    }
}

/// A `speak`'s text as synthesis pieces: its sentences, the first one cut
/// after its first clause when it has a short one (as `/ws/tts` does).
fn pieces(text: &str) -> VecDeque<Piece> {
    let mut buffer = TextBuffer::default();
    let mut sentences = buffer.push(text);
    sentences.extend(buffer.take_rest());
    let mut out = VecDeque::new();
    for (index, sentence) in sentences.into_iter().enumerate() {
        let split = (index == 0).then(|| first_phrase_end(&sentence)).flatten();
        match split {
            Some(end) => {
                out.push_back(Piece {
                    text: sentence[..end].trim_end().to_owned(),
                    gap_before: false,
                    first_clause: true,
                    continues: false,
                });
                out.push_back(Piece {
                    text: sentence[end..].trim_start().to_owned(),
                    gap_before: false,
                    first_clause: false,
                    continues: true,
                });
            }
            None => out.push_back(Piece {
                text: sentence,
                gap_before: index > 0,
                first_clause: false,
                continues: false,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_speak_is_cut_into_sentences_with_the_first_clause_first() {
        let pieces = pieces(
            "Thank you for calling, your order is ready for pickup today. It closes at nine.",
        );
        let texts: Vec<&str> = pieces.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Thank you for calling,",
                "your order is ready for pickup today.",
                "It closes at nine."
            ]
        );
        let flags: Vec<(bool, bool, bool)> = pieces
            .iter()
            .map(|p| (p.gap_before, p.first_clause, p.continues))
            .collect();
        assert_eq!(
            flags,
            [
                (false, true, false),
                (false, false, true),
                (true, false, false)
            ]
        );
        let one = super::pieces("Your order is ready.");
        assert_eq!(one.len(), 1);
        assert!(!one[0].gap_before && !one[0].first_clause);
    }
}
