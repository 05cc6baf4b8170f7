//! API keys of third-party apps: made here, shown once, stored as a SHA-256 digest, found by
//! their public prefix, checked for a scope.

use std::io::Read;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use signalons_db::{
    AsyncPgConnection, DbError,
    api_keys::{self, NewApiKey},
};

/// What a key may do: create Open311 service requests.
pub const OPEN311_WRITE: &str = "open311:write";
/// What a key may do: subscribe to a city's events as webhooks.
pub const WEBHOOKS: &str = "webhooks";
/// Every scope a key may carry.
pub const SCOPES: [&str; 2] = [OPEN311_WRITE, WEBHOOKS];

const KEY_TAG: &str = "sgn";

/// A key just made: the full secret (shown once) and its public prefix.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub id: i64,
    pub prefix: String,
    pub key: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// Why a key was not made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("unknown scope `{0}` (known: {known})", known = SCOPES.join(", "))]
    UnknownScope(String),
    #[error("the name must be 1 to 200 characters")]
    InvalidName,
    #[error("no randomness available: {0}")]
    Random(#[from] std::io::Error),
    #[error(transparent)]
    Database(#[from] DbError),
}

/// Makes and stores a key named `name` with `scopes`; the returned key is never stored.
pub async fn create(
    conn: &mut AsyncPgConnection,
    name: &str,
    scopes: &[String],
    now: DateTime<Utc>,
) -> Result<CreatedKey, KeyError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(KeyError::InvalidName);
    }
    if let Some(unknown) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        return Err(KeyError::UnknownScope(unknown.clone()));
    }
    let mut random = [0u8; 30];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut random)?;
    let prefix = hex(&random[..6]);
    let key = format!("{KEY_TAG}_{prefix}_{}", hex(&random[6..]));
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    let hash = digest(&key);
    let id = api_keys::insert(
        conn,
        NewApiKey {
            name,
            key_prefix: &prefix,
            secret_hash: &hash,
            scopes,
            created_at: now,
        },
    )
    .await?;
    Ok(CreatedKey { id, prefix, key })
}

/// Whether `key` is a live key carrying `scope`.
pub async fn allows(conn: &mut AsyncPgConnection, key: &str, scope: &str) -> Result<bool, DbError> {
    Ok(key_with_scope(conn, key, scope).await?.is_some())
}

/// The id of `key` when it is a live key carrying `scope`.
pub async fn key_with_scope(
    conn: &mut AsyncPgConnection,
    key: &str,
    scope: &str,
) -> Result<Option<i64>, DbError> {
    let mut parts = key.trim().split('_');
    let (Some(KEY_TAG), Some(prefix), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(None);
    };
    if prefix.len() != 12 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let Some(stored) = api_keys::find_by_prefix(conn, prefix).await? else {
        return Ok(None);
    };
    let live = stored.revoked_at.is_none()
        && stored.secret_hash == digest(key.trim())
        && stored.scopes.iter().any(|s| s == scope);
    Ok(live.then_some(stored.id))
}

/// Revokes the key with `prefix`; whether a live key was revoked.
pub async fn revoke(
    conn: &mut AsyncPgConnection,
    prefix: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    api_keys::revoke(conn, prefix, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_sha256_in_full() {
        assert_eq!(digest("sgn_000000000000_00").len(), 32);
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
