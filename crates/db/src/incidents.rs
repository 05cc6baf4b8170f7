//! Incidents: the physical problems behind reports, their candidates and their supporters.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use postgis_diesel::functions::st_d_within;

use crate::{
    Point,
    models::{CandidateIncident, NewReport, NewReportEvent, PublicIncident},
    reports::record_event,
    schema::{categories, incident_supports, incidents, jurisdictions, report_events, reports},
};

/// The most candidates one search returns before scoring.
const MAX_CANDIDATES: i64 = 50;

/// Open incidents of `dedup_group` within `radius_m` of `point`, opened in `since..=now`.
pub async fn open_candidates(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    dedup_group: &str,
    point: Point,
    radius_m: f64,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<Vec<CandidateIncident>> {
    incidents::table
        .inner_join(categories::table.on(categories::id.eq(incidents::category_id)))
        .filter(incidents::jurisdiction_id.eq(jurisdiction))
        .filter(incidents::dedup_group.eq(dedup_group))
        .filter(incidents::closed_at.is_null())
        .filter(incidents::created_at.between(since, now))
        .filter(st_d_within(incidents::location, point, radius_m))
        .select((
            incidents::id,
            categories::code,
            categories::name,
            incidents::location,
            incidents::status,
            incidents::address,
            incidents::summary,
            incidents::report_count,
            incidents::supporters_count,
            incidents::created_at,
        ))
        .order(incidents::created_at.desc())
        .limit(MAX_CANDIDATES)
        .load(conn)
        .await
}

/// One incident as the public sees it.
pub async fn find_public(
    conn: &mut AsyncPgConnection,
    incident: i64,
) -> QueryResult<Option<PublicIncident>> {
    incidents::table
        .find(incident)
        .inner_join(categories::table.on(categories::id.eq(incidents::category_id)))
        .inner_join(jurisdictions::table.on(jurisdictions::id.eq(incidents::jurisdiction_id)))
        .select((
            incidents::id,
            jurisdictions::slug,
            categories::code,
            categories::name,
            incidents::location,
            incidents::status,
            incidents::priority,
            incidents::address,
            incidents::summary,
            incidents::report_count,
            incidents::supporters_count,
            incidents::created_at,
            incidents::updated_at,
            incidents::closed_at,
            incidents::merged_into_id,
        ))
        .first(conn)
        .await
        .optional()
}

/// How many reports and supporters each of `ids` has now, as `(id, reports, supporters)`;
/// unknown ids are left out.
pub async fn counts(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
) -> QueryResult<Vec<(i64, i32, i32)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    incidents::table
        .filter(incidents::id.eq_any(ids))
        .select((
            incidents::id,
            incidents::report_count,
            incidents::supporters_count,
        ))
        .load(conn)
        .await
}

/// Counts one more supporter of `incident` (in the caller's transaction) and returns the new
/// count with the category's default priority, so the caller can recompute the priority.
async fn count_supporter(
    conn: &mut AsyncPgConnection,
    incident: i64,
    new_report: bool,
    now: DateTime<Utc>,
) -> QueryResult<(i32, i16)> {
    let reports_added = i32::from(new_report);
    let (supporters, category_id) = diesel::update(incidents::table.find(incident))
        .set((
            incidents::supporters_count.eq(incidents::supporters_count + 1),
            incidents::report_count.eq(incidents::report_count + reports_added),
            incidents::updated_at.eq(now),
        ))
        .returning((incidents::supporters_count, incidents::category_id))
        .get_result::<(i32, i64)>(conn)
        .await?;
    if new_report {
        diesel::update(incidents::table.find(incident))
            .set(incidents::last_reported_at.eq(now))
            .execute(conn)
            .await?;
    }
    let default_priority = categories::table
        .find(category_id)
        .select(categories::default_priority)
        .first::<i16>(conn)
        .await?;
    Ok((supporters, default_priority))
}

async fn set_priority(
    conn: &mut AsyncPgConnection,
    incident: i64,
    priority: i16,
) -> QueryResult<()> {
    diesel::update(incidents::table.find(incident))
        .filter(incidents::priority.ne(priority))
        .set(incidents::priority.eq(priority))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Stores `report` as another report of the open `incident`: it takes the incident's status,
/// counts as a supporter, and the incident's priority follows its support (`priority_for`).
/// Returns the report's id.
pub async fn insert_linked_report(
    conn: &mut AsyncPgConnection,
    incident: i64,
    report: NewReport<'_>,
    note: &str,
    priority_for: fn(i16, i32) -> i16,
) -> QueryResult<i64> {
    conn.transaction(async |conn| {
        let status = incidents::table
            .find(incident)
            .select(incidents::status)
            .for_update()
            .first::<String>(conn)
            .await?;
        let (supporters, default_priority) =
            count_supporter(conn, incident, true, report.created_at).await?;
        let priority = priority_for(default_priority, supporters);
        set_priority(conn, incident, priority).await?;
        let report_id = diesel::insert_into(reports::table)
            .values(NewReport {
                incident_id: incident,
                status: &status,
                priority,
                ..report
            })
            .returning(reports::id)
            .get_result::<i64>(conn)
            .await?;
        crate::jobs::announce_incident(conn, incident, "reported_again").await?;
        crate::outbox::enqueue_report_created(conn, report_id).await?;
        record_event(
            conn,
            NewReportEvent {
                report_id,
                kind: "created",
                status_from: None,
                status_to: Some(&status),
                body: note,
                is_internal: false,
                created_at: report.created_at,
            },
        )
        .await?;
        Ok(report_id)
    })
    .await
}

/// What a "me too" did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupportOutcome {
    /// False when this supporter had already supported the incident.
    pub created: bool,
    pub supporters_count: i32,
}

/// Records one support of `incident` by `supporter_hash` (once per supporter).
pub async fn add_support(
    conn: &mut AsyncPgConnection,
    incident: i64,
    supporter_hash: &[u8],
    notify_email: Option<&str>,
    now: DateTime<Utc>,
    priority_for: fn(i16, i32) -> i16,
) -> QueryResult<SupportOutcome> {
    conn.transaction(async |conn| {
        let inserted = diesel::insert_into(incident_supports::table)
            .values((
                incident_supports::incident_id.eq(incident),
                incident_supports::supporter_hash.eq(supporter_hash),
                incident_supports::notify_email.eq(notify_email),
                incident_supports::created_at.eq(now),
            ))
            .on_conflict((
                incident_supports::incident_id,
                incident_supports::supporter_hash,
            ))
            .do_nothing()
            .execute(conn)
            .await?;
        if inserted == 0 {
            let supporters_count = incidents::table
                .find(incident)
                .select(incidents::supporters_count)
                .first(conn)
                .await?;
            return Ok(SupportOutcome {
                created: false,
                supporters_count,
            });
        }
        let (supporters, default_priority) = count_supporter(conn, incident, false, now).await?;
        set_priority(conn, incident, priority_for(default_priority, supporters)).await?;
        Ok(SupportOutcome {
            created: true,
            supporters_count: supporters,
        })
    })
    .await
}

/// Whether `incident` exists and is open.
pub async fn is_open(conn: &mut AsyncPgConnection, incident: i64) -> QueryResult<Option<bool>> {
    incidents::table
        .find(incident)
        .select(incidents::closed_at.is_null())
        .first(conn)
        .await
        .optional()
}

/// Closes `report` with `status` at `at`, with a public `explanation`; its incident closes too
/// when no report of it remains open. (Replays of history close reports this way.)
pub async fn close_report(
    conn: &mut AsyncPgConnection,
    report: i64,
    status: &str,
    explanation: &str,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    conn.transaction(async |conn| {
        let (incident, previous) = reports::table
            .find(report)
            .filter(reports::closed_at.is_null())
            .select((reports::incident_id, reports::status))
            .for_update()
            .first::<(i64, String)>(conn)
            .await?;
        diesel::update(reports::table.find(report))
            .set((
                reports::status.eq(status),
                reports::closed_at.eq(at),
                reports::updated_at.eq(at),
            ))
            .execute(conn)
            .await?;
        record_event(
            conn,
            NewReportEvent {
                report_id: report,
                kind: "status_changed",
                status_from: Some(&previous),
                status_to: Some(status),
                body: explanation,
                is_internal: false,
                created_at: at,
            },
        )
        .await?;
        let still_open = diesel::select(diesel::dsl::exists(
            reports::table
                .filter(reports::incident_id.eq(incident))
                .filter(reports::closed_at.is_null()),
        ))
        .get_result::<bool>(conn)
        .await?;
        if !still_open {
            diesel::update(incidents::table.find(incident))
                .set((
                    incidents::status.eq(status),
                    incidents::closed_at.eq(at),
                    incidents::updated_at.eq(at),
                ))
                .execute(conn)
                .await?;
        }
        Ok(())
    })
    .await
}

/// A past report as batch clustering sees it.
#[derive(Debug, Clone, Queryable)]
pub struct ClusterableReport {
    pub report_id: i64,
    pub incident_id: i64,
    pub dedup_group: String,
    pub location: Point,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub dedup_radius_m: i32,
    pub dedup_window_days: i32,
}

/// The reports of `source` in a jurisdiction, with their category's dedup settings, by
/// dedup group then time.
pub async fn clusterable_reports(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    source: &str,
) -> QueryResult<Vec<ClusterableReport>> {
    reports::table
        .inner_join(categories::table.on(categories::id.eq(reports::category_id)))
        .filter(reports::jurisdiction_id.eq(jurisdiction))
        .filter(reports::source.eq(source))
        .select((
            reports::id,
            reports::incident_id,
            categories::dedup_group,
            reports::location,
            reports::created_at,
            reports::closed_at,
            categories::dedup_radius_m,
            categories::dedup_window_days,
        ))
        .order((categories::dedup_group, reports::created_at, reports::id))
        .load(conn)
        .await
}

/// Makes `members` reports of the incident `keeper` (each move is a public `merged` event with
/// `explanation`), recomputes the keeper's counts, status and dates from its reports, and
/// deletes incidents left without reports. Returns how many reports moved.
pub async fn merge(
    conn: &mut AsyncPgConnection,
    keeper: i64,
    members: &[i64],
    explanation: &str,
) -> QueryResult<usize> {
    conn.transaction(async |conn| {
        let moving: Vec<(i64, i64, String, DateTime<Utc>)> = reports::table
            .filter(reports::id.eq_any(members))
            .filter(reports::incident_id.ne(keeper))
            .select((reports::id, reports::incident_id, reports::status, reports::created_at))
            .for_update()
            .load(conn)
            .await?;
        if moving.is_empty() {
            return Ok(0);
        }
        let moved_ids: Vec<i64> = moving.iter().map(|m| m.0).collect();
        let emptied: Vec<i64> = moving.iter().map(|m| m.1).collect();
        diesel::update(reports::table.filter(reports::id.eq_any(&moved_ids)))
            .set(reports::incident_id.eq(keeper))
            .execute(conn)
            .await?;
        let events: Vec<NewReportEvent<'_>> = moving
            .iter()
            .map(|(report_id, _, status, created_at)| NewReportEvent {
                report_id: *report_id,
                kind: "merged",
                status_from: Some(status),
                status_to: Some(status),
                body: explanation,
                is_internal: false,
                created_at: *created_at,
            })
            .collect();
        diesel::insert_into(report_events::table).values(&events).execute(conn).await?;
        diesel::sql_query(
            "UPDATE incidents i SET report_count = agg.reports, \
                 supporters_count = agg.reports - 1 + \
                     (SELECT count(*) FROM incident_supports s WHERE s.incident_id = i.id), \
                 last_reported_at = agg.last_reported, \
                 closed_at = agg.closed_at, \
                 status = agg.latest_status, \
                 updated_at = greatest(i.updated_at, agg.last_reported) \
             FROM (SELECT count(*)::int AS reports, max(created_at) AS last_reported, \
                          CASE WHEN bool_or(closed_at IS NULL) THEN NULL ELSE max(closed_at) END AS closed_at, \
                          (array_agg(status ORDER BY created_at DESC, id DESC))[1] AS latest_status \
                   FROM reports WHERE incident_id = $1) AS agg \
             WHERE i.id = $1",
        )
        .bind::<diesel::sql_types::BigInt, _>(keeper)
        .execute(conn)
        .await?;
        diesel::delete(
            incidents::table
                .filter(incidents::id.eq_any(&emptied))
                .filter(diesel::dsl::not(diesel::dsl::exists(
                    reports::table.filter(reports::incident_id.eq(incidents::id)),
                ))),
        )
        .execute(conn)
        .await?;
        Ok(moving.len())
    })
    .await
}
