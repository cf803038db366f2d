//! Live input faster than real time: how far ahead of the wall clock a
//! client's audio may run.
//!
//! Policy (documented in `docs/reliability.md`): a live session may send a
//! burst of [`Pacer::burst`] seconds of audio at any speed, then at most
//! `speed` seconds of audio per second of wall-clock time. Audio beyond that
//! is not refused: the session stops reading its socket until the clock
//! catches up, so TCP back-pressure slows the client down and nothing is
//! lost. Real-time callers (telephony, microphones) never notice; a client
//! replaying a recording is served at `speed` times real time.
//!
//! Written here rather than with a rate-limit crate because it must run on
//! tokio's clock (paused-time tests) and meters fractional seconds.

use std::time::Duration;

use tokio::time::Instant;

/// Default speed limit: four times real time after the burst.
pub const DEFAULT_SPEED: f64 = 4.0;
/// Default burst: one minute of audio at any speed.
pub const DEFAULT_BURST_S: f64 = 60.0;

/// A per-session token bucket over seconds of audio.
#[derive(Debug, Clone)]
pub struct Pacer {
    speed: f64,
    burst: f64,
    started: Option<Instant>,
    admitted: f64,
}

impl Pacer {
    /// At most `speed` × real time after a burst of `burst_s` seconds.
    /// A non-positive or non-finite speed disables pacing.
    pub fn new(speed: f64, burst_s: f64) -> Self {
        Self {
            speed,
            burst: burst_s.max(0.0),
            started: None,
            admitted: 0.0,
        }
    }

    /// The default live policy: [`DEFAULT_SPEED`] after [`DEFAULT_BURST_S`].
    pub fn live_default() -> Self {
        Self::new(DEFAULT_SPEED, DEFAULT_BURST_S)
    }

    /// The burst allowance, in seconds of audio.
    pub fn burst(&self) -> f64 {
        self.burst
    }

    /// How long to wait before `seconds` more audio may be processed (zero
    /// when it may go now); counts it as admitted.
    pub fn admit(&mut self, seconds: f64) -> Duration {
        let now = Instant::now();
        let started = *self.started.get_or_insert(now);
        self.admitted += seconds.max(0.0);
        if !(self.speed.is_finite() && self.speed > 0.0) {
            return Duration::ZERO;
        }
        let allowed = self.burst + self.speed * (now - started).as_secs_f64();
        let ahead = self.admitted - allowed;
        if ahead <= 0.0 {
            Duration::ZERO
        } else {
            Duration::try_from_secs_f64(ahead / self.speed).unwrap_or(Duration::MAX)
        }
    }

    /// Waits until `seconds` more audio may be processed.
    pub async fn pace(&mut self, seconds: f64) {
        let wait = self.admit(seconds);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn real_time_input_never_waits() {
        let mut pacer = Pacer::new(2.0, 10.0);
        for _ in 0..3_000 {
            assert_eq!(pacer.admit(0.02), Duration::ZERO);
            tokio::time::advance(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_is_free_then_speed_is_capped() {
        let mut pacer = Pacer::new(2.0, 10.0);
        assert_eq!(pacer.admit(10.0), Duration::ZERO);
        // 4 s more at once: 2 s of wall clock at 2× real time
        assert_eq!(pacer.admit(4.0), Duration::from_secs(2));
        let start = Instant::now();
        pacer.pace(2.0).await; // 16 s admitted, 10 + 2·t allowed → t = 3 s
        assert_eq!(Instant::now() - start, Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn disabled_pacing_and_odd_inputs() {
        for speed in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let mut pacer = Pacer::new(speed, 0.0);
            assert_eq!(pacer.admit(1e9), Duration::ZERO);
        }
        let mut pacer = Pacer::new(1.0, f64::NAN);
        assert_eq!(pacer.admit(f64::NAN), Duration::ZERO);
        assert_eq!(pacer.admit(-5.0), Duration::ZERO);
        let mut pacer = Pacer::new(1e-300, 0.0);
        assert_eq!(pacer.admit(1e300), Duration::MAX);
    }
}
