//! Administration of a city's staff (accounts, roles and departments), of its own settings, and
//! the reading of its audit log. Only admins, and only in their own jurisdiction; every change
//! is audited in the transaction that makes it.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use signalons_db::{
    AsyncConnection, AsyncPgConnection, DatabaseErrorKind, DbError,
    accounts::{self, NewAuditEntry, UserChanges},
    admin as admin_queries,
};
use signalons_domain::{AccountEmail, Actor, NewPassword, Role, Violation};
use utoipa::{IntoParams, ToSchema};

use crate::{
    AppState,
    auth::{Authenticated, hash_password},
    error::{ApiError, FieldError, Problem},
    extract::{JsonBody, QueryParams},
    jobs::AuditEntry,
    reports::check,
};

/// A staff member, as admins see them.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffMember {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    /// Codes of the departments they work for.
    pub departments: Vec<String>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

/// A new staff account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    #[schema(max_length = 254)]
    pub email: String,
    /// 10 to 128 characters; the staff member should change it.
    #[schema(min_length = 10, max_length = 128)]
    pub password: String,
    /// `crew`, `dispatcher` or `admin`.
    pub role: Role,
    #[serde(default)]
    #[schema(max_length = 100)]
    pub display_name: Option<String>,
    /// Department codes (crews and dispatchers need at least one).
    #[serde(default)]
    pub departments: Vec<String>,
}

/// Changes to a staff account; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffChanges {
    pub role: Option<Role>,
    #[schema(max_length = 100)]
    pub display_name: Option<String>,
    /// Replaces the department list.
    pub departments: Option<Vec<String>>,
    /// Disabling signs the account out everywhere.
    pub disabled: Option<bool>,
}

/// Why a staff account was not created or changed.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("some fields are invalid")]
    Invalid(Vec<FieldError>),
    #[error("an account already uses this email")]
    EmailTaken,
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Database(#[from] DbError),
}

impl From<StaffError> for ApiError {
    fn from(error: StaffError) -> Self {
        match error {
            StaffError::Invalid(errors) => ApiError::invalid_body(errors),
            StaffError::EmailTaken => ApiError::new(
                actix_web::http::StatusCode::CONFLICT,
                "email_taken",
                "an account already uses this email",
            ),
            StaffError::Api(error) => error,
            StaffError::Database(error) => error.into(),
        }
    }
}

async fn department_ids(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    role: Role,
    codes: &[String],
    errors: &mut Vec<FieldError>,
) -> Result<Vec<i64>, DbError> {
    if codes.len() > 50 {
        errors.push(FieldError::new(
            "departments",
            Violation::new("too_many", "at most 50 departments"),
        ));
        return Ok(Vec::new());
    }
    let found = accounts::departments_by_code(conn, jurisdiction, codes).await?;
    if !found.missing.is_empty() {
        errors.push(FieldError::new(
            "departments",
            Violation::new(
                "unknown_department",
                format!("no department {}", found.missing.join(", ")),
            ),
        ));
    }
    if !found.retired.is_empty() {
        errors.push(FieldError::new(
            "departments",
            Violation::new(
                "inactive_department",
                format!("department {} is retired", found.retired.join(", ")),
            ),
        ));
    }
    let ids = found.ids;
    if ids.is_empty() && matches!(role, Role::Crew | Role::Dispatcher) {
        errors.push(FieldError::new(
            "departments",
            Violation::new(
                "department_required",
                "crews and dispatchers work for at least one department",
            ),
        ));
    }
    Ok(ids)
}

/// Creates a staff account of `jurisdiction`, audited as done by `by` (`None`: the command line).
pub async fn create_staff_account(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    request: &NewStaff,
    by: Option<i64>,
) -> Result<i64, StaffError> {
    let mut errors = Vec::new();
    let email = check("email", AccountEmail::new(&request.email), &mut errors);
    let password = check("password", NewPassword::new(&request.password), &mut errors);
    let display_name = check(
        "display_name",
        signalons_domain::text::display_name(request.display_name.as_deref().unwrap_or("")),
        &mut errors,
    );
    if !request.role.is_staff() {
        errors.push(FieldError::new(
            "role",
            Violation::new("invalid_role", "staff are crew, dispatcher or admin"),
        ));
    }
    let departments = department_ids(
        conn,
        jurisdiction,
        request.role,
        &request.departments,
        &mut errors,
    )
    .await?;
    let (Some(email), Some(password), Some(display_name)) = (email, password, display_name) else {
        return Err(StaffError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(StaffError::Invalid(errors));
    }
    let hash = hash_password(password.as_str().to_owned()).await?;
    let now = Utc::now();
    // The account and its audit entry commit together, or neither does.
    let id = conn
        .transaction::<_, StaffError, _>(async |conn| {
            let inserted = accounts::insert_user(
                conn,
                accounts::NewUser {
                    email: email.as_str(),
                    password_hash: &hash,
                    display_name: &display_name,
                    role: request.role.as_str(),
                    jurisdiction_id: Some(jurisdiction),
                    created_at: now,
                },
                &departments,
            )
            .await;
            let id = match inserted {
                Ok(id) => id,
                Err(DbError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                    return Err(StaffError::EmailTaken);
                }
                Err(error) => return Err(error.into()),
            };
            accounts::audit(
                conn,
                NewAuditEntry {
                    jurisdiction_id: Some(jurisdiction),
                    actor_id: by,
                    action: "staff.create",
                    target_id: Some(id),
                    detail: serde_json::json!({
                        "role": request.role,
                        "departments": request.departments,
                    }),
                    created_at: now,
                },
            )
            .await?;
            Ok(id)
        })
        .await?;
    tracing::info!(user = id, role = %request.role, "staff account created");
    Ok(id)
}

/// The admin's jurisdiction; `403 admin_only` for anyone else.
pub(crate) fn require_admin(actor: &Actor) -> Result<i64, ApiError> {
    match actor.jurisdiction_id {
        Some(jurisdiction) if actor.role == Role::Admin => Ok(jurisdiction),
        _ => Err(ApiError::forbidden(
            "admin_only",
            "this needs an admin account",
        )),
    }
}

async fn staff_member(
    conn: &mut AsyncPgConnection,
    user: accounts::User,
) -> Result<StaffMember, ApiError> {
    Ok(StaffMember {
        departments: accounts::department_codes(conn, user.id).await?,
        id: user.id,
        email: user.email,
        display_name: user.display_name,
        role: user
            .role
            .parse()
            .map_err(|e: Violation| ApiError::internal(&e))?,
        disabled: user.disabled_at.is_some(),
        created_at: user.created_at,
    })
}

/// Create a staff account in your city (admins).
#[utoipa::path(
    tag = "admin",
    request_body = NewStaff,
    responses(
        (status = 201, body = StaffMember),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/admin/staff")]
pub async fn create_staff(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    JsonBody(body): JsonBody<NewStaff>,
) -> Result<HttpResponse, ApiError> {
    let jurisdiction = require_admin(&actor)?;
    let mut conn = state.pool.get().await?;
    let id = create_staff_account(&mut conn, jurisdiction, &body, Some(actor.user_id)).await?;
    let user = accounts::find(&mut conn, id)
        .await?
        .ok_or_else(|| ApiError::internal(&"created account vanished"))?;
    Ok(HttpResponse::Created().json(staff_member(&mut conn, user).await?))
}

/// Your city's staff (admins).
#[utoipa::path(
    tag = "admin",
    responses(
        (status = 200, body = [StaffMember]),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/admin/staff")]
pub async fn list_staff(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<web::Json<Vec<StaffMember>>, ApiError> {
    let jurisdiction = require_admin(&actor)?;
    let mut conn = state.pool.get().await?;
    let mut members = Vec::new();
    for user in accounts::list_staff(&mut conn, jurisdiction).await? {
        members.push(staff_member(&mut conn, user).await?);
    }
    Ok(web::Json(members))
}

/// Change a staff member's role, departments or name, or disable the account (admins; not
/// your own role or account, so a city always keeps an admin).
#[utoipa::path(
    tag = "admin",
    params(("id" = i64, Path, description = "Staff account id")),
    request_body = StaffChanges,
    responses(
        (status = 200, body = StaffMember),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/admin/staff/{id}")]
pub async fn update_staff(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<i64>,
    JsonBody(body): JsonBody<StaffChanges>,
) -> Result<web::Json<StaffMember>, ApiError> {
    let jurisdiction = require_admin(&actor)?;
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    let not_found = || ApiError::not_found("staff_not_found", format!("no staff member {id}"));
    let user = accounts::find(&mut conn, id)
        .await?
        .filter(|user| user.jurisdiction_id == Some(jurisdiction))
        .ok_or_else(not_found)?;
    let mut errors = Vec::new();
    if id == actor.user_id
        && (body.role.is_some_and(|r| r != Role::Admin) || body.disabled == Some(true))
    {
        errors.push(FieldError::new(
            "role",
            Violation::new(
                "cannot_demote_self",
                "another admin must change your own role or account",
            ),
        ));
    }
    if body.role == Some(Role::Resident) {
        errors.push(FieldError::new(
            "role",
            Violation::new("invalid_role", "staff are crew, dispatcher or admin"),
        ));
    }
    let display_name = body.display_name.as_deref().and_then(|name| {
        check(
            "display_name",
            signalons_domain::text::display_name(name),
            &mut errors,
        )
    });
    let role = body.role.unwrap_or(
        user.role
            .parse()
            .map_err(|e: Violation| ApiError::internal(&e))?,
    );
    let departments = match &body.departments {
        Some(codes) => {
            Some(department_ids(&mut conn, jurisdiction, role, codes, &mut errors).await?)
        }
        None => None,
    };
    if !errors.is_empty() {
        return Err(ApiError::invalid_body(errors));
    }
    let now = Utc::now();
    // The change, the signing out and the audit entry commit together, or none does.
    conn.transaction::<_, DbError, _>(async |conn| {
        accounts::update_user(
            conn,
            id,
            UserChanges {
                role: body.role.map(Role::as_str),
                display_name: display_name.as_deref(),
                disabled_at: body.disabled.map(|disabled| disabled.then_some(now)),
            },
        )
        .await?;
        if let Some(departments) = &departments {
            accounts::set_departments(conn, id, jurisdiction, departments).await?;
        }
        if body.disabled == Some(true) {
            accounts::revoke_all_tokens(conn, id, now).await?;
        }
        // Live streams of this account check it again when this commits.
        accounts::announce_change(conn, id).await?;
        accounts::audit(
            conn,
            NewAuditEntry {
                jurisdiction_id: Some(jurisdiction),
                actor_id: Some(actor.user_id),
                action: "staff.update",
                target_id: Some(id),
                detail: serde_json::json!({
                    "role": body.role,
                    "departments": body.departments,
                    "disabled": body.disabled,
                }),
                created_at: now,
            },
        )
        .await
    })
    .await?;
    let user = accounts::find(&mut conn, id).await?.ok_or_else(not_found)?;
    Ok(web::Json(staff_member(&mut conn, user).await?))
}

/// Which audit entries to read.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// What was acted on: `staff`, `department`, `category`, `area`, `route`, `jurisdiction`,
    /// `job`, `delivery`.
    pub object: Option<String>,
    /// Its id.
    pub target_id: Option<i64>,
    /// Entries older than this entry id (the last id of the previous page).
    pub before: Option<i64>,
    /// 1 to 200 (default 50).
    pub limit: Option<i64>,
}

/// Your city's audit log, newest first: every staff and admin action, with what changed
/// (admins).
#[utoipa::path(
    tag = "admin",
    params(AuditQuery),
    responses(
        (status = 200, body = [AuditEntry]),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/admin/audit")]
pub async fn list_audit(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(query): QueryParams<AuditQuery>,
) -> Result<web::Json<Vec<AuditEntry>>, ApiError> {
    let jurisdiction = require_admin(&actor)?;
    let mut errors = Vec::new();
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        errors.push(FieldError::new(
            "limit",
            Violation::new("out_of_range", "limit is 1 to 200"),
        ));
    }
    if let Some(object) = &query.object
        && (!(2..=32).contains(&object.len())
            || !object.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    {
        errors.push(FieldError::new(
            "object",
            Violation::new("invalid_value", "object is a word such as `staff` or `job`"),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid_query(errors));
    }
    let mut conn = state.pool.get().await?;
    let entries = accounts::audit_entries(
        &mut conn,
        jurisdiction,
        accounts::AuditFilter {
            object: query.object.as_deref(),
            target_id: query.target_id,
            before: query.before,
        },
        limit,
    )
    .await?;
    Ok(web::Json(
        entries.into_iter().map(AuditEntry::from).collect(),
    ))
}

/// A city's own settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct JurisdictionSettings {
    pub slug: String,
    pub name: String,
    pub locale: String,
    /// IANA time zone: due dates end at local midnight.
    pub time_zone: String,
    /// Days after a resolution during which its reporter may reopen it.
    pub reopen_window_days: i32,
}

impl From<admin_queries::JurisdictionSettings> for JurisdictionSettings {
    fn from(row: admin_queries::JurisdictionSettings) -> Self {
        Self {
            slug: row.slug,
            name: row.name,
            locale: row.locale,
            time_zone: row.time_zone,
            reopen_window_days: row.reopen_window_days,
        }
    }
}

/// Changes to a city's settings; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JurisdictionChanges {
    /// 0 to 365 days.
    #[schema(minimum = 0, maximum = 365)]
    pub reopen_window_days: Option<i32>,
    /// An IANA time zone such as `America/New_York`; open jobs' due dates follow it.
    #[schema(max_length = 64)]
    pub time_zone: Option<String>,
}

/// Your city's settings (admins).
#[utoipa::path(
    tag = "admin",
    responses(
        (status = 200, body = JurisdictionSettings),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/admin/jurisdiction")]
pub async fn get_jurisdiction(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<web::Json<JurisdictionSettings>, ApiError> {
    let jurisdiction = require_admin(&actor)?;
    let mut conn = state.pool.get().await?;
    Ok(web::Json(
        admin_queries::jurisdiction(&mut conn, jurisdiction)
            .await?
            .into(),
    ))
}

/// Change your city's reopen window or time zone (admins). A new time zone moves the due dates
/// of open jobs.
#[utoipa::path(
    tag = "admin",
    request_body = JurisdictionChanges,
    responses(
        (status = 200, body = JurisdictionSettings),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/admin/jurisdiction")]
pub async fn patch_jurisdiction(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    JsonBody(body): JsonBody<JurisdictionChanges>,
) -> Result<web::Json<JurisdictionSettings>, ApiError> {
    let jurisdiction = require_admin(&actor)?;
    let mut errors = Vec::new();
    if let Some(days) = body.reopen_window_days
        && !(0..=365).contains(&days)
    {
        errors.push(FieldError::new(
            "reopen_window_days",
            Violation::new("out_of_range", "the reopen window is 0 to 365 days"),
        ));
    }
    let mut conn = state.pool.get().await?;
    if let Some(zone) = &body.time_zone
        && (zone.len() > 64 || !admin_queries::time_zone_exists(&mut conn, zone).await?)
    {
        errors.push(FieldError::new(
            "time_zone",
            Violation::new(
                "unknown_time_zone",
                "a time zone is an IANA name such as America/New_York",
            ),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid_body(errors));
    }
    let now = Utc::now();
    let settings = conn
        .transaction::<_, DbError, _>(async |conn| {
            admin_queries::update_jurisdiction(
                conn,
                jurisdiction,
                body.reopen_window_days,
                body.time_zone.as_deref(),
            )
            .await?;
            accounts::audit(
                conn,
                NewAuditEntry {
                    jurisdiction_id: Some(jurisdiction),
                    actor_id: Some(actor.user_id),
                    action: "jurisdiction.update",
                    target_id: Some(jurisdiction),
                    detail: serde_json::json!({
                        "reopen_window_days": body.reopen_window_days,
                        "time_zone": body.time_zone,
                    }),
                    created_at: now,
                },
            )
            .await?;
            admin_queries::jurisdiction(conn, jurisdiction).await
        })
        .await?;
    Ok(web::Json(settings.into()))
}
