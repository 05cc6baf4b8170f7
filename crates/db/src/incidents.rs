//! Incidents: the physical problems behind reports, their candidates and their supporters.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use postgis_diesel::functions::st_d_within;

use crate::{
    Point,
    models::{CandidateIncident, NewReport, NewReportEvent, PublicIncident},
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
        ))
        .first(conn)
        .await
        .optional()
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
        diesel::insert_into(report_events::table)
            .values(NewReportEvent {
                report_id,
                kind: "created",
                status_from: None,
                status_to: Some(&status),
                body: note,
                is_internal: false,
                created_at: report.created_at,
            })
            .execute(conn)
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
        diesel::insert_into(report_events::table)
            .values(NewReportEvent {
                report_id: report,
                kind: "status_changed",
                status_from: Some(&previous),
                status_to: Some(status),
                body: explanation,
                is_internal: false,
                created_at: at,
            })
            .execute(conn)
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
