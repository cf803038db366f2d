//! Scheduling: pending text, one synthesis job at a time, its audio framed
//! into the outbox, and flush markers.

use axum::extract::ws::Message;
use base64::Engine as _;
use tokio::time::Instant;
use vocalis_audio::AudioEncoder;
use vocalis_inference::pool::PoolError;
use vocalis_inference::tts::phrase::first_phrase_end;

use super::{json_message, End, InFlight, Reject, Segment, Session, Work, MAX_PENDING_CHARS};
use crate::error::SessionClose;
use crate::routes::ws_tts::synth::{self, SynthError, SynthJob, SynthOutput};
use crate::wire::sixtydb_tts::{ContextServerMessage, SessionServerMessage};

/// What part of a sentence a job speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    Whole,
    /// The first clause of a segment's first sentence.
    FirstClause,
    /// The rest of that sentence.
    Rest,
}

impl Session {
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

    pub(super) fn append(&mut self, index: usize, text: &str) -> Result<(), Reject> {
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
                continues: false,
            });
        }
        Ok(())
    }

    pub(super) fn flush(&mut self, index: usize) {
        let stream = &mut self.streams[index];
        if let Some(rest) = stream.text.take_rest() {
            stream.ready.push_back(Work::Sentence {
                chars: rest.chars().count(),
                text: rest,
                ready_at: Instant::now(),
                continues: false,
            });
        }
        stream.ready.push_back(Work::Flush);
    }

    /// Drops a stream's pending text, queued work and queued audio, and
    /// cancels its sentence in flight.
    pub(super) fn clear(&mut self, index: usize, in_flight: &mut Option<InFlight>) {
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
    pub(super) fn schedule(&mut self, in_flight: &mut Option<InFlight>) -> Result<(), End> {
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
                    continues,
                }) => {
                    let first = !continues && !self.streams[index].segment.spoke;
                    let (text, chars, clause) = if first {
                        self.split_first_phrase(index, text, chars, ready_at)
                    } else {
                        (text, chars, false)
                    };
                    let piece = match (continues, clause) {
                        (true, _) => Piece::Rest,
                        (false, true) => Piece::FirstClause,
                        (false, false) => Piece::Whole,
                    };
                    *in_flight = Some(self.submit(index, text, chars, ready_at, piece)?);
                }
                None => {}
            }
        }
        Ok(())
    }

    /// The first sentence of a segment: when it has a short first phrase
    /// ([`first_phrase_end`]), returns the phrase (to be spoken now, for
    /// earlier first audio) and queues the rest as a continuation. The
    /// characters billed are split between the two and sum to the whole.
    fn split_first_phrase(
        &mut self,
        index: usize,
        text: String,
        chars: usize,
        ready_at: Instant,
    ) -> (String, usize, bool) {
        let Some(end) = first_phrase_end(&text) else {
            return (text, chars, false);
        };
        let head = text[..end].trim_end().to_owned();
        let head_chars = head.chars().count().min(chars);
        self.streams[index].ready.push_front(Work::Sentence {
            text: text[end..].trim_start().to_owned(),
            chars: chars - head_chars,
            ready_at,
            continues: true,
        });
        (head, head_chars, true)
    }

    fn submit(
        &mut self,
        index: usize,
        text: String,
        chars: usize,
        ready_at: Instant,
        piece: Piece,
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
        let continues = piece == Piece::Rest;
        let gain = stream.segment.gain.take().filter(|_| continues);
        let job = SynthJob {
            text,
            speed: stream.speed,
            gap_before: !first_in_segment && !continues,
            gain,
            first_clause: piece == Piece::FirstClause,
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

    pub(super) fn on_job_done(
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
        stream.segment.gain = output.gain;
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
