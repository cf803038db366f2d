//! Durable state: tenants, API keys (hashed) and the usage ledger, in one
//! SQLite database under the data dir (the default, one box) or in a shared
//! PostgreSQL database (`database_url = "postgres://…"`, any number of
//! replicas).
//!
//! The server reaches it only through the [`Storage`] trait (what a request
//! needs: tenants, keys, usage); [`Admin`] adds what `vocalis keys` needs.
//! [`Store`] is the SQLite implementation, [`postgres::PgStore`] the
//! PostgreSQL one, and [`open`] picks one from the configuration.
//!
//! Both are synchronous (rusqlite; the `postgres` driver with an r2d2 pool);
//! async code calls them through `spawn_blocking`. In SQLite Every write is a single statement or a transaction, with
//! WAL journaling and `synchronous=FULL`, so a committed usage record survives
//! a crash or power loss.
//!
//! Writes go through one connection behind a mutex; reads (key checks,
//! tenants, `/v1/usage` pages) use a small pool of read-only connections
//! ([`READERS`]), so a reader never waits for a write's fsync and a usage
//! query never holds up authentication. WAL lets readers and the writer
//! proceed together. An in-memory store (tests) has a single connection.
//!
//! # Layout
//! - [`backend`]: [`open`] (SQLite or PostgreSQL from the configuration), [`Admin`].
//! - [`postgres`]: the PostgreSQL backend (pool, migrations, queries).
//! - [`schema`]: SQLite table definitions and migrations.
//! - [`tenants`]: tenants and their credit balances.
//! - [`keys`]: API key generation, hashing and constant-time checks.
//! - [`ledger`]: usage records, exactly one per accepted session or request.
//! - [`report`]: pages and totals of the ledger for `/v1/usage`; the probe write.

pub mod backend;
pub mod keys;
pub mod ledger;
pub mod postgres;
pub mod report;
pub mod schema;
pub mod tenants;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use rusqlite::{Connection, OpenFlags};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file or its directory could not be opened or created.
    #[error("cannot open the database at {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// What SQLite or the OS said.
        source: rusqlite::Error,
    },
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A query failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The named tenant does not exist.
    #[error("no tenant named `{0}`")]
    UnknownTenant(String),
    /// No unrevoked key starts with the given prefix.
    #[error("no API key with prefix `{0}`")]
    UnknownKey(String),
    /// The blocking task running a store operation failed.
    #[error("store task failed: {0}")]
    Task(String),
    /// A usage record for this session was already written.
    #[error("usage for session `{0}` is already recorded")]
    DuplicateUsage(String),
    /// A price is negative or not a number.
    #[error("{0} is not a price (must be a finite number >= 0)")]
    InvalidPrice(f64),
    /// A PostgreSQL query failed (or its connection broke).
    #[error("database error: {0}")]
    Postgres(#[from] ::postgres::Error),
    /// No database connection could be had in time (the database is down
    /// or unreachable); the pool keeps reconnecting in the background.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The database was migrated by a newer Vocalis than this binary.
    #[error(
        "the database schema is version {found}, newer than this binary knows ({known}); \
         run a newer vocalis"
    )]
    SchemaTooNew {
        /// The database's schema version.
        found: i64,
        /// The newest version this binary knows.
        known: i64,
    },
    /// `database_url` is not a PostgreSQL connection string.
    #[error("invalid database_url: {0}")]
    InvalidUrl(String),
}

impl StoreError {
    /// Whether the database itself could not be reached or answered with a
    /// connection-level failure (down, restarting, unreachable): the caller
    /// should be told 503 and retry, not 500.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Postgres(error) => postgres::is_connection_error(error),
            _ => false,
        }
    }
}

/// What the server needs from durable storage. Every method blocks: call it
/// from `spawn_blocking` in async code. Implemented by the SQLite [`Store`];
/// a PostgreSQL backend implements the same contract: usage writes and the
/// tenant's debit are atomic, and a session has at most one usage row.
pub trait Storage: Send + Sync + 'static {
    /// Looks a tenant up by name.
    fn tenant(&self, name: &str) -> Result<Option<tenants::Tenant>, StoreError>;
    /// Creates the tenant if it does not exist; returns it either way.
    fn ensure_tenant(
        &self,
        name: &str,
        credit_micros: Option<i64>,
    ) -> Result<tenants::Tenant, StoreError>;
    /// Creates an API key for an existing tenant.
    fn create_key(&self, tenant: &str) -> Result<keys::NewApiKey, StoreError>;
    /// Every key, newest first.
    fn list_keys(&self) -> Result<Vec<keys::ApiKeyInfo>, StoreError>;
    /// The tenant and key prefix of a valid, unrevoked key.
    fn verify_key(&self, key: &str) -> Result<Option<(String, String)>, StoreError>;
    /// Writes a live session's open row and debits what it adds.
    fn checkpoint_usage(
        &self,
        record: &ledger::UsageRecord,
    ) -> Result<ledger::Checkpointed, StoreError>;
    /// Writes a session's final row and debits what is not yet debited;
    /// the tenant's new balance in micro-dollars.
    fn record_usage(&self, record: &ledger::UsageRecord) -> Result<Option<i64>, StoreError>;
    /// Every usage row of a tenant (open ones too), oldest first.
    fn usage_for_tenant(&self, tenant: &str) -> Result<Vec<ledger::UsageRecord>, StoreError>;
    /// One page of a tenant's usage rows in a time range, oldest first, and
    /// the totals of the whole range.
    fn usage_page(&self, query: &report::UsageQuery) -> Result<report::UsagePage, StoreError>;
    /// A small write that proves the ledger can be written again.
    fn probe_write(&self) -> Result<(), StoreError>;
    /// Whether the database answers a trivial query now (readiness). The
    /// default reads a tenant; backends answer `SELECT 1`.
    fn ping(&self) -> Result<(), StoreError> {
        self.tenant("").map(drop)
    }
    /// The backend's name for health reports: `sqlite` or `postgres`.
    fn backend(&self) -> &'static str {
        "custom"
    }
}

pub use backend::{open, Admin, SharedAdmin};

/// Storage shared by every handler.
pub type SharedStorage = Arc<dyn Storage>;

impl Storage for Store {
    fn tenant(&self, name: &str) -> Result<Option<tenants::Tenant>, StoreError> {
        Store::tenant(self, name)
    }

    fn ensure_tenant(
        &self,
        name: &str,
        credit_micros: Option<i64>,
    ) -> Result<tenants::Tenant, StoreError> {
        Store::ensure_tenant(self, name, credit_micros)
    }

    fn create_key(&self, tenant: &str) -> Result<keys::NewApiKey, StoreError> {
        Store::create_key(self, tenant)
    }

    fn list_keys(&self) -> Result<Vec<keys::ApiKeyInfo>, StoreError> {
        Store::list_keys(self)
    }

    fn verify_key(&self, key: &str) -> Result<Option<(String, String)>, StoreError> {
        Store::verify_key(self, key)
    }

    fn checkpoint_usage(
        &self,
        record: &ledger::UsageRecord,
    ) -> Result<ledger::Checkpointed, StoreError> {
        Store::checkpoint_usage(self, record)
    }

    fn record_usage(&self, record: &ledger::UsageRecord) -> Result<Option<i64>, StoreError> {
        Store::record_usage(self, record)
    }

    fn usage_for_tenant(&self, tenant: &str) -> Result<Vec<ledger::UsageRecord>, StoreError> {
        Store::usage_for_tenant(self, tenant)
    }

    fn usage_page(&self, query: &report::UsageQuery) -> Result<report::UsagePage, StoreError> {
        Store::usage_page(self, query)
    }

    fn probe_write(&self) -> Result<(), StoreError> {
        Store::probe_write(self)
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.read_conn().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

/// Read-only connections of a file-backed store.
pub const READERS: usize = 2;

/// A handle to the database; cheap to clone, safe to share across threads.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    /// Read-only connections; empty for an in-memory store.
    readers: Arc<[Mutex<Connection>]>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// The database file inside a data dir.
    pub fn db_path(data_dir: &Path) -> PathBuf {
        data_dir.join("vocalis.sqlite3")
    }

    /// Opens (creating if needed) the database in `data_dir` and migrates it.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::CreateDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let path = Self::db_path(data_dir);
        restrict_permissions(data_dir, &path).map_err(|source| StoreError::CreateDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let open_error = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(open_error)?;
        let mut store = Self::from_connection(conn)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let reader = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(open_error)?;
            reader.busy_timeout(BUSY_TIMEOUT)?;
            readers.push(Mutex::new(reader));
        }
        store.readers = readers.into();
        Ok(store)
    }

    /// An in-memory store, for tests.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::from_connection(Connection::open_in_memory()?)
    }

    fn from_connection(conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            readers: Arc::new([]),
        })
    }

    /// Locks the connection. A poisoned lock is recovered: SQLite keeps its
    /// own consistency, and a panic elsewhere must not stop billing.
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A connection for reads: a free read-only one, else the first reader
    /// (or the only connection of an in-memory store).
    pub(crate) fn read_conn(&self) -> MutexGuard<'_, Connection> {
        for reader in self.readers.iter() {
            match reader.try_lock() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        match self.readers.first() {
            Some(reader) => reader
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
            None => self.conn(),
        }
    }
}

/// How long a statement waits for a lock held by another connection.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Seconds since the Unix epoch, as stored in the database.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Makes the data dir private (0700) and the database with its WAL and
/// shared-memory files owner-only (0600); a new database file is created
/// 0600 before SQLite opens it (SQLite gives its side files the same mode).
fn restrict_permissions(data_dir: &Path, db: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))?;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(db)?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            match std::fs::set_permissions(&name, std::fs::Permissions::from_mode(0o600)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (data_dir, db);
    Ok(())
}
