//! [`WorkerPool`]: threads owning per-worker state, a bounded two-level
//! priority queue and oneshot answers.
//!
//! Jobs are [`Priority::High`] (finals, files, synthesis: someone is waiting
//! for exactly this answer) or [`Priority::Low`] (partials: a later one
//! replaces it). Workers always take high jobs first. When the queue is full
//! a high job evicts the oldest low one (its handle sees
//! [`PoolError::Lost`], counted as shed), so under load partials thin out
//! while finals keep their place; a low job finding the queue full is
//! refused with [`PoolError::Busy`]. Low jobs run on all workers but one
//! (when there are several): a final never waits for a partial to finish.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::{CancelToken, PoolError};

type Job<S> = Box<dyn FnOnce(&mut S) + Send>;

/// How urgent a job is (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Priority {
    /// Taken first; may evict queued low jobs when the queue is full.
    #[default]
    High,
    /// Taken when no high job waits; shed first under load.
    Low,
}

#[derive(Debug, Default)]
struct Counters {
    queued: AtomicUsize,
    busy: AtomicUsize,
    completed: AtomicUsize,
    skipped: AtomicUsize,
    shed: AtomicUsize,
    /// Microseconds jobs spent queued, and how many, per [`Priority`].
    wait_us: [AtomicU64; 2],
    waits: [AtomicU64; 2],
}

impl Counters {
    fn waited(&self, priority: Priority, wait: std::time::Duration) {
        let i = priority.index();
        let us = u64::try_from(wait.as_micros()).unwrap_or(u64::MAX);
        self.wait_us[i].fetch_add(us, Ordering::Relaxed);
        self.waits[i].fetch_add(1, Ordering::Relaxed);
    }
}

impl Counters {
    fn wait(&self, priority: Priority) -> (f64, u64) {
        let i = priority.index();
        (
            self.wait_us[i].load(Ordering::Relaxed) as f64 / 1e6,
            self.waits[i].load(Ordering::Relaxed),
        )
    }
}

impl Priority {
    fn index(self) -> usize {
        match self {
            Self::High => 0,
            Self::Low => 1,
        }
    }
}

/// The queue proper, behind [`Shared::queue`].
struct Queue<S> {
    high: VecDeque<Job<S>>,
    low: VecDeque<Job<S>>,
    /// Workers waiting for a job.
    idle: usize,
    /// Low jobs running now, and how many may run at once (all but one
    /// worker; every worker once the pool is closing and drains).
    running_low: usize,
    max_low: usize,
    closed: bool,
}

impl<S> Queue<S> {
    fn len(&self) -> usize {
        self.high.len() + self.low.len()
    }

    /// The next job to run, and whether it is a low one.
    fn pop(&mut self) -> Option<(Job<S>, bool)> {
        if let Some(job) = self.high.pop_front() {
            return Some((job, false));
        }
        if self.running_low < self.max_low || self.closed {
            let job = self.low.pop_front()?;
            self.running_low += 1;
            return Some((job, true));
        }
        None
    }
}

struct Shared<S> {
    queue: Mutex<Queue<S>>,
    ready: Condvar,
}

impl<S> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, Queue<S>> {
        // Jobs never run under this lock, so a poisoned one holds consistent data.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}

/// A snapshot of a pool's load.
#[derive(Debug, Clone, Copy, PartialEq)]
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
    /// Low-priority jobs evicted from a full queue by high-priority ones.
    pub shed: usize,
    /// Total seconds high-priority jobs waited in the queue, and how many
    /// jobs that covers (a Prometheus summary's `_sum` and `_count`).
    pub high_wait: (f64, u64),
    /// The same for low-priority jobs.
    pub low_wait: (f64, u64),
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

/// N threads, each owning an `S`, fed by a bounded priority queue.
pub struct WorkerPool<S> {
    name: String,
    shared: Arc<Shared<S>>,
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
    /// `queue_depth` jobs wait (beyond those an idle worker takes at once);
    /// more fail with [`PoolError::Busy`].
    pub fn new<E>(
        name: &str,
        workers: usize,
        queue_depth: usize,
        mut factory: impl FnMut(usize) -> Result<S, E>,
    ) -> Result<Self, E> {
        let states = (0..workers.max(1))
            .map(&mut factory)
            .collect::<Result<Vec<S>, E>>()?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                high: VecDeque::new(),
                low: VecDeque::new(),
                idle: 0,
                running_low: 0,
                max_low: workers.max(2) - 1,
                closed: false,
            }),
            ready: Condvar::new(),
        });
        let counters = Arc::new(Counters::default());
        let threads = states
            .into_iter()
            .enumerate()
            .map(|(i, state)| {
                let shared = Arc::clone(&shared);
                let counters = Arc::clone(&counters);
                std::thread::Builder::new()
                    .name(format!("{name}-{i}"))
                    .spawn(move || worker_loop(state, &shared, &counters))
                    .unwrap_or_else(|e| panic!("cannot spawn {name} worker: {e}"))
            })
            .collect();
        Ok(Self {
            name: name.to_string(),
            shared,
            threads,
            counters,
            queue_depth,
        })
    }

    /// Queues `job` at [`Priority::High`] without blocking. It runs on some
    /// worker's state with a [`JobContext`]; its return value answers the
    /// handle.
    pub fn try_submit<T, F>(&self, job: F) -> Result<JobHandle<T>, PoolError>
    where
        T: Send + 'static,
        F: FnOnce(&mut S, &JobContext<'_>) -> T + Send + 'static,
    {
        self.try_submit_with(Priority::High, job)
    }

    /// Queues `job` at `priority` without blocking (see the module docs for
    /// what a full queue does).
    pub fn try_submit_with<T, F>(
        &self,
        priority: Priority,
        job: F,
    ) -> Result<JobHandle<T>, PoolError>
    where
        T: Send + 'static,
        F: FnOnce(&mut S, &JobContext<'_>) -> T + Send + 'static,
    {
        let (reply, rx) = oneshot::channel::<T>();
        let cancel = CancelToken::new();
        let token = cancel.clone();
        let counters = Arc::clone(&self.counters);
        let queued_at = std::time::Instant::now();
        let boxed: Job<S> = Box::new(move |state: &mut S| {
            counters.waited(priority, queued_at.elapsed());
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
        let evicted = {
            let mut queue = self.shared.lock();
            if queue.closed {
                return Err(PoolError::ShutDown(self.name.clone()));
            }
            let capacity = self.queue_depth + queue.idle.saturating_sub(queue.len());
            let mut evicted = None;
            if queue.len() >= capacity {
                if priority == Priority::High && !queue.low.is_empty() {
                    evicted = queue.low.pop_front();
                } else {
                    return Err(PoolError::Busy {
                        pool: self.name.clone(),
                        queue_depth: self.queue_depth,
                    });
                }
            }
            match priority {
                Priority::High => queue.high.push_back(boxed),
                Priority::Low => queue.low.push_back(boxed),
            }
            if evicted.is_none() {
                self.counters.queued.fetch_add(1, Ordering::Relaxed);
            }
            evicted
        };
        self.shared.ready.notify_one();
        if evicted.is_some() {
            self.counters.shed.fetch_add(1, Ordering::Relaxed);
        }
        // Dropped outside the lock: its reply sender goes, its handle sees `Lost`.
        drop(evicted);
        Ok(JobHandle { rx, cancel })
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
            shed: self.counters.shed.load(Ordering::Relaxed),
            high_wait: self.counters.wait(Priority::High),
            low_wait: self.counters.wait(Priority::Low),
        }
    }

    /// Pool name (thread-name prefix).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Stops accepting jobs, lets the queued ones finish and joins the
    /// threads (blocking). Dropping the pool does the same without waiting.
    pub fn shutdown(mut self) {
        self.shared.close();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl<S> Drop for WorkerPool<S> {
    fn drop(&mut self) {
        self.shared.close();
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

/// The next job, high before low (a low one only while fewer than
/// `max_low` run), after the caller's previous job, low when `finished_low`,
/// is counted out; `None` once the pool is closed and the queue has drained.
fn next_job<S>(shared: &Shared<S>, finished_low: bool) -> Option<(Job<S>, bool)> {
    let mut queue = shared.lock();
    if finished_low {
        queue.running_low -= 1;
        if !queue.low.is_empty() && queue.idle > 0 {
            // A waiting worker may take a low job now.
            shared.ready.notify_one();
        }
    }
    loop {
        if let Some(job) = queue.pop() {
            return Some(job);
        }
        if queue.closed {
            return None;
        }
        queue.idle += 1;
        queue = shared.ready.wait(queue).unwrap_or_else(|p| p.into_inner());
        queue.idle -= 1;
    }
}

fn worker_loop<S>(mut state: S, shared: &Shared<S>, counters: &Counters) {
    let mut finished_low = false;
    loop {
        let Some((job, low)) = next_job(shared, finished_low) else {
            return; // pool closed and drained
        };
        finished_low = low;
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

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    /// A pool of one worker recording the order jobs ran in, blocked until
    /// the returned sender fires.
    fn blocked_pool(depth: usize) -> (WorkerPool<Vec<&'static str>>, mpsc::Sender<()>) {
        let pool = WorkerPool::new("test", 1, depth, |_| Ok::<_, ()>(Vec::new())).unwrap();
        let (go, wait) = mpsc::channel::<()>();
        let (started, running) = mpsc::channel::<()>();
        let blocker = pool
            .try_submit(move |_, _| {
                started.send(()).unwrap();
                wait.recv().unwrap();
            })
            .unwrap();
        running.recv().unwrap();
        // The blocker's handle is waited on elsewhere so it stays alive.
        std::thread::spawn(move || blocker.wait());
        (pool, go)
    }

    fn record(
        pool: &WorkerPool<Vec<&'static str>>,
        priority: Priority,
        name: &'static str,
    ) -> Result<JobHandle<Vec<&'static str>>, PoolError> {
        pool.try_submit_with(priority, move |order, _| {
            order.push(name);
            order.clone()
        })
    }

    #[test]
    fn high_jobs_run_first_and_evict_low_ones_when_full() {
        let (pool, go) = blocked_pool(2);
        let low_1 = record(&pool, Priority::Low, "low 1").unwrap();
        let low_2 = record(&pool, Priority::Low, "low 2").unwrap();
        // Full: a low job is refused, a high one evicts the oldest low job.
        assert!(matches!(
            record(&pool, Priority::Low, "low 3"),
            Err(PoolError::Busy { .. })
        ));
        let high = record(&pool, Priority::High, "high").unwrap();
        assert_eq!(pool.stats().shed, 1);
        assert_eq!(pool.stats().queued, 2);
        go.send(()).unwrap();
        assert!(matches!(low_1.wait(), Err(PoolError::Lost)));
        assert_eq!(high.wait().unwrap(), vec!["high"]);
        assert_eq!(low_2.wait().unwrap(), vec!["high", "low 2"]);
        // Full of high jobs: another high job is busy, nothing is evicted.
        let (pool, go) = blocked_pool(1);
        let first = record(&pool, Priority::High, "a").unwrap();
        assert!(matches!(
            record(&pool, Priority::High, "b"),
            Err(PoolError::Busy { .. })
        ));
        go.send(()).unwrap();
        assert_eq!(first.wait().unwrap(), vec!["a"]);
    }

    #[test]
    fn one_worker_is_kept_for_high_jobs() {
        let pool = WorkerPool::new("test", 2, 4, |_| Ok::<_, ()>(())).unwrap();
        let (started_tx, started) = mpsc::channel();
        let (go, wait) = mpsc::channel::<()>();
        let first = pool
            .try_submit_with(Priority::Low, move |_, _| {
                started_tx.send(()).unwrap();
                wait.recv().unwrap();
                "low 1"
            })
            .unwrap();
        started.recv().unwrap();
        let second = pool.try_submit_with(Priority::Low, |_, _| "low 2").unwrap();
        // The other worker is idle, but kept for high jobs: the second low
        // job waits, a high one runs at once.
        let high = pool.try_submit_with(Priority::High, |_, _| "high").unwrap();
        assert_eq!(high.wait().unwrap(), "high");
        assert_eq!(pool.stats().queued, 1);
        go.send(()).unwrap();
        assert_eq!(first.wait().unwrap(), "low 1");
        assert_eq!(second.wait().unwrap(), "low 2");
        pool.shutdown();
    }

    #[test]
    fn an_idle_worker_takes_a_job_even_with_no_queue() {
        let pool = WorkerPool::new("test", 1, 0, |_| Ok::<_, ()>(0u32)).unwrap();
        // Wait until the worker is parked on the queue.
        while pool.shared.lock().idle == 0 {
            std::thread::yield_now();
        }
        let job = pool.try_submit(|n, _| *n + 1).unwrap();
        assert_eq!(job.wait().unwrap(), 1);
        pool.shutdown();
    }
}
