//! [`SttWorker`]: one decoding state plus the whole-audio pipeline
//! (VAD gate → language → whisper.cpp → segments/words → filters).

use std::sync::Arc;

use whisper_rs::{get_lang_id, get_lang_str, WhisperState};

use super::audio_ctx::{audio_ctx_for, SAMPLE_RATE};
use super::hooks::{full_with_hooks, DecodeHooks};
use super::params::base_params;
use super::prompt::{bounded_prompt_text, MAX_PROMPT_TOKENS, TOKENIZE_BUFFER};
use super::splice::Spliced;
use super::wer::normalize_words;
use super::words::{make_monotonic, merge_words, RawToken};
use super::{AudioCtx, Segment, SttError, SttModel, TranscribeOptions, Transcript, VadMode};
use crate::vad::{SpeechRegion, Vad};

/// Inputs shorter than this (100 ms) give an empty transcript; whisper.cpp
/// itself refuses to process them.
pub const MIN_SAMPLES: usize = SAMPLE_RATE / 10;
/// Seconds a segment may miss every VAD region by and still be kept.
const GATE_TOLERANCE_S: f64 = 0.2;
/// Faster than any real speech (≈3 words/s is fast conversation).
const MAX_WORDS_PER_SECOND: f64 = 6.0;
/// Shortest run of words whose immediate repetition at the end of a
/// result counts as a loop (shorter repeats are ordinary speech: "no, no").
const MIN_LOOP_WORDS: usize = 3;
/// whisper.cpp's limit on parallel decoders (beams / best_of).
const MAX_DECODERS: usize = 8;

/// Something that turns audio into a [`Transcript`]: an [`SttWorker`]
/// directly, or a handle that runs the work elsewhere (a pool).
pub trait Transcribe {
    /// Transcribes mono 16 kHz audio.
    fn transcribe(
        &mut self,
        audio: &[f32],
        options: &TranscribeOptions,
    ) -> Result<Transcript, SttError>;
}

/// A decoding state for one thread: owns a `WhisperState` of a shared
/// [`SttModel`] and optionally a [`Vad`] for gating. Not shareable; create
/// one per worker thread.
#[derive(Debug)]
pub struct SttWorker {
    model: Arc<SttModel>,
    state: WhisperState,
    /// Language detection only (created on first use): detection encodes
    /// with the state's *previous* `audio_ctx`, so a state of its own, never
    /// given to `whisper_full`, keeps it at the full window and detection
    /// independent of earlier requests.
    detect_state: Option<WhisperState>,
    vad: Option<Vad>,
    threads: usize,
}

impl Transcribe for SttWorker {
    fn transcribe(
        &mut self,
        audio: &[f32],
        options: &TranscribeOptions,
    ) -> Result<Transcript, SttError> {
        self.transcribe_with(audio, options, DecodeHooks::default())
    }
}

struct Resolved {
    /// `&'static` code for whisper.cpp.
    code: &'static str,
    /// What to report.
    report: (String, f32),
}

impl SttWorker {
    /// A worker using `threads` threads by default (at least 1) and `vad`
    /// for gating (`None` disables [`VadMode::Gate`]/[`VadMode::SpeechOnly`]).
    pub fn new(model: Arc<SttModel>, threads: usize, vad: Option<Vad>) -> Result<Self, SttError> {
        let state = model.create_state()?;
        Ok(Self {
            model,
            state,
            detect_state: None,
            vad,
            threads: threads.max(1),
        })
    }

    /// The shared model.
    pub fn model(&self) -> &Arc<SttModel> {
        &self.model
    }

    /// The VAD used for gating, if any.
    pub fn vad(&self) -> Option<&Vad> {
        self.vad.as_ref()
    }

    /// Default thread count.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Transcribes mono 16 kHz audio with cancellation/progress `hooks`.
    ///
    /// Returns an empty transcript for input under 100 ms and, with a VAD,
    /// for input without speech (Whisper is not run at all then).
    pub fn transcribe_with(
        &mut self,
        audio: &[f32],
        options: &TranscribeOptions,
        hooks: DecodeHooks<'_>,
    ) -> Result<Transcript, SttError> {
        let duration = audio.len() as f64 / SAMPLE_RATE as f64;
        self.validate(options)?;
        let cancelled = || hooks.cancel.is_some_and(|c| c());
        if audio.len() < MIN_SAMPLES {
            return Ok(Transcript::empty(duration));
        }
        if cancelled() {
            return Err(SttError::Cancelled);
        }

        let threads = if options.threads == 0 {
            self.threads
        } else {
            options.threads
        };
        let mut regions: Option<Vec<SpeechRegion>> = None;
        let mut spliced: Option<Spliced> = None;
        if let (Some(vad), mode) = (&self.vad, options.vad) {
            if mode != VadMode::Off {
                let found = vad.speech_regions_on(audio, threads)?;
                if found.is_empty() {
                    return Ok(Transcript::empty(duration));
                }
                if mode == VadMode::SpeechOnly {
                    spliced = Some(Spliced::new(audio, &found));
                }
                regions = Some(found);
            }
        }
        let input: &[f32] = match &spliced {
            Some(s) if s.audio.len() >= MIN_SAMPLES => &s.audio,
            Some(_) => return Ok(Transcript::empty(duration)),
            None => audio,
        };
        if cancelled() {
            return Err(SttError::Cancelled);
        }

        let language = self.resolve_language(input, options, threads)?;
        let prompt = self.prompt_tokens(options)?;

        let sized = audio_ctx_for(input.len(), self.model.n_audio_ctx(), options.audio_ctx);
        let mut raw =
            self.run_whisper(input, options, &language, &prompt, threads, sized, hooks)?;
        let retry = sized != 0 && options.audio_ctx == AudioCtx::Auto;
        if retry && options.beam_size > 1 && beam_looped(&raw, input.len()) {
            // Beam search in a shortened window sometimes says the utterance
            // again once the speech is over; greedy decoding in the same
            // window is far cheaper than the full window and rarely does.
            // (Speech that really repeats itself, an IVR prompt say, then
            // gets the greedy result it would have had without the beam.)
            tracing::debug!(audio_ctx = sized, "degenerate beam output; retrying greedy");
            let greedy = TranscribeOptions {
                beam_size: 1,
                ..options.clone()
            };
            raw = self.run_whisper(input, &greedy, &language, &prompt, threads, sized, hooks)?;
        }
        if retry && looks_degenerate(&raw, input.len()) {
            // A shortened encoder window occasionally makes Whisper loop on
            // the same sentence; redo such (rare) results with the full one.
            tracing::debug!(
                audio_ctx = sized,
                "degenerate output; retrying with the full window"
            );
            raw = self.run_whisper(input, options, &language, &prompt, threads, 0, hooks)?;
        }

        let map = |t: f64| {
            spliced
                .as_ref()
                .map_or(t, |s| s.map(t))
                .clamp(0.0, duration)
        };
        let mut transcript = Transcript {
            language: Some(language.report),
            duration_s: duration,
            ..Transcript::default()
        };
        for (mut seg, mut tokens) in raw {
            seg.start = map(seg.start);
            seg.end = map(seg.end);
            if is_hallucination(&seg, options) {
                tracing::debug!(text = %seg.text, nsp = seg.no_speech_prob, lp = seg.avg_logprob, "dropped no-speech segment");
                continue;
            }
            if let (Some(regions), None) = (&regions, &spliced) {
                if !overlaps_speech(&seg, regions) {
                    tracing::debug!(text = %seg.text, "dropped segment outside VAD speech");
                    continue;
                }
            }
            if options.word_timestamps {
                for t in &mut tokens {
                    t.start = map(t.start);
                    t.end = map(t.end);
                }
                transcript.words.extend(merge_words(&tokens));
            }
            transcript.segments.push(seg);
        }
        make_monotonic(&mut transcript.words, duration);
        Ok(transcript)
    }

    /// One `whisper_full` run; segments and tokens in input time (seconds).
    #[allow(clippy::too_many_arguments)]
    fn run_whisper(
        &mut self,
        input: &[f32],
        options: &TranscribeOptions,
        language: &Resolved,
        prompt: &[i32],
        threads: usize,
        audio_ctx: i32,
        hooks: DecodeHooks<'_>,
    ) -> Result<Vec<(Segment, Vec<RawToken>)>, SttError> {
        let cancelled = || hooks.cancel.is_some_and(|c| c());
        let mut params = base_params(Some(language.code), options.beam_size, options.best_of);
        params.set_n_threads(threads as i32);
        params.set_translate(options.translate);
        params.set_token_timestamps(options.word_timestamps);
        params.set_suppress_blank(true);
        params.set_suppress_nst(options.suppress_non_speech);
        params.set_temperature(options.temperature);
        params.set_temperature_inc(options.temperature_increment);
        params.set_entropy_thold(options.entropy_threshold);
        params.set_logprob_thold(options.logprob_threshold);
        params.set_no_speech_thold(options.no_speech_threshold);
        params.set_audio_ctx(audio_ctx);
        if !prompt.is_empty() {
            params.set_tokens(prompt);
        }
        if let Err(e) = full_with_hooks(&mut self.state, params, input, hooks) {
            return Err(if cancelled() {
                SttError::Cancelled
            } else {
                SttError::Whisper(format!("{e:?}"))
            });
        }
        if cancelled() {
            return Err(SttError::Cancelled);
        }
        let eot = self.model.token_eot();
        let mut out = Vec::new();
        for segment in self.state.as_iter() {
            let mut tokens = Vec::with_capacity(segment.n_tokens().max(0) as usize);
            let (mut logprob_sum, mut n_text) = (0.0f32, 0usize);
            for k in 0..segment.n_tokens() {
                let Some(token) = segment.get_token(k) else {
                    continue;
                };
                let data = token.token_data();
                let special = data.id >= eot;
                if !special {
                    logprob_sum += data.plog;
                    n_text += 1;
                }
                tokens.push(RawToken {
                    bytes: token.to_bytes().map(<[u8]>::to_vec).unwrap_or_default(),
                    p: data.p,
                    start: data.t0 as f64 / 100.0,
                    end: data.t1 as f64 / 100.0,
                    special,
                });
            }
            let text = segment
                .to_str_lossy()
                .map(|t| t.trim().to_string())
                .unwrap_or_default();
            if n_text == 0 || text.is_empty() {
                continue;
            }
            let seg = Segment {
                start: segment.start_timestamp() as f64 / 100.0,
                end: segment.end_timestamp() as f64 / 100.0,
                text,
                avg_logprob: logprob_sum / n_text as f32,
                no_speech_prob: segment.no_speech_probability(),
            };
            out.push((seg, tokens));
        }
        Ok(out)
    }

    fn validate(&self, o: &TranscribeOptions) -> Result<(), SttError> {
        let bad = |m: String| Err(SttError::InvalidOption(m));
        if o.translate && !self.model.is_multilingual() {
            return bad("translate needs a multilingual model".into());
        }
        if o.beam_size == 0 || o.beam_size > MAX_DECODERS {
            return bad(format!("beam_size {} (1–{MAX_DECODERS})", o.beam_size));
        }
        if o.best_of == 0 || o.best_of > MAX_DECODERS {
            return bad(format!("best_of {} (1–{MAX_DECODERS})", o.best_of));
        }
        if !(0.0..=1.0).contains(&o.temperature) || !(0.0..=1.0).contains(&o.temperature_increment)
        {
            return bad("temperature and its increment must be within 0–1".into());
        }
        if o.threads > 64 {
            return bad(format!("threads {} (0–64)", o.threads));
        }
        Ok(())
    }

    fn resolve_language(
        &mut self,
        input: &[f32],
        options: &TranscribeOptions,
        threads: usize,
    ) -> Result<Resolved, SttError> {
        let requested = options
            .language
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.eq_ignore_ascii_case("auto"))
            .map(str::to_ascii_lowercase);
        if !self.model.is_multilingual() {
            return match requested.as_deref() {
                None | Some("en") => Ok(Resolved {
                    code: "en",
                    report: ("en".into(), 1.0),
                }),
                Some(other) => Err(SttError::InvalidOption(format!(
                    "language {other:?} on an English-only model"
                ))),
            };
        }
        if let Some(code) = requested {
            let id = get_lang_id(&code)
                .ok_or_else(|| SttError::InvalidOption(format!("unknown language {code:?}")))?;
            let code = get_lang_str(id)
                .ok_or_else(|| SttError::InvalidOption(format!("unknown language {code:?}")))?;
            return Ok(Resolved {
                code,
                report: (code.to_string(), 1.0),
            });
        }
        // Detect on (at most) the first 30 s.
        let head = &input[..input.len().min(30 * SAMPLE_RATE)];
        let state = match self.detect_state.as_mut() {
            Some(state) => state,
            None => self.detect_state.insert(self.model.create_state()?),
        };
        state
            .pcm_to_mel(head, threads)
            .map_err(|e| SttError::Whisper(format!("mel: {e:?}")))?;
        let (id, probs) = state
            .lang_detect(0, threads)
            .map_err(|e| SttError::Whisper(format!("language detection: {e:?}")))?;
        let code = get_lang_str(id).unwrap_or("en");
        let p = usize::try_from(id)
            .ok()
            .and_then(|i| probs.get(i))
            .copied()
            .unwrap_or(0.0);
        Ok(Resolved {
            code,
            report: (code.to_string(), p),
        })
    }

    /// The prompt's last [`MAX_PROMPT_TOKENS`] tokens, from text bounded by
    /// [`bounded_prompt_text`] so the tokenizer's cost and output are bounded.
    fn prompt_tokens(&self, options: &TranscribeOptions) -> Result<Vec<i32>, SttError> {
        let Some(text) = options
            .initial_prompt
            .as_deref()
            .and_then(bounded_prompt_text)
        else {
            return Ok(Vec::new());
        };
        let mut tokens = self
            .model
            .context()
            .tokenize(&text, TOKENIZE_BUFFER)
            .map_err(|e| SttError::InvalidOption(format!("initial_prompt: {e:?}")))?;
        // whisper-rs 0.16 treats only -1 as an error; a longer result would
        // come back as a bogus length. The byte bound rules that out, and this
        // keeps it ruled out should the bound ever change.
        if tokens.len() > TOKENIZE_BUFFER {
            return Err(SttError::InvalidOption(
                "initial_prompt: too many tokens".into(),
            ));
        }
        if tokens.len() > MAX_PROMPT_TOKENS {
            tokens.drain(..tokens.len() - MAX_PROMPT_TOKENS);
        }
        Ok(tokens)
    }
}

/// OpenAI's rule: high no-speech probability *and* low confidence.
fn is_hallucination(seg: &Segment, o: &TranscribeOptions) -> bool {
    seg.no_speech_prob > o.no_speech_threshold && seg.avg_logprob < o.logprob_threshold
}

/// Repeated segments or more words than anyone can say in the audio.
fn looks_degenerate(raw: &[(Segment, Vec<RawToken>)], samples: usize) -> bool {
    let seconds = samples as f64 / SAMPLE_RATE as f64;
    let texts: Vec<Vec<String>> = raw.iter().map(|(s, _)| normalize_words(&s.text)).collect();
    let repeated = texts.windows(2).any(|w| w[0] == w[1]);
    let words: usize = texts.iter().map(Vec::len).sum();
    repeated || words as f64 > MAX_WORDS_PER_SECOND * seconds + 3.0
}

/// A beam result that [`looks_degenerate`] or ends with the same words
/// twice. Only beam results are checked for the latter: a full-window redo
/// of speech that really repeats itself (an IVR prompt said over and over)
/// can lose most of it, so greedy results keep their repeats.
fn beam_looped(raw: &[(Segment, Vec<RawToken>)], samples: usize) -> bool {
    let words: Vec<String> = raw
        .iter()
        .flat_map(|(s, _)| normalize_words(&s.text))
        .collect();
    looks_degenerate(raw, samples) || repeated_tail(&words).is_some()
}

/// The length of the longest run of at least [`MIN_LOOP_WORDS`] words that
/// `words` end with twice ("the lights blink. the lights blink." → 3): a
/// loop beam search can fall into within one segment once the speech is
/// over. `None` when there is none.
pub fn repeated_tail(words: &[String]) -> Option<usize> {
    let n = words.len();
    (MIN_LOOP_WORDS..=n / 2)
        .rev()
        .find(|&k| words[n - 2 * k..n - k] == words[n - k..])
}

fn overlaps_speech(seg: &Segment, regions: &[SpeechRegion]) -> bool {
    regions
        .iter()
        .any(|r| seg.start < r.end + GATE_TOLERANCE_S && seg.end > r.start - GATE_TOLERANCE_S)
}

#[cfg(test)]
mod tests {
    use super::repeated_tail;

    fn ends_repeated(text: &str) -> bool {
        repeated_tail(&super::normalize_words(text)).is_some()
    }

    #[test]
    fn a_sentence_said_twice_at_the_end_is_a_loop() {
        assert!(ends_repeated(
            "The router keeps restarting. The router keeps restarting."
        ));
        assert!(ends_repeated("Hello there. it is on. it is on."));
    }

    #[test]
    fn short_or_inner_repeats_are_speech() {
        assert!(!ends_repeated("No, no. Thank you, thank you."));
        assert!(!ends_repeated("I said it is on, it is on the table now."));
        assert!(!ends_repeated(""));
        assert!(!ends_repeated("one two three"));
    }
}
