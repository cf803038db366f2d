//! Admission of billable work: the one check every billable route makes
//! before serving (REST requests, WebSocket upgrades).
//!
//! Work is refused with `503 ledger_unavailable` while usage cannot be
//! recorded, and with `402 insufficient_credits` when the tenant has a
//! credit limit and its balance is zero or less. Tenants without a limit
//! (`credit_micros` NULL) and callers with no tenant row (JWT subjects not
//! registered) are served as unlimited. A balance can still go below zero by
//! the cost of the work admitted last: a request's cost is known only once
//! it is done, and a live session is stopped at the checkpoint where its
//! credit runs out (see [`super::Meter::checkpoint`]).

use crate::auth::Principal;
use crate::error::ApiError;
use crate::store::StoreError;

use super::ledger::Ledger;

/// What admission found out about the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// The balance at admission, micro-dollars; `None` when unlimited.
    pub credit_micros: Option<i64>,
}

/// Admits billable work for `principal`, or says why not.
pub async fn admit(ledger: &Ledger, principal: &Principal) -> Result<Admission, ApiError> {
    ledger.ensure_writable().await?;
    let store = ledger.store().clone();
    let tenant = principal.tenant.clone();
    let found = tokio::task::spawn_blocking(move || store.tenant(&tenant))
        .await
        .unwrap_or_else(|e| Err(StoreError::Task(e.to_string())))
        .map_err(|e| match e.is_unavailable() {
            true => ApiError::LedgerUnavailable(format!(
                "the database cannot be reached, so no billable work is accepted; \
                 retry shortly ({e})"
            )),
            false => ApiError::Internal(format!("cannot read the tenant: {e}")),
        })?;
    let credit_micros = found.and_then(|t| t.credit_micros);
    check(credit_micros)?;
    Ok(Admission { credit_micros })
}

/// Refuses a balance of zero or less.
pub fn check(credit_micros: Option<i64>) -> Result<(), ApiError> {
    match credit_micros {
        Some(balance) if balance <= 0 => Err(ApiError::InsufficientCredits(
            "the tenant has no credit left".into(),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::tenants::PriceOverride;
    use crate::store::Store;

    fn principal(tenant: &str) -> Principal {
        Principal {
            tenant: tenant.into(),
            key_prefix: None,
            prices: PriceOverride::default(),
        }
    }

    #[tokio::test]
    async fn only_tenants_with_a_limit_and_no_credit_are_refused() {
        let store = Store::open_in_memory().unwrap();
        store.ensure_tenant("broke", Some(0)).unwrap();
        store.ensure_tenant("owing", Some(-5)).unwrap();
        store.ensure_tenant("paid", Some(1)).unwrap();
        store.ensure_tenant("unlimited", None).unwrap();
        let ledger = Ledger::new(Arc::new(store), Default::default());
        for broke in ["broke", "owing"] {
            let refused = admit(&ledger, &principal(broke)).await.unwrap_err();
            assert_eq!(refused.status().as_u16(), 402);
            assert_eq!(refused.code(), "insufficient_credits");
        }
        let paid = admit(&ledger, &principal("paid")).await.unwrap();
        assert_eq!(paid.credit_micros, Some(1));
        for unlimited in ["unlimited", "not-registered"] {
            let admitted = admit(&ledger, &principal(unlimited)).await.unwrap();
            assert_eq!(admitted.credit_micros, None);
        }
    }
}
