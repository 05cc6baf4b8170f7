//! Bulk, idempotent writes for loading reference data and history (the demo city, imports).
//! Each upsert changes a row only when a value differs, so running an import twice changes
//! nothing.

use chrono::NaiveDateTime;
use diesel::{
    prelude::*,
    sql_types::{Array, BigInt, Double, Integer, Jsonb, Nullable, SmallInt, Text, Timestamp},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::schema::{categories, departments, jurisdictions, service_areas};

/// Turns a GeoJSON (Multi)Polygon into a valid MultiPolygon in WGS 84.
const CLEAN_POLYGON_SQL: &str =
    "ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON(g), 4326)), 3))";

/// A city to create or update.
#[derive(Debug, Clone)]
pub struct JurisdictionSeed<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub locale: &'a str,
    pub time_zone: &'a str,
}

/// Creates or updates a jurisdiction whose boundary is the union of `boundary_parts` (GeoJSON
/// polygons); returns its id.
pub async fn upsert_jurisdiction(
    conn: &mut AsyncPgConnection,
    seed: &JurisdictionSeed<'_>,
    boundary_parts: &[String],
) -> QueryResult<i64> {
    let sql = format!(
        "WITH parts AS (SELECT {CLEAN_POLYGON_SQL} AS geom FROM unnest($5::text[]) AS g), \
              boundary AS (SELECT ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Union(geom)), 3)) AS geom FROM parts) \
         INSERT INTO jurisdictions (slug, name, locale, time_zone, boundary) \
         SELECT $1, $2, $3, $4, geom FROM boundary \
         ON CONFLICT (slug) DO UPDATE SET name = excluded.name, locale = excluded.locale, \
             time_zone = excluded.time_zone, boundary = excluded.boundary \
         WHERE (jurisdictions.name, jurisdictions.locale, jurisdictions.time_zone) \
               IS DISTINCT FROM (excluded.name, excluded.locale, excluded.time_zone) \
            OR NOT ST_Equals(jurisdictions.boundary, excluded.boundary)"
    );
    diesel::sql_query(sql)
        .bind::<Text, _>(seed.slug)
        .bind::<Text, _>(seed.name)
        .bind::<Text, _>(seed.locale)
        .bind::<Text, _>(seed.time_zone)
        .bind::<Array<Text>, _>(boundary_parts)
        .execute(conn)
        .await?;
    jurisdictions::table
        .filter(jurisdictions::slug.eq(seed.slug))
        .select(jurisdictions::id)
        .first(conn)
        .await
}

/// Sets the department that catches reports no route matches.
pub async fn set_default_department(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    department: i64,
) -> QueryResult<()> {
    diesel::update(jurisdictions::table.find(jurisdiction))
        .filter(jurisdictions::default_department_id.is_distinct_from(department))
        .set(jurisdictions::default_department_id.eq(department))
        .execute(conn)
        .await
        .map(|_| ())
}

/// A department to create or update.
#[derive(Debug, Clone)]
pub struct DepartmentSeed<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub names: serde_json::Value,
    pub channel: &'a str,
    /// How to reach it on that channel (checked by the caller).
    pub channel_config: serde_json::Value,
}

const INSERT_DEPARTMENT_SQL: &str = "INSERT INTO departments (jurisdiction_id, code, name, \
         names, channel, channel_config) \
     VALUES ($1, $2, $3, $4, $5, $6) ";

/// An admin's definition replaces everything, channel included.
const REPLACE_DEPARTMENT_SQL: &str = "ON CONFLICT (jurisdiction_id, code) DO UPDATE SET \
         name = excluded.name, names = excluded.names, channel = excluded.channel, \
         channel_config = excluded.channel_config \
     WHERE (departments.name, departments.names, departments.channel, departments.channel_config) \
           IS DISTINCT FROM (excluded.name, excluded.names, excluded.channel, excluded.channel_config)";

/// Loaded data only renames: the channel and its configuration are the operator's once the
/// department exists.
const RENAME_DEPARTMENT_SQL: &str = "ON CONFLICT (jurisdiction_id, code) DO UPDATE SET \
         name = excluded.name, names = excluded.names \
     WHERE (departments.name, departments.names) IS DISTINCT FROM (excluded.name, excluded.names)";

/// Creates or replaces a department of `jurisdiction` as an admin defines it, channel
/// included; returns its id.
pub async fn upsert_department(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    seed: &DepartmentSeed<'_>,
) -> QueryResult<i64> {
    write_department(conn, jurisdiction, seed, REPLACE_DEPARTMENT_SQL).await
}

/// Creates a department of `jurisdiction` from demo or imported data, or renames it when it
/// exists: its channel and channel configuration are the operator's choice once it exists, and
/// loading the data again never changes them. Returns its id.
pub async fn seed_department(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    seed: &DepartmentSeed<'_>,
) -> QueryResult<i64> {
    write_department(conn, jurisdiction, seed, RENAME_DEPARTMENT_SQL).await
}

async fn write_department(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    seed: &DepartmentSeed<'_>,
    on_conflict: &str,
) -> QueryResult<i64> {
    diesel::sql_query(format!("{INSERT_DEPARTMENT_SQL}{on_conflict}"))
        .bind::<BigInt, _>(jurisdiction)
        .bind::<Text, _>(seed.code)
        .bind::<Text, _>(seed.name)
        .bind::<Jsonb, _>(&seed.names)
        .bind::<Text, _>(seed.channel)
        .bind::<Jsonb, _>(&seed.channel_config)
        .execute(conn)
        .await?;
    departments::table
        .filter(departments::jurisdiction_id.eq(jurisdiction))
        .filter(departments::code.eq(seed.code))
        .select(departments::id)
        .first(conn)
        .await
}

/// A category to create or update.
#[derive(Debug, Clone)]
pub struct CategorySeed<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub names: serde_json::Value,
    pub description: &'a str,
    pub descriptions: serde_json::Value,
    pub group_name: &'a str,
    pub dedup_group: &'a str,
    pub default_priority: i16,
    pub dedup_radius_m: i32,
    pub dedup_window_days: i32,
    pub allow_anonymous: bool,
    /// Days a problem of this kind may wait, if promised.
    pub sla_days: Option<i32>,
    /// Open311 attribute definitions.
    pub attributes: serde_json::Value,
}

const INSERT_CATEGORY_SQL: &str = "INSERT INTO categories (jurisdiction_id, code, name, names, \
         description, descriptions, group_name, dedup_group, default_priority, dedup_radius_m, \
         dedup_window_days, allow_anonymous, attributes, sla_days) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ";

/// An admin's definition replaces everything.
const REPLACE_CATEGORY_SQL: &str = "ON CONFLICT (jurisdiction_id, code) DO UPDATE SET \
         name = excluded.name, names = excluded.names, \
         description = excluded.description, descriptions = excluded.descriptions, \
         group_name = excluded.group_name, dedup_group = excluded.dedup_group, \
         default_priority = excluded.default_priority, dedup_radius_m = excluded.dedup_radius_m, \
         dedup_window_days = excluded.dedup_window_days, allow_anonymous = excluded.allow_anonymous, \
         attributes = excluded.attributes, sla_days = excluded.sla_days \
     WHERE (categories.name, categories.names, categories.description, categories.descriptions, \
            categories.group_name, categories.dedup_group, categories.default_priority, \
            categories.dedup_radius_m, categories.dedup_window_days, categories.allow_anonymous, \
            categories.attributes, categories.sla_days) \
           IS DISTINCT FROM (excluded.name, excluded.names, excluded.description, \
            excluded.descriptions, excluded.group_name, excluded.dedup_group, \
            excluded.default_priority, excluded.dedup_radius_m, excluded.dedup_window_days, \
            excluded.allow_anonymous, excluded.attributes, excluded.sla_days)";

/// Loaded data only renames: priority, service level, dedup policy and questions are the
/// operator's once the category exists.
const RENAME_CATEGORY_SQL: &str = "ON CONFLICT (jurisdiction_id, code) DO UPDATE SET \
         name = excluded.name, names = excluded.names, \
         description = excluded.description, descriptions = excluded.descriptions, \
         group_name = excluded.group_name \
     WHERE (categories.name, categories.names, categories.description, categories.descriptions, \
            categories.group_name) \
           IS DISTINCT FROM (excluded.name, excluded.names, excluded.description, \
            excluded.descriptions, excluded.group_name)";

/// Creates or replaces a category of `jurisdiction` as an admin defines it; returns its id.
pub async fn upsert_category(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    seed: &CategorySeed<'_>,
) -> QueryResult<i64> {
    write_category(conn, jurisdiction, seed, REPLACE_CATEGORY_SQL).await
}

/// Creates a category of `jurisdiction` from demo or imported data, or renames it when it
/// exists: loading the data again never undoes an admin's priority, service level, dedup
/// policy or questions. Returns its id.
pub async fn seed_category(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    seed: &CategorySeed<'_>,
) -> QueryResult<i64> {
    write_category(conn, jurisdiction, seed, RENAME_CATEGORY_SQL).await
}

async fn write_category(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    seed: &CategorySeed<'_>,
    on_conflict: &str,
) -> QueryResult<i64> {
    let changed = diesel::sql_query(format!("{INSERT_CATEGORY_SQL}{on_conflict}"))
        .bind::<BigInt, _>(jurisdiction)
        .bind::<Text, _>(seed.code)
        .bind::<Text, _>(seed.name)
        .bind::<Jsonb, _>(&seed.names)
        .bind::<Text, _>(seed.description)
        .bind::<Jsonb, _>(&seed.descriptions)
        .bind::<Text, _>(seed.group_name)
        .bind::<Text, _>(seed.dedup_group)
        .bind::<SmallInt, _>(seed.default_priority)
        .bind::<Integer, _>(seed.dedup_radius_m)
        .bind::<Integer, _>(seed.dedup_window_days)
        .bind::<diesel::sql_types::Bool, _>(seed.allow_anonymous)
        .bind::<Jsonb, _>(&seed.attributes)
        .bind::<diesel::sql_types::Nullable<Integer>, _>(seed.sla_days)
        .execute(conn)
        .await?;
    let id = categories::table
        .filter(categories::jurisdiction_id.eq(jurisdiction))
        .filter(categories::code.eq(seed.code))
        .select(categories::id)
        .first(conn)
        .await?;
    if changed == 0 {
        return Ok(id);
    }
    // A changed service level moves the due dates of the category's open incidents.
    diesel::sql_query(
        "UPDATE incidents SET due_at = incident_due_at(category_id, created_at) \
         WHERE category_id = $1 AND closed_at IS NULL \
           AND due_at IS DISTINCT FROM incident_due_at(category_id, created_at)",
    )
    .bind::<BigInt, _>(id)
    .execute(conn)
    .await?;
    Ok(id)
}

/// A service area to create or update.
#[derive(Debug, Clone)]
pub struct ServiceAreaSeed<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub kind: &'a str,
    pub priority: i32,
    /// A GeoJSON Polygon or MultiPolygon, WGS 84.
    pub geojson: &'a str,
}

/// Creates or updates a service area of `jurisdiction`; returns its id.
pub async fn upsert_service_area(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    seed: &ServiceAreaSeed<'_>,
) -> QueryResult<i64> {
    let sql = format!(
        "INSERT INTO service_areas (jurisdiction_id, code, name, kind, priority, geom) \
         SELECT $1, $2, $3, $4, $5, {CLEAN_POLYGON_SQL} FROM (SELECT $6::text AS g) AS input \
         ON CONFLICT (jurisdiction_id, code) DO UPDATE SET name = excluded.name, kind = excluded.kind, \
             priority = excluded.priority, geom = excluded.geom \
         WHERE (service_areas.name, service_areas.kind, service_areas.priority) \
               IS DISTINCT FROM (excluded.name, excluded.kind, excluded.priority) \
            OR NOT ST_Equals(service_areas.geom, excluded.geom)"
    );
    diesel::sql_query(sql)
        .bind::<BigInt, _>(jurisdiction)
        .bind::<Text, _>(seed.code)
        .bind::<Text, _>(seed.name)
        .bind::<Text, _>(seed.kind)
        .bind::<Integer, _>(seed.priority)
        .bind::<Text, _>(seed.geojson)
        .execute(conn)
        .await?;
    service_areas::table
        .filter(service_areas::jurisdiction_id.eq(jurisdiction))
        .filter(service_areas::code.eq(seed.code))
        .select(service_areas::id)
        .first(conn)
        .await
}

/// What a route is for: one category, or every category of a dedup group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteTarget<'a> {
    Category(i64),
    DedupGroup(&'a str),
}

/// Routes `target` to `department`, within `service_area` or anywhere in the jurisdiction, as
/// an admin decides: an existing route of the same target and place is redirected.
pub async fn upsert_route(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    target: RouteTarget<'_>,
    service_area: Option<i64>,
    department: i64,
) -> QueryResult<()> {
    write_route(
        conn,
        jurisdiction,
        target,
        service_area,
        department,
        "DO UPDATE SET department_id = excluded.department_id \
         WHERE routes.department_id <> excluded.department_id",
    )
    .await
}

/// Adds the route of demo or imported data unless the same target and place is routed
/// already: loading the data again never undoes an admin's redirection.
pub async fn seed_route(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    target: RouteTarget<'_>,
    service_area: Option<i64>,
    department: i64,
) -> QueryResult<()> {
    write_route(
        conn,
        jurisdiction,
        target,
        service_area,
        department,
        "DO NOTHING",
    )
    .await
}

async fn write_route(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    target: RouteTarget<'_>,
    service_area: Option<i64>,
    department: i64,
    on_conflict: &str,
) -> QueryResult<()> {
    let (category, dedup_group) = match target {
        RouteTarget::Category(id) => (Some(id), None),
        RouteTarget::DedupGroup(group) => (None, Some(group)),
    };
    diesel::sql_query(format!(
        "INSERT INTO routes (jurisdiction_id, category_id, dedup_group, service_area_id, department_id) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (jurisdiction_id, coalesce(category_id, 0), coalesce(dedup_group, ''), \
                      coalesce(service_area_id, 0)) {on_conflict}"
    ))
    .bind::<BigInt, _>(jurisdiction)
    .bind::<Nullable<BigInt>, _>(category)
    .bind::<Nullable<Text>, _>(dedup_group)
    .bind::<Nullable<BigInt>, _>(service_area)
    .bind::<BigInt, _>(department)
    .execute(conn)
    .await
    .map(|_| ())
}

/// The service area of each point (`None` where no area covers it), in input order: the
/// highest-priority covering area wins, as in [`crate::catalog::place`].
pub async fn place_many(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    lon_lat: &[(f64, f64)],
) -> QueryResult<Vec<Option<i64>>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Nullable<BigInt>)]
        area: Option<i64>,
    }
    let (lons, lats): (Vec<f64>, Vec<f64>) = lon_lat.iter().copied().unzip();
    let rows = diesel::sql_query(
        "SELECT covering.id AS area \
         FROM unnest($2::float8[], $3::float8[]) WITH ORDINALITY AS p(lon, lat, n) \
         LEFT JOIN LATERAL (SELECT a.id FROM service_areas a \
             WHERE a.jurisdiction_id = $1 AND a.active \
               AND ST_Covers(a.geom, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326)) \
             ORDER BY a.priority DESC, a.id LIMIT 1) AS covering ON true \
         ORDER BY p.n",
    )
    .bind::<BigInt, _>(jurisdiction)
    .bind::<Array<Double>, _>(lons)
    .bind::<Array<Double>, _>(lats)
    .load::<Row>(conn)
    .await?;
    Ok(rows.into_iter().map(|row| row.area).collect())
}

/// A case from another system, loaded as a closed or open historical report.
#[derive(Debug, Clone)]
pub struct HistoricalReport {
    pub external_id: String,
    pub category_id: i64,
    pub longitude: f64,
    pub latitude: f64,
    pub address: Option<String>,
    pub description: String,
    pub status: &'static str,
    pub priority: i16,
    pub department_id: Option<i64>,
    pub service_area_id: Option<i64>,
    /// Local time in the jurisdiction's time zone.
    pub opened_at: NaiveDateTime,
    /// Local time in the jurisdiction's time zone; `None` while open.
    pub closed_at: Option<NaiveDateTime>,
    /// The public explanation given when it was closed.
    pub closure_note: String,
}

/// Inserts the reports whose `external_id` is not yet known (source `import`) and whose point
/// lies inside the jurisdiction, each with its own incident and its public history; returns how
/// many were new. One statement per call, so a
/// batch lands whole or not at all.
pub async fn insert_historical_reports(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    reports: &[HistoricalReport],
) -> QueryResult<usize> {
    // Incident ids are drawn before inserting so each report can point at its own incident
    // within one statement.
    const SQL: &str = "\
        WITH input AS MATERIALIZED ( \
            SELECT t.*, nextval(pg_get_serial_sequence('incidents', 'id')) AS incident_id \
            FROM unnest($2::text[], $3::bigint[], $4::float8[], $5::float8[], $6::text[], \
                        $7::text[], $8::text[], $9::smallint[], $10::bigint[], $11::bigint[], \
                        $12::timestamp[], $13::timestamp[], $14::text[]) \
                 AS t(external_id, category_id, lon, lat, address, description, status, priority, \
                      department_id, service_area_id, opened_local, closed_local, closure_note) \
            WHERE NOT EXISTS (SELECT 1 FROM reports r WHERE r.jurisdiction_id = $1 \
                              AND r.source = 'import' AND r.external_id = t.external_id) \
        ), positioned AS MATERIALIZED ( \
            SELECT i.*, ST_SetSRID(ST_MakePoint(i.lon, i.lat), 4326)::geography AS location, \
                   i.opened_local AT TIME ZONE j.time_zone AS created_at, \
                   i.closed_local AT TIME ZONE j.time_zone AS closed_at, c.dedup_group \
            FROM input i JOIN jurisdictions j ON j.id = $1 JOIN categories c ON c.id = i.category_id \
            WHERE ST_Covers(j.boundary, ST_SetSRID(ST_MakePoint(i.lon, i.lat), 4326)) \
        ), new_incidents AS ( \
            INSERT INTO incidents (id, jurisdiction_id, category_id, dedup_group, location, status, \
                priority, department_id, service_area_id, report_count, created_at, updated_at, closed_at, \
                address, summary, last_reported_at) \
            OVERRIDING SYSTEM VALUE \
            SELECT incident_id, $1, category_id, dedup_group, location, status, priority, \
                   department_id, service_area_id, 1, created_at, coalesce(closed_at, created_at), closed_at, \
                   address, description, created_at \
            FROM positioned \
        ), new_reports AS ( \
            INSERT INTO reports (jurisdiction_id, category_id, incident_id, location, address, \
                description, status, priority, department_id, service_area_id, source, external_id, \
                created_at, updated_at, closed_at) \
            SELECT $1, category_id, incident_id, location, address, description, status, priority, \
                   department_id, service_area_id, 'import', external_id, created_at, \
                   coalesce(closed_at, created_at), closed_at \
            FROM positioned \
            RETURNING id, external_id, status, created_at, closed_at \
        ), new_events AS ( \
            INSERT INTO report_events (report_id, kind, status_from, status_to, body, created_at) \
            SELECT id, 'created', NULL, 'submitted', '', created_at FROM new_reports \
            UNION ALL \
            SELECT r.id, 'status_changed', 'submitted', r.status, p.closure_note, \
                   coalesce(r.closed_at, r.created_at) \
            FROM new_reports r JOIN positioned p USING (external_id) WHERE r.status <> 'submitted' \
        ) \
        SELECT count(*) AS inserted FROM new_reports";

    #[derive(QueryableByName)]
    struct Inserted {
        #[diesel(sql_type = BigInt)]
        inserted: i64,
    }

    let column = |f: fn(&HistoricalReport) -> String| reports.iter().map(f).collect::<Vec<_>>();
    let outcome = diesel::sql_query(SQL)
        .bind::<BigInt, _>(jurisdiction)
        .bind::<Array<Text>, _>(column(|r| r.external_id.clone()))
        .bind::<Array<BigInt>, _>(reports.iter().map(|r| r.category_id).collect::<Vec<_>>())
        .bind::<Array<Double>, _>(reports.iter().map(|r| r.longitude).collect::<Vec<_>>())
        .bind::<Array<Double>, _>(reports.iter().map(|r| r.latitude).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(
            reports
                .iter()
                .map(|r| r.address.clone())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Text>, _>(column(|r| r.description.clone()))
        .bind::<Array<Text>, _>(column(|r| r.status.to_owned()))
        .bind::<Array<SmallInt>, _>(reports.iter().map(|r| r.priority).collect::<Vec<_>>())
        .bind::<Array<Nullable<BigInt>>, _>(
            reports.iter().map(|r| r.department_id).collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<BigInt>>, _>(
            reports
                .iter()
                .map(|r| r.service_area_id)
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Timestamp>, _>(reports.iter().map(|r| r.opened_at).collect::<Vec<_>>())
        .bind::<Array<Nullable<Timestamp>>, _>(
            reports.iter().map(|r| r.closed_at).collect::<Vec<_>>(),
        )
        .bind::<Array<Text>, _>(column(|r| r.closure_note.clone()))
        .get_result::<Inserted>(conn)
        .await?;
    Ok(usize::try_from(outcome.inserted).unwrap_or_default())
}

/// Creates or updates every area of `areas` (already validated), all or nothing; returns how many.
pub async fn store_areas(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    areas: &[signalons_domain::areas::AreaFeature],
    kind: &str,
    priority: i32,
) -> QueryResult<usize> {
    use diesel_async::AsyncConnection;
    conn.transaction(async |conn| {
        for area in areas {
            let seed = ServiceAreaSeed {
                code: &area.code,
                name: &area.name,
                kind,
                priority,
                geojson: &area.geometry,
            };
            upsert_service_area(conn, jurisdiction, &seed).await?;
        }
        Ok(areas.len())
    })
    .await
}
