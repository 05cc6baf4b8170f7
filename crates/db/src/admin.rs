//! What admins read and change of their city's catalog beyond the upserts of [`crate::import`]:
//! lists, retiring departments, categories and areas, deleting routes and unused areas, and the
//! jurisdiction's own settings.

use chrono::{DateTime, Utc};
use diesel::{
    prelude::*,
    sql_types::{BigInt, Bool, Text},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::{
    import::RouteTarget,
    schema::{categories, departments, incidents, jurisdictions, reports, routes, service_areas},
};

/// A department as admins see it.
#[derive(Debug, Clone, Queryable)]
pub struct DepartmentRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub names: serde_json::Value,
    pub channel: String,
    pub channel_config: serde_json::Value,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// The departments of `jurisdiction`, by code.
pub async fn departments(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
) -> QueryResult<Vec<DepartmentRow>> {
    departments::table
        .filter(departments::jurisdiction_id.eq(jurisdiction))
        .order(departments::code)
        .select((
            departments::id,
            departments::code,
            departments::name,
            departments::names,
            departments::channel,
            departments::channel_config,
            departments::active,
            departments::created_at,
        ))
        .load(conn)
        .await
}

/// A department's id and whether it is active, by code.
pub async fn department(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    code: &str,
) -> QueryResult<Option<(i64, bool)>> {
    departments::table
        .filter(departments::jurisdiction_id.eq(jurisdiction))
        .filter(departments::code.eq(code))
        .select((departments::id, departments::active))
        .first(conn)
        .await
        .optional()
}

/// A category as admins see it, with the department of its city-wide route.
#[derive(Debug, Clone, Queryable)]
pub struct CategoryRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub group_name: String,
    pub dedup_group: String,
    pub default_priority: i16,
    pub dedup_radius_m: i32,
    pub dedup_window_days: i32,
    pub allow_anonymous: bool,
    pub sla_days: Option<i32>,
    pub active: bool,
    pub department: Option<String>,
}

/// The categories of `jurisdiction`, active or not, by code.
pub async fn categories(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
) -> QueryResult<Vec<CategoryRow>> {
    categories::table
        .left_join(
            routes::table.on(routes::category_id
                .eq(categories::id.nullable())
                .and(routes::service_area_id.is_null())),
        )
        .left_join(departments::table.on(departments::id.eq(routes::department_id)))
        .filter(categories::jurisdiction_id.eq(jurisdiction))
        .order(categories::code)
        .select((
            categories::id,
            categories::code,
            categories::name,
            categories::group_name,
            categories::dedup_group,
            categories::default_priority,
            categories::dedup_radius_m,
            categories::dedup_window_days,
            categories::allow_anonymous,
            categories::sla_days,
            categories::active,
            departments::code.nullable(),
        ))
        .load(conn)
        .await
}

/// A service area as admins see it (without its polygon).
#[derive(Debug, Clone, Queryable)]
pub struct AreaRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub priority: i32,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// The service areas of `jurisdiction`, by kind then code.
pub async fn areas(conn: &mut AsyncPgConnection, jurisdiction: i64) -> QueryResult<Vec<AreaRow>> {
    service_areas::table
        .filter(service_areas::jurisdiction_id.eq(jurisdiction))
        .order((service_areas::kind, service_areas::code))
        .select((
            service_areas::id,
            service_areas::code,
            service_areas::name,
            service_areas::kind,
            service_areas::priority,
            service_areas::active,
            service_areas::created_at,
        ))
        .load(conn)
        .await
}

/// A service area's id and whether it is active, by code.
pub async fn area(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    code: &str,
) -> QueryResult<Option<(i64, bool)>> {
    service_areas::table
        .filter(service_areas::jurisdiction_id.eq(jurisdiction))
        .filter(service_areas::code.eq(code))
        .select((service_areas::id, service_areas::active))
        .first(conn)
        .await
        .optional()
}

/// A route with the codes it names.
#[derive(Debug, Clone, Queryable)]
pub struct RouteRow {
    pub id: i64,
    pub category: Option<String>,
    pub dedup_group: Option<String>,
    pub area: Option<String>,
    pub department: String,
    pub created_at: DateTime<Utc>,
}

/// The routes of `jurisdiction`: by category or dedup group, city-wide before per area.
pub async fn routes(conn: &mut AsyncPgConnection, jurisdiction: i64) -> QueryResult<Vec<RouteRow>> {
    routes::table
        .inner_join(departments::table.on(departments::id.eq(routes::department_id)))
        .left_join(categories::table.on(categories::id.nullable().eq(routes::category_id)))
        .left_join(
            service_areas::table.on(service_areas::id.nullable().eq(routes::service_area_id)),
        )
        .filter(routes::jurisdiction_id.eq(jurisdiction))
        .order((
            categories::code.asc().nulls_last(),
            routes::dedup_group.asc().nulls_last(),
            service_areas::code.asc().nulls_first(),
        ))
        .select((
            routes::id,
            categories::code.nullable(),
            routes::dedup_group,
            service_areas::code.nullable(),
            departments::code,
            routes::created_at,
        ))
        .load(conn)
        .await
}

/// Deletes the route of `target` in `service_area` (`None`: city-wide); whether one existed.
pub async fn delete_route(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    target: RouteTarget<'_>,
    service_area: Option<i64>,
) -> QueryResult<bool> {
    let mut query = diesel::delete(routes::table)
        .filter(routes::jurisdiction_id.eq(jurisdiction))
        .into_boxed();
    query = match target {
        RouteTarget::Category(id) => query.filter(routes::category_id.eq(id)),
        RouteTarget::DedupGroup(group) => query.filter(routes::dedup_group.eq(group.to_owned())),
    };
    query = match service_area {
        Some(area) => query.filter(routes::service_area_id.eq(area)),
        None => query.filter(routes::service_area_id.is_null()),
    };
    query.execute(conn).await.map(|deleted| deleted > 0)
}

/// Whether some category of `jurisdiction` belongs to `dedup_group`.
pub async fn dedup_group_exists(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    dedup_group: &str,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        categories::table
            .filter(categories::jurisdiction_id.eq(jurisdiction))
            .filter(categories::dedup_group.eq(dedup_group)),
    ))
    .get_result(conn)
    .await
}

/// What still sends work to a department: the routes naming it, and whether it is the
/// jurisdiction's default.
pub async fn department_uses(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    department: i64,
) -> QueryResult<(i64, bool)> {
    let routes_to_it = routes::table
        .filter(routes::department_id.eq(department))
        .count()
        .get_result(conn)
        .await?;
    let default = jurisdictions::table
        .find(jurisdiction)
        .select(jurisdictions::default_department_id)
        .first::<Option<i64>>(conn)
        .await?;
    Ok((routes_to_it, default == Some(department)))
}

/// Sets whether department `id` is active; whether it changed.
pub async fn set_department_active(
    conn: &mut AsyncPgConnection,
    id: i64,
    active: bool,
) -> QueryResult<bool> {
    diesel::update(departments::table.find(id))
        .filter(departments::active.ne(active))
        .set(departments::active.eq(active))
        .execute(conn)
        .await
        .map(|changed| changed > 0)
}

/// Sets whether category `code` of `jurisdiction` is offered; its id, or `None` when unknown.
pub async fn set_category_active(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    code: &str,
    active: bool,
) -> QueryResult<Option<i64>> {
    diesel::update(categories::table)
        .filter(categories::jurisdiction_id.eq(jurisdiction))
        .filter(categories::code.eq(code))
        .set(categories::active.eq(active))
        .returning(categories::id)
        .get_result(conn)
        .await
        .optional()
}

/// Sets whether service area `id` places new reports.
pub async fn set_area_active(
    conn: &mut AsyncPgConnection,
    id: i64,
    active: bool,
) -> QueryResult<()> {
    diesel::update(service_areas::table.find(id))
        .set(service_areas::active.eq(active))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Whether a report or an incident was ever placed in service area `id`.
pub async fn area_has_history(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<bool> {
    let reported = diesel::select(diesel::dsl::exists(
        reports::table.filter(reports::service_area_id.eq(id)),
    ))
    .get_result::<bool>(conn)
    .await?;
    if reported {
        return Ok(true);
    }
    diesel::select(diesel::dsl::exists(
        incidents::table.filter(incidents::service_area_id.eq(id)),
    ))
    .get_result(conn)
    .await
}

/// Deletes service area `id` with its routes (the caller checked it has no history).
pub async fn delete_area(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
    diesel::delete(service_areas::table.find(id))
        .execute(conn)
        .await
        .map(|_| ())
}

/// A jurisdiction's own settings.
#[derive(Debug, Clone, Queryable)]
pub struct JurisdictionSettings {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub locale: String,
    pub time_zone: String,
    pub reopen_window_days: i32,
}

/// The settings of jurisdiction `id`.
pub async fn jurisdiction(
    conn: &mut AsyncPgConnection,
    id: i64,
) -> QueryResult<JurisdictionSettings> {
    jurisdictions::table
        .find(id)
        .select((
            jurisdictions::id,
            jurisdictions::slug,
            jurisdictions::name,
            jurisdictions::locale,
            jurisdictions::time_zone,
            jurisdictions::reopen_window_days,
        ))
        .first(conn)
        .await
}

/// Whether PostgreSQL knows the time zone `name` (an IANA name such as `America/New_York`).
pub async fn time_zone_exists(conn: &mut AsyncPgConnection, name: &str) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Known {
        #[diesel(sql_type = Bool)]
        known: bool,
    }
    diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1) AS known")
        .bind::<Text, _>(name)
        .get_result::<Known>(conn)
        .await
        .map(|row| row.known)
}

/// Changes jurisdiction `id`'s reopen window and time zone (`None` leaves one as it is). A new
/// time zone moves the due dates of open incidents, which end at local midnight.
pub async fn update_jurisdiction(
    conn: &mut AsyncPgConnection,
    id: i64,
    reopen_window_days: Option<i32>,
    time_zone: Option<&str>,
) -> QueryResult<()> {
    if let Some(days) = reopen_window_days {
        diesel::update(jurisdictions::table.find(id))
            .set(jurisdictions::reopen_window_days.eq(days))
            .execute(conn)
            .await?;
    }
    if let Some(zone) = time_zone {
        let changed = diesel::update(jurisdictions::table.find(id))
            .filter(jurisdictions::time_zone.ne(zone))
            .set(jurisdictions::time_zone.eq(zone))
            .execute(conn)
            .await?;
        if changed > 0 {
            diesel::sql_query(
                "UPDATE incidents SET due_at = incident_due_at(category_id, created_at) \
                 WHERE jurisdiction_id = $1 AND closed_at IS NULL \
                   AND due_at IS DISTINCT FROM incident_due_at(category_id, created_at)",
            )
            .bind::<BigInt, _>(id)
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}
