//! Area alerts: residents hear of new problems in a radius or a service area, at once or in a
//! daily digest, once they confirmed their address.

use chrono::{DateTime, Utc};
use diesel::{
    prelude::*,
    sql_types::{BigInt, Timestamptz},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::{Point, schema::area_alerts};

/// Where an alert looks.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertPlace {
    Radius { center: Point, metres: i32 },
    ServiceArea(i64),
}

/// An alert to store, unconfirmed.
#[derive(Debug, Clone)]
pub struct NewAlert<'a> {
    pub jurisdiction_id: i64,
    pub email: &'a str,
    pub place: AlertPlace,
    pub category_codes: Vec<String>,
    /// `immediate` or `daily`.
    pub frequency: &'a str,
    pub created_at: DateTime<Utc>,
}

/// Stores `alert` and queues its confirmation mail, in one transaction; returns its id.
pub async fn subscribe(conn: &mut AsyncPgConnection, alert: NewAlert<'_>) -> QueryResult<i64> {
    use diesel_async::AsyncConnection;
    conn.transaction(async |conn| {
        let (center, radius, area) = match alert.place {
            AlertPlace::Radius { center, metres } => (Some(center), Some(metres), None),
            AlertPlace::ServiceArea(area) => (None, None, Some(area)),
        };
        let id: i64 = diesel::insert_into(area_alerts::table)
            .values((
                area_alerts::jurisdiction_id.eq(alert.jurisdiction_id),
                area_alerts::email.eq(alert.email),
                area_alerts::center.eq(center),
                area_alerts::radius_m.eq(radius),
                area_alerts::service_area_id.eq(area),
                area_alerts::category_codes.eq(&alert.category_codes),
                area_alerts::frequency.eq(alert.frequency),
                area_alerts::created_at.eq(alert.created_at),
            ))
            .returning(area_alerts::id)
            .get_result(conn)
            .await?;
        diesel::sql_query(
            "INSERT INTO outbox (jurisdiction_id, message, channel, destination, alert_id, delivery_key) \
             SELECT jurisdiction_id, 'alert_confirm', 'email', email, id, 'alert:' || id || ':confirm' \
             FROM area_alerts WHERE id = $1",
        )
        .bind::<BigInt, _>(id)
        .execute(conn)
        .await?;
        Ok(id)
    })
    .await
}

/// Confirms alert `id` (again is fine); whether it exists and is not cancelled.
pub async fn confirm(
    conn: &mut AsyncPgConnection,
    id: i64,
    at: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::update(
        area_alerts::table
            .find(id)
            .filter(area_alerts::cancelled_at.is_null())
            .filter(area_alerts::confirmed_at.is_null()),
    )
    .set(area_alerts::confirmed_at.eq(Some(at)))
    .execute(conn)
    .await?;
    diesel::select(diesel::dsl::exists(
        area_alerts::table
            .find(id)
            .filter(area_alerts::cancelled_at.is_null()),
    ))
    .get_result(conn)
    .await
}

/// Cancels alert `id`; whether a live one was cancelled.
pub async fn cancel(conn: &mut AsyncPgConnection, id: i64, at: DateTime<Utc>) -> QueryResult<bool> {
    diesel::update(
        area_alerts::table
            .find(id)
            .filter(area_alerts::cancelled_at.is_null()),
    )
    .set(area_alerts::cancelled_at.eq(Some(at)))
    .execute(conn)
    .await
    .map(|rows| rows == 1)
}

/// Whether alert `id` exists and was not cancelled (checked again when its mails are sent).
pub async fn is_live(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        area_alerts::table
            .find(id)
            .filter(area_alerts::cancelled_at.is_null()),
    ))
    .get_result(conn)
    .await
}

/// The email of alert `id`.
pub async fn email(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<String>> {
    area_alerts::table
        .find(id)
        .select(area_alerts::email)
        .first(conn)
        .await
        .optional()
}

const MATCHES: &str = "a.jurisdiction_id = r.jurisdiction_id \
     AND a.confirmed_at IS NOT NULL AND a.cancelled_at IS NULL \
     AND (cardinality(a.category_codes) = 0 OR c.code = ANY(a.category_codes)) \
     AND (ST_DWithin(a.center, r.location, a.radius_m) OR a.service_area_id = r.service_area_id) \
     AND NOT EXISTS (SELECT 1 FROM email_optouts o \
                     WHERE o.email_hash = sha256(convert_to(lower(a.email), 'UTF8')))";

/// Queues the immediate alerts a new incident's first report `report` sets off (in the
/// caller's transaction).
pub async fn enqueue_immediate(conn: &mut AsyncPgConnection, report: i64) -> QueryResult<()> {
    diesel::sql_query(format!(
        "INSERT INTO outbox (jurisdiction_id, message, channel, destination, report_id, alert_id, delivery_key) \
         SELECT r.jurisdiction_id, 'area_alert', 'email', a.email, r.id, a.id, \
                'report:' || r.id || ':alert:' || a.id \
         FROM reports r JOIN categories c ON c.id = r.category_id, area_alerts a \
         WHERE r.id = $1 AND a.frequency = 'immediate' AND {MATCHES} \
         ON CONFLICT (delivery_key) DO NOTHING"
    ))
    .bind::<BigInt, _>(report)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Queues the digests that are due at `now`: for each confirmed daily alert last sent a day
/// ago or more, the new incidents since then (their first reports), if any. Returns how many
/// alerts were due.
pub async fn enqueue_digests(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    use diesel_async::AsyncConnection;
    conn.transaction(async |conn| {
        let queued = diesel::sql_query(format!(
            "WITH due AS ( \
                 SELECT id FROM area_alerts \
                 WHERE frequency = 'daily' AND confirmed_at IS NOT NULL AND cancelled_at IS NULL \
                   AND coalesce(last_digest_at, confirmed_at) <= $1 - interval '1 day' \
                 FOR UPDATE SKIP LOCKED), \
             found AS ( \
                 SELECT a.id AS alert_id, a.jurisdiction_id, a.email, \
                        jsonb_agg(r.id ORDER BY r.id) AS report_ids \
                 FROM due JOIN area_alerts a ON a.id = due.id \
                 JOIN incidents i ON i.jurisdiction_id = a.jurisdiction_id \
                      AND i.created_at > coalesce(a.last_digest_at, a.confirmed_at) AND i.created_at <= $1 \
                 JOIN LATERAL (SELECT * FROM reports WHERE incident_id = i.id ORDER BY id LIMIT 1) r ON true \
                 JOIN categories c ON c.id = r.category_id \
                 WHERE {MATCHES} \
                 GROUP BY a.id, a.jurisdiction_id, a.email), \
             queued AS ( \
                 INSERT INTO outbox (jurisdiction_id, message, channel, destination, alert_id, payload, delivery_key) \
                 SELECT jurisdiction_id, 'area_digest', 'email', email, alert_id, \
                        jsonb_build_object('report_ids', report_ids), \
                        'alert:' || alert_id || ':digest:' || to_char($1, 'YYYY-MM-DD\"T\"HH24:MI') \
                 FROM found ON CONFLICT (delivery_key) DO NOTHING RETURNING 1) \
             UPDATE area_alerts SET last_digest_at = $1 WHERE id IN (SELECT id FROM due)"
        ))
        .bind::<Timestamptz, _>(now)
        .execute(conn)
        .await?;
        Ok(queued)
    })
    .await
}
