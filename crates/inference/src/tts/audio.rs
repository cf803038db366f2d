//! Per-utterance post-processing of model audio.
//!
//! Piper's `audio_float_to_int16` scales every utterance so that its peak
//! reaches full scale (dividing by `max(|x|, 0.01)`). We do the same in `f32`
//! but aim at [`PEAK`] instead of 1.0, leaving headroom for resampling and
//! lossy encoders downstream; the result never clips.

/// Target peak amplitude after normalisation.
pub(crate) const PEAK: f32 = 0.95;

/// Peak-normalises `samples` in place (Piper's volume normalisation), or,
/// given `gain`, continues a previous piece at that gain (lowered only as
/// far as needed to keep this piece's peak at [`PEAK`]). Returns the gain
/// applied.
pub(crate) fn normalize_peak(samples: &mut [f32], gain: Option<f32>) -> f32 {
    let peak = samples
        .iter()
        .filter(|x| x.is_finite())
        .fold(0.0f32, |m, x| m.max(x.abs()));
    let own = PEAK / peak.max(0.01);
    let gain = match gain {
        Some(g) if g.is_finite() && g > 0.0 => g.min(own),
        _ => own,
    };
    for x in samples.iter_mut() {
        *x = if x.is_finite() {
            (*x * gain).clamp(-1.0, 1.0)
        } else {
            0.0
        };
    }
    gain
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
        let gain = normalize_peak(&mut x, None);
        assert!((gain - PEAK / 0.5).abs() < 1e-6);
        assert!((x[1] + PEAK).abs() < 1e-6);
        assert!(x.iter().all(|v| v.abs() <= 1.0));
        assert_eq!(x[3], 0.0);
        let mut quiet = vec![0.001, -0.002];
        normalize_peak(&mut quiet, None);
        assert!(quiet.iter().all(|v| v.abs() < 0.2));
        // A continued piece keeps the given gain, or less when it would clip.
        let mut next = vec![0.1, -0.2];
        assert_eq!(normalize_peak(&mut next, Some(2.0)), 2.0);
        assert!((next[1] + 0.4).abs() < 1e-6);
        let mut loud = vec![0.9];
        let gain = normalize_peak(&mut loud, Some(2.0));
        assert!((gain - PEAK / 0.9).abs() < 1e-6 && (loud[0] - PEAK).abs() < 1e-6);
        assert_eq!(samples_for(0.2, 22050), 4410);
    }
}
