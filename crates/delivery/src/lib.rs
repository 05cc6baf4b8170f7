//! The outbox worker. Every server process runs one: it claims due messages one at a time with
//! `FOR UPDATE SKIP LOCKED` (so replicas share the work), each under its own lease, and sends
//! up to [`IN_FLIGHT`] at once (at most [`PER_DESTINATION`] to one receiver, so a slow one
//! cannot hold up the others) by email (lettre, SMTP), as a signed webhook or as an Open311
//! request (reqwest). It records each outcome: delivered, retried later with exponential
//! backoff and jitter, or dead after the configured number of attempts. A worker that dies
//! mid-delivery loses nothing: the message's lease ends and another worker sends it again, with
//! the same delivery key so the receiver can tell; an outcome arriving after its lease passed
//! to another worker is not recorded.

mod render;

use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Duration};

use chrono::Utc;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Tokio1Executor,
    transport::smtp::authentication::Credentials,
};
use signalons_db::{
    DbPool,
    outbox::{self, OutboxMessage, Outcome},
    reports,
};
use signalons_domain::delivery::{Channel, Targets, is_public_ip, retry_delay, webhook_signature};
use tokio::task::JoinSet;
use tracing::Instrument;

/// How a connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain SMTP (a local relay or a test sink).
    None,
    /// Upgraded with STARTTLS (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// Where mail goes out.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<secret>"))
            .finish()
    }
}

/// Everything the worker needs to know.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    pub smtp: SmtpSettings,
    /// The `From:` of every email, e.g. `Signalons Boston <noreply@boston.example.org>`.
    pub mail_from: String,
    /// Where residents and crews open links, e.g. `https://signalons.boston.example.org`.
    pub public_url: String,
    /// Attempts before a message is dead.
    pub max_attempts: u32,
    /// The first retry waits this long; each further one twice as long (at most an hour).
    pub retry_base: Duration,
    /// How long a claimed message is left to its worker before another may take it; at least
    /// twice `timeout`, so that a live worker always finishes first.
    pub lease: Duration,
    /// How often an idle worker looks for due messages.
    pub poll_interval: Duration,
    /// The longest one attempt may take, from reading the message to the receiver's answer
    /// (webhook, Open311 or SMTP); beyond it the attempt counts as failed.
    pub timeout: Duration,
    /// Which addresses webhooks and Open311 forwards may reach.
    pub targets: Targets,
    /// Signs unsubscribe links (see `signalons_domain::delivery::unsubscribe_token`).
    pub unsubscribe_key: Vec<u8>,
    /// How often the status of reports forwarded to other Open311 servers is read back.
    pub status_poll_interval: Duration,
}

/// Why the worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("invalid SMTP settings: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("invalid mail_from address: {0}")]
    From(#[from] lettre::address::AddressError),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error(
        "the delivery lease ({lease:?}) must be at least twice the delivery timeout ({timeout:?}): \
         otherwise another worker takes a message its worker is still sending"
    )]
    Lease { lease: Duration, timeout: Duration },
}

/// Why one attempt failed.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    /// Worth retrying: the receiver is down, slow or refusing for now.
    #[error("{0}")]
    Transient(String),
    /// Retrying cannot help (the message cannot be written, the receiver refuses it as it is).
    #[error("{0}")]
    Permanent(String),
}

fn database(error: impl std::fmt::Display) -> AttemptError {
    AttemptError::Transient(format!("database: {error}"))
}

/// Messages one worker sends at once.
pub const IN_FLIGHT: usize = 8;
/// Messages to one destination (a URL, an address) one worker sends at once: a receiver that
/// hangs holds at most this many of the [`IN_FLIGHT`] slots.
pub const PER_DESTINATION: usize = 2;

/// What an attempt sends, read from the database before anything goes out (no connection is
/// held while a receiver makes us wait).
enum Dispatch {
    /// Nothing to send, ever (see [`Outcome::Skipped`]).
    Skip(String),
    Mail {
        to: String,
        /// Subject, body, delivery key.
        content: (String, String, String),
        unsubscribe: Option<String>,
    },
    Webhook {
        url: String,
        secret: String,
        body: serde_json::Value,
    },
    Forward(Box<Forward>),
}

/// A report to forward to a department's Open311 server.
struct Forward {
    endpoint: String,
    api_key: String,
    jurisdiction_id: Option<String>,
    department: i64,
    report: signalons_db::models::PublicReport,
    report_url: String,
    attributes: serde_json::Value,
}

/// Resolves host names for webhooks and Open311 forwards, keeping public addresses only: a
/// name that points into the server's own network (DNS can say anything) is not called.
struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|address| is_public_ip(address.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Delivers the outbox of one database.
pub struct Worker {
    pool: DbPool,
    settings: DeliverySettings,
    mailer: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
    http: reqwest::Client,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("settings", &self.settings)
            .finish()
    }
}

impl Worker {
    pub fn new(pool: DbPool, settings: DeliverySettings) -> Result<Self, SetupError> {
        if settings.lease < settings.timeout.saturating_mul(2) {
            return Err(SetupError::Lease {
                lease: settings.lease,
                timeout: settings.timeout,
            });
        }
        let smtp = &settings.smtp;
        let mut builder = match smtp.security {
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            }
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)?
            }
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)?,
        }
        .port(smtp.port)
        .timeout(Some(settings.timeout));
        if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        let mut http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Signalons/", env!("CARGO_PKG_VERSION")));
        if settings.targets == Targets::PublicOnly {
            http = http.dns_resolver(Arc::new(PublicOnlyResolver));
        }
        Ok(Self {
            from: settings.mail_from.parse()?,
            mailer: builder.build(),
            http: http.build()?,
            pool,
            settings,
        })
    }

    /// Runs until the task is dropped or aborted (which aborts the sends in flight too).
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(Arc::new(self).run())
    }

    async fn run(self: Arc<Self>) {
        let mut sending: JoinSet<()> = JoinSet::new();
        let mut destinations: HashMap<tokio::task::Id, String> = HashMap::new();
        let mut chores: JoinSet<()> = JoinSet::new();
        let mut next_chores = tokio::time::Instant::now();
        loop {
            while chores.try_join_next().is_some() {}
            if chores.is_empty() && tokio::time::Instant::now() >= next_chores {
                chores.spawn(self.clone().chores());
                next_chores = tokio::time::Instant::now() + self.settings.status_poll_interval;
            }
            while sending.len() < IN_FLIGHT {
                let busy = busy_destinations(destinations.values());
                match self.claim(&busy).await {
                    Ok(Some(message)) => {
                        let destination = message.destination.clone();
                        let handle = sending.spawn(self.clone().deliver(message));
                        destinations.insert(handle.id(), destination);
                    }
                    Ok(None) => break,
                    Err(error) => {
                        tracing::warn!(%error, "delivery worker could not reach the database");
                        break;
                    }
                }
            }
            tokio::select! {
                Some(done) = sending.join_next_with_id(), if !sending.is_empty() => {
                    let id = match done {
                        Ok((id, ())) => id,
                        Err(error) => {
                            tracing::error!(%error, "a delivery task failed");
                            error.id()
                        }
                    };
                    destinations.remove(&id);
                }
                () = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
    }

    /// What runs every `status_poll_interval`: forwarded reports' statuses, daily digests.
    async fn chores(self: Arc<Self>) {
        if let Err(error) = self.poll_forwards().await {
            tracing::warn!(%error, "could not read forwarded reports back");
        }
        if let Err(error) = self.queue_digests().await {
            tracing::warn!(%error, "could not queue the alert digests");
        }
    }

    async fn claim(
        &self,
        busy: &[String],
    ) -> Result<Option<OutboxMessage>, Box<dyn std::error::Error + Send + Sync>> {
        let mut conn = self.pool.get().await?;
        let lease = chrono::Duration::from_std(self.settings.lease)?;
        Ok(outbox::claim(&mut conn, lease, Utc::now(), busy).await?)
    }

    /// Attempts one claimed message and records the outcome.
    async fn deliver(self: Arc<Self>, message: OutboxMessage) {
        let span = tracing::info_span!("deliver", key = %message.delivery_key, channel = %message.channel, attempt = message.attempts);
        async move {
            let attempt = tokio::time::timeout(self.settings.timeout, self.attempt(&message))
                .await
                .unwrap_or_else(|_| {
                    Err(AttemptError::Transient(format!(
                        "no outcome within {} s",
                        self.settings.timeout.as_secs_f64()
                    )))
                });
            let outcome = self.outcome(&message, attempt);
            match &outcome {
                Outcome::Delivered => tracing::info!("delivered"),
                Outcome::Skipped(reason) => tracing::info!(%reason, "skipped"),
                Outcome::RetryAt(at, error) => {
                    tracing::warn!(%error, retry_at = %at, "delivery failed; will retry")
                }
                Outcome::Dead(error) => tracing::error!(%error, "delivery failed for good"),
            }
            let recorded = match self.pool.get().await {
                Ok(mut conn) => {
                    outbox::finish(&mut conn, message.id, message.attempts, &outcome, Utc::now())
                        .await
                        .map_err(|error| error.to_string())
                }
                Err(error) => Err(error.to_string()),
            };
            match recorded {
                Ok(true) => {}
                Ok(false) => tracing::warn!(
                    "the lease had passed to another worker: its outcome stands, not this one"
                ),
                Err(error) => tracing::warn!(
                    %error,
                    "the outcome could not be recorded; the message is attempted again once its lease ends"
                ),
            }
        }
        .instrument(span)
        .await;
    }

    /// What an attempt's result means for the message.
    fn outcome(&self, message: &OutboxMessage, attempt: Result<Outcome, AttemptError>) -> Outcome {
        match attempt {
            Ok(outcome) => outcome,
            Err(AttemptError::Permanent(error)) => Outcome::Dead(error),
            Err(AttemptError::Transient(error))
                if message.attempts >= self.settings.max_attempts as i32 =>
            {
                Outcome::Dead(format!(
                    "gave up after {} attempts: {error}",
                    message.attempts
                ))
            }
            Err(AttemptError::Transient(error)) => {
                let wait = retry_delay(
                    self.settings.retry_base,
                    message.attempts as u32,
                    rand::random::<f64>(),
                );
                let wait = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
                Outcome::RetryAt(Utc::now() + wait, error)
            }
        }
    }

    async fn attempt(&self, message: &OutboxMessage) -> Result<Outcome, AttemptError> {
        let dispatch = {
            let mut conn = self.pool.get().await.map_err(database)?;
            self.prepare(&mut conn, message).await?
        };
        match dispatch {
            Dispatch::Skip(reason) => Ok(Outcome::Skipped(reason)),
            Dispatch::Mail {
                to,
                content,
                unsubscribe,
            } => self.send_mail(&to, content, unsubscribe.as_deref()).await,
            Dispatch::Webhook { url, secret, body } => {
                self.post_webhook(&url, &secret, &message.delivery_key, &body)
                    .await
            }
            Dispatch::Forward(forward) => {
                let remote = self.forward(&forward, &message.delivery_key).await?;
                let mut conn = self.pool.get().await.map_err(database)?;
                outbox::record_forward(
                    &mut conn,
                    forward.report.id,
                    forward.department,
                    &remote,
                    Utc::now(),
                )
                .await
                .map_err(database)?;
                Ok(Outcome::Delivered)
            }
        }
    }

    /// Reads what `message` needs and decides what to send, checking again what may have
    /// changed since it was queued: an address that unsubscribed, an alert cancelled, an app's
    /// subscription or key ended, a department's channel.
    async fn prepare(
        &self,
        conn: &mut signalons_db::AsyncPgConnection,
        message: &OutboxMessage,
    ) -> Result<Dispatch, AttemptError> {
        let to_resident = message.channel == "email"
            && message.department_id.is_none()
            && message.message != "alert_confirm";
        if to_resident
            && outbox::opted_out(conn, &message.destination)
                .await
                .map_err(database)?
        {
            return Ok(Dispatch::Skip("the address unsubscribed".to_owned()));
        }
        if let Some(alert) = message.alert_id
            && !signalons_db::alerts::is_live(conn, alert)
                .await
                .map_err(database)?
        {
            return Ok(Dispatch::Skip("the alert was cancelled".to_owned()));
        }
        if matches!(message.message.as_str(), "alert_confirm" | "area_digest") {
            return self.alert_mail(conn, message).await;
        }
        let report_id = message
            .report_id
            .ok_or_else(|| AttemptError::Permanent("a message without its report".to_owned()))?;
        let report = reports::find_public(conn, report_id)
            .await
            .map_err(database)?
            .ok_or_else(|| AttemptError::Permanent("the report no longer exists".to_owned()))?;
        let context = outbox::context(conn, report_id, message.department_id)
            .await
            .map_err(database)?;
        let photos = signalons_db::media::public_for_report(conn, report_id)
            .await
            .map_err(database)?
            .into_iter()
            .map(|photo| photo.storage_key)
            .collect();
        let letter =
            render::Letter::new(&self.settings, message, &report, &context).with_photos(photos);
        if let Some(id) = message.subscription_id {
            let subscription = outbox::live_subscription(conn, id)
                .await
                .map_err(database)?;
            return Ok(match subscription {
                Some(s) => Dispatch::Webhook {
                    url: s.url,
                    secret: s.secret,
                    body: letter.webhook_body(),
                },
                None => Dispatch::Skip(
                    "the app ended its subscription, or its API key was revoked".to_owned(),
                ),
            });
        }
        match message.message.as_str() {
            "report_created" => {
                // Sent where the department says now: it may have changed since the report.
                let channel = Channel::parse(
                    context.department_channel.as_deref().unwrap_or("internal"),
                    context
                        .department_config
                        .as_ref()
                        .unwrap_or(&serde_json::json!({})),
                )
                .map_err(|violation| AttemptError::Permanent(violation.message))?;
                Ok(match channel {
                    Channel::Internal => {
                        Dispatch::Skip("the department now works from the crew queue".to_owned())
                    }
                    Channel::Email { to } => Dispatch::Mail {
                        to,
                        content: letter.department_mail(),
                        unsubscribe: None,
                    },
                    Channel::Webhook { url, secret } => Dispatch::Webhook {
                        url,
                        secret,
                        body: letter.webhook_body(),
                    },
                    Channel::Open311 {
                        endpoint,
                        api_key,
                        jurisdiction_id,
                    } => {
                        let report_url = letter.report_url();
                        drop(letter);
                        Dispatch::Forward(Box::new(Forward {
                            endpoint,
                            api_key,
                            jurisdiction_id,
                            department: message.department_id.unwrap_or_default(),
                            report,
                            report_url,
                            attributes: context.attributes.clone(),
                        }))
                    }
                })
            }
            "status_changed" => {
                let unsubscribe = letter.unsubscribe_url(&message.destination);
                Ok(Dispatch::Mail {
                    to: message.destination.clone(),
                    content: letter.resident_mail(&unsubscribe),
                    unsubscribe: Some(unsubscribe),
                })
            }
            "area_alert" => {
                let alert = message.alert_id.unwrap_or_default();
                let unsubscribe = letter.unsubscribe_url(&message.destination);
                Ok(Dispatch::Mail {
                    to: message.destination.clone(),
                    content: letter.area_alert_mail(alert, &unsubscribe),
                    unsubscribe: Some(unsubscribe),
                })
            }
            other => Err(AttemptError::Permanent(format!(
                "unknown message kind {other}"
            ))),
        }
    }

    /// An alert's confirmation request or daily digest (messages about no single report).
    async fn alert_mail(
        &self,
        conn: &mut signalons_db::AsyncPgConnection,
        message: &OutboxMessage,
    ) -> Result<Dispatch, AttemptError> {
        let alert = message.alert_id.ok_or_else(|| {
            AttemptError::Permanent("an alert message without its alert".to_owned())
        })?;
        let (locale, city) =
            signalons_db::catalog::jurisdiction_locale(conn, message.jurisdiction_id)
                .await
                .map_err(database)?;
        let french = locale.starts_with("fr");
        let key = message.delivery_key.clone();
        if message.message == "alert_confirm" {
            let (subject, body) = render::alert_confirmation(&self.settings, alert, french, &city);
            return Ok(Dispatch::Mail {
                to: message.destination.clone(),
                content: (subject, body, key),
                unsubscribe: None,
            });
        }
        let ids: Vec<i64> = message.payload["report_ids"]
            .as_array()
            .map(|ids| {
                ids.iter()
                    .filter_map(serde_json::Value::as_i64)
                    .take(100)
                    .collect()
            })
            .unwrap_or_default();
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(report) = reports::find_public(conn, id).await.map_err(database)? {
                found.push(report);
            }
        }
        if found.is_empty() {
            return Ok(Dispatch::Skip(
                "the reports of this digest are gone".to_owned(),
            ));
        }
        let unsubscribe = render::unsubscribe_url(&self.settings, &message.destination);
        let (subject, body) =
            render::alert_digest(&self.settings, alert, french, &found, &unsubscribe);
        Ok(Dispatch::Mail {
            to: message.destination.clone(),
            content: (subject, body, key),
            unsubscribe: Some(unsubscribe),
        })
    }

    async fn send_mail(
        &self,
        to: &str,
        (subject, body, key): (String, String, String),
        unsubscribe: Option<&str>,
    ) -> Result<Outcome, AttemptError> {
        let to: lettre::message::Mailbox = to
            .parse()
            .map_err(|error| AttemptError::Permanent(format!("bad address: {error}")))?;
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            // The delivery key names the message: a copy sent again after a crash has the
            // same Message-ID, which mail systems recognise as one message.
            .message_id(Some(format!("<{}@signalons>", render::id_part(&key))))
            .header(render::DeliveryKey(key))
            .header(lettre::message::header::ContentType::TEXT_PLAIN);
        if let Some(url) = unsubscribe {
            builder = builder
                .header(render::ListUnsubscribe(format!("<{url}>")))
                .header(render::ListUnsubscribePost(
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
        }
        let mail = builder
            .body(body)
            .map_err(|error| AttemptError::Permanent(format!("cannot write the mail: {error}")))?;
        match self.mailer.send(mail).await {
            Ok(_) => Ok(Outcome::Delivered),
            Err(error) if error.is_permanent() => {
                Err(AttemptError::Permanent(format!("SMTP refused: {error}")))
            }
            Err(error) => Err(AttemptError::Transient(format!("SMTP: {error}"))),
        }
    }

    /// Checks that `url` may be called (a URL stored before the policy, or edited in the
    /// database, is checked again here).
    fn allowed(&self, url: &str) -> Result<(), AttemptError> {
        self.settings
            .targets
            .check_url(url)
            .map_err(|violation| AttemptError::Permanent(violation.message))
    }

    /// Sends a report to another Open311 server as a new request; returns its id there.
    ///
    /// The delivery key goes as the `Idempotency-Key` header and, since a GeoReport v2 server
    /// keeps no header, at the end of the description with the report's link: whoever reads
    /// the request there can tell a repeat.
    async fn forward(&self, forward: &Forward, key: &str) -> Result<String, AttemptError> {
        self.allowed(&forward.endpoint)?;
        let report = &forward.report;
        let mut form = vec![
            ("api_key", forward.api_key.clone()),
            ("service_code", report.category_code.clone()),
            ("lat", report.location.y.to_string()),
            ("long", report.location.x.to_string()),
            (
                "description",
                forwarded_description(&report.description, &forward.report_url, key),
            ),
        ];
        if let Some(address) = &report.address {
            form.push(("address_string", address.clone()));
        }
        if let Some(id) = &forward.jurisdiction_id {
            form.push(("jurisdiction_id", id.clone()));
        }
        // The answers to the category's questions, as GeoReport v2 spells them.
        let mut answers: Vec<(String, String)> = Vec::new();
        for (code, value) in forward.attributes.as_object().into_iter().flatten() {
            match value {
                serde_json::Value::Array(values) => answers.extend(
                    values
                        .iter()
                        .map(|v| (format!("attribute[{code}][]"), plain(v))),
                ),
                value => answers.push((format!("attribute[{code}]"), plain(value))),
            }
        }
        let form: Vec<(&str, &str)> = form
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .chain(answers.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .collect();
        let response = self
            .http
            .post(format!("{}/requests.json", forward.endpoint))
            .header("Idempotency-Key", key)
            .form(&form)
            .send()
            .await
            .map_err(|error| AttemptError::Transient(format!("open311: {error}")))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|error| AttemptError::Transient(format!("open311 answer: {error}")))?;
        let said: String = text.chars().take(500).collect();
        if status.is_client_error() {
            // The other server refuses this request as it is (whatever its answer looks
            // like): retrying cannot help.
            return Err(AttemptError::Permanent(format!(
                "open311 refused ({status}): {said}"
            )));
        }
        if !status.is_success() {
            return Err(AttemptError::Transient(format!(
                "open311 answered {status}: {said}"
            )));
        }
        let body: serde_json::Value = serde_json::from_str(&text).map_err(|error| {
            AttemptError::Transient(format!("open311 answer is not JSON ({error}): {said}"))
        })?;
        match &body[0]["service_request_id"] {
            serde_json::Value::String(id) if !id.is_empty() => Ok(id.clone()),
            serde_json::Value::Number(id) => Ok(id.to_string()),
            _ => Err(AttemptError::Transient(format!(
                "open311 answer without an id: {said}"
            ))),
        }
    }

    /// Queues the daily digests of area alerts that are due.
    pub async fn queue_digests(&self) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
        let mut conn = self.pool.get().await?;
        Ok(signalons_db::alerts::enqueue_digests(&mut conn, Utc::now()).await?)
    }
    /// Reads back the status of reports forwarded to other Open311 servers: those closed
    /// there are resolved here, with that server's note as the public explanation.
    pub async fn poll_forwards(&self) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
        let mut conn = self.pool.get().await?;
        let mut resolved = 0;
        for group in outbox::open_forwards(&mut conn, 200).await? {
            let Ok(Channel::Open311 {
                endpoint,
                api_key,
                jurisdiction_id,
            }) = Channel::parse("open311", &group.channel_config)
            else {
                continue;
            };
            if let Err(refused) = self.settings.targets.check_url(&endpoint) {
                tracing::warn!(%endpoint, reason = %refused.message, "open311 status poll not sent");
                continue;
            }
            let ids: Vec<&str> = group
                .reports
                .iter()
                .map(|(_, remote)| remote.as_str())
                .collect();
            let mut query = vec![("service_request_id", ids.join(",")), ("api_key", api_key)];
            if let Some(id) = jurisdiction_id {
                query.push(("jurisdiction_id", id));
            }
            let answer = self
                .http
                .get(format!("{endpoint}/requests.json"))
                .query(&query)
                .send()
                .await;
            let requests: Vec<serde_json::Value> = match answer {
                Ok(response) if response.status().is_success() => {
                    response.json().await.unwrap_or_default()
                }
                Ok(response) => {
                    tracing::warn!(status = %response.status(), %endpoint, "open311 status poll refused");
                    continue;
                }
                Err(error) => {
                    tracing::warn!(%error, %endpoint, "open311 status poll failed");
                    continue;
                }
            };
            let now = Utc::now();
            let mut closed = Vec::new();
            for (report, remote) in &group.reports {
                let same_id = |request: &&serde_json::Value| match &request["service_request_id"] {
                    serde_json::Value::String(id) => id == remote,
                    serde_json::Value::Number(id) => id.to_string() == *remote,
                    _ => false,
                };
                let Some(request) = requests
                    .iter()
                    .find(same_id)
                    .filter(|r| r["status"] == "closed")
                else {
                    continue;
                };
                let note = request["status_notes"]
                    .as_str()
                    .filter(|note| !note.trim().is_empty())
                    .unwrap_or("Closed by the responsible service.");
                if signalons_db::jobs::resolve_from_remote(&mut conn, *report, note, now).await? {
                    resolved += 1;
                }
                closed.push(*report);
            }
            let polled: Vec<i64> = group.reports.iter().map(|(report, _)| *report).collect();
            outbox::record_poll(&mut conn, &polled, &closed, now).await?;
        }
        Ok(resolved)
    }

    async fn post_webhook(
        &self,
        url: &str,
        secret: &str,
        key: &str,
        body: &serde_json::Value,
    ) -> Result<Outcome, AttemptError> {
        self.allowed(url)?;
        let body = serde_json::to_vec(body).map_err(|e| AttemptError::Permanent(e.to_string()))?;
        let signature = webhook_signature(secret, Utc::now().timestamp(), &body);
        let response = self
            .http
            .post(url)
            .header("Content-Type", "application/json")
            .header("Signalons-Signature", signature)
            .header("Signalons-Delivery", key)
            .body(body)
            .send()
            .await
            .map_err(|error| AttemptError::Transient(format!("webhook: {error}")))?;
        if response.status().is_success() {
            Ok(Outcome::Delivered)
        } else {
            Err(AttemptError::Transient(format!(
                "webhook answered {}",
                response.status()
            )))
        }
    }
}

/// The destinations that have their [`PER_DESTINATION`] messages in flight already.
fn busy_destinations<'a>(in_flight: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for destination in in_flight {
        *counts.entry(destination.as_str()).or_default() += 1;
    }
    counts
        .into_iter()
        .filter(|(_, count)| *count >= PER_DESTINATION)
        .map(|(destination, _)| destination.to_owned())
        .collect()
}

/// The most a forwarded description may weigh (GeoReport servers cap it; ours at 4,000).
const FORWARDED_DESCRIPTION_CHARS: usize = 4000;

/// A report's description as forwarded: the resident's words (shortened if need be), then a
/// footer with the report's link and the delivery key.
fn forwarded_description(description: &str, report_url: &str, key: &str) -> String {
    let footer = format!("\n\n-- \nSignalons {report_url} (delivery {key})");
    let room = FORWARDED_DESCRIPTION_CHARS.saturating_sub(footer.chars().count());
    let words: String = description.trim().chars().take(room).collect();
    format!("{words}{footer}")
}

/// A JSON scalar as form text.
fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_receiver_with_its_messages_in_flight_is_busy() {
        let in_flight = [
            "https://a.example.org/hook".to_owned(),
            "https://b.example.org/hook".to_owned(),
            "https://a.example.org/hook".to_owned(),
        ];
        assert_eq!(
            busy_destinations(in_flight.iter()),
            vec!["https://a.example.org/hook".to_owned()]
        );
    }

    #[tokio::test]
    async fn names_that_resolve_into_the_servers_own_network_are_not_called() {
        use reqwest::dns::Resolve;
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let refused = PublicOnlyResolver.resolve(name).await.err().unwrap();
        assert!(
            refused.to_string().contains("no public address"),
            "{refused}"
        );
    }

    #[test]
    fn forwarded_descriptions_carry_the_key_within_the_length_limit() {
        let long = "x".repeat(5000);
        let text = forwarded_description(
            &long,
            "https://s.example.org/reports/7",
            "report:7:department:2",
        );
        assert_eq!(text.chars().count(), FORWARDED_DESCRIPTION_CHARS);
        assert!(text.ends_with("(delivery report:7:department:2)"));
        let short = forwarded_description("Deep hole", "https://s.example.org/reports/7", "k");
        assert!(short.starts_with("Deep hole\n\n-- \nSignalons https://s.example.org/reports/7"));
    }
}
