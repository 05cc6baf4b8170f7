//! Photos of reports: which report each belongs to and whether the public may see it. The bytes
//! themselves live in the photo store, under the row's `storage_key`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::schema::{media, reports};

/// Evidence sent by a resident, with or after the report.
pub const KIND_REPORT: &str = "report";
/// A crew's photo of the work, shown with every report of the incident.
pub const KIND_RESOLUTION: &str = "resolution";

/// A photo to record, already in the store.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = media)]
pub struct NewMedia<'a> {
    pub report_id: i64,
    pub kind: &'a str,
    pub storage_key: &'a str,
    pub content_type: &'a str,
    pub byte_size: i32,
    pub width: i32,
    pub height: i32,
    pub thumbnail_byte_size: i32,
    pub uploaded_by: Option<i64>,
    /// The upload's Idempotency-Key, the digest of what it sent, the photo's place in it.
    pub upload_key: Option<&'a str>,
    pub upload_fingerprint: Option<&'a [u8]>,
    pub upload_position: Option<i16>,
    pub created_at: DateTime<Utc>,
}

/// A stored photo.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = media, check_for_backend(diesel::pg::Pg))]
pub struct Media {
    pub id: i64,
    pub report_id: i64,
    pub kind: String,
    pub storage_key: String,
    pub content_type: String,
    pub byte_size: i32,
    pub width: i32,
    pub height: i32,
    pub thumbnail_byte_size: i32,
    pub hidden_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The number of photos of `kind` report `report_id` has.
pub async fn count(conn: &mut AsyncPgConnection, report_id: i64, kind: &str) -> QueryResult<i64> {
    media::table
        .filter(media::report_id.eq(report_id))
        .filter(media::kind.eq(kind))
        .count()
        .get_result(conn)
        .await
}

/// What became of photos to record.
#[derive(Debug, Clone)]
pub enum Attached {
    /// Recorded now.
    Stored(Vec<Media>),
    /// An earlier upload with the same key recorded these; the fingerprint it sent.
    Earlier(Vec<Media>, Option<Vec<u8>>),
    /// The report would have more than its limit of photos of that kind: nothing written.
    OverLimit,
}

/// The photos an earlier upload to `report_id` with `key` recorded, in their order, and the
/// fingerprint of what it sent.
pub async fn find_upload(
    conn: &mut AsyncPgConnection,
    report_id: i64,
    key: &str,
) -> QueryResult<Option<(Vec<Media>, Option<Vec<u8>>)>> {
    let rows: Vec<(Media, Option<Vec<u8>>)> = media::table
        .filter(media::report_id.eq(report_id))
        .filter(media::upload_key.eq(key))
        .order(media::upload_position)
        .select((Media::as_select(), media::upload_fingerprint))
        .load(conn)
        .await?;
    let fingerprint = rows
        .as_slice()
        .first()
        .and_then(|(_, fingerprint)| fingerprint.clone());
    Ok((!rows.is_empty()).then(|| (rows.into_iter().map(|(row, _)| row).collect(), fingerprint)))
}

/// Records `photos` of one report, unless an earlier upload with the same key did, or the
/// report would then have more than `max` photos of their kind. The report's row is locked
/// first, so concurrent uploads to one report count each other. Inside a caller's transaction
/// this is a savepoint of it.
pub async fn attach_within_limit(
    conn: &mut AsyncPgConnection,
    photos: &[NewMedia<'_>],
    max: i64,
) -> QueryResult<Attached> {
    let Some(first) = photos.first() else {
        return Ok(Attached::Stored(Vec::new()));
    };
    let (report_id, kind, key) = (first.report_id, first.kind, first.upload_key);
    conn.transaction(async |conn| {
        reports::table
            .find(report_id)
            .select(reports::id)
            .for_update()
            .first::<i64>(conn)
            .await?;
        if let Some(key) = key
            && let Some((earlier, fingerprint)) = find_upload(conn, report_id, key).await?
        {
            return Ok(Attached::Earlier(earlier, fingerprint));
        }
        let stored = count(conn, report_id, kind).await?;
        let adding = i64::try_from(photos.len()).unwrap_or(i64::MAX);
        if stored.saturating_add(adding) > max {
            return Ok(Attached::OverLimit);
        }
        diesel::insert_into(media::table)
            .values(photos)
            .returning(Media::as_returning())
            .get_results(conn)
            .await
            .map(Attached::Stored)
    })
    .await
}

/// The photos the public sees with report `report_id`, oldest first: its own, and the crew's
/// photos of the work on its incident. Hidden photos are left out.
pub async fn public_for_report(
    conn: &mut AsyncPgConnection,
    report_id: i64,
) -> QueryResult<Vec<Media>> {
    let incident = reports::table
        .find(report_id)
        .select(reports::incident_id)
        .first::<i64>(conn)
        .await
        .optional()?;
    let Some(incident) = incident else {
        return Ok(Vec::new());
    };
    let siblings = reports::table
        .filter(reports::incident_id.eq(incident))
        .select(reports::id);
    media::table
        .filter(media::hidden_at.is_null())
        .filter(
            media::report_id.eq(report_id).or(media::kind
                .eq(KIND_RESOLUTION)
                .and(media::report_id.eq_any(siblings))),
        )
        .order(media::id)
        .select(Media::as_select())
        .load(conn)
        .await
}

/// Every photo of the reports of incident `incident_id`, hidden ones included (the staff view).
pub async fn for_incident(
    conn: &mut AsyncPgConnection,
    incident_id: i64,
) -> QueryResult<Vec<Media>> {
    media::table
        .inner_join(reports::table)
        .filter(reports::incident_id.eq(incident_id))
        .order(media::id)
        .select(Media::as_select())
        .load(conn)
        .await
}

/// Photo `id` and the incident its report belongs to.
pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<(Media, i64)>> {
    media::table
        .inner_join(reports::table)
        .filter(media::id.eq(id))
        .select((Media::as_select(), reports::incident_id))
        .first(conn)
        .await
        .optional()
}

/// The photo stored under `key` and the incident its report belongs to.
pub async fn find_by_key(
    conn: &mut AsyncPgConnection,
    key: &str,
) -> QueryResult<Option<(Media, i64)>> {
    media::table
        .inner_join(reports::table)
        .filter(media::storage_key.eq(key))
        .select((Media::as_select(), reports::incident_id))
        .first(conn)
        .await
        .optional()
}

/// Hides photo `id` from the public (`hidden_at` set) or shows it again (`None`).
pub async fn set_hidden(
    conn: &mut AsyncPgConnection,
    id: i64,
    hidden_at: Option<DateTime<Utc>>,
    by: Option<i64>,
) -> QueryResult<Media> {
    diesel::update(media::table.find(id))
        .set((media::hidden_at.eq(hidden_at), media::hidden_by.eq(by)))
        .returning(Media::as_returning())
        .get_result(conn)
        .await
}

/// The first photo the public sees of each of `report_ids` (its own first, else the crew's of
/// its incident), as `(report id, storage key)`.
pub async fn first_public_keys(
    conn: &mut AsyncPgConnection,
    report_ids: &[i64],
) -> QueryResult<Vec<(i64, String)>> {
    if report_ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::sql_query(
        "SELECT DISTINCT ON (r.id) r.id AS report_id, m.storage_key \
           FROM reports r \
           JOIN reports sibling ON sibling.incident_id = r.incident_id \
           JOIN media m ON m.report_id = sibling.id \
          WHERE r.id = ANY($1) AND m.hidden_at IS NULL \
            AND (m.report_id = r.id OR m.kind = 'resolution') \
          ORDER BY r.id, (m.report_id = r.id) DESC, m.id",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(report_ids)
    .load::<FirstKey>(conn)
    .await
    .map(|rows| {
        rows.into_iter()
            .map(|row| (row.report_id, row.storage_key))
            .collect()
    })
}

#[derive(QueryableByName)]
struct FirstKey {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    report_id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    storage_key: String,
}
