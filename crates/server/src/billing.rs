//! Metering: one [`Meter`] per accepted session or request, turned into
//! exactly one usage row and, for WebSocket sessions, a billing summary.
//!
//! A meter is created when a session is accepted and consumed by
//! [`Meter::commit`], which writes the final row. Live sessions also call
//! [`Meter::checkpoint`] after every audio frame: each time another
//! [`CHECKPOINT_AUDIO_SECONDS`] of audio has accrued it writes the session's
//! row with outcome `open` (created at the first checkpoint, then updated in
//! place) and debits the tenant by the cost added since the previous write,
//! so a crash loses at most that much metering. The write runs on the
//! blocking pool and the session awaits it (one SQLite WAL commit, about a
//! millisecond, every 10 s of audio): once the session has answered a later
//! message, the checkpoint is durable.
//!
//! If a meter is dropped without being committed (a handler panicked, a task
//! was aborted), its `Drop` writes the final row anyway with outcome
//! `server_error`, so no accepted session goes unrecorded and none is
//! recorded twice (the ledger refuses a second final row for a session).
//!
//! Prices are the server's, replaced by the tenant's own where it has them
//! ([`PriceOverride`], read with the caller's credential).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::auth::Principal;
use crate::store::ledger::{Checkpointed, Outcome, UsageRecord};
use crate::store::tenants::{dollars_to_micros, micros_to_dollars, PriceOverride};
use crate::store::{SharedStorage, StoreError};
use crate::wire::sixtydb::BillingSummary;

/// Audio (received for STT, produced for TTS) between two checkpoints of a
/// live session, seconds.
pub const CHECKPOINT_AUDIO_SECONDS: f64 = 10.0;

/// What a session is billed for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Service {
    /// Speech-to-text, billed per minute of audio received.
    Stt,
    /// Text-to-speech, billed per 1 000 characters.
    Tts,
    /// Email, not billed by volume.
    Email,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Self::Stt => "stt",
            Self::Tts => "tts",
            Self::Email => "email",
        }
    }
}

/// Prices in USD.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    /// Per minute of STT audio.
    pub stt_per_minute: f64,
    /// Per 1 000 TTS characters.
    pub tts_per_1k_characters: f64,
}

impl Prices {
    /// These prices with a tenant's overrides in place.
    pub fn with_override(self, tenant: PriceOverride) -> Self {
        Self {
            stt_per_minute: tenant.stt_per_minute.unwrap_or(self.stt_per_minute),
            tts_per_1k_characters: tenant
                .tts_per_1k_characters
                .unwrap_or(self.tts_per_1k_characters),
        }
    }
}

/// A session being metered.
pub struct Meter {
    store: SharedStorage,
    prices: Prices,
    record: Option<UsageRecord>,
    service: Service,
    /// Audio at the last checkpoint, seconds.
    checkpointed_audio: f64,
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter")
            .field("prices", &self.prices)
            .field("record", &self.record)
            .field("checkpointed_audio", &self.checkpointed_audio)
            .finish_non_exhaustive()
    }
}

/// A committed session: the record as written and the tenant's new balance.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    /// The record written.
    pub record: UsageRecord,
    /// Balance after the debit, USD; `None` when unlimited.
    pub credit_balance: Option<f64>,
    /// The prices the session was billed at.
    pub prices: Prices,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A new random session id, e.g. `sess_3f9c…` (128 bits, hex).
pub fn new_session_id(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    // getrandom only fails when the OS has no entropy source at all.
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    format!("{prefix}_{}", hex_lower(&bytes))
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Meter {
    /// Starts metering a session accepted for `principal` on `route`, at
    /// `prices` with the tenant's overrides in place.
    pub fn start(
        store: SharedStorage,
        prices: Prices,
        principal: &Principal,
        service: Service,
        route: &str,
        session_id: String,
    ) -> Self {
        let now = unix_now();
        Self {
            store,
            prices: prices.with_override(principal.prices),
            service,
            checkpointed_audio: 0.0,
            record: Some(UsageRecord {
                session_id,
                tenant: principal.tenant.clone(),
                key_prefix: principal.key_prefix.clone(),
                service: service.name().to_owned(),
                route: route.to_owned(),
                started_at: now,
                ended_at: now,
                audio_seconds: 0.0,
                characters: 0,
                billed_seconds: 0.0,
                cost_micros: 0,
                outcome: Outcome::Ok,
                error_code: None,
            }),
        }
    }

    /// The session id.
    pub fn session_id(&self) -> &str {
        self.record.as_ref().map_or("", |r| r.session_id.as_str())
    }

    /// The prices this session is billed at.
    pub fn prices(&self) -> Prices {
        self.prices
    }

    /// Adds audio received (STT) or produced (TTS).
    pub fn add_audio_seconds(&mut self, seconds: f64) {
        if let Some(record) = &mut self.record {
            if seconds.is_finite() && seconds > 0.0 {
                record.audio_seconds += seconds;
            }
        }
    }

    /// Raises the audio total to `total` seconds (for sessions that count
    /// the audio they received themselves); a smaller total changes nothing.
    pub fn set_audio_seconds(&mut self, total: f64) {
        if let Some(record) = &mut self.record {
            if total.is_finite() && total > record.audio_seconds {
                record.audio_seconds = total;
            }
        }
    }

    /// Adds synthesized characters (TTS).
    pub fn add_characters(&mut self, characters: u64) {
        if let Some(record) = &mut self.record {
            record.characters = record.characters.saturating_add(characters as i64);
        }
    }

    /// Audio so far, seconds.
    pub fn audio_seconds(&self) -> f64 {
        self.record.as_ref().map_or(0.0, |r| r.audio_seconds)
    }

    /// Characters so far.
    pub fn characters(&self) -> u64 {
        self.record
            .as_ref()
            .map_or(0, |r| r.characters.max(0) as u64)
    }

    /// Whether [`CHECKPOINT_AUDIO_SECONDS`] more audio accrued since the
    /// last checkpoint.
    pub fn checkpoint_due(&self) -> bool {
        self.audio_seconds() - self.checkpointed_audio >= CHECKPOINT_AUDIO_SECONDS
    }

    /// Writes the open row when a checkpoint is due; otherwise returns at
    /// once (cheap enough to call after every frame). A failed write is
    /// logged and not retried before the next checkpoint: the final commit
    /// writes everything anyway.
    pub async fn checkpoint(&mut self) {
        if !self.checkpoint_due() {
            return;
        }
        let Some(snapshot) = self.priced(Outcome::Open, None) else {
            return;
        };
        self.checkpointed_audio = snapshot.audio_seconds;
        let store = self.store.clone();
        let written = tokio::task::spawn_blocking(move || store.checkpoint_usage(&snapshot))
            .await
            .unwrap_or_else(|e| Err(StoreError::Task(e.to_string())));
        match written {
            Ok(Checkpointed::Written(_)) => {
                tracing::debug!(audio_seconds = self.checkpointed_audio, "usage checkpoint");
            }
            Ok(Checkpointed::AlreadyFinal) => {}
            Err(error) => tracing::warn!(%error, "cannot write a usage checkpoint"),
        }
    }

    /// The record so far with its price and `outcome`; `None` once committed.
    fn priced(&self, outcome: Outcome, error_code: Option<&str>) -> Option<UsageRecord> {
        let mut record = self.record.clone()?;
        record.ended_at = unix_now();
        record.outcome = outcome;
        record.error_code = error_code.map(str::to_owned);
        // Billed to the millisecond; what was sent is billed, whatever the outcome.
        record.billed_seconds = (record.audio_seconds * 1000.0).round() / 1000.0;
        let cost = match self.service {
            Service::Stt => record.billed_seconds / 60.0 * self.prices.stt_per_minute,
            Service::Tts => record.characters as f64 / 1000.0 * self.prices.tts_per_1k_characters,
            Service::Email => 0.0,
        };
        record.cost_micros = dollars_to_micros(cost);
        Some(record)
    }

    fn finish_record(&mut self, outcome: Outcome, error_code: Option<&str>) -> Option<UsageRecord> {
        let record = self.priced(outcome, error_code);
        self.record = None;
        record
    }

    /// Writes the final usage row (blocking; call from `spawn_blocking`).
    pub fn commit_blocking(
        mut self,
        outcome: Outcome,
        error_code: Option<&str>,
    ) -> Result<Committed, StoreError> {
        let record = self
            .finish_record(outcome, error_code)
            .expect("a meter is committed once, by value");
        let balance = self.store.record_usage(&record)?;
        Ok(Committed {
            record,
            credit_balance: balance.map(micros_to_dollars),
            prices: self.prices,
        })
    }

    /// Writes the final usage row from async code.
    pub async fn commit(
        self,
        outcome: Outcome,
        error_code: Option<&str>,
    ) -> Result<Committed, StoreError> {
        let error_code = error_code.map(str::to_owned);
        tokio::task::spawn_blocking(move || self.commit_blocking(outcome, error_code.as_deref()))
            .await
            .unwrap_or_else(|e| Err(StoreError::Task(e.to_string())))
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        if let Some(record) = self.finish_record(Outcome::ServerError, Some("internal_error")) {
            tracing::warn!(session_id = %record.session_id, "session ended without committing usage; recording it now");
            if let Err(error) = self.store.record_usage(&record) {
                tracing::error!(session_id = %record.session_id, %error, "cannot record usage");
            }
        }
    }
}

impl Committed {
    /// The 60db `billing_summary` for this session.
    pub fn billing_summary(&self) -> BillingSummary {
        let record = &self.record;
        let prices = &self.prices;
        let tts = record.service == "tts";
        BillingSummary {
            session_id: record.session_id.clone(),
            total_duration_seconds: record.audio_seconds,
            billed_seconds: record.billed_seconds,
            characters: tts.then_some(record.characters.max(0) as u64),
            rate_per_minute: (!tts).then_some(prices.stt_per_minute),
            rate_per_1k_characters: tts.then_some(prices.tts_per_1k_characters),
            total_cost: micros_to_dollars(record.cost_micros),
            currency: "USD",
            credit_balance: self.credit_balance,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
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
            Arc::new(store.clone()),
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
        meter.checkpoint().await;
        assert!(store.usage_for_session("s3").unwrap().is_empty());
        assert_eq!(credit(&store), Some(1_000_000));

        // 10 s at $0.003/min = 500 micro-dollars, debited at once.
        meter.set_audio_seconds(10.0);
        meter.checkpoint().await;
        let rows = store.usage_for_session("s3").unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].outcome, Outcome::Open);
        assert_eq!((rows[0].audio_seconds, rows[0].cost_micros), (10.0, 500));
        assert_eq!(credit(&store), Some(999_500));

        // Not 10 s more yet: no write.
        meter.set_audio_seconds(19.0);
        meter.checkpoint().await;
        assert_eq!(
            store.usage_for_session("s3").unwrap()[0].audio_seconds,
            10.0
        );
        assert_eq!(credit(&store), Some(999_500));

        meter.set_audio_seconds(20.5);
        meter.checkpoint().await;
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
}
