//! Webhooks for third-party apps: an API key with the `webhooks` scope subscribes to a city's
//! `report.created` and `report.status_changed` events, delivered signed like a department's.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use signalons_db::outbox::{self, NewSubscription};
use signalons_domain::{
    Violation,
    delivery::{MIN_WEBHOOK_SECRET, web_url},
};
use utoipa::ToSchema;

use crate::{
    AppState, api_keys,
    error::{ApiError, FieldError, Problem},
    extract::JsonBody,
    rate_limit::{Identity, Limited},
    reports::check,
};

/// The header carrying an app's API key.
pub const API_KEY_HEADER: &str = "X-Api-Key";
/// Events an app may subscribe to.
pub const EVENTS: [&str; 2] = ["report.created", "report.status_changed"];

/// A subscription to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// The city, by slug (`boston`).
    pub jurisdiction: String,
    /// Where to POST; http(s), no credentials.
    #[schema(max_length = 2000)]
    pub url: String,
    /// Signs every delivery (`Signalons-Signature`); 16 to 200 characters.
    #[schema(min_length = 16, max_length = 200)]
    pub secret: String,
    /// `report.created` and/or `report.status_changed`.
    pub events: Vec<String>,
}

/// A live subscription (its secret is never shown again).
#[derive(Debug, Serialize, ToSchema)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl From<outbox::Subscription> for Webhook {
    fn from(s: outbox::Subscription) -> Self {
        Self {
            id: s.id,
            url: s.url,
            events: s.events,
            created_at: s.created_at,
        }
    }
}

/// The id of the app key the request carries, once the request is within the key's and the
/// client's rate limits (counted before the key is looked up, so unknown keys cost as much).
async fn app_key(state: &AppState, req: &HttpRequest) -> Result<i64, ApiError> {
    let key = req
        .headers()
        .get(API_KEY_HEADER)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| {
            ApiError::unauthenticated("api_key_required", "send the app's key in X-Api-Key")
        })?;
    state.limiter.check(
        Limited::AppRequest,
        &[Identity::client(req), Identity::api_key(key)],
    )?;
    let mut conn = state.pool.get().await?;
    api_keys::key_with_scope(&mut conn, key, api_keys::WEBHOOKS)
        .await?
        .ok_or_else(|| {
            ApiError::forbidden(
                "invalid_api_key",
                "unknown or revoked key, or a key without the `webhooks` scope",
            )
        })
}

/// Subscribe to a city's events (an API key with the `webhooks` scope in `X-Api-Key`).
#[utoipa::path(
    tag = "webhooks",
    params(("X-Api-Key" = String, Header, description = "The app's API key")),
    request_body = NewWebhook,
    responses(
        (status = 201, body = Webhook),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/webhooks")]
pub async fn create_webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBody(body): JsonBody<NewWebhook>,
) -> Result<HttpResponse, ApiError> {
    let key = app_key(&state, &req).await?;
    let mut errors = Vec::new();
    let url = check(
        "url",
        web_url(&body.url).and_then(|url| {
            state.delivery_targets.check_url(&url)?;
            Ok(url)
        }),
        &mut errors,
    );
    if !(MIN_WEBHOOK_SECRET..=200).contains(&body.secret.len()) {
        errors.push(FieldError::new(
            "secret",
            Violation::new("out_of_range", "the secret is 16 to 200 characters"),
        ));
    }
    let mut events = body.events.clone();
    events.sort();
    events.dedup();
    if events.is_empty() || events.iter().any(|e| !EVENTS.contains(&e.as_str())) {
        errors.push(FieldError::new(
            "events",
            Violation::new(
                "unknown_event",
                format!("events are among {}", EVENTS.join(", ")),
            ),
        ));
    }
    let mut conn = state.pool.get().await?;
    let jurisdiction =
        signalons_db::catalog::jurisdiction_id(&mut conn, &body.jurisdiction).await?;
    if jurisdiction.is_none() {
        errors.push(FieldError::new(
            "jurisdiction",
            Violation::new(
                "unknown_jurisdiction",
                format!("no city `{}`", body.jurisdiction),
            ),
        ));
    }
    let (Some(url), Some(jurisdiction)) = (url, jurisdiction) else {
        return Err(ApiError::invalid_body(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::invalid_body(errors));
    }
    let stored = outbox::subscribe(
        &mut conn,
        NewSubscription {
            api_key_id: key,
            jurisdiction_id: jurisdiction,
            url: &url,
            secret: &body.secret,
            events,
            created_at: Utc::now(),
        },
    )
    .await?;
    tracing::info!(
        subscription = stored.id,
        key,
        "webhook subscription created"
    );
    Ok(HttpResponse::Created().json(Webhook::from(stored)))
}

/// The app's live subscriptions.
#[utoipa::path(
    tag = "webhooks",
    params(("X-Api-Key" = String, Header, description = "The app's API key")),
    responses(
        (status = 200, body = [Webhook]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/webhooks")]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<web::Json<Vec<Webhook>>, ApiError> {
    let key = app_key(&state, &req).await?;
    let mut conn = state.pool.get().await?;
    let live = outbox::subscriptions_of(&mut conn, key).await?;
    Ok(web::Json(live.into_iter().map(Webhook::from).collect()))
}

/// End a subscription; messages not yet sent are dropped.
#[utoipa::path(
    tag = "webhooks",
    params(
        ("id" = i64, Path, description = "Subscription id"),
        ("X-Api-Key" = String, Header, description = "The app's API key"),
    ),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/webhooks/{id}")]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let key = app_key(&state, &req).await?;
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    if outbox::unsubscribe_webhook(&mut conn, key, id, Utc::now()).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found(
            "webhook_not_found",
            format!("no live subscription {id} of this key"),
        ))
    }
}
