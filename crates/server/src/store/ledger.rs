//! The usage ledger: one row per accepted session or request, written once.
//!
//! Writing a record and debiting the tenant's credit happen in one
//! transaction; the `session_id` column is unique, so a second record for the
//! same session is refused instead of billing twice.

use rusqlite::{params, TransactionBehavior};

use super::{Store, StoreError};

/// How a metered session or request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Finished normally.
    Ok,
    /// Ended by a client error (bad input, protocol violation, timeout).
    ClientError,
    /// Ended by a server error.
    ServerError,
    /// The client went away or cancelled.
    Cancelled,
}

impl Outcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::ClientError => "client_error",
            Self::ServerError => "server_error",
            Self::Cancelled => "cancelled",
        }
    }
}

/// One metered session or request.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRecord {
    /// Unique id of the session or request.
    pub session_id: String,
    /// Tenant billed.
    pub tenant: String,
    /// Prefix of the API key used, if any (JWT sessions have none).
    pub key_prefix: Option<String>,
    /// `stt`, `tts` or `email`.
    pub service: String,
    /// The route, e.g. `/ws/stt`.
    pub route: String,
    /// Start, Unix seconds.
    pub started_at: i64,
    /// End, Unix seconds.
    pub ended_at: i64,
    /// Seconds of audio received (STT) or produced (TTS).
    pub audio_seconds: f64,
    /// Characters synthesized (TTS).
    pub characters: i64,
    /// Seconds billed.
    pub billed_seconds: f64,
    /// Cost in micro-dollars.
    pub cost_micros: i64,
    /// How it ended.
    pub outcome: Outcome,
    /// The stable error code it ended with, if any.
    pub error_code: Option<String>,
}

impl Store {
    /// Writes the record and debits the tenant; returns the tenant's new
    /// balance in micro-dollars (`None` when unlimited).
    pub fn record_usage(&self, record: &UsageRecord) -> Result<Option<i64>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO usage (session_id, tenant, key_prefix, service, route, started_at,
                ended_at, audio_seconds, characters, billed_seconds, cost_micros, outcome, error_code)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                record.session_id,
                record.tenant,
                record.key_prefix,
                record.service,
                record.route,
                record.started_at,
                record.ended_at,
                record.audio_seconds,
                record.characters,
                record.billed_seconds,
                record.cost_micros,
                record.outcome.as_str(),
                record.error_code,
            ],
        )?;
        if inserted == 0 {
            return Err(StoreError::DuplicateUsage(record.session_id.clone()));
        }
        tx.execute(
            "UPDATE tenants SET credit_micros = credit_micros - ?2
             WHERE name = ?1 AND credit_micros IS NOT NULL",
            params![record.tenant, record.cost_micros],
        )?;
        let balance: Option<i64> = tx
            .query_row(
                "SELECT credit_micros FROM tenants WHERE name = ?1",
                params![record.tenant],
                |row| row.get(0),
            )
            .map_err(|_| StoreError::UnknownTenant(record.tenant.clone()))?;
        tx.commit()?;
        Ok(balance)
    }

    /// Every record for a session id (zero or one, by construction).
    pub fn usage_for_session(&self, session_id: &str) -> Result<Vec<UsageRecord>, StoreError> {
        self.query_usage("WHERE session_id = ?1", session_id)
    }

    /// Every record of a tenant, oldest first.
    pub fn usage_for_tenant(&self, tenant: &str) -> Result<Vec<UsageRecord>, StoreError> {
        self.query_usage("WHERE tenant = ?1", tenant)
    }

    fn query_usage(&self, filter: &str, value: &str) -> Result<Vec<UsageRecord>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare(&format!(
            "SELECT session_id, tenant, key_prefix, service, route, started_at, ended_at,
                audio_seconds, characters, billed_seconds, cost_micros, outcome, error_code
             FROM usage {filter} ORDER BY id"
        ))?;
        let rows = statement.query_map(params![value], |row| {
            let outcome: String = row.get(11)?;
            Ok(UsageRecord {
                session_id: row.get(0)?,
                tenant: row.get(1)?,
                key_prefix: row.get(2)?,
                service: row.get(3)?,
                route: row.get(4)?,
                started_at: row.get(5)?,
                ended_at: row.get(6)?,
                audio_seconds: row.get(7)?,
                characters: row.get(8)?,
                billed_seconds: row.get(9)?,
                cost_micros: row.get(10)?,
                outcome: match outcome.as_str() {
                    "ok" => Outcome::Ok,
                    "client_error" => Outcome::ClientError,
                    "cancelled" => Outcome::Cancelled,
                    _ => Outcome::ServerError,
                },
                error_code: row.get(12)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(session_id: &str, cost_micros: i64) -> UsageRecord {
        UsageRecord {
            session_id: session_id.to_owned(),
            tenant: "acme".to_owned(),
            key_prefix: Some("sk_live_abcd1234".to_owned()),
            service: "stt".to_owned(),
            route: "/ws/stt".to_owned(),
            started_at: 1,
            ended_at: 2,
            audio_seconds: 12.4,
            characters: 0,
            billed_seconds: 12.4,
            cost_micros,
            outcome: Outcome::Ok,
            error_code: None,
        }
    }

    #[test]
    fn recording_debits_the_tenant_once() {
        let store = Store::open_in_memory().unwrap();
        store.ensure_tenant("acme", Some(1_000_000)).unwrap();
        assert_eq!(
            store.record_usage(&record("s1", 620)).unwrap(),
            Some(999_380)
        );
        assert!(matches!(
            store.record_usage(&record("s1", 620)),
            Err(StoreError::DuplicateUsage(_))
        ));
        assert_eq!(store.usage_for_session("s1").unwrap().len(), 1);
        assert_eq!(
            store.tenant("acme").unwrap().unwrap().credit_micros,
            Some(999_380)
        );
    }

    #[test]
    fn unlimited_tenants_stay_unlimited() {
        let store = Store::open_in_memory().unwrap();
        store.ensure_tenant("acme", None).unwrap();
        assert_eq!(store.record_usage(&record("s1", 620)).unwrap(), None);
        assert_eq!(
            store.usage_for_tenant("acme").unwrap(),
            vec![record("s1", 620)]
        );
    }

    #[test]
    fn records_survive_reopening_the_database() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.ensure_tenant("acme", None).unwrap();
            store.record_usage(&record("s1", 1)).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.usage_for_session("s1").unwrap().len(), 1);
    }
}
