//! Tenants and API keys in PostgreSQL: the same statements as the SQLite
//! store's (`tenants`, `keys`), in PostgreSQL's dialect. Keys are read on
//! every check, never cached, so a revocation made through any replica (or
//! `vocalis keys revoke`) holds everywhere from the next request.

use ::postgres::{Client, Row};

use crate::store::keys::{self, ApiKeyInfo, NewApiKey};
use crate::store::tenants::{PriceOverride, Tenant};
use crate::store::{now_unix, StoreError};

fn tenant_from_row(row: &Row) -> Tenant {
    Tenant {
        name: row.get(0),
        company: row.get(1),
        credit_micros: row.get(2),
        prices: PriceOverride {
            stt_per_minute: row.get(3),
            tts_per_1k_characters: row.get(4),
        },
    }
}

/// Looks a tenant up by name.
pub fn tenant(client: &mut Client, name: &str) -> Result<Option<Tenant>, StoreError> {
    Ok(client
        .query_opt(
            "SELECT name, company, credit_micros, stt_price_per_minute,
                tts_price_per_1k_characters
             FROM tenants WHERE name = $1",
            &[&name],
        )?
        .as_ref()
        .map(tenant_from_row))
}

/// Creates the tenant if it does not exist; returns it either way. A given
/// credit is the balance only of a new tenant.
pub fn ensure_tenant(
    client: &mut Client,
    name: &str,
    credit_micros: Option<i64>,
) -> Result<Tenant, StoreError> {
    client.execute(
        "INSERT INTO tenants (name, credit_micros, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO NOTHING",
        &[&name, &credit_micros, &now_unix()],
    )?;
    tenant(client, name)?.ok_or_else(|| StoreError::UnknownTenant(name.to_owned()))
}

/// Creates a key for an existing tenant.
pub fn create_key(client: &mut Client, tenant_name: &str) -> Result<NewApiKey, StoreError> {
    if tenant(client, tenant_name)?.is_none() {
        return Err(StoreError::UnknownTenant(tenant_name.to_owned()));
    }
    let key = keys::generate();
    let hash = keys::sha256(&key.secret);
    client.execute(
        "INSERT INTO api_keys (prefix, tenant, sha256, created_at) VALUES ($1, $2, $3, $4)",
        &[&key.prefix, &tenant_name, &hash.as_slice(), &now_unix()],
    )?;
    Ok(key)
}

/// The tenant and prefix of a valid, unrevoked key.
pub fn verify_key(client: &mut Client, key: &str) -> Result<Option<(String, String)>, StoreError> {
    let Some(prefix) = keys::key_prefix(key) else {
        return Ok(None);
    };
    let Some(row) = client.query_opt(
        "SELECT tenant, sha256, revoked_at FROM api_keys WHERE prefix = $1",
        &[&prefix],
    )?
    else {
        return Ok(None);
    };
    let stored: Vec<u8> = row.get(1);
    if keys::accepts(key, &stored, row.get(2)) {
        Ok(Some((row.get(0), prefix.to_owned())))
    } else {
        Ok(None)
    }
}

/// Every key, newest first.
pub fn list_keys(client: &mut Client) -> Result<Vec<ApiKeyInfo>, StoreError> {
    Ok(client
        .query(
            "SELECT prefix, tenant, created_at, revoked_at FROM api_keys
             ORDER BY created_at DESC, prefix",
            &[],
        )?
        .iter()
        .map(|row| ApiKeyInfo {
            prefix: row.get(0),
            tenant: row.get(1),
            created_at: row.get(2),
            revoked_at: row.get(3),
        })
        .collect())
}

/// Revokes the unrevoked key with this prefix.
pub fn revoke_key(client: &mut Client, prefix: &str) -> Result<(), StoreError> {
    let changed = client.execute(
        "UPDATE api_keys SET revoked_at = $2 WHERE prefix = $1 AND revoked_at IS NULL",
        &[&prefix, &now_unix()],
    )?;
    if changed == 0 {
        return Err(StoreError::UnknownKey(prefix.to_owned()));
    }
    Ok(())
}

fn changed_one(changed: u64, name: &str) -> Result<(), StoreError> {
    if changed == 0 {
        return Err(StoreError::UnknownTenant(name.to_owned()));
    }
    Ok(())
}

/// Sets a tenant's company name.
pub fn set_company(
    client: &mut Client,
    name: &str,
    company: Option<&str>,
) -> Result<(), StoreError> {
    let changed = client.execute(
        "UPDATE tenants SET company = $2 WHERE name = $1",
        &[&name, &company],
    )?;
    changed_one(changed, name)
}

/// Sets a tenant's credit balance (`None`: unlimited).
pub fn set_credit(
    client: &mut Client,
    name: &str,
    credit_micros: Option<i64>,
) -> Result<(), StoreError> {
    let changed = client.execute(
        "UPDATE tenants SET credit_micros = $2 WHERE name = $1",
        &[&name, &credit_micros],
    )?;
    changed_one(changed, name)
}

/// Sets a tenant's price overrides (both; `None` clears one).
pub fn set_prices(
    client: &mut Client,
    name: &str,
    prices: PriceOverride,
) -> Result<(), StoreError> {
    for price in [prices.stt_per_minute, prices.tts_per_1k_characters]
        .into_iter()
        .flatten()
    {
        if !price.is_finite() || price < 0.0 {
            return Err(StoreError::InvalidPrice(price));
        }
    }
    let changed = client.execute(
        "UPDATE tenants SET stt_price_per_minute = $2, tts_price_per_1k_characters = $3
         WHERE name = $1",
        &[&name, &prices.stt_per_minute, &prices.tts_per_1k_characters],
    )?;
    changed_one(changed, name)
}
