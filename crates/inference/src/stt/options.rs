//! Per-request transcription options.

/// How the Silero VAD gate is used (only when the worker has a VAD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VadMode {
    /// No VAD: decode everything.
    Off,
    /// Run the VAD first: no speech → empty result without running Whisper;
    /// otherwise decode the whole audio and drop segments that overlap no
    /// speech region (default).
    #[default]
    Gate,
    /// Decode only the speech regions (concatenated with short silences,
    /// timestamps mapped back): faster on sparse audio, but Whisper loses
    /// the context across cut points.
    SpeechOnly,
}

/// How big the encoder window is (`audio_ctx`, in 20 ms encoder frames;
/// 1500 = 30 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AudioCtx {
    /// Sized to the audio when it is shorter than 30 s (see
    /// [`crate::stt::audio_ctx_for`] and `AUDIO_CTX.md`), full otherwise.
    #[default]
    Auto,
    /// Always the full 30 s window (slowest, what Whisper was trained on).
    Full,
    /// A fixed number of encoder frames (clamped to the model's maximum).
    Fixed(u16),
}

/// Options for one transcription. `Default` gives greedy decoding with
/// whisper.cpp's temperature fallback, language detection on multilingual
/// models and the VAD gate.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscribeOptions {
    /// ISO 639-1 code ("en", "de"...). `None` or `"auto"` detects it on
    /// multilingual models; English-only models always use "en".
    pub language: Option<String>,
    /// Text that biases decoding (vocabulary, names, hotwords).
    pub initial_prompt: Option<String>,
    /// Initial sampling temperature (0 = greedy/beam).
    pub temperature: f32,
    /// Temperature step when a decode fails the entropy/logprob checks;
    /// 0 disables the fallback.
    pub temperature_increment: f32,
    /// Fallback when the token entropy is above this (whisper.cpp: 2.4).
    pub entropy_threshold: f32,
    /// Fallback when the average logprob is below this (whisper.cpp: -1.0).
    pub logprob_threshold: f32,
    /// Segments whose no-speech probability is above this *and* whose
    /// average logprob is below `logprob_threshold` are dropped (0.6).
    pub no_speech_threshold: f32,
    /// Translate to English (multilingual models only).
    pub translate: bool,
    /// Threads for this request; 0 uses the worker's default.
    pub threads: usize,
    /// Beam width; 1 = greedy.
    pub beam_size: usize,
    /// Candidates sampled at temperatures > 0 (greedy `best_of`).
    pub best_of: usize,
    /// Compute per-word timestamps and probabilities.
    pub word_timestamps: bool,
    /// Suppress non-speech tokens (bracketed tags like "\[music\]", "♪"...).
    pub suppress_non_speech: bool,
    /// VAD gate mode.
    pub vad: VadMode,
    /// Encoder window policy.
    pub audio_ctx: AudioCtx,
}

impl Default for TranscribeOptions {
    fn default() -> Self {
        Self {
            language: None,
            initial_prompt: None,
            temperature: 0.0,
            temperature_increment: 0.2,
            entropy_threshold: 2.4,
            logprob_threshold: -1.0,
            no_speech_threshold: 0.6,
            translate: false,
            threads: 0,
            beam_size: 1,
            best_of: 1,
            word_timestamps: true,
            suppress_non_speech: true,
            vad: VadMode::Gate,
            audio_ctx: AudioCtx::Auto,
        }
    }
}
