//! Speaker diarization: who spoke when.
//!
//! Speech regions (from the VAD) are cut into 1.6 s windows, each embedded by
//! Resemblyzer's GE2E speaker encoder ([`encoder`], run with candle; its
//! legacy PyTorch checkpoint is read by [`weights`], its mel front end is
//! [`mel`]); the embeddings are clustered ([`cluster`], agglomerative on
//! cosine distance within the caller's speaker-count hints), each window owns
//! the audio nearest its centre, and words are assigned to speakers by time
//! overlap with one-word flips smoothed away ([`assign`]). Live sessions
//! label whole utterances as they finish ([`online`]). Synchronous: callers
//! run it on the worker pool or a blocking thread.

pub mod assign;
pub mod cluster;
pub mod encoder;
pub mod mel;
pub mod online;
pub mod weights;

use std::path::{Path, PathBuf};

pub use assign::{assign_words, WordSpeaker};
pub use cluster::ClusterConfig;
pub use encoder::{cosine, Embedding, SpeakerEncoder, EMBEDDING_DIM};
pub use online::OnlineSpeakers;

use crate::vad::SpeechRegion;
use encoder::PARTIAL_FRAMES;
use mel::{HOP, SAMPLE_RATE};

/// File name of the encoder inside its model directory.
pub const MODEL_FILE: &str = "pretrained.pt";

/// Errors of the diarizer.
#[derive(Debug, thiserror::Error)]
pub enum DiarizeError {
    /// The model file could not be read.
    #[error("cannot read speaker model {path}: {message}")]
    Io {
        /// File.
        path: PathBuf,
        /// OS error text.
        message: String,
    },
    /// The model is malformed or candle failed.
    #[error("speaker model: {0}")]
    Model(String),
    /// The input cannot be diarized.
    #[error("diarization input: {0}")]
    Input(String),
}

/// What the caller knows about the speakers, and the tuned defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiarizeOptions {
    /// At least this many speakers (default 1).
    pub min_speakers: usize,
    /// At most this many speakers (default 8).
    pub max_speakers: usize,
    /// Cosine-distance threshold of the clustering (default 0.30).
    pub threshold: f32,
    /// Hop between windows in a speech region, seconds (default 0.4; raised
    /// for long audio so at most `max_windows` windows are embedded).
    pub hop_s: f64,
    /// Most windows embedded per request (default 600): bounds the clustering's
    /// quadratic memory and cubic time.
    pub max_windows: usize,
    /// A cluster holding less than this share of the windows (default 0.08,
    /// and always a lone window) joins its nearest neighbour: a voice heard
    /// for a moment is an outlier of another speaker more often than a speaker.
    pub min_cluster_share: f64,
}

impl Default for DiarizeOptions {
    fn default() -> Self {
        Self {
            min_speakers: 1,
            max_speakers: 8,
            threshold: 0.30,
            hop_s: 0.4,
            max_windows: 600,
            min_cluster_share: 0.08,
        }
    }
}

/// A stretch of audio attributed to one speaker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeakerSpan {
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// Speaker id, `0..speakers`, numbered in order of first appearance.
    pub speaker: usize,
    /// How clearly the audio belongs to this speaker, 0–1.
    pub confidence: f32,
}

/// The result: speaker turns in time order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Diarization {
    /// Number of distinct speakers.
    pub speakers: usize,
    /// Spans in time order, adjacent same-speaker spans merged.
    pub spans: Vec<SpeakerSpan>,
}

/// The encoder plus the pipeline around it. `Send + Sync`; share one.
#[derive(Debug)]
pub struct Diarizer {
    encoder: SpeakerEncoder,
}

/// One embedded window: where it sits, which region, and its embedding.
struct Window {
    region: usize,
    start: f64,
    end: f64,
}

impl Diarizer {
    /// Loads the encoder from a model directory (`<store>/resemblyzer`).
    pub fn load(dir: &Path) -> Result<Self, DiarizeError> {
        Ok(Self {
            encoder: SpeakerEncoder::load(&dir.join(MODEL_FILE))?,
        })
    }

    /// The speaker encoder.
    pub fn encoder(&self) -> &SpeakerEncoder {
        &self.encoder
    }

    /// Diarizes 16 kHz mono `audio` whose speech lies in `regions`.
    pub fn diarize(
        &self,
        audio: &[f32],
        regions: &[SpeechRegion],
        options: &DiarizeOptions,
    ) -> Result<Diarization, DiarizeError> {
        let rate = SAMPLE_RATE as f64;
        let to_sample = |t: f64| ((t.max(0.0) * rate) as usize).min(audio.len());
        let speech: f64 = regions.iter().map(SpeechRegion::duration).sum();
        let window_s = (PARTIAL_FRAMES * HOP) as f64 / rate;
        let hop_s = options
            .hop_s
            .max(speech / options.max_windows.max(1) as f64)
            .max(0.05);
        let min_frames = 40; // 0.4 s: shorter regions carry too little voice

        let mut windows = Vec::new();
        let mut embeddings = Vec::new();
        for (ri, r) in regions.iter().enumerate() {
            let (s0, s1) = (to_sample(r.start), to_sample(r.end));
            if s1 <= s0 {
                continue;
            }
            let mel = self.encoder.mel().compute(&audio[s0..s1]);
            let frames = mel.len() / mel::N_MELS;
            if frames < min_frames {
                continue;
            }
            let mut spans = Vec::new();
            if frames <= PARTIAL_FRAMES {
                spans.push((0, frames));
            } else {
                let hop_frames = ((hop_s * rate) as usize / HOP).max(1);
                let mut s = 0;
                while s + PARTIAL_FRAMES < frames {
                    spans.push((s, PARTIAL_FRAMES));
                    s += hop_frames;
                }
                spans.push((frames - PARTIAL_FRAMES, PARTIAL_FRAMES));
            }
            embeddings.extend(self.encoder.embed_mel_windows(&mel, &spans)?);
            for (s, n) in spans {
                let start = r.start + (s * HOP) as f64 / rate;
                windows.push(Window {
                    region: ri,
                    start,
                    end: (start + (n * HOP) as f64 / rate)
                        .min(r.end)
                        .min(start + window_s),
                });
            }
        }
        if windows.is_empty() {
            return Ok(Diarization::default());
        }

        let config = ClusterConfig {
            threshold: options.threshold,
            min_clusters: options.min_speakers.max(1),
            max_clusters: options.max_speakers.max(1),
        };
        let mut labels = cluster::agglomerative(&embeddings, config);
        cluster::absorb_small(
            &embeddings,
            &mut labels,
            options.min_speakers.max(1),
            options.min_cluster_share,
        );
        // One pass of re-assignment to the nearest centroid cleans up windows
        // that average linkage attached to the wrong side early.
        let centroids = cluster::centroids(&embeddings, &labels);
        let mut confidence = Vec::with_capacity(labels.len());
        for (e, l) in embeddings.iter().zip(labels.iter_mut()) {
            let sims: Vec<f32> = centroids.iter().map(|c| cosine(e, c)).collect();
            let best = (0..sims.len())
                .max_by(|&a, &b| sims[a].total_cmp(&sims[b]))
                .unwrap_or(*l);
            *l = best;
            let second = sims
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != best)
                .map(|(_, s)| *s)
                .fold(f32::NEG_INFINITY, f32::max);
            let c = if second.is_finite() {
                0.5 + (sims[best] - second)
            } else {
                sims[best]
            };
            confidence.push(c.clamp(0.0, 1.0));
        }
        Ok(spans_from_windows(&windows, &labels, &confidence, regions))
    }
}

/// Each window owns its region's audio nearest its centre; adjacent spans of
/// one speaker merge; speakers are renumbered by first appearance.
fn spans_from_windows(
    windows: &[Window],
    labels: &[usize],
    confidence: &[f32],
    regions: &[SpeechRegion],
) -> Diarization {
    let mut renumber: Vec<Option<usize>> = vec![None; labels.len() + 1];
    let mut speakers = 0;
    let mut spans: Vec<SpeakerSpan> = Vec::new();
    for (i, w) in windows.iter().enumerate() {
        let region = regions[w.region];
        let centre = (w.start + w.end) / 2.0;
        let start = match i.checked_sub(1).map(|p| &windows[p]) {
            Some(p) if p.region == w.region => ((p.start + p.end) / 2.0 + centre) / 2.0,
            _ => region.start,
        };
        let end = match windows.get(i + 1) {
            Some(n) if n.region == w.region => (centre + (n.start + n.end) / 2.0) / 2.0,
            _ => region.end,
        };
        let speaker = *renumber[labels[i]].get_or_insert_with(|| {
            speakers += 1;
            speakers - 1
        });
        match spans.last_mut() {
            Some(last) if last.speaker == speaker && (start - last.end).abs() < 1e-6 => {
                last.end = end;
                last.confidence = last.confidence.min(confidence[i]);
            }
            _ => spans.push(SpeakerSpan {
                start,
                end,
                speaker,
                confidence: confidence[i],
            }),
        }
    }
    Diarization { speakers, spans }
}
