//! Administration of what a city offers and who handles it: departments, categories, service
//! areas (GeoJSON) and routes. Admins only, in their own jurisdiction, every change audited.

use actix_web::{HttpResponse, post, put, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use signalons_db::{
    AsyncPgConnection, DbError,
    accounts::{self, NewAuditEntry},
    import::{self, CategorySeed, DepartmentSeed},
};
use signalons_domain::{Actor, CategoryCode, Violation, areas};
use utoipa::{IntoParams, ToSchema};

use crate::{
    AppState,
    admin::require_admin,
    auth::Authenticated,
    error::{ApiError, FieldError, Problem},
    extract::{JsonBody, QueryParams},
    reports::check,
};

/// GeoJSON documents of areas may be large: up to 5 MiB.
const MAX_AREAS_BYTES: usize = 5 * 1024 * 1024;

async fn audit(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    jurisdiction: i64,
    action: &str,
    target_id: Option<i64>,
    detail: serde_json::Value,
) -> Result<(), DbError> {
    accounts::audit(
        conn,
        NewAuditEntry {
            jurisdiction_id: Some(jurisdiction),
            actor_id: Some(actor.user_id),
            action,
            target_id,
            detail,
            created_at: Utc::now(),
        },
    )
    .await
}

/// How a department receives its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The crew queue of this system.
    Internal,
    /// A readable email per report.
    Email,
    /// A signed JSON POST per report.
    Webhook,
    /// Forwarded as a GeoReport v2 request to the department's own Open311 server; its
    /// closures are read back and resolve the job here.
    Open311,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Self::Internal => "internal",
            Self::Email => "email",
            Self::Webhook => "webhook",
            Self::Open311 => "open311",
        }
    }
}

/// A department as an admin defines it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentDefinition {
    #[schema(max_length = 200)]
    pub name: String,
    /// The name in French, when it differs.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub name_fr: Option<String>,
    /// How it receives work (default `internal`).
    #[serde(default)]
    pub channel: Option<Channel>,
    /// Where: `{"to": "pwd@city.example.org"}` for `email`; `{"url": "https://…", "secret":
    /// "16 to 200 characters"}` for `webhook` (the secret signs every delivery); `{}` for
    /// `internal`. Checked now, so a department cannot be saved in a state that fails later.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub channel_config: Option<serde_json::Value>,
}

/// What was stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stored {
    pub id: i64,
    pub code: String,
}

fn department_code(code: &str) -> Result<String, Violation> {
    let valid = (2..=16).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(code.to_owned())
    } else {
        Err(Violation::new(
            "invalid_code",
            "a department code is 2 to 16 of A-Z, 0-9 and _",
        ))
    }
}

fn name(text: &str) -> Result<String, Violation> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 200 || text.chars().any(char::is_control) {
        Err(Violation::new(
            "invalid_name",
            "a name is 1 to 200 printable characters",
        ))
    } else {
        Ok(text.to_owned())
    }
}

/// Create or update a department of your city (admins).
#[utoipa::path(
    tag = "admin",
    params(("code" = String, Path, description = "Department code, e.g. PWD")),
    request_body = DepartmentDefinition,
    responses(
        (status = 200, body = Stored),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/admin/departments/{code}")]
pub async fn put_department(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    code: web::Path<String>,
    JsonBody(body): JsonBody<DepartmentDefinition>,
) -> Result<web::Json<Stored>, ApiError> {
    let jurisdiction = require_admin(&actor)?;
    let mut errors = Vec::new();
    let code = check("code", department_code(&code), &mut errors);
    let english = check("name", name(&body.name), &mut errors);
    let french = check(
        "name_fr",
        body.name_fr.as_deref().map(name).transpose(),
        &mut errors,
    );
    let channel = body.channel.unwrap_or(Channel::Internal);
    let channel_config = body.channel_config.unwrap_or_else(|| serde_json::json!({}));
    check(
        "channel_config",
        signalons_domain::delivery::Channel::parse(channel.as_str(), &channel_config)
            .and_then(|parsed| parsed.check_targets(state.delivery_targets)),
        &mut errors,
    );
    let (Some(code), Some(english), Some(french)) = (code, english, french) else {
        return Err(ApiError::invalid_body(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::invalid_body(errors));
    }
    let names = serde_json::json!({ "en": english, "fr": french.as_deref().unwrap_or(&english) });
    let mut conn = state.pool.get().await?;
    let id = import::upsert_department(
        &mut conn,
        jurisdiction,
        &DepartmentSeed {
            code: &code,
            name: &english,
            names,
            channel: channel.as_str(),
            channel_config,
        },
    )
    .await?;
    state.catalog.clear();
    audit(
        &mut conn,
        &actor,
        jurisdiction,
        "department.put",
        Some(id),
        serde_json::json!({ "code": code, "name": english, "channel": channel }),
    )
    .await?;
    Ok(web::Json(Stored { id, code }))
}

/// A category as an admin defines it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryDefinition {
    #[schema(max_length = 200)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub name_fr: Option<String>,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// The heading it is listed under (`Streets`, `Lights`...).
    #[schema(max_length = 100)]
    pub group: String,
    /// Categories describing the same physical problem share a dedup group.
    pub dedup_group: String,
    /// The department handling it wherever no more specific route applies.
    pub department: String,
    /// 1 (urgent) to 5 (low).
    #[schema(minimum = 1, maximum = 5)]
    pub default_priority: i16,
    /// How far apart two reports may be and still be one problem (1–5000 m).
    #[schema(minimum = 1, maximum = 5000)]
    pub dedup_radius_m: i32,
    /// How long an open incident attracts duplicates (1–3650 days).
    #[schema(minimum = 1, maximum = 3650)]
    pub dedup_window_days: i32,
    pub allow_anonymous: bool,
    /// The service level: days a problem of this kind may wait (1–365).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 365)]
    pub sla_days: Option<i32>,
}

fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
    value: T,
    low: T,
    high: T,
) -> Result<T, Violation> {
    if value >= low && value <= high {
        Ok(value)
    } else {
        Err(Violation::new(
            "out_of_range",
            format!("must be {low} to {high}"),
        ))
    }
}

/// Create or update a category of your city and route it to a department (admins). Changing
/// its service level moves the due dates of its open incidents.
#[utoipa::path(
    tag = "admin",
    params(("code" = String, Path, description = "Category code, e.g. pothole")),
    request_body = CategoryDefinition,
    responses(
        (status = 200, body = Stored),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/admin/categories/{code}")]
pub async fn put_category(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    code: web::Path<String>,
    JsonBody(body): JsonBody<CategoryDefinition>,
) -> Result<web::Json<Stored>, ApiError> {
    let jurisdiction = require_admin(&actor)?;
    let mut errors = Vec::new();
    let code = check("code", CategoryCode::new(&code), &mut errors);
    let dedup_group = check(
        "dedup_group",
        CategoryCode::new(&body.dedup_group),
        &mut errors,
    );
    let english = check("name", name(&body.name), &mut errors);
    let french = check(
        "name_fr",
        body.name_fr.as_deref().map(name).transpose(),
        &mut errors,
    );
    let group = check("group", name(&body.group), &mut errors);
    let description = check(
        "description",
        signalons_domain::Description::new(body.description.as_deref().unwrap_or("")),
        &mut errors,
    );
    check(
        "default_priority",
        in_range(body.default_priority, 1, 5),
        &mut errors,
    );
    check(
        "dedup_radius_m",
        in_range(body.dedup_radius_m, 1, 5000),
        &mut errors,
    );
    check(
        "dedup_window_days",
        in_range(body.dedup_window_days, 1, 3650),
        &mut errors,
    );
    check(
        "sla_days",
        body.sla_days.map(|days| in_range(days, 1, 365)).transpose(),
        &mut errors,
    );
    let mut conn = state.pool.get().await?;
    let (departments, _) = accounts::departments_by_code(
        &mut conn,
        jurisdiction,
        std::slice::from_ref(&body.department),
    )
    .await?;
    if departments.is_empty() {
        errors.push(FieldError::new(
            "department",
            Violation::new(
                "unknown_department",
                format!("no department {}", body.department),
            ),
        ));
    }
    let (
        Some(code),
        Some(dedup_group),
        Some(english),
        Some(french),
        Some(group),
        Some(description),
        Some(&department),
    ) = (
        code,
        dedup_group,
        english,
        french,
        group,
        description,
        departments.first(),
    )
    else {
        return Err(ApiError::invalid_body(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::invalid_body(errors));
    }
    let seed = CategorySeed {
        code: code.as_str(),
        name: &english,
        names: serde_json::json!({ "en": english, "fr": french.as_deref().unwrap_or(&english) }),
        description: description.as_str(),
        descriptions: serde_json::json!({ "en": description.as_str() }),
        group_name: &group,
        dedup_group: dedup_group.as_str(),
        default_priority: body.default_priority,
        dedup_radius_m: body.dedup_radius_m,
        dedup_window_days: body.dedup_window_days,
        allow_anonymous: body.allow_anonymous,
        sla_days: body.sla_days,
        attributes: serde_json::json!([]),
    };
    let id = import::upsert_category(&mut conn, jurisdiction, &seed).await;
    // Whatever was stored is visible to the next report at once.
    state.catalog.clear();
    let id = id?;
    let routed = import::upsert_category_route(&mut conn, jurisdiction, id, None, department).await;
    state.catalog.clear();
    routed?;
    audit(
        &mut conn,
        &actor,
        jurisdiction,
        "category.put",
        Some(id),
        serde_json::json!({ "code": code.as_str(), "department": body.department, "sla_days": body.sla_days }),
    )
    .await?;
    Ok(web::Json(Stored {
        id,
        code: code.as_str().to_owned(),
    }))
}

/// How the areas of a GeoJSON document are named and ranked.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AreaImport {
    /// `neighborhood`, `district`, `road_network`... (default `district`).
    pub kind: Option<String>,
    /// Among overlapping areas the highest priority wins (default 10).
    pub priority: Option<i32>,
    /// The feature property naming each area (default `name`).
    pub name_property: Option<String>,
}

/// How many areas were stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct AreasStored {
    pub stored: usize,
}

/// Create or update service areas from a GeoJSON FeatureCollection, Feature or geometry in
/// WGS 84 (admins; up to 5 MiB). Every area is checked — valid polygons, vertex limits, the
/// coordinate system — before any is stored: one bad area changes nothing.
#[utoipa::path(
    tag = "admin",
    params(AreaImport),
    request_body(content = Object, description = "GeoJSON", content_type = "application/geo+json"),
    responses(
        (status = 200, body = AreasStored),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/admin/areas")]
pub async fn post_areas(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(query): QueryParams<AreaImport>,
    JsonBody(document): JsonBody<serde_json::Value, MAX_AREAS_BYTES>,
) -> Result<web::Json<AreasStored>, ApiError> {
    let jurisdiction = require_admin(&actor)?;
    let kind = query.kind.as_deref().unwrap_or("district");
    let priority = query.priority.unwrap_or(10);
    let mut errors = Vec::new();
    check("kind", areas::valid_kind(kind), &mut errors);
    check("priority", in_range(priority, -1000, 1000), &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::invalid_query(errors));
    }
    let parsed = areas::parse_areas(&document, query.name_property.as_deref().unwrap_or("name"))
        .map_err(|violation| ApiError::invalid_body(vec![FieldError::new("geojson", violation)]))?;
    let mut conn = state.pool.get().await?;
    let stored = import::store_areas(&mut conn, jurisdiction, &parsed, kind, priority).await?;
    state.catalog.clear();
    let codes: Vec<&str> = parsed.iter().map(|area| area.code.as_str()).collect();
    audit(
        &mut conn,
        &actor,
        jurisdiction,
        "area.import",
        None,
        serde_json::json!({ "kind": kind, "priority": priority, "codes": codes }),
    )
    .await?;
    Ok(web::Json(AreasStored { stored }))
}

/// Which department handles a category in an area.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteDefinition {
    /// A category code.
    pub category: String,
    /// A service area code; absent for the whole city.
    #[serde(default)]
    pub area: Option<String>,
    /// A department code.
    pub department: String,
}

/// Route a category, in one service area or the whole city, to a department (admins). The
/// most specific route wins when a report is placed.
#[utoipa::path(
    tag = "admin",
    request_body = RouteDefinition,
    responses(
        (status = 204, description = "Stored"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/admin/routes")]
pub async fn put_route(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    JsonBody(body): JsonBody<RouteDefinition>,
) -> Result<HttpResponse, ApiError> {
    let jurisdiction = require_admin(&actor)?;
    let mut conn = state.pool.get().await?;
    let ids = signalons_db::catalog::route_ids(
        &mut conn,
        jurisdiction,
        &body.category,
        body.area.as_deref(),
        &body.department,
    )
    .await?;
    let mut errors = Vec::new();
    let unknown = |field: &str, code: &str| {
        FieldError::new(
            field,
            Violation::new("not_found", format!("no {field} `{code}` here")),
        )
    };
    if ids.category.is_none() {
        errors.push(unknown("category", &body.category));
    }
    if let Some(area) = &body.area
        && ids.service_area.is_none()
    {
        errors.push(unknown("area", area));
    }
    if ids.department.is_none() {
        errors.push(unknown("department", &body.department));
    }
    let (Some(category), Some(department)) = (ids.category, ids.department) else {
        return Err(ApiError::invalid_body(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::invalid_body(errors));
    }
    import::upsert_category_route(
        &mut conn,
        jurisdiction,
        category,
        ids.service_area,
        department,
    )
    .await?;
    state.catalog.clear();
    audit(
        &mut conn,
        &actor,
        jurisdiction,
        "route.put",
        Some(category),
        serde_json::json!({ "category": body.category, "area": body.area, "department": body.department }),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
