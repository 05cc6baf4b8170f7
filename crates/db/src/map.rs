//! Report counts per map grid cell (see `signalons_domain::map_grid` and the `map_aggregates`
//! migration): folding new reports into the stored counts, and reading the cells of a view.

use chrono::{DateTime, Utc};
use diesel::{
    QueryResult, QueryableByName,
    sql_types::{Array, BigInt, Double, Integer, Nullable, Text, Timestamptz},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use signalons_domain::map_grid::CellRange;

/// The second half of a fold: adds the rows of a CTE named `moved` (`id`, `category_id`,
/// `status`, `lon`, `lat`) to every stored level (2 to [`FINEST_STORED_LEVEL`]), and answers
/// how many rows were added. Shifting a level-20 cell number right by k gives its cell at level
/// 20 - k exactly.
///
/// [`FINEST_STORED_LEVEL`]: signalons_domain::map_grid::FINEST_STORED_LEVEL
pub(crate) const FOLD_INTO_CELLS: &str = "\
    , fine AS ( \
        SELECT map_cell_x(lon, 20) AS x, map_cell_y(lat, 20) AS y, category_id, status, \
               count(*) AS n, sum(lon) AS sx, sum(lat) AS sy, sum(id) AS si \
        FROM moved GROUP BY 1, 2, 3, 4 \
    ), added AS ( \
        INSERT INTO map_cells AS m (level, cell_x, cell_y, category_id, status, reports, sum_lon, \
                                    sum_lat, sum_id) \
        SELECT l, x >> (20 - l), y >> (20 - l), category_id, status, sum(n)::integer, sum(sx), \
               sum(sy), sum(si)::bigint \
        FROM fine CROSS JOIN generate_series(2, 20) AS l \
        GROUP BY 1, 2, 3, 4, 5 \
        ON CONFLICT (level, cell_x, cell_y, category_id, status) DO UPDATE \
        SET reports = m.reports + excluded.reports, \
            sum_lon = m.sum_lon + excluded.sum_lon, \
            sum_lat = m.sum_lat + excluded.sum_lat, \
            sum_id = m.sum_id + excluded.sum_id \
    ) \
    SELECT count(*) AS folded FROM moved";

#[derive(QueryableByName)]
struct Folded {
    #[diesel(sql_type = BigInt)]
    folded: i64,
}

/// Moves up to `limit` reports not yet counted in `map_cells` into it, oldest first, and returns
/// how many moved. Rows another transaction holds are left for the next fold, so concurrent
/// folds (one per server replica) never count a report twice.
pub async fn fold(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<i64> {
    let sql = format!(
        "WITH moved AS ( \
            UPDATE reports r SET map_folded = true \
            FROM (SELECT id FROM reports WHERE NOT map_folded ORDER BY id LIMIT $1 \
                  FOR UPDATE SKIP LOCKED) AS pick \
            WHERE r.id = pick.id AND NOT r.map_folded \
            RETURNING r.id, r.category_id, r.status, ST_X(r.location::geometry) AS lon, \
                      ST_Y(r.location::geometry) AS lat \
        ) {FOLD_INTO_CELLS}"
    );
    let folded: Folded = diesel::sql_query(sql)
        .bind::<BigInt, _>(limit)
        .get_result(conn)
        .await?;
    Ok(folded.folded)
}

/// What changes every map answer: the newest report and the latest update of any report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub struct MapVersion {
    #[diesel(sql_type = Nullable<BigInt>)]
    pub last_report: Option<i64>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub last_update: Option<DateTime<Utc>>,
}

/// The current [`MapVersion`] (two index look-ups).
pub async fn version(conn: &mut AsyncPgConnection) -> QueryResult<MapVersion> {
    diesel::sql_query(
        "SELECT (SELECT max(id) FROM reports) AS last_report, \
                (SELECT max(updated_at) FROM reports) AS last_update",
    )
    .get_result(conn)
    .await
}

/// The reports of one grid cell.
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct CellCount {
    #[diesel(sql_type = Integer)]
    pub cell_x: i32,
    #[diesel(sql_type = Integer)]
    pub cell_y: i32,
    #[diesel(sql_type = BigInt)]
    pub reports: i64,
    /// Mean position of the cell's reports.
    #[diesel(sql_type = Double)]
    pub longitude: f64,
    #[diesel(sql_type = Double)]
    pub latitude: f64,
    /// The report, when the cell holds exactly one and it is known (finest levels).
    #[diesel(sql_type = Nullable<BigInt>)]
    pub report_id: Option<i64>,
}

/// What the counted reports are restricted to; empty lists mean all.
#[derive(Debug, Clone, Default)]
pub struct CellFilter {
    pub category_ids: Vec<i64>,
    pub statuses: Vec<String>,
}

/// The conditions a filter adds (none when it is empty: a plan for "any category" must not
/// carry a test of an empty array, which a generic plan cannot fold away).
fn filter_sql(filter: &CellFilter) -> String {
    let mut sql = String::new();
    if !filter.category_ids.is_empty() {
        sql.push_str(" AND category_id = ANY($6)");
    }
    if !filter.statuses.is_empty() {
        sql.push_str(" AND status = ANY($7)");
    }
    sql
}

/// Reports of `reports` in the envelope, grouped by cell of level $1; `{only}` narrows the rows.
fn counted_from_reports(only: &str, filter: &str) -> String {
    format!(
        "SELECT map_cell_x(ST_X(location::geometry), $1) AS cell_x, \
                map_cell_y(ST_Y(location::geometry), $1) AS cell_y, \
                count(*) AS reports, sum(ST_X(location::geometry)) AS sum_lon, \
                sum(ST_Y(location::geometry)) AS sum_lat, min(id) AS report_id \
         FROM reports \
         WHERE {only} geometry(location) && ST_MakeEnvelope($8, $9, $10, $11, 4326){filter} \
         GROUP BY 1, 2"
    )
}

/// The non-empty cells of `range` with their report counts. Stored levels add the stored counts
/// to the reports not folded yet, so the answer is exact either way.
pub async fn cells(
    conn: &mut AsyncPgConnection,
    range: &CellRange,
    filter: &CellFilter,
) -> QueryResult<Vec<CellCount>> {
    let conditions = filter_sql(filter);
    let parts = if range.is_stored() {
        format!(
            "SELECT cell_x, cell_y, sum(reports)::bigint AS reports, sum(sum_lon) AS sum_lon, \
                    sum(sum_lat) AS sum_lat, \
                    CASE WHEN sum(reports) = 1 THEN sum(sum_id)::bigint END AS report_id \
             FROM map_cells \
             WHERE level = $1 AND cell_x BETWEEN $2 AND $3 AND cell_y BETWEEN $4 AND $5{conditions} \
             GROUP BY cell_x, cell_y \
             UNION ALL {}",
            counted_from_reports("NOT map_folded AND", &conditions)
        )
    } else {
        counted_from_reports("", &conditions)
    };
    let sql = format!(
        "SELECT cell_x, cell_y, sum(reports)::bigint AS reports, \
                sum(sum_lon) / sum(reports) AS longitude, sum(sum_lat) / sum(reports) AS latitude, \
                CASE WHEN sum(reports) = 1 THEN min(report_id) END AS report_id \
         FROM ({parts}) AS counted \
         WHERE cell_x BETWEEN $2 AND $3 AND cell_y BETWEEN $4 AND $5 \
         GROUP BY cell_x, cell_y HAVING sum(reports) > 0 \
         ORDER BY cell_y, cell_x"
    );
    let [west, south, east, north] = range.bounds();
    let level = i32::from(range.level);
    let as_i32 = |cell: u32| i32::try_from(cell).unwrap_or(i32::MAX);
    diesel::sql_query(sql)
        .bind::<Integer, _>(level)
        .bind::<Integer, _>(as_i32(range.x_min))
        .bind::<Integer, _>(as_i32(range.x_max))
        .bind::<Integer, _>(as_i32(range.y_min))
        .bind::<Integer, _>(as_i32(range.y_max))
        .bind::<Array<BigInt>, _>(&filter.category_ids)
        .bind::<Array<Text>, _>(&filter.statuses)
        .bind::<Double, _>(west)
        .bind::<Double, _>(south)
        .bind::<Double, _>(east)
        .bind::<Double, _>(north)
        .load(conn)
        .await
}

/// The ids of the categories with these codes, in every jurisdiction.
pub async fn category_ids(conn: &mut AsyncPgConnection, codes: &[String]) -> QueryResult<Vec<i64>> {
    use diesel::{ExpressionMethods, QueryDsl};

    use crate::schema::categories;
    categories::table
        .filter(categories::code.eq_any(codes))
        .select(categories::id)
        .load(conn)
        .await
}
