//! Accounts, the departments staff work for, rotating refresh tokens and the audit log.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::schema::{audit_log, departments, refresh_tokens, reports, staff_departments, users};

/// The PostgreSQL channel on which a changed staff account (role, departments, disabled) is
/// announced by its id, so every replica's live streams check it again at once.
pub const ACCOUNTS_CHANNEL: &str = "signalons_accounts";

/// Announces that account `user` changed; delivered when the caller's transaction commits.
pub async fn announce_change(conn: &mut AsyncPgConnection, user: i64) -> QueryResult<()> {
    diesel::select(crate::jobs::pg_notify(ACCOUNTS_CHANNEL, user.to_string()))
        .execute(conn)
        .await
        .map(|_| ())
}

/// An account as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub display_name: String,
    pub role: String,
    pub jurisdiction_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

/// An account to create.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub password_hash: &'a str,
    pub display_name: &'a str,
    pub role: &'a str,
    pub jurisdiction_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// What an admin changes about an account; `None` leaves a field alone.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges<'a> {
    pub role: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub disabled_at: Option<Option<DateTime<Utc>>>,
}

/// Creates an account with its departments; `Err(UniqueViolation)` when the email is taken.
pub async fn insert_user(
    conn: &mut AsyncPgConnection,
    user: NewUser<'_>,
    department_ids: &[i64],
) -> QueryResult<i64> {
    conn.transaction(async |conn| {
        let id = diesel::insert_into(users::table)
            .values(&user)
            .returning(users::id)
            .get_result(conn)
            .await?;
        if let Some(jurisdiction) = user.jurisdiction_id {
            set_departments(conn, id, jurisdiction, department_ids).await?;
        }
        Ok(id)
    })
    .await
}

/// Replaces the departments of staff member `user` of `jurisdiction`.
pub async fn set_departments(
    conn: &mut AsyncPgConnection,
    user: i64,
    jurisdiction: i64,
    department_ids: &[i64],
) -> QueryResult<()> {
    diesel::delete(staff_departments::table.filter(staff_departments::user_id.eq(user)))
        .execute(conn)
        .await?;
    let rows: Vec<_> = department_ids
        .iter()
        .map(|&department| {
            (
                staff_departments::user_id.eq(user),
                staff_departments::department_id.eq(department),
                staff_departments::jurisdiction_id.eq(jurisdiction),
            )
        })
        .collect();
    diesel::insert_into(staff_departments::table)
        .values(rows)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// Applies `changes` to `user`; whether it exists.
pub async fn update_user(
    conn: &mut AsyncPgConnection,
    user: i64,
    changes: UserChanges<'_>,
) -> QueryResult<bool> {
    if changes.role.is_none() && changes.display_name.is_none() && changes.disabled_at.is_none() {
        return exists(conn, user).await;
    }
    diesel::update(users::table.find(user))
        .set(changes)
        .execute(conn)
        .await
        .map(|rows| rows == 1)
}

async fn exists(conn: &mut AsyncPgConnection, user: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(users::table.find(user)))
        .get_result(conn)
        .await
}

/// The account signing in with `email` (already lower-cased).
pub async fn find_by_email(conn: &mut AsyncPgConnection, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email.eq(email))
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

/// One account.
pub async fn find(conn: &mut AsyncPgConnection, user: i64) -> QueryResult<Option<User>> {
    users::table
        .find(user)
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

/// The accounts of a jurisdiction's staff, by id.
pub async fn list_staff(conn: &mut AsyncPgConnection, jurisdiction: i64) -> QueryResult<Vec<User>> {
    users::table
        .filter(users::jurisdiction_id.eq(jurisdiction))
        .order(users::id)
        .select(User::as_select())
        .load(conn)
        .await
}

/// The departments `user` works for.
pub async fn department_ids(conn: &mut AsyncPgConnection, user: i64) -> QueryResult<Vec<i64>> {
    staff_departments::table
        .filter(staff_departments::user_id.eq(user))
        .order(staff_departments::department_id)
        .select(staff_departments::department_id)
        .load(conn)
        .await
}

/// The codes of the departments `user` works for.
pub async fn department_codes(conn: &mut AsyncPgConnection, user: i64) -> QueryResult<Vec<String>> {
    staff_departments::table
        .inner_join(departments::table)
        .filter(staff_departments::user_id.eq(user))
        .order(departments::code)
        .select(departments::code)
        .load(conn)
        .await
}

/// The departments `codes` name in a jurisdiction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DepartmentsByCode {
    /// The ids of the active ones.
    pub ids: Vec<i64>,
    /// Codes that match no department.
    pub missing: Vec<String>,
    /// Codes of retired departments, which take no new work.
    pub retired: Vec<String>,
}

/// Resolves `codes` among a jurisdiction's departments.
pub async fn departments_by_code(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    codes: &[String],
) -> QueryResult<DepartmentsByCode> {
    let found: Vec<(i64, String, bool)> = departments::table
        .filter(departments::jurisdiction_id.eq(jurisdiction))
        .filter(departments::code.eq_any(codes))
        .select((departments::id, departments::code, departments::active))
        .load(conn)
        .await?;
    let missing = codes
        .iter()
        .filter(|code| !found.iter().any(|(_, c, _)| c == *code))
        .cloned()
        .collect();
    let (active, retired): (Vec<_>, Vec<_>) = found.into_iter().partition(|(_, _, a)| *a);
    Ok(DepartmentsByCode {
        ids: active.into_iter().map(|(id, _, _)| id).collect(),
        missing,
        retired: retired.into_iter().map(|(_, code, _)| code).collect(),
    })
}

/// Gives the anonymous reports made from `device_hash` to `user`; how many were claimed.
pub async fn claim_device_reports(
    conn: &mut AsyncPgConnection,
    user: i64,
    device_hash: &[u8],
) -> QueryResult<usize> {
    diesel::update(
        reports::table
            .filter(reports::device_hash.eq(device_hash))
            .filter(reports::reporter_id.is_null()),
    )
    .set(reports::reporter_id.eq(user))
    .execute(conn)
    .await
}

/// A refresh token as stored (its hash only).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens, check_for_backend(diesel::pg::Pg))]
pub struct RefreshToken {
    pub id: i64,
    pub user_id: i64,
    pub family: Vec<u8>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Stores a refresh token of `family`.
pub async fn insert_refresh_token(
    conn: &mut AsyncPgConnection,
    user: i64,
    family: &[u8],
    token_hash: &[u8],
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::user_id.eq(user),
            refresh_tokens::family.eq(family),
            refresh_tokens::token_hash.eq(token_hash),
            refresh_tokens::created_at.eq(created_at),
            refresh_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

/// The token with `token_hash`, locked until the transaction ends so that two concurrent
/// refreshes with one token cannot both succeed.
pub async fn lock_refresh_token(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8],
) -> QueryResult<Option<RefreshToken>> {
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(RefreshToken::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Marks token `id` used at `at`.
pub async fn mark_refresh_token_used(
    conn: &mut AsyncPgConnection,
    id: i64,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(refresh_tokens::table.find(id))
        .set(refresh_tokens::used_at.eq(Some(at)))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Revokes every live token of `family`; how many.
pub async fn revoke_family(
    conn: &mut AsyncPgConnection,
    family: &[u8],
    at: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family.eq(family))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(at)))
    .execute(conn)
    .await
}

/// Revokes every live token of `user` (disabled accounts, password changes).
pub async fn revoke_all_tokens(
    conn: &mut AsyncPgConnection,
    user: i64,
    at: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(at)))
    .execute(conn)
    .await
}

/// One staff action to record.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_log)]
pub struct NewAuditEntry<'a> {
    pub jurisdiction_id: Option<i64>,
    pub actor_id: Option<i64>,
    /// `<object>.<verb>`, e.g. `incident.take`, `user.create`.
    pub action: &'a str,
    pub target_id: Option<i64>,
    pub detail: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// An entry of the audit log.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log, check_for_backend(diesel::pg::Pg))]
pub struct AuditEntry {
    pub id: i64,
    pub actor_id: Option<i64>,
    pub action: String,
    pub target_id: Option<i64>,
    pub detail: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Records a staff action.
pub async fn audit(conn: &mut AsyncPgConnection, entry: NewAuditEntry<'_>) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values(entry)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Which entries of an audit log to read.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditFilter<'a> {
    /// The object acted on, as the part of the action before the dot (`job`, `staff`...).
    pub object: Option<&'a str>,
    /// Its id.
    pub target_id: Option<i64>,
    /// Entries older than this one (an entry id), for the next page.
    pub before: Option<i64>,
}

/// A jurisdiction's audit log, newest first, at most `limit` entries of `filter`.
pub async fn audit_entries(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    filter: AuditFilter<'_>,
    limit: i64,
) -> QueryResult<Vec<AuditEntry>> {
    let mut query = audit_log::table
        .filter(audit_log::jurisdiction_id.eq(jurisdiction))
        .order(audit_log::id.desc())
        .limit(limit)
        .select(AuditEntry::as_select())
        .into_boxed();
    if let Some(object) = filter.object {
        query = query.filter(audit_log::action.like(format!("{object}.%")));
    }
    if let Some(target) = filter.target_id {
        query = query.filter(audit_log::target_id.eq(target));
    }
    if let Some(before) = filter.before {
        query = query.filter(audit_log::id.lt(before));
    }
    query.load(conn).await
}
