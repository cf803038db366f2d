//! The PostgreSQL backend of [`Storage`]: one database shared by any number
//! of stateless replicas (tenants, keys, credit and the usage ledger).
//!
//! The driver is the synchronous `postgres` crate behind an r2d2 pool, like
//! the SQLite store: every method blocks and is called from
//! `spawn_blocking`. The pool reconnects by itself: a connection is tested
//! before it is handed out, broken ones are dropped, and while the database
//! is down new connections are retried in the background (backoff up to
//! [`CONNECT_TIMEOUT`] / 2). A request waits at most [`READ_TIMEOUT`] (auth,
//! tenants, `/v1/usage`) or [`WRITE_TIMEOUT`] (usage writes, which the
//! billing ledger retries on top) for a connection, then fails with
//! [`StoreError::Unavailable`] — answered 503, never served unmetered.
//!
//! Guarantees, the same as SQLite's: a usage write and its debit are one
//! transaction; the usage row of a session is locked (`FOR UPDATE`) while
//! it is updated and `session_id` is unique, so a session has one row; the
//! debit is one atomic `UPDATE … SET credit_micros = credit_micros - $2`, so
//! two replicas debiting one tenant at once never lose a debit; keys are read
//! from the database on every check (no cache), so a revocation holds on
//! every replica from the next request.
//!
//! # Layout
//! - [`schema`]: versioned migrations (applied at start-up under an
//!   advisory lock; a newer schema is refused).
//! - [`queries`]: tenants and keys.
//! - [`ledger`]: usage writes, pages and totals, the probe write.

pub mod ledger;
pub mod queries;
pub mod schema;

use std::str::FromStr as _;
use std::time::Duration;

use ::postgres::{Config, NoTls};
use r2d2_postgres::PostgresConnectionManager;

use super::backend::Admin;
use super::tenants::{PriceOverride, Tenant};
use super::{keys, ledger as sqlite_ledger, report, Storage, StoreError};

type Manager = PostgresConnectionManager<NoTls>;
type Conn = r2d2::PooledConnection<Manager>;

/// Connections per replica.
pub const POOL_SIZE: u32 = 16;
/// Connections kept open while idle.
pub const MIN_IDLE: u32 = 2;
/// TCP connect timeout of one connection attempt; the pool's retry backoff
/// is capped at half of it.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest wait for a connection for a read (auth, tenants, usage pages).
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest wait for a connection for a usage write; the billing ledger
/// retries a failed write ([`crate::billing::ledger::WRITE_ATTEMPTS`]), so a
/// database restart of a few seconds delays a checkpoint, it does not fail it.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for the database at start-up (migrations).
pub const START_TIMEOUT: Duration = Duration::from_secs(15);
/// `statement_timeout` of every connection, unless the URL sets `options`.
pub const STATEMENT_TIMEOUT_MS: u64 = 10_000;

/// The PostgreSQL store: a pool of connections to one database.
pub struct PgStore {
    /// `None` only while being dropped (see `Drop`).
    pool: Option<r2d2::Pool<Manager>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

/// Logs the pool's failed connection attempts (never the URL).
#[derive(Debug)]
struct LogErrors;

impl r2d2::HandleError<::postgres::Error> for LogErrors {
    fn handle_error(&self, error: ::postgres::Error) {
        tracing::warn!(%error, "cannot connect to PostgreSQL; retrying");
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/db`), waits up
    /// to [`START_TIMEOUT`] for the database, and migrates it.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let mut config = Config::from_str(url)
            .map_err(|e| StoreError::InvalidUrl(format!("not a PostgreSQL URL ({e})")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("vocalis");
        }
        if config.get_options().is_none() {
            config.options(&format!("-c statement_timeout={STATEMENT_TIMEOUT_MS}"));
        }
        config.keepalives_idle(Duration::from_secs(30));
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(MIN_IDLE))
            .connection_timeout(CONNECT_TIMEOUT)
            .test_on_check_out(true)
            .error_handler(Box::new(LogErrors))
            .build_unchecked(PostgresConnectionManager::new(config, NoTls));
        let store = Self { pool: Some(pool) };
        let mut conn = store.get(START_TIMEOUT)?;
        schema::migrate(&mut conn)?;
        Ok(store)
    }

    fn pool(&self) -> &r2d2::Pool<Manager> {
        self.pool.as_ref().expect("the pool lives until drop")
    }

    /// A connection, waiting at most `timeout`.
    fn get(&self, timeout: Duration) -> Result<Conn, StoreError> {
        self.pool()
            .get_timeout(timeout)
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// A connection for a read.
    pub(crate) fn read(&self) -> Result<Conn, StoreError> {
        self.get(READ_TIMEOUT)
    }

    /// A connection for a usage write.
    pub(crate) fn write(&self) -> Result<Conn, StoreError> {
        self.get(WRITE_TIMEOUT)
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        schema::version(&mut *self.read()?)
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Each connection owns a small runtime that cannot be dropped on an
        // async worker thread: close the pool on a plain thread then.
        if let Some(pool) = self.pool.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                let _ = std::thread::Builder::new()
                    .name("vocalis-pg-close".into())
                    .spawn(move || drop(pool));
            }
        }
    }
}

/// Whether a PostgreSQL error is the connection's (down, restarting,
/// terminated, unreachable) rather than the query's.
pub fn is_connection_error(error: &::postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    match error.code() {
        // Class 08 (connection exception), 57P01-57P03 (shutdown, crash
        // shutdown, cannot connect now), 53300 (too many connections).
        Some(code) => {
            let code = code.code();
            code.starts_with("08") || code.starts_with("57P") || code == "53300"
        }
        // No SQLSTATE: an I/O or protocol error, not a query's fault.
        None => true,
    }
}

impl Storage for PgStore {
    fn tenant(&self, name: &str) -> Result<Option<Tenant>, StoreError> {
        queries::tenant(&mut *self.read()?, name)
    }

    fn ensure_tenant(&self, name: &str, credit_micros: Option<i64>) -> Result<Tenant, StoreError> {
        queries::ensure_tenant(&mut *self.read()?, name, credit_micros)
    }

    fn create_key(&self, tenant: &str) -> Result<keys::NewApiKey, StoreError> {
        queries::create_key(&mut *self.read()?, tenant)
    }

    fn list_keys(&self) -> Result<Vec<keys::ApiKeyInfo>, StoreError> {
        queries::list_keys(&mut *self.read()?)
    }

    fn verify_key(&self, key: &str) -> Result<Option<(String, String)>, StoreError> {
        queries::verify_key(&mut *self.read()?, key)
    }

    fn checkpoint_usage(
        &self,
        record: &sqlite_ledger::UsageRecord,
    ) -> Result<sqlite_ledger::Checkpointed, StoreError> {
        ledger::checkpoint_usage(&mut *self.write()?, record)
    }

    fn record_usage(&self, record: &sqlite_ledger::UsageRecord) -> Result<Option<i64>, StoreError> {
        ledger::record_usage(&mut *self.write()?, record)
    }

    fn usage_for_tenant(
        &self,
        tenant: &str,
    ) -> Result<Vec<sqlite_ledger::UsageRecord>, StoreError> {
        ledger::usage_for_tenant(&mut *self.read()?, tenant)
    }

    fn usage_page(&self, query: &report::UsageQuery) -> Result<report::UsagePage, StoreError> {
        ledger::usage_page(&mut *self.read()?, query)
    }

    fn probe_write(&self) -> Result<(), StoreError> {
        ledger::probe_write(&mut *self.write()?)
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.read()?.simple_query("SELECT 1")?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}

impl Admin for PgStore {
    fn revoke_key(&self, prefix: &str) -> Result<(), StoreError> {
        queries::revoke_key(&mut *self.read()?, prefix)
    }

    fn set_company(&self, name: &str, company: Option<&str>) -> Result<(), StoreError> {
        queries::set_company(&mut *self.read()?, name, company)
    }

    fn set_credit(&self, name: &str, credit_micros: Option<i64>) -> Result<(), StoreError> {
        queries::set_credit(&mut *self.read()?, name, credit_micros)
    }

    fn set_prices(&self, name: &str, prices: PriceOverride) -> Result<(), StoreError> {
        queries::set_prices(&mut *self.read()?, name, prices)
    }
}
