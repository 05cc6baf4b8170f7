//! Incidents as crews work them: the queue, taking and assigning with optimistic concurrency,
//! status changes that reach every report, and the notifications that feed live queues.

use chrono::{DateTime, Utc};
use diesel::{
    prelude::*,
    sql_types::{Bool, Double, Nullable},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use postgis_diesel::{functions::st_d_within, operators::distance_2d};
use serde::{Deserialize, Serialize};
use signalons_domain::{
    ReportStatus,
    status::{InvalidTransition, Transition},
};

use crate::{
    Point,
    functions::st_distance,
    models::NewReportEvent,
    schema::{categories, departments, incidents, report_events, reports, service_areas},
};

/// The PostgreSQL channel queue changes are announced on, across every server replica.
pub const QUEUE_CHANNEL: &str = "signalons_queue";

/// A job in a crew's queue.
#[derive(Debug, Clone, Queryable)]
pub struct QueueRow {
    pub id: i64,
    pub jurisdiction_id: i64,
    pub category_code: String,
    pub category_name: String,
    pub status: String,
    pub priority: i16,
    pub department_code: Option<String>,
    pub service_area_code: Option<String>,
    pub service_area_name: Option<String>,
    pub location: Point,
    pub address: Option<String>,
    pub summary: String,
    pub report_count: i32,
    pub supporters_count: i32,
    pub assignee_id: Option<i64>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub overdue: bool,
}

/// Whose jobs a queue shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    Anyone,
    Unassigned,
    User(i64),
}

/// What a queue is restricted to.
#[derive(Debug, Clone)]
pub struct QueueFilter {
    pub jurisdiction_id: i64,
    /// `None`: every department of the jurisdiction (admins).
    pub department_ids: Option<Vec<i64>>,
    pub service_area_code: Option<String>,
    pub category_codes: Vec<String>,
    /// Empty: every open status.
    pub statuses: Vec<&'static str>,
    pub assignee: AssigneeFilter,
    /// Where the crew is: nearer jobs come first within a priority.
    pub near: Option<Point>,
    pub offset: i64,
    pub limit: i64,
}

diesel::define_sql_function! {
    /// Rounds down.
    fn floor(value: Double) -> Double;
}

diesel::define_sql_function! {
    /// The first of two booleans that is not null.
    #[sql_name = "coalesce"]
    fn coalesce_bool(value: Nullable<Bool>, fallback: Bool) -> Bool;
}

/// Incidents with the names of their category, department and service area.
macro_rules! jobs_with_names {
    () => {
        incidents::table
            .inner_join(categories::table.on(categories::id.eq(incidents::category_id)))
            .left_join(
                departments::table.on(departments::id.nullable().eq(incidents::department_id)),
            )
            .left_join(
                service_areas::table
                    .on(service_areas::id.nullable().eq(incidents::service_area_id)),
            )
    };
}

/// The columns of a [`QueueRow`], overdue as of `$now`.
macro_rules! job_columns {
    ($now:expr) => {
        (
            incidents::id,
            incidents::jurisdiction_id,
            categories::code,
            categories::name,
            incidents::status,
            incidents::priority,
            departments::code.nullable(),
            service_areas::code.nullable(),
            service_areas::name.nullable(),
            incidents::location,
            incidents::address,
            incidents::summary,
            incidents::report_count,
            incidents::supporters_count,
            incidents::assignee_id,
            incidents::version,
            incidents::created_at,
            incidents::updated_at,
            incidents::due_at,
            incidents::closed_at,
            coalesce_bool(
                incidents::due_at
                    .lt($now)
                    .and(incidents::closed_at.is_null()),
                false,
            ),
        )
    };
}

/// Where a job stands against its due date, in queue order: overdue first, then not yet due,
/// then without a due date (`(due_at < now) DESC NULLS LAST`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DueTier {
    Overdue,
    NotYetDue,
    NoDueDate,
}

/// Priorities as stored (`CHECK (priority BETWEEN 1 AND 5)`), most urgent first.
const PRIORITIES: std::ops::RangeInclusive<i16> = 1..=5;

/// The jobs of `filter` in one priority and due tier, as a boxed query over
/// [`jobs_with_names`]; the caller adds what it selects and its order.
macro_rules! tier_jobs {
    ($filter:expr, $priority:expr, $due:expr, $now:expr) => {{
        let filter: &QueueFilter = $filter;
        let mut query = jobs_with_names!()
            .filter(incidents::jurisdiction_id.eq(filter.jurisdiction_id))
            .filter(incidents::closed_at.is_null())
            .filter(incidents::priority.eq($priority))
            .into_boxed();
        query = match $due {
            DueTier::Overdue => query.filter(incidents::due_at.lt($now)),
            DueTier::NotYetDue => query.filter(incidents::due_at.ge($now)),
            DueTier::NoDueDate => query.filter(incidents::due_at.is_null()),
        };
        // One department (most crews) as an equality, which the GiST index can test itself.
        query = match filter.department_ids.as_deref() {
            None => query,
            Some([department]) => query.filter(incidents::department_id.eq(*department)),
            Some(departments) => {
                query.filter(incidents::department_id.eq_any(departments.to_vec()))
            }
        };
        if let Some(code) = &filter.service_area_code {
            query = query.filter(service_areas::code.eq(code.clone()));
        }
        if !filter.category_codes.is_empty() {
            query = query.filter(categories::code.eq_any(filter.category_codes.clone()));
        }
        if !filter.statuses.is_empty() {
            query = query.filter(incidents::status.eq_any(filter.statuses.clone()));
        }
        match filter.assignee {
            AssigneeFilter::Anyone => query,
            AssigneeFilter::Unassigned => query.filter(incidents::assignee_id.is_null()),
            AssigneeFilter::User(user) => query.filter(incidents::assignee_id.eq(user)),
        }
    }};
}

/// The open jobs of `filter`, most urgent first: priority, then overdue ones, then (when the
/// crew's position is known) the nearest kilometre band, then the oldest.
///
/// The order is computed tier by tier (priority, then due tier), each tier only as far as the
/// page reaches, so the first page costs what it shows rather than a sort of every open job:
/// with a position, the `n` nearest jobs of the tier (KNN on `incidents_open_queue_gist`) give
/// the kilometre band the page ends in, and only the jobs of the tier up to the end of that
/// band are read and ordered exactly (band, then oldest); they hold the first `n` jobs of the
/// tier in queue order, since every job beyond is in a later band than all of those `n`.
pub async fn queue(
    conn: &mut AsyncPgConnection,
    filter: &QueueFilter,
    now: DateTime<Utc>,
) -> QueryResult<Vec<QueueRow>> {
    let mut skip = filter.offset.max(0);
    let mut page = Vec::new();
    for priority in PRIORITIES {
        for due in [DueTier::Overdue, DueTier::NotYetDue, DueTier::NoDueDate] {
            let wanted = filter.limit - page.len() as i64;
            if wanted <= 0 {
                return Ok(page);
            }
            // The first `skip + wanted` jobs of this tier in queue order (all of them if it
            // has fewer), then what of them is left after the jobs to skip.
            let reach = skip + wanted;
            let rows = tier_page(conn, filter, priority, due, now, reach).await?;
            let in_tier = rows.len() as i64;
            page.extend(rows.into_iter().skip(skip as usize));
            skip = (skip - in_tier).max(0);
        }
    }
    Ok(page)
}

/// Up to the first `reach` jobs of one tier, in queue order.
async fn tier_page(
    conn: &mut AsyncPgConnection,
    filter: &QueueFilter,
    priority: i16,
    due: DueTier,
    now: DateTime<Utc>,
    reach: i64,
) -> QueryResult<Vec<QueueRow>> {
    let Some(point) = filter.near else {
        return tier_jobs!(filter, priority, due, now)
            .select(job_columns!(now))
            .order((incidents::created_at.asc(), incidents::id.asc()))
            .limit(reach)
            .load(conn)
            .await;
    };
    // The `reach` nearest, with their distance (KNN order is on the sphere; bands are on the
    // spheroid, like ST_Distance: the farthest of them on the spheroid ends the last band).
    let mut nearest: Vec<(QueueRow, f64)> = tier_jobs!(filter, priority, due, now)
        .select((job_columns!(now), st_distance(incidents::location, point)))
        .order(distance_2d(incidents::location, point))
        .limit(reach)
        .load(conn)
        .await?;
    if (nearest.len() as i64) < reach {
        // The whole tier: put it in queue order here.
        nearest.sort_by(|(a, a_metres), (b, b_metres)| {
            (a_metres / 1000.0)
                .floor()
                .total_cmp(&(b_metres / 1000.0).floor())
                .then(a.created_at.cmp(&b.created_at))
                .then(a.id.cmp(&b.id))
        });
        return Ok(nearest.into_iter().map(|(row, _)| row).collect());
    }
    let farthest = nearest
        .iter()
        .map(|(_, metres)| *metres)
        .fold(0.0, f64::max);
    let end_of_band = ((farthest / 1000.0).floor() + 1.0) * 1000.0;
    tier_jobs!(filter, priority, due, now)
        .select(job_columns!(now))
        .filter(st_d_within(incidents::location, point, end_of_band))
        .order(floor(st_distance(incidents::location, point) / 1000.0))
        .then_order_by((incidents::created_at.asc(), incidents::id.asc()))
        .limit(reach)
        .load(conn)
        .await
}

/// What access rules and concurrency checks need of a job, read under a row lock.
#[derive(Debug, Clone, Queryable)]
pub struct JobState {
    pub id: i64,
    pub jurisdiction_id: i64,
    pub department_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub status: String,
    pub version: i32,
    pub closed_at: Option<DateTime<Utc>>,
}

/// Job `id`, locked until the transaction ends.
pub async fn lock(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<JobState>> {
    incidents::table
        .find(id)
        .select((
            incidents::id,
            incidents::jurisdiction_id,
            incidents::department_id,
            incidents::assignee_id,
            incidents::status,
            incidents::version,
            incidents::closed_at,
        ))
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Job `id` without locking it.
pub async fn state(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<JobState>> {
    incidents::table
        .find(id)
        .select((
            incidents::id,
            incidents::jurisdiction_id,
            incidents::department_id,
            incidents::assignee_id,
            incidents::status,
            incidents::version,
            incidents::closed_at,
        ))
        .first(conn)
        .await
        .optional()
}

/// The first report of job `id`: where the crew's photos of the work are kept.
pub async fn first_report(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<i64>> {
    crate::schema::reports::table
        .filter(crate::schema::reports::incident_id.eq(id))
        .select(diesel::dsl::min(crate::schema::reports::id))
        .first::<Option<i64>>(conn)
        .await
}

/// One job as the queue shows it, open or not.
pub async fn find(
    conn: &mut AsyncPgConnection,
    id: i64,
    now: DateTime<Utc>,
) -> QueryResult<Option<QueueRow>> {
    jobs_with_names!()
        .filter(incidents::id.eq(id))
        .select(job_columns!(now))
        .first(conn)
        .await
        .optional()
}

/// Sets the assignee of job `id` (locked by the caller) and bumps its version.
pub async fn set_assignee(
    conn: &mut AsyncPgConnection,
    id: i64,
    assignee: Option<i64>,
    at: DateTime<Utc>,
) -> QueryResult<i32> {
    diesel::update(incidents::table.find(id))
        .set((
            incidents::assignee_id.eq(assignee),
            incidents::version.eq(incidents::version + 1),
            incidents::updated_at.eq(at),
        ))
        .returning(incidents::version)
        .get_result(conn)
        .await
}

/// Makes `transition` on job `id` (locked by the caller, and in `transition.from()`, or
/// nothing is written and the answer is `NotFound`) with a public `explanation`: the incident
/// and every one of its reports take the new status, each report that moves gets the
/// explanation in its public history. A report that cannot make that move (one closed on its
/// own, as replays of history do) keeps its status. Returns the new version.
pub async fn change_status(
    conn: &mut AsyncPgConnection,
    id: i64,
    transition: Transition,
    explanation: &str,
    at: DateTime<Utc>,
) -> QueryResult<i32> {
    let closed_at = transition.closes().then_some(at);
    let (from, to) = (transition.from().as_str(), transition.to().as_str());
    let version = diesel::update(incidents::table.find(id))
        .filter(incidents::status.eq(from))
        .set((
            incidents::status.eq(to),
            incidents::closed_at.eq(closed_at),
            incidents::version.eq(incidents::version + 1),
            incidents::updated_at.eq(at),
        ))
        .returning(incidents::version)
        .get_result(conn)
        .await?;
    let reports_now: Vec<(i64, String)> = reports::table
        .filter(reports::incident_id.eq(id))
        .select((reports::id, reports::status))
        .order(reports::id)
        .for_update()
        .load(conn)
        .await?;
    let mut moves = Vec::with_capacity(reports_now.len());
    for (report_id, status) in reports_now {
        if let Some(step) = Transition::joining(parse_status(&status)?, transition.to())
            .ok()
            .flatten()
        {
            moves.push((report_id, step));
        }
    }
    let moved: Vec<i64> = moves.iter().map(|(report_id, _)| *report_id).collect();
    diesel::update(reports::table.filter(reports::id.eq_any(&moved)))
        .set((
            reports::status.eq(to),
            reports::closed_at.eq(closed_at),
            reports::updated_at.eq(at),
        ))
        .execute(conn)
        .await?;
    let events: Vec<NewReportEvent<'_>> = moves
        .iter()
        .map(|(report_id, step)| NewReportEvent {
            report_id: *report_id,
            kind: "status_changed",
            status_from: Some(step.from().as_str()),
            status_to: Some(to),
            body: explanation,
            is_internal: false,
            created_at: at,
        })
        .collect();
    diesel::insert_into(report_events::table)
        .values(&events)
        .execute(conn)
        .await?;
    let news = serde_json::json!({ "from": from, "status": to, "explanation": explanation });
    crate::outbox::enqueue_status_changed(conn, id, version, &moved, &news).await?;
    Ok(version)
}

/// A status as stored (the database's CHECK admits only the machine's statuses).
pub(crate) fn parse_status(text: &str) -> QueryResult<ReportStatus> {
    text.parse().map_err(|error: signalons_domain::Violation| {
        diesel::result::Error::DeserializationError(error.message.into())
    })
}

/// A staff note on every report of job `id`, never shown publicly.
pub async fn add_internal_note(
    conn: &mut AsyncPgConnection,
    id: i64,
    note: &str,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    let report_ids: Vec<i64> = reports::table
        .filter(reports::incident_id.eq(id))
        .select(reports::id)
        .load(conn)
        .await?;
    let events: Vec<NewReportEvent<'_>> = report_ids
        .into_iter()
        .map(|report_id| NewReportEvent {
            report_id,
            kind: "internal_note",
            status_from: None,
            status_to: None,
            body: note,
            is_internal: true,
            created_at: at,
        })
        .collect();
    diesel::insert_into(report_events::table)
        .values(&events)
        .execute(conn)
        .await
        .map(|_| ())
}

/// A change of a queue, as announced to every replica's live streams.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueChange {
    pub incident_id: i64,
    pub jurisdiction_id: i64,
    pub department_id: Option<i64>,
    /// `created`, `reported_again`, `supported`, `assigned`, `status_changed`, `merged`,
    /// `split`.
    pub change: String,
    pub status: String,
    /// 1 (urgent) to 5: where the job now stands in queue order.
    pub priority: i16,
    pub version: i32,
    pub assignee_id: Option<i64>,
}

/// Announces `change` on [`QUEUE_CHANNEL`]; PostgreSQL delivers it when (and only if) the
/// caller's transaction commits.
pub async fn announce(conn: &mut AsyncPgConnection, change: &QueueChange) -> QueryResult<()> {
    let payload = serde_json::to_string(change)
        .map_err(|error| diesel::result::Error::SerializationError(Box::new(error)))?;
    diesel::select(pg_notify(QUEUE_CHANNEL, payload))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Announces what happened to incident `id` as its row now stands.
pub async fn announce_incident(
    conn: &mut AsyncPgConnection,
    id: i64,
    change: &'static str,
) -> QueryResult<()> {
    let (jurisdiction_id, department_id, status, priority, version, assignee_id) = incidents::table
        .find(id)
        .select((
            incidents::jurisdiction_id,
            incidents::department_id,
            incidents::status,
            incidents::priority,
            incidents::version,
            incidents::assignee_id,
        ))
        .first::<(i64, Option<i64>, String, i16, i32, Option<i64>)>(conn)
        .await?;
    announce(
        conn,
        &QueueChange {
            incident_id: id,
            jurisdiction_id,
            department_id,
            change: change.to_owned(),
            status,
            priority,
            version,
            assignee_id,
        },
    )
    .await
}

diesel::define_sql_function! {
    /// Sends a notification on a channel at commit.
    fn pg_notify(channel: diesel::sql_types::Text, payload: diesel::sql_types::Text) -> diesel::sql_types::Nullable<Bool>;
}

/// Subscribes this connection to [`QUEUE_CHANNEL`] and to
/// [`crate::accounts::ACCOUNTS_CHANNEL`]; read the changes from its notifications.
pub async fn listen(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    for channel in [QUEUE_CHANNEL, crate::accounts::ACCOUNTS_CHANNEL] {
        diesel::sql_query(format!("LISTEN {channel}"))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Recounts an incident's reports and supporters (every report after the first counts as a
/// supporter, like a "me too") and when it was last reported; its priority follows.
async fn recount(conn: &mut AsyncPgConnection, incident: i64) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE incidents i SET report_count = agg.reports, \
             supporters_count = greatest(agg.reports - 1, 0) + \
                 (SELECT count(*) FROM incident_supports s WHERE s.incident_id = i.id), \
             last_reported_at = coalesce(agg.last_reported, i.last_reported_at) \
         FROM (SELECT count(*)::int AS reports, max(created_at) AS last_reported \
               FROM reports WHERE incident_id = $1) AS agg \
         WHERE i.id = $1",
    )
    .bind::<diesel::sql_types::BigInt, _>(incident)
    .execute(conn)
    .await?;
    crate::incidents::follow_support(conn, incident)
        .await
        .map(|_| ())
}

/// Why a merge was refused; nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeRefusal {
    /// The incident that would stay is closed: its reports would close without anyone deciding.
    KeeperClosed,
    /// A report would move through the status machine the wrong way (back to an earlier
    /// status): merge into the incident that is further along instead.
    Report {
        report_id: i64,
        refused: InvalidTransition,
    },
    /// An incident to absorb cannot close as a duplicate.
    Absorbed {
        incident_id: i64,
        refused: InvalidTransition,
    },
}

/// Queues the status news of a merge: the reports of `absorbed` whose status becomes the
/// keeper's are announced like any status change (to their reporters, the apps and the
/// absorbed incidents' supporters), with the merge's explanation. Called before the reports
/// move, while they still name their incident.
async fn notify_merged(
    conn: &mut AsyncPgConnection,
    keeper: &JobState,
    absorbed: &[i64],
    explanation: &str,
) -> QueryResult<()> {
    let before: Vec<(i64, i64, String, i32)> = reports::table
        .inner_join(incidents::table)
        .filter(reports::incident_id.eq_any(absorbed))
        .filter(reports::status.ne(&keeper.status))
        .order((reports::incident_id, reports::id))
        .select((
            reports::id,
            reports::incident_id,
            reports::status,
            incidents::version,
        ))
        .load(conn)
        .await?;
    let mut groups: std::collections::BTreeMap<(i64, i32, &str), Vec<i64>> =
        std::collections::BTreeMap::new();
    for (report, incident, status, version) in &before {
        groups
            .entry((*incident, *version, status.as_str()))
            .or_default()
            .push(*report);
    }
    for ((incident, version, from), reports) in groups {
        let news = serde_json::json!({ "from": from, "status": keeper.status, "explanation": explanation });
        // The absorbed incident's version once the merge closes it.
        crate::outbox::enqueue_status_changed(conn, incident, version + 1, &reports, &news).await?;
    }
    Ok(())
}

/// Makes every report of `absorbed` (locked by the caller) a report of `keeper`, with its
/// status; the absorbed incidents close as duplicates that point to the keeper, and their
/// supporters follow. Every status that changes goes through the status machine: a merge into
/// a closed incident, or one that would move a report back, is refused before anything is
/// written. Returns how many reports moved.
pub async fn merge_incidents(
    conn: &mut AsyncPgConnection,
    keeper: &JobState,
    absorbed: &[i64],
    explanation: &str,
    at: DateTime<Utc>,
) -> QueryResult<Result<usize, MergeRefusal>> {
    let keeper_status = parse_status(&keeper.status)?;
    if keeper.closed_at.is_some() || keeper_status.is_closed() {
        return Ok(Err(MergeRefusal::KeeperClosed));
    }
    let absorbed_now: Vec<(i64, String)> = incidents::table
        .filter(incidents::id.eq_any(absorbed))
        .select((incidents::id, incidents::status))
        .for_update()
        .load(conn)
        .await?;
    for (incident_id, status) in &absorbed_now {
        if let Err(refused) = Transition::new(parse_status(status)?, ReportStatus::Duplicate) {
            return Ok(Err(MergeRefusal::Absorbed {
                incident_id: *incident_id,
                refused,
            }));
        }
    }
    let joining: Vec<(i64, String)> = reports::table
        .filter(reports::incident_id.eq_any(absorbed))
        .select((reports::id, reports::status))
        .order(reports::id)
        .for_update()
        .load(conn)
        .await?;
    for (report_id, status) in &joining {
        if let Err(refused) = Transition::joining(parse_status(status)?, keeper_status) {
            return Ok(Err(MergeRefusal::Report {
                report_id: *report_id,
                refused,
            }));
        }
    }
    notify_merged(conn, keeper, absorbed, explanation).await?;
    let moved: Vec<(i64, String)> = joining;
    let moved_ids: Vec<i64> = moved.iter().map(|(id, _)| *id).collect();
    diesel::update(reports::table.filter(reports::id.eq_any(&moved_ids)))
        .set((
            reports::incident_id.eq(keeper.id),
            reports::status.eq(keeper_status.as_str()),
            reports::closed_at.eq(None::<DateTime<Utc>>),
            reports::updated_at.eq(at),
        ))
        .execute(conn)
        .await?;
    diesel::sql_query(
        "INSERT INTO incident_supports (incident_id, supporter_hash, notify_email, created_at) \
         SELECT $1, supporter_hash, notify_email, created_at FROM incident_supports \
         WHERE incident_id = ANY($2) ON CONFLICT DO NOTHING",
    )
    .bind::<diesel::sql_types::BigInt, _>(keeper.id)
    .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(absorbed)
    .execute(conn)
    .await?;
    diesel::update(incidents::table.filter(incidents::id.eq_any(absorbed)))
        .set((
            incidents::status.eq(ReportStatus::Duplicate.as_str()),
            incidents::closed_at.eq(Some(at)),
            incidents::merged_into_id.eq(Some(keeper.id)),
            incidents::report_count.eq(0),
            incidents::supporters_count.eq(0),
            incidents::version.eq(incidents::version + 1),
            incidents::updated_at.eq(at),
        ))
        .execute(conn)
        .await?;
    recount(conn, keeper.id).await?;
    diesel::update(incidents::table.find(keeper.id))
        .set((
            incidents::version.eq(incidents::version + 1),
            incidents::updated_at.eq(at),
        ))
        .execute(conn)
        .await?;
    let events: Vec<NewReportEvent<'_>> = moved
        .iter()
        .map(|(report_id, status_from)| NewReportEvent {
            report_id: *report_id,
            kind: "merged",
            status_from: Some(status_from),
            status_to: Some(keeper_status.as_str()),
            body: explanation,
            is_internal: false,
            created_at: at,
        })
        .collect();
    diesel::insert_into(report_events::table)
        .values(&events)
        .execute(conn)
        .await?;
    Ok(Ok(moved.len()))
}

/// What a split reads of each report it moves; the first one places the new incident.
#[derive(Debug, Queryable)]
struct SplitReport {
    category_id: i64,
    location: Point,
    address: Option<String>,
    description: String,
    department_id: Option<i64>,
    service_area_id: Option<i64>,
    created_at: DateTime<Utc>,
}

/// Moves `report_ids` of `source` (locked by the caller) into a new incident with the
/// source's status, placed at the first of them. Returns the new incident's id, or `None` when
/// the reports are not all of `source` or would leave it empty.
pub async fn split_incident(
    conn: &mut AsyncPgConnection,
    source: &JobState,
    report_ids: &[i64],
    explanation: &str,
    at: DateTime<Utc>,
) -> QueryResult<Option<i64>> {
    let total: i64 = reports::table
        .filter(reports::incident_id.eq(source.id))
        .count()
        .get_result(conn)
        .await?;
    let mut moving: Vec<SplitReport> = reports::table
        .filter(reports::incident_id.eq(source.id))
        .filter(reports::id.eq_any(report_ids))
        .order(reports::created_at.asc())
        .select((
            reports::category_id,
            reports::location,
            reports::address,
            reports::description,
            reports::department_id,
            reports::service_area_id,
            reports::created_at,
        ))
        .for_update()
        .load(conn)
        .await?;
    if moving.len() != report_ids.len() || moving.len() as i64 >= total || moving.is_empty() {
        return Ok(None);
    }
    let first = moving.remove(0);
    let (dedup_group, priority): (String, i16) = crate::schema::categories::table
        .find(first.category_id)
        .select((
            crate::schema::categories::dedup_group,
            crate::schema::categories::default_priority,
        ))
        .first(conn)
        .await?;
    let incident: i64 = diesel::insert_into(incidents::table)
        .values((
            incidents::jurisdiction_id.eq(source.jurisdiction_id),
            incidents::category_id.eq(first.category_id),
            incidents::dedup_group.eq(dedup_group),
            incidents::location.eq(first.location),
            incidents::status.eq(&source.status),
            incidents::priority.eq(priority),
            incidents::department_id.eq(first.department_id),
            incidents::service_area_id.eq(first.service_area_id),
            incidents::address.eq(first.address),
            incidents::summary.eq(first.description),
            incidents::created_at.eq(first.created_at),
            incidents::updated_at.eq(at),
            incidents::last_reported_at.eq(first.created_at),
            incidents::closed_at.eq(source.closed_at),
        ))
        .returning(incidents::id)
        .get_result(conn)
        .await?;
    let moved: Vec<(i64, String)> =
        diesel::update(reports::table.filter(reports::id.eq_any(report_ids)))
            .set((
                reports::incident_id.eq(incident),
                reports::updated_at.eq(at),
            ))
            .returning((reports::id, reports::status))
            .get_results(conn)
            .await?;
    recount(conn, incident).await?;
    recount(conn, source.id).await?;
    diesel::update(incidents::table.find(source.id))
        .set((
            incidents::version.eq(incidents::version + 1),
            incidents::updated_at.eq(at),
        ))
        .execute(conn)
        .await?;
    // The reports keep their status: the new incident starts where the source stood.
    let events: Vec<NewReportEvent<'_>> = moved
        .iter()
        .map(|(report_id, status)| NewReportEvent {
            report_id: *report_id,
            kind: "split",
            status_from: Some(status),
            status_to: Some(status),
            body: explanation,
            is_internal: false,
            created_at: at,
        })
        .collect();
    diesel::insert_into(report_events::table)
        .values(&events)
        .execute(conn)
        .await?;
    Ok(Some(incident))
}

/// Whether two incidents describe the same kind of problem in the same city.
pub async fn same_problem_kind(conn: &mut AsyncPgConnection, a: i64, b: i64) -> QueryResult<bool> {
    let kinds: Vec<(i64, String)> = incidents::table
        .filter(incidents::id.eq_any([a, b]))
        .select((incidents::jurisdiction_id, incidents::dedup_group))
        .load(conn)
        .await?;
    Ok(kinds.len() == 2 && kinds[0] == kinds[1])
}

/// Resolves the incident of forwarded `report` because the department's own Open311 server
/// closed it, with that server's note as the public explanation; audited without a staff actor.
/// Whether anything changed (an incident already closed here stays as it is).
pub async fn resolve_from_remote(
    conn: &mut AsyncPgConnection,
    report: i64,
    explanation: &str,
    at: DateTime<Utc>,
) -> QueryResult<bool> {
    use diesel_async::AsyncConnection;
    conn.transaction(async |conn| {
        let incident: i64 = reports::table
            .find(report)
            .select(reports::incident_id)
            .first(conn)
            .await?;
        let Some(job) = lock(conn, incident).await? else {
            return Ok(false);
        };
        if job.closed_at.is_some() {
            return Ok(false);
        }
        let Ok(transition) = Transition::new(parse_status(&job.status)?, ReportStatus::Resolved)
        else {
            return Ok(false);
        };
        let (from, resolved) = (transition.from(), transition.to().as_str());
        change_status(conn, incident, transition, explanation, at).await?;
        crate::accounts::audit(
            conn,
            crate::accounts::NewAuditEntry {
                jurisdiction_id: Some(job.jurisdiction_id),
                actor_id: None,
                action: "job.status",
                target_id: Some(incident),
                detail: serde_json::json!({
                    "source": "open311",
                    "report_id": report,
                    "from": from,
                    "to": resolved,
                    "explanation": explanation,
                }),
                created_at: at,
            },
        )
        .await?;
        announce_incident(conn, incident, "status_changed").await?;
        Ok(true)
    })
    .await
}
