//! Keys of third-party apps: stored hashed, found by their public prefix, revocable.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::schema::api_keys;

/// A key as stored: never the secret itself.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys, check_for_backend(diesel::pg::Pg))]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub key_prefix: String,
    pub secret_hash: Vec<u8>,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A key to store.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = api_keys)]
pub struct NewApiKey<'a> {
    pub name: &'a str,
    pub key_prefix: &'a str,
    pub secret_hash: &'a [u8],
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// Stores a new key; returns its id.
pub async fn insert(conn: &mut AsyncPgConnection, key: NewApiKey<'_>) -> QueryResult<i64> {
    diesel::insert_into(api_keys::table)
        .values(key)
        .returning(api_keys::id)
        .get_result(conn)
        .await
}

/// The key with this prefix, revoked or not.
pub async fn find_by_prefix(
    conn: &mut AsyncPgConnection,
    prefix: &str,
) -> QueryResult<Option<ApiKey>> {
    api_keys::table
        .filter(api_keys::key_prefix.eq(prefix))
        .select(ApiKey::as_select())
        .first(conn)
        .await
        .optional()
}

/// Revokes the key with this prefix as of `at`, and ends its webhook subscriptions with it
/// (their messages not yet sent are skipped); returns whether a live key was revoked.
pub async fn revoke(
    conn: &mut AsyncPgConnection,
    prefix: &str,
    at: DateTime<Utc>,
) -> QueryResult<bool> {
    use diesel_async::AsyncConnection;
    conn.transaction(async |conn| {
        let revoked: Option<i64> = diesel::update(
            api_keys::table
                .filter(api_keys::key_prefix.eq(prefix))
                .filter(api_keys::revoked_at.is_null()),
        )
        .set(api_keys::revoked_at.eq(Some(at)))
        .returning(api_keys::id)
        .get_result(conn)
        .await
        .optional()?;
        let Some(id) = revoked else {
            return Ok(false);
        };
        use crate::schema::webhook_subscriptions as s;
        diesel::update(
            s::table
                .filter(s::api_key_id.eq(id))
                .filter(s::revoked_at.is_null()),
        )
        .set(s::revoked_at.eq(Some(at)))
        .execute(conn)
        .await?;
        Ok(true)
    })
    .await
}
