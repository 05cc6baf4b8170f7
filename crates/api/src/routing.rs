//! Where a report would go, before it is made.

use actix_web::{get, web};
use serde::{Deserialize, Serialize};
use signalons_db::catalog;
use utoipa::{IntoParams, ToSchema};

use crate::{
    AppState,
    error::{ApiError, Problem},
    reports::{Named, place_query},
    submission,
};

/// The place and kind of problem to route.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RoutingQuery {
    pub lat: f64,
    pub long: f64,
    /// Category code.
    pub category: String,
}

/// Who would handle a report here.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoutingPreview {
    /// Slug of the jurisdiction.
    pub jurisdiction: String,
    /// The responsible department, when one is configured.
    pub department: Option<Named>,
    /// The service area the point falls in, if any.
    pub service_area: Option<Named>,
}

/// Where a report would go ("this goes to Public Works, Dorchester"), by the same rules as a
/// real submission.
#[utoipa::path(
    tag = "reports",
    params(RoutingQuery),
    responses(
        (status = 200, body = RoutingPreview),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Outside every jurisdiction or unknown category", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/routing")]
pub async fn preview_routing(
    state: web::Data<AppState>,
    query: crate::extract::QueryParams<RoutingQuery>,
) -> Result<web::Json<RoutingPreview>, ApiError> {
    let query = query.0;
    let mut errors = Vec::new();
    let Some((position, category)) =
        place_query(query.lat, query.long, &query.category, &mut errors)
    else {
        return Err(ApiError::invalid_query(errors));
    };
    let mut conn = state.pool.get().await?;
    let (placement, category) =
        submission::resolve(&mut conn, &state.catalog, position, &category).await?;
    let department = submission::route(&mut conn, &state.catalog, placement, &category).await?;
    let names = catalog::names(&mut conn, placement, department).await?;
    Ok(web::Json(RoutingPreview {
        jurisdiction: names.jurisdiction_slug,
        department: names.department.map(|(code, name)| Named { code, name }),
        service_area: names.service_area.map(|(code, name)| Named { code, name }),
    }))
}
