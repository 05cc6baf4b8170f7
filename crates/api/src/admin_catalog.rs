//! Administration of what a city offers and who handles it: departments, categories, service
//! areas (GeoJSON) and routes — listed, defined, retired, deleted. Admins only, in their own
//! jurisdiction; every change is audited in the transaction that makes it.

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use signalons_db::{
    AsyncConnection, AsyncPgConnection, DbError,
    accounts::{self, NewAuditEntry},
    admin as admin_queries,
    import::{self, CategorySeed, DepartmentSeed, RouteTarget},
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
    let id = conn
        .transaction::<_, DbError, _>(async |conn| {
            let id = import::upsert_department(
                conn,
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
            audit(
                conn,
                &actor,
                jurisdiction,
                "department.put",
                Some(id),
                serde_json::json!({ "code": code, "name": english, "channel": channel }),
            )
            .await?;
            Ok(id)
        })
        .await;
    state.catalog.clear();
    Ok(web::Json(Stored { id: id?, code }))
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
    let departments = accounts::departments_by_code(
        &mut conn,
        jurisdiction,
        std::slice::from_ref(&body.department),
    )
    .await?;
    if !departments.missing.is_empty() {
        errors.push(FieldError::new(
            "department",
            Violation::new(
                "unknown_department",
                format!("no department {}", body.department),
            ),
        ));
    }
    if !departments.retired.is_empty() {
        errors.push(FieldError::new(
            "department",
            Violation::new(
                "inactive_department",
                format!("department {} is retired", body.department),
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
        departments.ids.first(),
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
    let id = conn
        .transaction::<_, DbError, _>(async |conn| {
            let id = import::upsert_category(conn, jurisdiction, &seed).await?;
            import::upsert_route(
                conn,
                jurisdiction,
                RouteTarget::Category(id),
                None,
                department,
            )
            .await?;
            audit(
                conn,
                &actor,
                jurisdiction,
                "category.put",
                Some(id),
                serde_json::json!({
                    "code": code.as_str(),
                    "department": body.department,
                    "sla_days": body.sla_days,
                }),
            )
            .await?;
            Ok(id)
        })
        .await;
    // Whatever was stored is visible to the next report at once.
    state.catalog.clear();
    let id = id?;
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
    let codes: Vec<&str> = parsed.iter().map(|area| area.code.as_str()).collect();
    let stored = conn
        .transaction::<_, DbError, _>(async |conn| {
            let stored = import::store_areas(conn, jurisdiction, &parsed, kind, priority).await?;
            audit(
                conn,
                &actor,
                jurisdiction,
                "area.import",
                None,
                serde_json::json!({ "kind": kind, "priority": priority, "codes": codes }),
            )
            .await?;
            Ok(stored)
        })
        .await;
    state.catalog.clear();
    Ok(web::Json(AreasStored { stored: stored? }))
}

/// Which department handles a category, or every category of a dedup group, in an area or the
/// whole city.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteDefinition {
    /// A category code; or give `dedup_group` instead.
    #[serde(default)]
    pub category: Option<String>,
    /// A dedup group (every category of the group that has no route of its own); or give
    /// `category` instead.
    #[serde(default)]
    pub dedup_group: Option<String>,
    /// A service area code; absent for the whole city.
    #[serde(default)]
    pub area: Option<String>,
    /// A department code.
    pub department: String,
}

/// A route, as `GET /admin/routes` lists it and `DELETE /admin/routes` names it.
#[derive(Debug, Deserialize, Serialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RouteMatch {
    /// A category code; or `dedup_group`.
    #[serde(default)]
    pub category: Option<String>,
    /// A dedup group; or `category`.
    #[serde(default)]
    pub dedup_group: Option<String>,
    /// A service area code; absent for the whole city.
    #[serde(default)]
    pub area: Option<String>,
}

/// The target of a route named by codes, resolved in `jurisdiction`; every unknown or invalid
/// code is an error in `errors`. The area must be active when `for_new_route`.
async fn resolve_route<'a>(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    category: Option<&str>,
    dedup_group: Option<&'a str>,
    area: Option<&str>,
    for_new_route: bool,
    errors: &mut Vec<FieldError>,
) -> Result<(Option<RouteTarget<'a>>, Option<i64>), DbError> {
    let unknown = |field: &str, code: &str| {
        FieldError::new(
            field,
            Violation::new("not_found", format!("no {field} `{code}` here")),
        )
    };
    let target = match (category, dedup_group) {
        (Some(code), None) => {
            match signalons_db::catalog::category_id(conn, jurisdiction, code).await? {
                Some(id) => Some(RouteTarget::Category(id)),
                None => {
                    errors.push(unknown("category", code));
                    None
                }
            }
        }
        (None, Some(group)) => {
            if CategoryCode::new(group).is_ok()
                && admin_queries::dedup_group_exists(conn, jurisdiction, group).await?
            {
                Some(RouteTarget::DedupGroup(group))
            } else {
                errors.push(unknown("dedup_group", group));
                None
            }
        }
        (Some(_), Some(_)) => {
            errors.push(FieldError::new(
                "dedup_group",
                Violation::new(
                    "conflicting_fields",
                    "a route is for a category or for a dedup group, not both",
                ),
            ));
            None
        }
        (None, None) => {
            errors.push(FieldError::new(
                "category",
                Violation::new("missing_field", "give a category or a dedup_group"),
            ));
            None
        }
    };
    let area = match area {
        None => None,
        Some(code) => match admin_queries::area(conn, jurisdiction, code).await? {
            Some((_, false)) if for_new_route => {
                errors.push(FieldError::new(
                    "area",
                    Violation::new(
                        "inactive_area",
                        format!("area `{code}` is retired: it places no report"),
                    ),
                ));
                None
            }
            Some((id, _)) => Some(id),
            None => {
                errors.push(unknown("area", code));
                None
            }
        },
    };
    Ok((target, area))
}

/// Route a category or a dedup group, in one service area or the whole city, to a department
/// (admins). When a report is placed the most specific route wins: category before dedup
/// group, area before city.
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
    let mut errors = Vec::new();
    let (target, area) = resolve_route(
        &mut conn,
        jurisdiction,
        body.category.as_deref(),
        body.dedup_group.as_deref(),
        body.area.as_deref(),
        true,
        &mut errors,
    )
    .await?;
    let department =
        match admin_queries::department(&mut conn, jurisdiction, &body.department).await? {
            Some((id, true)) => Some(id),
            Some((_, false)) => {
                errors.push(FieldError::new(
                    "department",
                    Violation::new(
                        "inactive_department",
                        format!("department {} is retired", body.department),
                    ),
                ));
                None
            }
            None => {
                errors.push(FieldError::new(
                    "department",
                    Violation::new(
                        "not_found",
                        format!("no department `{}` here", body.department),
                    ),
                ));
                None
            }
        };
    let (Some(target), Some(department)) = (target, department) else {
        return Err(ApiError::invalid_body(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::invalid_body(errors));
    }
    let stored = conn
        .transaction::<_, DbError, _>(async |conn| {
            import::upsert_route(conn, jurisdiction, target, area, department).await?;
            audit(
                conn,
                &actor,
                jurisdiction,
                "route.put",
                match target {
                    RouteTarget::Category(id) => Some(id),
                    RouteTarget::DedupGroup(_) => None,
                },
                serde_json::json!({
                    "category": body.category,
                    "dedup_group": body.dedup_group,
                    "area": body.area,
                    "department": body.department,
                }),
            )
            .await
        })
        .await;
    state.catalog.clear();
    stored?;
    Ok(HttpResponse::NoContent().finish())
}

/// Delete a route (admins): reports it caught are routed by the next most specific one, or
/// to the city's default department.
#[utoipa::path(
    tag = "admin",
    params(RouteMatch),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such route", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/admin/routes")]
pub async fn delete_route(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(query): QueryParams<RouteMatch>,
) -> Result<HttpResponse, ApiError> {
    let jurisdiction = require_admin(&actor)?;
    let mut conn = state.pool.get().await?;
    let mut errors = Vec::new();
    let (target, area) = resolve_route(
        &mut conn,
        jurisdiction,
        query.category.as_deref(),
        query.dedup_group.as_deref(),
        query.area.as_deref(),
        false,
        &mut errors,
    )
    .await?;
    let Some(target) = target.filter(|_| errors.is_empty()) else {
        return Err(ApiError::invalid_query(errors));
    };
    let deleted = conn
        .transaction::<_, DbError, _>(async |conn| {
            let deleted = admin_queries::delete_route(conn, jurisdiction, target, area).await?;
            if deleted {
                audit(
                    conn,
                    &actor,
                    jurisdiction,
                    "route.delete",
                    None,
                    serde_json::to_value(&query).unwrap_or_default(),
                )
                .await?;
            }
            Ok(deleted)
        })
        .await;
    state.catalog.clear();
    if deleted? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found(
            "route_not_found",
            "no route of that category or dedup group in that area",
        ))
    }
}

/// A department as admins see it (the channel's secrets are not shown).
#[derive(Debug, Serialize, ToSchema)]
pub struct Department {
    pub code: String,
    pub name: String,
    pub name_fr: Option<String>,
    pub channel: Channel,
    /// Where its work goes: the address of `email`, the URL of `webhook`, the endpoint of
    /// `open311`; absent for `internal`.
    pub destination: Option<String>,
    /// Retired departments receive no new route, category or staff member.
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

fn channel_of(text: &str) -> Result<Channel, ApiError> {
    serde_json::from_value(serde_json::Value::from(text)).map_err(|e| ApiError::internal(&e))
}

/// Your city's departments, retired ones included (admins).
#[utoipa::path(
    tag = "admin",
    responses(
        (status = 200, body = [Department]),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/admin/departments")]
pub async fn list_departments(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<web::Json<Vec<Department>>, ApiError> {
    use signalons_domain::delivery::Channel as Configured;
    let jurisdiction = require_admin(&actor)?;
    let mut conn = state.pool.get().await?;
    let rows = admin_queries::departments(&mut conn, jurisdiction).await?;
    let departments = rows
        .into_iter()
        .map(|row| {
            let destination = match Configured::parse(&row.channel, &row.channel_config) {
                Ok(Configured::Email { to }) => Some(to),
                Ok(Configured::Webhook { url, .. }) => Some(url),
                Ok(Configured::Open311 { endpoint, .. }) => Some(endpoint),
                Ok(Configured::Internal) | Err(_) => None,
            };
            let name_fr = row.names["fr"]
                .as_str()
                .filter(|fr| *fr != row.name)
                .map(str::to_owned);
            Ok(Department {
                channel: channel_of(&row.channel)?,
                code: row.code,
                name: row.name,
                name_fr,
                destination,
                active: row.active,
                created_at: row.created_at,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(web::Json(departments))
}

/// Retire something, or bring it back.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActiveChange {
    pub active: bool,
}

/// Retire a department or bring it back (admins). A department still receiving work — named
/// by a route or a category, or the city's default — cannot be retired: `409
/// department_in_use`; route that work elsewhere first. Its past jobs and staff stay.
#[utoipa::path(
    tag = "admin",
    params(("code" = String, Path, description = "Department code")),
    request_body = ActiveChange,
    responses(
        (status = 200, body = Stored),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/admin/departments/{code}")]
pub async fn patch_department(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    code: web::Path<String>,
    JsonBody(body): JsonBody<ActiveChange>,
) -> Result<web::Json<Stored>, ApiError> {
    let jurisdiction = require_admin(&actor)?;
    let code = code.into_inner();
    let mut conn = state.pool.get().await?;
    let id = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let (id, _) = admin_queries::department(conn, jurisdiction, &code)
                .await?
                .ok_or_else(|| {
                    ApiError::not_found("department_not_found", format!("no department {code}"))
                })?;
            if !body.active {
                let (routes, default) = admin_queries::department_uses(conn, jurisdiction, id).await?;
                if routes > 0 || default {
                    return Err(ApiError::new(
                        actix_web::http::StatusCode::CONFLICT,
                        "department_in_use",
                        format!(
                            "{code} still receives work ({routes} routes{}); route it elsewhere first",
                            if default { ", and it is the city's default department" } else { "" }
                        ),
                    ));
                }
            }
            if admin_queries::set_department_active(conn, id, body.active).await? {
                audit(
                    conn,
                    &actor,
                    jurisdiction,
                    "department.update",
                    Some(id),
                    serde_json::json!({ "code": code, "active": body.active }),
                )
                .await?;
            }
            Ok(id)
        })
        .await?;
    state.catalog.clear();
    Ok(web::Json(Stored { id, code }))
}

/// A category as admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminCategory {
    pub code: String,
    pub name: String,
    pub group: String,
    pub dedup_group: String,
    /// The department of its city-wide route, if it has one.
    pub department: Option<String>,
    pub default_priority: i16,
    pub dedup_radius_m: i32,
    pub dedup_window_days: i32,
    pub allow_anonymous: bool,
    pub sla_days: Option<i32>,
    /// Retired categories are not offered and refuse new reports; their history stays.
    pub active: bool,
}

/// Your city's categories, retired ones included (admins).
#[utoipa::path(
    tag = "admin",
    responses(
        (status = 200, body = [AdminCategory]),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/admin/categories")]
pub async fn list_admin_categories(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<web::Json<Vec<AdminCategory>>, ApiError> {
    let jurisdiction = require_admin(&actor)?;
    let mut conn = state.pool.get().await?;
    let rows = admin_queries::categories(&mut conn, jurisdiction).await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|row| AdminCategory {
                code: row.code,
                name: row.name,
                group: row.group_name,
                dedup_group: row.dedup_group,
                department: row.department,
                default_priority: row.default_priority,
                dedup_radius_m: row.dedup_radius_m,
                dedup_window_days: row.dedup_window_days,
                allow_anonymous: row.allow_anonymous,
                sla_days: row.sla_days,
                active: row.active,
            })
            .collect(),
    ))
}

/// Retire a category or offer it again (admins). A retired category is no longer listed and
/// new reports of it are refused; its reports, incidents and routes stay.
#[utoipa::path(
    tag = "admin",
    params(("code" = String, Path, description = "Category code")),
    request_body = ActiveChange,
    responses(
        (status = 200, body = Stored),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/admin/categories/{code}")]
pub async fn patch_category(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    code: web::Path<String>,
    JsonBody(body): JsonBody<ActiveChange>,
) -> Result<web::Json<Stored>, ApiError> {
    let jurisdiction = require_admin(&actor)?;
    let code = code.into_inner();
    let mut conn = state.pool.get().await?;
    let id = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let id = admin_queries::set_category_active(conn, jurisdiction, &code, body.active)
                .await?
                .ok_or_else(|| {
                    ApiError::not_found("category_not_found", format!("no category {code}"))
                })?;
            audit(
                conn,
                &actor,
                jurisdiction,
                "category.update",
                Some(id),
                serde_json::json!({ "code": code, "active": body.active }),
            )
            .await?;
            Ok(id)
        })
        .await;
    state.catalog.clear();
    Ok(web::Json(Stored { id: id?, code }))
}

/// A service area as admins see it (its polygon is not repeated).
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminArea {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub priority: i32,
    /// Retired areas place no new report.
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// Your city's service areas, retired ones included (admins).
#[utoipa::path(
    tag = "admin",
    responses(
        (status = 200, body = [AdminArea]),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/admin/areas")]
pub async fn list_areas(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<web::Json<Vec<AdminArea>>, ApiError> {
    let jurisdiction = require_admin(&actor)?;
    let mut conn = state.pool.get().await?;
    let rows = admin_queries::areas(&mut conn, jurisdiction).await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|row| AdminArea {
                code: row.code,
                name: row.name,
                kind: row.kind,
                priority: row.priority,
                active: row.active,
                created_at: row.created_at,
            })
            .collect(),
    ))
}

fn area_not_found(code: &str) -> ApiError {
    ApiError::not_found("area_not_found", format!("no service area {code}"))
}

/// Retire a service area or bring it back (admins): a retired area places no new report (the
/// next area covering the point does), and keeps its past reports.
#[utoipa::path(
    tag = "admin",
    params(("code" = String, Path, description = "Service area code")),
    request_body = ActiveChange,
    responses(
        (status = 200, body = Stored),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/admin/areas/{code}")]
pub async fn patch_area(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    code: web::Path<String>,
    JsonBody(body): JsonBody<ActiveChange>,
) -> Result<web::Json<Stored>, ApiError> {
    let jurisdiction = require_admin(&actor)?;
    let code = code.into_inner();
    let mut conn = state.pool.get().await?;
    let id = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let (id, _) = admin_queries::area(conn, jurisdiction, &code)
                .await?
                .ok_or_else(|| area_not_found(&code))?;
            admin_queries::set_area_active(conn, id, body.active).await?;
            audit(
                conn,
                &actor,
                jurisdiction,
                "area.update",
                Some(id),
                serde_json::json!({ "code": code, "active": body.active }),
            )
            .await?;
            Ok(id)
        })
        .await;
    state.catalog.clear();
    Ok(web::Json(Stored { id: id?, code }))
}

/// Delete a service area that never placed a report, with its routes (admins); one that did is
/// kept for its history: `409 area_in_use`, retire it instead.
#[utoipa::path(
    tag = "admin",
    params(("code" = String, Path, description = "Service area code")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/admin/areas/{code}")]
pub async fn delete_area(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let jurisdiction = require_admin(&actor)?;
    let code = code.into_inner();
    let mut conn = state.pool.get().await?;
    let deleted = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let (id, _) = admin_queries::area(conn, jurisdiction, &code)
                .await?
                .ok_or_else(|| area_not_found(&code))?;
            if admin_queries::area_has_history(conn, id).await? {
                return Err(ApiError::new(
                    actix_web::http::StatusCode::CONFLICT,
                    "area_in_use",
                    format!(
                        "reports were placed in {code}: retire it instead (PATCH active=false)"
                    ),
                ));
            }
            admin_queries::delete_area(conn, id).await?;
            audit(
                conn,
                &actor,
                jurisdiction,
                "area.delete",
                Some(id),
                serde_json::json!({ "code": code }),
            )
            .await
            .map_err(ApiError::from)
        })
        .await;
    state.catalog.clear();
    deleted?;
    Ok(HttpResponse::NoContent().finish())
}

/// A route as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Route {
    /// The category it is for, or
    pub category: Option<String>,
    /// the dedup group it is for.
    pub dedup_group: Option<String>,
    /// The service area it applies in; absent for the whole city.
    pub area: Option<String>,
    pub department: String,
}

/// Your city's routes (admins).
#[utoipa::path(
    tag = "admin",
    responses(
        (status = 200, body = [Route]),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/admin/routes")]
pub async fn list_routes(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<web::Json<Vec<Route>>, ApiError> {
    let jurisdiction = require_admin(&actor)?;
    let mut conn = state.pool.get().await?;
    let rows = admin_queries::routes(&mut conn, jurisdiction).await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|row| Route {
                category: row.category,
                dedup_group: row.dedup_group,
                area: row.area,
                department: row.department,
            })
            .collect(),
    ))
}
