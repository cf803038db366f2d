//! Reading the ledger for `/v1/usage`: one page of a tenant's rows in a time
//! range, in SQL, over the `(tenant, started_at)` index, and the range's
//! totals summed by SQLite. Nothing loads a tenant's whole history.
//!
//! Pages are ordered by `(started_at, id)` — the index's own order, since
//! SQLite appends the row id to every index entry — and continued with a
//! keyset cursor ([`Cursor`]), so a page costs the same however deep it is.
//! Also the probe write that tells whether the ledger is writable again.

use rusqlite::params;

use super::ledger::UsageRecord;
use super::{now_unix, Store, StoreError};

/// Where the next page starts: after the row with this start time and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// `started_at` of the last row of the previous page.
    pub started_at: i64,
    /// Row id of the last row of the previous page.
    pub id: i64,
}

impl Cursor {
    /// The cursor as clients see it: `<started_at>_<id>`.
    pub fn encode(self) -> String {
        format!("{}_{}", self.started_at, self.id)
    }

    /// Parses [`encode`](Self::encode)'s output.
    pub fn decode(text: &str) -> Option<Self> {
        let (started_at, id) = text.split_once('_')?;
        Some(Self {
            started_at: started_at.parse().ok()?,
            id: id.parse().ok()?,
        })
    }
}

/// One page of a tenant's usage.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageQuery {
    /// The tenant.
    pub tenant: String,
    /// Rows started at or after this Unix second.
    pub from: Option<i64>,
    /// Rows started before this Unix second.
    pub to: Option<i64>,
    /// At most this many rows.
    pub limit: u32,
    /// Continue after this row.
    pub after: Option<Cursor>,
}

/// Sums over every row of a range (not only the page).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UsageTotals {
    /// Rows.
    pub sessions: u64,
    /// Seconds of audio.
    pub audio_seconds: f64,
    /// Characters synthesized.
    pub characters: i64,
    /// Cost, micro-dollars.
    pub cost_micros: i64,
}

/// A page of rows, the cursor of the next page, and the range's totals.
#[derive(Debug, Clone, PartialEq)]
pub struct UsagePage {
    /// The rows, oldest first.
    pub records: Vec<UsageRecord>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
    /// Totals of the whole range.
    pub totals: UsageTotals,
}

const RANGE: &str = "tenant = ?1 AND started_at >= ?2 AND started_at < ?3";

impl Store {
    /// One page of `query`, and the totals of its range.
    pub fn usage_page(&self, query: &UsageQuery) -> Result<UsagePage, StoreError> {
        let from = query.from.unwrap_or(i64::MIN);
        let to = query.to.unwrap_or(i64::MAX);
        let after = query.after.unwrap_or(Cursor {
            started_at: i64::MIN,
            id: i64::MIN,
        });
        let limit = i64::from(query.limit.max(1));
        let conn = self.read_conn();
        let mut statement = conn.prepare_cached(&format!(
            "SELECT {columns}, id FROM usage
             WHERE {RANGE} AND (started_at, id) > (?4, ?5)
             ORDER BY started_at, id LIMIT ?6",
            columns = super::ledger::COLUMNS
        ))?;
        let mut last = None;
        let rows = statement.query_map(
            params![
                query.tenant,
                from,
                to,
                after.started_at,
                after.id,
                limit + 1
            ],
            |row| {
                let record = super::ledger::record_from_row(row)?;
                let id: i64 = row.get(13)?;
                Ok((record, id))
            },
        )?;
        let mut records = Vec::new();
        let mut more = false;
        for row in rows {
            let (record, id) = row?;
            if records.len() as i64 == limit {
                more = true;
                break;
            }
            last = Some(Cursor {
                started_at: record.started_at,
                id,
            });
            records.push(record);
        }
        let totals = conn.query_row(
            &format!(
                "SELECT COUNT(*), TOTAL(audio_seconds), TOTAL(characters), TOTAL(cost_micros)
                 FROM usage WHERE {RANGE}"
            ),
            params![query.tenant, from, to],
            |row| {
                Ok(UsageTotals {
                    sessions: row.get::<_, i64>(0)?.max(0) as u64,
                    audio_seconds: row.get(1)?,
                    characters: row.get::<_, f64>(2)? as i64,
                    cost_micros: row.get::<_, f64>(3)? as i64,
                })
            },
        )?;
        Ok(UsagePage {
            records,
            next: if more { last } else { None },
            totals,
        })
    }

    /// Rewrites the probe row: succeeds only when the database can commit a
    /// transaction (disk space, permissions, locks) at this moment.
    pub fn probe_write(&self) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO ledger_probe (id, at) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET at = excluded.at",
            params![now_unix()],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ledger::Outcome;

    fn record(session_id: &str, started_at: i64, cost_micros: i64) -> UsageRecord {
        UsageRecord {
            session_id: session_id.to_owned(),
            tenant: "acme".to_owned(),
            key_prefix: None,
            service: "stt".to_owned(),
            route: "/ws/stt".to_owned(),
            started_at,
            ended_at: started_at + 1,
            audio_seconds: 1.5,
            characters: 2,
            billed_seconds: 1.5,
            cost_micros,
            outcome: Outcome::Ok,
            error_code: None,
        }
    }

    fn query(from: Option<i64>, to: Option<i64>, limit: u32, after: Option<Cursor>) -> UsageQuery {
        UsageQuery {
            tenant: "acme".into(),
            from,
            to,
            limit,
            after,
        }
    }

    #[test]
    fn pages_follow_the_cursor_and_totals_cover_the_range() {
        let store = Store::open_in_memory().unwrap();
        store.ensure_tenant("acme", None).unwrap();
        store.ensure_tenant("other", None).unwrap();
        // Inserted out of time order; two rows share a start second.
        for (id, at) in [("c", 30), ("a", 10), ("b", 20), ("b2", 20), ("d", 40)] {
            store.record_usage(&record(id, at, 100)).unwrap();
        }
        let mut theirs = record("x", 20, 7);
        theirs.tenant = "other".into();
        store.record_usage(&theirs).unwrap();

        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .usage_page(&query(Some(20), Some(40), 2, after))
                .unwrap();
            assert_eq!(page.totals.sessions, 3);
            assert_eq!(page.totals.cost_micros, 300);
            assert_eq!(page.totals.characters, 6);
            assert_eq!(page.totals.audio_seconds, 4.5);
            seen.extend(page.records.iter().map(|r| r.session_id.clone()));
            match page.next {
                Some(next) => after = Some(Cursor::decode(&next.encode()).unwrap()),
                None => break,
            }
        }
        assert_eq!(seen, ["b", "b2", "c"]);

        let everything = store.usage_page(&query(None, None, 1000, None)).unwrap();
        assert_eq!(everything.records.len(), 5);
        assert_eq!(everything.next, None);
        let empty = store.usage_page(&query(Some(50), None, 10, None)).unwrap();
        assert!(empty.records.is_empty());
        assert_eq!(empty.totals, UsageTotals::default());
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = Cursor {
            started_at: 1_700_000_000,
            id: 42,
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("12"), None);
        assert_eq!(Cursor::decode("a_1"), None);
    }

    #[test]
    fn the_probe_write_succeeds_on_a_writable_store() {
        let store = Store::open_in_memory().unwrap();
        store.probe_write().unwrap();
        store.probe_write().unwrap();
    }

    #[test]
    fn a_file_store_reads_through_its_read_connections() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.ensure_tenant("acme", Some(5)).unwrap();
        store.record_usage(&record("s1", 1, 2)).unwrap();
        assert_eq!(
            store.tenant("acme").unwrap().unwrap().credit_micros,
            Some(3)
        );
        let page = store.usage_page(&query(None, None, 10, None)).unwrap();
        assert_eq!(page.records.len(), 1);
        let key = store.create_key("acme").unwrap();
        assert!(store.verify_key(&key.secret).unwrap().is_some());
    }
}
