//! Mel filterbank that whisper.cpp reads from the ggml header.
//!
//! Reproduces `librosa.filters.mel(sr=16000, n_fft=400, n_mels=N)` with librosa's defaults
//! (Slaney mel scale, `norm="slaney"`, `fmin=0`, `fmax=sr/2`, float32 output), which is what
//! OpenAI's `mel_filters.npz` holds. Intermediate values are f64 and the weights are rounded to
//! f32 before the Slaney normalisation, exactly like librosa's in-place `weights *= enorm`.

/// Sample rate Whisper models expect.
pub const SAMPLE_RATE: u32 = 16_000;
/// FFT size Whisper uses (25 ms window).
pub const N_FFT: usize = 400;

/// A row-major `n_mel × n_fft` filterbank (`n_fft` = `1 + N_FFT/2` frequency bins).
#[derive(Debug, Clone, PartialEq)]
pub struct MelFilters {
    /// Number of mel bands (rows).
    pub n_mel: usize,
    /// Number of FFT bins (columns).
    pub n_fft: usize,
    /// Weights, row-major.
    pub data: Vec<f32>,
}

const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn logstep() -> f64 {
    6.4f64.ln() / 27.0
}

/// Slaney Hz → mel (librosa `hz_to_mel(htk=False)`).
pub fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / logstep()
    } else {
        hz / F_SP
    }
}

/// Slaney mel → Hz (librosa `mel_to_hz(htk=False)`).
pub fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (logstep() * (mel - MIN_LOG_MEL)).exp()
    } else {
        F_SP * mel
    }
}

/// numpy `linspace(start, stop, num)` (endpoint included, last value exact).
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let div = (num - 1) as f64;
    let step = (stop - start) / div;
    let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    if let Some(last) = v.last_mut() {
        *last = stop;
    }
    v
}

/// Computes the filterbank for `n_mels` bands at [`SAMPLE_RATE`] / [`N_FFT`].
pub fn mel_filters(n_mels: usize) -> MelFilters {
    let sr = f64::from(SAMPLE_RATE);
    let n_fft = 1 + N_FFT / 2;
    // numpy.fft.rfftfreq(n=400, d=1/sr): arange(n_fft) * (1 / (n * d)).
    let val = 1.0 / (N_FFT as f64 * (1.0 / sr));
    let fftfreqs: Vec<f64> = (0..n_fft).map(|k| k as f64 * val).collect();
    let mels = linspace(hz_to_mel(0.0), hz_to_mel(sr / 2.0), n_mels + 2);
    let mel_f: Vec<f64> = mels.iter().map(|&m| mel_to_hz(m)).collect();
    let fdiff: Vec<f64> = mel_f.windows(2).map(|w| w[1] - w[0]).collect();

    let mut data = vec![0f32; n_mels * n_fft];
    for i in 0..n_mels {
        let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
        for (k, &f) in fftfreqs.iter().enumerate() {
            let lower = -(mel_f[i] - f) / fdiff[i];
            let upper = (mel_f[i + 2] - f) / fdiff[i + 1];
            // numpy's minimum/maximum return the second operand on ties, which keeps the
            // -0.0 that librosa (and mel_filters.npz) has at [0][0].
            let m = if lower < upper { lower } else { upper };
            let w = (if 0.0 > m { 0.0 } else { m }) as f32;
            data[i * n_fft + k] = (f64::from(w) * enorm) as f32;
        }
    }
    MelFilters {
        n_mel: n_mels,
        n_fft,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn sha(f: &MelFilters) -> String {
        let mut h = Sha256::new();
        for v in &f.data {
            h.update(v.to_le_bytes());
        }
        hex::encode(h.finalize())
    }

    #[test]
    fn shape_and_reference_values_80() {
        let f = mel_filters(80);
        assert_eq!((f.n_mel, f.n_fft, f.data.len()), (80, 201, 80 * 201));
        // Bit patterns from librosa 0.11 `filters.mel(sr=16000, n_fft=400, n_mels=80)`,
        // identical to OpenAI whisper's assets/mel_filters.npz["mel_80"].
        let reference: [(usize, usize, u32); 13] = [
            (0, 1, 0x3ccb_aca4),
            (1, 1, 0x3b02_7873),
            (1, 2, 0x3cbb_5d95),
            (2, 2, 0x3b82_7873),
            (2, 3, 0x3cab_0e87),
            (10, 11, 0x3ba2_584f),
            (40, 42, 0x3bb1_4fa3),
            (40, 43, 0x3c71_6d72),
            (40, 44, 0x3bd5_968a),
            (79, 186, 0x39c0_473c),
            (79, 193, 0x3b4d_de7e),
            (79, 199, 0x39eb_476a),
            (60, 100, 0),
        ];
        for (i, j, bits) in reference {
            let got = f.data[i * 201 + j];
            assert_eq!(
                got.to_bits(),
                bits,
                "mel[{i}][{j}] = {got}, want {}",
                f32::from_bits(bits)
            );
        }
        // The whole bank, bit for bit (sha256 of the little-endian f32 array).
        assert_eq!(
            sha(&f),
            "4f2701b1d287d74a0dc9871026e9519d98cb76426615f2539b0d151a0ae4ec2e"
        );
    }

    #[test]
    fn slaney_normalisation() {
        // Slaney norm scales each triangle to unit area in Hz: its peak is 2 / (upper - lower
        // edge), so the sampled peak times half the base is ≤ 1, and the area sampled on the
        // 40 Hz bin grid is ≈ 1 once the triangles are wide.
        let f = mel_filters(80);
        let edges: Vec<f64> = linspace(0.0, hz_to_mel(8000.0), 82)
            .into_iter()
            .map(mel_to_hz)
            .collect();
        for i in 0..80 {
            let row = &f.data[i * 201..(i + 1) * 201];
            let peak = row.iter().fold(0f32, |m, &w| m.max(w));
            let scaled = f64::from(peak) * (edges[i + 2] - edges[i]) / 2.0;
            assert!(scaled <= 1.0 + 1e-6, "band {i}: {scaled}");
            if i >= 60 {
                assert!(scaled >= 0.85, "band {i}: {scaled}");
                let area: f64 = row.iter().map(|&w| f64::from(w) * 40.0).sum();
                assert!((area - 1.0).abs() < 0.01, "band {i}: area {area}");
            }
        }
        let total: f64 = f.data.iter().map(|&w| f64::from(w)).sum();
        assert!((total - 1.999_024_092_387_117).abs() < 1e-6, "sum {total}");
    }

    #[test]
    fn matches_reference_128() {
        let f = mel_filters(128);
        assert_eq!(
            sha(&f),
            "2a5f9822897750e047c85dea37cc268d3be0ecfd23c28a5f10da129d99d05afe"
        );
    }

    #[test]
    fn mel_scale_round_trips() {
        for hz in [0.0, 100.0, 999.0, 1000.0, 4000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9);
        }
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
    }
}
