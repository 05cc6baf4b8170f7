//! Open311 GeoReport v2 under `/open311/v2`: discovery, services and their definitions,
//! service requests (create, list, get) and tokens, in JSON and XML (chosen by the `.json` /
//! `.xml` suffix). Requests created here go through [`crate::submission::submit`] like any
//! other. Errors are arrays of `{code, description}` with the spec's HTTP codes.
//!
//! Kept out of the OpenAPI document, which describes `/api/v1` only.

mod attributes;
mod xml;

use std::collections::HashMap;

use actix_web::{
    HttpRequest, HttpResponse, ResponseError,
    http::{StatusCode, header},
    web,
};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use signalons_db::{
    DbError, catalog,
    gazetteer::FoundAddress,
    models::{CategoryInJurisdiction, PublicReport},
    open311::{self as queries, RequestFilter},
    reports::AreaFilter,
};
use signalons_domain::{
    BoundingBox, CategoryCode, ContactEmail, Description, ExternalMediaUrl, GeoPoint, Latitude,
    Longitude, RadiusMetres, ReportSource, ReportStatus,
    gazetteer::{AddressQuery, Resolution},
};

use crate::{
    AppState, api_keys,
    error::ApiError,
    rate_limit::{Identity, Limited},
    submission::{self, ReportDraft, SubmitError},
};

pub use attributes::{AttributeDefinition, Datatype};

/// Where Open311 is served.
pub const BASE_PATH: &str = "/open311/v2";
/// The spec's default and maximum span of a list, in days.
pub const WINDOW_DAYS: i64 = 90;
/// The spec's cap on results of one list (also the largest `page_size`).
pub const MAX_RESULTS: i64 = 1000;
/// The most ids one `service_request_id` list may name.
pub const MAX_IDS: usize = 1000;
const MAX_PAGE: i64 = 10_000;
const MAX_FIELD_CHARS: usize = 200;
/// The largest form a POST may send: a 4,000-character description percent-encoded, the
/// attributes and the contact fields fit many times over.
pub const MAX_FORM_BODY_BYTES: usize = 64 * 1024;

/// The answer's format, from the path's suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

/// Splits `requests.json` into `requests` and its format.
fn split_format(file: &str) -> Option<(&str, Format)> {
    let (stem, suffix) = file.rsplit_once('.')?;
    let format = match suffix {
        "json" => Format::Json,
        "xml" => Format::Xml,
        _ => return None,
    };
    Some((stem, format))
}

/// An Open311 error answer: one or more `{code, description}`.
#[derive(Debug)]
pub struct Open311Error {
    status: StatusCode,
    format: Format,
    descriptions: Vec<String>,
    retry_after_secs: Option<u64>,
}

impl std::fmt::Display for Open311Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.descriptions.join("; "))
    }
}

impl Open311Error {
    fn new(status: StatusCode, format: Format, description: impl Into<String>) -> Self {
        Self {
            status,
            format,
            descriptions: vec![description.into()],
            retry_after_secs: None,
        }
    }

    fn bad_request(format: Format, descriptions: Vec<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            format,
            descriptions,
            retry_after_secs: None,
        }
    }

    /// The spec's error array for a refusal of the API's own rate limiter.
    fn from_api(format: Format, error: &ApiError) -> Self {
        let problem = error.problem();
        Self {
            status: StatusCode::from_u16(problem.status)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            format,
            descriptions: vec![problem.detail],
            retry_after_secs: error.retry_after_secs(),
        }
    }

    fn not_found(format: Format, description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, format, description)
    }

    fn internal(format: Format, error: &dyn std::fmt::Display) -> Self {
        tracing::error!(%error, "open311 request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format,
            "internal error; it has been logged",
        )
    }

    fn database(format: Format) -> impl FnOnce(DbError) -> Self {
        move |error| Self::internal(format, &error)
    }
}

impl ResponseError for Open311Error {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let errors: Vec<Value> = self
            .descriptions
            .iter()
            .map(|description| json!({"code": self.status.as_u16(), "description": description}))
            .collect();
        let mut response = render(self.status, self.format, "errors", &Value::Array(errors));
        if let Some(seconds) = self.retry_after_secs
            && let Ok(value) = actix_web::http::header::HeaderValue::from_str(&seconds.to_string())
        {
            response
                .headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, value);
        }
        response
    }
}

type Answer = Result<HttpResponse, Open311Error>;

/// A document in the requested format. `root` names the XML root element; arrays become
/// repeated children named after it (`services` → `service`).
fn render(status: StatusCode, format: Format, root: &str, value: &Value) -> HttpResponse {
    match format {
        Format::Json => HttpResponse::build(status)
            .content_type("application/json; charset=utf-8")
            .body(value.to_string()),
        Format::Xml => HttpResponse::build(status)
            .content_type("text/xml; charset=utf-8")
            .body(xml::document(root, value)),
    }
}

fn ok(format: Format, root: &str, value: &Value) -> Answer {
    Ok(render(StatusCode::OK, format, root, value))
}

/// W3C date and time with its offset.
fn w3c(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, false)
}

fn parse_w3c(name: &str, text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| {
            format!("{name} must be a W3C date and time with an offset, e.g. 2015-02-01T00:00:00Z")
        })
}

/// Query and form parameters as real clients send them: the last value of a name wins, and
/// the `[]` names keep every value.
#[derive(Debug, Default)]
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(text: &[u8]) -> Self {
        Self(form_urlencoded::parse(text).into_owned().collect())
    }

    fn query(req: &HttpRequest) -> Self {
        Self::parse(req.query_string().as_bytes())
    }

    /// A non-blank value.
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(key, value)| key == name && !value.trim().is_empty())
            .map(|(_, value)| value.as_str())
    }
}

/// `jurisdiction_id`: ignored when empty, otherwise a known jurisdiction's slug.
async fn jurisdiction(
    conn: &mut signalons_db::AsyncPgConnection,
    params: &Params,
    format: Format,
) -> Result<Option<String>, Open311Error> {
    let Some(slug) = params.get("jurisdiction_id") else {
        return Ok(None);
    };
    let slug = slug.trim();
    match catalog::jurisdiction_id(conn, slug)
        .await
        .map_err(Open311Error::database(format))?
    {
        Some(_) => Ok(Some(slug.to_owned())),
        None => Err(Open311Error::not_found(
            format,
            format!("jurisdiction_id `{slug}` is not served here"),
        )),
    }
}

async fn connection(
    state: &AppState,
    format: Format,
) -> Result<signalons_db::DbConn, Open311Error> {
    state.pool.get().await.map_err(|error| {
        tracing::error!(%error, "no database connection");
        Open311Error::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format,
            "the database is unavailable; retry later",
        )
    })
}

/// Where the client reached this server: `https://host`.
fn origin(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

fn base_url(req: &HttpRequest) -> String {
    format!("{}{BASE_PATH}", origin(req))
}

// ---- discovery and services --------------------------------------------------------------

fn discovery(req: &HttpRequest, format: Format) -> Answer {
    let body = json!({
        "changeset": "2026-11-22T00:00:00+00:00",
        "contact": "Signalons, open-source civic issue reporting",
        "key_service": "Ask the operator for an API key (signalons api-key create).",
        "endpoints": [{
            "specification": "http://wiki.open311.org/GeoReport_v2",
            "url": base_url(req),
            "changeset": "2026-11-22T00:00:00+00:00",
            "type": "production",
            "formats": ["application/json", "text/xml"],
        }],
    });
    ok(format, "discovery", &body)
}

fn definitions(
    category: &CategoryInJurisdiction,
    format: Format,
) -> Result<Vec<AttributeDefinition>, Open311Error> {
    attributes::definitions(&category.category.attributes).map_err(|error| {
        Open311Error::internal(
            format,
            &format!(
                "attributes of category `{}` are invalid: {error}",
                category.category.code
            ),
        )
    })
}

async fn services(state: &AppState, req: &HttpRequest, format: Format) -> Answer {
    let params = Params::query(req);
    let mut conn = connection(state, format).await?;
    let slug = jurisdiction(&mut conn, &params, format).await?;
    let categories = catalog::list_categories(&mut conn, slug.as_deref())
        .await
        .map_err(Open311Error::database(format))?;
    let mut services = Vec::with_capacity(categories.len());
    for category in &categories {
        let has_questions = definitions(category, format)?.iter().any(|a| a.variable);
        let c = &category.category;
        let keywords = format!("{},{}", c.group_name, c.dedup_group);
        services.push(json!({
            "service_code": c.code,
            "service_name": c.name,
            "description": c.description,
            "metadata": has_questions,
            "type": "realtime",
            "keywords": keywords,
            "group": c.group_name,
        }));
    }
    ok(format, "services", &Value::Array(services))
}

async fn find_service(
    conn: &mut signalons_db::AsyncPgConnection,
    slug: Option<&str>,
    code: &str,
    format: Format,
) -> Result<Option<CategoryInJurisdiction>, Open311Error> {
    Ok(catalog::list_categories(conn, slug)
        .await
        .map_err(Open311Error::database(format))?
        .into_iter()
        .find(|category| category.category.code == code))
}

async fn service_definition(
    state: &AppState,
    req: &HttpRequest,
    code: &str,
    format: Format,
) -> Answer {
    let params = Params::query(req);
    let mut conn = connection(state, format).await?;
    let slug = jurisdiction(&mut conn, &params, format).await?;
    let category = find_service(&mut conn, slug.as_deref(), code, format)
        .await?
        .ok_or_else(|| Open311Error::not_found(format, format!("no service `{code}`")))?;
    let attributes: Vec<Value> = definitions(&category, format)?
        .iter()
        .map(AttributeDefinition::to_json)
        .collect();
    ok(
        format,
        "service_definition",
        &json!({"service_code": code, "attributes": attributes}),
    )
}

// ---- reading requests ---------------------------------------------------------------------

fn request_json(
    report: PublicReport,
    notes: &HashMap<i64, String>,
    media: &HashMap<i64, String>,
    supporters: Option<&HashMap<i64, i32>>,
) -> Result<Value, String> {
    let status = report
        .status
        .parse::<ReportStatus>()
        .map_err(|e| e.message)?;
    let mut fields = Map::new();
    fields.insert("service_request_id".into(), report.id.to_string().into());
    fields.insert(
        "status".into(),
        if status.is_closed() { "closed" } else { "open" }.into(),
    );
    fields.insert(
        "status_notes".into(),
        notes
            .get(&report.id)
            .cloned()
            .map_or(Value::Null, Value::from),
    );
    fields.insert("service_name".into(), report.category_name.clone().into());
    fields.insert("service_code".into(), report.category_code.clone().into());
    fields.insert("description".into(), report.description.clone().into());
    fields.insert(
        "agency_responsible".into(),
        report
            .department_name
            .clone()
            .map_or(Value::Null, Value::from),
    );
    fields.insert("service_notice".into(), Value::Null);
    fields.insert("requested_datetime".into(), w3c(report.created_at).into());
    fields.insert("updated_datetime".into(), w3c(report.updated_at).into());
    fields.insert(
        "expected_datetime".into(),
        report.due_at.map(w3c).map_or(Value::Null, Value::from),
    );
    fields.insert(
        "address".into(),
        report.address.clone().map_or(Value::Null, Value::from),
    );
    fields.insert("address_id".into(), Value::Null);
    fields.insert("zipcode".into(), Value::Null);
    fields.insert("lat".into(), report.location.y.into());
    fields.insert("long".into(), report.location.x.into());
    // A photo uploaded to this server first (re-encoded, without metadata); else the link the
    // client gave, which this server never fetched.
    let (media_url, media_kind) = match (media.get(&report.id), &report.external_media_url) {
        (Some(photo), _) => (Value::from(photo.clone()), Value::from("uploaded_photo")),
        (None, Some(link)) => (Value::from(link.clone()), Value::from("external_link")),
        (None, None) => (Value::Null, Value::Null),
    };
    fields.insert("media_url".into(), media_url);
    if let Some(supporters) = supporters {
        fields.insert(
            "extended_attributes".into(),
            json!({
                "jurisdiction_id": report.jurisdiction_slug,
                "category": report.category_code,
                "status_detail": status.as_str(),
                "incident_id": report.incident_id.to_string(),
                "supporters": supporters.get(&report.id).copied().unwrap_or(0),
                "priority": report.priority,
                "agency_code": report.department_code,
                "service_area": report.service_area_name,
                "closed_datetime": report.closed_at.map(w3c),
                "media_url_kind": media_kind,
            }),
        );
    }
    Ok(Value::Object(fields))
}

async fn requests_json(
    conn: &mut signalons_db::AsyncPgConnection,
    req: &HttpRequest,
    reports: Vec<PublicReport>,
    extensions: bool,
    format: Format,
) -> Result<Vec<Value>, Open311Error> {
    let ids: Vec<i64> = reports.iter().map(|r| r.id).collect();
    let notes = queries::latest_notes(conn, &ids)
        .await
        .map_err(Open311Error::database(format))?;
    let origin = origin(req);
    let media: HashMap<i64, String> = signalons_db::media::first_public_keys(conn, &ids)
        .await
        .map_err(Open311Error::database(format))?
        .into_iter()
        .map(|(id, key)| {
            let path = signalons_media::public_path(&key, signalons_media::Rendition::Photo);
            (id, format!("{origin}{path}"))
        })
        .collect();
    let supporters = if extensions {
        Some(
            queries::supporters(conn, &ids)
                .await
                .map_err(Open311Error::database(format))?,
        )
    } else {
        None
    };
    reports
        .into_iter()
        .map(|report| {
            request_json(report, &notes, &media, supporters.as_ref())
                .map_err(|e| Open311Error::internal(format, &e))
        })
        .collect()
}

fn truthy(value: Option<&str>) -> bool {
    value.is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
}

fn parse_number<T: std::str::FromStr>(
    params: &Params,
    name: &str,
    errors: &mut Vec<String>,
) -> Option<T> {
    let text = params.get(name)?;
    match text.trim().parse::<T>() {
        Ok(value) => Some(value),
        Err(_) => {
            errors.push(format!("{name} must be a number, not `{text}`"));
            None
        }
    }
}

/// The list's restrictions, or every problem with the parameters.
#[derive(Debug)]
struct ListQuery {
    ids: Option<Vec<i64>>,
    filter: RequestFilter,
    offset: i64,
    limit: i64,
    extensions: bool,
}

fn list_query(
    params: &Params,
    slug: Option<String>,
    now: DateTime<Utc>,
) -> Result<ListQuery, Vec<String>> {
    let mut errors = Vec::new();
    let extensions = truthy(params.get("extensions"));
    let ids = params.get("service_request_id").map(|list| {
        let ids: Vec<i64> = list
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .filter_map(|id| match id.parse::<i64>() {
                Ok(id) if id > 0 => Some(id),
                _ => {
                    errors.push(format!("service_request_id `{id}` is not a request id"));
                    None
                }
            })
            .collect();
        if ids.len() > MAX_IDS {
            errors.push(format!("at most {MAX_IDS} service_request_id at once"));
        }
        ids
    });
    let mut filter = RequestFilter {
        jurisdiction_slug: slug,
        ..RequestFilter::default()
    };
    if let Some(codes) = params.get("service_code") {
        for code in codes.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            match CategoryCode::new(code) {
                Ok(code) => filter.category_codes.push(code.as_str().to_owned()),
                Err(_) => errors.push(format!("service_code `{code}` is not a service code")),
            }
        }
    }
    if let Some(statuses) = params.get("status") {
        let (mut open, mut closed) = (false, false);
        for status in statuses.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match status.to_ascii_lowercase().as_str() {
                "open" => open = true,
                "closed" => closed = true,
                _ => errors.push(format!("status `{status}` must be open or closed")),
            }
        }
        if open != closed {
            filter.statuses = ReportStatus::ALL
                .into_iter()
                .filter(|s| s.is_closed() == closed)
                .map(ReportStatus::as_str)
                .collect();
        }
    }
    let start = params
        .get("start_date")
        .map(|t| parse_w3c("start_date", t))
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let end = params
        .get("end_date")
        .map(|t| parse_w3c("end_date", t))
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    // Integrators who sync by update time ask for what changed, however old: the default
    // window of request dates applies only when no update bound is given.
    let by_update = params.get("updated_after").is_some() || params.get("updated_before").is_some();
    let window = Duration::days(WINDOW_DAYS);
    let dates = match (start, end) {
        (Some(start), Some(end)) => Some((start, end)),
        (Some(start), None) => Some((start, start + window)),
        (None, Some(end)) => Some((end - window, end)),
        (None, None) if by_update => None,
        (None, None) => Some((now - window, now)),
    };
    if let Some((start, end)) = dates {
        if start > end {
            errors.push("start_date must not be after end_date".to_owned());
        } else if end - start > window {
            errors.push(format!(
                "start_date and end_date may not span more than {WINDOW_DAYS} days"
            ));
        }
        filter.requested_from = Some(start);
        filter.requested_to = Some(end);
    }
    for (name, slot) in [
        ("updated_after", &mut filter.updated_after),
        ("updated_before", &mut filter.updated_before),
    ] {
        if let Some(text) = params.get(name) {
            match parse_w3c(name, text) {
                Ok(at) => *slot = Some(at),
                Err(e) => errors.push(e),
            }
        }
    }
    let lat = parse_number::<f64>(params, "lat", &mut errors);
    let long = parse_number::<f64>(params, "long", &mut errors);
    let radius = parse_number::<f64>(params, "radius", &mut errors);
    match (params.get("bbox"), lat, long) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            errors.push("give bbox or lat/long, not both".to_owned());
        }
        (Some(bbox), None, None) => match BoundingBox::parse(bbox) {
            Ok(bbox) => {
                filter.area = Some(AreaFilter::BoundingBox {
                    west: bbox.south_west.lon(),
                    south: bbox.south_west.lat(),
                    east: bbox.north_east.lon(),
                    north: bbox.north_east.lat(),
                });
            }
            Err(violation) => errors.push(format!("bbox: {}", violation.message)),
        },
        (None, Some(lat), Some(long)) => {
            let position = Latitude::new(lat)
                .and_then(|lat| Longitude::new(long).map(|long| GeoPoint::new(lat, long)));
            let metres = RadiusMetres::new(radius.unwrap_or(500.0));
            match (position, metres) {
                (Ok(position), Ok(metres)) => {
                    filter.area = Some(AreaFilter::Radius {
                        center: signalons_db::wgs84_point(position),
                        metres: metres.metres(),
                    });
                }
                (Err(violation), _) | (_, Err(violation)) => errors.push(violation.message),
            }
        }
        (None, None, None) => {
            if radius.is_some() {
                errors.push("radius needs lat and long".to_owned());
            }
        }
        (None, _, _) => {
            if errors.is_empty() {
                errors.push("lat and long go together".to_owned());
            }
        }
    }
    let page = parse_number::<i64>(params, "page", &mut errors).unwrap_or(1);
    let page_size = parse_number::<i64>(params, "page_size", &mut errors).unwrap_or(MAX_RESULTS);
    if !(1..=MAX_PAGE).contains(&page) {
        errors.push(format!("page must be 1 to {MAX_PAGE}"));
    }
    if !(1..=MAX_RESULTS).contains(&page_size) {
        errors.push(format!("page_size must be 1 to {MAX_RESULTS}"));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ListQuery {
        ids,
        filter,
        offset: (page - 1) * page_size,
        limit: page_size,
        extensions,
    })
}

async fn list_requests(state: &AppState, req: &HttpRequest, format: Format) -> Answer {
    let params = Params::query(req);
    let mut conn = connection(state, format).await?;
    let slug = jurisdiction(&mut conn, &params, format).await?;
    let query =
        list_query(&params, slug, Utc::now()).map_err(|e| Open311Error::bad_request(format, e))?;
    let reports = match &query.ids {
        // The ids override every other filter but the jurisdiction.
        Some(ids) => {
            queries::by_ids(&mut conn, query.filter.jurisdiction_slug.as_deref(), ids).await
        }
        None => queries::list(&mut conn, &query.filter, query.offset, query.limit).await,
    }
    .map_err(Open311Error::database(format))?;
    let requests = requests_json(&mut conn, req, reports, query.extensions, format).await?;
    ok(format, "service_requests", &Value::Array(requests))
}

fn request_id(text: &str) -> Option<i64> {
    text.parse::<i64>().ok().filter(|id| *id > 0)
}

async fn get_request(state: &AppState, req: &HttpRequest, id: &str, format: Format) -> Answer {
    let params = Params::query(req);
    let mut conn = connection(state, format).await?;
    let slug = jurisdiction(&mut conn, &params, format).await?;
    let missing = || Open311Error::not_found(format, format!("no service request `{id}`"));
    let id = request_id(id).ok_or_else(missing)?;
    let reports: Vec<PublicReport> = queries::by_ids(&mut conn, slug.as_deref(), &[id])
        .await
        .map_err(Open311Error::database(format))?;
    if reports.is_empty() {
        return Err(missing());
    }
    let requests = requests_json(
        &mut conn,
        req,
        reports,
        truthy(params.get("extensions")),
        format,
    )
    .await?;
    ok(format, "service_requests", &Value::Array(requests))
}

async fn get_token(state: &AppState, req: &HttpRequest, token: &str, format: Format) -> Answer {
    let params = Params::query(req);
    let mut conn = connection(state, format).await?;
    let slug = jurisdiction(&mut conn, &params, format).await?;
    // Requests are created synchronously: the token is the request's id.
    let missing = || Open311Error::not_found(format, format!("no token `{token}`"));
    let id = request_id(token).ok_or_else(missing)?;
    let found = queries::by_ids(&mut conn, slug.as_deref(), &[id])
        .await
        .map_err(Open311Error::database(format))?;
    if found.is_empty() {
        return Err(missing());
    }
    ok(
        format,
        "service_requests",
        &json!([{"service_request_id": id.to_string(), "token": id.to_string()}]),
    )
}

// ---- creating requests --------------------------------------------------------------------

fn is_form(req: &HttpRequest) -> bool {
    match req.headers().get(header::CONTENT_TYPE) {
        None => true,
        Some(value) => value.to_str().is_ok_and(|text| {
            text.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        }),
    }
}

fn bounded(params: &Params, name: &str, max: usize, errors: &mut Vec<String>) -> Option<String> {
    let value = params.get(name)?.trim();
    if value.chars().count() > max {
        errors.push(format!("{name} must be at most {max} characters"));
        return None;
    }
    Some(value.to_owned())
}

/// The form of a POST, read from the body (at most [`MAX_FORM_BODY_BYTES`]) and the query
/// string: real clients put `api_key` and `jurisdiction_id` in either.
async fn read_form(
    req: &HttpRequest,
    payload: web::Payload,
    format: Format,
) -> Result<Params, Open311Error> {
    if !is_form(req) {
        return Err(Open311Error::bad_request(
            format,
            vec!["send the request form-encoded (application/x-www-form-urlencoded)".to_owned()],
        ));
    }
    let too_large = || {
        Open311Error::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format,
            format!("the request body must be at most {MAX_FORM_BODY_BYTES} bytes"),
        )
    };
    if crate::extract::declares_more_than(req, MAX_FORM_BODY_BYTES) {
        return Err(too_large());
    }
    let body = crate::extract::read_bounded(payload.into_inner(), MAX_FORM_BODY_BYTES)
        .await
        .map_err(|error| match error.code() {
            "payload_too_large" => too_large(),
            _ => Open311Error::from_api(format, &error),
        })?;
    let mut params = Params::query(req);
    params.0.extend(Params::parse(&body).0);
    Ok(params)
}

/// Where a request is, and the address it is reported at.
struct Located {
    position: GeoPoint,
    address: Option<signalons_domain::Address>,
    /// The gazetteer's address, when the request named one instead of a point.
    from_gazetteer: Option<String>,
}

fn labels(found: &[FoundAddress]) -> String {
    found
        .iter()
        .map(|a| a.label.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The request's location: `lat` + `long`, else `address_id`, else `address_string` found in
/// the gazetteer. Every problem is added to `errors`.
async fn locate(
    conn: &mut signalons_db::AsyncPgConnection,
    params: &Params,
    slug: Option<&str>,
    format: Format,
    errors: &mut Vec<String>,
) -> Result<Option<Located>, Open311Error> {
    let address = match params
        .get("address_string")
        .map(|a| signalons_domain::Address::new(a.trim()))
        .transpose()
    {
        Ok(address) => address,
        Err(violation) => {
            errors.push(format!("address_string: {}", violation.message));
            return Ok(None);
        }
    };
    match (params.get("lat"), params.get("long")) {
        (Some(lat), Some(long)) => {
            let lat = lat.trim().parse::<f64>().ok().map(Latitude::new);
            let long = long.trim().parse::<f64>().ok().map(Longitude::new);
            match (lat, long) {
                (Some(Ok(lat)), Some(Ok(long))) => {
                    return Ok(Some(Located {
                        position: GeoPoint::new(lat, long),
                        address,
                        from_gazetteer: None,
                    }));
                }
                (lat, long) => {
                    if !matches!(lat, Some(Ok(_))) {
                        errors.push("lat must be a latitude in degrees, -90 to 90".to_owned());
                    }
                    if !matches!(long, Some(Ok(_))) {
                        errors.push("long must be a longitude in degrees, -180 to 180".to_owned());
                    }
                    return Ok(None);
                }
            }
        }
        (Some(_), None) | (None, Some(_)) => {
            errors.push("lat and long are required together".to_owned());
            return Ok(None);
        }
        (None, None) => {}
    }
    let jurisdiction = match slug {
        Some(slug) => catalog::jurisdiction_id(conn, slug)
            .await
            .map_err(Open311Error::database(format))?,
        None => None,
    };
    let found = if let Some(id) = params.get("address_id").map(str::trim) {
        let known = match id.parse::<i64>() {
            Ok(number) if number > 0 => signalons_db::gazetteer::by_id(conn, jurisdiction, number)
                .await
                .map_err(Open311Error::database(format))?,
            _ => None,
        };
        match known {
            Some(found) => found,
            None => {
                errors.push(format!(
                    "address_id `{id}` is not an address of this server \
                     (look addresses up with GET /api/v1/geocode?q=...)"
                ));
                return Ok(None);
            }
        }
    } else if let Some(text) = params.get("address_string") {
        let query = match AddressQuery::parse(text) {
            Ok(query) => query,
            Err(violation) => {
                errors.push(format!("address_string: {}", violation.message));
                return Ok(None);
            }
        };
        match crate::geocode::place(conn, jurisdiction, &query)
            .await
            .map_err(Open311Error::database(format))?
        {
            Resolution::Found(found) => found,
            Resolution::Ambiguous(places) => {
                errors.push(format!(
                    "address_string `{}` names several places ({}): add the neighborhood or \
                     ZIP code, or send lat and long",
                    text.trim(),
                    labels(&places)
                ));
                return Ok(None);
            }
            Resolution::NotFound => {
                errors.push(format!(
                    "address_string `{}` is not an address this server knows: send a house \
                     number and street or two crossing streets, or lat and long",
                    text.trim()
                ));
                return Ok(None);
            }
        }
    } else {
        errors.push(
            "a location is required: lat and long, or address_string, or address_id".to_owned(),
        );
        return Ok(None);
    };
    let position = Latitude::new(found.latitude)
        .and_then(|lat| Longitude::new(found.longitude).map(|long| GeoPoint::new(lat, long)))
        .map_err(|violation| Open311Error::internal(format, &violation))?;
    let address = signalons_domain::Address::new(&found.label)
        .map_err(|violation| Open311Error::internal(format, &violation))?;
    Ok(Some(Located {
        position,
        address: Some(address),
        from_gazetteer: Some(found.label),
    }))
}

async fn create_request(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
    format: Format,
) -> Answer {
    let params = read_form(req, payload, format).await?;
    let mut conn = connection(state, format).await?;
    let slug = jurisdiction(&mut conn, &params, format).await?;

    let forbidden = |description: &str| {
        Open311Error::new(StatusCode::FORBIDDEN, format, description.to_owned())
    };
    let key = params
        .get("api_key")
        .ok_or_else(|| forbidden("an api_key is required to create a service request"))?;
    let api_key_id = api_keys::key_with_scope(&mut conn, key, api_keys::OPEN311_WRITE)
        .await
        .map_err(Open311Error::database(format))?
        .ok_or_else(|| {
            forbidden("invalid api_key: unknown, revoked, or without the open311:write scope")
        })?;
    // Each key has its own budget, so one busy integrator cannot starve another.
    state
        .limiter
        .check(
            Limited::Report,
            &[Identity::client(req), Identity::api_key(key)],
        )
        .map_err(|error| Open311Error::from_api(format, &error))?;

    let mut errors = Vec::new();
    let code = params.get("service_code").map(str::trim);
    let category = match code {
        None => {
            errors.push("service_code is required".to_owned());
            None
        }
        Some(code) => match find_service(&mut conn, slug.as_deref(), code, format).await? {
            Some(category) => Some(category),
            None => {
                errors.push(format!(
                    "service_code `{code}` is not a service of this server"
                ));
                None
            }
        },
    };
    let located = locate(&mut conn, &params, slug.as_deref(), format, &mut errors).await?;
    let description = match Description::new(params.get("description").unwrap_or_default().trim()) {
        Ok(description) => Some(description),
        Err(violation) => {
            errors.push(violation.message);
            None
        }
    };
    let contact_email = match params.get("email").map(ContactEmail::new).transpose() {
        Ok(email) => email,
        Err(violation) => {
            errors.push(format!("email: {}", violation.message));
            None
        }
    };
    // Accepted and bounded, but not kept: Signalons stores no names or phone numbers.
    for name in [
        "first_name",
        "last_name",
        "phone",
        "device_id",
        "account_id",
    ] {
        bounded(&params, name, MAX_FIELD_CHARS, &mut errors);
    }
    let media_url = match params
        .get("media_url")
        .map(ExternalMediaUrl::new)
        .transpose()
    {
        Ok(url) => url,
        Err(violation) => {
            errors.push(violation.message);
            None
        }
    };
    // Not in the spec, but honoured as on /api/v1: a retry with the same key makes no second
    // request. Keys belong to the API key that sent them.
    let key = match req.headers().get(crate::reports::IDEMPOTENCY_KEY) {
        None => None,
        Some(value) => match value
            .to_str()
            .ok()
            .and_then(|text| signalons_domain::IdempotencyKey::new(text).ok())
        {
            Some(key) => Some(key),
            None => {
                errors.push("Idempotency-Key must be 1 to 255 visible ASCII characters".to_owned());
                None
            }
        },
    };
    let answers = attributes::answers(&params.0);
    let attributes = match &category {
        Some(category) => {
            let definitions = definitions(category, format)?;
            match attributes::validate(&definitions, &answers) {
                Ok(values) => values,
                Err(mut problems) => {
                    errors.append(&mut problems);
                    Value::Null
                }
            }
        }
        None => Value::Null,
    };
    let (Some(category), Some(located), Some(description), true) =
        (category, located, description, errors.is_empty())
    else {
        return Err(Open311Error::bad_request(format, errors));
    };
    let category_code = CategoryCode::new(&category.category.code)
        .map_err(|e| Open311Error::internal(format, &e.message))?;
    let draft = ReportDraft {
        reporter_id: None,
        device_hash: None,
        category: category_code,
        position: located.position,
        accuracy_m: None,
        address: located.address,
        description,
        contact_email,
        source: ReportSource::Open311,
        attributes,
        external_media_url: media_url,
        api_key_id: Some(api_key_id),
    };
    let submitted = submission::submit(&mut conn, &state.catalog, &draft, key.as_ref(), Utc::now())
        .await
        .map_err(|error| match error {
            SubmitError::OutsideJurisdiction => Open311Error::bad_request(
                format,
                vec!["the location is outside every jurisdiction served here".to_owned()],
            ),
            SubmitError::UnknownCategory(code) => Open311Error::bad_request(
                format,
                vec![format!(
                    "service_code `{code}` is not offered at this position"
                )],
            ),
            SubmitError::KeyReused => Open311Error::bad_request(
                format,
                vec!["this Idempotency-Key was already used for a different request".to_owned()],
            ),
            SubmitError::AccountRequired(code) => Open311Error::bad_request(
                format,
                vec![format!(
                    "service_code `{code}` is only taken from signed-in residents"
                )],
            ),
            SubmitError::Database(error) => Open311Error::internal(format, &error),
        })?;
    let mut notice = if submitted.linked {
        "This problem was already reported; your request joins it and makes it more urgent."
            .to_owned()
    } else {
        "Request received and routed to the responsible service.".to_owned()
    };
    if let Some(label) = located.from_gazetteer {
        notice.push_str(&format!(" Located at {label}."));
    }
    let id = submitted.report_id.to_string();
    ok(
        format,
        "service_requests",
        &json!([{"service_request_id": id, "token": id, "service_notice": notice}]),
    )
}

// ---- routing ------------------------------------------------------------------------------

fn unknown(req: &HttpRequest) -> Open311Error {
    let format = if req.path().ends_with(".xml") {
        Format::Xml
    } else {
        Format::Json
    };
    Open311Error::not_found(format, format!("nothing at {}", req.path()))
}

async fn top_get(state: web::Data<AppState>, req: HttpRequest, file: web::Path<String>) -> Answer {
    let (stem, format) = split_format(&file).ok_or_else(|| unknown(&req))?;
    match stem {
        "discovery" => discovery(&req, format),
        "services" => services(&state, &req, format).await,
        "requests" => list_requests(&state, &req, format).await,
        _ => Err(unknown(&req)),
    }
}

async fn top_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    file: web::Path<String>,
    payload: web::Payload,
) -> Answer {
    match split_format(&file) {
        Some(("requests", format)) => create_request(&state, &req, payload, format).await,
        _ => Err(unknown(&req)),
    }
}

async fn service_get(
    state: web::Data<AppState>,
    req: HttpRequest,
    file: web::Path<String>,
) -> Answer {
    let (code, format) = split_format(&file).ok_or_else(|| unknown(&req))?;
    service_definition(&state, &req, code, format).await
}

async fn request_get(
    state: web::Data<AppState>,
    req: HttpRequest,
    file: web::Path<String>,
) -> Answer {
    let (id, format) = split_format(&file).ok_or_else(|| unknown(&req))?;
    get_request(&state, &req, id, format).await
}

async fn token_get(
    state: web::Data<AppState>,
    req: HttpRequest,
    file: web::Path<String>,
) -> Answer {
    let (token, format) = split_format(&file).ok_or_else(|| unknown(&req))?;
    get_token(&state, &req, token, format).await
}

async fn fallback(req: HttpRequest) -> Answer {
    Err(unknown(&req))
}

/// The `/open311/v2` scope, registered beside (not inside) the OpenAPI-documented API.
pub fn scope() -> actix_web::Scope {
    web::scope(BASE_PATH)
        .route("/services/{file}", web::get().to(service_get))
        .route("/requests/{file}", web::get().to(request_get))
        .route("/tokens/{file}", web::get().to(token_get))
        .route("/{file}", web::get().to(top_get))
        .route("/{file}", web::post().to(top_post))
        .default_service(web::to(fallback))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_the_suffix() {
        assert_eq!(
            split_format("requests.json"),
            Some(("requests", Format::Json))
        );
        assert_eq!(split_format("a.b.xml"), Some(("a.b", Format::Xml)));
        assert_eq!(split_format("requests.html"), None);
        assert_eq!(split_format("requests"), None);
    }

    #[test]
    fn the_default_window_is_the_last_ninety_days() {
        let now = Utc::now();
        let query = list_query(&Params::default(), None, now).unwrap();
        assert_eq!(query.filter.requested_to, Some(now));
        assert_eq!(query.filter.requested_from, Some(now - Duration::days(90)));
        assert_eq!(query.limit, MAX_RESULTS);
    }
}
