//! Writing and reading reports.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use postgis_diesel::{functions::st_d_within, operators::intersects_2d};

use crate::{
    Point, WGS84,
    functions::{geometry, st_make_envelope},
    models::{NewIncident, NewReport, NewReportEvent, PublicReport, ReportEvent},
    schema::{incidents, public_reports, report_events, reports},
};

/// Stores a new report, the incident it opens and its first public event, all or nothing.
/// Returns the new report's id. A unique violation on the idempotency key means another request
/// with the same key won: the caller reads that report instead.
pub async fn insert_with_new_incident(
    conn: &mut AsyncPgConnection,
    dedup_group: &str,
    report: NewReport<'_>,
    created_note: &str,
) -> QueryResult<i64> {
    let at = report.created_at;
    conn.transaction(async |conn| {
        let incident_id = diesel::insert_into(incidents::table)
            .values(NewIncident {
                jurisdiction_id: report.jurisdiction_id,
                category_id: report.category_id,
                dedup_group,
                location: report.location,
                status: report.status,
                priority: report.priority,
                department_id: report.department_id,
                service_area_id: report.service_area_id,
                report_count: 1,
                address: report.address,
                summary: report.description,
                created_at: at,
                updated_at: at,
                last_reported_at: at,
            })
            .returning(incidents::id)
            .get_result::<i64>(conn)
            .await?;
        let report_id = diesel::insert_into(reports::table)
            .values(NewReport {
                incident_id,
                ..report
            })
            .returning(reports::id)
            .get_result::<i64>(conn)
            .await?;
        crate::jobs::announce_incident(conn, incident_id, "created").await?;
        crate::outbox::enqueue_report_created(conn, report_id).await?;
        crate::alerts::enqueue_immediate(conn, report_id).await?;
        record_event(
            conn,
            NewReportEvent {
                report_id,
                kind: "created",
                status_from: None,
                status_to: Some(report.status),
                body: created_note,
                is_internal: false,
                created_at: at,
            },
        )
        .await?;
        Ok(report_id)
    })
    .await
}

/// Appends an entry to a report's history.
pub async fn record_event(
    conn: &mut AsyncPgConnection,
    event: NewReportEvent<'_>,
) -> QueryResult<()> {
    diesel::insert_into(report_events::table)
        .values(event)
        .execute(conn)
        .await
        .map(|_| ())
}

/// The report created earlier with `key` in a jurisdiction, and the fingerprint of its request.
pub async fn find_by_idempotency_key(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    key: &str,
) -> QueryResult<Option<(i64, Option<Vec<u8>>)>> {
    reports::table
        .filter(reports::jurisdiction_id.eq(jurisdiction))
        .filter(reports::idempotency_key.eq(key))
        .select((reports::id, reports::request_fingerprint))
        .first(conn)
        .await
        .optional()
}

/// One report as the public sees it.
pub async fn find_public(
    conn: &mut AsyncPgConnection,
    report_id: i64,
) -> QueryResult<Option<PublicReport>> {
    public_reports::table
        .find(report_id)
        .select(PublicReport::as_select())
        .first(conn)
        .await
        .optional()
}

/// A place a list is restricted to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AreaFilter {
    /// A map viewport in degrees (planar, as maps draw it).
    BoundingBox {
        west: f64,
        south: f64,
        east: f64,
        north: f64,
    },
    /// Within `metres` of `center`, on the spheroid.
    Radius { center: Point, metres: f64 },
}

/// What a public list of reports is restricted to; every field narrows it.
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    pub area: Option<AreaFilter>,
    pub jurisdiction_slug: Option<String>,
    pub category_codes: Vec<String>,
    pub statuses: Vec<&'static str>,
    pub updated_since: Option<DateTime<Utc>>,
    /// Keyset pagination: only reports with a smaller id (newest first).
    pub before_id: Option<i64>,
}

/// Up to `limit` public reports matching `filter`, newest first.
pub async fn list_public(
    conn: &mut AsyncPgConnection,
    filter: &ReportFilter,
    limit: i64,
) -> QueryResult<Vec<PublicReport>> {
    use crate::schema::public_reports::dsl::*;
    let mut query = public_reports
        .select(PublicReport::as_select())
        .into_boxed();
    match filter.area {
        Some(AreaFilter::BoundingBox {
            west,
            south,
            east,
            north,
        }) => {
            let envelope = st_make_envelope(west, south, east, north, WGS84 as i32);
            query = query.filter(intersects_2d(geometry(location), envelope));
        }
        Some(AreaFilter::Radius { center, metres }) => {
            query = query.filter(st_d_within(location, center, metres));
        }
        None => {}
    }
    if let Some(slug) = &filter.jurisdiction_slug {
        query = query.filter(jurisdiction_slug.eq(slug.clone()));
    }
    if !filter.category_codes.is_empty() {
        query = query.filter(category_code.eq_any(filter.category_codes.clone()));
    }
    if !filter.statuses.is_empty() {
        query = query.filter(status.eq_any(filter.statuses.clone()));
    }
    if let Some(since) = filter.updated_since {
        query = query.filter(updated_at.ge(since));
    }
    if let Some(before) = filter.before_id {
        query = query.filter(id.lt(before));
    }
    query.order(id.desc()).limit(limit).load(conn).await
}

/// Whether a report exists.
pub async fn exists(conn: &mut AsyncPgConnection, report_id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(reports::table.find(report_id)))
        .get_result(conn)
        .await
}

/// The public history of a report, oldest first; internal notes are never returned.
pub async fn public_events(
    conn: &mut AsyncPgConnection,
    report_id: i64,
) -> QueryResult<Vec<ReportEvent>> {
    report_events::table
        .filter(report_events::report_id.eq(report_id))
        .filter(report_events::is_internal.eq(false))
        .select(ReportEvent::as_select())
        .order((report_events::created_at, report_events::id))
        .load(conn)
        .await
}

/// Who made a report and how long its city lets a reporter dispute a resolution.
#[derive(Debug, Clone, Queryable)]
pub struct ReporterContext {
    pub incident_id: i64,
    pub reporter_id: Option<i64>,
    pub device_hash: Option<Vec<u8>>,
    pub reopen_window_days: i32,
}

/// The reporter of report `id` and its city's reopen window.
pub async fn reporter_context(
    conn: &mut AsyncPgConnection,
    id: i64,
) -> QueryResult<Option<ReporterContext>> {
    reports::table
        .find(id)
        .inner_join(
            crate::schema::jurisdictions::table
                .on(crate::schema::jurisdictions::id.eq(reports::jurisdiction_id)),
        )
        .select((
            reports::incident_id,
            reports::reporter_id,
            reports::device_hash,
            crate::schema::jurisdictions::reopen_window_days,
        ))
        .first(conn)
        .await
        .optional()
}
