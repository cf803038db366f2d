//! Tests of metering: prices, checkpoints, credit limits, the drop path.

use std::sync::Arc;

use super::*;
use crate::billing::ledger::Ledger;
use crate::store::Store;

const PRICES: Prices = Prices {
    stt_per_minute: 0.003,
    tts_per_1k_characters: 0.015,
};

fn principal() -> Principal {
    Principal {
        tenant: "acme".into(),
        key_prefix: None,
        prices: PriceOverride::default(),
    }
}

fn store() -> Store {
    let store = Store::open_in_memory().unwrap();
    store.ensure_tenant("acme", Some(1_000_000)).unwrap();
    store
}

fn meter(store: &Store, principal: &Principal, service: Service, id: &str) -> Meter {
    Meter::start(
        &Ledger::new(Arc::new(store.clone()), Default::default()),
        PRICES,
        principal,
        service,
        "/ws/test",
        id.into(),
    )
}

fn credit(store: &Store) -> Option<i64> {
    store.tenant("acme").unwrap().unwrap().credit_micros
}

#[test]
fn stt_session_is_billed_per_second_of_audio() {
    let store = store();
    let mut meter = meter(&store, &principal(), Service::Stt, "s1");
    meter.add_audio_seconds(12.4);
    let committed = meter.commit_blocking(Outcome::Ok, None).unwrap();
    let summary = committed.billing_summary();
    assert_eq!(summary.total_duration_seconds, 12.4);
    assert_eq!(summary.total_cost, 0.00062);
    assert_eq!(summary.credit_balance, Some(0.99938));
    assert_eq!(store.usage_for_session("s1").unwrap().len(), 1);
}

#[test]
fn tts_session_is_billed_per_character() {
    let store = store();
    let mut meter = meter(&store, &principal(), Service::Tts, "t1");
    meter.add_characters(2000);
    meter.add_audio_seconds(3.0);
    let summary = meter
        .commit_blocking(Outcome::Ok, None)
        .unwrap()
        .billing_summary();
    assert_eq!(summary.total_cost, 0.03);
    assert_eq!(summary.characters, Some(2000));
    assert_eq!(summary.rate_per_minute, None);
}

#[tokio::test]
async fn checkpoints_debit_deltas_that_add_up_to_the_final_cost() {
    let store = store();
    let mut meter = meter(&store, &principal(), Service::Stt, "s3");
    meter.set_audio_seconds(9.9);
    meter.checkpoint().await.unwrap();
    assert!(store.usage_for_session("s3").unwrap().is_empty());
    assert_eq!(credit(&store), Some(1_000_000));

    // 10 s at $0.003/min = 500 micro-dollars, debited at once.
    meter.set_audio_seconds(10.0);
    meter.checkpoint().await.unwrap();
    let rows = store.usage_for_session("s3").unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].outcome, Outcome::Open);
    assert_eq!((rows[0].audio_seconds, rows[0].cost_micros), (10.0, 500));
    assert_eq!(credit(&store), Some(999_500));

    // Not 10 s more yet: no write.
    meter.set_audio_seconds(19.0);
    meter.checkpoint().await.unwrap();
    assert_eq!(
        store.usage_for_session("s3").unwrap()[0].audio_seconds,
        10.0
    );
    assert_eq!(credit(&store), Some(999_500));

    meter.set_audio_seconds(20.5);
    meter.checkpoint().await.unwrap();
    assert_eq!(store.usage_for_session("s3").unwrap()[0].cost_micros, 1_025);
    assert_eq!(credit(&store), Some(998_975));

    // The final write debits only the rest: 25.4 s = 1 270 in total.
    meter.set_audio_seconds(25.4);
    let committed = meter.commit(Outcome::Cancelled, None).await.unwrap();
    assert_eq!(committed.record.cost_micros, 1_270);
    assert_eq!(committed.credit_balance, Some(0.99873));
    assert_eq!(credit(&store), Some(1_000_000 - 1_270));
    let rows = store.usage_for_session("s3").unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].outcome, Outcome::Cancelled);
    assert_eq!(rows[0].audio_seconds, 25.4);
}

#[test]
fn tenant_prices_override_the_servers() {
    let store = store();
    let mut principal = principal();
    principal.prices = PriceOverride {
        stt_per_minute: Some(0.01),
        tts_per_1k_characters: None,
    };
    let mut stt = meter(&store, &principal, Service::Stt, "s4");
    assert_eq!(
        stt.prices(),
        Prices {
            stt_per_minute: 0.01,
            tts_per_1k_characters: 0.015
        }
    );
    stt.add_audio_seconds(60.0);
    let summary = stt
        .commit_blocking(Outcome::Ok, None)
        .unwrap()
        .billing_summary();
    assert_eq!(summary.rate_per_minute, Some(0.01));
    assert_eq!(summary.total_cost, 0.01);

    principal.prices = PriceOverride {
        stt_per_minute: None,
        tts_per_1k_characters: Some(0.02),
    };
    let mut tts = meter(&store, &principal, Service::Tts, "t4");
    tts.add_characters(500);
    let summary = tts
        .commit_blocking(Outcome::Ok, None)
        .unwrap()
        .billing_summary();
    assert_eq!(summary.rate_per_1k_characters, Some(0.02));
    assert_eq!(summary.total_cost, 0.01);
    assert_eq!(credit(&store), Some(1_000_000 - 20_000));
}

#[test]
fn a_dropped_meter_still_records_exactly_once() {
    let store = store();
    {
        let mut meter = meter(&store, &principal(), Service::Stt, "s2");
        meter.add_audio_seconds(1.0);
    }
    let records = store.usage_for_session("s2").unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].outcome, Outcome::ServerError);
    assert_eq!(records[0].audio_seconds, 1.0);
}

#[test]
fn session_ids_are_unique_and_prefixed() {
    let a = new_session_id("sess");
    assert!(a.starts_with("sess_") && a.len() == 5 + 32, "{a}");
    assert_ne!(a, new_session_id("sess"));
}

#[tokio::test]
async fn a_session_stops_at_the_checkpoint_where_its_credit_runs_out() {
    let store = Store::open_in_memory().unwrap();
    // 600 micro-dollars: 12 s at $0.003/min (50 per second).
    store.ensure_tenant("acme", Some(600)).unwrap();
    let mut meter = meter(&store, &principal(), Service::Stt, "s5");
    meter.limit_credit(Some(600));
    meter.set_audio_seconds(9.0);
    meter.checkpoint().await.unwrap();
    assert!(store.usage_for_session("s5").unwrap().is_empty());
    // The 10 s checkpoint: 500 debited, 100 left.
    meter.set_audio_seconds(10.0);
    meter.checkpoint().await.unwrap();
    assert_eq!(credit(&store), Some(100));
    meter.set_audio_seconds(11.0);
    assert!(!meter.checkpoint_due());
    // The cost since then reaches what was left: checkpoint and stop.
    meter.set_audio_seconds(12.0);
    assert!(meter.checkpoint_due());
    assert_eq!(
        meter.checkpoint().await,
        Err(SessionClose::InsufficientCredits)
    );
    assert_eq!(credit(&store), Some(0));
    meter.set_audio_seconds(12.02);
    let committed = meter
        .commit(
            SessionClose::InsufficientCredits.outcome(),
            Some("insufficient_credits"),
        )
        .await
        .unwrap();
    assert_eq!(committed.credit_balance, Some(-0.000001));
    assert_eq!(store.usage_for_session("s5").unwrap().len(), 1);
}

/// A store whose writes fail while `broken` is set (a full disk, say).
struct Flaky {
    store: Store,
    broken: std::sync::atomic::AtomicBool,
    failures: std::sync::atomic::AtomicU32,
}

impl Flaky {
    fn check(&self) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        if self.broken.load(Ordering::SeqCst) {
            self.failures.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
                None,
            )));
        }
        Ok(())
    }
}

impl crate::store::Storage for Flaky {
    fn tenant(&self, name: &str) -> Result<Option<crate::store::tenants::Tenant>, StoreError> {
        self.store.tenant(name)
    }
    fn ensure_tenant(
        &self,
        name: &str,
        credit: Option<i64>,
    ) -> Result<crate::store::tenants::Tenant, StoreError> {
        self.store.ensure_tenant(name, credit)
    }
    fn create_key(&self, tenant: &str) -> Result<crate::store::keys::NewApiKey, StoreError> {
        self.store.create_key(tenant)
    }
    fn list_keys(&self) -> Result<Vec<crate::store::keys::ApiKeyInfo>, StoreError> {
        self.store.list_keys()
    }
    fn verify_key(&self, key: &str) -> Result<Option<(String, String)>, StoreError> {
        self.store.verify_key(key)
    }
    fn checkpoint_usage(&self, record: &UsageRecord) -> Result<Checkpointed, StoreError> {
        self.check()?;
        self.store.checkpoint_usage(record)
    }
    fn record_usage(&self, record: &UsageRecord) -> Result<Option<i64>, StoreError> {
        self.check()?;
        self.store.record_usage(record)
    }
    fn usage_for_tenant(&self, tenant: &str) -> Result<Vec<UsageRecord>, StoreError> {
        self.store.usage_for_tenant(tenant)
    }
    fn usage_page(
        &self,
        query: &crate::store::report::UsageQuery,
    ) -> Result<crate::store::report::UsagePage, StoreError> {
        self.store.usage_page(query)
    }
    fn probe_write(&self) -> Result<(), StoreError> {
        self.check()?;
        self.store.probe_write()
    }
}

#[tokio::test]
async fn failed_writes_are_retried_then_close_the_ledger_until_a_probe_succeeds() {
    use std::sync::atomic::Ordering;
    let flaky = Arc::new(Flaky {
        store: store(),
        broken: true.into(),
        failures: 0.into(),
    });
    let ledger =
        Ledger::new(flaky.clone(), Default::default()).probing_every(std::time::Duration::ZERO);
    let mut session = Meter::start(
        &ledger,
        PRICES,
        &principal(),
        Service::Stt,
        "/ws/stt",
        "s6".into(),
    );
    session.set_audio_seconds(10.0);
    assert_eq!(
        session.checkpoint().await,
        Err(SessionClose::LedgerUnavailable)
    );
    assert_eq!(
        flaky.failures.load(Ordering::SeqCst),
        crate::billing::ledger::WRITE_ATTEMPTS
    );
    assert!(!ledger.is_writable());
    let refused = credit::admit(&ledger, &principal()).await.unwrap_err();
    assert_eq!(
        (refused.status().as_u16(), refused.code()),
        (503, "ledger_unavailable")
    );

    // Space is back: the next admission's probe opens the ledger again,
    // and the session's one row is written.
    flaky.broken.store(false, Ordering::SeqCst);
    credit::admit(&ledger, &principal()).await.unwrap();
    assert!(ledger.is_writable());
    session.commit(Outcome::Ok, None).await.unwrap();
    let rows = flaky.store.usage_for_session("s6").unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].audio_seconds, 10.0);
}

#[tokio::test]
async fn a_meter_dropped_inside_the_runtime_is_written_off_the_runtime_and_tracked() {
    let store = store();
    let tasks = tokio_util::task::TaskTracker::new();
    let ledger = Ledger::new(Arc::new(store.clone()), tasks.clone());
    {
        let mut meter = Meter::start(
            &ledger,
            PRICES,
            &principal(),
            Service::Stt,
            "/ws/stt",
            "s7".into(),
        );
        meter.add_audio_seconds(2.0);
    }
    tasks.close();
    tasks.wait().await;
    let rows = store.usage_for_session("s7").unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].outcome, Outcome::ServerError);
}
