//! Worker pools: a fixed set of threads, each owning its own engine state,
//! fed through a bounded queue.
//!
//! * [`WorkerPool<S>`] is generic: a factory builds one `S` per worker (an
//!   [`SttWorker`](crate::stt::SttWorker) with its own `WhisperState`, a
//!   [`PiperVoice`](crate::tts::PiperVoice) with its own ORT session...)
//!   and jobs are closures run on some worker's `&mut S`.
//! * [`WorkerPool::try_submit`] never blocks and never queues unboundedly:
//!   a full queue is an immediate [`PoolError::Busy`].
//! * Each job answers on a oneshot channel wrapped in a [`JobHandle`] that can
//!   be `.await`ed (runtime-agnostic) or [`JobHandle::wait`]ed on. Dropping
//!   the handle (or [`JobHandle::cancel`]) cancels the job: a queued job is
//!   skipped, a running one sees [`JobContext::is_cancelled`] — for Whisper
//!   through its abort callback, within milliseconds — and frees its worker.
//! * [`SttPool`] and [`tts_pool`] build the two pools Vocalis runs from a
//!   [`PoolConfig`].

mod cancel;
mod config;
mod error;
mod stt_pool;
mod worker_pool;

pub use cancel::CancelToken;
pub use config::PoolConfig;
pub use error::PoolError;
pub use stt_pool::{tts_intra_threads, tts_pool, SttPool, TtsPool};
pub use worker_pool::{JobContext, JobHandle, PoolStats, Priority, WorkerPool};
