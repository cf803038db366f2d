//! Whole-audio ([`Vad`]) and incremental ([`VadStream`]) voice activity
//! detection on top of [`SileroModel`] and [`Detector`].

use std::sync::Arc;

use super::{
    Detector, SileroModel, SileroState, VadConfig, VadError, VadEvent, VadFrame, FRAME_SAMPLES,
    FRAME_SECONDS, SAMPLE_RATE,
};

/// A span of speech, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeechRegion {
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
}

impl SpeechRegion {
    /// Length in seconds.
    pub fn duration(&self) -> f64 {
        self.end - self.start
    }
}

/// A VAD configuration bound to a shared model. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Vad {
    model: Arc<SileroModel>,
    config: VadConfig,
}

impl Vad {
    /// Binds `config` (validated) to `model`.
    pub fn new(model: Arc<SileroModel>, config: VadConfig) -> Result<Self, VadError> {
        config.validate()?;
        Ok(Self { model, config })
    }

    /// The hysteresis settings.
    pub fn config(&self) -> &VadConfig {
        &self.config
    }

    /// The shared model.
    pub fn model(&self) -> &Arc<SileroModel> {
        &self.model
    }

    /// A fresh incremental detector starting at stream position 0.
    pub fn stream(&self) -> VadStream {
        VadStream {
            model: Arc::clone(&self.model),
            state: SileroState::default(),
            detector: Detector::new(self.config.clone()),
            pending: Vec::with_capacity(FRAME_SAMPLES),
            samples: 0,
        }
    }

    /// Speech probability of every 32 ms frame of `audio` (the last partial
    /// frame is zero-padded), read in parallel rows on one thread (see
    /// [`super::rows`]): close to, not exactly, a single pass.
    pub fn frame_probabilities(&self, audio: &[f32]) -> Result<Vec<f32>, VadError> {
        super::rows::probabilities(&self.model, audio, 1)
    }

    /// Like [`frame_probabilities`](Self::frame_probabilities), read in one
    /// sequential pass: exactly what a [`VadStream`] fed the same audio sees.
    pub fn frame_probabilities_sequential(&self, audio: &[f32]) -> Result<Vec<f32>, VadError> {
        super::rows::sequential(&self.model, audio)
    }

    /// Speech regions of a whole mono 16 kHz recording, in order, clamped to
    /// the audio's duration (one thread).
    pub fn speech_regions(&self, audio: &[f32]) -> Result<Vec<SpeechRegion>, VadError> {
        self.speech_regions_on(audio, 1)
    }

    /// [`speech_regions`](Self::speech_regions) read on up to `threads`
    /// threads: for a request that has the machine to itself.
    pub fn speech_regions_on(
        &self,
        audio: &[f32],
        threads: usize,
    ) -> Result<Vec<SpeechRegion>, VadError> {
        let probs = super::rows::probabilities(&self.model, audio, threads)?;
        Ok(self.regions(&probs, audio.len()))
    }

    /// The regions of a recording of `samples` samples whose frames have
    /// the probabilities `probs`.
    pub fn regions(&self, probs: &[f32], samples: usize) -> Vec<SpeechRegion> {
        let duration = samples as f64 / f64::from(SAMPLE_RATE);
        let mut detector = Detector::new(self.config.clone());
        let mut regions = Vec::new();
        let mut open: Option<f64> = None;
        let mut events: Vec<VadEvent> = probs.iter().filter_map(|&p| detector.push(p)).collect();
        events.extend(detector.finish(duration));
        for event in events {
            match event {
                VadEvent::SpeechStart { at } => open = Some(at),
                VadEvent::SpeechEnd { at } => {
                    if let Some(start) = open.take() {
                        regions.push(SpeechRegion {
                            start,
                            end: at.min(duration),
                        });
                    }
                }
            }
        }
        regions
    }
}

/// Incremental VAD over one live stream. Feed chunks of any size; events and
/// frames are timestamped in seconds since the first sample pushed.
#[derive(Debug)]
pub struct VadStream {
    model: Arc<SileroModel>,
    state: SileroState,
    detector: Detector,
    pending: Vec<f32>,
    samples: u64,
}

impl VadStream {
    /// Feeds audio; returns the speech boundaries it crossed.
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<VadEvent>, VadError> {
        let mut frames = Vec::new();
        self.push_frames(samples, &mut frames)
    }

    /// Like [`push`](Self::push), also appending every analysed frame to
    /// `frames`.
    pub fn push_frames(
        &mut self,
        mut samples: &[f32],
        frames: &mut Vec<VadFrame>,
    ) -> Result<Vec<VadEvent>, VadError> {
        let mut events = Vec::new();
        while !samples.is_empty() {
            let take = (FRAME_SAMPLES - self.pending.len()).min(samples.len());
            self.pending.extend_from_slice(&samples[..take]);
            samples = &samples[take..];
            if self.pending.len() == FRAME_SAMPLES {
                let p = self.model.probability(&mut self.state, &self.pending)?;
                self.pending.clear();
                self.step(p, frames, &mut events);
            }
        }
        Ok(events)
    }

    fn step(&mut self, p: f32, frames: &mut Vec<VadFrame>, events: &mut Vec<VadEvent>) {
        let start = self.samples as f64 / f64::from(SAMPLE_RATE);
        self.samples += FRAME_SAMPLES as u64;
        let event = self.detector.push(p);
        events.extend(event);
        frames.push(VadFrame {
            start,
            probability: p,
            speech: self.detector.in_speech(),
            event,
        });
    }

    /// Ends the stream: analyses the buffered partial frame (zero-padded) and
    /// closes open speech at the end of the audio.
    pub fn finish(&mut self) -> Result<Vec<VadEvent>, VadError> {
        let end = self.position_with_pending();
        let mut events = Vec::new();
        if !self.pending.is_empty() {
            let mut frames = Vec::new();
            self.pending.resize(FRAME_SAMPLES, 0.0);
            let p = self.model.probability(&mut self.state, &self.pending)?;
            self.pending.clear();
            self.step(p, &mut frames, &mut events);
        }
        events.extend(self.detector.finish(end));
        Ok(events)
    }

    /// Seconds of audio analysed (whole frames only).
    pub fn position(&self) -> f64 {
        self.samples as f64 / f64::from(SAMPLE_RATE)
    }

    /// Seconds of audio pushed, including the buffered partial frame.
    pub fn position_with_pending(&self) -> f64 {
        (self.samples + self.pending.len() as u64) as f64 / f64::from(SAMPLE_RATE)
    }

    /// Whether the detector is currently in speech.
    pub fn in_speech(&self) -> bool {
        self.detector.in_speech()
    }

    /// Forces the detector back to silence (the model state is kept, so the
    /// next speech is still detected in context).
    pub fn reset_to_silence(&mut self) {
        self.detector.reset_to_silence();
    }

    /// Frame duration in seconds (32 ms).
    pub const fn frame_seconds() -> f64 {
        FRAME_SECONDS
    }
}
