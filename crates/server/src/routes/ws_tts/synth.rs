//! The pool job: synthesize one sentence and encode it, on a Piper worker.
//!
//! Synthesis and encoding (resampling, G.711, LAME) both run on the worker
//! thread, never on the async runtime. The job owns the stream's
//! [`AudioEncoder`] while it runs and hands it back with the bytes, so the
//! encoder's resampler state carries on across sentences. It checks
//! [`JobContext::is_cancelled`] between the engine's sentence chunks and stops
//! early once the session dropped its handle (barge-in, close, disconnect).

use vocalis_audio::{AudioEncoder, EncodeError};
use vocalis_inference::pool::{JobContext, JobHandle, PoolError, TtsPool};
use vocalis_inference::{PiperVoice, SynthesisOptions, TtsError};

/// Silence before a sentence that follows another in the same segment, s
/// (the engine's own inter-sentence silence).
pub(crate) const SENTENCE_GAP_S: f32 = 0.2;

/// One sentence to speak.
#[derive(Debug)]
pub(crate) struct SynthJob {
    /// The sentence, raw (the engine normalizes it).
    pub(crate) text: String,
    /// Speaking rate.
    pub(crate) speed: f32,
    /// Prepend [`SENTENCE_GAP_S`] of silence.
    pub(crate) gap_before: bool,
    /// Continue at this gain (the rest of a sentence whose first phrase was
    /// the previous job; see `SynthesisOptions::gain`).
    pub(crate) gain: Option<f32>,
    /// The first clause of a sentence: normalised no louder than the
    /// voice's typical sentence (`PiperVoice::typical_gain`).
    pub(crate) first_clause: bool,
    /// The stream's encoder.
    pub(crate) encoder: AudioEncoder,
}

/// Why a sentence produced no (or only part of its) audio.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SynthError {
    /// The engine failed on this text.
    #[error(transparent)]
    Tts(#[from] TtsError),
    /// The encoder failed (a bug: formats and rates are validated up front).
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The session cancelled the job.
    #[error("cancelled")]
    Cancelled,
}

/// What a finished job hands back.
#[derive(Debug)]
pub(crate) struct SynthOutput {
    /// The encoder, to be used for the stream's next sentence.
    pub(crate) encoder: AudioEncoder,
    /// Encoded audio (also when `result` is an error: what was made before it).
    pub(crate) bytes: Vec<u8>,
    /// Seconds of audio produced, at the voice's rate.
    pub(crate) audio_seconds: f64,
    /// The gain the engine applied to the first utterance, if any was made.
    pub(crate) gain: Option<f32>,
    /// Whether the whole sentence was spoken.
    pub(crate) result: Result<(), SynthError>,
}

/// Queues `job` on the Piper pool (never blocks; [`PoolError::Busy`] when full).
pub(crate) fn submit(pool: &TtsPool, job: SynthJob) -> Result<JobHandle<SynthOutput>, PoolError> {
    pool.try_submit(move |voice, ctx| job.run(voice, ctx))
}

impl SynthJob {
    fn run(self, voice: &mut PiperVoice, ctx: &JobContext<'_>) -> SynthOutput {
        let SynthJob {
            text,
            speed,
            gap_before,
            gain,
            first_clause,
            mut encoder,
        } = self;
        let gain = if first_clause {
            voice.typical_gain()
        } else {
            gain
        };
        let rate = voice.sample_rate();
        let mut bytes = Vec::new();
        let mut samples = 0usize;
        let mut first_gain = None;
        let result = (|| {
            let options = SynthesisOptions {
                speed,
                gain,
                ..SynthesisOptions::default()
            };
            let stream = voice.synthesize_stream(&text, &options)?;
            if gap_before {
                let gap = vec![0.0f32; (SENTENCE_GAP_S * rate as f32) as usize];
                encoder.push_into(&gap, &mut bytes)?;
                samples += gap.len();
            }
            for chunk in stream {
                if ctx.is_cancelled() {
                    return Err(SynthError::Cancelled);
                }
                let chunk = chunk?;
                first_gain.get_or_insert(chunk.gain);
                encoder.push_into(&chunk.samples, &mut bytes)?;
                samples += chunk.samples.len();
            }
            Ok(())
        })();
        SynthOutput {
            encoder,
            bytes,
            audio_seconds: samples as f64 / f64::from(rate.max(1)),
            gain: first_gain,
            result,
        }
    }
}
