//! Incidents as crews work them: the queue, taking and assigning with optimistic concurrency,
//! status changes that reach every report, and the notifications that feed live queues.

use chrono::{DateTime, Utc};
use diesel::{
    prelude::*,
    sql_types::{Bool, Double, Nullable},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};

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

/// The open jobs of `filter`, most urgent first: priority, then overdue ones, then (when the
/// crew's position is known) the nearest kilometre band, then the oldest.
pub async fn queue(
    conn: &mut AsyncPgConnection,
    filter: &QueueFilter,
    now: DateTime<Utc>,
) -> QueryResult<Vec<QueueRow>> {
    let mut query = incidents::table
        .inner_join(categories::table.on(categories::id.eq(incidents::category_id)))
        .left_join(departments::table.on(departments::id.nullable().eq(incidents::department_id)))
        .left_join(
            service_areas::table.on(service_areas::id.nullable().eq(incidents::service_area_id)),
        )
        .filter(incidents::jurisdiction_id.eq(filter.jurisdiction_id))
        .filter(incidents::closed_at.is_null())
        .select((
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
            coalesce_bool(incidents::due_at.lt(now), false),
        ))
        .into_boxed();
    if let Some(departments) = &filter.department_ids {
        query = query.filter(incidents::department_id.eq_any(departments.clone()));
    }
    if let Some(code) = &filter.service_area_code {
        query = query.filter(service_areas::code.eq(code.clone()));
    }
    if !filter.category_codes.is_empty() {
        query = query.filter(categories::code.eq_any(filter.category_codes.clone()));
    }
    if !filter.statuses.is_empty() {
        query = query.filter(incidents::status.eq_any(filter.statuses.clone()));
    }
    query = match filter.assignee {
        AssigneeFilter::Anyone => query,
        AssigneeFilter::Unassigned => query.filter(incidents::assignee_id.is_null()),
        AssigneeFilter::User(user) => query.filter(incidents::assignee_id.eq(user)),
    };
    query = query
        .order(incidents::priority.asc())
        .then_order_by(incidents::due_at.lt(now).desc().nulls_last());
    if let Some(point) = filter.near {
        query = query.then_order_by(floor(st_distance(incidents::location, point) / 1000.0));
    }
    query
        .then_order_by((incidents::created_at.asc(), incidents::id.asc()))
        .offset(filter.offset)
        .limit(filter.limit)
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

/// One job as the queue shows it, open or not.
pub async fn find(
    conn: &mut AsyncPgConnection,
    id: i64,
    now: DateTime<Utc>,
) -> QueryResult<Option<QueueRow>> {
    incidents::table
        .find(id)
        .inner_join(categories::table.on(categories::id.eq(incidents::category_id)))
        .left_join(departments::table.on(departments::id.nullable().eq(incidents::department_id)))
        .left_join(
            service_areas::table.on(service_areas::id.nullable().eq(incidents::service_area_id)),
        )
        .select((
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
                    .lt(now)
                    .and(incidents::closed_at.is_null()),
                false,
            ),
        ))
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

/// Moves job `id` (locked by the caller) from `from` to `to` with a public `explanation`:
/// the incident and every one of its reports take the new status, each report gets the
/// explanation in its public history. Returns the new version.
pub async fn change_status(
    conn: &mut AsyncPgConnection,
    id: i64,
    from: &str,
    to: &str,
    closes: bool,
    explanation: &str,
    at: DateTime<Utc>,
) -> QueryResult<i32> {
    let closed_at = closes.then_some(at);
    let version = diesel::update(incidents::table.find(id))
        .set((
            incidents::status.eq(to),
            incidents::closed_at.eq(closed_at),
            incidents::version.eq(incidents::version + 1),
            incidents::updated_at.eq(at),
        ))
        .returning(incidents::version)
        .get_result(conn)
        .await?;
    let moved: Vec<i64> = diesel::update(
        reports::table
            .filter(reports::incident_id.eq(id))
            .filter(reports::status.ne(to)),
    )
    .set((
        reports::status.eq(to),
        reports::closed_at.eq(closed_at),
        reports::updated_at.eq(at),
    ))
    .returning(reports::id)
    .get_results(conn)
    .await?;
    let events: Vec<NewReportEvent<'_>> = moved
        .iter()
        .map(|&report_id| NewReportEvent {
            report_id,
            kind: "status_changed",
            status_from: Some(from),
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
    Ok(version)
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
    /// `created`, `reported_again`, `assigned`, `status_changed`, `merged`, `split`.
    pub change: String,
    pub status: String,
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
    let (jurisdiction_id, department_id, status, version, assignee_id) = incidents::table
        .find(id)
        .select((
            incidents::jurisdiction_id,
            incidents::department_id,
            incidents::status,
            incidents::version,
            incidents::assignee_id,
        ))
        .first::<(i64, Option<i64>, String, i32, Option<i64>)>(conn)
        .await?;
    announce(
        conn,
        &QueueChange {
            incident_id: id,
            jurisdiction_id,
            department_id,
            change: change.to_owned(),
            status,
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

/// Subscribes this connection to [`QUEUE_CHANNEL`]; read the changes from its notifications.
pub async fn listen(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    diesel::sql_query(format!("LISTEN {QUEUE_CHANNEL}"))
        .execute(conn)
        .await
        .map(|_| ())
}
