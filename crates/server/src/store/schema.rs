//! SQLite table definitions. Migrations are numbered and applied in order
//! at start-up; the applied version lives in SQLite's `user_version`, and a
//! database newer than the binary is refused. A migration is never
//! edited once released: changes are new entries at the end.

use rusqlite::Connection;

use super::StoreError;

const MIGRATIONS: &[&str] = &[
    // 1: tenants, keys, the usage ledger.
    r#"
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
"#,
    // 2: per-tenant price overrides (NULL: the server's configured price).
    // Usage rows may now also be `open`: written at a checkpoint of a live
    // session and updated in place until the session ends.
    r#"
ALTER TABLE tenants ADD COLUMN stt_price_per_minute REAL;
ALTER TABLE tenants ADD COLUMN tts_price_per_1k_characters REAL;
"#,
    // 3: one row rewritten by the ledger's probe write, which tells whether
    // the ledger can be written again after a failed usage write.
    r#"
CREATE TABLE ledger_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at INTEGER NOT NULL
);
"#,
];

/// The newest schema version this binary knows.
pub fn known_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Applies every migration newer than the database's `user_version`;
/// refuses a database migrated by a newer binary
/// ([`StoreError::SchemaTooNew`]).
pub fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let applied: usize = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if applied as i64 > known_version() {
        return Err(StoreError::SchemaTooNew {
            found: applied as i64,
            known: known_version(),
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        conn.execute_batch(&format!(
            "BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;",
            index + 1
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_database_is_migrated_in_place() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(&format!(
            "BEGIN; {}; PRAGMA user_version = 1; COMMIT;",
            MIGRATIONS[0]
        ))
        .unwrap();
        conn.execute(
            "INSERT INTO tenants (name, credit_micros, created_at) VALUES ('acme', 5, 1)",
            [],
        )
        .unwrap();
        migrate(&conn).unwrap();
        let version: usize = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len());
        let (credit, price): (i64, Option<f64>) = conn
            .query_row(
                "SELECT credit_micros, stt_price_per_minute FROM tenants WHERE name = 'acme'",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!((credit, price), (5, None));
        migrate(&conn).unwrap();
    }

    #[test]
    fn a_database_from_a_newer_binary_is_refused() {
        let conn = Connection::open_in_memory().unwrap();
        migrate(&conn).unwrap();
        let newer = MIGRATIONS.len() + 1;
        conn.pragma_update(None, "user_version", newer).unwrap();
        match migrate(&conn) {
            Err(StoreError::SchemaTooNew { found, known }) => {
                assert_eq!((found, known), (newer as i64, MIGRATIONS.len() as i64));
            }
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    }
}
