//! Sizing whisper.cpp's encoder window (`audio_ctx`) to short inputs.
//!
//! Whisper's encoder always processes a 30 s window (1500 frames of 20 ms)
//! unless `audio_ctx` says otherwise; for a 3 s clip that is 10× more encoder
//! work than needed. [`audio_ctx_for`] sizes the window to the audio plus a
//! margin (the model sees a little trailing silence, which keeps it from
//! truncating the last word) and a floor (very small windows degrade
//! accuracy). The constants were measured on synthetic clips; see
//! `crates/inference/AUDIO_CTX.md`.

use super::AudioCtx;

/// Input sample rate.
pub const SAMPLE_RATE: usize = 16_000;
/// Encoder frames per second of audio (one per 20 ms).
pub const CTX_PER_SECOND: f64 = 50.0;
/// Frames added after the audio's own length (64 = 1.28 s).
pub const AUTO_MARGIN: i32 = 64;
/// Smallest automatic window (384 = 7.68 s).
pub const AUTO_MIN: i32 = 384;
/// Windows are rounded up to this many frames.
pub const AUTO_STEP: i32 = 32;

/// The `audio_ctx` to pass to whisper.cpp for `samples` samples (0 = the
/// model's full window).
pub fn audio_ctx_for(samples: usize, model_ctx: i32, policy: AudioCtx) -> i32 {
    match policy {
        AudioCtx::Full => 0,
        AudioCtx::Fixed(n) => {
            let n = i32::from(n);
            if n >= model_ctx {
                0
            } else {
                n.max(1)
            }
        }
        AudioCtx::Auto => sized_ctx(samples, model_ctx, AUTO_MARGIN, AUTO_MIN),
    }
}

/// `ceil(seconds × 50) + margin`, at least `min`, rounded up to
/// `AUTO_STEP` (32); 0 (full window) when that reaches the model's window.
pub fn sized_ctx(samples: usize, model_ctx: i32, margin: i32, min: i32) -> i32 {
    let own = (samples as f64 / SAMPLE_RATE as f64 * CTX_PER_SECOND).ceil() as i64;
    let want = (own + i64::from(margin)).max(i64::from(min));
    let rounded = (want + i64::from(AUTO_STEP) - 1) / i64::from(AUTO_STEP) * i64::from(AUTO_STEP);
    if rounded >= i64::from(model_ctx) {
        0
    } else {
        rounded as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_audio_gets_the_floor() {
        assert_eq!(audio_ctx_for(16_000, 1500, AudioCtx::Auto), AUTO_MIN);
        assert_eq!(AUTO_MIN % AUTO_STEP, 0);
    }

    #[test]
    fn long_audio_gets_full_window() {
        assert_eq!(audio_ctx_for(16_000 * 29, 1500, AudioCtx::Auto), 0);
        assert_eq!(audio_ctx_for(16_000 * 3600, 1500, AudioCtx::Auto), 0);
    }

    #[test]
    fn medium_audio_is_sized() {
        // 10 s → 500 + 64 = 564 → 576.
        assert_eq!(sized_ctx(160_000, 1500, 64, 256), 576);
    }

    #[test]
    fn fixed_and_full() {
        assert_eq!(audio_ctx_for(1, 1500, AudioCtx::Full), 0);
        assert_eq!(audio_ctx_for(1, 1500, AudioCtx::Fixed(300)), 300);
        assert_eq!(audio_ctx_for(1, 1500, AudioCtx::Fixed(2000)), 0);
    }
}
