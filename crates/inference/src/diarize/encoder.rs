//! The Resemblyzer GE2E speaker encoder run with candle: mel frames → 3-layer
//! LSTM (256) → the last layer's final hidden state → linear 256 + ReLU →
//! L2 normalisation.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::rnn::{LSTMConfig, LSTM, RNN};
use candle_nn::{Linear, Module, VarBuilder};

use super::mel::{MelFrontEnd, HOP, N_MELS, SAMPLE_RATE};
use super::weights::read_legacy_checkpoint;
use super::DiarizeError;

/// Embedding dimension.
pub const EMBEDDING_DIM: usize = 256;
/// Frames in one of Resemblyzer's partial utterances (1.6 s).
pub const PARTIAL_FRAMES: usize = 160;
const HIDDEN: usize = 256;
const LAYERS: usize = 3;
/// Windows embedded per LSTM batch (bounds the working memory).
const BATCH: usize = 64;
/// Largest checkpoint accepted (the real one is 17 MB).
const MAX_CHECKPOINT_BYTES: u64 = 256 << 20;

/// A unit-length speaker embedding.
pub type Embedding = Vec<f32>;

/// The loaded encoder; `Send + Sync`, one per process is enough.
#[derive(Debug)]
pub struct SpeakerEncoder {
    lstm: Vec<LSTM>,
    linear: Linear,
    mel: MelFrontEnd,
}

fn model_err(e: candle_core::Error) -> DiarizeError {
    DiarizeError::Model(e.to_string())
}

fn l2_normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Cosine similarity of two vectors (0 when either is all zeros).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

impl SpeakerEncoder {
    /// Loads Resemblyzer's `pretrained.pt`.
    pub fn load(path: &Path) -> Result<Self, DiarizeError> {
        let io = |e: std::io::Error| DiarizeError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_CHECKPOINT_BYTES {
            return Err(DiarizeError::Model(format!(
                "{} is {len} bytes, larger than any speaker checkpoint",
                path.display()
            )));
        }
        let bytes = std::fs::read(path).map_err(io)?;
        let tensors = read_legacy_checkpoint(&bytes)?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
        let mut lstm = Vec::with_capacity(LAYERS);
        for layer in 0..LAYERS {
            let config = LSTMConfig {
                layer_idx: layer,
                ..LSTMConfig::default()
            };
            let in_dim = if layer == 0 { N_MELS } else { HIDDEN };
            lstm.push(candle_nn::lstm(in_dim, HIDDEN, config, vb.pp("lstm")).map_err(model_err)?);
        }
        let linear =
            candle_nn::linear(HIDDEN, EMBEDDING_DIM, vb.pp("linear")).map_err(model_err)?;
        Ok(Self {
            lstm,
            linear,
            mel: MelFrontEnd::new(),
        })
    }

    /// The mel front end (for callers that slice windows themselves).
    pub fn mel(&self) -> &MelFrontEnd {
        &self.mel
    }

    /// Embeds windows of mel frames. `mel` is row-major `N_MELS` per frame;
    /// each window is `(first_frame, frames)`, all inside `mel`. Windows of
    /// equal length are batched together. Returns one unit embedding per window.
    pub fn embed_mel_windows(
        &self,
        mel: &[f32],
        windows: &[(usize, usize)],
    ) -> Result<Vec<Embedding>, DiarizeError> {
        let total = mel.len() / N_MELS;
        if let Some(w) = windows.iter().find(|(s, n)| *n == 0 || s + n > total) {
            return Err(DiarizeError::Input(format!(
                "window {w:?} outside {total} frames"
            )));
        }
        let mut out = vec![Vec::new(); windows.len()];
        // Group by length so each batch is one (B, T, 40) tensor.
        let mut order: Vec<usize> = (0..windows.len()).collect();
        order.sort_by_key(|&i| windows[i].1);
        for group in order.chunk_by(|&a, &b| windows[a].1 == windows[b].1) {
            for batch in group.chunks(BATCH) {
                let frames = windows[batch[0]].1;
                let mut data = Vec::with_capacity(batch.len() * frames * N_MELS);
                for &i in batch {
                    let (s, n) = windows[i];
                    data.extend_from_slice(&mel[s * N_MELS..(s + n) * N_MELS]);
                }
                let embeds = self.forward(data, batch.len(), frames)?;
                for (&i, e) in batch.iter().zip(embeds) {
                    out[i] = e;
                }
            }
        }
        Ok(out)
    }

    fn forward(
        &self,
        data: Vec<f32>,
        batch: usize,
        frames: usize,
    ) -> Result<Vec<Embedding>, DiarizeError> {
        let mut x =
            Tensor::from_vec(data, (batch, frames, N_MELS), &Device::Cpu).map_err(model_err)?;
        let mut last = None;
        for (i, layer) in self.lstm.iter().enumerate() {
            let states = layer.seq(&x).map_err(model_err)?;
            if i + 1 < self.lstm.len() {
                x = layer.states_to_tensor(&states).map_err(model_err)?;
            } else {
                last = states.last().map(|s| s.h().clone());
            }
        }
        let h = last.ok_or_else(|| DiarizeError::Input("empty window".into()))?;
        let y = self
            .linear
            .forward(&h)
            .and_then(|y| y.relu())
            .map_err(model_err)?;
        let rows: Vec<Vec<f32>> = y.to_vec2().map_err(model_err)?;
        Ok(rows
            .into_iter()
            .map(|mut r| {
                l2_normalise(&mut r);
                r
            })
            .collect())
    }

    /// Resemblyzer's `embed_utterance` (rate 1.3 partials per second, minimum
    /// coverage 0.75): the normalised mean of the partial embeddings. `audio`
    /// is 16 kHz mono; returns the utterance embedding and the partials.
    pub fn embed_utterance(
        &self,
        audio: &[f32],
    ) -> Result<(Embedding, Vec<Embedding>), DiarizeError> {
        let n = audio.len();
        let n_frames = (n + 1).div_ceil(HOP);
        let frame_step = ((SAMPLE_RATE as f64 / 1.3) / HOP as f64).round() as usize;
        let steps = (n_frames + frame_step + 1)
            .saturating_sub(PARTIAL_FRAMES)
            .max(1);
        let mut starts: Vec<usize> = (0..steps).step_by(frame_step).collect();
        if let Some(&last) = starts.last() {
            let coverage = (n as f64 - (last * HOP) as f64) / (PARTIAL_FRAMES * HOP) as f64;
            if coverage < 0.75 && starts.len() > 1 {
                starts.pop();
            }
        }
        let needed = starts.last().map_or(0, |s| (s + PARTIAL_FRAMES) * HOP);
        let mut padded = audio.to_vec();
        if needed >= n {
            padded.resize(needed, 0.0);
        }
        let mel = self.mel.compute(&padded);
        let windows: Vec<(usize, usize)> = starts.iter().map(|&s| (s, PARTIAL_FRAMES)).collect();
        let partials = self.embed_mel_windows(&mel, &windows)?;
        let mut mean = vec![0f32; EMBEDDING_DIM];
        for p in &partials {
            mean.iter_mut().zip(p).for_each(|(m, v)| *m += v);
        }
        l2_normalise(&mut mean);
        Ok((mean, partials))
    }
}
