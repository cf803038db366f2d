//! The usage ledger in PostgreSQL: the same contract as the SQLite ledger
//! (`store::ledger`, `store::report`). A write inserts the session's row
//! (`ON CONFLICT (session_id) DO NOTHING`) or locks and updates its open
//! row, then debits the tenant by the cost added with one atomic
//! `UPDATE … RETURNING`, all in one transaction: concurrent debits of one
//! tenant from any number of replicas serialize on the tenant's row and
//! none is lost; a final row is never written twice.

use ::postgres::{Client, Row};

use crate::store::ledger::{debit_delta, Checkpointed, Outcome, UsageRecord, COLUMNS};
use crate::store::report::{Cursor, UsagePage, UsageQuery, UsageTotals};
use crate::store::{now_unix, StoreError};

/// Writes the session's open row at a checkpoint and debits what it adds.
pub fn checkpoint_usage(
    client: &mut Client,
    record: &UsageRecord,
) -> Result<Checkpointed, StoreError> {
    let open = UsageRecord {
        outcome: Outcome::Open,
        error_code: None,
        ..record.clone()
    };
    Ok(match write_usage(client, &open)? {
        Some(balance) => Checkpointed::Written(balance),
        None => Checkpointed::AlreadyFinal,
    })
}

/// Writes the session's final row and debits what is not yet debited; a
/// second final write is [`StoreError::DuplicateUsage`].
pub fn record_usage(client: &mut Client, record: &UsageRecord) -> Result<Option<i64>, StoreError> {
    write_usage(client, record)?
        .ok_or_else(|| StoreError::DuplicateUsage(record.session_id.clone()))
}

/// Inserts or updates the row and debits the delta in one transaction;
/// `None` when the row is already final (nothing written).
fn write_usage(
    client: &mut Client,
    record: &UsageRecord,
) -> Result<Option<Option<i64>>, StoreError> {
    let mut tx = client.transaction()?;
    let inserted = tx.execute(
        "INSERT INTO usage (session_id, tenant, key_prefix, service, route, started_at,
            ended_at, audio_seconds, characters, billed_seconds, cost_micros, outcome, error_code)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (session_id) DO NOTHING",
        &[
            &record.session_id,
            &record.tenant,
            &record.key_prefix,
            &record.service,
            &record.route,
            &record.started_at,
            &record.ended_at,
            &record.audio_seconds,
            &record.characters,
            &record.billed_seconds,
            &record.cost_micros,
            &record.outcome.as_str(),
            &record.error_code,
        ],
    )?;
    let previous_cost = if inserted == 1 {
        0
    } else {
        let row = tx.query_one(
            "SELECT outcome, cost_micros FROM usage WHERE session_id = $1 FOR UPDATE",
            &[&record.session_id],
        )?;
        let outcome: String = row.get(0);
        if outcome != Outcome::Open.as_str() {
            return Ok(None);
        }
        tx.execute(
            "UPDATE usage SET ended_at = $2, audio_seconds = $3, characters = $4,
                billed_seconds = $5, cost_micros = $6, outcome = $7, error_code = $8
             WHERE session_id = $1",
            &[
                &record.session_id,
                &record.ended_at,
                &record.audio_seconds,
                &record.characters,
                &record.billed_seconds,
                &record.cost_micros,
                &record.outcome.as_str(),
                &record.error_code,
            ],
        )?;
        row.get::<_, i64>(1)
    };
    let delta = debit_delta(previous_cost, record.cost_micros);
    let balance = tx
        .query_opt(
            "UPDATE tenants SET credit_micros = credit_micros - $2
             WHERE name = $1 RETURNING credit_micros",
            &[&record.tenant, &delta],
        )?
        .ok_or_else(|| StoreError::UnknownTenant(record.tenant.clone()))?
        .get::<_, Option<i64>>(0);
    tx.commit()?;
    Ok(Some(balance))
}

fn record_from_row(row: &Row) -> UsageRecord {
    let outcome: String = row.get(11);
    UsageRecord {
        session_id: row.get(0),
        tenant: row.get(1),
        key_prefix: row.get(2),
        service: row.get(3),
        route: row.get(4),
        started_at: row.get(5),
        ended_at: row.get(6),
        audio_seconds: row.get(7),
        characters: row.get(8),
        billed_seconds: row.get(9),
        cost_micros: row.get(10),
        outcome: match outcome.as_str() {
            "ok" => Outcome::Ok,
            "client_error" => Outcome::ClientError,
            "cancelled" => Outcome::Cancelled,
            "open" => Outcome::Open,
            _ => Outcome::ServerError,
        },
        error_code: row.get(12),
    }
}

/// Every row of a tenant, oldest first.
pub fn usage_for_tenant(client: &mut Client, tenant: &str) -> Result<Vec<UsageRecord>, StoreError> {
    Ok(client
        .query(
            &format!("SELECT {COLUMNS} FROM usage WHERE tenant = $1 ORDER BY id"),
            &[&tenant],
        )?
        .iter()
        .map(record_from_row)
        .collect())
}

const RANGE: &str = "tenant = $1 AND started_at >= $2 AND started_at < $3";

/// One page of `query` (keyset on `(started_at, id)`) and its range's totals.
pub fn usage_page(client: &mut Client, query: &UsageQuery) -> Result<UsagePage, StoreError> {
    let from = query.from.unwrap_or(i64::MIN);
    let to = query.to.unwrap_or(i64::MAX);
    let after = query.after.unwrap_or(Cursor {
        started_at: i64::MIN,
        id: i64::MIN,
    });
    let limit = i64::from(query.limit.max(1));
    let rows = client.query(
        &format!(
            "SELECT {COLUMNS}, id FROM usage
             WHERE {RANGE} AND (started_at, id) > ($4, $5)
             ORDER BY started_at, id LIMIT $6"
        ),
        &[
            &query.tenant,
            &from,
            &to,
            &after.started_at,
            &after.id,
            &(limit + 1),
        ],
    )?;
    let more = rows.len() as i64 > limit;
    let mut records = Vec::with_capacity(rows.len());
    let mut last = None;
    for row in rows.iter().take(limit as usize) {
        let record = record_from_row(row);
        last = Some(Cursor {
            started_at: record.started_at,
            id: row.get(13),
        });
        records.push(record);
    }
    let totals = client.query_one(
        &format!(
            "SELECT COUNT(*), COALESCE(SUM(audio_seconds), 0)::DOUBLE PRECISION,
                COALESCE(SUM(characters), 0)::BIGINT, COALESCE(SUM(cost_micros), 0)::BIGINT
             FROM usage WHERE {RANGE}"
        ),
        &[&query.tenant, &from, &to],
    )?;
    Ok(UsagePage {
        records,
        next: if more { last } else { None },
        totals: UsageTotals {
            sessions: totals.get::<_, i64>(0).max(0) as u64,
            audio_seconds: totals.get(1),
            characters: totals.get(2),
            cost_micros: totals.get(3),
        },
    })
}

/// Rewrites the probe row: succeeds only when the database commits now.
pub fn probe_write(client: &mut Client) -> Result<(), StoreError> {
    client.execute(
        "INSERT INTO ledger_probe (id, at) VALUES (1, $1)
         ON CONFLICT (id) DO UPDATE SET at = excluded.at",
        &[&now_unix()],
    )?;
    Ok(())
}
