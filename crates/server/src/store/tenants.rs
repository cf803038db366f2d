//! Tenants: who is billed, their company name, and their credit balance.
//!
//! Money is kept in integer micro-dollars so sums never drift.

use rusqlite::{params, OptionalExtension};

use super::{now_unix, Store, StoreError};

/// One tenant as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    /// Unique name, e.g. `acme`; JWT `sub` claims name it.
    pub name: String,
    /// Company name appended to email subjects.
    pub company: Option<String>,
    /// Remaining credit in micro-dollars; `None` is unlimited.
    pub credit_micros: Option<i64>,
}

impl Tenant {
    /// The balance in dollars, `None` when unlimited.
    pub fn credit_balance(&self) -> Option<f64> {
        self.credit_micros.map(micros_to_dollars)
    }
}

/// Converts dollars to micro-dollars, rounding to the nearest micro-dollar.
pub fn dollars_to_micros(dollars: f64) -> i64 {
    (dollars * 1_000_000.0).round() as i64
}

/// Converts micro-dollars to dollars.
pub fn micros_to_dollars(micros: i64) -> f64 {
    micros as f64 / 1_000_000.0
}

impl Store {
    /// Creates the tenant if it does not exist; returns it either way. A
    /// given credit replaces the balance only when the tenant is new.
    pub fn ensure_tenant(
        &self,
        name: &str,
        credit_micros: Option<i64>,
    ) -> Result<Tenant, StoreError> {
        {
            let conn = self.conn();
            conn.execute(
                "INSERT OR IGNORE INTO tenants (name, credit_micros, created_at) VALUES (?1, ?2, ?3)",
                params![name, credit_micros, now_unix()],
            )?;
        }
        self.tenant(name)?
            .ok_or_else(|| StoreError::UnknownTenant(name.to_owned()))
    }

    /// Looks a tenant up by name.
    pub fn tenant(&self, name: &str) -> Result<Option<Tenant>, StoreError> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT name, company, credit_micros FROM tenants WHERE name = ?1",
                params![name],
                |row| {
                    Ok(Tenant {
                        name: row.get(0)?,
                        company: row.get(1)?,
                        credit_micros: row.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Sets a tenant's company name.
    pub fn set_company(&self, name: &str, company: Option<&str>) -> Result<(), StoreError> {
        let changed = self.conn().execute(
            "UPDATE tenants SET company = ?2 WHERE name = ?1",
            params![name, company],
        )?;
        if changed == 0 {
            return Err(StoreError::UnknownTenant(name.to_owned()));
        }
        Ok(())
    }

    /// Sets a tenant's credit balance (`None`: unlimited).
    pub fn set_credit(&self, name: &str, credit_micros: Option<i64>) -> Result<(), StoreError> {
        let changed = self.conn().execute(
            "UPDATE tenants SET credit_micros = ?2 WHERE name = ?1",
            params![name, credit_micros],
        )?;
        if changed == 0 {
            return Err(StoreError::UnknownTenant(name.to_owned()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_tenant_is_idempotent_and_keeps_the_first_credit() {
        let store = Store::open_in_memory().unwrap();
        let first = store.ensure_tenant("acme", Some(25_000_000)).unwrap();
        let again = store.ensure_tenant("acme", Some(1)).unwrap();
        assert_eq!(first, again);
        assert_eq!(again.credit_balance(), Some(25.0));
    }

    #[test]
    fn money_conversions_round_trip() {
        assert_eq!(dollars_to_micros(25.0), 25_000_000);
        assert_eq!(dollars_to_micros(0.0000006), 1);
        assert_eq!(micros_to_dollars(1_500_000), 1.5);
    }
}
