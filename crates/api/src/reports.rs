//! Reports: create (idempotent), read, list, and their public history.

use actix_web::{FromRequest, HttpRequest, HttpResponse, get, http::StatusCode, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use signalons_db::{
    AsyncConnection,
    media::{Attached, KIND_REPORT},
};
use signalons_db::{
    incidents,
    models::{PublicReport, ReportEvent as EventRow},
    reports::{self as report_queries, AreaFilter, ReportFilter},
};
use signalons_domain::{
    Address, BoundingBox, CategoryCode, ContactEmail, Description, DeviceId, Explanation, GeoPoint,
    IdempotencyKey, Latitude, Longitude, PageSize, RadiusMetres, ReportSource, ReportStatus,
    Violation,
    dedup::{self, MatchReason},
};
use signalons_media::ProcessedPhoto;
use utoipa::{IntoParams, ToSchema};

use crate::{
    AppState,
    auth::{MaybeAuthenticated, device_hash},
    cursor,
    error::{ApiError, FieldError, Problem},
    extract::{JsonBody, QueryParams},
    photos::{self, Photo, StoredPhotos},
    rate_limit::{Identity, Limited},
    submission::{self, ReportDraft, ScoredCandidate, SubmitError},
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
    /// A random identifier the app keeps for this device (8 to 128 characters), stored only as
    /// a hash: it lets the reporter reopen the report and claim it on signing up.
    #[serde(default)]
    #[schema(min_length = 8, max_length = 128)]
    pub device_id: Option<String>,
}

/// The `lat`, `long` and `category` query parameters of a place-and-kind question.
pub(crate) fn place_query(
    lat: f64,
    long: f64,
    category: &str,
    errors: &mut Vec<FieldError>,
) -> Option<(GeoPoint, CategoryCode)> {
    let latitude = check("lat", Latitude::new(lat), errors);
    let longitude = check("long", Longitude::new(long), errors);
    let category = check("category", CategoryCode::new(category), errors);
    Some((GeoPoint::new(latitude?, longitude?), category?))
}

pub(crate) fn check<T>(
    field: &str,
    result: Result<T, Violation>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    result
        .map_err(|violation| errors.push(FieldError::new(field, violation)))
        .ok()
}

impl CreateReport {
    /// Checks every field; all the invalid ones are reported at once.
    pub fn validate(&self) -> Result<ReportDraft, ApiError> {
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
        let device = check(
            "device_id",
            self.device_id.as_deref().map(DeviceId::new).transpose(),
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
            device,
        ) {
            (
                Some(category),
                Some(latitude),
                Some(longitude),
                Some(accuracy_m),
                Some(address),
                Some(description),
                Some(contact_email),
                Some(device),
            ) if errors.is_empty() => Ok(ReportDraft {
                reporter_id: None,
                device_hash: device.map(|device| device_hash(device.as_str())),
                category,
                position: GeoPoint::new(latitude, longitude),
                accuracy_m,
                address,
                description,
                contact_email,
                source,
                external_media_url: None,
                api_key_id: None,
                attributes: serde_json::json!({}),
            }),
            _ => Err(ApiError::invalid_body(errors)),
        }
    }
}

/// A code and a display name.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
    /// That problem as counted now: whether others know it too.
    pub incident: IncidentCounts,
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
    /// When the city's service level says its problem should be fixed (its incident's due
    /// date), if the category has one.
    pub due_at: Option<DateTime<Utc>>,
    /// Still open past its due date.
    pub overdue: bool,
}

/// Whether a problem due at `due_at` and closed at `closed_at` is late at `now`: open past its
/// due date (the queue orders by the same rule in SQL).
pub(crate) fn overdue(
    due_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    closed_at.is_none() && due_at.is_some_and(|due| due < now)
}

/// How many reports and supporters the problem behind a report has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct IncidentCounts {
    /// Reports of the problem, this one included.
    pub report_count: i32,
    /// Residents who reported it again or said "me too".
    pub supporters_count: i32,
}

fn named(code: Option<String>, name: Option<String>) -> Option<Named> {
    Some(Named {
        code: code?,
        name: name?,
    })
}

impl Report {
    fn from_row(row: PublicReport) -> Result<Self, ApiError> {
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
            incident: IncidentCounts {
                report_count: row.incident_report_count,
                supporters_count: row.incident_supporters_count,
            },
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
            overdue: overdue(row.due_at, row.closed_at, Utc::now()),
            closed_at: row.closed_at,
            due_at: row.due_at,
        })
    }
}

pub(crate) fn idempotency_key(req: &HttpRequest) -> Result<Option<IdempotencyKey>, ApiError> {
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

async fn load_report(
    conn: &mut signalons_db::AsyncPgConnection,
    id: i64,
) -> Result<Report, ApiError> {
    let row = report_queries::find_public(conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("report_not_found", format!("no report {id}")))?;
    Report::from_row(row)
}

/// One open incident that may be the problem being reported.
#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateCandidate {
    pub incident_id: i64,
    pub category: Named,
    pub status: ReportStatus,
    pub latitude: f64,
    pub longitude: f64,
    /// Metres from the submitted position.
    pub distance_m: f64,
    pub address: Option<String>,
    /// The first report's description.
    pub description: String,
    /// When the problem was first reported.
    pub reported_at: DateTime<Utc>,
    pub report_count: i32,
    pub supporters_count: i32,
    /// Confidence that it is the same problem, 0 to 1.25; 0.8 and above links automatically.
    pub score: f64,
    /// Why it was proposed.
    pub reasons: Vec<MatchReason>,
}

impl DuplicateCandidate {
    fn from_scored(candidate: ScoredCandidate) -> Result<Self, ApiError> {
        let incident = candidate.incident;
        Ok(Self {
            incident_id: incident.id,
            category: Named {
                code: incident.category_code,
                name: incident.category_name,
            },
            status: incident
                .status
                .parse()
                .map_err(|e: Violation| ApiError::internal(&e))?,
            latitude: incident.location.y,
            longitude: incident.location.x,
            distance_m: (candidate.assessment.distance_m * 10.0).round() / 10.0,
            address: incident.address,
            description: incident.summary,
            reported_at: incident.created_at,
            report_count: incident.report_count,
            supporters_count: incident.supporters_count,
            score: (candidate.assessment.score * 1000.0).round() / 1000.0,
            reasons: candidate.assessment.reasons,
        })
    }
}

/// A created report, with what duplicate detection found.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedReport {
    #[serde(flatten)]
    pub report: Report,
    /// True when the report joined an incident that was already reported (a confident match):
    /// the resident now follows that incident.
    pub linked_to_existing_incident: bool,
    /// Other open incidents nearby that may be the same problem (empty when answered from an
    /// earlier request with the same Idempotency-Key).
    pub duplicate_candidates: Vec<DuplicateCandidate>,
    /// The photos sent with the report, as stored (re-encoded, without metadata).
    pub photos: Vec<Photo>,
    /// True when the position was taken from a photo's GPS, the report having none.
    pub location_from_photo: bool,
}

/// A report with its photos, as one `multipart/form-data` request.
#[derive(Debug, ToSchema)]
pub struct ReportWithPhotos {
    /// The report as a JSON document (the body `application/json` takes). `latitude` and
    /// `longitude` may be left out when a photo carries the camera's GPS position: the first
    /// such photo places the report, and the answer says `location_from_photo`.
    pub report: CreateReport,
    /// 1 to 5 photos (JPEG, PNG or WebP; at most 10 MB and 40 megapixels each), stripped of
    /// their metadata before they are stored.
    #[schema(value_type = Vec<String>, format = Binary)]
    pub photo: Vec<Vec<u8>>,
}

/// The report's position from the first photo with a GPS position, when the resident gave
/// none; whether it did.
fn place_from_photos(report: &mut serde_json::Value, photos: &[ProcessedPhoto]) -> bool {
    let serde_json::Value::Object(fields) = report else {
        return false;
    };
    if fields.contains_key("latitude") || fields.contains_key("longitude") {
        return false;
    }
    let Some(position) = photos.iter().find_map(|photo| photo.location) else {
        return false;
    };
    fields.insert("latitude".to_owned(), position.lat().into());
    fields.insert("longitude".to_owned(), position.lon().into());
    true
}

/// What a create request carries, whichever its encoding.
struct Submission {
    report: CreateReport,
    photos: Vec<ProcessedPhoto>,
    location_from_photo: bool,
}

/// Reads a create request: JSON, or multipart with a `report` part and `photo` parts. Photos
/// are decoded only once the caller is within its rate limit.
async fn read_submission(
    req: &HttpRequest,
    state: &AppState,
    payload: web::Payload,
    identities: &[Identity],
) -> Result<Submission, ApiError> {
    if !photos::is_multipart(req) {
        let mut payload = payload.into_inner();
        let JsonBody(report) = JsonBody::<CreateReport>::from_request(req, &mut payload).await?;
        state.limiter.check(Limited::Report, identities)?;
        return Ok(Submission {
            report,
            photos: Vec::new(),
            location_from_photo: false,
        });
    }
    let form = photos::read_form(req, payload, &state.photos, &["report"]).await?;
    let text = form.text("report")?.ok_or_else(|| {
        ApiError::invalid_body(vec![FieldError {
            field: "report".to_owned(),
            code: "missing_field".to_owned(),
            detail: "send the report as a JSON part named `report`".to_owned(),
        }])
    })?;
    let mut report: serde_json::Value = serde_json::from_str(text).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the `report` part is not valid JSON: {error}"),
        )
    })?;
    state.limiter.check(Limited::Report, identities)?;
    let processed = photos::process_all(&state.photos, form.photos).await?;
    let location_from_photo = place_from_photos(&mut report, &processed);
    Ok(Submission {
        report: crate::extract::from_json_value(report)?,
        photos: processed,
        location_from_photo,
    })
}

impl From<SubmitError> for ApiError {
    fn from(error: SubmitError) -> Self {
        match error {
            SubmitError::OutsideJurisdiction => ApiError::unprocessable(
                "outside_jurisdiction",
                "no city served here covers this point; check the coordinates",
            ),
            SubmitError::UnknownCategory(code) => ApiError::unprocessable(
                "unknown_category",
                format!("`{code}` is not a category of this jurisdiction"),
            ),
            SubmitError::KeyReused => ApiError::unprocessable(
                "idempotency_key_reused",
                "this Idempotency-Key was already used for a different report",
            ),
            SubmitError::AccountRequired(code) => ApiError::unauthenticated(
                "account_required",
                format!("`{code}` can only be reported when signed in"),
            ),
            SubmitError::Database(error) => error.into(),
        }
    }
}

/// Report a problem.
///
/// The report is validated, placed in its jurisdiction and service area, routed to the
/// responsible department and compared with open incidents nearby: a confident match joins
/// that incident (the reporter becomes one of its supporters); otherwise a new incident is
/// opened and the plausible matches are returned. Everything is stored in one transaction before
/// the answer. Send an `Idempotency-Key` (a UUID made before the first attempt) to retry safely:
/// the same key and body return the same report with 200.
#[utoipa::path(
    tag = "reports",
    request_body(content(
        (CreateReport = "application/json"),
        (ReportWithPhotos = "multipart/form-data"),
    )),
    params(("Idempotency-Key" = Option<String>, Header, description = "Client-chosen key (1-255 visible ASCII characters) that makes retries safe")),
    responses(
        (status = 201, description = "Created", body = CreatedReport, headers(("Location" = String, description = "The new report"))),
        (status = 200, description = "Already created with this Idempotency-Key", body = CreatedReport),
        (status = 400, description = "Malformed JSON or header", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "More photos than a report keeps", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "A JSON body over 64 KiB, a photo over its limit, or a multipart body over its total limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither JSON nor multipart, or a file that is no JPEG, PNG or WebP", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "An invalid bearer token, or a category that needs an account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, unknown category, point outside every jurisdiction, or a reused key", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many reports from this IP or account", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The photo store is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[post("/reports")]
pub async fn create_report(
    req: HttpRequest,
    state: web::Data<AppState>,
    MaybeAuthenticated(caller): MaybeAuthenticated,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let mut identities = vec![Identity::client(&req)];
    if let Some(actor) = &caller {
        identities.push(Identity::Account(actor.user_id));
    }
    let sent = read_submission(&req, &state, payload, &identities).await?;
    let mut draft = sent.report.validate()?;
    draft.reporter_id = caller.as_ref().map(|actor| actor.user_id);
    let stored = StoredPhotos::write(&state.photos.store, sent.photos).await?;
    let mut conn = state.pool.get().await?;
    let now = Utc::now();
    let outcome = if stored.is_empty() {
        submission::submit(&mut conn, &state.catalog, &draft, key.as_ref(), now)
            .await
            .map(|submitted| (submitted, Vec::new()))
            .map_err(ApiError::from)
    } else {
        // The report and its photos commit together, or neither does.
        conn.transaction::<_, ApiError, _>(async |conn| {
            let submitted =
                submission::submit(conn, &state.catalog, &draft, key.as_ref(), now).await?;
            if submitted.replayed {
                return Ok((submitted, Vec::new()));
            }
            // The report's own key made it once: its photos need no upload key of their own.
            let rows = stored.rows(
                submitted.report_id,
                KIND_REPORT,
                draft.reporter_id,
                now,
                None,
            );
            let max = i64::try_from(state.photos.max_per_report).unwrap_or(i64::MAX);
            match signalons_db::media::attach_within_limit(conn, &rows, max).await? {
                Attached::Stored(recorded) => Ok((submitted, recorded)),
                Attached::Earlier(..) | Attached::OverLimit => {
                    Err(ApiError::internal(&"a new report already had photos"))
                }
            }
        })
        .await
    };
    let (submitted, recorded) = match outcome {
        Ok((submitted, recorded)) if !submitted.replayed => (submitted, recorded),
        Ok(replay) => {
            // The first request's photos are the report's; these copies are not needed.
            stored.discard(&state.photos.store).await;
            replay
        }
        Err(error) => {
            stored.discard(&state.photos.store).await;
            return Err(error);
        }
    };
    let report = load_report(&mut conn, submitted.report_id).await?;
    let photos = if submitted.replayed {
        signalons_db::media::public_for_report(&mut conn, report.id).await?
    } else {
        recorded
    };
    let location = format!("/api/v1/reports/{}", report.id);
    let linked = if submitted.replayed {
        // Reports that joined an incident were filed after the incident opened.
        incidents::find_public(&mut conn, report.incident_id)
            .await?
            .is_some_and(|incident| incident.created_at < report.created_at)
    } else {
        submitted.linked
    };
    let body = CreatedReport {
        report,
        linked_to_existing_incident: linked,
        duplicate_candidates: submitted
            .candidates
            .into_iter()
            .map(DuplicateCandidate::from_scored)
            .collect::<Result<_, _>>()?,
        photos: photos.into_iter().map(Photo::from).collect(),
        location_from_photo: sent.location_from_photo,
    };
    let mut response = if submitted.replayed {
        let mut ok = HttpResponse::Ok();
        ok.insert_header((IDEMPOTENT_REPLAYED, "true"));
        ok
    } else {
        HttpResponse::Created()
    };
    Ok(response
        .insert_header((actix_web::http::header::LOCATION, location))
        .json(body))
}

/// Where to look for duplicates of a report about to be made.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DuplicateQuery {
    /// Latitude of the problem.
    pub lat: f64,
    /// Longitude of the problem.
    pub long: f64,
    /// Category code.
    pub category: String,
    /// What the resident wrote so far (improves the ranking).
    pub description: Option<String>,
    /// Street address, when known.
    pub address: Option<String>,
}

/// Open incidents that may be what the resident is about to report.
#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateList {
    /// Best first, at most 5; empty when nothing nearby looks like the same problem.
    pub items: Vec<DuplicateCandidate>,
}

/// Is it already reported? The ranked open incidents of the same kind nearby, each with its
/// distance and why it matched, so the resident can support one ("me too") instead of filing a
/// new report.
#[utoipa::path(
    tag = "reports",
    params(DuplicateQuery),
    responses(
        (status = 200, body = DuplicateList),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Outside every jurisdiction or unknown category", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/reports/duplicates")]
pub async fn find_duplicates(
    state: web::Data<AppState>,
    QueryParams(query): QueryParams<DuplicateQuery>,
) -> Result<web::Json<DuplicateList>, ApiError> {
    let mut errors = Vec::new();
    let place = place_query(query.lat, query.long, &query.category, &mut errors);
    let description = check(
        "description",
        Description::new(query.description.as_deref().unwrap_or_default()),
        &mut errors,
    );
    let address = check(
        "address",
        query.address.as_deref().map(Address::new).transpose(),
        &mut errors,
    );
    let (Some((position, category)), Some(description), Some(address)) =
        (place, description, address)
    else {
        return Err(ApiError::invalid_query(errors));
    };
    let mut conn = state.pool.get().await?;
    let (placement, category) =
        submission::resolve(&mut conn, &state.catalog, position, &category).await?;
    let submission = dedup::Submission {
        position,
        at: Utc::now(),
        address: address.as_ref().map(Address::as_str),
        description: description.as_str(),
    };
    let found =
        submission::candidates(&mut conn, &state.catalog, placement, &category, submission).await?;
    let items = found
        .into_iter()
        .map(DuplicateCandidate::from_scored)
        .collect::<Result<_, _>>()?;
    Ok(web::Json(DuplicateList { items }))
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

/// The `category` and `status` comma lists of a list query, checked: category codes and
/// public statuses.
pub(crate) fn kind_filters(
    category: &Option<String>,
    status: &Option<String>,
    errors: &mut Vec<FieldError>,
) -> (Vec<String>, Vec<&'static str>) {
    let categories = comma_list(category);
    for code in &categories {
        check("category", CategoryCode::new(code), errors);
    }
    if categories.len() > MAX_LISTED_VALUES {
        errors.push(FieldError::new(
            "category",
            Violation::new("too_many_values", "at most 50 categories"),
        ));
    }
    let statuses = comma_list(status)
        .iter()
        .filter_map(|text| check("status", text.parse::<ReportStatus>(), errors))
        .map(ReportStatus::as_str)
        .collect();
    (
        categories.into_iter().map(str::to_owned).collect(),
        statuses,
    )
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
        let (categories, statuses) = kind_filters(&self.category, &self.status, &mut errors);
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
            category_codes: categories,
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
        .map(Report::from_row)
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

/// Why the reporter disputes a resolution.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReopenRequest {
    /// What is still wrong; shown in the public history.
    #[schema(min_length = 3, max_length = 2000)]
    pub explanation: String,
    /// The device the report was made from, when not signed in as its reporter.
    #[serde(default)]
    pub device_id: Option<String>,
}

/// "It is not fixed": the reporter reopens a resolved report within the jurisdiction's window
/// (14 days by default). The whole incident reopens and returns to its crew's queue. The
/// reporter proves it is theirs by signing in or by sending the device id they reported with.
#[utoipa::path(
    tag = "reports",
    params(("id" = i64, Path, description = "Report id")),
    request_body = ReopenRequest,
    responses(
        (status = 200, body = Report),
        (status = 403, description = "Not this report's reporter", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not resolved, past the window, or no explanation", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[post("/reports/{id}/reopen")]
pub async fn reopen_report(
    state: web::Data<AppState>,
    MaybeAuthenticated(caller): MaybeAuthenticated,
    id: web::Path<i64>,
    JsonBody(body): JsonBody<ReopenRequest>,
) -> Result<web::Json<Report>, ApiError> {
    let id = id.into_inner();
    let mut errors = Vec::new();
    let explanation = check(
        "explanation",
        Explanation::new(&body.explanation),
        &mut errors,
    );
    let device = check(
        "device_id",
        body.device_id.as_deref().map(DeviceId::new).transpose(),
        &mut errors,
    );
    let (Some(explanation), Some(device)) = (explanation, device) else {
        return Err(ApiError::invalid_body(errors));
    };
    let mut conn = state.pool.get().await?;
    let now = Utc::now();
    crate::jobs::reopen_by_reporter(
        &mut conn,
        id,
        caller.as_ref().map(|actor| actor.user_id),
        device.map(|device| device_hash(device.as_str())),
        &explanation,
        now,
    )
    .await?;
    Ok(web::Json(load_report(&mut conn, id).await?))
}
