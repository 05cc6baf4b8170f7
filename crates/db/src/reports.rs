//! Writing and reading reports.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use postgis_diesel::{functions::st_d_within, operators::intersects_2d};

use crate::{
    Point, WGS84,
    functions::{
        geometry, geometry_overlaps, nd_overlaps, report_area_window, report_place_and_id,
        st_d_within_unindexed, st_make_envelope,
    },
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
/// Keys are scoped to the API key that sent them (`api_key`), or shared by every client without
/// one.
pub async fn find_by_idempotency_key(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    api_key: Option<i64>,
    key: &str,
) -> QueryResult<Option<(i64, Option<Vec<u8>>)>> {
    let mut query = reports::table
        .filter(reports::jurisdiction_id.eq(jurisdiction))
        .filter(reports::idempotency_key.eq(key))
        .into_boxed();
    query = match api_key {
        Some(api_key) => query.filter(reports::api_key_id.eq(api_key)),
        None => query.filter(reports::api_key_id.is_null()),
    };
    query
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

/// How far back each search of an area looks, in ids below the page's upper bound: the newest
/// 10,000 reports first (about two weeks of a large city), then 80,000 more, then 640,000 more,
/// then the rest. A busy area fills its page from the first window or the second; a quiet one
/// widens until it has its page or has looked at every report. (Measured at 1M reports: a first
/// window of 50,000 reads ~6 times the rows a page of 20 needs and halves throughput.)
const ID_WINDOWS: [i64; 3] = [10_000, 80_000, 640_000];

/// Metres in a degree of latitude, rounded down (110,574 at the equator), and in a degree of
/// longitude at the equator, rounded down (111,319): boxes drawn with them cover a circle.
const METRES_PER_DEGREE_LAT: f64 = 110_000.0;
const METRES_PER_DEGREE_LON: f64 = 111_000.0;

/// A lon/lat rectangle (west, south, east, north) that covers the circle of `metres` around
/// `center`; every longitude near a pole or across the antimeridian.
fn circle_box(center: Point, metres: f64) -> (f64, f64, f64, f64) {
    let dlat = metres / METRES_PER_DEGREE_LAT;
    let south = (center.y - dlat).max(-90.0);
    let north = (center.y + dlat).min(90.0);
    let widest = south.abs().max(north.abs());
    let cos = widest.to_radians().cos();
    let dlon = if cos > 1e-6 {
        metres / (METRES_PER_DEGREE_LON * cos)
    } else {
        f64::INFINITY
    };
    if center.x - dlon < -180.0 || center.x + dlon > 180.0 {
        (-180.0, south, 180.0, north)
    } else {
        (center.x - dlon, south, center.x + dlon, north)
    }
}

/// Up to `limit` public reports matching `filter`, newest first.
///
/// With an area, the reports are searched in windows of ids, newest first ([`ID_WINDOWS`]),
/// through `reports_place_id_gist`, which finds the reports of an area *and* an id range
/// without reading the others: a page costs what it holds, not what the area has accumulated
/// over the years. Each window continues below the previous one, so the page is exactly the
/// newest `limit` reports below the cursor, as one query over everything would give.
pub async fn list_public(
    conn: &mut AsyncPgConnection,
    filter: &ReportFilter,
    limit: i64,
) -> QueryResult<Vec<PublicReport>> {
    let Some(area) = filter.area else {
        return list_public_window(conn, filter, None, limit).await;
    };
    let hi = match filter.before_id {
        Some(before) => before,
        None => {
            let newest: Option<i64> = reports::table
                .select(diesel::dsl::max(reports::id))
                .get_result(conn)
                .await?;
            match newest {
                Some(newest) => newest.saturating_add(1),
                None => return Ok(Vec::new()),
            }
        }
    };
    let (west, south, east, north) = match area {
        AreaFilter::BoundingBox {
            west,
            south,
            east,
            north,
        } => (west, south, east, north),
        AreaFilter::Radius { center, metres } => circle_box(center, metres),
    };
    let mut page = Vec::new();
    let mut upper = hi;
    for window in ID_WINDOWS.iter().copied().map(Some).chain([None]) {
        let lower = window.map_or(0, |size| upper.saturating_sub(size).max(0));
        let search = WindowSearch {
            west,
            south,
            east,
            north,
            lower,
            upper,
        };
        let wanted = limit - page.len() as i64;
        let mut found = list_public_window(conn, filter, Some(search), wanted).await?;
        // The index box may reach a hair below `lower` (ids rounded outwards): those belong
        // to the next window, which reads them again.
        found.retain(|report| report.id >= lower);
        page.extend(found);
        if page.len() as i64 >= limit || lower == 0 {
            break;
        }
        upper = lower;
    }
    Ok(page)
}

/// The box and ids `lower <= id < upper` one search of [`list_public`] looks at.
#[derive(Debug, Clone, Copy)]
struct WindowSearch {
    west: f64,
    south: f64,
    east: f64,
    north: f64,
    lower: i64,
    upper: i64,
}

async fn list_public_window(
    conn: &mut AsyncPgConnection,
    filter: &ReportFilter,
    search: Option<WindowSearch>,
    limit: i64,
) -> QueryResult<Vec<PublicReport>> {
    use crate::schema::public_reports::dsl::*;
    let mut query = public_reports
        .select(PublicReport::as_select())
        .into_boxed();
    match (search, filter.area) {
        // A window: the 3-D index finds the area and the ids at once. The exact tests of the
        // area are written so that the planner cannot answer them from the 2-D indexes too (a
        // bitmap AND with those reads every report of the area, which is what the window
        // avoids); they are the same functions as `ST_DWithin` and `&&`, without the index
        // support. `id >= lower` is left to the index box (exact below 2^24, ids are rounded
        // outwards above) and to the caller, so that the planner does not AND the primary key.
        (Some(w), Some(area)) => {
            let place = report_place_and_id(location, id);
            let window = report_area_window(w.west, w.south, w.east, w.north, w.lower, w.upper);
            query = query
                .filter(nd_overlaps(place, window))
                .filter(id.lt(w.upper));
            query = match area {
                AreaFilter::BoundingBox {
                    west,
                    south,
                    east,
                    north,
                } => {
                    let envelope = st_make_envelope(west, south, east, north, WGS84 as i32);
                    query.filter(geometry_overlaps(geometry(location), envelope))
                }
                AreaFilter::Radius { center, metres } => {
                    query.filter(st_d_within_unindexed(location, center, metres, true))
                }
            };
        }
        (
            _,
            Some(AreaFilter::BoundingBox {
                west,
                south,
                east,
                north,
            }),
        ) => {
            let envelope = st_make_envelope(west, south, east, north, WGS84 as i32);
            query = query.filter(intersects_2d(geometry(location), envelope));
        }
        (_, Some(AreaFilter::Radius { center, metres })) => {
            query = query.filter(st_d_within(location, center, metres));
        }
        (_, None) => {}
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

impl ReporterContext {
    /// Whether signed-in account `user` made the report.
    pub fn made_by_account(&self, user: Option<i64>) -> bool {
        user.is_some() && user == self.reporter_id
    }

    /// Whether the device whose id hashes to `device_hash` made the report.
    pub fn made_by_device(&self, device_hash: Option<&[u8]>) -> bool {
        device_hash.is_some() && device_hash == self.device_hash.as_deref()
    }
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
