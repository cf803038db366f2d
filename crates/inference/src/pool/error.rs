//! Errors raised by the worker pools.

/// Why a job could not be run or answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// The queue is full; try again later (HTTP 503 / retry-after).
    #[error("{pool} pool busy: {queue_depth} job(s) already queued")]
    Busy {
        /// Pool name.
        pool: String,
        /// Its queue capacity.
        queue_depth: usize,
    },
    /// The pool is shutting down.
    #[error("{0} pool is shut down")]
    ShutDown(String),
    /// The job was cancelled before it produced a result, or its worker
    /// panicked.
    #[error("job cancelled or its worker failed")]
    Lost,
    /// Invalid pool configuration.
    #[error("invalid pool config: {0}")]
    InvalidConfig(String),
}
