//! The gazetteer: a jurisdiction's addresses with their positions (table `addresses`), loaded
//! from the city's own records and searched by normalised key, by house number within a range,
//! and by trigram word similarity (pg_trgm). The keys come from `signalons_domain::gazetteer`.

use diesel::{
    prelude::*,
    sql_types::{Array, BigInt, Double, Float8, Integer, Nullable, Text},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// An address to store: one normalised address and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct GazetteerEntry {
    pub label: String,
    /// `numbered`, `intersection` or `place`.
    pub kind: &'static str,
    pub street_key: String,
    pub street: String,
    pub houses: Option<(i32, i32)>,
    pub locality: String,
    pub longitude: f64,
    pub latitude: f64,
    pub sample_count: i32,
}

/// Stores `entries` in `jurisdiction`, replacing what was known of the same addresses.
/// Entries outside the jurisdiction's boundary are left out. Returns how many were written.
pub async fn upsert(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    entries: &[GazetteerEntry],
) -> QueryResult<usize> {
    const SQL: &str = "\
        INSERT INTO addresses (jurisdiction_id, label, kind, street_key, street, house_from, \
                               house_to, locality, location, sample_count) \
        SELECT $1, t.label, t.kind, t.street_key, t.street, t.house_from, t.house_to, t.locality, \
               ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326)::geography, t.sample_count \
        FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[], \
                    $8::text[], $9::float8[], $10::float8[], $11::int[]) \
             AS t(label, kind, street_key, street, house_from, house_to, locality, lon, lat, \
                  sample_count) \
        JOIN jurisdictions j ON j.id = $1 \
        WHERE ST_Covers(j.boundary, ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326)) \
        ON CONFLICT (street_key, locality, jurisdiction_id) DO UPDATE SET \
            label = excluded.label, kind = excluded.kind, street = excluded.street, \
            house_from = excluded.house_from, house_to = excluded.house_to, \
            location = excluded.location, sample_count = excluded.sample_count";
    let text = |f: fn(&GazetteerEntry) -> String| entries.iter().map(f).collect::<Vec<_>>();
    let house = |f: fn((i32, i32)) -> i32| {
        entries
            .iter()
            .map(|e| e.houses.map(f))
            .collect::<Vec<Option<i32>>>()
    };
    diesel::sql_query(SQL)
        .bind::<BigInt, _>(jurisdiction)
        .bind::<Array<Text>, _>(text(|e| e.label.clone()))
        .bind::<Array<Text>, _>(text(|e| e.kind.to_owned()))
        .bind::<Array<Text>, _>(text(|e| e.street_key.clone()))
        .bind::<Array<Text>, _>(text(|e| e.street.clone()))
        .bind::<Array<Nullable<Integer>>, _>(house(|(from, _)| from))
        .bind::<Array<Nullable<Integer>>, _>(house(|(_, to)| to))
        .bind::<Array<Text>, _>(text(|e| e.locality.clone()))
        .bind::<Array<Float8>, _>(entries.iter().map(|e| e.longitude).collect::<Vec<_>>())
        .bind::<Array<Float8>, _>(entries.iter().map(|e| e.latitude).collect::<Vec<_>>())
        .bind::<Array<Integer>, _>(entries.iter().map(|e| e.sample_count).collect::<Vec<_>>())
        .execute(conn)
        .await
}

/// An address found in the gazetteer, with how well it matched a search.
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct FoundAddress {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub jurisdiction_id: i64,
    #[diesel(sql_type = Text)]
    pub jurisdiction_slug: String,
    #[diesel(sql_type = Text)]
    pub label: String,
    /// `numbered`, `intersection` or `place`.
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub street_key: String,
    #[diesel(sql_type = Text)]
    pub street: String,
    #[diesel(sql_type = Nullable<Integer>)]
    pub house_from: Option<i32>,
    #[diesel(sql_type = Nullable<Integer>)]
    pub house_to: Option<i32>,
    #[diesel(sql_type = Text)]
    pub locality: String,
    #[diesel(sql_type = Double)]
    pub latitude: f64,
    #[diesel(sql_type = Double)]
    pub longitude: f64,
    #[diesel(sql_type = Integer)]
    pub sample_count: i32,
    /// Word similarity to the searched text (0..=1); 1 for key and id look-ups.
    #[diesel(sql_type = Double)]
    pub similarity: f64,
}

const COLUMNS: &str = "a.id, a.jurisdiction_id, j.slug AS jurisdiction_slug, a.label, a.kind, \
    a.street_key, a.street, a.house_from, a.house_to, a.locality, \
    ST_Y(a.location::geometry) AS latitude, ST_X(a.location::geometry) AS longitude, \
    a.sample_count";

/// The addresses whose key is one of `keys` (in `jurisdiction`, or anywhere).
pub async fn by_keys(
    conn: &mut AsyncPgConnection,
    jurisdiction: Option<i64>,
    keys: &[String],
) -> QueryResult<Vec<FoundAddress>> {
    let sql = format!(
        "SELECT {COLUMNS}, 1.0::float8 AS similarity FROM addresses a \
         JOIN jurisdictions j ON j.id = a.jurisdiction_id \
         WHERE a.street_key = ANY($1) AND ($2::bigint IS NULL OR a.jurisdiction_id = $2) \
         ORDER BY a.sample_count DESC, a.id LIMIT 50"
    );
    diesel::sql_query(sql)
        .bind::<Array<Text>, _>(keys)
        .bind::<Nullable<BigInt>, _>(jurisdiction)
        .load(conn)
        .await
}

/// The numbered addresses of one of `streets` whose range holds `house`.
pub async fn by_house_in_range(
    conn: &mut AsyncPgConnection,
    jurisdiction: Option<i64>,
    streets: &[String],
    house: i32,
) -> QueryResult<Vec<FoundAddress>> {
    let sql = format!(
        "SELECT {COLUMNS}, 1.0::float8 AS similarity FROM addresses a \
         JOIN jurisdictions j ON j.id = a.jurisdiction_id \
         WHERE a.kind = 'numbered' AND a.street = ANY($1) AND a.house_from <= $2 \
           AND a.house_to >= $2 AND ($3::bigint IS NULL OR a.jurisdiction_id = $3) \
         ORDER BY a.sample_count DESC, a.id LIMIT 50"
    );
    diesel::sql_query(sql)
        .bind::<Array<Text>, _>(streets)
        .bind::<Integer, _>(house)
        .bind::<Nullable<BigInt>, _>(jurisdiction)
        .load(conn)
        .await
}

/// The `limit` addresses whose words are nearest to `text` (pg_trgm word similarity), nearest
/// first, however far: callers keep those similar enough for their purpose.
pub async fn nearest(
    conn: &mut AsyncPgConnection,
    jurisdiction: Option<i64>,
    text: &str,
    limit: i64,
) -> QueryResult<Vec<FoundAddress>> {
    // `<->>` is 1 - word_similarity; ordered by it, the GiST index walks to the nearest
    // addresses without scoring the others (a few ms whatever the words). A threshold filter
    // (`%>`) would instead make the planner score every address sharing "st" or "boston".
    let sql = format!(
        "SELECT {COLUMNS}, n.similarity FROM ( \
             SELECT a.id, (1 - (a.search_key <->> $1))::float8 AS similarity FROM addresses a \
             WHERE ($2::bigint IS NULL OR a.jurisdiction_id = $2) \
             ORDER BY a.search_key <->> $1 LIMIT $3 \
         ) n JOIN addresses a ON a.id = n.id JOIN jurisdictions j ON j.id = a.jurisdiction_id \
         ORDER BY n.similarity DESC, a.sample_count DESC, a.id"
    );
    diesel::sql_query(sql)
        .bind::<Text, _>(text)
        .bind::<Nullable<BigInt>, _>(jurisdiction)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await
}

/// The address with this id (in `jurisdiction`, or anywhere).
pub async fn by_id(
    conn: &mut AsyncPgConnection,
    jurisdiction: Option<i64>,
    id: i64,
) -> QueryResult<Option<FoundAddress>> {
    let sql = format!(
        "SELECT {COLUMNS}, 1.0::float8 AS similarity FROM addresses a \
         JOIN jurisdictions j ON j.id = a.jurisdiction_id \
         WHERE a.id = $1 AND ($2::bigint IS NULL OR a.jurisdiction_id = $2)"
    );
    diesel::sql_query(sql)
        .bind::<BigInt, _>(id)
        .bind::<Nullable<BigInt>, _>(jurisdiction)
        .get_result(conn)
        .await
        .optional()
}
