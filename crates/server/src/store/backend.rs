//! Choosing the backend: [`open`] returns the PostgreSQL store when a
//! `postgres://` URL is configured, else the SQLite store in the data dir.
//! [`Admin`] is what `vocalis keys` needs beyond [`Storage`]; both backends
//! implement it, so the commands work against either.

use std::path::Path;
use std::sync::Arc;

use super::tenants::PriceOverride;
use super::{Storage, Store, StoreError};

/// Administration of tenants and keys (`vocalis keys`), on either backend.
pub trait Admin: Storage {
    /// Revokes the unrevoked key with this prefix.
    fn revoke_key(&self, prefix: &str) -> Result<(), StoreError>;
    /// Sets a tenant's company name.
    fn set_company(&self, name: &str, company: Option<&str>) -> Result<(), StoreError>;
    /// Sets a tenant's credit balance (`None`: unlimited).
    fn set_credit(&self, name: &str, credit_micros: Option<i64>) -> Result<(), StoreError>;
    /// Sets a tenant's price overrides.
    fn set_prices(&self, name: &str, prices: PriceOverride) -> Result<(), StoreError>;
}

/// Storage with its administration, shared.
pub type SharedAdmin = Arc<dyn Admin>;

impl Admin for Store {
    fn revoke_key(&self, prefix: &str) -> Result<(), StoreError> {
        Store::revoke_key(self, prefix)
    }

    fn set_company(&self, name: &str, company: Option<&str>) -> Result<(), StoreError> {
        Store::set_company(self, name, company)
    }

    fn set_credit(&self, name: &str, credit_micros: Option<i64>) -> Result<(), StoreError> {
        Store::set_credit(self, name, credit_micros)
    }

    fn set_prices(&self, name: &str, prices: PriceOverride) -> Result<(), StoreError> {
        Store::set_prices(self, name, prices)
    }
}

/// Whether `url` selects the PostgreSQL backend.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Opens the configured backend and migrates it: PostgreSQL at
/// `database_url` when given, else SQLite in `data_dir`. Blocks (connects,
/// migrates): call it from a blocking thread in async code.
pub fn open(database_url: Option<&str>, data_dir: &Path) -> Result<SharedAdmin, StoreError> {
    match database_url.map(str::trim).filter(|url| !url.is_empty()) {
        Some(url) if is_postgres_url(url) => Ok(Arc::new(super::postgres::PgStore::connect(url)?)),
        Some(_) => Err(StoreError::InvalidUrl(
            "expected postgres://user:password@host:port/database".into(),
        )),
        None => Ok(Arc::new(Store::open(data_dir)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_url_is_sqlite_and_a_foreign_url_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(open(None, dir.path()).unwrap().backend(), "sqlite");
        assert_eq!(open(Some("  "), dir.path()).unwrap().backend(), "sqlite");
        for url in ["mysql://db/vocalis", "sqlite:///x"] {
            assert!(matches!(
                open(Some(url), dir.path()),
                Err(StoreError::InvalidUrl(_))
            ));
        }
        assert!(matches!(
            super::super::postgres::PgStore::connect("postgres://host:notaport/db"),
            Err(StoreError::InvalidUrl(_))
        ));
        assert!(is_postgres_url("postgresql://u@h/db"));
    }

    #[test]
    fn only_connection_failures_are_unavailable() {
        assert!(StoreError::Unavailable("timed out".into()).is_unavailable());
        assert!(!StoreError::UnknownTenant("acme".into()).is_unavailable());
        assert!(!StoreError::DuplicateUsage("s1".into()).is_unavailable());
    }
}
