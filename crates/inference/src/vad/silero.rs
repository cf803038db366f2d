//! The Silero VAD network: session, per-stream state and one-window inference.
//!
//! Silero v5/v6 take `input` `[1, 64 + 512]` (the last 64 samples of the
//! previous window followed by the new 512-sample window), `state`
//! `[2, 1, 128]` and `sr` (int64 sample rate), and return `output` `[1, 1]`
//! (speech probability) and `stateN` (the next state). The names are checked
//! at load time so a v4 model (separate `h`/`c` inputs) is refused clearly.
//!
//! ONNX Runtime needs exclusive access to a session per run, so the model
//! holds a small set of sessions (one per core) and each run takes whichever
//! is free: live streams on different threads never queue behind one
//! process-wide lock.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};

use ort::session::Session;
use ort::value::TensorRef;

use super::{VadError, FRAME_SAMPLES, SAMPLE_RATE};
use crate::runtime::{build_session, SessionOptions};

/// Context samples prepended to every window at 16 kHz.
const CONTEXT_SAMPLES: usize = 64;
/// Steps run per session lock in `SileroModel::run_rows`, about 1 s of
/// audio per row: a long file never stalls live streams sharing the model.
const LOCK_BATCH: usize = 32;
/// LSTM state size: `[2, 1, 128]`.
const STATE_LEN: usize = 2 * 128;

/// A loaded Silero VAD model. `Send + Sync`: share it (in an `Arc`) between
/// streams, each with its own [`SileroState`].
pub struct SileroModel {
    sessions: Vec<Mutex<Session>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for SileroModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SileroModel").finish_non_exhaustive()
    }
}

/// Recurrent state of one audio stream.
#[derive(Debug, Clone)]
pub struct SileroState {
    state: Vec<f32>,
    /// Previous context followed by the current window (reused buffer).
    input: Vec<f32>,
}

impl Default for SileroState {
    fn default() -> Self {
        Self {
            state: vec![0.0; STATE_LEN],
            input: vec![0.0; CONTEXT_SAMPLES + FRAME_SAMPLES],
        }
    }
}

impl SileroState {
    /// Forgets everything heard so far (as if the stream had just started).
    pub fn reset(&mut self) {
        self.state.fill(0.0);
        self.input.fill(0.0);
    }
}

impl SileroModel {
    /// Loads `silero_vad.onnx`. ONNX Runtime must already be initialised
    /// ([`crate::runtime::init`]); one session per core (2–16), each with one
    /// intra-op thread.
    pub fn load(path: &Path) -> Result<Self, VadError> {
        if !path.is_file() {
            return Err(VadError::ModelMissing {
                path: path.to_path_buf(),
            });
        }
        let options = SessionOptions {
            intra_threads: 1,
            ..SessionOptions::default()
        };
        let session = build_session(path, &options)?;
        let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
        for name in ["input", "state", "sr"] {
            if !inputs.contains(&name) {
                return Err(VadError::UnsupportedModel(format!(
                    "missing input {name:?} (inputs: {inputs:?})"
                )));
            }
        }
        if outputs.len() < 2 {
            return Err(VadError::UnsupportedModel(format!(
                "expected probability and state outputs, got {outputs:?}"
            )));
        }
        let count = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 16));
        let mut sessions = vec![Mutex::new(session)];
        for _ in 1..count {
            sessions.push(Mutex::new(build_session(path, &options)?));
        }
        tracing::info!(model = %path.display(), sessions = count, "Silero VAD loaded");
        Ok(Self {
            sessions,
            next: AtomicUsize::new(0),
        })
    }

    /// A free session, or (all busy) the next one in turn.
    fn session(&self) -> MutexGuard<'_, Session> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.sessions.len();
        for i in 0..n {
            match self.sessions[(start + i) % n].try_lock() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.sessions[start % n]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Speech probability of one 512-sample window, advancing `state`.
    pub fn probability(&self, state: &mut SileroState, window: &[f32]) -> Result<f32, VadError> {
        let mut session = self.session();
        Self::run(&mut session, state, window)
    }

    /// Advances `firsts.len()` independent streams in lockstep, as one ONNX
    /// batch per step: stream `r` starts from a fresh state at window
    /// `firsts[r]` and runs `steps` windows, its probabilities appended to
    /// `out[r]`. Window `w` is `audio[w * 512..]`, behind the 64 samples
    /// before it as context (zeros before the start and past the end). The
    /// session lock is taken per `LOCK_BATCH` steps.
    pub(super) fn run_rows(
        &self,
        audio: &[f32],
        firsts: &[usize],
        steps: usize,
        out: &mut [Vec<f32>],
    ) -> Result<(), VadError> {
        let rows = firsts.len();
        let width = CONTEXT_SAMPLES + FRAME_SAMPLES;
        let mut input = vec![0.0f32; rows * width];
        let mut state = vec![0.0f32; 2 * rows * 128];
        let sr = [i64::from(SAMPLE_RATE)];
        let mut step = 0;
        while step < steps {
            let mut session = self.session();
            for _ in 0..LOCK_BATCH.min(steps - step) {
                for (r, first) in firsts.iter().enumerate() {
                    window_input(audio, first + step, &mut input[r * width..(r + 1) * width]);
                }
                let outputs = session.run(ort::inputs![
                    "input" => TensorRef::from_array_view(([rows, width], &input[..]))?,
                    "state" => TensorRef::from_array_view(([2usize, rows, 128], &state[..]))?,
                    "sr" => TensorRef::from_array_view(([1usize], &sr[..]))?,
                ])?;
                let (_, probs) = outputs[0].try_extract_tensor::<f32>()?;
                let (_, next) = outputs[1].try_extract_tensor::<f32>()?;
                if probs.len() != rows || next.len() != state.len() {
                    return Err(VadError::UnsupportedModel(format!(
                        "a batch of {rows} gave {} probabilities",
                        probs.len()
                    )));
                }
                state.copy_from_slice(next);
                for (row, p) in out.iter_mut().zip(probs) {
                    row.push(*p);
                }
                step += 1;
            }
        }
        Ok(())
    }

    fn run(
        session: &mut Session,
        state: &mut SileroState,
        window: &[f32],
    ) -> Result<f32, VadError> {
        debug_assert_eq!(window.len(), FRAME_SAMPLES);
        // input = [context (last 64 samples of the previous input) | window]
        state
            .input
            .copy_within(FRAME_SAMPLES..FRAME_SAMPLES + CONTEXT_SAMPLES, 0);
        state.input[CONTEXT_SAMPLES..].copy_from_slice(window);
        let sr = [i64::from(SAMPLE_RATE)];
        let outputs = session.run(ort::inputs![
            "input" => TensorRef::from_array_view(([1usize, state.input.len()], &state.input[..]))?,
            "state" => TensorRef::from_array_view(([2usize, 1, 128], &state.state[..]))?,
            "sr" => TensorRef::from_array_view(([1usize], &sr[..]))?,
        ])?;
        let (_, prob) = outputs[0].try_extract_tensor::<f32>()?;
        let (_, next) = outputs[1].try_extract_tensor::<f32>()?;
        if next.len() == STATE_LEN {
            state.state.copy_from_slice(next);
        }
        Ok(prob.first().copied().unwrap_or(0.0))
    }
}

/// Fills `input` (64 + 512 samples) with window `w` of `audio` behind its 64
/// samples of context, zeros where the audio does not reach.
fn window_input(audio: &[f32], w: usize, input: &mut [f32]) {
    input.fill(0.0);
    let end = (w + 1) * FRAME_SAMPLES;
    let Some(start) = (w * FRAME_SAMPLES).checked_sub(CONTEXT_SAMPLES) else {
        // Window 0: zero context.
        let have = end.min(audio.len());
        input[CONTEXT_SAMPLES..CONTEXT_SAMPLES + have].copy_from_slice(&audio[..have]);
        return;
    };
    if start < audio.len() {
        let have = end.min(audio.len()) - start;
        input[..have].copy_from_slice(&audio[start..start + have]);
    }
}
