//! The decode side of the recogniser: handing out [`DecodeRequest`]s,
//! taking their results back ([`StreamingRecognizer::complete`]) and the
//! decoding context carried from one utterance to the next.

use super::*;

/// Most text carried from one final into the next decodes' prompt.
const CONTEXT_BYTES: usize = 240;

impl StreamingRecognizer {
    /// The next decode to run, if any (none while one is in flight).
    pub fn next_request(&mut self) -> Option<DecodeRequest> {
        if self.in_flight.is_some() {
            return None;
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
            });
            return Some(f.request);
        }
        if !self.config.interim_results || self.finished {
            return None;
        }
        let now = self.end_sample();
        let interval = samples(f64::from(self.config.interim_interval_ms) / 1000.0);
        let u = self.utterance.as_mut()?;
        let len = now.saturating_sub(u.start);
        if len < samples(MIN_PARTIAL_S) || len < u.partial_len + interval || !u.speech_since_partial
        {
            return None;
        }
        u.partial_len = len;
        u.speech_since_partial = false;
        let (id, start) = (u.id, u.start);
        let mut options = self.decode_options();
        // Partials are throw-away: skip the temperature fallback.
        options.temperature_increment = 0.0;
        self.add_context(&mut options);
        self.in_flight = Some(InFlight {
            ticket,
            kind: DecodeKind::Partial,
            utterance: id,
            start,
            end: now,
            partials_sent: false,
            reason: FinalReason::Endpoint,
        });
        Some(DecodeRequest {
            ticket,
            kind: DecodeKind::Partial,
            audio: self.slice(start, now).to_vec(),
            options,
            start: secs(start),
        })
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
        }
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
                let threshold = self.config.options.logprob_threshold;
                let clean = !transcript.text().is_empty()
                    && transcript
                        .segments
                        .iter()
                        .all(|s| s.avg_logprob >= threshold);
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
                let text = transcript.text();
                let partials_sent = flight.partials_sent;
                if text.is_empty() && !partials_sent {
                    return Ok(Vec::new());
                }
                let last_word_end = self.note_last_word(&transcript.words);
                self.set_context(&transcript.text());
                Ok(vec![StreamEvent::Final {
                    confidence: transcript.confidence(),
                    text,
                    words: transcript.words,
                    start: start_s,
                    end: secs(flight.end),
                    language: transcript.language,
                    reason: flight.reason,
                    last_word_end,
                }])
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

    /// Keeps the end of the last final's text (at most [`CONTEXT_BYTES`],
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

/// The end of `text`: at most [`CONTEXT_BYTES`], starting at a word.
fn context_tail(text: &str) -> &str {
    let text = text.trim();
    let mut from = text.len().saturating_sub(CONTEXT_BYTES);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    if from > 0 && !text[..from].ends_with(' ') {
        from = text[from..].find(' ').map_or(text.len(), |i| from + i + 1);
    }
    text[from..].trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_is_the_end_of_the_text_in_whole_words() {
        assert_eq!(context_tail("  Hello there.  "), "Hello there.");
        let long = "wörd ".repeat(100);
        let tail = context_tail(&long);
        assert!(tail.len() <= CONTEXT_BYTES && tail.len() > CONTEXT_BYTES - 12);
        assert!(tail.starts_with("wörd") && tail.ends_with("wörd"), "{tail}");
        assert_eq!(context_tail(&"x".repeat(500)), "");
    }
}
