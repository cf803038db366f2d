//! Table definitions. Migrations are numbered and applied in order; the
//! applied version lives in SQLite's `user_version`.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE tenants (
    name          TEXT PRIMARY KEY,
    company       TEXT,
    credit_micros INTEGER,          -- NULL: unlimited
    created_at    INTEGER NOT NULL
);
CREATE TABLE api_keys (
    prefix     TEXT PRIMARY KEY,    -- visible part, e.g. sk_live_ab12cd34
    tenant     TEXT NOT NULL REFERENCES tenants(name),
    sha256     BLOB NOT NULL,       -- SHA-256 of the whole key
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE TABLE usage (
    id               INTEGER PRIMARY KEY,
    session_id       TEXT NOT NULL UNIQUE,
    tenant           TEXT NOT NULL,
    key_prefix       TEXT,
    service          TEXT NOT NULL,  -- stt | tts | email
    route            TEXT NOT NULL,
    started_at       INTEGER NOT NULL,
    ended_at         INTEGER NOT NULL,
    audio_seconds    REAL NOT NULL,
    characters       INTEGER NOT NULL,
    billed_seconds   REAL NOT NULL,
    cost_micros      INTEGER NOT NULL,
    outcome          TEXT NOT NULL,  -- ok | client_error | server_error | cancelled
    error_code       TEXT
);
CREATE INDEX usage_by_tenant ON usage(tenant, started_at);
"#];

/// Applies every migration newer than the database's `user_version`.
pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let applied: usize = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        conn.execute_batch(&format!(
            "BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;",
            index + 1
        ))?;
    }
    Ok(())
}
