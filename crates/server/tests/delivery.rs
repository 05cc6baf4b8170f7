//! Delivery: departments receive every report by email or signed webhook, residents hear of
//! status changes, failures are retried, and a crash mid-delivery loses nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use diesel_async::RunQueryDsl;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use signalons_test_support::{Behaviour, Staff, TestApp, WebhookReceiver};

const DORCHESTER: (f64, f64) = (42.3016, -71.0676);
const SECRET: &str = "a-webhook-secret-0123456789";

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
    let (_, preview) = app
        .get_json(&format!(
            "/api/v1/routing?lat={}&long={}&category=pothole",
            DORCHESTER.0, DORCHESTER.1
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
    let signature = hook.header("Signalons-Signature").unwrap();
    let t: i64 = signature
        .split(',')
        .next()
        .unwrap()
        .trim_start_matches("t=")
        .parse()
        .unwrap();
    assert_eq!(
        signature,
        signalons_domain::delivery::webhook_signature(SECRET, t, &hook.body)
    );
    assert!((chrono::Utc::now().timestamp() - t).abs() < 60);
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

#[tokio::test]
async fn a_crash_mid_delivery_loses_nothing_and_the_repeat_carries_the_same_key() {
    let app = TestApp::spawn().await;
    let admin = app.staff("admin", &[]).await;
    let code = department(&app).await;
    let receiver = WebhookReceiver::start();
    receiver.behave(Behaviour::Hang);
    set_channel(
        &app,
        &admin,
        &code,
        "webhook",
        json!({"url": receiver.url, "secret": SECRET}),
    )
    .await;
    report(&app, json!({})).await;

    // The worker is inside the request when the server dies.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while receiver.received().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(receiver.received().len(), 1);
    app.crash_delivery();
    receiver.behave(Behaviour::Accept);

    // Another server (a restart, or a replica) takes the message once its lease has run out.
    let _restarted = app.replica();
    let received = receiver.wait_for_accepted(Duration::from_secs(15)).await;
    assert_eq!(
        received.len(),
        2,
        "the hung attempt and the one after the restart"
    );
    assert_eq!(
        received[0].header("Signalons-Delivery"),
        received[1].header("Signalons-Delivery")
    );
    assert_eq!(app.db.count("outbox").await, 1);
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
    for hook in &received {
        let signature = hook.header("Signalons-Signature").unwrap();
        let t: i64 = signature
            .split(',')
            .next()
            .unwrap()
            .trim_start_matches("t=")
            .parse()
            .unwrap();
        assert_eq!(
            signature,
            signalons_domain::delivery::webhook_signature(SECRET, t, &hook.body)
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
    let confirmed = app.get(&confirm).await;
    assert_eq!(confirmed.status(), StatusCode::OK);

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
    assert_eq!(app.get(&cancel).await.status(), StatusCode::OK);
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
    assert_eq!(app.get(&confirm).await.status(), StatusCode::OK);
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
