//! Per-utterance post-processing of model audio.
//!
//! Piper's `audio_float_to_int16` scales every utterance so that its peak
//! reaches full scale (dividing by `max(|x|, 0.01)`). We do the same in `f32`
//! but aim at [`PEAK`] instead of 1.0, leaving headroom for resampling and
//! lossy encoders downstream; the result never clips.

/// Target peak amplitude after normalisation.
pub(crate) const PEAK: f32 = 0.95;

/// Peak-normalises `samples` in place (Piper's volume normalisation).
pub(crate) fn normalize_peak(samples: &mut [f32]) {
    let peak = samples
        .iter()
        .filter(|x| x.is_finite())
        .fold(0.0f32, |m, x| m.max(x.abs()));
    let gain = PEAK / peak.max(0.01);
    for x in samples.iter_mut() {
        *x = if x.is_finite() {
            (*x * gain).clamp(-1.0, 1.0)
        } else {
            0.0
        };
    }
}

/// Number of samples in `seconds` of audio at `rate` Hz.
pub(crate) fn samples_for(seconds: f32, rate: u32) -> usize {
    (seconds.max(0.0) * rate as f32).round() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_to_peak_without_clipping() {
        let mut x = vec![0.1, -0.5, 0.25, f32::NAN];
        normalize_peak(&mut x);
        assert!((x[1] + PEAK).abs() < 1e-6);
        assert!(x.iter().all(|v| v.abs() <= 1.0));
        assert_eq!(x[3], 0.0);
        let mut quiet = vec![0.001, -0.002];
        normalize_peak(&mut quiet);
        assert!(quiet.iter().all(|v| v.abs() < 0.2));
        assert_eq!(samples_for(0.2, 22050), 4410);
    }
}
