//! The ledger as billing sees it: usage writes that are retried, a health
//! flag that closes the door to new billable work while the ledger cannot
//! be written, and writes from `Drop` that never block the async runtime.
//!
//! Usage fails closed. A write that fails with a storage error is retried
//! [`WRITE_ATTEMPTS`] times with a doubling backoff from [`FIRST_BACKOFF`],
//! on the calling (blocking) thread. When every attempt fails, the ledger is
//! marked unavailable: admission ([`Ledger::ensure_writable`]) refuses new
//! billable work with `503 ledger_unavailable` until a write succeeds again —
//! the next usage write, or the probe write admission itself makes (at most
//! one per [`PROBE_INTERVAL`]).
//!
//! A meter dropped without a commit is written on the blocking pool through
//! the server's task tracker, which shutdown waits for, so the row is on
//! disk before the process exits. Without a runtime, or once the tracker has
//! drained, the write runs inline (the caller is then not a runtime worker).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::task::TaskTracker;

use crate::error::ApiError;
use crate::store::ledger::{Checkpointed, UsageRecord};
use crate::store::{SharedStorage, StoreError};

/// Attempts at one usage write before the ledger is marked unavailable.
pub const WRITE_ATTEMPTS: u32 = 4;
/// Wait after the first failed attempt; doubled after each further one
/// (20 + 40 + 80 ms at most in all).
pub const FIRST_BACKOFF: Duration = Duration::from_millis(20);
/// Shortest time between two probe writes while the ledger is unavailable.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(500);

/// The usage ledger with retries and a health flag; cheap to clone.
#[derive(Clone)]
pub struct Ledger {
    store: SharedStorage,
    tasks: TaskTracker,
    health: Arc<Health>,
}

struct Health {
    writable: AtomicBool,
    /// Shortest time between two probes ([`PROBE_INTERVAL`]).
    probe_interval: Duration,
    /// When the last probe ran, ms since `epoch`.
    last_probe_ms: AtomicU64,
    epoch: Instant,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("writable", &self.is_writable())
            .finish_non_exhaustive()
    }
}

/// Whether another attempt may succeed: storage failures (disk full, I/O,
/// locks) may pass; a refused duplicate or an unknown tenant will not.
fn retryable(error: &StoreError) -> bool {
    matches!(
        error,
        StoreError::Sqlite(_)
            | StoreError::Task(_)
            | StoreError::Open { .. }
            | StoreError::Postgres(_)
            | StoreError::Unavailable(_)
    )
}

impl Ledger {
    /// The ledger over `store`; detached writes are tracked by `tasks`.
    pub fn new(store: SharedStorage, tasks: TaskTracker) -> Self {
        Self {
            store,
            tasks,
            health: Arc::new(Health {
                writable: AtomicBool::new(true),
                probe_interval: PROBE_INTERVAL,
                last_probe_ms: AtomicU64::new(0),
                epoch: Instant::now(),
            }),
        }
    }

    /// The same ledger probing as often as asked (tests).
    #[cfg(test)]
    pub(crate) fn probing_every(mut self, interval: Duration) -> Self {
        if let Some(health) = Arc::get_mut(&mut self.health) {
            health.probe_interval = interval;
        }
        self
    }

    /// The storage underneath.
    pub fn store(&self) -> &SharedStorage {
        &self.store
    }

    /// Whether the last write succeeded.
    pub fn is_writable(&self) -> bool {
        self.health.writable.load(Ordering::Acquire)
    }

    fn set_writable(&self, writable: bool) {
        let was = self.health.writable.swap(writable, Ordering::AcqRel);
        if was != writable {
            if writable {
                tracing::info!("the usage ledger is writable again; accepting billable work");
            } else {
                tracing::error!("the usage ledger cannot be written; refusing billable work");
            }
        }
    }

    /// Runs a write with retries, on the calling thread (a blocking one).
    fn write<T>(
        &self,
        session_id: &str,
        op: impl Fn() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            match op() {
                Ok(value) => {
                    self.set_writable(true);
                    return Ok(value);
                }
                Err(error) if !retryable(&error) => return Err(error),
                Err(error) if attempt >= WRITE_ATTEMPTS => {
                    tracing::error!(%session_id, %error, attempts = attempt, "usage write failed");
                    self.set_writable(false);
                    return Err(error);
                }
                Err(error) => {
                    tracing::warn!(%session_id, %error, attempt, "usage write failed; retrying");
                    std::thread::sleep(backoff);
                    backoff *= 2;
                    attempt += 1;
                }
            }
        }
    }

    /// Writes a session's final row (blocking; retried); the tenant's new
    /// balance in micro-dollars.
    pub fn record_blocking(&self, record: &UsageRecord) -> Result<Option<i64>, StoreError> {
        self.write(&record.session_id, || self.store.record_usage(record))
    }

    /// Writes a live session's open row (blocking; retried).
    pub fn checkpoint_blocking(&self, record: &UsageRecord) -> Result<Checkpointed, StoreError> {
        self.write(&record.session_id, || self.store.checkpoint_usage(record))
    }

    /// Writes a final row without waiting for it: on the blocking pool,
    /// tracked so shutdown waits for it (see the module docs).
    pub fn record_detached(&self, record: UsageRecord) {
        let ledger = self.clone();
        let write = move || {
            if let Err(error) = ledger.record_blocking(&record) {
                tracing::error!(session_id = %record.session_id, %error, "cannot record usage");
            }
        };
        let drained = self.tasks.is_closed() && self.tasks.is_empty();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) if !drained => drop(self.tasks.spawn_blocking_on(write, &runtime)),
            _ => write(),
        }
    }

    /// Admission's check: `Ok` while the ledger is writable; otherwise a
    /// probe write (at most one per [`PROBE_INTERVAL`]) decides, and until
    /// one succeeds new billable work is refused with
    /// [`ApiError::LedgerUnavailable`].
    pub async fn ensure_writable(&self) -> Result<(), ApiError> {
        if self.is_writable() {
            return Ok(());
        }
        let now_ms = self.health.epoch.elapsed().as_millis() as u64;
        let last = self.health.last_probe_ms.load(Ordering::Acquire);
        let interval = self.health.probe_interval.as_millis() as u64;
        let due = last == 0 || now_ms.saturating_sub(last) >= interval;
        if due
            && self
                .health
                .last_probe_ms
                .compare_exchange(last, now_ms.max(1), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            let store = self.store.clone();
            let probed = tokio::task::spawn_blocking(move || store.probe_write())
                .await
                .unwrap_or_else(|e| Err(StoreError::Task(e.to_string())));
            match probed {
                Ok(()) => self.set_writable(true),
                Err(error) => tracing::warn!(%error, "the usage ledger is still not writable"),
            }
        }
        if self.is_writable() {
            Ok(())
        } else {
            Err(ApiError::LedgerUnavailable(
                "usage cannot be recorded at the moment, so no billable work is accepted; \
                 retry shortly"
                    .into(),
            ))
        }
    }
}
