//! [`PoolConfig`]: how many workers, threads and queue slots.

use super::PoolError;
use crate::streaming::FINAL_BEAM_SIZE;

/// Sizing of the STT and TTS pools.
///
/// Defaults suit a small (2-core) box: two single-threaded STT workers,
/// measured against one worker with two threads (`examples/pool_bench.rs`,
/// tiny.en, 8 concurrent clips; details in `AUDIO_CTX.md`):
///
/// * idle machine: same throughput (≈43× real time); 1 × 2 has lower
///   single-request latency (0.21 s vs 0.34 s median);
/// * one other busy process: 1 × 2 collapses to 6× real time (ggml's worker
///   threads spin-wait on each other) while 2 × 1 keeps 30×;
/// * 2 × 1 also keeps one worker free for streaming partials while a long
///   file is being transcribed.
///
/// Keep `stt_workers × threads_per_worker` at or below the core count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// STT worker threads (each owns one Whisper state).
    pub stt_workers: usize,
    /// whisper.cpp threads per STT job.
    pub threads_per_worker: usize,
    /// TTS worker threads (each owns one voice session).
    pub tts_workers: usize,
    /// Jobs that may wait per pool before submissions fail with
    /// [`PoolError::Busy`].
    pub queue_depth: usize,
    /// Widest beam a live final may get ([`SttPool::fit_to_load`]; 1: live
    /// finals always decode greedily). Default: the width the recogniser
    /// asks for, [`FINAL_BEAM_SIZE`].
    ///
    /// [`SttPool::fit_to_load`]: super::SttPool::fit_to_load
    pub live_final_beam: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            stt_workers: 2,
            threads_per_worker: 1,
            tts_workers: 1,
            queue_depth: 16,
            live_final_beam: FINAL_BEAM_SIZE,
        }
    }
}

impl PoolConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<(), PoolError> {
        let bad = |m: &str| Err(PoolError::InvalidConfig(m.into()));
        if self.stt_workers == 0 || self.stt_workers > 64 {
            return bad("stt_workers must be within 1–64");
        }
        if self.threads_per_worker == 0 || self.threads_per_worker > 64 {
            return bad("threads_per_worker must be within 1–64");
        }
        if self.tts_workers > 64 {
            return bad("tts_workers must be within 0–64");
        }
        if self.live_final_beam == 0 || self.live_final_beam > 16 {
            return bad("live_final_beam must be within 1–16");
        }
        if self.queue_depth > 100_000 {
            return bad("queue_depth must be at most 100000");
        }
        Ok(())
    }
}
