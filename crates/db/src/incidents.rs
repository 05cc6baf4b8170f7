//! Incidents: the physical problems behind reports, their candidates and their supporters.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use postgis_diesel::functions::st_d_within;
use signalons_domain::{
    ReportStatus,
    dedup::priority_with_support,
    status::{InvalidTransition, Transition, status_of_reports},
};

use crate::{
    Point,
    jobs::parse_status,
    models::{CandidateIncident, NewReport, NewReportEvent, PublicIncident, ReportEvent},
    reports::record_event,
    schema::{
        categories, incident_follows, incident_supports, incidents, jurisdictions, report_events,
        reports,
    },
};

/// The most candidates one search returns before scoring.
const MAX_CANDIDATES: i64 = 50;

/// Open incidents of `dedup_group` within `radius_m` of `point`, last reported in
/// `since..=now`, the most recently reported first.
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
        .filter(incidents::last_reported_at.between(since, now))
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
            incidents::last_reported_at,
        ))
        .order(incidents::last_reported_at.desc())
        .limit(MAX_CANDIDATES)
        .load(conn)
        .await
}

/// What the open incidents of `dedup_group` say (their summaries), the most recently reported
/// first, at most `limit`: the vocabulary duplicate scoring weighs words by.
pub async fn open_summaries(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    dedup_group: &str,
    limit: i64,
) -> QueryResult<Vec<String>> {
    incidents::table
        .filter(incidents::jurisdiction_id.eq(jurisdiction))
        .filter(incidents::dedup_group.eq(dedup_group))
        .filter(incidents::closed_at.is_null())
        .select(incidents::summary)
        .order(incidents::last_reported_at.desc())
        .limit(limit)
        .load(conn)
        .await
}

/// Incidents with their category and jurisdiction, as the public sees them.
macro_rules! public_incidents {
    () => {
        incidents::table
            .inner_join(categories::table.on(categories::id.eq(incidents::category_id)))
            .inner_join(jurisdictions::table.on(jurisdictions::id.eq(incidents::jurisdiction_id)))
            .select(public_incident_columns!())
    };
}

macro_rules! public_incident_columns {
    () => {
        (
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
            incidents::due_at,
        )
    };
}

/// One incident as the public sees it.
pub async fn find_public(
    conn: &mut AsyncPgConnection,
    incident: i64,
) -> QueryResult<Option<PublicIncident>> {
    public_incidents!()
        .filter(incidents::id.eq(incident))
        .first(conn)
        .await
        .optional()
}

/// Counts one more supporter of `incident` (in the caller's transaction); returns the new
/// count.
async fn count_supporter(
    conn: &mut AsyncPgConnection,
    incident: i64,
    new_report: bool,
    now: DateTime<Utc>,
) -> QueryResult<i32> {
    let reports_added = i32::from(new_report);
    let supporters = diesel::update(incidents::table.find(incident))
        .set((
            incidents::supporters_count.eq(incidents::supporters_count + 1),
            incidents::report_count.eq(incidents::report_count + reports_added),
            incidents::updated_at.eq(now),
        ))
        .returning(incidents::supporters_count)
        .get_result::<i32>(conn)
        .await?;
    if new_report {
        diesel::update(incidents::table.find(incident))
            .set(incidents::last_reported_at.eq(now))
            .execute(conn)
            .await?;
    }
    Ok(supporters)
}

/// Sets `incident`'s priority from its category's default and its supporters, by the domain's
/// rule ([`priority_with_support`]); returns it. Every change of the supporters count ends
/// here: a support, a report that joins, a merge or a split.
pub(crate) async fn follow_support(
    conn: &mut AsyncPgConnection,
    incident: i64,
) -> QueryResult<i16> {
    let (default_priority, supporters) = incidents::table
        .find(incident)
        .inner_join(categories::table.on(categories::id.eq(incidents::category_id)))
        .select((categories::default_priority, incidents::supporters_count))
        .first::<(i16, i32)>(conn)
        .await?;
    let priority = priority_with_support(default_priority, supporters);
    diesel::update(incidents::table.find(incident))
        .filter(incidents::priority.ne(priority))
        .set(incidents::priority.eq(priority))
        .execute(conn)
        .await?;
    Ok(priority)
}

/// Stores `report` as another report of the open `incident`: it takes the incident's status,
/// counts as a supporter, and the incident's priority follows its support. Returns the
/// report's id.
pub async fn insert_linked_report(
    conn: &mut AsyncPgConnection,
    incident: i64,
    report: NewReport<'_>,
    note: &str,
) -> QueryResult<i64> {
    conn.transaction(async |conn| {
        let status = incidents::table
            .find(incident)
            .select(incidents::status)
            .for_update()
            .first::<String>(conn)
            .await?;
        count_supporter(conn, incident, true, report.created_at).await?;
        let priority = follow_support(conn, incident).await?;
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

/// Records one support of `incident` by `supporter_hash` (once per supporter); the incident's
/// priority follows its support, and live queues hear of it. A signed-in supporter (`account`)
/// follows the incident too (their news comes through `notify_email`, kept with the support).
pub async fn add_support(
    conn: &mut AsyncPgConnection,
    incident: i64,
    supporter_hash: &[u8],
    account: Option<i64>,
    notify_email: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<SupportOutcome> {
    conn.transaction(async |conn| {
        if let Some(user) = account {
            follow(conn, incident, supporter_hash, Some(user), None, now).await?;
        }
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
        let supporters = count_supporter(conn, incident, false, now).await?;
        follow_support(conn, incident).await?;
        crate::jobs::announce_incident(conn, incident, "supported").await?;
        Ok(SupportOutcome {
            created: true,
            supporters_count: supporters,
        })
    })
    .await
}

/// Makes `follower_hash` (an account's, with its `user`, or a device's) a follower of
/// `incident`; a new `notify_email` replaces the one kept, none keeps it. Whether the follow is
/// new.
pub async fn follow(
    conn: &mut AsyncPgConnection,
    incident: i64,
    follower_hash: &[u8],
    user: Option<i64>,
    notify_email: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Created {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        created: bool,
    }
    diesel::sql_query(
        "INSERT INTO incident_follows (incident_id, follower_hash, user_id, notify_email, created_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (incident_id, follower_hash) DO UPDATE \
             SET notify_email = coalesce(excluded.notify_email, incident_follows.notify_email) \
         RETURNING (xmax = 0) AS created",
    )
    .bind::<diesel::sql_types::BigInt, _>(incident)
    .bind::<diesel::sql_types::Bytea, _>(follower_hash)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>, _>(user)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(notify_email)
    .bind::<diesel::sql_types::Timestamptz, _>(now)
    .get_result::<Created>(conn)
    .await
    .map(|row| row.created)
}

/// Stops `follower_hash` following `incident`; whether it did. The address a support by the
/// same follower left is forgotten too, so nothing more is mailed to them about it; the
/// support itself still counts.
pub async fn unfollow(
    conn: &mut AsyncPgConnection,
    incident: i64,
    follower_hash: &[u8],
) -> QueryResult<bool> {
    conn.transaction(async |conn| {
        diesel::update(
            incident_supports::table
                .filter(incident_supports::incident_id.eq(incident))
                .filter(incident_supports::supporter_hash.eq(follower_hash))
                .filter(incident_supports::notify_email.is_not_null()),
        )
        .set(incident_supports::notify_email.eq(None::<String>))
        .execute(conn)
        .await?;
        diesel::delete(
            incident_follows::table
                .filter(incident_follows::incident_id.eq(incident))
                .filter(incident_follows::follower_hash.eq(follower_hash)),
        )
        .execute(conn)
        .await
        .map(|deleted| deleted > 0)
    })
    .await
}

/// Whether `follower_hash` follows `incident` with an address to mail.
pub async fn follows_with_mail(
    conn: &mut AsyncPgConnection,
    incident: i64,
    follower_hash: &[u8],
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        incident_follows::table
            .filter(incident_follows::incident_id.eq(incident))
            .filter(incident_follows::follower_hash.eq(follower_hash))
            .filter(incident_follows::notify_email.is_not_null()),
    ))
    .get_result(conn)
    .await
}

/// An incident an account or a device follows.
#[derive(Debug, Clone)]
pub struct Followed {
    pub incident: PublicIncident,
    pub followed_at: DateTime<Utc>,
    /// Whether news of it goes to an address.
    pub notified: bool,
}

/// The incidents `follower_hash` (an account's or a device's, as given to [`follow`]) follows,
/// most recently followed first, at most `limit`.
pub async fn followed_by(
    conn: &mut AsyncPgConnection,
    follower_hash: &[u8],
    limit: i64,
) -> QueryResult<Vec<Followed>> {
    let follows: Vec<(i64, DateTime<Utc>, bool)> = incident_follows::table
        .filter(incident_follows::follower_hash.eq(follower_hash))
        .order((
            incident_follows::created_at.desc(),
            incident_follows::id.desc(),
        ))
        .limit(limit)
        .select((
            incident_follows::incident_id,
            incident_follows::created_at,
            incident_follows::notify_email.is_not_null(),
        ))
        .load(conn)
        .await?;
    let ids: Vec<i64> = follows.iter().map(|(id, _, _)| *id).collect();
    let mut incidents: std::collections::HashMap<i64, PublicIncident> = public_incidents!()
        .filter(incidents::id.eq_any(&ids))
        .load::<PublicIncident>(conn)
        .await?
        .into_iter()
        .map(|incident| (incident.id, incident))
        .collect();
    Ok(follows
        .into_iter()
        .filter_map(|(id, followed_at, notified)| {
            incidents.remove(&id).map(|incident| Followed {
                incident,
                followed_at,
                notified,
            })
        })
        .collect())
}

/// A page of `incident`'s public history, newest first: the public events of every report it
/// holds, each change once however many of its reports it moved (a status change, a merge,
/// a split: same kind, status reached, explanation and instant), each report's creation on
/// its own. Internal notes never. `before` continues after an entry's `(created_at, id)`; an
/// entry's id is the smallest of the events it stands for.
pub async fn public_history(
    conn: &mut AsyncPgConnection,
    incident: i64,
    before: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> QueryResult<Vec<ReportEvent>> {
    use diesel::sql_types::{BigInt, Nullable, Timestamptz};
    diesel::sql_query(
        "SELECT min(e.id) AS id, min(e.report_id) AS report_id, e.kind, \
                (array_agg(e.status_from ORDER BY e.id))[1] AS status_from, \
                e.status_to, e.body, e.created_at \
         FROM report_events e JOIN reports r ON r.id = e.report_id \
         WHERE r.incident_id = $1 AND NOT e.is_internal \
         GROUP BY e.kind, e.status_to, e.body, e.created_at, \
                  CASE WHEN e.kind = 'created' THEN e.report_id END \
         HAVING $2::timestamptz IS NULL OR (e.created_at, min(e.id)) < ($2, $3) \
         ORDER BY e.created_at DESC, id DESC \
         LIMIT $4",
    )
    .bind::<BigInt, _>(incident)
    .bind::<Nullable<Timestamptz>, _>(before.map(|(at, _)| at))
    .bind::<BigInt, _>(before.map_or(0, |(_, id)| id))
    .bind::<BigInt, _>(limit)
    .load(conn)
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
/// when no report of it remains open. (Replays of history close reports this way.) Both moves go
/// through the status machine: when either is refused nothing is written. `NotFound` when the
/// report is unknown or already closed.
pub async fn close_report(
    conn: &mut AsyncPgConnection,
    report: i64,
    status: ReportStatus,
    explanation: &str,
    at: DateTime<Utc>,
) -> QueryResult<Result<(), InvalidTransition>> {
    conn.transaction(async |conn| {
        let (incident, previous) = reports::table
            .find(report)
            .filter(reports::closed_at.is_null())
            .select((reports::incident_id, reports::status))
            .for_update()
            .first::<(i64, String)>(conn)
            .await?;
        let closing = match Transition::new(parse_status(&previous)?, status) {
            Ok(closing) => closing,
            Err(refused) => return Ok(Err(refused)),
        };
        let incident_status = incidents::table
            .find(incident)
            .select(incidents::status)
            .for_update()
            .first::<String>(conn)
            .await?;
        let others_open = diesel::select(diesel::dsl::exists(
            reports::table
                .filter(reports::incident_id.eq(incident))
                .filter(reports::id.ne(report))
                .filter(reports::closed_at.is_null()),
        ))
        .get_result::<bool>(conn)
        .await?;
        if !others_open
            && let Err(refused) = Transition::joining(parse_status(&incident_status)?, status)
        {
            return Ok(Err(refused));
        }
        diesel::update(reports::table.find(report))
            .set((
                reports::status.eq(closing.to().as_str()),
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
                status_from: Some(closing.from().as_str()),
                status_to: Some(closing.to().as_str()),
                body: explanation,
                is_internal: false,
                created_at: at,
            },
        )
        .await?;
        if !others_open {
            diesel::update(incidents::table.find(incident))
                .set((
                    incidents::status.eq(status.as_str()),
                    incidents::closed_at.eq(at),
                    incidents::updated_at.eq(at),
                ))
                .execute(conn)
                .await?;
        }
        Ok(Ok(()))
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
    pub address: Option<String>,
    pub description: String,
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
            reports::address,
            reports::description,
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
            .select((
                reports::id,
                reports::incident_id,
                reports::status,
                reports::created_at,
            ))
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
        diesel::insert_into(report_events::table)
            .values(&events)
            .execute(conn)
            .await?;
        diesel::sql_query(
            "UPDATE incidents i SET report_count = agg.reports, \
                 supporters_count = agg.reports - 1 + \
                     (SELECT count(*) FROM incident_supports s WHERE s.incident_id = i.id), \
                 last_reported_at = agg.last_reported, \
                 updated_at = greatest(i.updated_at, agg.last_reported) \
             FROM (SELECT count(*)::int AS reports, max(created_at) AS last_reported \
                   FROM reports WHERE incident_id = $1) AS agg \
             WHERE i.id = $1",
        )
        .bind::<diesel::sql_types::BigInt, _>(keeper)
        .execute(conn)
        .await?;
        // The keeper's status is rebuilt from its reports by the domain's rule, so it is always
        // one of the machine's statuses and agrees with whether the incident is closed.
        let members: Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>)> = reports::table
            .filter(reports::incident_id.eq(keeper))
            .select((reports::status, reports::created_at, reports::closed_at))
            .load(conn)
            .await?;
        let statuses = members
            .iter()
            .map(|(status, created_at, _)| Ok((parse_status(status)?, *created_at)))
            .collect::<QueryResult<Vec<_>>>()?;
        if let Some(status) = status_of_reports(&statuses) {
            let closed_at = if status.is_closed() {
                members
                    .iter()
                    .filter_map(|(_, _, closed_at)| *closed_at)
                    .max()
            } else {
                None
            };
            diesel::update(incidents::table.find(keeper))
                .set((
                    incidents::status.eq(status.as_str()),
                    incidents::closed_at.eq(closed_at),
                ))
                .execute(conn)
                .await?;
        }
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
