//! Sample-rate conversion of mono `f32` audio, streaming and one-shot, built on
//! rubato's synchronous FFT resampler.
//!
//! # Design
//!
//! [`StreamingResampler`] accepts input in chunks of any size. Internally it
//! processes fixed blocks of [`StreamingResampler::block_input_len`] input
//! samples (each producing exactly `block_input_len * to / from` output
//! samples) and trims the filter's start-up delay, so its output is *aligned*
//! with the input: output sample `k` corresponds to time `k / to`, exactly as
//! for the one-shot [`resample`]. Because block boundaries depend only on the
//! number of samples fed so far, the streamed output is bit-identical to the
//! one-shot output however the input is chunked.
//!
//! The price of alignment is latency: after `n` input samples the resampler
//! has emitted at least `n * to / from - delay_samples()` output samples
//! (never more than `n * to / from`). [`StreamingResampler::flush`] drains the
//! tail so the total output length is exactly `round(n * to / from)`.
//!
//! After construction no call allocates inside the resampler (buffers are
//! preallocated; output is appended to a caller-owned `Vec`, which only grows
//! when its capacity is exceeded).
//!
//! Supported rates are [`MIN_RATE`]`..=`[`MAX_RATE`] Hz; the tested pairs are
//! all combinations of 8000, 16000, 22050, 24000, 44100 and 48000 Hz. Equal
//! rates are a pass-through with zero delay. Non-finite input samples are
//! replaced by `0.0` so one bad sample cannot poison a whole FFT block.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler, WindowFunction};

use crate::error::ResampleError;
use crate::pcm::sanitize;

/// Lowest supported sample rate in Hz.
pub const MIN_RATE: u32 = 1_000;
/// Highest supported sample rate in Hz.
pub const MAX_RATE: u32 = 384_000;

/// Minimum FFT block length on the lower-rate side. Larger blocks give a
/// steeper anti-aliasing filter (flat passband up to ~0.95 of the lower
/// Nyquist frequency) at the cost of latency; 256 keeps 8 kHz ↔ 16 kHz
/// latency under 50 ms while meeting a > 60 dB passband SNR.
const MIN_BLOCK_LOW_SIDE: usize = 256;

fn check_rate(rate: u32) -> Result<(), ResampleError> {
    if (MIN_RATE..=MAX_RATE).contains(&rate) {
        Ok(())
    } else {
        Err(ResampleError::UnsupportedRate {
            rate,
            min: MIN_RATE,
            max: MAX_RATE,
        })
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `round(n * to / from)` without overflow (`from > 0`).
pub fn expected_output_len(n: usize, from: u32, to: u32) -> usize {
    let from = u128::from(from.max(1));
    let num = n as u128 * u128::from(to);
    usize::try_from((num + from / 2) / from).unwrap_or(usize::MAX)
}

fn internal(err: impl std::fmt::Display) -> ResampleError {
    ResampleError::Internal {
        reason: err.to_string(),
    }
}

/// The FFT engine and its preallocated buffers (absent for pass-through).
struct Engine {
    fft: Fft<f32>,
    block_in: usize,
    block_out: usize,
    /// Filter delay in output samples (trimmed from the start of the output).
    filter_delay: usize,
    /// Input waiting for a full block; capacity `block_in`, never reallocated.
    pending: Vec<f32>,
    /// Output of one block; length `block_out`.
    scratch: Vec<f32>,
    /// Start-up samples still to drop.
    to_skip: usize,
}

impl Engine {
    fn new(from: u32, to: u32) -> Result<Self, ResampleError> {
        let g = gcd(u64::from(from), u64::from(to));
        let unit_in = (u64::from(from) / g) as usize;
        let unit_out = (u64::from(to) / g) as usize;
        let units = MIN_BLOCK_LOW_SIDE.div_ceil(unit_in.min(unit_out)).max(1);
        let fft = Fft::<f32>::new_custom(
            from as usize,
            to as usize,
            units * unit_in,
            1,
            1,
            WindowFunction::BlackmanHarris2,
            FixedSync::Both,
        )
        .map_err(internal)?;
        let block_in = fft.input_frames_next();
        let block_out = fft.output_frames_next();
        let filter_delay = fft.output_delay();
        Ok(Self {
            fft,
            block_in,
            block_out,
            filter_delay,
            pending: Vec::with_capacity(block_in),
            scratch: vec![0.0; block_out],
            to_skip: filter_delay,
        })
    }

    /// Runs one block from `pending` (zero-padded if short) and appends the
    /// non-skipped output to `out`. Returns the number of samples appended.
    fn run_block(&mut self, out: &mut Vec<f32>) -> Result<usize, ResampleError> {
        let filled = self.pending.len();
        let input = InterleavedSlice::new(&self.pending[..], 1, filled).map_err(internal)?;
        let mut output = InterleavedSlice::new_mut(&mut self.scratch[..], 1, self.block_out)
            .map_err(internal)?;
        let indexing = (filled < self.block_in).then(|| Indexing::new().partial_len(filled));
        let (_, produced) = self
            .fft
            .process_into_buffer(&input, &mut output, indexing.as_ref())
            .map_err(internal)?;
        self.pending.clear();
        let produced = produced.min(self.block_out);
        let skip = self.to_skip.min(produced);
        self.to_skip -= skip;
        out.extend_from_slice(&self.scratch[skip..produced]);
        Ok(produced - skip)
    }

    fn reset(&mut self) {
        self.fft.reset();
        self.pending.clear();
        self.to_skip = self.filter_delay;
    }
}

/// Chunk-in, chunk-out resampler for one mono stream. See the module docs.
pub struct StreamingResampler {
    from: u32,
    to: u32,
    engine: Option<Engine>,
    consumed: u64,
    emitted: u64,
}

impl std::fmt::Debug for StreamingResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingResampler")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("block_input_len", &self.block_input_len())
            .field("delay_samples", &self.delay_samples())
            .field("consumed", &self.consumed)
            .field("emitted", &self.emitted)
            .finish()
    }
}

impl StreamingResampler {
    /// Creates a resampler from `from` Hz to `to` Hz (both in
    /// [`MIN_RATE`]`..=`[`MAX_RATE`]). Equal rates give a pass-through.
    pub fn new(from: u32, to: u32) -> Result<Self, ResampleError> {
        check_rate(from)?;
        check_rate(to)?;
        let engine = if from == to {
            None
        } else {
            Some(Engine::new(from, to)?)
        };
        Ok(Self {
            from,
            to,
            engine,
            consumed: 0,
            emitted: 0,
        })
    }

    /// Input sample rate in Hz.
    pub fn input_rate(&self) -> u32 {
        self.from
    }

    /// Output sample rate in Hz.
    pub fn output_rate(&self) -> u32 {
        self.to
    }

    /// True when input and output rates are equal (samples are copied through).
    pub fn is_passthrough(&self) -> bool {
        self.engine.is_none()
    }

    /// Number of input samples processed per internal FFT block (1 for pass-through).
    pub fn block_input_len(&self) -> usize {
        self.engine.as_ref().map_or(1, |e| e.block_in)
    }

    /// Upper bound on how far the output lags the input, in output samples:
    /// after `n` input samples, at least `n * to / from - delay_samples()`
    /// samples have been emitted. It is the filter delay plus one block of
    /// buffering (0 for pass-through).
    pub fn delay_samples(&self) -> usize {
        self.engine
            .as_ref()
            .map_or(0, |e| e.filter_delay + e.block_out)
    }

    /// [`delay_samples`](Self::delay_samples) expressed in seconds.
    pub fn delay_seconds(&self) -> f64 {
        self.delay_samples() as f64 / f64::from(self.to)
    }

    /// Total input samples accepted since creation or the last flush/reset.
    pub fn samples_in(&self) -> u64 {
        self.consumed
    }

    /// Total output samples emitted since creation or the last flush/reset.
    pub fn samples_out(&self) -> u64 {
        self.emitted
    }

    /// Feeds `input` and appends all output that is ready to `out`.
    /// Returns the number of samples appended.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<usize, ResampleError> {
        self.consumed += input.len() as u64;
        let Some(engine) = self.engine.as_mut() else {
            out.extend(input.iter().map(|&s| sanitize(s)));
            self.emitted += input.len() as u64;
            return Ok(input.len());
        };
        let mut appended = 0;
        let mut rest = input;
        while !rest.is_empty() {
            let take = (engine.block_in - engine.pending.len()).min(rest.len());
            let (head, tail) = rest.split_at(take);
            engine.pending.extend(head.iter().map(|&s| sanitize(s)));
            rest = tail;
            if engine.pending.len() == engine.block_in {
                appended += engine.run_block(out)?;
            }
        }
        self.emitted += appended as u64;
        Ok(appended)
    }

    /// Convenience wrapper around [`push`](Self::push) returning a new `Vec`
    /// (allocates; prefer `push` on hot paths).
    pub fn process(&mut self, input: &[f32]) -> Result<Vec<f32>, ResampleError> {
        let mut out = Vec::new();
        self.push(input, &mut out)?;
        Ok(out)
    }

    /// Drains the tail: appends the remaining output so the total emitted since
    /// the last flush is exactly `round(samples_in * to / from)`, then resets
    /// the resampler for a new stream. Returns the number of samples appended.
    pub fn flush(&mut self, out: &mut Vec<f32>) -> Result<usize, ResampleError> {
        let total = expected_output_len(
            usize::try_from(self.consumed).unwrap_or(usize::MAX),
            self.from,
            self.to,
        ) as u64;
        let mut needed = usize::try_from(total.saturating_sub(self.emitted)).unwrap_or(0);
        let start = out.len();
        if let Some(engine) = self.engine.as_mut() {
            while needed > 0 {
                let got = engine.run_block(out)?;
                needed = needed.saturating_sub(got);
            }
            let wanted = start + usize::try_from(total.saturating_sub(self.emitted)).unwrap_or(0);
            out.truncate(wanted);
            engine.reset();
        }
        let appended = out.len() - start;
        self.consumed = 0;
        self.emitted = 0;
        Ok(appended)
    }

    /// Discards buffered input and filter state, starting a new stream.
    pub fn reset(&mut self) {
        if let Some(engine) = self.engine.as_mut() {
            engine.reset();
        }
        self.consumed = 0;
        self.emitted = 0;
    }
}

/// Resamples a whole mono buffer from `from` Hz to `to` Hz.
///
/// The output is delay-compensated (sample `k` is at time `k / to`, aligned
/// with the input) and has exactly `round(input.len() * to / from)` samples.
pub fn resample(input: &[f32], from: u32, to: u32) -> Result<Vec<f32>, ResampleError> {
    let mut resampler = StreamingResampler::new(from, to)?;
    let mut out = Vec::with_capacity(
        expected_output_len(input.len(), from, to).saturating_add(resampler.delay_samples()),
    );
    resampler.push(input, &mut out)?;
    resampler.flush(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    const RATES: [u32; 6] = [8_000, 16_000, 22_050, 24_000, 44_100, 48_000];

    /// Linear chirp from `f0` to `f1` Hz over `dur` seconds, sampled at `fs`.
    fn sweep(fs: u32, f0: f64, f1: f64, dur: f64, amp: f64) -> Vec<f32> {
        let n = (dur * f64::from(fs)).round() as usize;
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(fs);
                let phase = 2.0 * PI * (f0 * t + (f1 - f0) * t * t / (2.0 * dur));
                (amp * phase.sin()) as f32
            })
            .collect()
    }

    fn tone(fs: u32, f: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (0.5 * (2.0 * PI * f * i as f64 / f64::from(fs)).sin()) as f32)
            .collect()
    }

    /// SNR in dB of `got` against `reference`, ignoring `trim` samples at each end.
    fn snr_db(got: &[f32], reference: &[f32], trim: usize) -> f64 {
        let n = got.len().min(reference.len());
        let (mut sig, mut err) = (0.0f64, 0.0f64);
        for i in trim..n - trim {
            let r = f64::from(reference[i]);
            let d = f64::from(got[i]) - r;
            sig += r * r;
            err += d * d;
        }
        10.0 * (sig / err.max(1e-30)).log10()
    }

    fn sweep_snr(from: u32, to: u32) -> f64 {
        let dur = 2.0;
        let f1 = 0.45 * f64::from(from.min(to));
        let input = sweep(from, 100.0, f1, dur, 0.5);
        let out = resample(&input, from, to).unwrap();
        let reference = sweep(to, 100.0, f1, dur, 0.5);
        assert_eq!(out.len(), reference.len());
        snr_db(&out, &reference, (f64::from(to) * 0.05) as usize)
    }

    #[test]
    fn sweep_snr_8k_to_16k_above_60db() {
        let snr = sweep_snr(8_000, 16_000);
        assert!(snr > 60.0, "SNR {snr:.1} dB");
    }

    #[test]
    fn sweep_snr_16k_to_8k_above_60db() {
        let snr = sweep_snr(16_000, 8_000);
        assert!(snr > 60.0, "SNR {snr:.1} dB");
    }

    #[test]
    fn sweep_snr_other_pairs_above_60db() {
        for (from, to) in [
            (22_050, 8_000),
            (24_000, 16_000),
            (44_100, 16_000),
            (48_000, 8_000),
            (16_000, 48_000),
            (44_100, 48_000),
        ] {
            let snr = sweep_snr(from, to);
            assert!(snr > 60.0, "{from}->{to}: SNR {snr:.1} dB");
        }
    }

    #[test]
    fn round_trip_8k_16k_8k_tone() {
        let input = tone(8_000, 1_000.0, 8_000);
        let up = resample(&input, 8_000, 16_000).unwrap();
        assert_eq!(up.len(), 16_000);
        let back = resample(&up, 16_000, 8_000).unwrap();
        assert_eq!(back.len(), input.len());
        let snr = snr_db(&back, &input, 400);
        assert!(snr > 60.0, "round-trip SNR {snr:.1} dB");
    }

    #[test]
    fn streaming_in_arbitrary_chunks_equals_one_shot() {
        let input = sweep(8_000, 100.0, 3_500.0, 1.3, 0.7);
        let expected = resample(&input, 8_000, 16_000).unwrap();
        for chunk in [1usize, 7, 160, 1000, 4096] {
            let mut r = StreamingResampler::new(8_000, 16_000).unwrap();
            let mut out = Vec::new();
            for c in input.chunks(chunk) {
                r.push(c, &mut out).unwrap();
            }
            r.flush(&mut out).unwrap();
            assert_eq!(out, expected, "chunk size {chunk}");
        }
        // Irregular chunk sizes on a non-integer ratio.
        let input = sweep(22_050, 100.0, 3_500.0, 0.7, 0.7);
        let expected = resample(&input, 22_050, 8_000).unwrap();
        let mut r = StreamingResampler::new(22_050, 8_000).unwrap();
        let mut out = Vec::new();
        let (mut pos, mut step) = (0, 1);
        while pos < input.len() {
            let end = (pos + step).min(input.len());
            r.push(&input[pos..end], &mut out).unwrap();
            pos = end;
            step = (step * 7 + 3) % 997 + 1;
        }
        r.flush(&mut out).unwrap();
        assert_eq!(out, expected);
    }

    #[test]
    fn lengths_and_latency_bound_for_all_rate_pairs() {
        for &from in &RATES {
            for &to in &RATES {
                let mut r = StreamingResampler::new(from, to).unwrap();
                let delay = r.delay_samples() as f64;
                if from == to {
                    assert!(r.is_passthrough());
                    assert_eq!(delay, 0.0);
                }
                let mut out = Vec::new();
                let mut fed = 0usize;
                for len in [160usize, 1, 7, 1000, 3, 2205] {
                    let chunk = vec![0.1f32; len];
                    r.push(&chunk, &mut out).unwrap();
                    fed += len;
                    let ideal = fed as f64 * f64::from(to) / f64::from(from);
                    let got = out.len() as f64;
                    assert!(got <= ideal + 1e-9, "{from}->{to}: {got} > {ideal}");
                    assert!(got + delay >= ideal, "{from}->{to}: lag exceeds delay");
                }
                r.flush(&mut out).unwrap();
                assert_eq!(
                    out.len(),
                    expected_output_len(fed, from, to),
                    "{from}->{to}"
                );
                assert!(
                    r.delay_seconds() < 0.1,
                    "{from}->{to} delay {}",
                    r.delay_seconds()
                );
            }
        }
    }

    #[test]
    fn one_shot_length_is_rounded_ratio() {
        for n in [0usize, 1, 2, 3, 159, 160, 161, 441, 12_345] {
            for &(from, to) in &[(8_000, 16_000), (22_050, 8_000), (44_100, 48_000)] {
                let out = resample(&vec![0.25; n], from, to).unwrap();
                assert_eq!(out.len(), expected_output_len(n, from, to));
            }
        }
        assert_eq!(expected_output_len(3, 22_050, 8_000), 1);
        assert_eq!(expected_output_len(10, 48_000, 8_000), 2);
    }

    #[test]
    fn resampler_is_reusable_after_flush() {
        let input = tone(16_000, 440.0, 3_000);
        let first = resample(&input, 16_000, 24_000).unwrap();
        let mut r = StreamingResampler::new(16_000, 24_000).unwrap();
        let mut out = Vec::new();
        r.push(&[0.9; 777], &mut out).unwrap();
        r.flush(&mut out).unwrap();
        out.clear();
        r.push(&input, &mut out).unwrap();
        r.flush(&mut out).unwrap();
        assert_eq!(out, first);
    }

    #[test]
    fn passthrough_and_rate_validation() {
        let mut r = StreamingResampler::new(16_000, 16_000).unwrap();
        assert_eq!(
            r.process(&[0.5, f32::NAN, -0.5]).unwrap(),
            vec![0.5, 0.0, -0.5]
        );
        let mut tail = Vec::new();
        assert_eq!(r.flush(&mut tail).unwrap(), 0);
        for bad in [0, 999, 384_001, u32::MAX] {
            assert!(matches!(
                StreamingResampler::new(bad, 16_000),
                Err(ResampleError::UnsupportedRate { rate, .. }) if rate == bad
            ));
            assert!(resample(&[0.0], 16_000, bad).is_err());
        }
    }

    #[test]
    fn non_finite_input_does_not_poison_output() {
        let mut input = tone(8_000, 500.0, 4_000);
        input[1000] = f32::NAN;
        input[2000] = f32::INFINITY;
        let out = resample(&input, 8_000, 16_000).unwrap();
        assert!(out.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn odd_rates_work() {
        let out = resample(&tone(11_025, 440.0, 11_025), 11_025, 16_000).unwrap();
        assert_eq!(out.len(), 16_000);
        let out = resample(&tone(7_919, 440.0, 1_000), 7_919, 8_000).unwrap();
        assert_eq!(out.len(), expected_output_len(1_000, 7_919, 8_000));
    }
}
