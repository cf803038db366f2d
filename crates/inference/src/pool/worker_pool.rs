//! [`WorkerPool`]: threads owning per-worker state, a bounded queue and
//! oneshot answers.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::{CancelToken, PoolError};

type Job<S> = Box<dyn FnOnce(&mut S) + Send>;

#[derive(Debug, Default)]
struct Counters {
    queued: AtomicUsize,
    busy: AtomicUsize,
    completed: AtomicUsize,
    skipped: AtomicUsize,
}

/// A snapshot of a pool's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Worker threads.
    pub workers: usize,
    /// Workers running a job now.
    pub busy: usize,
    /// Jobs waiting in the queue.
    pub queued: usize,
    /// Queue capacity.
    pub queue_depth: usize,
    /// Jobs finished (answered or cancelled while running).
    pub completed: usize,
    /// Jobs skipped because they were cancelled while queued.
    pub skipped: usize,
}

/// What a running job can ask about itself.
pub struct JobContext<'a> {
    cancel: &'a CancelToken,
    closed: &'a (dyn Fn() -> bool + Sync),
}

impl JobContext<'_> {
    /// Whether the submitter cancelled the job or dropped its handle. Long
    /// jobs should poll this and stop early.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled() || (self.closed)()
    }
}

/// The answer to one submitted job. `.await` it (any async runtime), or
/// [`wait`](Self::wait) from a plain thread. Dropping it cancels the job.
#[derive(Debug)]
pub struct JobHandle<T> {
    rx: oneshot::Receiver<T>,
    cancel: CancelToken,
}

impl<T> JobHandle<T> {
    /// Cancels the job (also happens when the handle is dropped).
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// A token that cancels this job when triggered.
    pub fn cancel_token(&self) -> CancelToken {
        self.cancel.clone()
    }

    /// Blocks the current thread until the answer arrives. Do not call from
    /// async code (tokio panics); `.await` the handle there.
    pub fn wait(self) -> Result<T, PoolError> {
        self.rx.blocking_recv().map_err(|_| PoolError::Lost)
    }
}

impl<T> Future for JobHandle<T> {
    type Output = Result<T, PoolError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.map_err(|_| PoolError::Lost))
    }
}

/// N threads, each owning an `S`, fed by a bounded queue.
pub struct WorkerPool<S> {
    name: String,
    tx: Option<SyncSender<Job<S>>>,
    threads: Vec<JoinHandle<()>>,
    counters: Arc<Counters>,
    queue_depth: usize,
}

impl<S> std::fmt::Debug for WorkerPool<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerPool")
            .field("name", &self.name)
            .field("stats", &self.stats())
            .finish()
    }
}

impl<S: Send + 'static> WorkerPool<S> {
    /// Builds `workers` states with `factory(index)` on the calling thread
    /// (so errors surface here), then starts one thread per state. At most
    /// `queue_depth` jobs wait; more fail with [`PoolError::Busy`].
    pub fn new<E>(
        name: &str,
        workers: usize,
        queue_depth: usize,
        mut factory: impl FnMut(usize) -> Result<S, E>,
    ) -> Result<Self, E> {
        let states = (0..workers.max(1))
            .map(&mut factory)
            .collect::<Result<Vec<S>, E>>()?;
        let (tx, rx) = sync_channel::<Job<S>>(queue_depth);
        let rx = Arc::new(Mutex::new(rx));
        let counters = Arc::new(Counters::default());
        let threads = states
            .into_iter()
            .enumerate()
            .map(|(i, state)| {
                let rx = Arc::clone(&rx);
                let counters = Arc::clone(&counters);
                std::thread::Builder::new()
                    .name(format!("{name}-{i}"))
                    .spawn(move || worker_loop(state, &rx, &counters))
                    .unwrap_or_else(|e| panic!("cannot spawn {name} worker: {e}"))
            })
            .collect();
        Ok(Self {
            name: name.to_string(),
            tx: Some(tx),
            threads,
            counters,
            queue_depth,
        })
    }

    /// Queues `job` without blocking. It runs on some worker's state with a
    /// [`JobContext`]; its return value answers the handle.
    pub fn try_submit<T, F>(&self, job: F) -> Result<JobHandle<T>, PoolError>
    where
        T: Send + 'static,
        F: FnOnce(&mut S, &JobContext<'_>) -> T + Send + 'static,
    {
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| PoolError::ShutDown(self.name.clone()))?;
        let (reply, rx) = oneshot::channel::<T>();
        let cancel = CancelToken::new();
        let token = cancel.clone();
        let counters = Arc::clone(&self.counters);
        let boxed: Job<S> = Box::new(move |state: &mut S| {
            let closed = || reply.is_closed();
            let ctx = JobContext {
                cancel: &token,
                closed: &closed,
            };
            if ctx.is_cancelled() {
                counters.skipped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let out = {
                let _busy = BusyGuard::enter(&counters);
                job(state, &ctx)
            };
            let _ = reply.send(out);
        });
        self.counters.queued.fetch_add(1, Ordering::Relaxed);
        match tx.try_send(boxed) {
            Ok(()) => Ok(JobHandle { rx, cancel }),
            Err(e) => {
                self.counters.queued.fetch_sub(1, Ordering::Relaxed);
                Err(match e {
                    TrySendError::Full(_) => PoolError::Busy {
                        pool: self.name.clone(),
                        queue_depth: self.queue_depth,
                    },
                    TrySendError::Disconnected(_) => PoolError::ShutDown(self.name.clone()),
                })
            }
        }
    }
}

impl<S> WorkerPool<S> {
    /// Current load.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            workers: self.threads.len(),
            busy: self.counters.busy.load(Ordering::Relaxed),
            queued: self.counters.queued.load(Ordering::Relaxed),
            queue_depth: self.queue_depth,
            completed: self.counters.completed.load(Ordering::Relaxed),
            skipped: self.counters.skipped.load(Ordering::Relaxed),
        }
    }

    /// Pool name (thread-name prefix).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Stops accepting jobs, lets the queued ones finish and joins the
    /// threads (blocking). Dropping the pool does the same without waiting.
    pub fn shutdown(mut self) {
        self.tx = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Counts a running job; drop (also on panic) marks it finished.
struct BusyGuard<'a>(&'a Counters);

impl<'a> BusyGuard<'a> {
    fn enter(counters: &'a Counters) -> Self {
        counters.busy.fetch_add(1, Ordering::Relaxed);
        Self(counters)
    }
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
        self.0.completed.fetch_add(1, Ordering::Relaxed);
    }
}

fn worker_loop<S>(mut state: S, rx: &Mutex<Receiver<Job<S>>>, counters: &Counters) {
    loop {
        let job = {
            let rx = rx.lock().unwrap_or_else(|p| p.into_inner());
            rx.recv()
        };
        let Ok(job) = job else {
            return; // pool dropped
        };
        counters.queued.fetch_sub(1, Ordering::Relaxed);
        if catch_unwind(AssertUnwindSafe(|| job(&mut state))).is_err() {
            // The job's reply sender was dropped, so its handle sees `Lost`.
            tracing::error!(
                thread = std::thread::current().name().unwrap_or("?"),
                "pool job panicked"
            );
        }
    }
}
