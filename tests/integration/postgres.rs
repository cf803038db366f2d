//! The storage contract on both backends: every test here runs the same
//! function against the SQLite store (a temporary data dir) and against the
//! PostgreSQL store (a fresh database on the shared test cluster, see
//! [`crate::pg_cluster`]): tenants, keys (hash only, forged and revoked keys
//! refused, revocation seen by a second handle at once), the ledger (one row
//! per session, checkpoints debit exactly the final cost, a final row is
//! never written twice), usage pages and totals, concurrent debits of one
//! tenant from two handles (two replicas' pools) that never lose a debit,
//! and refusal of a schema newer than the binary.

use std::sync::Arc;

use vocalis_server::store::ledger::{Checkpointed, Outcome, UsageRecord};
use vocalis_server::store::postgres::PgStore;
use vocalis_server::store::report::{Cursor, UsageQuery};
use vocalis_server::store::tenants::PriceOverride;
use vocalis_server::store::{Admin, Store, StoreError};

use crate::pg_cluster::Cluster;

/// Two handles on one database (two replicas), and what keeps it alive.
struct Backend {
    name: &'static str,
    first: Arc<dyn Admin>,
    second: Arc<dyn Admin>,
    url: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    Backend {
        name: "sqlite",
        first: Arc::new(Store::open(dir.path()).unwrap()),
        second: Arc::new(Store::open(dir.path()).unwrap()),
        url: None,
        _dir: Some(dir),
    }
}

fn postgres() -> Backend {
    let url = Cluster::shared().create_database("contract");
    Backend {
        name: "postgres",
        first: Arc::new(PgStore::connect(&url).unwrap()),
        second: Arc::new(PgStore::connect(&url).unwrap()),
        url: Some(url),
        _dir: None,
    }
}

/// Runs `test` on both backends.
fn on_both(test: impl Fn(&Backend)) {
    for backend in [sqlite(), postgres()] {
        assert_eq!(backend.first.backend(), backend.name);
        test(&backend);
    }
}

fn record(session_id: &str, started_at: i64, cost_micros: i64) -> UsageRecord {
    UsageRecord {
        session_id: session_id.to_owned(),
        tenant: "acme".to_owned(),
        key_prefix: Some("sk_live_abcd1234".to_owned()),
        service: "stt".to_owned(),
        route: "/ws/stt".to_owned(),
        started_at,
        ended_at: started_at + 1,
        audio_seconds: 12.5,
        characters: 3,
        billed_seconds: 12.5,
        cost_micros,
        outcome: Outcome::Ok,
        error_code: None,
    }
}

#[test]
fn tenants_and_keys_work_alike_on_both_backends() {
    on_both(|b| {
        let store = &b.first;
        let first = store.ensure_tenant("acme", Some(25_000_000)).unwrap();
        assert_eq!(store.ensure_tenant("acme", Some(1)).unwrap(), first);
        assert_eq!(first.credit_micros, Some(25_000_000), "{}", b.name);
        assert_eq!(store.tenant("nobody").unwrap(), None);
        store.set_company("acme", Some("Acme Inc")).unwrap();
        store.set_credit("acme", Some(7)).unwrap();
        let prices = PriceOverride {
            stt_per_minute: Some(0.01),
            tts_per_1k_characters: None,
        };
        store.set_prices("acme", prices).unwrap();
        let acme = b.second.tenant("acme").unwrap().unwrap();
        assert_eq!(acme.company.as_deref(), Some("Acme Inc"));
        assert_eq!((acme.credit_micros, acme.prices), (Some(7), prices));
        assert!(matches!(
            store.set_prices(
                "acme",
                PriceOverride {
                    stt_per_minute: Some(-1.0),
                    ..prices
                }
            ),
            Err(StoreError::InvalidPrice(_))
        ));
        assert!(matches!(
            store.set_credit("nobody", None),
            Err(StoreError::UnknownTenant(_))
        ));
        assert!(matches!(
            store.create_key("nobody"),
            Err(StoreError::UnknownTenant(_))
        ));

        // A key made through one handle works through the other; forged,
        // malformed and (once revoked) real keys are refused by both.
        let key = store.create_key("acme").unwrap();
        let expected = Some(("acme".to_owned(), key.prefix.clone()));
        assert_eq!(b.second.verify_key(&key.secret).unwrap(), expected);
        let mut forged = key.secret.clone();
        let last = forged.pop().unwrap();
        forged.push(if last == 'a' { 'b' } else { 'a' });
        assert_eq!(b.second.verify_key(&forged).unwrap(), None);
        assert_eq!(b.second.verify_key("sk_live_short").unwrap(), None);
        let listed = b.second.list_keys().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (listed[0].prefix.as_str(), listed[0].revoked_at),
            (key.prefix.as_str(), None)
        );
        store.revoke_key(&key.prefix).unwrap();
        assert_eq!(b.second.verify_key(&key.secret).unwrap(), None);
        assert_eq!(store.verify_key(&key.secret).unwrap(), None);
        assert!(b.second.list_keys().unwrap()[0].revoked_at.is_some());
        assert!(matches!(
            b.second.revoke_key(&key.prefix),
            Err(StoreError::UnknownKey(_))
        ));
        store.ping().unwrap();
        store.probe_write().unwrap();
        b.second.probe_write().unwrap();
    });
}

#[test]
fn the_ledger_keeps_one_row_per_session_and_debits_exactly_on_both_backends() {
    on_both(|b| {
        let store = &b.first;
        store.ensure_tenant("acme", Some(1_000_000)).unwrap();
        assert_eq!(
            store.checkpoint_usage(&record("s1", 1, 500)).unwrap(),
            Checkpointed::Written(Some(999_500)),
            "{}",
            b.name
        );
        // The next checkpoint comes from the other handle (a retried write
        // on another connection): still one row, debited by the difference.
        assert_eq!(
            b.second.checkpoint_usage(&record("s1", 1, 1_000)).unwrap(),
            Checkpointed::Written(Some(999_000))
        );
        // The same checkpoint written twice (a retry after a lost answer)
        // debits nothing more.
        assert_eq!(
            store.checkpoint_usage(&record("s1", 1, 1_000)).unwrap(),
            Checkpointed::Written(Some(999_000))
        );
        let rows = store.usage_for_tenant("acme").unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].outcome, Outcome::Open);
        assert_eq!(
            store.record_usage(&record("s1", 1, 1_270)).unwrap(),
            Some(998_730)
        );
        assert_eq!(
            b.second.checkpoint_usage(&record("s1", 1, 5_000)).unwrap(),
            Checkpointed::AlreadyFinal
        );
        assert!(matches!(
            b.second.record_usage(&record("s1", 1, 5_000)),
            Err(StoreError::DuplicateUsage(_))
        ));
        assert_eq!(
            b.second.usage_for_tenant("acme").unwrap(),
            vec![record("s1", 1, 1_270)]
        );
        assert_eq!(
            b.second.tenant("acme").unwrap().unwrap().credit_micros,
            Some(998_730)
        );
        // Unlimited tenants stay unlimited.
        store.ensure_tenant("free", None).unwrap();
        let mut free = record("f1", 1, 9);
        free.tenant = "free".into();
        assert_eq!(store.record_usage(&free).unwrap(), None);
    });
}

#[test]
fn usage_pages_and_totals_are_the_same_on_both_backends() {
    on_both(|b| {
        let store = &b.first;
        store.ensure_tenant("acme", None).unwrap();
        store.ensure_tenant("other", None).unwrap();
        for (id, at) in [("c", 30), ("a", 10), ("b", 20), ("b2", 20), ("d", 40)] {
            store.record_usage(&record(id, at, 100)).unwrap();
        }
        let mut theirs = record("x", 20, 7);
        theirs.tenant = "other".into();
        store.record_usage(&theirs).unwrap();
        let query = |after: Option<Cursor>| UsageQuery {
            tenant: "acme".into(),
            from: Some(20),
            to: Some(40),
            limit: 2,
            after,
        };
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = b.second.usage_page(&query(after)).unwrap();
            assert_eq!(page.totals.sessions, 3, "{}", b.name);
            assert_eq!(page.totals.cost_micros, 300);
            assert_eq!(page.totals.characters, 9);
            assert_eq!(page.totals.audio_seconds, 37.5);
            seen.extend(page.records.iter().map(|r| r.session_id.clone()));
            match page.next {
                Some(next) => after = Some(Cursor::decode(&next.encode()).unwrap()),
                None => break,
            }
        }
        assert_eq!(seen, ["b", "b2", "c"], "{}", b.name);
        let empty = store
            .usage_page(&UsageQuery {
                tenant: "acme".into(),
                from: Some(50),
                to: None,
                limit: 10,
                after: None,
            })
            .unwrap();
        assert!(empty.records.is_empty());
        assert_eq!(empty.totals.sessions, 0);
        assert_eq!(empty.totals.cost_micros, 0);
    });
}

#[test]
fn concurrent_debits_from_two_handles_never_lose_a_debit_on_both_backends() {
    on_both(|b| {
        const THREADS: usize = 4;
        const SESSIONS: usize = 25;
        b.first.ensure_tenant("acme", Some(1_000_000)).unwrap();
        std::thread::scope(|scope| {
            for thread in 0..THREADS {
                let store = if thread % 2 == 0 { &b.first } else { &b.second };
                scope.spawn(move || {
                    for session in 0..SESSIONS {
                        let id = format!("t{thread}-s{session}");
                        // Two checkpoints and a final row per session.
                        store.checkpoint_usage(&record(&id, 1, 3)).unwrap();
                        store.checkpoint_usage(&record(&id, 1, 5)).unwrap();
                        store.record_usage(&record(&id, 1, 7)).unwrap();
                    }
                });
            }
        });
        let rows = b.first.usage_for_tenant("acme").unwrap();
        assert_eq!(rows.len(), THREADS * SESSIONS, "{}", b.name);
        let spent: i64 = rows.iter().map(|r| r.cost_micros).sum();
        assert_eq!(spent, (THREADS * SESSIONS * 7) as i64);
        assert_eq!(
            b.second.tenant("acme").unwrap().unwrap().credit_micros,
            Some(1_000_000 - spent),
            "{}: a debit was lost",
            b.name
        );
    });
}

#[test]
fn a_schema_newer_than_the_binary_is_refused_on_both_backends() {
    on_both(|b| match &b.url {
        Some(url) => {
            let mut admin = postgres::Client::connect(url, postgres::NoTls).unwrap();
            admin
                .execute("INSERT INTO vocalis_schema (version) VALUES (1000)", &[])
                .unwrap();
            match PgStore::connect(url) {
                Err(StoreError::SchemaTooNew { found, known }) => {
                    assert_eq!(found, 1000);
                    assert!(known < found);
                }
                other => panic!("expected SchemaTooNew, got {other:?}"),
            }
        }
        None => {
            let dir = b._dir.as_ref().unwrap().path();
            let conn = rusqlite::Connection::open(Store::db_path(dir)).unwrap();
            conn.pragma_update(None, "user_version", 1000).unwrap();
            assert!(matches!(
                Store::open(dir),
                Err(StoreError::SchemaTooNew { found: 1000, .. })
            ));
        }
    });
}
