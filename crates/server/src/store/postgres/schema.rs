//! PostgreSQL table definitions, as numbered migrations applied in order at
//! start-up. The applied versions live in `vocalis_schema`; every replica
//! migrates under one advisory lock in one transaction, so replicas starting
//! together apply each migration once. A database whose version is newer
//! than this binary knows is refused ([`StoreError::SchemaTooNew`]): an old
//! replica never writes to a schema it does not understand. A migration is
//! never edited once released: changes are new entries at the end.

use ::postgres::Client;

use crate::store::StoreError;

/// Arbitrary key of the advisory lock taken while migrating.
const MIGRATION_LOCK: i64 = 0x0076_6f63_616c_6973;

const MIGRATIONS: &[&str] = &[
    // 1: tenants (with price overrides), keys, the usage ledger (rows may be
    // `open`: written at a live session's checkpoint, updated in place), and
    // the probe row of the ledger's health check. Same shape as SQLite's
    // schema at its version 3.
    r#"
CREATE TABLE tenants (
    name                        TEXT PRIMARY KEY,
    company                     TEXT,
    credit_micros               BIGINT,            -- NULL: unlimited
    created_at                  BIGINT NOT NULL,
    stt_price_per_minute        DOUBLE PRECISION,
    tts_price_per_1k_characters DOUBLE PRECISION
);
CREATE TABLE api_keys (
    prefix     TEXT PRIMARY KEY,
    tenant     TEXT NOT NULL REFERENCES tenants(name),
    sha256     BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE TABLE usage (
    id             BIGSERIAL PRIMARY KEY,
    session_id     TEXT NOT NULL UNIQUE,
    tenant         TEXT NOT NULL,
    key_prefix     TEXT,
    service        TEXT NOT NULL,
    route          TEXT NOT NULL,
    started_at     BIGINT NOT NULL,
    ended_at       BIGINT NOT NULL,
    audio_seconds  DOUBLE PRECISION NOT NULL,
    characters     BIGINT NOT NULL,
    billed_seconds DOUBLE PRECISION NOT NULL,
    cost_micros    BIGINT NOT NULL,
    outcome        TEXT NOT NULL,
    error_code     TEXT
);
CREATE INDEX usage_by_tenant ON usage(tenant, started_at, id);
CREATE TABLE ledger_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at BIGINT NOT NULL
);
"#,
];

/// The newest schema version this binary knows.
pub fn known_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// The database's schema version (0 before the first migration).
pub fn version(client: &mut Client) -> Result<i64, StoreError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('vocalis_schema') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(0);
    }
    Ok(client
        .query_one(
            "SELECT COALESCE(MAX(version), 0)::BIGINT FROM vocalis_schema",
            &[],
        )?
        .get(0))
}

/// Applies every migration the database lacks, in one transaction under an
/// advisory lock; refuses a newer schema.
pub fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS vocalis_schema (
            version    BIGINT PRIMARY KEY,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )?;
    let applied: i64 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0)::BIGINT FROM vocalis_schema",
            &[],
        )?
        .get(0);
    if applied > known_version() {
        return Err(StoreError::SchemaTooNew {
            found: applied,
            known: known_version(),
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        let version = index as i64 + 1;
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO vocalis_schema (version) VALUES ($1)",
            &[&version],
        )?;
        tracing::info!(version, "applied PostgreSQL migration");
    }
    tx.commit()?;
    Ok(())
}
