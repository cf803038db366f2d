//! API keys: `sk_live_` + 8 visible id characters + 32 secret characters.
//!
//! Only the SHA-256 of a key is stored, with its visible prefix
//! (`sk_live_` + id) as the lookup key. A presented key is found by prefix and
//! then compared by hash in constant time. The whole key is shown once, when
//! it is created.

use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{now_unix, Store, StoreError};

/// What every key starts with.
pub const KEY_SCHEME: &str = "sk_live_";
const ID_LEN: usize = 8;
const SECRET_LEN: usize = 32;
const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// A newly created key; `secret` is the only copy of the whole key.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// The whole key, to show once.
    pub secret: String,
    /// The visible prefix, used to list and revoke it.
    pub prefix: String,
}

/// A stored key, without its secret.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyInfo {
    /// Visible prefix.
    pub prefix: String,
    /// Tenant the key bills to.
    pub tenant: String,
    /// Creation time, Unix seconds.
    pub created_at: i64,
    /// Revocation time, Unix seconds.
    pub revoked_at: Option<i64>,
}

fn random_chars(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        // getrandom only fails when the OS has no entropy source at all.
        getrandom::fill(&mut buf).expect("the OS random number generator is available");
        for &byte in &buf {
            // Rejection sampling keeps the distribution uniform: 248 = 4 * 62.
            if byte < 248 && out.len() < len {
                out.push(ALPHABET[usize::from(byte % 62)] as char);
            }
        }
    }
    out
}

pub(crate) fn sha256(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// A fresh random key (both backends store its [`sha256`] under its prefix).
pub(crate) fn generate() -> NewApiKey {
    let prefix = format!("{KEY_SCHEME}{}", random_chars(ID_LEN));
    let secret = format!("{prefix}{}", random_chars(SECRET_LEN));
    NewApiKey { secret, prefix }
}

/// Whether a presented key matches the stored hash and is not revoked
/// (constant-time comparison).
pub(crate) fn accepts(key: &str, stored: &[u8], revoked_at: Option<i64>) -> bool {
    let matches: bool = sha256(key).as_slice().ct_eq(stored).into();
    matches && revoked_at.is_none()
}

/// The prefix of a well-formed key, or `None` when it cannot be one of ours.
pub fn key_prefix(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(KEY_SCHEME)?;
    if rest.len() != ID_LEN + SECRET_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    Some(&key[..KEY_SCHEME.len() + ID_LEN])
}

impl Store {
    /// Creates a key for an existing tenant.
    pub fn create_key(&self, tenant: &str) -> Result<NewApiKey, StoreError> {
        if self.tenant(tenant)?.is_none() {
            return Err(StoreError::UnknownTenant(tenant.to_owned()));
        }
        let NewApiKey { secret, prefix } = generate();
        self.conn().execute(
            "INSERT INTO api_keys (prefix, tenant, sha256, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![prefix, tenant, sha256(&secret).as_slice(), now_unix()],
        )?;
        Ok(NewApiKey { secret, prefix })
    }

    /// The tenant a presented key bills to, or `None` when the key is unknown,
    /// malformed or revoked. Reads the database each time, so a revocation
    /// takes effect at once, also for a running server.
    pub fn verify_key(&self, key: &str) -> Result<Option<(String, String)>, StoreError> {
        let Some(prefix) = key_prefix(key) else {
            return Ok(None);
        };
        let row: Option<(String, Vec<u8>, Option<i64>)> = self
            .read_conn()
            .query_row(
                "SELECT tenant, sha256, revoked_at FROM api_keys WHERE prefix = ?1",
                params![prefix],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?;
        let Some((tenant, stored, revoked_at)) = row else {
            return Ok(None);
        };
        if accepts(key, &stored, revoked_at) {
            Ok(Some((tenant, prefix.to_owned())))
        } else {
            Ok(None)
        }
    }

    /// Every key, newest first.
    pub fn list_keys(&self) -> Result<Vec<ApiKeyInfo>, StoreError> {
        let conn = self.read_conn();
        let mut statement = conn.prepare(
            "SELECT prefix, tenant, created_at, revoked_at FROM api_keys ORDER BY created_at DESC, prefix",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(ApiKeyInfo {
                prefix: row.get(0)?,
                tenant: row.get(1)?,
                created_at: row.get(2)?,
                revoked_at: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Revokes the unrevoked key with this prefix.
    pub fn revoke_key(&self, prefix: &str) -> Result<(), StoreError> {
        let changed = self.conn().execute(
            "UPDATE api_keys SET revoked_at = ?2 WHERE prefix = ?1 AND revoked_at IS NULL",
            params![prefix, now_unix()],
        )?;
        if changed == 0 {
            return Err(StoreError::UnknownKey(prefix.to_owned()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with_tenant() -> Store {
        let store = Store::open_in_memory().unwrap();
        store.ensure_tenant("acme", None).unwrap();
        store
    }

    #[test]
    fn created_key_verifies_and_has_the_documented_shape() {
        let store = store_with_tenant();
        let key = store.create_key("acme").unwrap();
        assert!(key.secret.starts_with(&key.prefix));
        assert_eq!(key.secret.len(), KEY_SCHEME.len() + ID_LEN + SECRET_LEN);
        assert_eq!(
            store.verify_key(&key.secret).unwrap(),
            Some(("acme".to_owned(), key.prefix.clone()))
        );
    }

    #[test]
    fn a_key_differing_in_its_secret_is_rejected() {
        let store = store_with_tenant();
        let key = store.create_key("acme").unwrap();
        let mut forged = key.secret.clone();
        let last = forged.pop().unwrap();
        forged.push(if last == 'a' { 'b' } else { 'a' });
        assert_eq!(store.verify_key(&forged).unwrap(), None);
        assert_eq!(store.verify_key("sk_live_short").unwrap(), None);
        assert_eq!(store.verify_key("").unwrap(), None);
    }

    #[test]
    fn revoked_key_fails_at_once() {
        let store = store_with_tenant();
        let key = store.create_key("acme").unwrap();
        store.revoke_key(&key.prefix).unwrap();
        assert_eq!(store.verify_key(&key.secret).unwrap(), None);
        assert!(matches!(
            store.revoke_key(&key.prefix),
            Err(StoreError::UnknownKey(_))
        ));
        assert!(store.list_keys().unwrap()[0].revoked_at.is_some());
    }

    #[test]
    fn keys_need_an_existing_tenant() {
        let store = Store::open_in_memory().unwrap();
        assert!(matches!(
            store.create_key("nobody"),
            Err(StoreError::UnknownTenant(_))
        ));
    }

    #[test]
    fn only_the_hash_is_stored() {
        let store = store_with_tenant();
        let key = store.create_key("acme").unwrap();
        let stored: Vec<u8> = store
            .conn()
            .query_row("SELECT sha256 FROM api_keys", [], |row| row.get(0))
            .unwrap();
        assert_eq!(stored.len(), 32);
        assert!(!String::from_utf8_lossy(&stored).contains(&key.secret[KEY_SCHEME.len()..]));
    }
}
