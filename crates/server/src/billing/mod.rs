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
//!
//! A live session whose tenant has a credit limit also checkpoints as soon
//! as its cost since the last write reaches the balance that write left;
//! when a write leaves the balance at zero or below, the checkpoint says
//! so and the session ends (close 1008 `INSUFFICIENT_CREDITS`), so a balance
//! goes negative by at most about one audio frame's cost per session.
//!
//! # Layout
//! - [`ledger`]: retried writes, the ledger's health flag, detached writes.
//! - [`credit`]: admission of billable work (credit and ledger checks).

pub mod credit;
pub mod ledger;

use std::time::{SystemTime, UNIX_EPOCH};

use crate::auth::Principal;
use crate::error::SessionClose;
use crate::store::ledger::{Checkpointed, Outcome, UsageRecord};
use crate::store::tenants::{dollars_to_micros, micros_to_dollars, PriceOverride};
use crate::store::StoreError;
use crate::wire::sixtydb::BillingSummary;

pub use credit::{admit, Admission};
pub use ledger::Ledger;

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
    ledger: Ledger,
    prices: Prices,
    record: Option<UsageRecord>,
    service: Service,
    /// Audio at the last checkpoint, seconds.
    checkpointed_audio: f64,
    /// Cost at the last checkpoint, micro-dollars.
    checkpointed_cost: i64,
    /// The tenant's balance after the last write (or at admission),
    /// micro-dollars; `None` when unlimited or unknown.
    credit: Option<i64>,
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter")
            .field("prices", &self.prices)
            .field("record", &self.record)
            .field("checkpointed_audio", &self.checkpointed_audio)
            .field("credit", &self.credit)
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
        ledger: &Ledger,
        prices: Prices,
        principal: &Principal,
        service: Service,
        route: &str,
        session_id: String,
    ) -> Self {
        let now = unix_now();
        Self {
            ledger: ledger.clone(),
            prices: prices.with_override(principal.prices),
            service,
            checkpointed_audio: 0.0,
            checkpointed_cost: 0,
            credit: None,
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

    /// Limits a live session to the tenant's balance at admission
    /// (micro-dollars, `None`: unlimited): a checkpoint becomes due as soon
    /// as the session's cost reaches it.
    pub fn limit_credit(&mut self, credit_micros: Option<i64>) {
        self.credit = credit_micros;
    }

    /// The cost so far, micro-dollars.
    fn cost_micros(&self) -> i64 {
        let Some(record) = &self.record else {
            return 0;
        };
        // Billed to the millisecond; what was sent is billed, whatever the outcome.
        let billed_seconds = (record.audio_seconds * 1000.0).round() / 1000.0;
        let cost = match self.service {
            Service::Stt => billed_seconds / 60.0 * self.prices.stt_per_minute,
            Service::Tts => record.characters as f64 / 1000.0 * self.prices.tts_per_1k_characters,
            Service::Email => 0.0,
        };
        dollars_to_micros(cost)
    }

    /// Whether [`CHECKPOINT_AUDIO_SECONDS`] more audio accrued since the
    /// last checkpoint, or the cost since then used up the tenant's credit.
    pub fn checkpoint_due(&self) -> bool {
        self.audio_seconds() - self.checkpointed_audio >= CHECKPOINT_AUDIO_SECONDS
            || self.credit.is_some_and(|credit| {
                let added = self.cost_micros() - self.checkpointed_cost;
                added > 0 && added >= credit
            })
    }

    /// Writes the open row when a checkpoint is due; otherwise returns at
    /// once (cheap enough to call after every frame). The write is retried
    /// (see [`ledger`]); the session must end when it says so: with
    /// [`SessionClose::InsufficientCredits`] when the write left the tenant
    /// without credit, with [`SessionClose::LedgerUnavailable`] when usage
    /// cannot be written.
    pub async fn checkpoint(&mut self) -> Result<(), SessionClose> {
        if !self.checkpoint_due() {
            return Ok(());
        }
        let Some(snapshot) = self.priced(Outcome::Open, None) else {
            return Ok(());
        };
        self.checkpointed_audio = snapshot.audio_seconds;
        self.checkpointed_cost = snapshot.cost_micros;
        let ledger = self.ledger.clone();
        let written = tokio::task::spawn_blocking(move || ledger.checkpoint_blocking(&snapshot))
            .await
            .unwrap_or_else(|e| Err(StoreError::Task(e.to_string())));
        match written {
            Ok(Checkpointed::Written(balance)) => {
                tracing::debug!(
                    audio_seconds = self.checkpointed_audio,
                    ?balance,
                    "usage checkpoint"
                );
                self.credit = balance;
                credit::check(balance).map_err(|_| SessionClose::InsufficientCredits)
            }
            Ok(Checkpointed::AlreadyFinal) => Ok(()),
            Err(error) => {
                tracing::error!(%error, "cannot write a usage checkpoint");
                Err(SessionClose::LedgerUnavailable)
            }
        }
    }

    /// The record so far with its price and `outcome`; `None` once committed.
    fn priced(&self, outcome: Outcome, error_code: Option<&str>) -> Option<UsageRecord> {
        let mut record = self.record.clone()?;
        record.ended_at = unix_now();
        record.outcome = outcome;
        record.error_code = error_code.map(str::to_owned);
        record.billed_seconds = (record.audio_seconds * 1000.0).round() / 1000.0;
        record.cost_micros = self.cost_micros();
        Some(record)
    }

    fn finish_record(&mut self, outcome: Outcome, error_code: Option<&str>) -> Option<UsageRecord> {
        let record = self.priced(outcome, error_code);
        self.record = None;
        record
    }

    /// Writes the final usage row (blocking, retried; call from `spawn_blocking`).
    pub fn commit_blocking(
        mut self,
        outcome: Outcome,
        error_code: Option<&str>,
    ) -> Result<Committed, StoreError> {
        let record = self
            .finish_record(outcome, error_code)
            .expect("a meter is committed once, by value");
        let balance = self.ledger.record_blocking(&record)?;
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

    /// Writes the final usage row without waiting for it (a request
    /// dropped before it finished): see [`Ledger::record_detached`].
    pub fn commit_detached(mut self, outcome: Outcome, error_code: Option<&str>) {
        if let Some(record) = self.finish_record(outcome, error_code) {
            self.ledger.record_detached(record);
        }
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        if let Some(record) = self.finish_record(Outcome::ServerError, Some("internal_error")) {
            tracing::warn!(session_id = %record.session_id, "session ended without committing usage; recording it now");
            self.ledger.record_detached(record);
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
mod tests;
