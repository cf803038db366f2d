//! A loaded Piper voice and its synthesis entry points.

use std::ops::Range;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

use ort::session::Session;
use ort::value::TensorRef;

use super::audio::{normalize_peak, samples_for};
use super::config::{VoiceConfig, VoiceFiles};
use super::ids::{phonemes_to_ids, PhonemeIds};
use super::split::{next_sentence, DEFAULT_MAX_CHARS};
use super::TtsError;
use crate::normalize::normalize_text;
use crate::phonemize::{bound_words, Phonemizer, PhonemizerConfig};
use crate::runtime::{build_session, SessionOptions};

/// Per-request synthesis settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthesisOptions {
    /// Speaking rate, 0.25–4.0 (1.0 = the voice's natural speed; OpenAI's
    /// range). Applied as `length_scale = voice.length_scale / speed`.
    pub speed: f32,
    /// Overrides the voice's `noise_scale` (phoneme-level variation).
    pub noise_scale: Option<f32>,
    /// Overrides the voice's `noise_w` (duration variation).
    pub noise_w: Option<f32>,
    /// Speaker for multi-speaker voices (ignored by single-speaker voices
    /// except that it must be 0).
    pub speaker_id: Option<u32>,
    /// Silence inserted between sentences, in seconds (0–5).
    pub sentence_silence: f32,
    /// Continue at this gain instead of peak-normalising each utterance on
    /// its own (lowered only where a piece would exceed the normal peak):
    /// for the rest of a sentence whose first phrase was synthesised
    /// separately, passing that phrase's [`AudioChunk::gain`], so both
    /// halves play at one loudness. `None`: Piper's per-utterance
    /// normalisation.
    pub gain: Option<f32>,
}

impl Default for SynthesisOptions {
    fn default() -> Self {
        Self {
            speed: 1.0,
            noise_scale: None,
            noise_w: None,
            speaker_id: None,
            sentence_silence: 0.2,
            gain: None,
        }
    }
}

/// A whole utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthesisResult {
    /// Mono samples in `[-1, 1]`.
    pub samples: Vec<f32>,
    /// Sample rate in Hz.
    pub sample_rate: u32,
}

impl SynthesisResult {
    /// Duration in seconds.
    pub fn duration_secs(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate)
    }
}

/// Audio for one sentence of a streamed synthesis.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioChunk {
    /// Mono samples in `[-1, 1]` at the voice's sample rate, including the
    /// inter-sentence silence when another sentence follows.
    pub samples: Vec<f32>,
    /// 0-based index of this chunk in the stream.
    pub sentence_index: usize,
    /// The (normalised) sentence text that was spoken.
    pub text: String,
    /// Gain applied to the model's audio (peak normalisation) in this
    /// chunk's first utterance; see [`SynthesisOptions::gain`].
    pub gain: f32,
}

/// Resolved model parameters for one request.
#[derive(Debug, Clone, Copy)]
struct Params {
    scales: [f32; 3],
    sid: Option<i64>,
    silence: usize,
    gain: Option<f32>,
}

/// A Piper VITS voice ready for synthesis. `Send + Sync`; concurrent calls on
/// one voice are serialised on its session.
pub struct PiperVoice {
    config: VoiceConfig,
    session: Mutex<Session>,
    phonemizer: Phonemizer,
    takes_sid: bool,
    model_runs: AtomicU64,
    /// [`PiperVoice::typical_gain`] as `f32` bits (0: none yet).
    typical_gain: AtomicU32,
}

impl std::fmt::Debug for PiperVoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiperVoice")
            .field("sample_rate", &self.config.sample_rate)
            .field("espeak_voice", &self.config.espeak_voice)
            .field("num_speakers", &self.config.num_speakers)
            .finish_non_exhaustive()
    }
}

impl PiperVoice {
    /// Loads a voice, with espeak-ng running where `phonemizer` says (a
    /// server must use [`PhonemizerConfig::Isolated`]: espeak-ng can abort
    /// on hostile text). ONNX Runtime must already be initialised
    /// ([`crate::runtime::init`]).
    pub fn load(
        files: &VoiceFiles,
        options: &SessionOptions,
        phonemizer: &PhonemizerConfig,
    ) -> Result<Self, TtsError> {
        let config = VoiceConfig::load(&files.config)?;
        if !files.onnx.is_file() {
            return Err(TtsError::VoiceMissing {
                path: files.onnx.clone(),
            });
        }
        let session = build_session(&files.onnx, options)?;
        let names: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        for required in ["input", "input_lengths", "scales"] {
            if !names.contains(&required) {
                return Err(TtsError::InvalidConfig(format!(
                    "model has no {required:?} input (inputs: {names:?}); not a Piper voice?"
                )));
            }
        }
        let takes_sid = names.contains(&"sid");
        if config.num_speakers > 1 && !takes_sid {
            tracing::warn!("voice declares several speakers but the model has no sid input");
        }
        // Fail early (and pay espeak's start-up cost now) if the voice is unknown.
        let phonemizer = Phonemizer::new(phonemizer, &config.espeak_voice)?;
        tracing::info!(model = %files.onnx.display(), rate = config.sample_rate, "Piper voice loaded");
        Ok(Self {
            config,
            session: Mutex::new(session),
            phonemizer,
            takes_sid,
            model_runs: AtomicU64::new(0),
            typical_gain: AtomicU32::new(0),
        })
    }

    /// The voice's configuration.
    pub fn config(&self) -> &VoiceConfig {
        &self.config
    }

    /// Output sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.config.sample_rate
    }

    /// The peak-normalisation gain this voice's sentences typically get: a
    /// moving average (weight 1/5 for the newest) over the utterances
    /// normalised on their own. A caller speaking a sentence's first clause
    /// on its own passes it as [`SynthesisOptions::gain`] (a cap), so a
    /// quiet clause is not made louder than its sentence would be and the
    /// rest, continued at the clause's gain, joins without a level step.
    /// `None` until something was synthesised ([`PiperVoice::warm_up`]).
    pub fn typical_gain(&self) -> Option<f32> {
        let g = f32::from_bits(self.typical_gain.load(Ordering::Relaxed));
        (g > 0.0).then_some(g)
    }

    fn note_gain(&self, gain: f32) {
        let new = match self.typical_gain() {
            Some(old) => 0.8 * old + 0.2 * gain,
            None => gain,
        };
        self.typical_gain.store(new.to_bits(), Ordering::Relaxed);
    }

    /// Synthesises a fixed sentence once: ONNX Runtime's first-run
    /// allocations happen now instead of in the first request, and
    /// [`PiperVoice::typical_gain`] gets its first value.
    pub fn warm_up(&self) -> Result<(), TtsError> {
        const SENTENCE: &str = "Thank you for calling, the next agent will be with you shortly.";
        self.synthesize(SENTENCE, &SynthesisOptions::default())
            .map(drop)
    }

    /// How many times the model has been run (one per synthesised sentence).
    pub fn model_runs(&self) -> u64 {
        self.model_runs.load(Ordering::Relaxed)
    }

    /// Phonemizes already-normalised `text` with this voice's espeak voice,
    /// after bounding its words ([`bound_words`]).
    pub fn phonemize(&self, text: &str) -> Result<Vec<Vec<char>>, TtsError> {
        Ok(self.phonemizer.phonemize(&bound_words(text))?)
    }

    /// Encodes one sentence of phonemes (after `phoneme_map`) as model ids.
    pub fn phoneme_ids(&self, phonemes: &[char]) -> PhonemeIds {
        let mapped: Vec<char>;
        let phonemes = if self.config.phoneme_map.is_empty() {
            phonemes
        } else {
            mapped = phonemes
                .iter()
                .flat_map(|p| match self.config.phoneme_map.get(p) {
                    Some(to) => to.clone(),
                    None => vec![*p],
                })
                .collect();
            &mapped
        };
        phonemes_to_ids(phonemes, &self.config.phoneme_id_map)
    }

    /// Synthesises all of `text` (normalised and split like the stream).
    pub fn synthesize(
        &self,
        text: &str,
        options: &SynthesisOptions,
    ) -> Result<SynthesisResult, TtsError> {
        let mut samples = Vec::new();
        for chunk in self.synthesize_stream(text, options)? {
            samples.extend_from_slice(&chunk?.samples);
        }
        Ok(SynthesisResult {
            samples,
            sample_rate: self.config.sample_rate,
        })
    }

    /// Lazily synthesises `text` one sentence per [`AudioChunk`]: nothing is
    /// run until the first `next()`, and each call runs only its own sentence.
    /// Options are validated up front.
    pub fn synthesize_stream(
        &self,
        text: &str,
        options: &SynthesisOptions,
    ) -> Result<SynthesisStream<'_>, TtsError> {
        let params = self.resolve(options)?;
        Ok(SynthesisStream {
            voice: self,
            text: normalize_text(text),
            pos: 0,
            index: 0,
            peeked: None,
            params,
            done: false,
        })
    }

    fn resolve(&self, o: &SynthesisOptions) -> Result<Params, TtsError> {
        let bad = |what: &str, v: f32| TtsError::InvalidOption(format!("{what} = {v}"));
        if !(0.25..=4.0).contains(&o.speed) {
            return Err(bad("speed (0.25–4.0)", o.speed));
        }
        let noise_scale = o.noise_scale.unwrap_or(self.config.noise_scale);
        if !(0.0..=2.0).contains(&noise_scale) {
            return Err(bad("noise_scale (0–2)", noise_scale));
        }
        let noise_w = o.noise_w.unwrap_or(self.config.noise_w);
        if !(0.0..=2.0).contains(&noise_w) {
            return Err(bad("noise_w (0–2)", noise_w));
        }
        if !(0.0..=5.0).contains(&o.sentence_silence) {
            return Err(bad("sentence_silence (0–5 s)", o.sentence_silence));
        }
        if let Some(gain) = o.gain {
            if !(gain.is_finite() && gain > 0.0 && gain <= 100.0) {
                return Err(bad("gain (0–100)", gain));
            }
        }
        let num_speakers = self.config.num_speakers;
        let sid = match o.speaker_id {
            Some(id) if id >= num_speakers => {
                return Err(TtsError::UnknownSpeaker { id, num_speakers })
            }
            Some(id) if self.takes_sid => Some(i64::from(id)),
            None if self.takes_sid => Some(0),
            _ => None,
        };
        Ok(Params {
            scales: [noise_scale, self.config.length_scale / o.speed, noise_w],
            sid,
            silence: samples_for(o.sentence_silence, self.config.sample_rate),
            gain: o.gain,
        })
    }

    /// Phonemizes and synthesises one (normalised) sentence; espeak may split
    /// it further, in which case the parts are joined with `params.silence`.
    /// Returns the audio and the gain of its first part.
    fn synthesize_sentence(
        &self,
        text: &str,
        params: &Params,
    ) -> Result<(Vec<f32>, f32), TtsError> {
        let mut out = Vec::new();
        let mut first_gain = None;
        for phonemes in self.phonemize(text)? {
            if !phonemes.iter().any(|p| p.is_alphabetic()) {
                continue; // punctuation only: nothing to say
            }
            let encoded = self.phoneme_ids(&phonemes);
            if !encoded.missing.is_empty() {
                tracing::debug!(missing = ?encoded.missing, "skipped phonemes unknown to the voice");
            }
            if !out.is_empty() {
                out.resize(out.len() + params.silence, 0.0);
            }
            let mut audio = self.infer(&encoded.ids, params)?;
            let gain = normalize_peak(&mut audio, params.gain);
            if params.gain.is_none() {
                self.note_gain(gain);
            }
            first_gain.get_or_insert(gain);
            out.extend_from_slice(&audio);
        }
        Ok((out, first_gain.unwrap_or(1.0)))
    }

    fn infer(&self, ids: &[i64], params: &Params) -> Result<Vec<f32>, TtsError> {
        let len = [ids.len() as i64];
        let input = TensorRef::from_array_view(([1usize, ids.len()], ids))?;
        let lengths = TensorRef::from_array_view(([1usize], &len[..]))?;
        let scales = TensorRef::from_array_view(([3usize], &params.scales[..]))?;
        let sid = params.sid.map(|s| [s]);
        let mut inputs = ort::inputs![
            "input" => input,
            "input_lengths" => lengths,
            "scales" => scales,
        ];
        if let Some(sid) = &sid {
            inputs.push((
                "sid".into(),
                TensorRef::from_array_view(([1usize], &sid[..]))?.into(),
            ));
        }
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        self.model_runs.fetch_add(1, Ordering::Relaxed);
        let outputs = session.run(inputs)?;
        if outputs.len() == 0 {
            return Err(TtsError::BadOutput("no outputs".into()));
        }
        let (_shape, audio) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| TtsError::BadOutput(e.to_string()))?;
        Ok(audio.to_vec())
    }
}

/// Lazy per-sentence synthesis; see [`PiperVoice::synthesize_stream`].
/// Holds only the normalised text and a cursor, never past audio.
pub struct SynthesisStream<'v> {
    voice: &'v PiperVoice,
    text: String,
    pos: usize,
    index: usize,
    peeked: Option<Range<usize>>,
    params: Params,
    done: bool,
}

impl std::fmt::Debug for SynthesisStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SynthesisStream")
            .field("pos", &self.pos)
            .field("len", &self.text.len())
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl SynthesisStream<'_> {
    fn next_range(&mut self) -> Option<Range<usize>> {
        let range = self
            .peeked
            .take()
            .or_else(|| next_sentence(&self.text, self.pos, DEFAULT_MAX_CHARS))?;
        self.pos = range.end;
        Some(range)
    }
}

impl Iterator for SynthesisStream<'_> {
    type Item = Result<AudioChunk, TtsError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let Some(range) = self.next_range() else {
                self.done = true;
                break;
            };
            let sentence = self.text[range].trim();
            let (mut samples, gain) = match self.voice.synthesize_sentence(sentence, &self.params) {
                Ok(s) => s,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            if samples.is_empty() {
                continue;
            }
            self.peeked = next_sentence(&self.text, self.pos, DEFAULT_MAX_CHARS);
            if self.peeked.is_some() {
                samples.resize(samples.len() + self.params.silence, 0.0);
            }
            let chunk = AudioChunk {
                samples,
                sentence_index: self.index,
                text: sentence.to_owned(),
                gain,
            };
            self.index += 1;
            return Some(Ok(chunk));
        }
        None
    }
}

impl std::iter::FusedIterator for SynthesisStream<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_and_stream_are_thread_safe() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<PiperVoice>();
        send::<SynthesisStream<'static>>();
    }

    #[test]
    fn default_options() {
        let o = SynthesisOptions::default();
        assert_eq!(o.speed, 1.0);
        assert_eq!(o.sentence_silence, 0.2);
        assert!(o.noise_scale.is_none() && o.noise_w.is_none() && o.speaker_id.is_none());
        assert!(o.gain.is_none());
    }
}
