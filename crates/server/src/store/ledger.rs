//! The usage ledger: one row per accepted session or request.
//!
//! A live session's row is written at checkpoints with outcome `open` and
//! updated in place; its final write sets the outcome. Each write and the
//! debit of the cost it adds ([`debit_delta`]) happen in one transaction, so
//! the tenant is debited exactly the row's cost, whatever crashes in
//! between. The `session_id` column is unique and a final row is never
//! written again, so no session is recorded or billed twice.

use rusqlite::{params, OptionalExtension, TransactionBehavior};

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
    /// Not ended yet: the row was written at a checkpoint of a live session.
    /// A row still open after a restart belongs to a session the crash cut
    /// short; it holds the usage up to its last checkpoint.
    Open,
}

impl Outcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::ClientError => "client_error",
            Self::ServerError => "server_error",
            Self::Cancelled => "cancelled",
            Self::Open => "open",
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

/// What a checkpoint did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpointed {
    /// The open row was written; the tenant's balance after the debit, in
    /// micro-dollars (`None` when unlimited).
    Written(Option<i64>),
    /// The session's row is already final; nothing changed.
    AlreadyFinal,
}

/// What must be debited when a session's row goes from `previous` to `now`
/// micro-dollars: the difference, so the debits of all its checkpoints and
/// its final write add up to exactly its final cost.
pub fn debit_delta(previous_micros: i64, now_micros: i64) -> i64 {
    now_micros - previous_micros
}

impl Store {
    /// Writes the session's open row at a checkpoint (creating it on the
    /// first) and debits the tenant by the cost added since the previous
    /// write, in one transaction. A session already final is left alone.
    pub fn checkpoint_usage(&self, record: &UsageRecord) -> Result<Checkpointed, StoreError> {
        let open = UsageRecord {
            outcome: Outcome::Open,
            error_code: None,
            ..record.clone()
        };
        Ok(match self.write_usage(&open)? {
            Some(balance) => Checkpointed::Written(balance),
            None => Checkpointed::AlreadyFinal,
        })
    }

    /// Writes the session's final row (creating it, or finalizing its open
    /// row) and debits the tenant by the cost not yet debited, in one
    /// transaction; returns the tenant's new balance in micro-dollars
    /// (`None` when unlimited). A second final write for the same session is
    /// refused with [`StoreError::DuplicateUsage`].
    pub fn record_usage(&self, record: &UsageRecord) -> Result<Option<i64>, StoreError> {
        debug_assert!(
            record.outcome != Outcome::Open,
            "a final record has an outcome"
        );
        self.write_usage(record)?
            .ok_or_else(|| StoreError::DuplicateUsage(record.session_id.clone()))
    }

    /// Inserts or updates the session's row; `None` when the row is already
    /// final (and nothing was written).
    fn write_usage(&self, record: &UsageRecord) -> Result<Option<Option<i64>>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let existing: Option<(String, i64)> = tx
            .query_row(
                "SELECT outcome, cost_micros FROM usage WHERE session_id = ?1",
                params![record.session_id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let previous_cost = match existing {
            None => {
                tx.execute(
                    "INSERT INTO usage (session_id, tenant, key_prefix, service, route, started_at,
                        ended_at, audio_seconds, characters, billed_seconds, cost_micros, outcome,
                        error_code)
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
                0
            }
            Some((outcome, cost)) if outcome == Outcome::Open.as_str() => {
                tx.execute(
                    "UPDATE usage SET ended_at = ?2, audio_seconds = ?3, characters = ?4,
                        billed_seconds = ?5, cost_micros = ?6, outcome = ?7, error_code = ?8
                     WHERE session_id = ?1",
                    params![
                        record.session_id,
                        record.ended_at,
                        record.audio_seconds,
                        record.characters,
                        record.billed_seconds,
                        record.cost_micros,
                        record.outcome.as_str(),
                        record.error_code,
                    ],
                )?;
                cost
            }
            Some(_) => return Ok(None),
        };
        let delta = debit_delta(previous_cost, record.cost_micros);
        tx.execute(
            "UPDATE tenants SET credit_micros = credit_micros - ?2
             WHERE name = ?1 AND credit_micros IS NOT NULL",
            params![record.tenant, delta],
        )?;
        let balance: Option<i64> = tx
            .query_row(
                "SELECT credit_micros FROM tenants WHERE name = ?1",
                params![record.tenant],
                |row| row.get(0),
            )
            .map_err(|_| StoreError::UnknownTenant(record.tenant.clone()))?;
        tx.commit()?;
        Ok(Some(balance))
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
        let conn = self.read_conn();
        let mut statement =
            conn.prepare(&format!("SELECT {COLUMNS} FROM usage {filter} ORDER BY id"))?;
        let rows = statement.query_map(params![value], record_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// The columns [`record_from_row`] reads, in its order.
pub(crate) const COLUMNS: &str = "session_id, tenant, key_prefix, service, route, started_at, \
    ended_at, audio_seconds, characters, billed_seconds, cost_micros, outcome, error_code";

/// A record from a row selected with [`COLUMNS`] first.
pub(crate) fn record_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<UsageRecord> {
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
            "open" => Outcome::Open,
            _ => Outcome::ServerError,
        },
        error_code: row.get(12)?,
    })
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
    fn debits_are_the_differences_between_writes() {
        assert_eq!(debit_delta(0, 500), 500);
        assert_eq!(debit_delta(500, 1_270), 770);
        assert_eq!(debit_delta(1_270, 1_270), 0);
        // Checkpoints at 500 and 1 000, final 1 270: the debits add up to
        // the final cost, whatever the steps.
        let steps = [0, 500, 1_000, 1_270];
        let total: i64 = steps.windows(2).map(|w| debit_delta(w[0], w[1])).sum();
        assert_eq!(total, 1_270);
    }

    #[test]
    fn checkpoints_update_one_open_row_and_debit_exactly_the_final_cost() {
        let store = Store::open_in_memory().unwrap();
        store.ensure_tenant("acme", Some(1_000_000)).unwrap();
        let mut open = record("s1", 500);
        open.outcome = Outcome::Open;
        assert_eq!(
            store.checkpoint_usage(&record("s1", 500)).unwrap(),
            Checkpointed::Written(Some(999_500))
        );
        assert_eq!(store.usage_for_session("s1").unwrap(), vec![open.clone()]);
        assert_eq!(
            store.checkpoint_usage(&record("s1", 1_000)).unwrap(),
            Checkpointed::Written(Some(999_000))
        );
        assert_eq!(
            store.record_usage(&record("s1", 1_270)).unwrap(),
            Some(998_730)
        );
        assert_eq!(
            store.usage_for_session("s1").unwrap(),
            vec![record("s1", 1_270)]
        );
        // A late checkpoint changes nothing; a second final is refused.
        assert_eq!(
            store.checkpoint_usage(&record("s1", 2_000)).unwrap(),
            Checkpointed::AlreadyFinal
        );
        assert!(matches!(
            store.record_usage(&record("s1", 2_000)),
            Err(StoreError::DuplicateUsage(_))
        ));
        assert_eq!(
            store.tenant("acme").unwrap().unwrap().credit_micros,
            Some(998_730)
        );
        assert_eq!(
            store.usage_for_session("s1").unwrap(),
            vec![record("s1", 1_270)]
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
