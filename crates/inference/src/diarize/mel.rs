//! The speaker encoder's front end: Resemblyzer's mel spectrogram, as
//! `librosa.feature.melspectrogram(n_fft=400, hop_length=160, n_mels=40)`
//! computes it at 16 kHz — centred frames (zero padding, librosa 0.11), a periodic Hann
//! window, the power spectrum, Slaney-scale mel filters with Slaney area
//! normalisation, and no logarithm.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

/// Samples per second the encoder expects.
pub const SAMPLE_RATE: usize = 16_000;
/// FFT size and window length (25 ms).
pub const N_FFT: usize = 400;
/// Hop between frames (10 ms).
pub const HOP: usize = 160;
/// Mel channels.
pub const N_MELS: usize = 40;
const N_BINS: usize = N_FFT / 2 + 1;

/// Precomputed window, filters and FFT plan.
pub struct MelFrontEnd {
    window: Vec<f32>,
    /// `N_MELS` rows of `N_BINS` weights.
    filters: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
}

impl std::fmt::Debug for MelFrontEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MelFrontEnd").finish_non_exhaustive()
    }
}

fn hz_to_mel(hz: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    if hz >= min_log_hz {
        min_log_hz / f_sp + (hz / min_log_hz).ln() / (6.4f64.ln() / 27.0)
    } else {
        hz / f_sp
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    if mel >= min_log_mel {
        min_log_hz * ((6.4f64.ln() / 27.0) * (mel - min_log_mel)).exp()
    } else {
        f_sp * mel
    }
}

/// librosa's `filters.mel(sr=16000, n_fft=400, n_mels=40)` (Slaney, `norm="slaney"`).
fn mel_filters() -> Vec<f32> {
    let top = hz_to_mel(SAMPLE_RATE as f64 / 2.0);
    let mel_f: Vec<f64> = (0..N_MELS + 2)
        .map(|i| mel_to_hz(top * i as f64 / (N_MELS + 1) as f64))
        .collect();
    let mut out = vec![0f32; N_MELS * N_BINS];
    for m in 0..N_MELS {
        let enorm = 2.0 / (mel_f[m + 2] - mel_f[m]);
        for k in 0..N_BINS {
            let f = k as f64 * SAMPLE_RATE as f64 / N_FFT as f64;
            let lower = (f - mel_f[m]) / (mel_f[m + 1] - mel_f[m]);
            let upper = (mel_f[m + 2] - f) / (mel_f[m + 2] - mel_f[m + 1]);
            out[m * N_BINS + k] = (lower.min(upper).max(0.0) * enorm) as f32;
        }
    }
    out
}

impl Default for MelFrontEnd {
    fn default() -> Self {
        Self::new()
    }
}

impl MelFrontEnd {
    /// Builds the window, filter bank and FFT plan.
    pub fn new() -> Self {
        let window = (0..N_FFT)
            .map(|n| {
                let x = 2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64;
                (0.5 - 0.5 * x.cos()) as f32
            })
            .collect();
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
        Self {
            window,
            filters: mel_filters(),
            fft,
        }
    }

    /// Number of frames for `n` samples (`1 + n / HOP`, centred frames).
    pub fn frames_for(n: usize) -> usize {
        1 + n / HOP
    }

    /// Mel power spectrogram of `audio` (16 kHz mono): `frames_for(len)` rows
    /// of `N_MELS` values, row-major.
    pub fn compute(&self, audio: &[f32]) -> Vec<f32> {
        let n = audio.len();
        let pad = N_FFT / 2;
        // Zero padding at both ends (librosa >= 0.10's `pad_mode="constant"`).
        let sample = |i: isize| -> f32 {
            usize::try_from(i)
                .ok()
                .and_then(|i| audio.get(i))
                .copied()
                .unwrap_or(0.0)
        };
        let frames = Self::frames_for(n);
        let mut out = vec![0f32; frames * N_MELS];
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0f32; N_BINS];
        for t in 0..frames {
            let start = (t * HOP) as isize - pad as isize;
            for (k, slot) in input.iter_mut().enumerate() {
                *slot = sample(start + k as isize) * self.window[k];
            }
            // Lengths always match the plan, so this cannot fail.
            if self
                .fft
                .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
                .is_err()
            {
                continue;
            }
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.norm_sqr();
            }
            let row = &mut out[t * N_MELS..(t + 1) * N_MELS];
            for (m, v) in row.iter_mut().enumerate() {
                let w = &self.filters[m * N_BINS..(m + 1) * N_BINS];
                *v = w.iter().zip(&power).map(|(a, b)| a * b).sum();
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_count_and_silence() {
        let mel = MelFrontEnd::new();
        let out = mel.compute(&vec![0.0; 16_000]);
        assert_eq!(out.len(), 101 * N_MELS);
        assert!(out.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn a_tone_lands_in_its_mel_band() {
        let mel = MelFrontEnd::new();
        let tone: Vec<f32> = (0..16_000)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin())
            .collect();
        let out = mel.compute(&tone);
        let row = &out[50 * N_MELS..51 * N_MELS];
        let peak = (0..N_MELS)
            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
            .unwrap_or(0);
        // 1 kHz is mel 15 on the Slaney scale: band 12-13 of 40 (1.1 mel apart).
        assert!((12..=14).contains(&peak), "peak band {peak}");
    }
}
