//! The decode side of the recogniser: handing out [`DecodeRequest`]s,
//! taking their results back ([`StreamingRecognizer::complete`]) and the
//! decoding context carried from one utterance to the next.

use super::*;
use crate::stt::{context_tail, sized_ctx, AudioCtx, AUTO_MARGIN};

/// Encoder window of every Whisper model (30 s of 20 ms frames).
const MODEL_AUDIO_CTX: i32 = 1500;
/// Faster than any real speech (≈3 words/s is fast conversation).
const MAX_WORDS_PER_SECOND: f64 = 6.0;

impl StreamingRecognizer {
    /// The next decode to run, if any (none while one is in flight).
    pub fn next_request(&mut self) -> Option<DecodeRequest> {
        if self.in_flight.is_some() {
            return None;
        }
        if let Some(q) = self.promoting.take() {
            // Its partial is gone without `complete`/`release` (never so).
            self.finals.push_front(q);
        }
        self.next_id += 1;
        let ticket = Ticket(self.next_id);
        if let Some(mut f) = self.finals.pop_front() {
            f.request.ticket = ticket;
            self.add_context(&mut f.request.options);
            self.in_flight = Some(InFlight {
                ticket,
                kind: DecodeKind::Final,
                utterance: f.utterance,
                start: samples(f.request.start),
                end: f.end,
                partials_sent: f.partials_sent,
                reason: f.reason,
                promotable: false,
            });
            return Some(f.request);
        }
        if !self.config.interim_results || self.finished {
            return None;
        }
        let now = self.end_sample();
        let interval = samples(f64::from(self.config.interim_interval_ms) / 1000.0);
        let quiet = self.quiet_spell();
        let due = self.speculation_due();
        let settle = ms_samples(self.config.vad.speech_pad_ms + self.config.end_pad_ms);
        let u = self.utterance.as_mut()?;
        let len = now.saturating_sub(u.start);
        if len < samples(MIN_PARTIAL_S) {
            return None;
        }
        let speculative = due.is_some();
        // The speculative partial decodes what the final would: up to the
        // quiet spell plus the speech and end pads, however much audio has
        // arrived meanwhile (a client sending faster than real time).
        let end = due.map_or(now, |quiet| quiet + settle);
        if speculative {
            u.speculated = due;
        } else if quiet.is_some() || len < u.partial_len + interval || !u.speech_since_partial {
            // No cheap partial while the caller is quiet: it would only
            // delay the speculative one.
            return None;
        }
        u.partial_len = len;
        u.speech_since_partial = false;
        let (id, start) = (u.id, u.start);
        let mut options = if speculative {
            self.final_options()
        } else {
            self.decode_options()
        };
        // Partials are throw-away: skip the temperature fallback.
        options.temperature_increment = 0.0;
        if speculative {
            self.add_context(&mut options);
        } else {
            self.cheapen_partial(&mut options, len);
        }
        self.in_flight = Some(InFlight {
            ticket,
            kind: DecodeKind::Partial,
            utterance: id,
            start,
            end,
            partials_sent: false,
            reason: FinalReason::Endpoint,
            promotable: speculative,
        });
        Some(DecodeRequest {
            ticket,
            kind: DecodeKind::Partial,
            audio: self.padded_slice(start, end),
            options,
            start: secs(start),
            urgent: speculative,
        })
    }

    /// Whether the speculative partial (see
    /// [`PartialDecode`](super::super::PartialDecode)) is due but waits
    /// behind this stream's cheap partial in flight: a caller that can
    /// cancel that partial should, as for a final, so the speculative one
    /// starts before the endpoint.
    pub fn speculative_partial_waiting(&self) -> bool {
        self.in_flight
            .as_ref()
            .is_some_and(|f| f.kind == DecodeKind::Partial && !f.promotable)
            && self.speculation_due().is_some()
    }

    /// Start (absolute samples) of the quiet spell the open utterance
    /// ends with, when endpointing is on.
    fn quiet_spell(&self) -> Option<u64> {
        if !self.config.endpointing {
            return None;
        }
        let vad = &self.config.vad;
        quiet_since(
            &self.utterance.as_ref()?.frames,
            vad.threshold,
            vad.neg_threshold,
        )
    }

    /// The quiet spell a speculative partial is due for: quiet long enough
    /// for the final's audio (speech pad and end pad) and none requested
    /// for it yet, so it is decoded now, as the final would be, while the
    /// endpoint is still being waited for.
    fn speculation_due(&self) -> Option<u64> {
        if !self.config.interim_results || self.finished {
            return None;
        }
        let quiet = self.quiet_spell()?;
        let u = self.utterance.as_ref()?;
        let settle = ms_samples(self.config.vad.speech_pad_ms + self.config.end_pad_ms);
        let now = self.end_sample();
        let lead = ms_samples(
            self.config
                .partial
                .speculative_lead_ms
                .min(self.config.end_pad_ms),
        );
        let due = now.saturating_sub(u.start) >= samples(MIN_PARTIAL_S)
            && now + lead >= quiet + settle
            && u.speculated != Some(quiet);
        due.then_some(quiet)
    }

    /// The audio from `from` to `to`, with digital silence for the part
    /// not received yet (a speculative partial started early).
    fn padded_slice(&self, from: u64, to: u64) -> Vec<f32> {
        let mut audio = self.slice(from, to).to_vec();
        let missing = to.saturating_sub(self.end_sample()) as usize;
        audio.extend(std::iter::repeat_n(0.0, missing));
        audio
    }

    /// Returns a request that could not be run (e.g. the pool was busy):
    /// a final is queued again at the front, a partial is dropped and
    /// re-issued once more audio arrives. Unknown requests are ignored.
    pub fn release(&mut self, request: DecodeRequest) {
        let Some(flight) = self.in_flight.take_if(|f| f.ticket == request.ticket) else {
            return;
        };
        if flight.kind == DecodeKind::Final {
            self.finals.push_front(QueuedFinal {
                request,
                utterance: flight.utterance,
                end: flight.end,
                partials_sent: flight.partials_sent,
                reason: flight.reason,
            });
        } else if let Some(q) = self.promoting.take_if(|q| q.utterance == flight.utterance) {
            self.finals.push_front(q);
        }
    }

    /// At a silence endpoint (`speech_end`, `end` as for
    /// `final_from_partial`): when the speculative partial in flight covers
    /// the speech, the utterance ends and its final waits for that partial
    /// instead of queueing a decode. Returns whether it did.
    pub(super) fn await_speculative(
        &mut self,
        speech_end: u64,
        end: u64,
        reason: FinalReason,
    ) -> bool {
        let current = self.utterance.as_ref().map(|u| u.id);
        let covering = self.in_flight.as_ref().is_some_and(|f| {
            f.kind == DecodeKind::Partial
                && f.promotable
                && f.end >= speech_end
                && Some(f.utterance) == current
        });
        if !covering || !self.finals.is_empty() || self.promoting.is_some() {
            return false;
        }
        self.promoting = self.take_final(end, reason);
        self.promoting.is_some()
    }

    /// The awaited speculative partial of an ended utterance is back: a
    /// clean result is its final; otherwise its final decode is queued
    /// first.
    fn promote(
        &mut self,
        q: QueuedFinal,
        flight: &InFlight,
        result: Result<Transcript, SttError>,
    ) -> Vec<StreamEvent> {
        let mut transcript = match result {
            Ok(t) if self.is_clean(&t) => t,
            _ => {
                self.finals.push_front(q);
                return Vec::new();
            }
        };
        let start_s = secs(flight.start);
        transcript.shift(start_s);
        let end = secs(q.end.max(flight.start));
        vec![self.final_event(transcript, start_s, end, q.reason)]
    }

    /// Text, and no segment below the fallback's logprob threshold (no
    /// temperature fallback would have run).
    fn is_clean(&self, transcript: &Transcript) -> bool {
        let threshold = self.config.options.logprob_threshold;
        !transcript.text().is_empty()
            && transcript
                .segments
                .iter()
                .all(|s| s.avg_logprob >= threshold)
    }

    /// Hands back the result of a request from
    /// [`next_request`](Self::next_request). A failed partial is logged and
    /// skipped; a failed final is returned as the error (that utterance
    /// then has no final).
    pub fn complete(
        &mut self,
        ticket: Ticket,
        result: Result<Transcript, SttError>,
    ) -> Result<Vec<StreamEvent>, StreamError> {
        let flight = match self.in_flight.take() {
            Some(f) if f.ticket == ticket => f,
            other => {
                self.in_flight = other;
                return Err(StreamError::UnknownTicket(ticket.0));
            }
        };
        let start_s = secs(flight.start);
        match flight.kind {
            DecodeKind::Partial => {
                if let Some(q) = self.promoting.take_if(|q| q.utterance == flight.utterance) {
                    return Ok(self.promote(q, &flight, result));
                }
                let transcript = match result {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::debug!(error = %e, "partial decode failed");
                        return Ok(Vec::new());
                    }
                };
                if self
                    .utterance
                    .as_ref()
                    .is_none_or(|u| u.id != flight.utterance)
                {
                    // The utterance ended meanwhile; its final supersedes this.
                    return Ok(Vec::new());
                }
                if !flight.promotable && looks_degenerate(&transcript, flight.end - flight.start) {
                    // A small encoder window can make Whisper loop: drop it.
                    tracing::debug!(text = %transcript.text(), "degenerate partial dropped");
                    return Ok(Vec::new());
                }
                let clean = flight.promotable && self.is_clean(&transcript);
                let covered = clean.then(|| (flight.end, transcript.clone()));
                let language = transcript.language;
                let mut words = transcript.words;
                for w in &mut words {
                    w.start += start_s;
                    w.end += start_s;
                }
                let last_word_end = self.note_last_word(&words);
                let Some(u) = self.utterance.as_mut() else {
                    return Ok(Vec::new());
                };
                u.covered = covered;
                let tentative = u.agreement.update(&words);
                let committed = join_words(u.agreement.committed());
                let mut words = u.agreement.committed().to_vec();
                words.extend(tentative);
                let text = join_words(&words);
                if text.is_empty() || text == u.last_partial {
                    return Ok(Vec::new());
                }
                u.last_partial = text.clone();
                u.partials_sent = true;
                // Finals queued from now on know partials were shown.
                let confidence = mean_probability(&words);
                Ok(vec![StreamEvent::Partial {
                    text,
                    committed,
                    words,
                    confidence,
                    start: start_s,
                    end: secs(flight.end),
                    language,
                    last_word_end,
                }])
            }
            DecodeKind::Final => {
                let mut transcript = result?;
                transcript.shift(start_s);
                if transcript.text().is_empty() && !flight.partials_sent {
                    return Ok(Vec::new());
                }
                let end = secs(flight.end);
                Ok(vec![self.final_event(
                    transcript,
                    start_s,
                    end,
                    flight.reason,
                )])
            }
        }
    }

    /// Runs every pending decode on `decoder` (synchronous callers).
    pub fn run_pending(
        &mut self,
        decoder: &mut dyn Transcribe,
    ) -> Result<Vec<StreamEvent>, StreamError> {
        let mut events = Vec::new();
        while let Some(request) = self.next_request() {
            let result = decoder.transcribe(&request.audio, &request.options);
            events.extend(self.complete(request.ticket, result)?);
        }
        Ok(events)
    }

    /// Mid-speech partial settings ([`super::PartialDecode`]): a smaller
    /// encoder window floor and, unless asked for, no context prompt.
    fn cheapen_partial(&self, options: &mut TranscribeOptions, len: u64) {
        let partial = &self.config.partial;
        if partial.context {
            self.add_context(options);
        }
        if options.audio_ctx == AudioCtx::Auto {
            let window = sized_ctx(
                len as usize,
                MODEL_AUDIO_CTX,
                AUTO_MARGIN,
                i32::from(partial.min_audio_ctx),
            );
            if let Ok(frames @ 1..) = u16::try_from(window) {
                options.audio_ctx = AudioCtx::Fixed(frames);
            }
        }
    }

    /// Keeps the end of the last final's text (at most [`crate::stt::CONTEXT_BYTES`],
    /// whole words) as the next decodes' context.
    pub(super) fn set_context(&mut self, text: &str) {
        let tail = context_tail(text);
        if !tail.is_empty() {
            self.context = tail.to_owned();
        }
    }

    /// The context goes first and the caller's prompt (keywords) last, so
    /// prompt bounding, which keeps the end, never drops the caller's part.
    fn add_context(&self, options: &mut TranscribeOptions) {
        if self.context.is_empty() || !self.config.carry_context {
            return;
        }
        options.initial_prompt = Some(match options.initial_prompt.take() {
            Some(p) if !p.trim().is_empty() => format!("{} {}", self.context, p.trim()),
            _ => self.context.clone(),
        });
    }
}

/// Mean probability of `words` (0 without words).
fn mean_probability(words: &[Word]) -> f32 {
    if words.is_empty() {
        return 0.0;
    }
    words.iter().map(|w| w.probability).sum::<f32>() / words.len() as f32
}

/// Start (absolute sample) of the quiet spell `frames` end with, as the
/// VAD counts silence: the trailing frames below `threshold`, from the
/// first below `neg_threshold`. `None` while speaking or without speech
/// before the spell.
fn quiet_since(frames: &[(u64, f32)], threshold: f32, neg_threshold: f32) -> Option<u64> {
    let mut since = None;
    for &(start, p) in frames.iter().rev() {
        if p >= threshold {
            return since;
        }
        if p < neg_threshold {
            since = Some(start);
        }
    }
    None
}

/// More words than anyone says in `len` samples, or a word run repeated
/// back to back (Whisper looping on a too-small window).
fn looks_degenerate(transcript: &Transcript, len: u64) -> bool {
    let words = &transcript.words;
    if words.len() as f64 > MAX_WORDS_PER_SECOND * secs(len) + 3.0 {
        return true;
    }
    let norm: Vec<String> = words
        .iter()
        .map(|w| {
            w.text
                .to_lowercase()
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_owned()
        })
        .collect();
    (3..=norm.len() / 2).any(|n| {
        norm.windows(2 * n)
            .any(|w| w[..n] == w[n..] && w[..n].iter().any(|t| !t.is_empty()))
    })
}
