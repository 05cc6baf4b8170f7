//! Live queues: every replica LISTENs on PostgreSQL's queue channel and fans the changes out to
//! its Server-Sent Events streams, so a change made through any replica reaches every crew.

use std::{pin::pin, time::Duration};

use actix_web::{HttpResponse, get, web};
use futures_util::StreamExt;
use signalons_db::{
    AsyncConnection, AsyncPgConnection,
    jobs::{self as job_queries, QueueChange},
};
use signalons_domain::{Actor, Role};
use tokio::sync::{broadcast, watch};

use crate::{
    AppState,
    accounts::require_staff,
    auth::Authenticated,
    error::{ApiError, Problem},
};

/// How many changes a slow stream may fall behind before it is told to reload.
const BACKLOG: usize = 1024;
/// A comment line this often keeps proxies from closing an idle stream.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// The fan-out of queue changes inside one server process.
#[derive(Debug, Clone)]
pub struct LiveQueue {
    changes: broadcast::Sender<QueueChange>,
    listening: watch::Receiver<bool>,
    listening_tx: std::sync::Arc<watch::Sender<bool>>,
}

impl Default for LiveQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveQueue {
    pub fn new() -> Self {
        let (changes, _) = broadcast::channel(BACKLOG);
        let (listening_tx, listening) = watch::channel(false);
        Self {
            changes,
            listening,
            listening_tx: std::sync::Arc::new(listening_tx),
        }
    }

    /// Listens to `database_url`'s queue channel for as long as the process runs, reconnecting
    /// with backoff when the connection drops.
    pub fn spawn_listener(&self, database_url: String) {
        let changes = self.changes.clone();
        let listening = self.listening_tx.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(250);
            loop {
                match listen(&database_url, &changes, &listening).await {
                    Ok(()) => backoff = Duration::from_millis(250),
                    Err(error) => {
                        tracing::warn!(%error, "queue listener lost its connection; reconnecting");
                    }
                }
                listening.send_replace(false);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        });
    }
}

async fn listen(
    database_url: &str,
    changes: &broadcast::Sender<QueueChange>,
    listening: &watch::Sender<bool>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut conn = AsyncPgConnection::establish(database_url).await?;
    job_queries::listen(&mut conn).await?;
    listening.send_replace(true);
    tracing::info!("listening for queue changes");
    let mut notifications = pin!(conn.notifications_stream());
    while let Some(notification) = notifications.next().await {
        let notification = notification?;
        match serde_json::from_str::<QueueChange>(&notification.payload) {
            // Nobody streaming is not an error.
            Ok(change) => drop(changes.send(change)),
            Err(error) => tracing::warn!(%error, "unreadable queue notification"),
        }
    }
    Ok(())
}

fn concerns(actor: &Actor, change: &QueueChange) -> bool {
    actor.jurisdiction_id == Some(change.jurisdiction_id)
        && (actor.role == Role::Admin
            || change
                .department_id
                .is_some_and(|d| actor.department_ids.contains(&d)))
}

fn event(name: &str, data: &str) -> web::Bytes {
    web::Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// Changes to the caller's queue as Server-Sent Events, from every server replica: first
/// `ready` once the stream is live, then one `queue` event per change (`data` is a JSON object:
/// `incident_id`, `department_id`, `change`, `status`, `priority`, `version`, `assignee_id`),
/// and `resync` when the stream fell behind and the queue should be reloaded.
#[utoipa::path(
    tag = "crews",
    responses(
        (status = 200, description = "An endless event stream", content_type = "text/event-stream", body = String),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/queue/stream")]
pub async fn queue_stream(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    require_staff(&actor)?;
    let receiver = state.live.changes.subscribe();
    let mut listening = state.live.listening.clone();
    // A stream that says `ready` must not miss a change made right after.
    let live = tokio::time::timeout(Duration::from_secs(5), listening.wait_for(|l| *l))
        .await
        .is_ok_and(|r| r.is_ok());
    if !live {
        return Err(ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "live_updates_unavailable",
            "live updates are not available right now; poll the queue",
        ));
    }
    let opening = futures_util::stream::once(async {
        Ok::<_, actix_web::Error>(web::Bytes::from("retry: 3000\n\n"))
    })
    .chain(futures_util::stream::once(async {
        Ok(event("ready", "{}"))
    }));
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.reset();
    let changes = futures_util::stream::unfold(
        (receiver, heartbeat, actor),
        |(mut receiver, mut heartbeat, actor)| async move {
            loop {
                tokio::select! {
                    _ = heartbeat.tick() => {
                        return Some((Ok(web::Bytes::from(": keep-alive\n\n")), (receiver, heartbeat, actor)));
                    }
                    received = receiver.recv() => match received {
                        Ok(change) if concerns(&actor, &change) => {
                            let data = serde_json::to_string(&change).unwrap_or_default();
                            return Some((Ok(event("queue", &data)), (receiver, heartbeat, actor)));
                        }
                        Ok(_) => continue,
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            return Some((Ok(event("resync", "{}")), (receiver, heartbeat, actor)));
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            }
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(opening.chain(changes)))
}
