//! Metering: one [`Meter`] per accepted session or request, turned into
//! exactly one usage record and, for WebSocket sessions, a billing summary.
//!
//! A meter is created when a session is accepted and consumed by
//! [`Meter::commit`]. If it is dropped without being committed (a handler
//! panicked, a task was aborted), its `Drop` writes the record anyway with
//! outcome `server_error`, so no accepted session goes unrecorded and none is
//! recorded twice (the ledger refuses a second row for the same session id).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::auth::Principal;
use crate::store::ledger::{Outcome, UsageRecord};
use crate::store::tenants::{dollars_to_micros, micros_to_dollars};
use crate::store::{Store, StoreError};
use crate::wire::sixtydb::BillingSummary;

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

/// A session being metered.
#[derive(Debug)]
pub struct Meter {
    store: Store,
    prices: Prices,
    record: Option<UsageRecord>,
    service: Service,
}

/// A committed session: the record as written and the tenant's new balance.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    /// The record written.
    pub record: UsageRecord,
    /// Balance after the debit, USD; `None` when unlimited.
    pub credit_balance: Option<f64>,
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
    /// Starts metering a session accepted for `principal` on `route`.
    pub fn start(
        store: Store,
        prices: Prices,
        principal: &Principal,
        service: Service,
        route: &str,
        session_id: String,
    ) -> Self {
        let now = unix_now();
        Self {
            store,
            prices,
            service,
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

    /// Adds audio received (STT) or produced (TTS).
    pub fn add_audio_seconds(&mut self, seconds: f64) {
        if let Some(record) = &mut self.record {
            if seconds.is_finite() && seconds > 0.0 {
                record.audio_seconds += seconds;
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

    fn finish_record(&mut self, outcome: Outcome, error_code: Option<&str>) -> Option<UsageRecord> {
        let mut record = self.record.take()?;
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

    /// Writes the usage record (blocking; call from `spawn_blocking`).
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
        })
    }

    /// Writes the usage record from async code.
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
    pub fn billing_summary(&self, prices: &Prices) -> BillingSummary {
        let record = &self.record;
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
    use super::*;

    const PRICES: Prices = Prices {
        stt_per_minute: 0.003,
        tts_per_1k_characters: 0.015,
    };

    fn principal() -> Principal {
        Principal {
            tenant: "acme".into(),
            key_prefix: None,
        }
    }

    fn store() -> Store {
        let store = Store::open_in_memory().unwrap();
        store.ensure_tenant("acme", Some(1_000_000)).unwrap();
        store
    }

    #[test]
    fn stt_session_is_billed_per_second_of_audio() {
        let store = store();
        let mut meter = Meter::start(
            store.clone(),
            PRICES,
            &principal(),
            Service::Stt,
            "/ws/stt",
            "s1".into(),
        );
        meter.add_audio_seconds(12.4);
        let committed = meter.commit_blocking(Outcome::Ok, None).unwrap();
        let summary = committed.billing_summary(&PRICES);
        assert_eq!(summary.total_duration_seconds, 12.4);
        assert_eq!(summary.total_cost, 0.00062);
        assert_eq!(summary.credit_balance, Some(0.99938));
        assert_eq!(store.usage_for_session("s1").unwrap().len(), 1);
    }

    #[test]
    fn tts_session_is_billed_per_character() {
        let store = store();
        let mut meter = Meter::start(
            store,
            PRICES,
            &principal(),
            Service::Tts,
            "/ws/tts",
            "t1".into(),
        );
        meter.add_characters(2000);
        meter.add_audio_seconds(3.0);
        let summary = meter
            .commit_blocking(Outcome::Ok, None)
            .unwrap()
            .billing_summary(&PRICES);
        assert_eq!(summary.total_cost, 0.03);
        assert_eq!(summary.characters, Some(2000));
        assert_eq!(summary.rate_per_minute, None);
    }

    #[test]
    fn a_dropped_meter_still_records_exactly_once() {
        let store = store();
        {
            let mut meter = Meter::start(
                store.clone(),
                PRICES,
                &principal(),
                Service::Stt,
                "/ws/stt",
                "s2".into(),
            );
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
