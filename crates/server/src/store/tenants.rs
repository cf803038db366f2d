//! Tenants: who is billed, their company name, their credit balance and
//! their price overrides.
//!
//! Balances and costs are kept in integer micro-dollars so sums never drift;
//! prices are rates (USD per minute, per 1 000 characters) and stay `f64`,
//! like the server's configured prices they override.

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
    /// Prices that replace the server's for this tenant.
    pub prices: PriceOverride,
}

/// A tenant's own prices, USD; `None` keeps the server's configured price.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PriceOverride {
    /// Per minute of STT audio.
    pub stt_per_minute: Option<f64>,
    /// Per 1 000 TTS characters.
    pub tts_per_1k_characters: Option<f64>,
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
        let conn = self.read_conn();
        Ok(conn
            .query_row(
                "SELECT name, company, credit_micros, stt_price_per_minute,
                    tts_price_per_1k_characters
                 FROM tenants WHERE name = ?1",
                params![name],
                |row| {
                    Ok(Tenant {
                        name: row.get(0)?,
                        company: row.get(1)?,
                        credit_micros: row.get(2)?,
                        prices: PriceOverride {
                            stt_per_minute: row.get(3)?,
                            tts_per_1k_characters: row.get(4)?,
                        },
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

    /// Sets a tenant's price overrides (both columns; `None` clears one).
    pub fn set_prices(&self, name: &str, prices: PriceOverride) -> Result<(), StoreError> {
        for price in [prices.stt_per_minute, prices.tts_per_1k_characters]
            .into_iter()
            .flatten()
        {
            if !price.is_finite() || price < 0.0 {
                return Err(StoreError::InvalidPrice(price));
            }
        }
        let changed = self.conn().execute(
            "UPDATE tenants SET stt_price_per_minute = ?2, tts_price_per_1k_characters = ?3
             WHERE name = ?1",
            params![name, prices.stt_per_minute, prices.tts_per_1k_characters],
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
    fn price_overrides_are_stored_cleared_and_checked() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(
            store.ensure_tenant("acme", None).unwrap().prices,
            PriceOverride::default()
        );
        let prices = PriceOverride {
            stt_per_minute: Some(0.01),
            tts_per_1k_characters: None,
        };
        store.set_prices("acme", prices).unwrap();
        assert_eq!(store.tenant("acme").unwrap().unwrap().prices, prices);
        store.set_prices("acme", PriceOverride::default()).unwrap();
        assert_eq!(
            store.tenant("acme").unwrap().unwrap().prices,
            PriceOverride::default()
        );
        let negative = PriceOverride {
            tts_per_1k_characters: Some(-1.0),
            ..PriceOverride::default()
        };
        assert!(matches!(
            store.set_prices("acme", negative),
            Err(StoreError::InvalidPrice(_))
        ));
        assert!(matches!(
            store.set_prices("nobody", prices),
            Err(StoreError::UnknownTenant(_))
        ));
    }

    #[test]
    fn money_conversions_round_trip() {
        assert_eq!(dollars_to_micros(25.0), 25_000_000);
        assert_eq!(dollars_to_micros(0.0000006), 1);
        assert_eq!(micros_to_dollars(1_500_000), 1.5);
    }
}
