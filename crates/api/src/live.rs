//! Live queues: every replica LISTENs on PostgreSQL's queue channel and fans the changes out to
//! its Server-Sent Events streams, so a change made through any replica reaches every crew.
//!
//! A stream keeps the rights its account has now, not those it had when it opened: it checks
//! the account again when an admin changes it (announced on the accounts channel, from any
//! replica) and every [`ACCOUNT_RECHECK`] (for changes made elsewhere), follows new departments,
//! and ends — with a last `revoked` event — once the account is disabled or no longer staff.

use std::{pin::pin, time::Duration};

use actix_web::{HttpResponse, get, web};
use futures_util::StreamExt;
use signalons_db::{
    AsyncConnection, AsyncPgConnection, DbPool,
    accounts::ACCOUNTS_CHANNEL,
    jobs::{self as job_queries, QUEUE_CHANNEL, QueueChange},
};
use signalons_domain::{Actor, Role};
use tokio::{
    sync::{broadcast, watch},
    time::Interval,
};

use crate::{
    AppState,
    accounts::require_staff,
    auth::{Authenticated, load_actor},
    error::{ApiError, Problem},
};

/// How many changes a slow stream may fall behind before it is told to reload.
const BACKLOG: usize = 1024;
/// A comment line this often keeps proxies from closing an idle stream.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// How often a stream checks its account even when nobody announced a change (changes made
/// from the command line or directly in the database).
pub const ACCOUNT_RECHECK: Duration = Duration::from_secs(30);

/// The fan-out of queue changes inside one server process.
#[derive(Debug, Clone)]
pub struct LiveQueue {
    changes: broadcast::Sender<QueueChange>,
    /// Ids of accounts an admin changed.
    accounts: broadcast::Sender<i64>,
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
        let (accounts, _) = broadcast::channel(BACKLOG);
        let (listening_tx, listening) = watch::channel(false);
        Self {
            changes,
            accounts,
            listening,
            listening_tx: std::sync::Arc::new(listening_tx),
        }
    }

    /// Listens to `database_url`'s queue and accounts channels for as long as the process
    /// runs, reconnecting with backoff when the connection drops.
    pub fn spawn_listener(&self, database_url: String) {
        let live = self.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(250);
            loop {
                match live.listen(&database_url).await {
                    Ok(()) => backoff = Duration::from_millis(250),
                    Err(error) => {
                        tracing::warn!(%error, "queue listener lost its connection; reconnecting");
                    }
                }
                live.listening_tx.send_replace(false);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        });
    }

    async fn listen(
        &self,
        database_url: &str,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let mut conn = AsyncPgConnection::establish(database_url).await?;
        job_queries::listen(&mut conn).await?;
        self.listening_tx.send_replace(true);
        tracing::info!("listening for queue and account changes");
        let mut notifications = pin!(conn.notifications_stream());
        while let Some(notification) = notifications.next().await {
            let notification = notification?;
            // Nobody streaming is not an error: sends without receivers are dropped.
            match notification.channel.as_str() {
                QUEUE_CHANNEL => match serde_json::from_str::<QueueChange>(&notification.payload) {
                    Ok(change) => drop(self.changes.send(change)),
                    Err(error) => tracing::warn!(%error, "unreadable queue notification"),
                },
                ACCOUNTS_CHANNEL => match notification.payload.parse::<i64>() {
                    Ok(user) => drop(self.accounts.send(user)),
                    Err(error) => tracing::warn!(%error, "unreadable account notification"),
                },
                other => tracing::warn!(channel = other, "notification on an unknown channel"),
            }
        }
        Ok(())
    }
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
/// and `resync` when the stream fell behind and the queue should be reloaded. The stream
/// follows the account as it is now (its departments); it ends with a `revoked` event when the
/// account is disabled or no longer staff.
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
    let accounts = state.live.accounts.subscribe();
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
    let mut recheck = tokio::time::interval(ACCOUNT_RECHECK);
    recheck.reset();
    let stream = Stream {
        changes: receiver,
        accounts,
        heartbeat,
        recheck,
        actor,
        pool: state.pool.clone(),
        ended: false,
    };
    let changes = futures_util::stream::unfold(stream, |mut stream| async move {
        let bytes = stream.next_event().await?;
        Some((Ok(bytes), stream))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(opening.chain(changes)))
}

/// One client's stream: the changes it may see, as its account stands.
struct Stream {
    changes: broadcast::Receiver<QueueChange>,
    accounts: broadcast::Receiver<i64>,
    heartbeat: Interval,
    recheck: Interval,
    actor: Actor,
    pool: DbPool,
    /// Set once the account lost its rights: the next read ends the stream.
    ended: bool,
}

impl Stream {
    /// The next bytes to send, or `None` to end the stream.
    async fn next_event(&mut self) -> Option<web::Bytes> {
        if self.ended {
            return None;
        }
        loop {
            tokio::select! {
                // An account change is read before the queue changes that followed it.
                biased;
                changed = self.accounts.recv() => match changed {
                    Ok(user) if user != self.actor.user_id => continue,
                    // Ours, or some were missed and one may have been ours.
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        if let Some(revoked) = self.recheck_account().await {
                            return Some(revoked);
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = self.recheck.tick() => {
                    if let Some(revoked) = self.recheck_account().await {
                        return Some(revoked);
                    }
                }
                _ = self.heartbeat.tick() => return Some(web::Bytes::from(": keep-alive\n\n")),
                received = self.changes.recv() => match received {
                    Ok(change) if concerns(&self.actor, &change) => {
                        let data = serde_json::to_string(&change).unwrap_or_default();
                        return Some(event("queue", &data));
                    }
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        return Some(event("resync", "{}"));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    }

    /// Reads the account again: the stream follows its departments, and ends when it is
    /// disabled, gone, no longer staff or moved to another city (the `revoked` event returned
    /// is its last). A database that cannot be reached leaves the rights as they were.
    async fn recheck_account(&mut self) -> Option<web::Bytes> {
        let reloaded = match self.pool.get().await {
            Ok(mut conn) => load_actor(&mut conn, self.actor.user_id).await,
            Err(error) => {
                tracing::warn!(%error, "cannot check a live stream's account");
                return None;
            }
        };
        match reloaded {
            Ok(Some(actor))
                if actor.role.is_staff() && actor.jurisdiction_id == self.actor.jurisdiction_id =>
            {
                self.actor = actor;
                None
            }
            Ok(_) => {
                tracing::info!(
                    user = self.actor.user_id,
                    "live stream closed: the account lost its rights"
                );
                self.ended = true;
                Some(event(
                    "revoked",
                    r#"{"reason":"this account was disabled or no longer works the queue"}"#,
                ))
            }
            Err(error) => {
                tracing::warn!(%error, "cannot check a live stream's account");
                None
            }
        }
    }
}
