//! Liveness and readiness probes for load balancers and orchestrators.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{AppState, error::ApiError};

/// The state of a probe.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when answered with 200.
    pub status: &'static str,
}

/// Liveness: the process answers HTTP.
#[utoipa::path(tag = "health", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Readiness: the database answers too. 503 while it does not.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, body = Health),
        (status = 503, description = "The database is unreachable", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    signalons_db::ping(&mut conn).await.map_err(|error| {
        tracing::error!(%error, "database did not answer the readiness probe");
        ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the database is not answering",
        )
    })?;
    Ok(HttpResponse::Ok().json(Health { status: "ok" }))
}
