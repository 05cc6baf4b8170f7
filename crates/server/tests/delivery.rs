//! Delivery: departments receive every report by email or signed webhook, residents hear of
//! status changes, failures are retried, and a server killed mid-delivery loses nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use diesel_async::RunQueryDsl;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use signalons_test_support::{
    Behaviour, Contents, MailSink, Staff, Targets, TestApp, TestDatabase, WebhookReceiver,
    generous_limits,
};

const DORCHESTER: (f64, f64) = (42.3016, -71.0676);
/// Across town from Dorchester, where potholes go to another department.
const BACK_BAY: (f64, f64) = (42.3503, -71.0810);
const SECRET: &str = "a-webhook-secret-0123456789";

/// Checks a `Signalons-Signature` header the way a receiver would, with the `hmac` and `sha2`
/// crates directly: `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, and a recent `t`.
fn verify_signature(secret: &str, header: &str, body: &[u8]) {
    let (t, v1) = header
        .split_once(',')
        .and_then(|(t, v1)| Some((t.strip_prefix("t=")?, v1.strip_prefix("v1=")?)))
        .unwrap_or_else(|| panic!("malformed signature header {header}"));
    let sent: Vec<u8> = (0..v1.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&v1[i..i + 2], 16).unwrap())
        .collect();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&sent)
        .unwrap_or_else(|_| panic!("the signature {header} does not match the body"));
    let t: i64 = t.parse().unwrap();
    assert!(
        (chrono::Utc::now().timestamp() - t).abs() < 60,
        "stale t={t}"
    );
}

/// Polls `check` every 50 ms until it holds or `within` passed; whether it held.
async fn eventually<F: AsyncFn() -> bool>(within: Duration, check: F) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One outbox row as the worker left it.
#[derive(Debug, diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    message: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    state: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    attempts: i32,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    last_error: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    delivery_key: String,
}

async fn outbox_rows(db: &TestDatabase) -> Vec<Row> {
    let mut conn = db.connect().await;
    diesel::sql_query(
        "SELECT id, message, state, attempts, last_error, delivery_key FROM outbox ORDER BY id",
    )
    .load(&mut conn)
    .await
    .unwrap()
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn department(app: &TestApp) -> String {
    department_at(app, DORCHESTER).await
}

/// The department potholes at `place` go to.
async fn department_at(app: &TestApp, (lat, long): (f64, f64)) -> String {
    let (_, preview) = app
        .get_json(&format!(
            "/api/v1/routing?lat={lat}&long={long}&category=pothole"
        ))
        .await;
    preview["department"]["code"].as_str().unwrap().to_owned()
}

async fn set_channel(
    app: &TestApp,
    admin: &Staff,
    code: &str,
    channel: &str,
    config: Value,
) -> (StatusCode, Value) {
    call(
        app,
        Method::PUT,
        &format!("/api/v1/admin/departments/{code}"),
        &admin.token,
        &[],
        Some(json!({"name": "Public Works, North Dorchester", "name_fr": "Travaux publics, Dorchester Nord",
                    "channel": channel, "channel_config": config})),
    )
    .await
}

async fn report(app: &TestApp, extra: Value) -> Value {
    let mut body = json!({"category": "pothole", "latitude": DORCHESTER.0, "longitude": DORCHESTER.1,
                          "address": "12 Dorchester Ave", "description": "Deep hole by the bus stop"});
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    let response = app.post_json("/api/v1/reports", &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn outbox_states(app: &TestApp) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        text: String,
    }
    let mut conn = app.db.connect().await;
    let rows: Vec<Row> =
        diesel::sql_query("SELECT state || ' ' || coalesce(last_error, '') AS text FROM outbox")
            .load(&mut conn)
            .await
            .unwrap();
    rows.into_iter().map(|row| row.text).collect()
}

fn header<'a>(mail: &'a str, name: &str) -> Option<&'a str> {
    mail.lines()
        .find(|line| {
            line.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|line| line[name.len() + 1..].trim())
}

/// The mail's text, with quoted-printable soft breaks undone.
fn text(mail: &str) -> String {
    mail.replace("=\r\n", "").replace("=3D", "=")
}

#[tokio::test]
async fn a_department_on_email_gets_a_readable_mail_in_its_language() {
    let app = TestApp::spawn().await;
    let admin = app.staff("admin", &[]).await;
    let code = department(&app).await;
    let (status, _) = set_channel(
        &app,
        &admin,
        &code,
        "email",
        json!({"to": "dorchester@pwd.example.org"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let created = report(&app, json!({"contact_email": "resident@example.org"})).await;
    let mails = app.mail.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert!(
        header(mail, "To")
            .unwrap()
            .contains("dorchester@pwd.example.org")
    );
    assert!(
        header(mail, "From")
            .unwrap()
            .contains("noreply@boston.example.org")
    );
    let key = format!("report:{}:department:", created["id"]);
    assert!(
        header(mail, "X-Signalons-Delivery")
            .unwrap()
            .starts_with(&key),
        "{mail}"
    );
    assert!(header(mail, "Message-ID").unwrap().ends_with("@signalons>"));
    let subject = header(mail, "Subject").unwrap();
    assert!(
        subject.contains(&format!("#{}", created["id"])),
        "{subject}"
    );
    let body = text(mail);
    assert!(body.contains("Deep hole by the bus stop"), "{body}");
    assert!(
        body.contains(&format!(
            "https://signalons.example.org/reports/{}",
            created["id"]
        )),
        "{body}"
    );
    assert!(body.contains("openstreetmap.org/?mlat=42.301600"), "{body}");
    assert!(
        !body.contains("resident@example.org"),
        "the reporter's email stays private"
    );

    // A French-speaking city writes in French.
    let mut conn = app.db.connect().await;
    diesel::sql_query("UPDATE jurisdictions SET locale = 'fr'")
        .execute(&mut conn)
        .await
        .unwrap();
    report(&app, json!({"description": "Un autre trou"})).await;
    let mails = app.mail.wait_for(2, Duration::from_secs(10)).await;
    let french = text(&mails[1]);
    assert!(french.contains("Un habitant a signal"), "{french}");
    assert!(french.contains("Nid-de-poule"), "{french}");
}

#[tokio::test]
async fn webhooks_are_signed_retried_while_the_receiver_is_down_and_delivered_once_back() {
    let app = TestApp::spawn().await;
    let admin = app.staff("admin", &[]).await;
    let code = department(&app).await;
    let receiver = WebhookReceiver::start();
    receiver.behave(Behaviour::Fail);
    let (status, _) = set_channel(
        &app,
        &admin,
        &code,
        "webhook",
        json!({"url": receiver.url, "secret": SECRET}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let created = report(&app, json!({})).await;

    // Down for a while: attempts keep coming, spaced out, and nothing is lost.
    tokio::time::sleep(Duration::from_millis(900)).await;
    let failed = receiver.received().len();
    assert!(failed >= 2, "retried while down: {failed}");
    let crew = app.staff("crew", &[&code]).await;
    let (_, deliveries) = call(
        &app,
        Method::GET,
        &format!("/api/v1/jobs/{}/deliveries", created["incident_id"]),
        &crew.token,
        &[],
        None,
    )
    .await;
    assert_eq!(deliveries[0]["state"], "pending", "{deliveries}");
    assert!(
        deliveries[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("503")
    );

    receiver.behave(Behaviour::Accept);
    let received = receiver.wait_for_accepted(Duration::from_secs(10)).await;
    let accepted: Vec<_> = received.iter().filter(|r| r.accepted).collect();
    assert_eq!(accepted.len(), 1);
    let hook = accepted[0];
    let body: Value = serde_json::from_slice(&hook.body).unwrap();
    assert_eq!(body["event"], "report.created");
    assert_eq!(body["report"]["id"], created["id"]);
    // The signature is HMAC-SHA256 over "<t>.<body>" with the department's secret.
    verify_signature(
        SECRET,
        hook.header("Signalons-Signature").unwrap(),
        &hook.body,
    );
    let key = hook.header("Signalons-Delivery").unwrap();
    assert!(
        received
            .iter()
            .all(|r| r.header("Signalons-Delivery") == Some(key)),
        "one key for every attempt"
    );

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver.received().iter().filter(|r| r.accepted).count(),
        1,
        "never delivered twice"
    );
    let (_, deliveries) = call(
        &app,
        Method::GET,
        &format!("/api/v1/jobs/{}/deliveries", created["incident_id"]),
        &crew.token,
        &[],
        None,
    )
    .await;
    assert_eq!(deliveries[0]["state"], "delivered");
}

/// `signalons serve` as operators run it, in its own process, over a test database.
struct Served {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Served {
    /// Starts the binary with a 4-second lease and a 2-second delivery timeout, its mail going
    /// to `smtp_port`; returns once it answers `/readyz`.
    async fn start(db: &TestDatabase, smtp_port: u16) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let scratch =
            std::env::temp_dir().join(format!("signalons-served-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&scratch).unwrap();
        let log = scratch.join("server.log");
        let child = Command::new(env!("CARGO_BIN_EXE_signalons"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SIGNALONS_DATABASE_URL", &db.url)
            .env("SIGNALONS_BIND", format!("127.0.0.1:{port}"))
            .env("SIGNALONS_HTTP_WORKERS", "1")
            .env(
                "SIGNALONS_JWT_SECRET",
                "a-32-byte-secret-for-the-crash-test!",
            )
            .env("SIGNALONS_SMTP_PORT", smtp_port.to_string())
            .env("SIGNALONS_DELIVERY_LEASE_SECONDS", "4")
            .env("SIGNALONS_DELIVERY_TIMEOUT_SECONDS", "2")
            .env("SIGNALONS_DELIVERY_ALLOW_PRIVATE_TARGETS", "true")
            .env("SIGNALONS_MAP_FOLD_SECONDS", "0")
            .env("SIGNALONS_PHOTO_DIR", scratch.join("photos"))
            .env("SIGNALONS_LOG", "info")
            .current_dir(&scratch)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let served = Self { child, port, log };
        let client = reqwest::Client::new();
        let ready = eventually(Duration::from_secs(20), async || {
            client
                .get(served.url("/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == StatusCode::OK)
        })
        .await;
        assert!(ready, "the server never got ready: {}", served.log());
        served
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no shutdown, no cleanup, whatever it was doing.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_server_killed_mid_delivery_loses_nothing_and_the_repeat_carries_the_same_key() {
    let db = TestDatabase::new(Contents::BostonCatalog).await;
    let mail = MailSink::start().await;
    let receiver = WebhookReceiver::start();
    receiver.behave(Behaviour::Hang);
    let mut first = Served::start(&db, mail.port).await;
    let client = reqwest::Client::new();
    let (lat, long) = DORCHESTER;
    let preview: Value = client
        .get(first.url(&format!(
            "/api/v1/routing?lat={lat}&long={long}&category=pothole"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut conn = db.connect().await;
    diesel::sql_query(
        "UPDATE departments SET channel = 'webhook', \
                channel_config = jsonb_build_object('url', $1::text, 'secret', $2::text) \
         WHERE code = $3",
    )
    .bind::<diesel::sql_types::Text, _>(&receiver.url)
    .bind::<diesel::sql_types::Text, _>(SECRET)
    .bind::<diesel::sql_types::Text, _>(preview["department"]["code"].as_str().unwrap())
    .execute(&mut conn)
    .await
    .unwrap();
    let created = client
        .post(first.url("/api/v1/reports"))
        .json(
            &json!({"category": "pothole", "latitude": lat, "longitude": long,
                      "description": "Deep hole by the bus stop"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);

    // The server is inside the receiver's request when it is killed.
    let inside = eventually(Duration::from_secs(10), async || {
        !receiver.received().is_empty()
    })
    .await;
    assert!(inside, "never sent: {}", first.log());
    first.kill();

    // No server runs, for longer than the lease: the message is neither lost nor marked sent.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        receiver.received().len(),
        1,
        "nothing sent while no server runs"
    );
    let rows = outbox_rows(&db).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].state.as_str(), rows[0].attempts),
        ("pending", 1),
        "{rows:?}"
    );

    // A new process takes the message (its lease ran out) and delivers it, with the same key.
    receiver.behave(Behaviour::Accept);
    let second = Served::start(&db, mail.port).await;
    let delivered = eventually(Duration::from_secs(15), async || {
        outbox_rows(&db).await[0].state == "delivered"
    })
    .await;
    assert!(delivered, "{:?}\n{}", outbox_rows(&db).await, second.log());
    let received = receiver.received();
    assert_eq!(
        received.len(),
        2,
        "the killed attempt and the one after the restart"
    );
    assert!(received[1].accepted);
    let key = received[0].header("Signalons-Delivery").unwrap();
    assert_eq!(received[1].header("Signalons-Delivery"), Some(key));
    assert_eq!(key, rows[0].delivery_key);
    verify_signature(
        SECRET,
        received[1].header("Signalons-Signature").unwrap(),
        &received[1].body,
    );
    assert_eq!(outbox_rows(&db).await[0].attempts, 2);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(receiver.received().len(), 2, "delivered once");
}

#[tokio::test]
async fn a_malformed_channel_is_refused_when_saved() {
    let app = TestApp::spawn().await;
    let admin = app.staff("admin", &[]).await;
    let code = department(&app).await;
    for (channel, config) in [
        ("email", json!({"to": "nobody"})),
        (
            "webhook",
            json!({"url": "ftp://pwd.example.org", "secret": SECRET}),
        ),
        (
            "webhook",
            json!({"url": "https://pwd.example.org/hook", "secret": "short"}),
        ),
        ("webhook", json!({"url": "https://pwd.example.org/hook"})),
        (
            "open311",
            json!({"endpoint": "https://other.example.org/open311"}),
        ),
    ] {
        let (status, body) = set_channel(&app, &admin, &code, channel, config.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{channel} {config}"
        );
        assert_eq!(
            body["errors"][0]["code"], "invalid_channel_config",
            "{body}"
        );
    }
    let mut conn = app.db.connect().await;
    #[derive(diesel::QueryableByName)]
    struct Channel {
        #[diesel(sql_type = diesel::sql_types::Text)]
        channel: String,
    }
    let stored: Channel = diesel::sql_query(format!(
        "SELECT channel FROM departments WHERE code = '{code}'"
    ))
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(stored.channel, "internal", "nothing changed");
}

#[tokio::test]
async fn residents_hear_of_status_changes_and_unsubscribe_in_one_click() {
    let app = TestApp::spawn().await;
    let code = department(&app).await;
    let crew = app.staff("crew", &[&code]).await;
    let created = report(&app, json!({"contact_email": "Reporter@Example.org"})).await;
    let job = created["incident_id"].as_i64().unwrap();
    let supported = app
        .post_json(
            &format!("/api/v1/incidents/{job}/supports"),
            &json!({"device_id": "neighbour-phone-1", "notify_email": "neighbour@example.org"}),
        )
        .await;
    assert_eq!(supported.status(), StatusCode::CREATED);

    let (status, _) = call(&app, Method::POST, &format!("/api/v1/jobs/{job}/status"), &crew.token, &[("If-Match", "\"1\"")],
        Some(json!({"status": "scheduled", "explanation": "Crew booked for Thursday morning.", "internal_note": "Joe's truck"}))).await;
    assert_eq!(status, StatusCode::OK);
    let mails = app.mail.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 2, "the reporter and the supporter");
    let to_reporter = mails
        .iter()
        .find(|m| header(m, "To").unwrap().contains("Reporter@Example.org"))
        .unwrap();
    let body = text(to_reporter);
    assert!(
        header(to_reporter, "Subject")
            .unwrap()
            .contains("scheduled")
    );
    assert!(body.contains("Crew booked for Thursday morning."), "{body}");
    assert!(
        !body.contains("Joe's truck"),
        "internal notes stay internal"
    );
    assert!(
        mails
            .iter()
            .any(|m| header(m, "To").unwrap().contains("neighbour@example.org"))
    );
    let unsubscribe = header(to_reporter, "List-Unsubscribe")
        .unwrap()
        .trim_matches(['<', '>'])
        .to_owned();
    assert_eq!(
        header(to_reporter, "List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );
    let path = unsubscribe.trim_start_matches("https://signalons.example.org");

    let forged = app.get(&path.replace("token=", "token=00")).await;
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);
    let done = app
        .client
        .post(app.url(path))
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);

    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/jobs/{job}/status"),
        &crew.token,
        &[("If-Match", "\"2\"")],
        Some(json!({"status": "resolved", "explanation": "Filled."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let mails = app.mail.wait_for(4, Duration::from_secs(3)).await;
    assert_eq!(mails.len(), 3, "only the supporter hears of the resolution");
    assert!(
        header(&mails[2], "To")
            .unwrap()
            .contains("neighbour@example.org")
    );
}

#[tokio::test]
async fn staff_retry_a_dead_delivery() {
    let app = TestApp::spawn().await;
    let admin = app.staff("admin", &[]).await;
    let code = department(&app).await;
    let crew = app.staff("crew", &[&code]).await;
    let receiver = WebhookReceiver::start();
    receiver.behave(Behaviour::Fail);
    set_channel(
        &app,
        &admin,
        &code,
        "webhook",
        json!({"url": receiver.url, "secret": SECRET}),
    )
    .await;
    let created = report(&app, json!({})).await;
    let path = format!("/api/v1/jobs/{}/deliveries", created["incident_id"]);

    // Four attempts, then dead (test servers give up quickly).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let delivery = loop {
        let (_, deliveries) = call(&app, Method::GET, &path, &crew.token, &[], None).await;
        if deliveries[0]["state"] == "dead" || tokio::time::Instant::now() > deadline {
            break deliveries[0].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(delivery["state"], "dead", "{delivery}");
    assert_eq!(delivery["attempts"], 4);
    assert_eq!(receiver.received().len(), 4);

    receiver.behave(Behaviour::Accept);
    let (status, retried) = call(
        &app,
        Method::POST,
        &format!("/api/v1/deliveries/{}/retry", delivery["id"]),
        &crew.token,
        &[],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{retried}");
    assert_eq!(retried["state"], "pending");
    receiver.wait_for_accepted(Duration::from_secs(10)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while call(&app, Method::GET, &path, &crew.token, &[], None)
        .await
        .1[0]["state"]
        != "delivered"
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/deliveries/{}/retry", delivery["id"]),
        &crew.token,
        &[],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "not_retryable");
}

#[tokio::test]
async fn third_party_apps_subscribe_with_their_key_and_receive_signed_events() {
    let app = TestApp::spawn().await;
    let code = department(&app).await;
    let crew = app.staff("crew", &[&code]).await;
    let receiver = WebhookReceiver::start();
    let mut conn = app.db.connect().await;
    let now = chrono::Utc::now();
    let key =
        signalons_api::api_keys::create(&mut conn, "Civic app", &["webhooks".to_owned()], now)
            .await
            .unwrap()
            .key;
    let open311_only =
        signalons_api::api_keys::create(&mut conn, "Other", &["open311:write".to_owned()], now)
            .await
            .unwrap()
            .key;
    let subscribe = async |key: &str, body: Value| {
        let response = app
            .client
            .post(app.url("/api/v1/webhooks"))
            .header("X-Api-Key", key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json::<Value>().await.unwrap())
    };
    let wanted = json!({"jurisdiction": "boston", "url": receiver.url, "secret": SECRET,
                        "events": ["report.created", "report.status_changed"]});
    let (status, body) = subscribe(&open311_only, wanted.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let mut bad = wanted.clone();
    bad["url"] = json!("javascript:alert(1)");
    bad["events"] = json!(["report.deleted"]);
    let (status, body) = subscribe(&key, bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"].as_array().unwrap().len(), 2, "{body}");
    let (status, subscription) = subscribe(&key, wanted).await;
    assert_eq!(status, StatusCode::CREATED, "{subscription}");
    assert!(
        subscription.get("secret").is_none(),
        "the secret is never shown again"
    );

    let created = report(&app, json!({"contact_email": "private@example.org"})).await;
    let job = created["incident_id"].as_i64().unwrap();
    receiver.wait_for_accepted(Duration::from_secs(10)).await;
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/jobs/{job}/status"),
        &crew.token,
        &[("If-Match", "\"1\"")],
        Some(json!({"status": "in_progress", "explanation": "On site now."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while receiver.received().len() < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    let events: Vec<Value> = received
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(events[0]["event"], "report.created");
    assert_eq!(events[1]["event"], "report.status_changed");
    assert_eq!(events[1]["change"]["explanation"], "On site now.");
    assert_eq!(events[1]["report"]["status"], "in_progress");
    let (_, deliveries) = call(
        &app,
        Method::GET,
        &format!("/api/v1/jobs/{job}/deliveries"),
        &crew.token,
        &[],
        None,
    )
    .await;
    let recipients: Vec<&str> = deliveries
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["recipient"].as_str().unwrap())
        .collect();
    assert_eq!(recipients, ["app", "resident", "app"], "{deliveries}");
    for hook in &received {
        verify_signature(
            SECRET,
            hook.header("Signalons-Signature").unwrap(),
            &hook.body,
        );
        assert!(!String::from_utf8_lossy(&hook.body).contains("private@example.org"));
    }

    // Ended: nothing more is sent.
    let response = app
        .client
        .delete(app.url(&format!("/api/v1/webhooks/{}", subscription["id"])))
        .header("X-Api-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    report(&app, json!({})).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.received().len(), 2);
}

#[tokio::test]
async fn a_department_with_its_own_open311_server_gets_reports_forwarded_and_its_closures_read_back()
 {
    // Two systems: this city's Signalons, and the department's own Open311 server (another
    // Signalons here, with its own database and crews).
    let city = TestApp::spawn().await;
    let department_server = TestApp::spawn().await;
    let admin = city.staff("admin", &[]).await;
    let (_, preview) = city
        .get_json(&format!(
            "/api/v1/routing?lat={}&long={}&category=sidewalk_repair",
            DORCHESTER.0, DORCHESTER.1
        ))
        .await;
    let code = preview["department"]["code"].as_str().unwrap().to_owned();
    let mut remote = department_server.db.connect().await;
    let key = signalons_api::api_keys::create(
        &mut remote,
        "Forwarding from the city",
        &["open311:write".to_owned()],
        chrono::Utc::now(),
    )
    .await
    .unwrap()
    .key;
    let (status, body) = set_channel(
        &city,
        &admin,
        &code,
        "open311",
        json!({"endpoint": department_server.url("/open311/v2"), "api_key": key}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let created = report(&city, json!({"category": "sidewalk_repair"})).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while department_server.db.count("reports").await == 0 && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        department_server.db.count("reports").await,
        1,
        "forwarded once; the city's outbox: {:?}",
        outbox_states(&city).await
    );
    assert_eq!(city.db.count("forwards").await, 1);

    // The department's crew closes it on their own system...
    let remote_crew = department_server.staff("crew", &[&code]).await;
    let (_, queue) = call(
        &department_server,
        Method::GET,
        "/api/v1/queue",
        &remote_crew.token,
        &[],
        None,
    )
    .await;
    let remote_job = queue["items"][0]["id"].as_i64().unwrap();
    let (status, _) = call(
        &department_server,
        Method::POST,
        &format!("/api/v1/jobs/{remote_job}/status"),
        &remote_crew.token,
        &[("If-Match", "\"1\"")],
        Some(json!({"status": "resolved", "explanation": "Filled by the district crew."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // ...and the city's report follows, with their explanation in its public history.
    let path = format!("/api/v1/reports/{}", created["id"]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut public = city.get_json(&path).await.1;
    while public["status"] != "resolved" && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        public = city.get_json(&path).await.1;
    }
    assert_eq!(public["status"], "resolved");
    let (_, events) = city.get_json(&format!("{path}/events")).await;
    assert!(
        events.to_string().contains("Filled by the district crew."),
        "{events}"
    );

    // A request the department's server refuses (its pothole form wants an answer this one
    // lacks) is not retried forever: it is dead, with the reason, for staff to see.
    let refused = report(&city, json!({})).await;
    let crew = city.staff("crew", &[&code]).await;
    let deliveries = format!("/api/v1/jobs/{}/deliveries", refused["incident_id"]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut state = call(&city, Method::GET, &deliveries, &crew.token, &[], None)
        .await
        .1;
    while state[0]["state"] != "dead" && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        state = call(&city, Method::GET, &deliveries, &crew.token, &[], None)
            .await
            .1;
    }
    assert_eq!(state[0]["state"], "dead", "{state}");
    assert!(
        state[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("attribute[position]")
    );
}

/// What the button of a mail link's page sends.
async fn post(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.post(app.url(path)).send().await.unwrap()
}

fn link_in(mail: &str, marker: &str) -> String {
    let body = text(mail);
    let start = body
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {body}"));
    let url: String = body[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    url.trim_start_matches("https://signalons.example.org")
        .to_owned()
}

#[tokio::test]
async fn residents_watch_an_area_once_they_confirmed_it() {
    let app = TestApp::spawn().await;
    let (lat, long) = DORCHESTER;
    let refused = app
        .post_json("/api/v1/alerts", &json!({"email": "watcher@example.org", "latitude": lat, "longitude": long, "radius_m": 10}))
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let created = app
        .post_json(
            "/api/v1/alerts",
            &json!({"email": "watcher@example.org", "latitude": lat, "longitude": long,
                                             "radius_m": 300, "categories": ["pothole"]}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::ACCEPTED);

    // Before confirmation nothing but the confirmation is sent.
    let mails = app.mail.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 1);
    report(&app, json!({})).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(app.mail.mails().len(), 1, "unconfirmed alerts send nothing");
    let confirm = link_in(
        &mails[0],
        "https://signalons.example.org/api/v1/alerts/confirm",
    );
    let forged = app.get(&confirm.replace("token=", "token=31")).await;
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);
    // Opening the link (as a mail scanner does) shows a page and confirms nothing.
    let page = app.get(&confirm).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("<form method=\"post\""));
    assert_eq!(
        app.db
            .count("area_alerts WHERE confirmed_at IS NOT NULL")
            .await,
        0,
        "still unconfirmed"
    );
    let confirmed = post(&app, &confirm).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert_eq!(confirmed.json::<Value>().await.unwrap()["active"], true);

    // A new pothole 150 m away: a mail. Graffiti there, or a pothole across town: none.
    report(
        &app,
        json!({"latitude": lat + 0.0013, "address": "40 Dorchester Ave"}),
    )
    .await;
    report(
        &app,
        json!({"category": "graffiti", "latitude": lat + 0.0005}),
    )
    .await;
    report(&app, json!({"latitude": 42.3503, "longitude": -71.0810})).await;
    let mails = app.mail.wait_for(2, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mails_now = app.mail.mails();
    assert_eq!(mails_now.len(), 2, "{mails:?}");
    let alert = &mails_now[1];
    assert!(
        header(alert, "Subject")
            .unwrap()
            .contains("40 Dorchester Ave"),
        "{alert}"
    );
    assert!(header(alert, "List-Unsubscribe").is_some());

    // Cancelled from the mail: no more.
    let cancel = link_in(alert, "https://signalons.example.org/api/v1/alerts/cancel");
    assert_eq!(app.get(&cancel).await.status(), StatusCode::OK, "a page");
    assert_eq!(post(&app, &cancel).await.status(), StatusCode::OK);
    report(
        &app,
        json!({"latitude": lat - 0.0013, "address": "2 Dorchester Ave"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(app.mail.mails().len(), 2);
}

#[tokio::test]
async fn a_daily_alert_sends_one_digest_of_the_new_problems_in_its_area() {
    let app = TestApp::spawn().await;
    let created = app
        .post_json(
            "/api/v1/alerts",
            &json!({"email": "digest@example.org", "area": "dorchester",
                                             "jurisdiction": "boston", "frequency": "daily"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::ACCEPTED);
    let mails = app.mail.wait_for(1, Duration::from_secs(10)).await;
    let confirm = link_in(
        &mails[0],
        "https://signalons.example.org/api/v1/alerts/confirm",
    );
    assert_eq!(post(&app, &confirm).await.status(), StatusCode::OK);
    let first = report(&app, json!({})).await;
    let second = report(
        &app,
        json!({"category": "graffiti", "latitude": DORCHESTER.0 + 0.002}),
    )
    .await;
    // As if confirmed yesterday: the two problems reported since are due in a digest.
    let mut conn = app.db.connect().await;
    diesel::sql_query("UPDATE area_alerts SET confirmed_at = now() - interval '25 hours'")
        .execute(&mut conn)
        .await
        .unwrap();
    let mails = app.mail.wait_for(2, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        app.mail.mails().len(),
        2,
        "one digest, not one mail per report: {mails:?}"
    );
    let digest = text(&app.mail.mails()[1]);
    assert!(
        digest.contains(&format!("/reports/{}", first["id"])),
        "{digest}"
    );
    assert!(
        digest.contains(&format!("/reports/{}", second["id"])),
        "{digest}"
    );
}

#[tokio::test]
async fn one_receiver_that_hangs_does_not_hold_up_the_other_departments() {
    let app = TestApp::spawn().await;
    let admin = app.staff("admin", &[]).await;
    let stuck = WebhookReceiver::start();
    stuck.behave(Behaviour::Hang);
    let fine = WebhookReceiver::start();
    let dorchester = department_at(&app, DORCHESTER).await;
    let back_bay = department_at(&app, BACK_BAY).await;
    assert_ne!(dorchester, back_bay);
    for (code, receiver) in [(&dorchester, &stuck), (&back_bay, &fine)] {
        let (status, body) = set_channel(
            &app,
            &admin,
            code,
            "webhook",
            json!({"url": receiver.url, "secret": SECRET}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    for n in 0..4 {
        report(&app, json!({"description": format!("Hole number {n}")})).await;
    }
    let hanging = eventually(Duration::from_secs(5), async || stuck.received().len() >= 2).await;
    assert!(hanging);

    let started = std::time::Instant::now();
    report(
        &app,
        json!({"latitude": BACK_BAY.0, "longitude": BACK_BAY.1, "address": "300 Boylston St"}),
    )
    .await;
    let received = fine.wait_for_accepted(Duration::from_secs(10)).await;
    assert_eq!(received.len(), 1);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "waited {:?} behind the hanging receiver",
        started.elapsed()
    );
    assert!(
        stuck.received().len() <= signalons_delivery::PER_DESTINATION,
        "the hanging receiver holds at most its share of the worker"
    );
}

#[tokio::test]
async fn two_servers_sharing_a_slow_receiver_send_each_message_once() {
    let app = TestApp::spawn().await;
    let _replica = app.replica();
    let admin = app.staff("admin", &[]).await;
    let code = department(&app).await;
    let receiver = WebhookReceiver::start();
    // A second per request: eight messages take longer than a lease (4 s) sent one by one.
    receiver.behave(Behaviour::Slow);
    set_channel(
        &app,
        &admin,
        &code,
        "webhook",
        json!({"url": receiver.url, "secret": SECRET}),
    )
    .await;
    for n in 0..8 {
        report(&app, json!({"description": format!("Hole number {n}")})).await;
    }
    let all = eventually(Duration::from_secs(20), async || {
        outbox_rows(&app.db)
            .await
            .iter()
            .all(|row| row.state == "delivered")
    })
    .await;
    assert!(all, "{:?}", outbox_rows(&app.db).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut keys: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.header("Signalons-Delivery").unwrap().to_owned())
        .collect();
    keys.sort();
    let sent = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), 8);
    assert_eq!(sent, 8, "no message sent twice");
    assert!(
        outbox_rows(&app.db)
            .await
            .iter()
            .all(|row| row.attempts == 1)
    );
}

#[tokio::test]
async fn an_outcome_that_comes_after_its_lease_passed_to_another_worker_is_not_recorded() {
    use signalons_db::outbox::{self, Outcome};
    let db = TestDatabase::new(Contents::BostonCatalog).await;
    let mut conn = db.connect().await;
    diesel::sql_query(
        "INSERT INTO outbox (jurisdiction_id, message, channel, destination, delivery_key) \
         SELECT id, 'alert_confirm', 'email', 'a@example.org', 'test:' || n \
         FROM jurisdictions, generate_series(1, 2) AS n",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let lease = chrono::Duration::minutes(1);
    let now = chrono::Utc::now();
    let first = outbox::claim(&mut conn, lease, now, &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.attempts, 1);
    let other = outbox::claim(&mut conn, lease, now, &[])
        .await
        .unwrap()
        .unwrap();
    assert_ne!(other.id, first.id);
    assert!(
        outbox::claim(&mut conn, lease, now, &[])
            .await
            .unwrap()
            .is_none(),
        "both are leased"
    );
    // The first worker's lease runs out: another worker claims and delivers the message...
    let later = now + chrono::Duration::minutes(2);
    let busy = vec!["a@example.org".to_owned()];
    assert!(
        outbox::claim(&mut conn, lease, later, &busy)
            .await
            .unwrap()
            .is_none(),
        "a busy destination is left for later"
    );
    let again = outbox::claim(&mut conn, lease, later, &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.attempts), (first.id, 2));
    assert!(
        outbox::finish(
            &mut conn,
            again.id,
            again.attempts,
            &Outcome::Delivered,
            later
        )
        .await
        .unwrap()
    );
    // ...then the first worker's outcome arrives: too late to count.
    for late in [
        Outcome::RetryAt(later, "webhook: timed out".to_owned()),
        Outcome::Dead("gave up".to_owned()),
        Outcome::Delivered,
    ] {
        assert!(
            !outbox::finish(&mut conn, first.id, first.attempts, &late, later)
                .await
                .unwrap()
        );
    }
    let rows = outbox_rows(&db).await;
    let row = rows.iter().find(|row| row.id == first.id).unwrap();
    assert_eq!(
        (row.state.as_str(), row.attempts, row.last_error.as_deref()),
        ("delivered", 2, None)
    );
}

#[tokio::test]
async fn revoking_an_api_key_stops_its_webhooks_even_those_already_queued() {
    let app = TestApp::spawn().await;
    let receiver = WebhookReceiver::start();
    receiver.behave(Behaviour::Fail);
    let mut conn = app.db.connect().await;
    let key = signalons_api::api_keys::create(
        &mut conn,
        "Civic app",
        &["webhooks".to_owned()],
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let subscribed = app
        .client
        .post(app.url("/api/v1/webhooks"))
        .header("X-Api-Key", &key.key)
        .json(
            &json!({"jurisdiction": "boston", "url": receiver.url, "secret": SECRET,
                      "events": ["report.created", "report.status_changed"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(subscribed.status(), StatusCode::CREATED);
    report(&app, json!({})).await;
    let failing = eventually(Duration::from_secs(5), async || {
        !receiver.received().is_empty()
    })
    .await;
    assert!(failing);

    assert!(
        signalons_api::api_keys::revoke(&mut conn, &key.prefix, chrono::Utc::now())
            .await
            .unwrap()
    );
    receiver.behave(Behaviour::Accept);
    report(
        &app,
        json!({"latitude": BACK_BAY.0, "longitude": BACK_BAY.1}),
    )
    .await;
    let skipped = eventually(Duration::from_secs(5), async || {
        outbox_rows(&app.db).await[0].state == "skipped"
    })
    .await;
    let rows = outbox_rows(&app.db).await;
    assert!(skipped, "{rows:?}");
    assert_eq!(
        rows.len(),
        1,
        "nothing queued for the revoked key: {rows:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(receiver.received().iter().all(|r| !r.accepted));
    let listed = app
        .client
        .get(app.url("/api/v1/webhooks"))
        .header("X-Api-Key", &key.key)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.db
            .count("webhook_subscriptions WHERE revoked_at IS NULL")
            .await,
        0,
        "its subscriptions ended with it"
    );
}

#[tokio::test]
async fn a_receiver_whose_port_refuses_connections_gets_the_message_once_it_listens_again() {
    let app = TestApp::spawn().await;
    let admin = app.staff("admin", &[]).await;
    let code = department(&app).await;
    let receiver = WebhookReceiver::start();
    set_channel(
        &app,
        &admin,
        &code,
        "webhook",
        json!({"url": receiver.url, "secret": SECRET}),
    )
    .await;
    receiver.stop().await;
    report(&app, json!({})).await;

    // Connections refused: attempts go on, spaced out, and the message waits.
    let retried = eventually(Duration::from_secs(3), async || {
        outbox_rows(&app.db).await[0].attempts >= 2
    })
    .await;
    let row = &outbox_rows(&app.db).await[0];
    assert!(retried, "{row:?}");
    assert_eq!(row.state, "pending");
    assert!(
        row.last_error.as_deref().unwrap().starts_with("webhook:"),
        "{row:?}"
    );

    receiver.restart();
    let received = receiver.wait_for_accepted(Duration::from_secs(10)).await;
    assert_eq!(received.len(), 1);
    verify_signature(
        SECRET,
        received[0].header("Signalons-Signature").unwrap(),
        &received[0].body,
    );
    let delivered = eventually(Duration::from_secs(5), async || {
        outbox_rows(&app.db).await[0].state == "delivered"
    })
    .await;
    assert!(delivered, "{:?}", outbox_rows(&app.db).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 1, "delivered once");
}

#[tokio::test]
async fn mail_waits_while_the_smtp_server_is_down_and_goes_once_it_is_back() {
    let app = TestApp::spawn().await;
    let admin = app.staff("admin", &[]).await;
    let code = department(&app).await;
    set_channel(
        &app,
        &admin,
        &code,
        "email",
        json!({"to": "dorchester@pwd.example.org"}),
    )
    .await;
    app.mail.stop();
    report(&app, json!({})).await;

    let retried = eventually(Duration::from_secs(3), async || {
        outbox_rows(&app.db).await[0].attempts >= 2
    })
    .await;
    let row = &outbox_rows(&app.db).await[0];
    assert!(retried, "{row:?}");
    assert_eq!(row.state, "pending");
    assert!(
        row.last_error.as_deref().unwrap().starts_with("SMTP"),
        "{row:?}"
    );

    app.mail.restart().await;
    let mails = app.mail.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 1);
    assert!(
        header(&mails[0], "To")
            .unwrap()
            .contains("dorchester@pwd.example.org")
    );
    let delivered = eventually(Duration::from_secs(5), async || {
        outbox_rows(&app.db).await[0].state == "delivered"
    })
    .await;
    assert!(delivered, "{:?}", outbox_rows(&app.db).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.mail.mails().len(), 1, "sent once");
}

#[tokio::test]
async fn a_merge_tells_the_absorbed_reports_residents_and_apps_of_their_new_status() {
    let app = TestApp::spawn().await;
    let code = department(&app).await;
    let dispatcher = app.staff("dispatcher", &[&code]).await;
    let receiver = WebhookReceiver::start();
    let mut conn = app.db.connect().await;
    let key = signalons_api::api_keys::create(
        &mut conn,
        "Civic app",
        &["webhooks".to_owned()],
        chrono::Utc::now(),
    )
    .await
    .unwrap()
    .key;
    let subscribed = app
        .client
        .post(app.url("/api/v1/webhooks"))
        .header("X-Api-Key", &key)
        .json(
            &json!({"jurisdiction": "boston", "url": receiver.url, "secret": SECRET,
                      "events": ["report.status_changed"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(subscribed.status(), StatusCode::CREATED);
    // Two potholes 150 m apart: two jobs; the second's reporter left an email.
    let first = report(&app, json!({})).await;
    let second = report(
        &app,
        json!({"latitude": DORCHESTER.0 + 0.0014, "address": "40 Dorchester Ave",
               "contact_email": "second@example.org"}),
    )
    .await;
    let keeper = first["incident_id"].as_i64().unwrap();
    let absorbed = second["incident_id"].as_i64().unwrap();
    assert_ne!(keeper, absorbed);
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/jobs/{keeper}/status"),
        &dispatcher.token,
        &[("If-Match", "\"1\"")],
        Some(json!({"status": "scheduled", "explanation": "Crew booked for Thursday."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let first_news = eventually(Duration::from_secs(10), async || {
        receiver.received().len() == 1
    })
    .await;
    assert!(first_news);

    let (status, merged) = call(
        &app,
        Method::POST,
        &format!("/api/v1/jobs/{keeper}/merge"),
        &dispatcher.token,
        &[("If-Match", "\"2\"")],
        Some(json!({"incident_ids": [absorbed], "explanation": "The same crater, reported from both ends."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{merged}");

    let mails = app.mail.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(
        header(&mails[0], "To")
            .unwrap()
            .contains("second@example.org")
    );
    assert!(header(&mails[0], "Subject").unwrap().contains("scheduled"));
    assert!(text(&mails[0]).contains("reported from both ends"));
    let told = eventually(Duration::from_secs(10), async || {
        receiver.received().len() == 2
    })
    .await;
    assert!(told);
    let event: Value = serde_json::from_slice(&receiver.received()[1].body).unwrap();
    assert_eq!(event["event"], "report.status_changed");
    assert_eq!(event["report"]["id"], second["id"]);
    assert_eq!(event["change"]["from"], "submitted");
    assert_eq!(event["change"]["status"], "scheduled");
    assert_eq!(
        event["change"]["explanation"],
        "The same crater, reported from both ends."
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.mail.mails().len(),
        1,
        "the keeper's reporter left no email"
    );
    assert_eq!(receiver.received().len(), 2);
}

#[tokio::test]
async fn an_unsubscribe_stops_mails_already_queued_and_opening_the_link_changes_nothing() {
    let app = TestApp::spawn().await;
    let code = department(&app).await;
    let crew = app.staff("crew", &[&code]).await;
    let created = report(&app, json!({"contact_email": "Reporter@Example.org"})).await;
    let job = created["incident_id"].as_i64().unwrap();
    let token = signalons_domain::delivery::unsubscribe_token(
        &signalons_domain::delivery::unsubscribe_key(signalons_test_support::TEST_JWT_SECRET),
        "reporter@example.org",
    );
    let link = format!("/api/v1/unsubscribe?token={token}");

    // A mail scanner opens the link: a page with a button, nobody unsubscribed.
    let page = app.get(&link).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("<form method=\"post\" action=\"?token={token}\">")),
        "{html}"
    );
    assert_eq!(app.db.count("email_optouts").await, 0);

    // A status change is queued while mail cannot go out; then the resident unsubscribes.
    app.mail.stop();
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/jobs/{job}/status"),
        &crew.token,
        &[("If-Match", "\"1\"")],
        Some(json!({"status": "scheduled", "explanation": "Crew booked for Thursday."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let queued = eventually(Duration::from_secs(3), async || {
        outbox_rows(&app.db)
            .await
            .iter()
            .any(|row| row.message == "status_changed" && row.attempts >= 1)
    })
    .await;
    assert!(queued, "{:?}", outbox_rows(&app.db).await);
    let done = app
        .client
        .post(app.url(&link))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(done.json::<Value>().await.unwrap()["unsubscribed"], true);
    app.mail.restart().await;

    let skipped = eventually(Duration::from_secs(5), async || {
        outbox_rows(&app.db)
            .await
            .iter()
            .any(|row| row.message == "status_changed" && row.state == "skipped")
    })
    .await;
    assert!(skipped, "{:?}", outbox_rows(&app.db).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(app.mail.mails().is_empty(), "{:?}", app.mail.mails());

    // The page's button gets a page back.
    let pressed = app
        .client
        .post(app.url(&link))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert!(pressed.text().await.unwrap().contains("no more emails"));
}

#[tokio::test]
async fn an_open311_server_refusing_with_a_plain_text_error_is_not_retried() {
    let app = TestApp::spawn().await;
    let admin = app.staff("admin", &[]).await;
    let code = department(&app).await;
    let receiver = WebhookReceiver::start();
    receiver.behave(Behaviour::Refuse);
    let endpoint = receiver.url.trim_end_matches("/hooks/signalons").to_owned() + "/open311/v2";
    let (status, body) = set_channel(
        &app,
        &admin,
        &code,
        "open311",
        json!({"endpoint": endpoint, "api_key": "the-department-key"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let created = report(&app, json!({})).await;
    let dead = eventually(Duration::from_secs(5), async || {
        outbox_rows(&app.db).await[0].state == "dead"
    })
    .await;
    let row = &outbox_rows(&app.db).await[0];
    assert!(dead, "{row:?}");
    assert_eq!(row.attempts, 1, "not retried");
    assert!(
        row.last_error
            .as_deref()
            .unwrap()
            .contains("does not take that"),
        "{row:?}"
    );
    // What the other server got: the delivery key in the header and in the description.
    let sent = &receiver.received()[0];
    assert_eq!(
        sent.header("Idempotency-Key"),
        Some(row.delivery_key.as_str())
    );
    let form: Vec<(String, String)> = form_urlencoded::parse(&sent.body).into_owned().collect();
    let description = &form.iter().find(|(k, _)| k == "description").unwrap().1;
    assert!(
        description.starts_with("Deep hole by the bus stop"),
        "{description}"
    );
    assert!(
        description.ends_with(&format!(
            "https://signalons.example.org/reports/{} (delivery {})",
            created["id"], row.delivery_key
        )),
        "{description}"
    );
}

#[tokio::test]
async fn urls_into_the_servers_own_network_are_refused_unless_allowed() {
    let app = TestApp::spawn_targeting(
        TestDatabase::new(Contents::BostonCatalog).await,
        generous_limits(),
        Targets::PublicOnly,
    )
    .await;
    let admin = app.staff("admin", &[]).await;
    let code = department(&app).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost:8080/hook",
        "http://[::1]/hook",
        "http://10.1.2.3/hook",
    ] {
        let (status, body) = set_channel(
            &app,
            &admin,
            &code,
            "webhook",
            json!({"url": url, "secret": SECRET}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        assert_eq!(body["errors"][0]["code"], "private_target", "{body}");
    }
    let mut conn = app.db.connect().await;
    let key = signalons_api::api_keys::create(
        &mut conn,
        "Civic app",
        &["webhooks".to_owned()],
        chrono::Utc::now(),
    )
    .await
    .unwrap()
    .key;
    let refused = app
        .client
        .post(app.url("/api/v1/webhooks"))
        .header("X-Api-Key", &key)
        .json(
            &json!({"jurisdiction": "boston", "url": "http://192.168.1.1/admin",
                      "secret": SECRET, "events": ["report.created"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "private_target", "{body}");

    // A URL that got into the database another way is not called either.
    let receiver = WebhookReceiver::start();
    diesel::sql_query(
        "UPDATE departments SET channel = 'webhook', \
                channel_config = jsonb_build_object('url', $1::text, 'secret', $2::text) \
         WHERE code = $3",
    )
    .bind::<diesel::sql_types::Text, _>(&receiver.url)
    .bind::<diesel::sql_types::Text, _>(SECRET)
    .bind::<diesel::sql_types::Text, _>(&code)
    .execute(&mut conn)
    .await
    .unwrap();
    report(&app, json!({})).await;
    let dead = eventually(Duration::from_secs(5), async || {
        outbox_rows(&app.db).await[0].state == "dead"
    })
    .await;
    assert!(dead, "{:?}", outbox_rows(&app.db).await);
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn a_cancelled_alert_sends_nothing_more_not_even_what_was_queued() {
    let app = TestApp::spawn().await;
    let (lat, long) = DORCHESTER;
    let created = app
        .post_json(
            "/api/v1/alerts",
            &json!({"email": "watcher@example.org", "latitude": lat, "longitude": long,
                    "radius_m": 300}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::ACCEPTED);
    let alert = created.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let mails = app.mail.wait_for(1, Duration::from_secs(10)).await;
    let confirm = link_in(
        &mails[0],
        "https://signalons.example.org/api/v1/alerts/confirm",
    );
    assert_eq!(post(&app, &confirm).await.status(), StatusCode::OK);

    // A new problem's alert is queued while mail cannot go out; then the alert is cancelled.
    app.mail.stop();
    report(&app, json!({})).await;
    let queued = eventually(Duration::from_secs(3), async || {
        outbox_rows(&app.db)
            .await
            .iter()
            .any(|row| row.message == "area_alert" && row.attempts >= 1)
    })
    .await;
    assert!(queued, "{:?}", outbox_rows(&app.db).await);
    let token = signalons_domain::delivery::signed_token(
        &signalons_domain::delivery::unsubscribe_key(signalons_test_support::TEST_JWT_SECRET),
        "cancel-alert",
        &alert.to_string(),
    );
    let cancelled = post(&app, &format!("/api/v1/alerts/cancel?token={token}")).await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    app.mail.restart().await;

    let skipped = eventually(Duration::from_secs(5), async || {
        outbox_rows(&app.db)
            .await
            .iter()
            .any(|row| row.message == "area_alert" && row.state == "skipped")
    })
    .await;
    assert!(skipped, "{:?}", outbox_rows(&app.db).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.mail.mails().len(), 1, "only the confirmation request");
}
