//! Reports: create (idempotent), read, list, and their public history.

use actix_web::{HttpRequest, HttpResponse, get, http::StatusCode, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use signalons_db::{
    DatabaseErrorKind, DbError,
    catalog::{self, Placement},
    models::{NewReport, PublicReport, ReportEvent as EventRow},
    reports::{self as report_queries, AreaFilter, ReportFilter},
};
use signalons_domain::{
    Address, BoundingBox, CategoryCode, ContactEmail, Description, GeoPoint, IdempotencyKey,
    Latitude, Longitude, PageSize, RadiusMetres, ReportSource, ReportStatus, Violation,
    routing::{RoutingQuestion, choose_department},
};
use utoipa::{IntoParams, ToSchema};

use crate::{
    AppState, cursor,
    error::{ApiError, FieldError, Problem},
    extract::{JsonBody, QueryParams},
};

/// Header a client sets so that retrying a create never makes a second report.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// Set on a create answered from an earlier request with the same key.
pub const IDEMPOTENT_REPLAYED: &str = "Idempotent-Replayed";

/// A new report of a problem in public space.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReport {
    /// Category code (see `GET /api/v1/categories`).
    #[schema(example = "pothole")]
    pub category: String,
    /// WGS 84 latitude in degrees.
    #[schema(example = 42.3467, minimum = -90, maximum = 90)]
    pub latitude: f64,
    /// WGS 84 longitude in degrees.
    #[schema(example = -71.0972, minimum = -180, maximum = 180)]
    pub longitude: f64,
    /// Accuracy of the position in metres, as the device reports it.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100000)]
    pub location_accuracy_m: Option<f64>,
    /// Street address, if known.
    #[serde(default)]
    #[schema(max_length = 300)]
    pub address: Option<String>,
    /// What is wrong, in the resident's words.
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub description: Option<String>,
    /// Where to tell the reporter what happens. Private: never shown publicly.
    #[serde(default)]
    #[schema(max_length = 254)]
    pub contact_email: Option<String>,
    /// The client that sends the report: `pwa` or `api` (the default).
    #[serde(default)]
    pub source: Option<ReportSource>,
}

/// A [`CreateReport`] whose every field has been checked.
struct ValidReport {
    category: CategoryCode,
    position: GeoPoint,
    accuracy_m: Option<f32>,
    address: Option<Address>,
    description: Description,
    contact_email: Option<ContactEmail>,
    source: ReportSource,
}

fn check<T>(field: &str, result: Result<T, Violation>, errors: &mut Vec<FieldError>) -> Option<T> {
    result
        .map_err(|violation| errors.push(FieldError::new(field, violation)))
        .ok()
}

impl CreateReport {
    fn validate(&self) -> Result<ValidReport, ApiError> {
        let mut errors = Vec::new();
        let category = check("category", CategoryCode::new(&self.category), &mut errors);
        let latitude = check("latitude", Latitude::new(self.latitude), &mut errors);
        let longitude = check("longitude", Longitude::new(self.longitude), &mut errors);
        let accuracy_m = check(
            "location_accuracy_m",
            self.location_accuracy_m
                .map(|metres| {
                    if metres.is_finite() && (0.0..=100_000.0).contains(&metres) {
                        Ok(metres as f32)
                    } else {
                        Err(Violation::new(
                            "out_of_range",
                            "accuracy must be 0 to 100000 metres",
                        ))
                    }
                })
                .transpose(),
            &mut errors,
        );
        let address = check(
            "address",
            self.address.as_deref().map(Address::new).transpose(),
            &mut errors,
        );
        let description = check(
            "description",
            Description::new(self.description.as_deref().unwrap_or_default()),
            &mut errors,
        );
        let contact_email = check(
            "contact_email",
            self.contact_email
                .as_deref()
                .map(ContactEmail::new)
                .transpose(),
            &mut errors,
        );
        let source = self.source.unwrap_or(ReportSource::Api);
        if !matches!(source, ReportSource::Api | ReportSource::Pwa) {
            errors.push(FieldError::new(
                "source",
                Violation::new("source_not_allowed", "source must be `pwa` or `api`"),
            ));
        }
        match (
            category,
            latitude,
            longitude,
            accuracy_m,
            address,
            description,
            contact_email,
        ) {
            (
                Some(category),
                Some(latitude),
                Some(longitude),
                Some(accuracy_m),
                Some(address),
                Some(description),
                Some(contact_email),
            ) if errors.is_empty() => Ok(ValidReport {
                category,
                position: GeoPoint::new(latitude, longitude),
                accuracy_m,
                address,
                description,
                contact_email,
                source,
            }),
            _ => Err(ApiError::invalid_body(errors)),
        }
    }
}

impl ValidReport {
    /// A digest of what was asked, to tell an honest retry from a reused key.
    fn fingerprint(&self) -> Vec<u8> {
        let canonical = serde_json::json!([
            self.category.as_str(),
            self.position.lat(),
            self.position.lon(),
            self.accuracy_m,
            self.address.as_ref().map(Address::as_str),
            self.description.as_str(),
            self.contact_email.as_ref().map(ContactEmail::as_str),
            self.source.as_str(),
        ]);
        Sha256::digest(canonical.to_string().as_bytes()).to_vec()
    }
}

/// A code and a display name.
#[derive(Debug, Serialize, ToSchema)]
pub struct Named {
    pub code: String,
    pub name: String,
}

/// A report as anyone may see it. Contact details are never included.
#[derive(Debug, Serialize, ToSchema)]
pub struct Report {
    pub id: i64,
    /// Slug of the jurisdiction that received it.
    pub jurisdiction: String,
    pub category: Named,
    /// The physical problem this report is evidence of; duplicates share it.
    pub incident_id: i64,
    pub latitude: f64,
    pub longitude: f64,
    pub location_accuracy_m: Option<f32>,
    pub address: Option<String>,
    pub description: String,
    pub status: ReportStatus,
    /// 1 (urgent) to 5 (low).
    pub priority: i16,
    /// The service responsible for it.
    pub department: Option<Named>,
    /// The service area it falls in.
    pub service_area: Option<Named>,
    pub source: ReportSource,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

fn named(code: Option<String>, name: Option<String>) -> Option<Named> {
    Some(Named {
        code: code?,
        name: name?,
    })
}

impl TryFrom<PublicReport> for Report {
    type Error = ApiError;

    fn try_from(row: PublicReport) -> Result<Self, ApiError> {
        let status = row
            .status
            .parse::<ReportStatus>()
            .map_err(|e| ApiError::internal(&e))?;
        let source = row
            .source
            .parse::<ReportSource>()
            .map_err(|e| ApiError::internal(&e))?;
        Ok(Self {
            id: row.id,
            jurisdiction: row.jurisdiction_slug,
            category: Named {
                code: row.category_code,
                name: row.category_name,
            },
            incident_id: row.incident_id,
            latitude: row.location.y,
            longitude: row.location.x,
            location_accuracy_m: row.location_accuracy_m,
            address: row.address,
            description: row.description,
            status,
            priority: row.priority,
            department: named(row.department_code, row.department_name),
            service_area: named(row.service_area_code, row.service_area_name),
            source,
            created_at: row.created_at,
            updated_at: row.updated_at,
            closed_at: row.closed_at,
        })
    }
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = req.headers().get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let invalid = |violation: Violation| {
        ApiError::new(StatusCode::BAD_REQUEST, violation.code, violation.message)
    };
    let text = value.to_str().map_err(|_| {
        invalid(Violation::new(
            "invalid_idempotency_key",
            "Idempotency-Key must be ASCII",
        ))
    })?;
    IdempotencyKey::new(text).map(Some).map_err(invalid)
}

/// What an earlier request with the same key made, if any: the same request gets the same
/// report; a different request with the same key is refused.
async fn replay(
    conn: &mut signalons_db::AsyncPgConnection,
    placement: Placement,
    key: &IdempotencyKey,
    fingerprint: &[u8],
) -> Result<Option<i64>, ApiError> {
    let earlier =
        report_queries::find_by_idempotency_key(conn, placement.jurisdiction_id, key.as_str())
            .await?;
    match earlier {
        None => Ok(None),
        Some((id, Some(stored))) if stored == fingerprint => Ok(Some(id)),
        Some(_) => Err(ApiError::unprocessable(
            "idempotency_key_reused",
            "this Idempotency-Key was already used for a different report",
        )),
    }
}

async fn load_report(
    conn: &mut signalons_db::AsyncPgConnection,
    id: i64,
) -> Result<Report, ApiError> {
    report_queries::find_public(conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("report_not_found", format!("no report {id}")))?
        .try_into()
}

fn created_response(report: Report, replayed: bool) -> HttpResponse {
    let location = format!("/api/v1/reports/{}", report.id);
    if replayed {
        HttpResponse::Ok()
            .insert_header((actix_web::http::header::LOCATION, location))
            .insert_header((IDEMPOTENT_REPLAYED, "true"))
            .json(report)
    } else {
        HttpResponse::Created()
            .insert_header((actix_web::http::header::LOCATION, location))
            .json(report)
    }
}

/// Report a problem.
///
/// The report is validated, placed in its jurisdiction and service area, routed to the
/// responsible department and stored with its first public event in one transaction before the
/// answer is sent. Send an `Idempotency-Key` (a UUID made before the first attempt) to retry
/// safely: the same key and body return the same report with 200.
#[utoipa::path(
    tag = "reports",
    request_body = CreateReport,
    params(("Idempotency-Key" = Option<String>, Header, description = "Client-chosen key (1-255 visible ASCII characters) that makes retries safe")),
    responses(
        (status = 201, description = "Created", body = Report, headers(("Location" = String, description = "The new report"))),
        (status = 200, description = "Already created with this Idempotency-Key", body = Report),
        (status = 400, description = "Malformed JSON or header", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, unknown category, point outside every jurisdiction, or a reused key", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/reports")]
pub async fn create_report(
    req: HttpRequest,
    state: web::Data<AppState>,
    JsonBody(body): JsonBody<CreateReport>,
) -> Result<HttpResponse, ApiError> {
    let report = body.validate()?;
    let key = idempotency_key(&req)?;
    let fingerprint = report.fingerprint();
    let mut conn = state.pool.get().await?;

    let point = signalons_db::wgs84_point(report.position);
    let placement = catalog::place(&mut conn, point).await?.ok_or_else(|| {
        ApiError::unprocessable(
            "outside_jurisdiction",
            "no city served here covers this point; check the coordinates",
        )
    })?;
    if let Some(key) = &key
        && let Some(id) = replay(&mut conn, placement, key, &fingerprint).await?
    {
        return Ok(created_response(load_report(&mut conn, id).await?, true));
    }
    let category = catalog::find_active_category(
        &mut conn,
        placement.jurisdiction_id,
        report.category.as_str(),
    )
    .await?
    .ok_or_else(|| {
        ApiError::unprocessable(
            "unknown_category",
            format!(
                "`{}` is not a category of this jurisdiction",
                report.category
            ),
        )
    })?;
    let (rules, default_department) =
        catalog::routing_rules(&mut conn, placement.jurisdiction_id).await?;
    let department_id = choose_department(
        &rules,
        RoutingQuestion {
            category_id: category.id,
            dedup_group: &category.dedup_group,
            service_area_id: placement.service_area_id,
        },
        default_department,
    );

    let new_report = NewReport {
        jurisdiction_id: placement.jurisdiction_id,
        category_id: category.id,
        incident_id: 0,
        location: point,
        location_accuracy_m: report.accuracy_m,
        address: report.address.as_ref().map(Address::as_str),
        description: report.description.as_str(),
        attributes: serde_json::json!({}),
        status: ReportStatus::Submitted.as_str(),
        priority: category.default_priority,
        department_id,
        service_area_id: placement.service_area_id,
        source: report.source.as_str(),
        contact_email: report.contact_email.as_ref().map(ContactEmail::as_str),
        idempotency_key: key.as_ref().map(IdempotencyKey::as_str),
        request_fingerprint: Some(&fingerprint),
    };
    let inserted = report_queries::insert_with_new_incident(
        &mut conn,
        &category.dedup_group,
        new_report,
        "Report received.",
    )
    .await;
    match (inserted, &key) {
        (Ok(id), _) => {
            tracing::info!(report_id = id, category = %report.category, "report created");
            Ok(created_response(load_report(&mut conn, id).await?, false))
        }
        // A concurrent request with the same key committed first: answer with its report.
        (Err(DbError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)), Some(key)) => {
            let id = replay(&mut conn, placement, key, &fingerprint)
                .await?
                .ok_or_else(|| {
                    ApiError::internal(&"idempotency conflict without a stored report")
                })?;
            Ok(created_response(load_report(&mut conn, id).await?, true))
        }
        (Err(error), _) => Err(error.into()),
    }
}

/// One report.
#[utoipa::path(
    tag = "reports",
    params(("id" = i64, Path, description = "Report id")),
    responses(
        (status = 200, body = Report),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/reports/{id}")]
pub async fn get_report(
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<Report>, ApiError> {
    let mut conn = state.pool.get().await?;
    Ok(web::Json(load_report(&mut conn, id.into_inner()).await?))
}

/// Filters and pagination of the report list. `bbox` and `lat`/`long`/`radius` exclude each
/// other.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// Map viewport: `min_lon,min_lat,max_lon,max_lat`.
    #[param(example = "-71.08,42.34,-71.05,42.36")]
    pub bbox: Option<String>,
    /// Centre latitude for a radius search.
    pub lat: Option<f64>,
    /// Centre longitude for a radius search.
    pub long: Option<f64>,
    /// Radius in metres around `lat`/`long` (default 500, at most 50000).
    pub radius: Option<f64>,
    /// Only this jurisdiction (slug).
    pub jurisdiction: Option<String>,
    /// Category codes, comma-separated.
    pub category: Option<String>,
    /// Statuses, comma-separated.
    pub status: Option<String>,
    /// Only reports updated at or after this instant (RFC 3339).
    pub updated_since: Option<DateTime<Utc>>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
}

const DEFAULT_RADIUS_M: f64 = 500.0;
const MAX_LISTED_VALUES: usize = 50;

fn comma_list(text: &Option<String>) -> Vec<&str> {
    text.as_deref()
        .map(|text| {
            text.split(',')
                .map(str::trim)
                .filter(|part| !part.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

impl ReportQuery {
    fn to_filter(&self) -> Result<(ReportFilter, PageSize), ApiError> {
        let mut errors = Vec::new();
        let area =
            match (&self.bbox, self.lat, self.long) {
                (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                    errors.push(FieldError::new(
                        "bbox",
                        Violation::new("conflicting_filters", "give bbox or lat/long, not both"),
                    ));
                    None
                }
                (Some(bbox), None, None) => check("bbox", BoundingBox::parse(bbox), &mut errors)
                    .map(|bbox| AreaFilter::BoundingBox {
                        west: bbox.south_west.lon(),
                        south: bbox.south_west.lat(),
                        east: bbox.north_east.lon(),
                        north: bbox.north_east.lat(),
                    }),
                (None, Some(lat), Some(long)) => {
                    let lat = check("lat", Latitude::new(lat), &mut errors);
                    let long = check("long", Longitude::new(long), &mut errors);
                    let radius = check(
                        "radius",
                        RadiusMetres::new(self.radius.unwrap_or(DEFAULT_RADIUS_M)),
                        &mut errors,
                    );
                    match (lat, long, radius) {
                        (Some(lat), Some(long), Some(radius)) => Some(AreaFilter::Radius {
                            center: signalons_db::wgs84_point(GeoPoint::new(lat, long)),
                            metres: radius.metres(),
                        }),
                        _ => None,
                    }
                }
                (None, Some(_), None) | (None, None, Some(_)) => {
                    errors.push(FieldError::new(
                        if self.lat.is_some() { "long" } else { "lat" },
                        Violation::new("missing_field", "lat and long go together"),
                    ));
                    None
                }
                (None, None, None) => {
                    if self.radius.is_some() {
                        errors.push(FieldError::new(
                            "radius",
                            Violation::new("missing_field", "radius needs lat and long"),
                        ));
                    }
                    None
                }
            };
        let categories = comma_list(&self.category);
        for code in &categories {
            check("category", CategoryCode::new(code), &mut errors);
        }
        let statuses = comma_list(&self.status);
        let statuses: Vec<&'static str> = statuses
            .iter()
            .filter_map(|text| check("status", text.parse::<ReportStatus>(), &mut errors))
            .map(ReportStatus::as_str)
            .collect();
        if categories.len() > MAX_LISTED_VALUES {
            errors.push(FieldError::new(
                "category",
                Violation::new("too_many_values", "at most 50 categories"),
            ));
        }
        let before_id = self
            .cursor
            .as_deref()
            .and_then(|text| check("cursor", cursor::decode(text), &mut errors));
        let page_size = self
            .limit
            .map(PageSize::new)
            .transpose()
            .map_err(|violation| errors.push(FieldError::new("limit", violation)))
            .ok()
            .flatten()
            .unwrap_or_default();
        if let Some(slug) = &self.jurisdiction
            && slug.len() > 64
        {
            errors.push(FieldError::new(
                "jurisdiction",
                Violation::new("too_long", "jurisdiction is at most 64 characters"),
            ));
        }
        if !errors.is_empty() {
            return Err(ApiError::invalid_query(errors));
        }
        let filter = ReportFilter {
            area,
            jurisdiction_slug: self.jurisdiction.clone(),
            category_codes: categories.into_iter().map(str::to_owned).collect(),
            statuses,
            updated_since: self.updated_since,
            before_id,
        };
        Ok((filter, page_size))
    }
}

/// One page of reports, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportPage {
    pub items: Vec<Report>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Reports, newest first, filtered by place, category, status and time.
#[utoipa::path(
    tag = "reports",
    params(ReportQuery),
    responses(
        (status = 200, body = ReportPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/reports")]
pub async fn list_reports(
    state: web::Data<AppState>,
    QueryParams(query): QueryParams<ReportQuery>,
) -> Result<web::Json<ReportPage>, ApiError> {
    let (filter, page_size) = query.to_filter()?;
    let limit = i64::from(page_size.get());
    let mut conn = state.pool.get().await?;
    // One more than asked tells whether another page follows.
    let mut rows = report_queries::list_public(&mut conn, &filter, limit + 1).await?;
    let page_len = usize::from(page_size.get());
    let has_more = rows.len() > page_len;
    rows.truncate(page_len);
    let next_cursor = if has_more {
        rows.last().map(|row| cursor::encode(row.id))
    } else {
        None
    };
    let items = rows
        .into_iter()
        .map(Report::try_from)
        .collect::<Result<_, _>>()?;
    Ok(web::Json(ReportPage { items, next_cursor }))
}

/// One entry of a report's public history.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportEvent {
    pub id: i64,
    /// `created`, `status_changed`, `comment` or `merged`.
    pub kind: String,
    pub status_from: Option<String>,
    pub status_to: Option<String>,
    /// The public explanation given with the change.
    pub explanation: String,
    pub created_at: DateTime<Utc>,
}

impl From<EventRow> for ReportEvent {
    fn from(row: EventRow) -> Self {
        Self {
            id: row.id,
            kind: row.kind,
            status_from: row.status_from,
            status_to: row.status_to,
            explanation: row.body,
            created_at: row.created_at,
        }
    }
}

/// A report's public history.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportEventList {
    pub items: Vec<ReportEvent>,
}

/// The public history of a report, oldest first: every status change with its explanation.
#[utoipa::path(
    tag = "reports",
    params(("id" = i64, Path, description = "Report id")),
    responses(
        (status = 200, body = ReportEventList),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/reports/{id}/events")]
pub async fn list_report_events(
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<ReportEventList>, ApiError> {
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    if !report_queries::exists(&mut conn, id).await? {
        return Err(ApiError::not_found(
            "report_not_found",
            format!("no report {id}"),
        ));
    }
    let items = report_queries::public_events(&mut conn, id).await?;
    Ok(web::Json(ReportEventList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}
