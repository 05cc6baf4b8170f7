//! The outbox worker. Every server process runs one: it claims due messages with
//! `FOR UPDATE SKIP LOCKED` (so replicas share the work), sends each by email (lettre, SMTP) or
//! as a signed webhook (reqwest), and records the outcome: delivered, retried later with
//! exponential backoff and jitter, or dead after the configured number of attempts. A worker
//! that dies mid-delivery loses nothing: the message's lease ends and another worker sends it
//! again, with the same delivery key so the receiver can tell.

mod render;

use std::time::Duration;

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
use signalons_domain::delivery::{Channel, retry_delay, webhook_signature};

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
    /// How long a claimed message is left to its worker before another may take it.
    pub lease: Duration,
    /// How often an idle worker looks for due messages.
    pub poll_interval: Duration,
    /// Connect and response timeout of webhooks and SMTP.
    pub timeout: Duration,
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
}

/// Why one attempt failed.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    /// Worth retrying: the receiver is down, slow or refusing for now.
    #[error("{0}")]
    Transient(String),
    /// Retrying cannot help (the message cannot be written).
    #[error("{0}")]
    Permanent(String),
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

/// Messages claimed at once.
const BATCH: i64 = 20;

impl Worker {
    pub fn new(pool: DbPool, settings: DeliverySettings) -> Result<Self, SetupError> {
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
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Signalons/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            from: settings.mail_from.parse()?,
            mailer: builder.build(),
            http,
            pool,
            settings,
        })
    }

    /// Runs until the task is dropped or aborted.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut next_poll = tokio::time::Instant::now();
            loop {
                if tokio::time::Instant::now() >= next_poll {
                    if let Err(error) = self.poll_forwards().await {
                        tracing::warn!(%error, "could not read forwarded reports back");
                    }
                    if let Err(error) = self.queue_digests().await {
                        tracing::warn!(%error, "could not queue the alert digests");
                    }
                    next_poll = tokio::time::Instant::now() + self.settings.status_poll_interval;
                }
                match self.run_once().await {
                    Ok(0) => tokio::time::sleep(self.settings.poll_interval).await,
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "delivery worker could not reach the database");
                        tokio::time::sleep(self.settings.poll_interval).await;
                    }
                }
            }
        })
    }

    /// Claims and attempts one batch of due messages; returns how many were attempted.
    pub async fn run_once(&self) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
        let mut conn = self.pool.get().await?;
        let lease = chrono::Duration::from_std(self.settings.lease)?;
        let claimed = outbox::claim(&mut conn, BATCH, lease, Utc::now()).await?;
        for message in &claimed {
            let span = tracing::info_span!("deliver", key = %message.delivery_key, channel = %message.channel, attempt = message.attempts);
            let _entered = span.enter();
            let outcome = match self.attempt(&mut conn, message).await {
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
                    Outcome::RetryAt(Utc::now() + chrono::Duration::from_std(wait)?, error)
                }
            };
            match &outcome {
                Outcome::Delivered => tracing::info!("delivered"),
                Outcome::Skipped(reason) => tracing::info!(%reason, "skipped"),
                Outcome::RetryAt(at, error) => {
                    tracing::warn!(%error, retry_at = %at, "delivery failed; will retry")
                }
                Outcome::Dead(error) => tracing::error!(%error, "delivery failed for good"),
            }
            outbox::finish(&mut conn, message.id, &outcome, Utc::now()).await?;
        }
        Ok(claimed.len())
    }

    async fn attempt(
        &self,
        conn: &mut signalons_db::AsyncPgConnection,
        message: &OutboxMessage,
    ) -> Result<Outcome, AttemptError> {
        let database =
            |error: signalons_db::DbError| AttemptError::Transient(format!("database: {error}"));
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
            let subscription = outbox::subscription(conn, id).await.map_err(database)?;
            return match subscription {
                Some(s) if s.revoked_at.is_none() => {
                    self.post_webhook(
                        &s.url,
                        &s.secret,
                        &message.delivery_key,
                        &letter.webhook_body(),
                    )
                    .await
                }
                _ => Ok(Outcome::Skipped(
                    "the app ended its subscription".to_owned(),
                )),
            };
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
                match channel {
                    Channel::Internal => Ok(Outcome::Skipped(
                        "the department now works from the crew queue".to_owned(),
                    )),
                    Channel::Email { to } => {
                        self.send_mail(&to, letter.department_mail(), None).await
                    }
                    Channel::Webhook { url, secret } => {
                        self.post_webhook(
                            &url,
                            &secret,
                            &message.delivery_key,
                            &letter.webhook_body(),
                        )
                        .await
                    }
                    Channel::Open311 {
                        endpoint,
                        api_key,
                        jurisdiction_id,
                    } => {
                        let remote = self
                            .forward(
                                &endpoint,
                                &api_key,
                                jurisdiction_id.as_deref(),
                                &message.delivery_key,
                                &report,
                                &context.attributes,
                            )
                            .await?;
                        let department = message.department_id.unwrap_or_default();
                        outbox::record_forward(conn, report.id, department, &remote, Utc::now())
                            .await
                            .map_err(database)?;
                        Ok(Outcome::Delivered)
                    }
                }
            }
            "status_changed" => {
                let unsubscribe = letter.unsubscribe_url(&message.destination);
                self.send_mail(
                    &message.destination,
                    letter.resident_mail(&unsubscribe),
                    Some(&unsubscribe),
                )
                .await
            }
            "area_alert" => {
                let alert = message.alert_id.unwrap_or_default();
                let unsubscribe = letter.unsubscribe_url(&message.destination);
                self.send_mail(
                    &message.destination,
                    letter.area_alert_mail(alert, &unsubscribe),
                    Some(&unsubscribe),
                )
                .await
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
    ) -> Result<Outcome, AttemptError> {
        let database =
            |error: signalons_db::DbError| AttemptError::Transient(format!("database: {error}"));
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
            return self
                .send_mail(&message.destination, (subject, body, key), None)
                .await;
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
            return Ok(Outcome::Skipped(
                "the reports of this digest are gone".to_owned(),
            ));
        }
        let unsubscribe = render::unsubscribe_url(&self.settings, &message.destination);
        let (subject, body) =
            render::alert_digest(&self.settings, alert, french, &found, &unsubscribe);
        self.send_mail(
            &message.destination,
            (subject, body, key),
            Some(&unsubscribe),
        )
        .await
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

    /// Sends `report` to another Open311 server as a new request; returns its id there.
    async fn forward(
        &self,
        endpoint: &str,
        api_key: &str,
        jurisdiction_id: Option<&str>,
        key: &str,
        report: &signalons_db::models::PublicReport,
        attributes: &serde_json::Value,
    ) -> Result<String, AttemptError> {
        let mut form = vec![
            ("api_key", api_key.to_owned()),
            ("service_code", report.category_code.clone()),
            ("lat", report.location.y.to_string()),
            ("long", report.location.x.to_string()),
            ("description", report.description.clone()),
        ];
        if let Some(address) = &report.address {
            form.push(("address_string", address.clone()));
        }
        if let Some(id) = jurisdiction_id {
            form.push(("jurisdiction_id", id.to_owned()));
        }
        // The answers to the category's questions, as GeoReport v2 spells them.
        let mut answers: Vec<(String, String)> = Vec::new();
        for (code, value) in attributes.as_object().into_iter().flatten() {
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
            .post(format!("{endpoint}/requests.json"))
            .header("Idempotency-Key", key)
            .form(&form)
            .send()
            .await
            .map_err(|error| AttemptError::Transient(format!("open311: {error}")))?;
        let status = response.status();
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|error| AttemptError::Transient(format!("open311 answer: {error}")))?;
        if status.is_client_error() {
            // The other server refuses this request as it is: retrying cannot help.
            return Err(AttemptError::Permanent(format!(
                "open311 refused ({status}): {body}"
            )));
        }
        if !status.is_success() {
            return Err(AttemptError::Transient(format!(
                "open311 answered {status}"
            )));
        }
        match &body[0]["service_request_id"] {
            serde_json::Value::String(id) if !id.is_empty() => Ok(id.clone()),
            serde_json::Value::Number(id) => Ok(id.to_string()),
            _ => Err(AttemptError::Transient(format!(
                "open311 answer without an id: {body}"
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

/// A JSON scalar as form text.
fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
