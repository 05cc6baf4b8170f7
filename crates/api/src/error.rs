//! The one error type of the HTTP layer, rendered as RFC 9457 `application/problem+json`.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use serde::Serialize;
use signalons_domain::Violation;
use utoipa::ToSchema;

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field, as a JSON path (`latitude`) or a query parameter name (`limit`).
    pub field: String,
    /// Stable machine-readable reason, e.g. `out_of_range`, `too_long`, `missing_field`.
    pub code: String,
    /// Human explanation.
    pub detail: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, violation: Violation) -> Self {
        Self {
            field: field.into(),
            code: violation.code.to_owned(),
            detail: violation.message,
        }
    }
}

/// An RFC 9457 problem: what went wrong, with a stable `code` clients can switch on.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:signalons:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What happened this time.
    pub detail: String,
    /// Stable machine-readable code of the kind of problem.
    pub code: String,
    /// The invalid fields, when the request had any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// On a `409` conflict: the resource as it is now, so the client can decide again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<serde_json::Value>,
}

/// An error answered to a client. Unexpected failures are logged in full and answered with a
/// bare 500, so no internals reach the client.
#[derive(Debug, thiserror::Error)]
#[error("{status} {code}: {detail}")]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    current: Option<serde_json::Value>,
    retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            current: None,
            retry_after_secs: None,
        }
    }

    /// 401: no valid credentials; answered with `WWW-Authenticate: Bearer`.
    pub fn unauthenticated(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    /// 403: the caller is known but may not do this.
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, detail)
    }

    /// 409 with the resource as it stands now.
    pub fn conflict(
        code: &'static str,
        detail: impl Into<String>,
        current: serde_json::Value,
    ) -> Self {
        Self {
            current: Some(current),
            ..Self::new(StatusCode::CONFLICT, code, detail)
        }
    }

    /// 429: too many requests; retry after `retry_after_secs`.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self {
            retry_after_secs: Some(retry_after_secs.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests; retry in {} s", retry_after_secs.max(1)),
            )
        }
    }

    /// 422: the body is well-formed but some fields are invalid.
    pub fn invalid_body(errors: Vec<FieldError>) -> Self {
        Self {
            errors,
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "some fields of the request body are invalid",
            )
        }
    }

    /// 400: some query parameters are invalid.
    pub fn invalid_query(errors: Vec<FieldError>) -> Self {
        Self {
            errors,
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                "some query parameters are invalid",
            )
        }
    }

    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, detail)
    }

    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    /// 500 for a failure the client cannot act on; the cause is logged, never sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed unexpectedly");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the server failed to handle this request; it has been logged",
        )
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Seconds to wait before retrying, on a `429`.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after_secs
    }

    pub fn problem(&self) -> Problem {
        Problem {
            problem_type: format!("urn:signalons:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_owned(),
            errors: self.errors.clone(),
            current: self.current.clone(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.content_type("application/problem+json");
        if self.status == StatusCode::UNAUTHORIZED {
            let error = if self.code == "unauthenticated" {
                ""
            } else {
                ", error=\"invalid_token\""
            };
            response.insert_header((
                actix_web::http::header::WWW_AUTHENTICATE,
                format!("Bearer realm=\"signalons\"{error}"),
            ));
        }
        if let Some(seconds) = self.retry_after_secs {
            response.insert_header((actix_web::http::header::RETRY_AFTER, seconds.to_string()));
        }
        response.json(self.problem())
    }
}

impl From<signalons_db::DbError> for ApiError {
    fn from(error: signalons_db::DbError) -> Self {
        Self::internal(&error)
    }
}

impl From<signalons_db::PoolError> for ApiError {
    fn from(error: signalons_db::PoolError) -> Self {
        tracing::error!(error = %error, "no database connection available");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the database is not reachable right now; retry later",
        )
    }
}
