//! The outbox: messages written with the change that causes them, claimed by delivery workers
//! with `FOR UPDATE SKIP LOCKED`, retried until delivered or dead.

use chrono::{DateTime, Utc};
use diesel::{
    prelude::*,
    sql_types::{Array, BigInt, Int4, Jsonb, Text},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::schema::{email_optouts, outbox, reports};

/// Queues the department's copy of new report `report`, when its department is reached by
/// email or webhook (in the caller's transaction).
pub async fn enqueue_report_created(conn: &mut AsyncPgConnection, report: i64) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO outbox (jurisdiction_id, message, channel, destination, department_id, report_id, delivery_key) \
         SELECT r.jurisdiction_id, 'report_created', d.channel, \
                CASE d.channel WHEN 'email' THEN d.channel_config->>'to' \
                               WHEN 'open311' THEN d.channel_config->>'endpoint' \
                               ELSE d.channel_config->>'url' END, \
                d.id, r.id, 'report:' || r.id || ':department:' || d.id \
         FROM reports r JOIN departments d ON d.id = r.department_id \
         WHERE r.id = $1 AND d.channel IN ('email', 'webhook', 'open311') \
         ON CONFLICT (delivery_key) DO NOTHING",
    )
    .bind::<BigInt, _>(report)
    .execute(conn)
    .await?;
    diesel::sql_query(
        "INSERT INTO outbox (jurisdiction_id, message, channel, destination, subscription_id, report_id, delivery_key) \
         SELECT r.jurisdiction_id, 'report_created', 'webhook', s.url, s.id, r.id, \
                'report:' || r.id || ':subscription:' || s.id \
         FROM reports r JOIN webhook_subscriptions s ON s.jurisdiction_id = r.jurisdiction_id \
         JOIN api_keys k ON k.id = s.api_key_id \
         WHERE r.id = $1 AND s.revoked_at IS NULL AND k.revoked_at IS NULL \
           AND 'report.created' = ANY(s.events) \
         ON CONFLICT (delivery_key) DO NOTHING",
    )
    .bind::<BigInt, _>(report)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Queues the news of a status change for the reporters of `reports` who left an email, the
/// apps subscribed to status changes and the supporters and followers of `incident` who asked
/// to hear, unless they unsubscribed (in the caller's transaction). `reports` belong to
/// `incident`, and `version` is the incident's version after the change: together they name
/// each message (a report that moves to another incident, by a merge or a split, never reuses
/// a key).
pub async fn enqueue_status_changed(
    conn: &mut AsyncPgConnection,
    incident: i64,
    version: i32,
    reports: &[i64],
    payload: &serde_json::Value,
) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO outbox (jurisdiction_id, message, channel, destination, report_id, payload, delivery_key) \
         SELECT r.jurisdiction_id, 'status_changed', 'email', r.contact_email, r.id, $3, \
                'report:' || r.id || ':incident:' || $4 || ':v' || $2 \
         FROM reports r \
         WHERE r.id = ANY($1) AND r.contact_email IS NOT NULL \
           AND NOT EXISTS (SELECT 1 FROM email_optouts o \
                           WHERE o.email_hash = sha256(convert_to(lower(r.contact_email), 'UTF8'))) \
         ON CONFLICT (delivery_key) DO NOTHING",
    )
    .bind::<Array<BigInt>, _>(reports)
    .bind::<Int4, _>(version)
    .bind::<Jsonb, _>(payload)
    .bind::<BigInt, _>(incident)
    .execute(conn)
    .await?;
    diesel::sql_query(
        "INSERT INTO outbox (jurisdiction_id, message, channel, destination, subscription_id, report_id, payload, delivery_key) \
         SELECT r.jurisdiction_id, 'status_changed', 'webhook', s.url, s.id, r.id, $3, \
                'report:' || r.id || ':incident:' || $4 || ':v' || $2 || ':subscription:' || s.id \
         FROM reports r JOIN webhook_subscriptions s ON s.jurisdiction_id = r.jurisdiction_id \
         JOIN api_keys k ON k.id = s.api_key_id \
         WHERE r.id = ANY($1) AND s.revoked_at IS NULL AND k.revoked_at IS NULL \
           AND 'report.status_changed' = ANY(s.events) \
         ON CONFLICT (delivery_key) DO NOTHING",
    )
    .bind::<Array<BigInt>, _>(reports)
    .bind::<Int4, _>(version)
    .bind::<Jsonb, _>(payload)
    .bind::<BigInt, _>(incident)
    .execute(conn)
    .await?;
    diesel::sql_query(
        "INSERT INTO outbox (jurisdiction_id, message, channel, destination, report_id, payload, delivery_key) \
         SELECT i.jurisdiction_id, 'status_changed', 'email', s.notify_email, \
                (SELECT min(id) FROM reports WHERE incident_id = i.id), $3, \
                'incident:' || i.id || ':v' || $2 || ':support:' || s.id \
         FROM incident_supports s JOIN incidents i ON i.id = s.incident_id \
         WHERE i.id = $1 AND s.notify_email IS NOT NULL \
           AND NOT EXISTS (SELECT 1 FROM email_optouts o \
                           WHERE o.email_hash = sha256(convert_to(lower(s.notify_email), 'UTF8'))) \
         ON CONFLICT (delivery_key) DO NOTHING",
    )
    .bind::<BigInt, _>(incident)
    .bind::<Int4, _>(version)
    .bind::<Jsonb, _>(payload)
    .execute(conn)
    .await?;
    // Followers who asked for mail, of this incident or of one merged into it (however many
    // merges ago), once per address, unless a support or a report already tells them.
    diesel::sql_query(
        "WITH RECURSIVE joined (id) AS ( \
             SELECT $1::bigint \
             UNION SELECT m.id FROM incidents m JOIN joined ON m.merged_into_id = joined.id) \
         INSERT INTO outbox (jurisdiction_id, message, channel, destination, report_id, payload, delivery_key) \
         SELECT DISTINCT ON (lower(f.notify_email)) i.jurisdiction_id, 'status_changed', 'email', \
                f.notify_email, (SELECT min(id) FROM reports WHERE incident_id = i.id), $3, \
                'incident:' || i.id || ':v' || $2 || ':follow:' || f.id \
         FROM incidents i JOIN incident_follows f ON f.incident_id IN (SELECT id FROM joined) \
         WHERE i.id = $1 AND f.notify_email IS NOT NULL \
           AND NOT EXISTS (SELECT 1 FROM email_optouts o \
                           WHERE o.email_hash = sha256(convert_to(lower(f.notify_email), 'UTF8'))) \
           AND NOT EXISTS (SELECT 1 FROM incident_supports s \
                           WHERE s.incident_id = i.id AND lower(s.notify_email) = lower(f.notify_email)) \
           AND NOT EXISTS (SELECT 1 FROM reports r \
                           WHERE r.id = ANY($4) AND lower(r.contact_email) = lower(f.notify_email)) \
         ORDER BY lower(f.notify_email), f.id \
         ON CONFLICT (delivery_key) DO NOTHING",
    )
    .bind::<BigInt, _>(incident)
    .bind::<Int4, _>(version)
    .bind::<Jsonb, _>(payload)
    .bind::<Array<BigInt>, _>(reports)
    .execute(conn)
    .await
    .map(|_| ())
}

/// A message being delivered.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = outbox, check_for_backend(diesel::pg::Pg))]
pub struct OutboxMessage {
    pub id: i64,
    pub jurisdiction_id: i64,
    pub message: String,
    pub channel: String,
    pub destination: String,
    pub department_id: Option<i64>,
    pub subscription_id: Option<i64>,
    pub report_id: Option<i64>,
    pub alert_id: Option<i64>,
    pub payload: serde_json::Value,
    pub delivery_key: String,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Claims the most overdue due message whose destination is not among `busy`, for `lease`:
/// it counts one more attempt and is not due again before the lease ends, so a worker that
/// dies mid-delivery leaves it to another. Concurrent workers skip each other's rows. The
/// claimed message's `attempts` identifies this claim to [`finish`].
pub async fn claim(
    conn: &mut AsyncPgConnection,
    lease: chrono::Duration,
    now: DateTime<Utc>,
    busy: &[String],
) -> QueryResult<Option<OutboxMessage>> {
    diesel::sql_query(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $2 \
         WHERE id = (SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= $1 \
                       AND destination <> ALL($3) \
                     ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING *",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(now)
    .bind::<diesel::sql_types::Timestamptz, _>(now + lease)
    .bind::<Array<Text>, _>(busy)
    .get_result(conn)
    .await
    .optional()
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Not sent and never will be (the recipient unsubscribed, the department changed channel).
    Skipped(String),
    RetryAt(DateTime<Utc>, String),
    Dead(String),
}

/// Records how the attempt on message `id` claimed with `attempt` (its `attempts` as
/// claimed) ended. Returns whether it was recorded: not when the claim had passed to another
/// worker (the lease ran out and the message was claimed again) or the message was settled
/// meanwhile, so a late outcome never overwrites a newer one.
pub async fn finish(
    conn: &mut AsyncPgConnection,
    id: i64,
    attempt: i32,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let target = outbox::table
        .find(id)
        .filter(outbox::state.eq("pending"))
        .filter(outbox::attempts.eq(attempt));
    let bounded = |error: &str| error.chars().take(2000).collect::<String>();
    let query = match outcome {
        Outcome::Delivered => diesel::update(target)
            .set((
                outbox::state.eq("delivered"),
                outbox::delivered_at.eq(Some(now)),
                outbox::last_error.eq(None::<String>),
            ))
            .execute(conn),
        Outcome::Skipped(reason) => diesel::update(target)
            .set((
                outbox::state.eq("skipped"),
                outbox::last_error.eq(Some(bounded(reason))),
            ))
            .execute(conn),
        Outcome::RetryAt(at, error) => diesel::update(target)
            .set((
                outbox::next_attempt_at.eq(*at),
                outbox::last_error.eq(Some(bounded(error))),
            ))
            .execute(conn),
        Outcome::Dead(error) => diesel::update(target)
            .set((
                outbox::state.eq("dead"),
                outbox::last_error.eq(Some(bounded(error))),
            ))
            .execute(conn),
    };
    query.await.map(|rows| rows == 1)
}

/// Every message about the reports of `incident`, oldest first (staff see the delivery state).
pub async fn of_incident(
    conn: &mut AsyncPgConnection,
    incident: i64,
) -> QueryResult<Vec<OutboxMessage>> {
    outbox::table
        .inner_join(reports::table)
        .filter(reports::incident_id.eq(incident))
        .order(outbox::id)
        .select(OutboxMessage::as_select())
        .load(conn)
        .await
}

/// Message `id`.
pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<OutboxMessage>> {
    outbox::table
        .find(id)
        .select(OutboxMessage::as_select())
        .first(conn)
        .await
        .optional()
}

/// Puts a dead or failing message back in line now; whether it was not yet delivered.
pub async fn retry_now(
    conn: &mut AsyncPgConnection,
    id: i64,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::update(
        outbox::table
            .find(id)
            .filter(outbox::state.eq_any(["pending", "dead"])),
    )
    .set((outbox::state.eq("pending"), outbox::next_attempt_at.eq(now)))
    .execute(conn)
    .await
    .map(|rows| rows == 1)
}

/// Whether `email` unsubscribed from notifications (checked again when a message is sent:
/// messages queued before the click are not sent either).
pub async fn opted_out(conn: &mut AsyncPgConnection, email: &str) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        found: bool,
    }
    let row: Found = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM email_optouts \
                        WHERE email_hash = sha256(convert_to(lower($1), 'UTF8'))) AS found",
    )
    .bind::<Text, _>(email)
    .get_result(conn)
    .await?;
    Ok(row.found)
}

/// Stops notifications to the address whose lower-cased SHA-256 is `email_hash`.
pub async fn opt_out(conn: &mut AsyncPgConnection, email_hash: &[u8]) -> QueryResult<()> {
    diesel::insert_into(email_optouts::table)
        .values(email_optouts::email_hash.eq(email_hash))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(|_| ())
}

/// What a message needs of its report to be written.
#[derive(Debug, Clone, QueryableByName)]
pub struct MessageContext {
    #[diesel(sql_type = Text)]
    pub locale: String,
    #[diesel(sql_type = Text)]
    pub jurisdiction_name: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub department_channel: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<Jsonb>)]
    pub department_config: Option<serde_json::Value>,
    /// The category's name in the jurisdiction's language.
    #[diesel(sql_type = Text)]
    pub category_label: String,
    /// The report's department's name in the jurisdiction's language.
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub department_label: Option<String>,
    /// The answers to the category's extra questions.
    #[diesel(sql_type = Jsonb)]
    pub attributes: serde_json::Value,
}

/// The jurisdiction's language and the department's current channel for message `report`.
pub async fn context(
    conn: &mut AsyncPgConnection,
    report: i64,
    department: Option<i64>,
) -> QueryResult<MessageContext> {
    diesel::sql_query(
        "SELECT j.locale, j.name AS jurisdiction_name, d.channel AS department_channel, \
                d.channel_config AS department_config, \
                coalesce(c.names->>j.locale, c.name) AS category_label, \
                coalesce(rd.names->>j.locale, rd.name) AS department_label, r.attributes \
         FROM reports r JOIN jurisdictions j ON j.id = r.jurisdiction_id \
         JOIN categories c ON c.id = r.category_id \
         LEFT JOIN departments rd ON rd.id = r.department_id \
         LEFT JOIN departments d ON d.id = $2 \
         WHERE r.id = $1",
    )
    .bind::<BigInt, _>(report)
    .bind::<diesel::sql_types::Nullable<BigInt>, _>(department)
    .get_result(conn)
    .await
}

/// A third-party app's subscription to a city's events.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = crate::schema::webhook_subscriptions, check_for_backend(diesel::pg::Pg))]
pub struct Subscription {
    pub id: i64,
    pub api_key_id: i64,
    pub jurisdiction_id: i64,
    pub url: String,
    pub secret: String,
    pub events: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A subscription to store.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = crate::schema::webhook_subscriptions)]
pub struct NewSubscription<'a> {
    pub api_key_id: i64,
    pub jurisdiction_id: i64,
    pub url: &'a str,
    pub secret: &'a str,
    pub events: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// Stores a subscription.
pub async fn subscribe(
    conn: &mut AsyncPgConnection,
    subscription: NewSubscription<'_>,
) -> QueryResult<Subscription> {
    diesel::insert_into(crate::schema::webhook_subscriptions::table)
        .values(subscription)
        .returning(Subscription::as_returning())
        .get_result(conn)
        .await
}

/// The live subscriptions of API key `key`.
pub async fn subscriptions_of(
    conn: &mut AsyncPgConnection,
    key: i64,
) -> QueryResult<Vec<Subscription>> {
    use crate::schema::webhook_subscriptions as s;
    s::table
        .filter(s::api_key_id.eq(key))
        .filter(s::revoked_at.is_null())
        .order(s::id)
        .select(Subscription::as_select())
        .load(conn)
        .await
}

/// Subscription `id` while it is live: neither ended nor its API key revoked.
pub async fn live_subscription(
    conn: &mut AsyncPgConnection,
    id: i64,
) -> QueryResult<Option<Subscription>> {
    use crate::schema::{api_keys as k, webhook_subscriptions as s};
    s::table
        .inner_join(k::table)
        .filter(s::id.eq(id))
        .filter(s::revoked_at.is_null())
        .filter(k::revoked_at.is_null())
        .select(Subscription::as_select())
        .first(conn)
        .await
        .optional()
}

/// Ends subscription `id` of key `key`; whether a live one ended.
pub async fn unsubscribe_webhook(
    conn: &mut AsyncPgConnection,
    key: i64,
    id: i64,
    at: DateTime<Utc>,
) -> QueryResult<bool> {
    use crate::schema::webhook_subscriptions as s;
    diesel::update(
        s::table
            .find(id)
            .filter(s::api_key_id.eq(key))
            .filter(s::revoked_at.is_null()),
    )
    .set(s::revoked_at.eq(Some(at)))
    .execute(conn)
    .await
    .map(|rows| rows == 1)
}

/// Records that `report` became request `service_request_id` on its department's Open311 server.
pub async fn record_forward(
    conn: &mut AsyncPgConnection,
    report: i64,
    department: i64,
    service_request_id: &str,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    use crate::schema::forwards as f;
    diesel::insert_into(f::table)
        .values((
            f::report_id.eq(report),
            f::department_id.eq(department),
            f::service_request_id.eq(service_request_id),
            f::forwarded_at.eq(at),
        ))
        .on_conflict(f::report_id)
        .do_update()
        .set(f::service_request_id.eq(service_request_id))
        .execute(conn)
        .await
        .map(|_| ())
}

/// A department's forwarded reports that are still open remotely.
#[derive(Debug, Clone)]
pub struct OpenForwards {
    pub department_id: i64,
    pub channel_config: serde_json::Value,
    /// `(report, its id on the remote server)`.
    pub reports: Vec<(i64, String)>,
}

/// Forwarded reports still open remotely, least recently polled first, by department.
pub async fn open_forwards(
    conn: &mut AsyncPgConnection,
    limit: i64,
) -> QueryResult<Vec<OpenForwards>> {
    use crate::schema::{departments as d, forwards as f};
    let rows: Vec<(i64, serde_json::Value, i64, String)> = f::table
        .inner_join(d::table)
        .filter(f::remote_status.eq("open"))
        .filter(d::channel.eq("open311"))
        .order((f::polled_at.asc().nulls_first(), f::report_id))
        .limit(limit)
        .select((
            f::department_id,
            d::channel_config,
            f::report_id,
            f::service_request_id,
        ))
        .load(conn)
        .await?;
    let mut grouped: Vec<OpenForwards> = Vec::new();
    for (department_id, channel_config, report, remote) in rows {
        match grouped
            .iter_mut()
            .find(|g| g.department_id == department_id)
        {
            Some(group) => group.reports.push((report, remote)),
            None => grouped.push(OpenForwards {
                department_id,
                channel_config,
                reports: vec![(report, remote)],
            }),
        }
    }
    Ok(grouped)
}

/// Records a poll of forwarded `reports`; those in `closed` are now closed remotely.
pub async fn record_poll(
    conn: &mut AsyncPgConnection,
    reports: &[i64],
    closed: &[i64],
    at: DateTime<Utc>,
) -> QueryResult<()> {
    use crate::schema::forwards as f;
    diesel::update(f::table.filter(f::report_id.eq_any(reports)))
        .set(f::polled_at.eq(Some(at)))
        .execute(conn)
        .await?;
    diesel::update(f::table.filter(f::report_id.eq_any(closed)))
        .set(f::remote_status.eq("closed"))
        .execute(conn)
        .await
        .map(|_| ())
}
