//! Incidents: the problem behind one or more reports, "me too", and following one.

use actix_web::{HttpRequest, HttpResponse, get, http::StatusCode, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use signalons_db::{
    incidents::{self as incident_queries},
    models::PublicIncident,
};
use signalons_domain::{Actor, ContactEmail, DeviceId, PageSize, ReportStatus, Violation};
use utoipa::{IntoParams, ToSchema};

use crate::{
    AppState,
    auth::{MaybeAuthenticated, device_hash, sha256},
    cursor,
    error::{ApiError, Problem},
    extract::{JsonBody, QueryParams},
    rate_limit::{Identity, Limited},
    reports::{Named, ReportEvent, check},
};

/// A physical problem, reported once or many times.
#[derive(Debug, Serialize, ToSchema)]
pub struct Incident {
    pub id: i64,
    pub jurisdiction: String,
    pub category: Named,
    pub status: ReportStatus,
    /// 1 (urgent) to 5 (low); more supporters make it more urgent.
    pub priority: i16,
    pub latitude: f64,
    pub longitude: f64,
    pub address: Option<String>,
    /// The first report's description.
    pub description: String,
    pub report_count: i32,
    /// Residents who reported it again or said "me too".
    pub supporters_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// When staff found it to be the same problem as another incident: that one, which its
    /// reports and supporters joined.
    pub merged_into: Option<i64>,
    /// When the city's service level says it should be fixed, if the category has one.
    pub due_at: Option<DateTime<Utc>>,
    /// Still open past its due date.
    pub overdue: bool,
}

fn incident_not_found(id: i64) -> ApiError {
    ApiError::not_found("incident_not_found", format!("no incident {id}"))
}

async fn load_incident(
    conn: &mut signalons_db::AsyncPgConnection,
    id: i64,
) -> Result<Incident, ApiError> {
    let row = incident_queries::find_public(conn, id)
        .await?
        .ok_or_else(|| incident_not_found(id))?;
    incident(row)
}

fn incident(row: PublicIncident) -> Result<Incident, ApiError> {
    Ok(Incident {
        id: row.id,
        jurisdiction: row.jurisdiction_slug,
        category: Named {
            code: row.category_code,
            name: row.category_name,
        },
        status: row
            .status
            .parse()
            .map_err(|e: Violation| ApiError::internal(&e))?,
        priority: row.priority,
        latitude: row.location.y,
        longitude: row.location.x,
        address: row.address,
        description: row.summary,
        report_count: row.report_count,
        supporters_count: row.supporters_count,
        created_at: row.created_at,
        updated_at: row.updated_at,
        overdue: crate::reports::overdue(row.due_at, row.closed_at, Utc::now()),
        closed_at: row.closed_at,
        merged_into: row.merged_into_id,
        due_at: row.due_at,
    })
}

/// One incident.
#[utoipa::path(
    tag = "incidents",
    params(("id" = i64, Path, description = "Incident id")),
    responses(
        (status = 200, body = Incident),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/incidents/{id}")]
pub async fn get_incident(
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<Incident>, ApiError> {
    let mut conn = state.pool.get().await?;
    Ok(web::Json(load_incident(&mut conn, id.into_inner()).await?))
}

/// "Me too": this problem affects me as well.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupportRequest {
    /// A random identifier the app keeps for this device (8 to 128 characters); one support per
    /// device. Stored only as a hash.
    #[schema(min_length = 8, max_length = 128)]
    pub device_id: String,
    /// Where to hear about this incident. Private: never shown publicly.
    #[serde(default)]
    pub notify_email: Option<String>,
}

/// The incident after a support.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupportResult {
    pub incident_id: i64,
    pub supporters_count: i32,
    /// False when this device had already supported it.
    pub newly_supported: bool,
}

/// Support an open incident instead of filing another report; it counts once per device (once
/// per account when signed in, whatever the device) and makes the incident more urgent as
/// supporters add up. Signed in, you follow it too (`GET /me/follows`).
#[utoipa::path(
    tag = "incidents",
    params(("id" = i64, Path, description = "Incident id")),
    request_body = SupportRequest,
    responses(
        (status = 201, description = "Supported", body = SupportResult),
        (status = 200, description = "This device already supported it", body = SupportResult),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The incident is closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many supports from this IP or account", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[post("/incidents/{id}/supports")]
pub async fn support_incident(
    state: web::Data<AppState>,
    req: HttpRequest,
    MaybeAuthenticated(caller): MaybeAuthenticated,
    id: web::Path<i64>,
    JsonBody(body): JsonBody<SupportRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let mut errors = Vec::new();
    let device_id = check("device_id", DeviceId::new(&body.device_id), &mut errors);
    let email = check(
        "notify_email",
        body.notify_email
            .as_deref()
            .map(ContactEmail::new)
            .transpose(),
        &mut errors,
    );
    let (Some(device_id), Some(email)) = (device_id, email) else {
        return Err(ApiError::invalid_body(errors));
    };
    // Signed in, one support per account; otherwise one per device.
    let supporter = follower(caller.as_ref(), Some(device_id.as_str()))?;
    let mut identities = vec![Identity::client(&req)];
    if let Some(actor) = &caller {
        identities.push(Identity::Account(actor.user_id));
    }
    state.limiter.check(Limited::Support, &identities)?;
    let mut conn = state.pool.get().await?;
    match incident_queries::is_open(&mut conn, id).await? {
        None => return Err(incident_not_found(id)),
        Some(false) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "incident_closed",
                "this incident is closed; report the problem again if it is back",
            ));
        }
        Some(true) => {}
    }
    let outcome = incident_queries::add_support(
        &mut conn,
        id,
        &supporter,
        caller.as_ref().map(|actor| actor.user_id),
        email.as_ref().map(ContactEmail::as_str),
        Utc::now(),
    )
    .await?;
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(SupportResult {
        incident_id: id,
        supporters_count: outcome.supporters_count,
        newly_supported: outcome.created,
    }))
}

/// Who follows: a signed-in caller is followed by account; otherwise the device.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowRequest {
    /// The app's device id (8 to 128 characters), needed when not signed in. Stored only as a
    /// hash.
    #[serde(default)]
    #[schema(min_length = 8, max_length = 128)]
    pub device_id: Option<String>,
    /// Where to hear of its status changes. Private: never shown publicly. Without it, a
    /// signed-in resident finds it in `GET /me/follows`.
    #[serde(default)]
    #[schema(max_length = 254)]
    pub notify_email: Option<String>,
}

/// Who stops following.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnfollowRequest {
    /// The device id it was followed with, when not signed in.
    #[serde(default)]
    pub device_id: Option<String>,
}

/// A follow, as it now stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct Following {
    pub incident_id: i64,
    /// Whether status changes are mailed (an address is kept).
    pub notified: bool,
}

/// The supporter or follower a request names: the signed-in account, else the device it
/// gives.
fn follower(caller: Option<&Actor>, device_id: Option<&str>) -> Result<Vec<u8>, ApiError> {
    if let Some(actor) = caller {
        return Ok(sha256(&format!("account:{}", actor.user_id)));
    }
    let mut errors = Vec::new();
    let device = match device_id {
        Some(device) => check("device_id", DeviceId::new(device), &mut errors),
        None => {
            errors.push(crate::error::FieldError::new(
                "device_id",
                Violation::new(
                    "missing_field",
                    "sign in, or give the device_id this phone follows with",
                ),
            ));
            None
        }
    };
    device
        .map(|device| device_hash(device.as_str()))
        .ok_or_else(|| ApiError::invalid_body(errors))
}

/// Follow an incident without supporting it: its status changes are mailed to `notify_email`
/// when given, and a signed-in resident finds it in `GET /me/follows`. Following again updates
/// the address (`200`). Closed incidents may be followed too: they may be reopened.
#[utoipa::path(
    tag = "incidents",
    params(("id" = i64, Path, description = "Incident id")),
    request_body = FollowRequest,
    responses(
        (status = 201, description = "Followed", body = Following),
        (status = 200, description = "Already followed (the address is updated)", body = Following),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[post("/incidents/{id}/follow")]
pub async fn follow_incident(
    state: web::Data<AppState>,
    req: HttpRequest,
    MaybeAuthenticated(caller): MaybeAuthenticated,
    id: web::Path<i64>,
    JsonBody(body): JsonBody<FollowRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let follower = follower(caller.as_ref(), body.device_id.as_deref())?;
    let mut errors = Vec::new();
    let Some(email) = check(
        "notify_email",
        body.notify_email
            .as_deref()
            .map(ContactEmail::new)
            .transpose(),
        &mut errors,
    ) else {
        return Err(ApiError::invalid_body(errors));
    };
    let mut identities = vec![Identity::client(&req)];
    if let Some(actor) = &caller {
        identities.push(Identity::Account(actor.user_id));
    }
    state.limiter.check(Limited::Support, &identities)?;
    let mut conn = state.pool.get().await?;
    if incident_queries::is_open(&mut conn, id).await?.is_none() {
        return Err(incident_not_found(id));
    }
    let created = incident_queries::follow(
        &mut conn,
        id,
        &follower,
        caller.as_ref().map(|actor| actor.user_id),
        email.as_ref().map(ContactEmail::as_str),
        Utc::now(),
    )
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let notified = incident_queries::follows_with_mail(&mut conn, id, &follower).await?;
    Ok(HttpResponse::build(status).json(Following {
        incident_id: id,
        notified,
    }))
}

/// Stop following an incident (`204`, also when it was not followed).
#[utoipa::path(
    tag = "incidents",
    params(("id" = i64, Path, description = "Incident id")),
    request_body = UnfollowRequest,
    responses(
        (status = 204, description = "Not followed any more"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[post("/incidents/{id}/unfollow")]
pub async fn unfollow_incident(
    state: web::Data<AppState>,
    MaybeAuthenticated(caller): MaybeAuthenticated,
    id: web::Path<i64>,
    JsonBody(body): JsonBody<UnfollowRequest>,
) -> Result<HttpResponse, ApiError> {
    let follower = follower(caller.as_ref(), body.device_id.as_deref())?;
    let mut conn = state.pool.get().await?;
    incident_queries::unfollow(&mut conn, id.into_inner(), &follower).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// An incident you follow.
#[derive(Debug, Serialize, ToSchema)]
pub struct FollowedIncident {
    pub incident: Incident,
    pub followed_at: DateTime<Utc>,
    /// Whether its status changes are mailed to you.
    pub notified: bool,
}

/// The header a phone names itself with when it lists what it follows without an account: the
/// device id it follows with (a `GET` has no body, and a query string ends up in logs).
pub const DEVICE_ID_HEADER: &str = "Device-Id";

/// The most follows one list holds.
const MAX_FOLLOWS_LISTED: i64 = 200;

/// The incidents you follow, most recently followed first; at most 200. Signed in, your
/// account's (those you supported included); otherwise the phone's, named by its `Device-Id`
/// header (the device id it followed with, or said "me too" with and then followed).
#[utoipa::path(
    tag = "incidents",
    params(
        ("Device-Id" = Option<String>, Header, description = "The app's device id (8 to 128 characters), when not signed in"),
    ),
    responses(
        (status = 200, body = [FollowedIncident]),
        (status = 401, description = "Neither signed in nor a device named", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A `Device-Id` that is not one", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[get("/me/follows")]
pub async fn my_follows(
    state: web::Data<AppState>,
    req: HttpRequest,
    MaybeAuthenticated(caller): MaybeAuthenticated,
) -> Result<web::Json<Vec<FollowedIncident>>, ApiError> {
    let device = req
        .headers()
        .get(DEVICE_ID_HEADER)
        .map(|value| value.to_str().unwrap_or_default());
    if caller.is_none() && device.is_none() {
        return Err(ApiError::unauthenticated(
            "unauthenticated",
            "sign in (`Authorization: Bearer <access token>`) or name the device (`Device-Id`)",
        ));
    }
    let follower = follower(caller.as_ref(), device)?;
    let mut conn = state.pool.get().await?;
    let followed = incident_queries::followed_by(&mut conn, &follower, MAX_FOLLOWS_LISTED).await?;
    followed
        .into_iter()
        .map(|followed| {
            Ok(FollowedIncident {
                incident: incident(followed.incident)?,
                followed_at: followed.followed_at,
                notified: followed.notified,
            })
        })
        .collect::<Result<_, ApiError>>()
        .map(web::Json)
}

/// Which page of an incident's history.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
}

/// A page of an incident's public history, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentHistory {
    pub items: Vec<ReportEvent>,
    /// Pass as `cursor` to get the older entries; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The public history of an incident, newest first: what happened to every report it holds
/// (each received, status changes with their explanations, merges and splits), each change
/// once however many reports it moved. What a follower reads of the crews' explanations.
/// Internal notes never appear.
#[utoipa::path(
    tag = "incidents",
    params(("id" = i64, Path, description = "Incident id"), HistoryQuery),
    responses(
        (status = 200, body = IncidentHistory),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/incidents/{id}/events")]
pub async fn list_incident_events(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    QueryParams(query): QueryParams<HistoryQuery>,
) -> Result<web::Json<IncidentHistory>, ApiError> {
    let id = id.into_inner();
    let mut errors = Vec::new();
    let before = query
        .cursor
        .as_deref()
        .and_then(|text| check("cursor", cursor::decode_event(text), &mut errors));
    let page_size = query
        .limit
        .map(|limit| check("limit", PageSize::new(limit), &mut errors))
        .unwrap_or(Some(PageSize::default()));
    let Some(page_size) = page_size.filter(|_| errors.is_empty()) else {
        return Err(ApiError::invalid_query(errors));
    };
    let mut conn = state.pool.get().await?;
    if incident_queries::is_open(&mut conn, id).await?.is_none() {
        return Err(incident_not_found(id));
    }
    let page_len = usize::from(page_size.get());
    // One more than asked tells whether older entries follow.
    let mut rows =
        incident_queries::public_history(&mut conn, id, before, i64::from(page_size.get()) + 1)
            .await?;
    let has_more = rows.len() > page_len;
    rows.truncate(page_len);
    let next_cursor = has_more
        .then(|| {
            rows.last()
                .map(|row| cursor::encode_event(row.created_at, row.id))
        })
        .flatten();
    Ok(web::Json(IncidentHistory {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}
