//! The crew side: the work queue of one's departments, taking, releasing and assigning jobs
//! with optimistic concurrency (`If-Match` on the job's version), and status changes that carry
//! a public explanation to every report of the incident.

use actix_web::{HttpRequest, HttpResponse, get, http::header, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use signalons_db::{
    AsyncConnection, AsyncPgConnection,
    accounts::{self, NewAuditEntry},
    jobs::{self as job_queries, AssigneeFilter, JobState, MergeRefusal, QueueFilter, QueueRow},
};
use signalons_domain::{
    Actor, CategoryCode, Explanation, GeoPoint, Latitude, Longitude, ReportStatus, Violation,
    access::{Denied, JobAction, JobScope},
    dedup::distance_m,
    status::Transition,
};
use utoipa::{IntoParams, ToSchema};

use crate::{
    AppState,
    accounts::require_staff,
    auth::{Authenticated, load_actor},
    error::{ApiError, FieldError, Problem},
    extract::{JsonBody, QueryParams},
    reports::{Named, check},
};

/// A job: an incident as the crews who work it see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Job {
    /// The incident's id.
    pub id: i64,
    pub category: Named,
    pub status: ReportStatus,
    /// 1 (urgent) to 5 (low).
    pub priority: i16,
    pub department: Option<String>,
    pub service_area: Option<Named>,
    pub latitude: f64,
    pub longitude: f64,
    pub address: Option<String>,
    /// The first report's description.
    pub description: String,
    pub report_count: i32,
    pub supporters_count: i32,
    /// The staff member working it, if any.
    pub assignee_id: Option<i64>,
    /// Send it back in `If-Match` to change the job; every change increments it.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the category's service level says it should be done.
    pub due_at: Option<DateTime<Utc>>,
    /// Open past its due date.
    pub overdue: bool,
    pub closed_at: Option<DateTime<Utc>>,
    /// Metres from the position given to the queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<f64>,
}

fn job(row: QueueRow, from: Option<GeoPoint>) -> Result<Job, ApiError> {
    let position = Latitude::new(row.location.y)
        .and_then(|lat| Longitude::new(row.location.x).map(|lon| GeoPoint::new(lat, lon)))
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Job {
        id: row.id,
        category: Named {
            code: row.category_code,
            name: row.category_name,
        },
        status: row
            .status
            .parse()
            .map_err(|e: Violation| ApiError::internal(&e))?,
        priority: row.priority,
        department: row.department_code,
        service_area: row
            .service_area_code
            .zip(row.service_area_name)
            .map(|(code, name)| Named { code, name }),
        latitude: position.lat(),
        longitude: position.lon(),
        address: row.address,
        description: row.summary,
        report_count: row.report_count,
        supporters_count: row.supporters_count,
        assignee_id: row.assignee_id,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
        due_at: row.due_at,
        overdue: row.overdue,
        closed_at: row.closed_at,
        distance_m: from.map(|from| distance_m(from, position).round()),
    })
}

/// The queue's filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// A service area code.
    pub area: Option<String>,
    /// Category codes, comma-separated.
    pub category: Option<String>,
    /// Open statuses, comma-separated (default: every open status).
    pub status: Option<String>,
    /// `me`, `none` (unassigned) or a staff member's id.
    pub assignee: Option<String>,
    /// Where the crew is: nearer jobs come first within a priority.
    pub lat: Option<f64>,
    pub long: Option<f64>,
    /// 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// Jobs to skip (pagination; at most 10,000).
    pub offset: Option<i64>,
}

/// One page of a queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuePage {
    pub items: Vec<Job>,
    /// Pass as `offset` for the next page; absent on the last.
    pub next_offset: Option<i64>,
}

fn split_list(text: Option<&str>) -> Vec<&str> {
    text.map(|t| {
        t.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

fn queue_filter(
    actor: &Actor,
    jurisdiction: i64,
    query: &QueueQuery,
) -> Result<(QueueFilter, Option<GeoPoint>), ApiError> {
    let mut errors = Vec::new();
    let categories: Vec<String> = split_list(query.category.as_deref())
        .into_iter()
        .filter_map(|code| check("category", CategoryCode::new(code), &mut errors))
        .map(|code| code.as_str().to_owned())
        .collect();
    let statuses: Vec<&'static str> = split_list(query.status.as_deref())
        .into_iter()
        .filter_map(|s| check("status", s.parse::<ReportStatus>(), &mut errors))
        .map(ReportStatus::as_str)
        .collect();
    let assignee = match query.assignee.as_deref() {
        None | Some("") => AssigneeFilter::Anyone,
        Some("me") => AssigneeFilter::User(actor.user_id),
        Some("none") => AssigneeFilter::Unassigned,
        Some(id) => match id.parse() {
            Ok(id) => AssigneeFilter::User(id),
            Err(_) => {
                errors.push(FieldError::new(
                    "assignee",
                    Violation::new("invalid_value", "assignee is `me`, `none` or a staff id"),
                ));
                AssigneeFilter::Anyone
            }
        },
    };
    let near = match (query.lat, query.long) {
        (None, None) => None,
        (Some(lat), Some(long)) => {
            let lat = check("lat", Latitude::new(lat), &mut errors);
            let long = check("long", Longitude::new(long), &mut errors);
            lat.zip(long).map(|(lat, long)| GeoPoint::new(lat, long))
        }
        _ => {
            errors.push(FieldError::new(
                "lat",
                Violation::new("missing_field", "lat and long go together"),
            ));
            None
        }
    };
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        errors.push(FieldError::new(
            "limit",
            Violation::new("out_of_range", "limit is 1 to 200"),
        ));
    }
    let offset = query.offset.unwrap_or(0);
    if !(0..=10_000).contains(&offset) {
        errors.push(FieldError::new(
            "offset",
            Violation::new("out_of_range", "offset is 0 to 10000"),
        ));
    }
    if let Some(area) = &query.area
        && (area.is_empty() || area.len() > 64)
    {
        errors.push(FieldError::new(
            "area",
            Violation::new("invalid_value", "area is a service area code"),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid_query(errors));
    }
    let filter = QueueFilter {
        jurisdiction_id: jurisdiction,
        department_ids: match actor.role {
            signalons_domain::Role::Admin => None,
            _ => Some(actor.department_ids.clone()),
        },
        service_area_code: query.area.clone(),
        category_codes: categories,
        statuses,
        assignee,
        near: near.map(signalons_db::wgs84_point),
        offset,
        limit: limit + 1,
    };
    Ok((filter, near))
}

/// The open jobs of the caller's departments (all of the city's for admins), most urgent
/// first: priority, then overdue, then — with `lat`/`long` — the nearest kilometre band, then the
/// oldest.
#[utoipa::path(
    tag = "crews",
    params(QueueQuery),
    responses(
        (status = 200, body = QueuePage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/queue")]
pub async fn get_queue(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(query): QueryParams<QueueQuery>,
) -> Result<web::Json<QueuePage>, ApiError> {
    let jurisdiction = require_staff(&actor)?;
    let (filter, near) = queue_filter(&actor, jurisdiction, &query)?;
    let mut conn = state.pool.get().await?;
    let mut rows = job_queries::queue(&mut conn, &filter, Utc::now()).await?;
    let page_size = filter.limit - 1;
    let next_offset = (rows.len() as i64 > page_size).then_some(filter.offset + page_size);
    rows.truncate(page_size as usize);
    let items = rows
        .into_iter()
        .map(|row| job(row, near))
        .collect::<Result<_, _>>()?;
    Ok(web::Json(QueuePage { items, next_offset }))
}

pub(crate) fn job_not_found(id: i64) -> ApiError {
    ApiError::not_found("job_not_found", format!("no job {id}"))
}

pub(crate) fn scope(state: &JobState) -> JobScope {
    JobScope {
        jurisdiction_id: state.jurisdiction_id,
        department_id: state.department_id,
        assignee_id: state.assignee_id,
    }
}

async fn current_job(conn: &mut AsyncPgConnection, id: i64) -> Result<Job, ApiError> {
    let row = job_queries::find(conn, id, Utc::now())
        .await?
        .ok_or_else(|| job_not_found(id))?;
    job(row, None)
}

fn with_etag(job: Job) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ETAG, format!("\"{}\"", job.version)))
        .json(job)
}

/// One job, with its version as the `ETag`.
#[utoipa::path(
    tag = "crews",
    params(("id" = i64, Path, description = "Incident id")),
    responses(
        (status = 200, body = Job, headers(("ETag" = String, description = "The job's version"))),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/jobs/{id}")]
pub async fn get_job(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    let found = job_queries::state(&mut conn, id)
        .await?
        .ok_or_else(|| job_not_found(id))?;
    actor.may(JobAction::View, scope(&found)).map_err(denied)?;
    Ok(with_etag(current_job(&mut conn, id).await?))
}

pub(crate) fn denied(reason: Denied) -> ApiError {
    let code = match reason {
        Denied::NotStaff => "staff_only",
        Denied::OutOfScope => "out_of_scope",
        Denied::NeedsDispatcher => "dispatcher_only",
        Denied::AssignedToAnother => "assigned_to_another",
    };
    ApiError::forbidden(code, reason.to_string())
}

/// The version a change is conditional on, from `If-Match: "<version>"`.
fn expected_version(req: &HttpRequest) -> Result<i32, ApiError> {
    let value = req.headers().get(header::IF_MATCH).ok_or_else(|| {
        ApiError::new(
            actix_web::http::StatusCode::PRECONDITION_REQUIRED,
            "if_match_required",
            "send the job's version (its ETag) in If-Match, so two crews cannot both act on it",
        )
    })?;
    value
        .to_str()
        .ok()
        .map(|text| text.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| {
            ApiError::new(
                actix_web::http::StatusCode::BAD_REQUEST,
                "invalid_if_match",
                "If-Match must be the job's ETag, such as \"3\"",
            )
        })
}

/// What a staff action does to a locked job, after access and version checks.
enum Change {
    Take,
    Release,
    Assign(Option<i64>),
    Status {
        to: ReportStatus,
        explanation: Explanation,
        internal_note: Option<String>,
    },
    Merge {
        absorbed: Vec<i64>,
        explanation: Explanation,
    },
    Split {
        report_ids: Vec<i64>,
        explanation: Explanation,
    },
}

impl Change {
    fn action(&self) -> JobAction {
        match self {
            Self::Take => JobAction::Take,
            Self::Release => JobAction::Release,
            Self::Assign(_) => JobAction::Assign,
            Self::Status { .. } => JobAction::ChangeStatus,
            Self::Merge { .. } | Self::Split { .. } => JobAction::MergeOrSplit,
        }
    }
    fn audit_name(&self) -> &'static str {
        match self {
            Self::Take => "job.take",
            Self::Release => "job.release",
            Self::Assign(_) => "job.assign",
            Self::Status { .. } => "job.status",
            Self::Merge { .. } => "job.merge",
            Self::Split { .. } => "job.split",
        }
    }
}

/// Locks the job, checks the caller's rights and the version, applies `change`, records it in
/// the audit log and announces it to live queues, all in one transaction.
async fn apply(
    state: &AppState,
    actor: &Actor,
    id: i64,
    expected: i32,
    change: Change,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let now = Utc::now();
    let outcome = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let locked = job_queries::lock(conn, id)
                .await?
                .ok_or_else(|| job_not_found(id))?;
            actor.may(change.action(), scope(&locked)).map_err(denied)?;
            if locked.version != expected {
                return Ok(Err((
                    "version_conflict",
                    "the job changed since you read it; here it is now",
                )));
            }
            let mut detail = serde_json::json!({ "version": expected });
            let mut created = None;
            match &change {
                Change::Take => {
                    if locked.assignee_id.is_some_and(|a| a != actor.user_id) {
                        return Ok(Err(("already_taken", "another crew member has this job")));
                    }
                    job_queries::set_assignee(conn, id, Some(actor.user_id), now).await?;
                    detail["assignee_id"] = actor.user_id.into();
                }
                Change::Release => {
                    job_queries::set_assignee(conn, id, None, now).await?;
                }
                Change::Assign(assignee) => {
                    if let Some(assignee) = assignee {
                        check_assignee(conn, *assignee, &locked).await?;
                    }
                    job_queries::set_assignee(conn, id, *assignee, now).await?;
                    detail["assignee_id"] = (*assignee).into();
                }
                Change::Status {
                    to,
                    explanation,
                    internal_note,
                } => {
                    let from: ReportStatus = locked
                        .status
                        .parse()
                        .map_err(|e: Violation| ApiError::internal(&e))?;
                    let transition = Transition::new(from, *to).map_err(|refused| {
                        ApiError::unprocessable(
                            "invalid_transition",
                            format!("a job that is {} cannot become {}", refused.from, refused.to),
                        )
                    })?;
                    job_queries::change_status(conn, id, transition, explanation.as_str(), now)
                        .await?;
                    if let Some(note) = internal_note {
                        job_queries::add_internal_note(conn, id, note, now).await?;
                    }
                    detail = serde_json::json!({
                        "version": expected,
                        "from": from,
                        "to": to,
                        "explanation": explanation.as_str(),
                        "internal_note": internal_note,
                    });
                }
                Change::Merge {
                    absorbed,
                    explanation,
                } => {
                    for &other in absorbed {
                        let other_job = job_queries::lock(conn, other)
                            .await?
                            .ok_or_else(|| job_not_found(other))?;
                        actor
                            .may(JobAction::MergeOrSplit, scope(&other_job))
                            .map_err(denied)?;
                        if other == id || other_job.closed_at.is_some() || !job_queries::same_problem_kind(conn, id, other).await? {
                            return Err(ApiError::unprocessable(
                                "not_mergeable",
                                format!("job {other} is closed, the same job, or another kind of problem"),
                            ));
                        }
                    }
                    let merged = job_queries::merge_incidents(conn, &locked, absorbed, explanation.as_str(), now).await?;
                    let moved = match merged {
                        Ok(moved) => moved,
                        Err(MergeRefusal::KeeperClosed) => {
                            return Ok(Err((
                                "job_closed",
                                "this job is closed: merge it into an open job instead, or reopen it first",
                            )));
                        }
                        Err(MergeRefusal::Report { report_id, refused }) => {
                            return Err(ApiError::unprocessable(
                                "invalid_transition",
                                format!(
                                    "report {report_id} is {} and cannot become {}: merge into the job that is further along",
                                    refused.from, refused.to
                                ),
                            ));
                        }
                        Err(MergeRefusal::Absorbed { incident_id, refused }) => {
                            return Err(ApiError::unprocessable(
                                "not_mergeable",
                                format!("job {incident_id} is {} and cannot close as a duplicate", refused.from),
                            ));
                        }
                    };
                    detail = serde_json::json!({
                        "version": expected,
                        "absorbed": absorbed,
                        "reports_moved": moved,
                        "explanation": explanation.as_str(),
                    });
                    for &other in absorbed {
                        job_queries::announce_incident(conn, other, "merged").await?;
                    }
                }
                Change::Split {
                    report_ids,
                    explanation,
                } => {
                    let new = job_queries::split_incident(conn, &locked, report_ids, explanation.as_str(), now)
                        .await?
                        .ok_or_else(|| {
                            ApiError::unprocessable(
                                "not_splittable",
                                "the reports must all belong to this job, and at least one must stay",
                            )
                        })?;
                    detail = serde_json::json!({
                        "version": expected,
                        "report_ids": report_ids,
                        "new_incident_id": new,
                        "explanation": explanation.as_str(),
                    });
                    job_queries::announce_incident(conn, new, "split").await?;
                    created = Some(new);
                }
            }
            accounts::audit(
                conn,
                NewAuditEntry {
                    jurisdiction_id: Some(locked.jurisdiction_id),
                    actor_id: Some(actor.user_id),
                    action: change.audit_name(),
                    target_id: Some(id),
                    detail,
                    created_at: now,
                },
            )
            .await?;
            let kind = match change {
                Change::Status { .. } => "status_changed",
                Change::Merge { .. } => "merged",
                Change::Split { .. } => "split",
                Change::Take | Change::Release | Change::Assign(_) => "assigned",
            };
            job_queries::announce_incident(conn, id, kind).await?;
            Ok(Ok(created))
        })
        .await?;
    let current = current_job(&mut conn, id).await?;
    match outcome {
        Ok(None) => {
            tracing::info!(job = id, user = actor.user_id, "job changed");
            Ok(with_etag(current))
        }
        Ok(Some(created)) => {
            tracing::info!(job = id, created, user = actor.user_id, "job split");
            let new_job = current_job(&mut conn, created).await?;
            Ok(HttpResponse::Created()
                .insert_header((header::LOCATION, format!("/api/v1/jobs/{created}")))
                .insert_header((header::ETAG, format!("\"{}\"", new_job.version)))
                .json(new_job))
        }
        Err((code, detail)) => Err(ApiError::conflict(
            code,
            detail,
            serde_json::to_value(&current).map_err(|e| ApiError::internal(&e))?,
        )),
    }
}

/// An assignee must be active staff of the job's city who works for its department.
async fn check_assignee(
    conn: &mut AsyncPgConnection,
    assignee: i64,
    job: &JobState,
) -> Result<(), ApiError> {
    let invalid = || {
        ApiError::unprocessable(
            "invalid_assignee",
            "the assignee must be active staff working for this job's department",
        )
    };
    let actor = load_actor(conn, assignee).await?.ok_or_else(invalid)?;
    if actor.role.is_staff() && actor.covers(job.jurisdiction_id, job.department_id) {
        Ok(())
    } else {
        Err(invalid())
    }
}

/// Take a job: it becomes yours. `409 already_taken` when another crew member has it,
/// `409 version_conflict` when it changed since you read it (both with the job as it is now).
#[utoipa::path(
    tag = "crews",
    params(
        ("id" = i64, Path, description = "Incident id"),
        ("If-Match" = String, Header, description = "The job's version, as its ETag"),
    ),
    responses(
        (status = 200, body = Job),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 428, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/jobs/{id}/take")]
pub async fn take_job(
    state: web::Data<AppState>,
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let expected = expected_version(&req)?;
    apply(&state, &actor, id.into_inner(), expected, Change::Take).await
}

/// Give a job back to the queue (your own; dispatchers any).
#[utoipa::path(
    tag = "crews",
    params(
        ("id" = i64, Path, description = "Incident id"),
        ("If-Match" = String, Header, description = "The job's version, as its ETag"),
    ),
    responses(
        (status = 200, body = Job),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 428, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/jobs/{id}/release")]
pub async fn release_job(
    state: web::Data<AppState>,
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let expected = expected_version(&req)?;
    apply(&state, &actor, id.into_inner(), expected, Change::Release).await
}

/// Who should work a job.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    /// A staff member of the job's department; `null` to unassign.
    pub assignee_id: Option<i64>,
}

/// Assign a job to a staff member of its department (dispatchers and admins).
#[utoipa::path(
    tag = "crews",
    params(
        ("id" = i64, Path, description = "Incident id"),
        ("If-Match" = String, Header, description = "The job's version, as its ETag"),
    ),
    request_body = Assignment,
    responses(
        (status = 200, body = Job),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 428, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/jobs/{id}/assign")]
pub async fn assign_job(
    state: web::Data<AppState>,
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    id: web::Path<i64>,
    JsonBody(body): JsonBody<Assignment>,
) -> Result<HttpResponse, ApiError> {
    let expected = expected_version(&req)?;
    apply(
        &state,
        &actor,
        id.into_inner(),
        expected,
        Change::Assign(body.assignee_id),
    )
    .await
}

/// A move through the status machine.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    pub status: ReportStatus,
    /// Why, for residents: shown in every report's public history. Required.
    #[schema(min_length = 3, max_length = 2000)]
    pub explanation: String,
    /// For staff only: never shown publicly.
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub internal_note: Option<String>,
}

/// Change a job's status with a public explanation; every report of the incident takes the new
/// status and the explanation appears in its public history.
#[utoipa::path(
    tag = "crews",
    params(
        ("id" = i64, Path, description = "Incident id"),
        ("If-Match" = String, Header, description = "The job's version, as its ETag"),
    ),
    request_body = StatusChange,
    responses(
        (status = 200, body = Job),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No explanation, or a transition the status machine forbids", body = Problem, content_type = "application/problem+json"),
        (status = 428, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/jobs/{id}/status")]
pub async fn change_job_status(
    state: web::Data<AppState>,
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    id: web::Path<i64>,
    JsonBody(body): JsonBody<StatusChange>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let explanation = check(
        "explanation",
        Explanation::new(&body.explanation),
        &mut errors,
    );
    let note = check(
        "internal_note",
        body.internal_note
            .as_deref()
            .map(signalons_domain::Description::new)
            .transpose(),
        &mut errors,
    );
    let (Some(explanation), Some(note)) = (explanation, note) else {
        return Err(ApiError::invalid_body(errors));
    };
    let expected = expected_version(&req)?;
    let change = Change::Status {
        to: body.status,
        explanation,
        internal_note: note
            .map(|n| n.as_str().to_owned())
            .filter(|n| !n.is_empty()),
    };
    apply(&state, &actor, id.into_inner(), expected, change).await
}

/// Incidents to fold into this one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// Open jobs of the same kind of problem (1 to 50).
    pub incident_ids: Vec<i64>,
    /// Shown in the public history of every moved report.
    #[schema(min_length = 3, max_length = 2000)]
    pub explanation: String,
}

/// Reports to take out of this incident into a new one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitRequest {
    /// Reports of this job (1 to 200); at least one report must stay.
    pub report_ids: Vec<i64>,
    /// Shown in the public history of every moved report.
    #[schema(min_length = 3, max_length = 2000)]
    pub explanation: String,
}

fn bounded_ids(field: &str, ids: &[i64], max: usize, errors: &mut Vec<FieldError>) -> Vec<i64> {
    let mut unique = ids.to_vec();
    unique.sort_unstable();
    unique.dedup();
    if unique.is_empty() || unique.len() > max {
        errors.push(FieldError::new(
            field,
            Violation::new("out_of_range", format!("1 to {max} distinct ids")),
        ));
    }
    unique
}

/// Merge other incidents into this one (dispatchers and admins): their reports and supporters
/// join it and take its status; the merged incidents close as duplicates pointing here.
#[utoipa::path(
    tag = "crews",
    params(
        ("id" = i64, Path, description = "The incident that stays"),
        ("If-Match" = String, Header, description = "Its version, as its ETag"),
    ),
    request_body = MergeRequest,
    responses(
        (status = 200, body = Job),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/jobs/{id}/merge")]
pub async fn merge_jobs(
    state: web::Data<AppState>,
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    id: web::Path<i64>,
    JsonBody(body): JsonBody<MergeRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let absorbed = bounded_ids("incident_ids", &body.incident_ids, 50, &mut errors);
    let explanation = check(
        "explanation",
        Explanation::new(&body.explanation),
        &mut errors,
    );
    let Some(explanation) = explanation.filter(|_| errors.is_empty()) else {
        return Err(ApiError::invalid_body(errors));
    };
    let expected = expected_version(&req)?;
    apply(
        &state,
        &actor,
        id.into_inner(),
        expected,
        Change::Merge {
            absorbed,
            explanation,
        },
    )
    .await
}

/// Split reports off this incident into a new one, when they turn out to be another problem
/// (dispatchers and admins). Answers `201` with the new job.
#[utoipa::path(
    tag = "crews",
    params(
        ("id" = i64, Path, description = "The incident the reports leave"),
        ("If-Match" = String, Header, description = "Its version, as its ETag"),
    ),
    request_body = SplitRequest,
    responses(
        (status = 201, body = Job, headers(("Location" = String, description = "The new job"))),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/jobs/{id}/split")]
pub async fn split_job(
    state: web::Data<AppState>,
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    id: web::Path<i64>,
    JsonBody(body): JsonBody<SplitRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let report_ids = bounded_ids("report_ids", &body.report_ids, 200, &mut errors);
    let explanation = check(
        "explanation",
        Explanation::new(&body.explanation),
        &mut errors,
    );
    let Some(explanation) = explanation.filter(|_| errors.is_empty()) else {
        return Err(ApiError::invalid_body(errors));
    };
    let expected = expected_version(&req)?;
    apply(
        &state,
        &actor,
        id.into_inner(),
        expected,
        Change::Split {
            report_ids,
            explanation,
        },
    )
    .await
}

/// One message about a job's reports: to its department or to a resident.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    pub id: i64,
    pub report_id: Option<i64>,
    /// `report_created` (to the department or an app), `status_changed` (to a resident or an
    /// app) or `area_alert` (to a resident watching the area).
    pub message: String,
    /// `email` or `webhook`.
    pub channel: String,
    /// `department`, `app` (a third-party app's webhook subscription) or `resident`
    /// (residents' addresses are not shown).
    pub recipient: &'static str,
    /// `pending`, `delivered`, `dead` (gave up; can be retried) or `skipped`.
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<signalons_db::outbox::OutboxMessage> for Delivery {
    fn from(m: signalons_db::outbox::OutboxMessage) -> Self {
        Self {
            id: m.id,
            report_id: m.report_id,
            recipient: match (m.department_id, m.subscription_id) {
                (Some(_), _) => "department",
                (None, Some(_)) => "app",
                (None, None) => "resident",
            },
            message: m.message,
            channel: m.channel,
            state: m.state,
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            last_error: m.last_error,
            created_at: m.created_at,
            delivered_at: m.delivered_at,
        }
    }
}

/// Whether the department and residents got the messages about a job's reports (staff).
#[utoipa::path(
    tag = "crews",
    params(("id" = i64, Path, description = "Incident id")),
    responses(
        (status = 200, body = [Delivery]),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/jobs/{id}/deliveries")]
pub async fn job_deliveries(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<i64>,
) -> Result<web::Json<Vec<Delivery>>, ApiError> {
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    let found = job_queries::state(&mut conn, id)
        .await?
        .ok_or_else(|| job_not_found(id))?;
    actor.may(JobAction::View, scope(&found)).map_err(denied)?;
    let deliveries = signalons_db::outbox::of_incident(&mut conn, id).await?;
    Ok(web::Json(
        deliveries.into_iter().map(Delivery::from).collect(),
    ))
}

/// Send a failed or dead message again now (staff of the job).
#[utoipa::path(
    tag = "crews",
    params(("id" = i64, Path, description = "Delivery id")),
    responses(
        (status = 200, body = Delivery),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already delivered or skipped", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/deliveries/{id}/retry")]
pub async fn retry_delivery(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<i64>,
) -> Result<web::Json<Delivery>, ApiError> {
    let id = id.into_inner();
    let not_found = || ApiError::not_found("delivery_not_found", format!("no delivery {id}"));
    let mut conn = state.pool.get().await?;
    let message = signalons_db::outbox::find(&mut conn, id)
        .await?
        .ok_or_else(not_found)?;
    let report = match message.report_id {
        Some(report) => signalons_db::reports::find_public(&mut conn, report).await?,
        None => None,
    }
    .ok_or_else(not_found)?;
    let job = job_queries::state(&mut conn, report.incident_id)
        .await?
        .ok_or_else(not_found)?;
    actor.may(JobAction::View, scope(&job)).map_err(denied)?;
    let now = Utc::now();
    if !signalons_db::outbox::retry_now(&mut conn, id, now).await? {
        let current =
            serde_json::to_value(Delivery::from(message)).map_err(|e| ApiError::internal(&e))?;
        return Err(ApiError::conflict(
            "not_retryable",
            "this message was delivered or skipped",
            current,
        ));
    }
    accounts::audit(
        &mut conn,
        NewAuditEntry {
            jurisdiction_id: Some(job.jurisdiction_id),
            actor_id: Some(actor.user_id),
            action: "delivery.retry",
            target_id: Some(id),
            detail: serde_json::json!({ "job": job.id, "previous_state": message.state }),
            created_at: now,
        },
    )
    .await?;
    let message = signalons_db::outbox::find(&mut conn, id)
        .await?
        .ok_or_else(not_found)?;
    Ok(web::Json(Delivery::from(message)))
}

/// One staff action.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    /// The staff member who acted (absent for the command line and other systems).
    pub actor_id: Option<i64>,
    /// `<object>.<verb>`: `job.take`, `job.status`, `staff.create`, `category.put`...
    pub action: String,
    /// The id of what was acted on (a job, a staff account, a category...).
    pub target_id: Option<i64>,
    /// What changed, including internal notes.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<accounts::AuditEntry> for AuditEntry {
    fn from(e: accounts::AuditEntry) -> Self {
        Self {
            id: e.id,
            actor_id: e.actor_id,
            action: e.action,
            target_id: e.target_id,
            detail: e.detail,
            created_at: e.created_at,
        }
    }
}

/// Every staff action on a job, newest first, internal notes included (staff only).
#[utoipa::path(
    tag = "crews",
    params(("id" = i64, Path, description = "Incident id")),
    responses(
        (status = 200, body = [AuditEntry]),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/jobs/{id}/audit")]
pub async fn job_audit(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<i64>,
) -> Result<web::Json<Vec<AuditEntry>>, ApiError> {
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    let found = job_queries::state(&mut conn, id)
        .await?
        .ok_or_else(|| job_not_found(id))?;
    actor.may(JobAction::View, scope(&found)).map_err(denied)?;
    let entries = accounts::audit_entries(
        &mut conn,
        found.jurisdiction_id,
        accounts::AuditFilter {
            object: Some("job"),
            target_id: Some(id),
            before: None,
        },
        200,
    )
    .await?
    .into_iter()
    .map(AuditEntry::from)
    .collect();
    Ok(web::Json(entries))
}

/// Reopens the incident of report `id` for its reporter (signed in as `user`, or proving the
/// device with `device`), within the jurisdiction's window.
pub async fn reopen_by_reporter(
    conn: &mut AsyncPgConnection,
    id: i64,
    user: Option<i64>,
    device: Option<Vec<u8>>,
    explanation: &Explanation,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    conn.transaction::<_, ApiError, _>(async |conn| {
        let context = signalons_db::reports::reporter_context(conn, id)
            .await?
            .ok_or_else(|| ApiError::not_found("report_not_found", format!("no report {id}")))?;
        let by_account = context.made_by_account(user);
        if !by_account && !context.made_by_device(device.as_deref()) {
            return Err(ApiError::forbidden(
                "not_the_reporter",
                "only the resident who made this report can reopen it",
            ));
        }
        let locked = job_queries::lock(conn, context.incident_id)
            .await?
            .ok_or_else(|| ApiError::internal(&"report without incident"))?;
        let status: ReportStatus = locked
            .status
            .parse()
            .map_err(|e: Violation| ApiError::internal(&e))?;
        let transition = Transition::reopened_by_reporter(
            status,
            locked.closed_at,
            now,
            context.reopen_window_days,
        )
        .map_err(|v| ApiError::unprocessable(v.code, v.message))?;
        job_queries::change_status(conn, locked.id, transition, explanation.as_str(), now).await?;
        accounts::audit(
            conn,
            NewAuditEntry {
                jurisdiction_id: Some(locked.jurisdiction_id),
                actor_id: user.filter(|_| by_account),
                action: "job.reopen",
                target_id: Some(locked.id),
                detail: serde_json::json!({ "report_id": id, "explanation": explanation.as_str() }),
                created_at: now,
            },
        )
        .await?;
        job_queries::announce_incident(conn, locked.id, "status_changed").await?;
        Ok(())
    })
    .await
}
