//! The map at city scale: reports counted per grid cell, so a view of the whole city costs the
//! same as a view of one street, and answers are revalidated with an ETag.

use std::time::Duration;

use actix_web::{
    HttpRequest, HttpResponse, get,
    http::header::{self, EntityTag, IfNoneMatch},
    web,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use signalons_db::{DbPool, map as map_queries};
use signalons_domain::{
    BoundingBox,
    map_grid::{CellRange, MapZoom},
};
use utoipa::{IntoParams, ToSchema};

use crate::{
    AppState,
    error::{ApiError, Problem},
    extract::QueryParams,
    reports::{check, kind_filters},
};

/// The view to cluster.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClusterQuery {
    /// The map viewport: `min_lon,min_lat,max_lon,max_lat`. Widened to whole cells; send the
    /// bounds of the map tiles in view so that answers are shared by caches.
    #[param(example = "-71.19,42.23,-70.99,42.40")]
    pub bbox: String,
    /// The map's zoom, 0 to 20: cells are a quarter of a 256-pixel tile of this zoom.
    #[param(example = 12)]
    pub zoom: i64,
    /// Category codes, comma-separated.
    pub category: Option<String>,
    /// Statuses, comma-separated.
    pub status: Option<String>,
}

/// The reports of one cell of the map's grid.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cluster {
    /// Mean position of the cell's reports.
    pub latitude: f64,
    pub longitude: f64,
    pub count: i64,
    /// The report, when the cell holds exactly one.
    pub report_id: Option<i64>,
}

/// Reports in view, counted per cell.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClusterList {
    pub zoom: u8,
    /// The grid level of the cells (zoom + 2).
    pub cell_level: u8,
    /// Reports in all the cells.
    pub total: i64,
    /// Non-empty cells, north to south then west to east.
    pub clusters: Vec<Cluster>,
}

const CACHE_CONTROL: &str = "public, no-cache";

fn round6(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

/// Reports on the map, clustered.
///
/// The reports in view counted per cell of a grid that follows map tiles (four cells per tile
/// side), with each cell's mean position: one answer is at most 4,096 cells, whether the view
/// holds ten reports or ten million. Counts are exact. Answers carry an `ETag`; send it back in
/// `If-None-Match` to get `304 Not Modified` while no report changed.
#[utoipa::path(
    tag = "reports",
    params(ClusterQuery),
    responses(
        (status = 200, body = ClusterList, headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304, description = "Unchanged since the ETag sent in If-None-Match"),
        (status = 400, description = "Invalid parameters, or a bbox of more than 4,096 cells at this zoom (`bbox_too_large`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/map/clusters")]
pub async fn map_clusters(
    req: HttpRequest,
    state: web::Data<AppState>,
    QueryParams(query): QueryParams<ClusterQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let bbox = check("bbox", BoundingBox::parse(&query.bbox), &mut errors);
    let zoom = check("zoom", MapZoom::new(query.zoom), &mut errors);
    let range = match (bbox, zoom) {
        (Some(bbox), Some(zoom)) => check("bbox", CellRange::covering(&bbox, zoom), &mut errors),
        _ => None,
    };
    let (categories, statuses) = kind_filters(&query.category, &query.status, &mut errors);
    let (Some(range), Some(zoom), true) = (range, zoom, errors.is_empty()) else {
        return Err(ApiError::invalid_query(errors));
    };

    let mut conn = state.pool.get().await?;
    let version = map_queries::version(&mut conn).await?;
    let digest =
        Sha256::digest(format!("{version:?}|{range:?}|{categories:?}|{statuses:?}").as_bytes());
    let etag = EntityTag::new_strong(
        digest[..12]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect(),
    );
    let unchanged = match req.headers().get(header::IF_NONE_MATCH) {
        Some(_) => match header::Header::parse(&req) {
            Ok(IfNoneMatch::Any) => true,
            Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|tag| tag.weak_eq(&etag)),
            Err(_) => false,
        },
        None => false,
    };
    if unchanged {
        return Ok(HttpResponse::NotModified()
            .insert_header(header::ETag(etag))
            .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
            .finish());
    }

    let category_ids = if categories.is_empty() {
        Vec::new()
    } else {
        map_queries::category_ids(&mut conn, &categories).await?
    };
    let cells = if !categories.is_empty() && category_ids.is_empty() {
        // Only unknown categories: nothing can match.
        Vec::new()
    } else {
        let filter = map_queries::CellFilter {
            category_ids,
            statuses: statuses.iter().map(|s| (*s).to_owned()).collect(),
        };
        map_queries::cells(&mut conn, &range, &filter).await?
    };
    let clusters: Vec<Cluster> = cells
        .into_iter()
        .map(|cell| Cluster {
            latitude: round6(cell.latitude),
            longitude: round6(cell.longitude),
            count: cell.reports,
            report_id: cell.report_id,
        })
        .collect();
    let body = ClusterList {
        zoom: zoom.get(),
        cell_level: range.level,
        total: clusters.iter().map(|c| c.count).sum(),
        clusters,
    };
    Ok(HttpResponse::Ok()
        .insert_header(header::ETag(etag))
        .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
        .json(body))
}

/// Most reports one fold moves into the stored counts.
const FOLD_BATCH: i64 = 10_000;

/// Moves new reports into the stored map counts every `interval`, until the server stops.
/// Map answers are exact without it; it keeps the reports they count one by one few.
pub async fn fold_periodically(pool: DbPool, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let outcome = async {
            let mut conn = pool.get().await?;
            let mut total = 0;
            loop {
                let folded = map_queries::fold(&mut conn, FOLD_BATCH).await?;
                total += folded;
                if folded < FOLD_BATCH {
                    return Ok::<_, ApiError>(total);
                }
            }
        }
        .await;
        match outcome {
            Ok(0) => {}
            Ok(folded) => tracing::debug!(folded, "map counts folded"),
            Err(error) => tracing::warn!(code = error.code(), "map fold failed; retrying later"),
        }
    }
}
