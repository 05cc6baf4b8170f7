//! Accounts, the crew queue and its live stream, status changes explained in public, and
//! authorization tried the way an attacker would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use diesel_async::RunQueryDsl;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use signalons_test_support::{Contents, Staff, TestApp, TestDatabase, generous_limits};

const DORCHESTER: (f64, f64) = (42.3016, -71.0676);
const BACK_BAY: (f64, f64) = (42.3503, -71.0810);

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value, headers)
}

async fn get(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    let (status, body, _) = call(app, Method::GET, path, Some(token), &[], None).await;
    (status, body)
}

/// Posts a job action conditional on `version`.
async fn act(
    app: &TestApp,
    staff: &Staff,
    job: i64,
    action: &str,
    version: i64,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let etag = format!("\"{version}\"");
    let (status, body, _) = call(
        app,
        Method::POST,
        &format!("/api/v1/jobs/{job}/{action}"),
        Some(&staff.token),
        &[("If-Match", &etag)],
        body,
    )
    .await;
    (status, body)
}

async fn department_of(app: &TestApp, (lat, long): (f64, f64), category: &str) -> String {
    let (status, preview) = app
        .get_json(&format!(
            "/api/v1/routing?lat={lat}&long={long}&category={category}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    preview["department"]["code"].as_str().unwrap().to_owned()
}

async fn report(app: &TestApp, (lat, long): (f64, f64), category: &str, extra: Value) -> Value {
    let mut body = json!({"category": category, "latitude": lat, "longitude": long,
                          "description": "Needs fixing", "contact_email": "resident@example.org"});
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    let response = app.post_json("/api/v1/reports", &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_dispatcher_and_a_crew_made_by_an_admin_work_the_queue_in_public() {
    let app = TestApp::spawn().await;
    let department = department_of(&app, DORCHESTER, "pothole").await;
    let admin = app.staff("admin", &[]).await;

    // The admin makes a dispatcher and two crew members through the API.
    let mut made = Vec::new();
    for (role, email) in [
        ("dispatcher", "dispatch@city.example.org"),
        ("crew", "crew.a@city.example.org"),
        ("crew", "crew.b@city.example.org"),
    ] {
        let (status, body, _) = call(
            &app,
            Method::POST,
            "/api/v1/admin/staff",
            Some(&admin.token),
            &[],
            Some(
                json!({"email": email, "password": "a long enough password", "role": role,
                        "departments": [department]}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["departments"], json!([department]));
        let token = app.login(email, "a long enough password").await;
        made.push(Staff {
            id: body["id"].as_i64().unwrap(),
            email: email.into(),
            password: "a long enough password".into(),
            token,
        });
    }
    let [dispatcher, crew_a, crew_b] = [made[0].clone(), made[1].clone(), made[2].clone()];

    let created = report(&app, DORCHESTER, "pothole", json!({})).await;
    let job = created["incident_id"].as_i64().unwrap();

    let (status, queue) = get(&app, "/api/v1/queue?assignee=none", &crew_a.token).await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    let item = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["id"] == job)
        .expect("the new pothole is in the crew's queue");
    assert_eq!(item["department"], json!(department));
    assert!(item["due_at"].is_string(), "potholes have a service level");
    let version = item["version"].as_i64().unwrap();

    // A change needs the version the crew read.
    let (status, body, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/jobs/{job}/take"),
        Some(&crew_a.token),
        &[],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_REQUIRED, "{body}");
    assert_eq!(body["code"], "if_match_required");

    // Two crews read version v; the first take wins, the second gets 409 with the job as it is.
    let (status, taken) = act(&app, &crew_a, job, "take", version, None).await;
    assert_eq!(status, StatusCode::OK, "{taken}");
    assert_eq!(taken["assignee_id"], crew_a.id);
    let (status, conflict) = act(&app, &crew_b, job, "take", version, None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(conflict["code"], "version_conflict");
    assert_eq!(conflict["current"]["assignee_id"], crew_a.id);
    let now = conflict["current"]["version"].as_i64().unwrap();
    let (status, conflict) = act(&app, &crew_b, job, "take", now, None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(conflict["code"], "already_taken");

    // Crew b may not work crew a's job; the dispatcher may reassign it.
    let (status, refused) = act(
        &app,
        &crew_b,
        job,
        "status",
        now,
        Some(json!({"status": "in_progress", "explanation": "On it"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(refused["code"], "assigned_to_another");
    let (status, refused) = act(
        &app,
        &crew_a,
        job,
        "assign",
        now,
        Some(json!({"assignee_id": crew_b.id})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(refused["code"], "dispatcher_only");
    let (status, reassigned) = act(
        &app,
        &dispatcher,
        job,
        "assign",
        now,
        Some(json!({"assignee_id": crew_b.id})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reassigned}");
    let now = reassigned["version"].as_i64().unwrap();
    let (status, refused) = act(
        &app,
        &dispatcher,
        job,
        "assign",
        now,
        Some(json!({"assignee_id": admin.id + 1000})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused["code"], "invalid_assignee");

    // Every public status change needs an explanation; the status machine is enforced.
    let (status, refused) = act(
        &app,
        &crew_b,
        job,
        "status",
        now,
        Some(json!({"status": "in_progress", "explanation": " "})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused["errors"][0]["code"], "explanation_required");
    let (status, refused) = act(
        &app,
        &crew_b,
        job,
        "status",
        now,
        Some(json!({"status": "reopened", "explanation": "Why not"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused["code"], "invalid_transition");
    let (status, moved) = act(
        &app,
        &crew_b,
        job,
        "status",
        now,
        Some(
            json!({"status": "in_progress", "explanation": "A crew is on the way with asphalt.",
                    "internal_note": "Truck 12, ask for Joe at the depot"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let (status, resolved) = act(
        &app,
        &crew_b,
        job,
        "status",
        moved["version"].as_i64().unwrap(),
        Some(json!({"status": "resolved", "explanation": "Filled with hot asphalt on Tuesday."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert!(resolved["closed_at"].is_string());

    // Residents see the history with the explanations, never the internal note.
    let (_, public) = app
        .get_json(&format!("/api/v1/reports/{}", created["id"]))
        .await;
    assert_eq!(public["status"], "resolved");
    let (_, events) = app
        .get_json(&format!("/api/v1/reports/{}/events", created["id"]))
        .await;
    let text = events.to_string();
    assert!(
        text.contains("A crew is on the way with asphalt."),
        "{text}"
    );
    assert!(
        text.contains("Filled with hot asphalt on Tuesday."),
        "{text}"
    );
    assert!(
        !text.contains("Truck 12"),
        "internal notes stay internal: {text}"
    );

    // Staff see every action in the audit log, internal notes included.
    let (status, audit) = get(
        &app,
        &format!("/api/v1/jobs/{job}/audit"),
        &dispatcher.token,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["job.status", "job.status", "job.assign", "job.take"]
    );
    assert!(audit.to_string().contains("Truck 12"));

    // A closed job leaves the queue.
    let (_, queue) = get(&app, "/api/v1/queue", &crew_b.token).await;
    assert!(
        queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|item| item["id"] != job)
    );
}

#[tokio::test]
async fn crews_cannot_act_beyond_their_departments_and_residents_not_at_all() {
    let app = TestApp::spawn().await;
    let dorchester_department = department_of(&app, DORCHESTER, "pothole").await;
    let graffiti_department = department_of(&app, BACK_BAY, "graffiti").await;
    assert_ne!(dorchester_department, graffiti_department);
    let crew = app.staff("crew", &[&graffiti_department]).await;
    let job = report(&app, DORCHESTER, "pothole", json!({})).await["incident_id"]
        .as_i64()
        .unwrap();

    let (status, body) = get(&app, &format!("/api/v1/jobs/{job}"), &crew.token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "out_of_scope");
    let (status, body) = act(&app, &crew, job, "take", 1, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // Nor any other action on it, a dispatcher of that other department included.
    let other_dispatcher = app.staff("dispatcher", &[&graffiti_department]).await;
    for (who, action, body) in [
        (
            &crew,
            "status",
            Some(json!({"status": "in_progress", "explanation": "Not ours"})),
        ),
        (&crew, "release", None),
        (
            &other_dispatcher,
            "assign",
            Some(json!({"assignee_id": crew.id})),
        ),
        (
            &other_dispatcher,
            "status",
            Some(json!({"status": "rejected", "explanation": "Not ours"})),
        ),
        (&other_dispatcher, "release", None),
    ] {
        let (status, refused) = act(&app, who, job, action, 1, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{action}: {refused}");
        assert_eq!(refused["code"], "out_of_scope", "{action}");
    }
    let (_, untouched) = app.get_json(&format!("/api/v1/incidents/{job}")).await;
    assert_eq!(untouched["status"], "submitted");
    assert_eq!(app.db.count("audit_log WHERE action LIKE 'job.%'").await, 0);
    let (_, queue) = get(&app, "/api/v1/queue", &crew.token).await;
    assert!(
        queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|item| item["id"] != job)
    );

    // A resident with a valid token is still not staff.
    let (status, session, _) = call(
        &app,
        Method::POST,
        "/api/v1/auth/register",
        None,
        &[],
        Some(json!({"email": "Ada@Example.org", "password": "correct horse battery"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    assert_eq!(session["user"]["role"], "resident");
    assert_eq!(session["user"]["email"], "ada@example.org");
    let resident = Staff {
        id: session["user"]["id"].as_i64().unwrap(),
        email: "ada@example.org".into(),
        password: String::new(),
        token: session["access_token"].as_str().unwrap().into(),
    };
    let (status, body) = act(
        &app,
        &resident,
        job,
        "status",
        1,
        Some(json!({"status": "resolved", "explanation": "Fixed, trust me"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "staff_only");
    let (status, _) = get(&app, "/api/v1/queue", &resident.token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, public) = app.get_json(&format!("/api/v1/incidents/{job}")).await;
    assert_eq!(public["status"], "submitted", "nothing changed");
}

#[tokio::test]
async fn forged_expired_and_wrong_algorithm_tokens_are_refused() {
    use base64::Engine;
    let app = TestApp::spawn().await;
    let crew = app.staff("crew", &["PWD"]).await;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let [header, claims, _] =
        <[&str; 3]>::try_from(crew.token.split('.').collect::<Vec<_>>()).unwrap();
    let claims: Value = serde_json::from_slice(&b64.decode(claims).unwrap()).unwrap();

    // Claims changed to another user: the signature no longer matches.
    let mut elevated = claims.clone();
    elevated["sub"] = json!("1");
    let tampered = format!(
        "{header}.{}.{}",
        b64.encode(elevated.to_string()),
        crew.token.rsplit('.').next().unwrap()
    );
    // Unsigned, and signed with another algorithm.
    let unsigned = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(claims.to_string())
    );
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(signalons_test_support::TEST_JWT_SECRET),
    )
    .unwrap();
    let other_secret = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"another-secret-that-is-32-bytes-long!!"),
    )
    .unwrap();
    let mut old = claims.clone();
    old["exp"] = json!(claims["iat"].as_i64().unwrap() - 60);
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &old,
        &jsonwebtoken::EncodingKey::from_secret(signalons_test_support::TEST_JWT_SECRET),
    )
    .unwrap();

    for (token, code) in [
        (tampered.as_str(), "invalid_token"),
        (unsigned.as_str(), "invalid_token"),
        (hs512.as_str(), "invalid_token"),
        (other_secret.as_str(), "invalid_token"),
        (expired.as_str(), "token_expired"),
        ("not-a-jwt", "invalid_token"),
    ] {
        let (status, body, headers) =
            call(&app, Method::GET, "/api/v1/queue", Some(token), &[], None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token}: {body}");
        assert_eq!(body["code"], code, "{token}");
        assert!(
            headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
    }
    let (status, body, _) = call(&app, Method::GET, "/api/v1/queue", None, &[], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "unauthenticated");
    // A bad token on an endpoint that works anonymously is refused, not ignored.
    let (status, _, _) = call(
        &app,
        Method::POST,
        "/api/v1/reports",
        Some(&unsigned),
        &[],
        Some(json!({"category": "pothole", "latitude": DORCHESTER.0, "longitude": DORCHESTER.1})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.db.count("reports").await, 0);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_session() {
    let app = TestApp::spawn().await;
    let crew = app.staff("crew", &["PWD"]).await;
    let (status, first, _) = call(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        &[],
        Some(json!({"email": crew.email, "password": crew.password})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let original = first["refresh_token"].clone();

    let (status, second, _) = call(
        &app,
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        &[],
        Some(json!({"refresh_token": original})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(second["refresh_token"], original);
    let (status, _) = get(&app, "/api/v1/me", second["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);

    // The first token, stolen and replayed: refused, and the legitimate successor dies too.
    let (status, body, _) = call(
        &app,
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        &[],
        Some(json!({"refresh_token": original})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "refresh_token_reused");
    let (status, body, _) = call(
        &app,
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        &[],
        Some(json!({"refresh_token": second["refresh_token"]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "invalid_refresh_token");

    // Logging out revokes a session; wrong passwords say nothing about the account.
    let (_, third, _) = call(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        &[],
        Some(json!({"email": crew.email, "password": crew.password})),
    )
    .await;
    let (status, _, _) = call(
        &app,
        Method::POST,
        "/api/v1/auth/logout",
        None,
        &[],
        Some(json!({"refresh_token": third["refresh_token"]})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = call(
        &app,
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        &[],
        Some(json!({"refresh_token": third["refresh_token"]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for (email, password) in [
        (crew.email.as_str(), "wrong password!!"),
        ("nobody@example.org", "whatever it is"),
    ] {
        let (status, body, _) = call(
            &app,
            Method::POST,
            "/api/v1/auth/login",
            None,
            &[],
            Some(json!({"email": email, "password": password})),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["code"], "invalid_credentials");
    }
    let mut conn = app.db.connect().await;
    let hashes: Vec<String> = diesel::sql_query("SELECT password_hash AS text FROM users")
        .load::<TextRow>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.text)
        .collect();
    assert!(hashes.iter().all(|h| h.starts_with("$argon2id$")));
}

#[derive(diesel::QueryableByName)]
struct TextRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    text: String,
}

#[tokio::test]
async fn admin_endpoints_refuse_escalation_and_disabled_accounts_lose_access() {
    let app = TestApp::spawn().await;
    let admin = app.staff("admin", &[]).await;
    let dispatcher = app.staff("dispatcher", &["PWD"]).await;
    let crew = app.staff("crew", &["PWD"]).await;

    let new_admin =
        json!({"email": "evil@example.org", "password": "a long enough password", "role": "admin"});
    for who in [&dispatcher, &crew] {
        let (status, body, _) = call(
            &app,
            Method::POST,
            "/api/v1/admin/staff",
            Some(&who.token),
            &[],
            Some(new_admin.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["code"], "admin_only");
        let (status, _, _) = call(
            &app,
            Method::PATCH,
            &format!("/api/v1/admin/staff/{}", who.id),
            Some(&who.token),
            &[],
            Some(json!({"role": "admin"})),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    // An admin cannot lock themselves out, nor make a resident or an unknown department.
    let (status, body, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/admin/staff/{}", admin.id),
        Some(&admin.token),
        &[],
        Some(json!({"role": "crew"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["code"], "cannot_demote_self");
    let (status, body, _) = call(&app, Method::POST, "/api/v1/admin/staff", Some(&admin.token), &[],
        Some(json!({"email": "x@example.org", "password": "a long enough password", "role": "crew", "departments": ["NOPE"]}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["code"], "unknown_department");
    let (status, _, _) = call(&app, Method::POST, "/api/v1/admin/staff", Some(&admin.token), &[],
        Some(json!({"email": crew.email, "password": "a long enough password", "role": "crew", "departments": ["PWD"]}))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(app.db.count("users").await, 3);

    // Disabling takes effect at once, even for an access token still within its lifetime.
    let (status, body, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/admin/staff/{}", crew.id),
        Some(&admin.token),
        &[],
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = get(&app, "/api/v1/queue", &crew.token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "account_disabled");
    // Demoting a dispatcher to crew removes the dispatcher's rights at once.
    let (status, _, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/admin/staff/{}", dispatcher.id),
        Some(&admin.token),
        &[],
        Some(json!({"role": "crew"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, me) = get(&app, "/api/v1/me", &dispatcher.token).await;
    assert_eq!(me["role"], "crew");
}

#[tokio::test]
async fn personal_data_never_reaches_public_responses() {
    let app = TestApp::spawn().await;
    let department = department_of(&app, DORCHESTER, "pothole").await;
    let crew = app.staff("crew", &[&department]).await;
    let (_, session, _) = call(&app, Method::POST, "/api/v1/auth/register", None, &[],
        Some(json!({"email": "grace@example.org", "password": "correct horse battery", "display_name": "Grace H"}))).await;
    let resident = session["access_token"].as_str().unwrap().to_owned();
    let (status, created, _) = call(&app, Method::POST, "/api/v1/reports", Some(&resident), &[],
        Some(json!({"category": "pothole", "latitude": DORCHESTER.0, "longitude": DORCHESTER.1,
                    "contact_email": "private.contact@example.org", "device_id": "device-of-grace-123"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let incident = created["incident_id"].clone();
    let (_, job) = get(&app, &format!("/api/v1/jobs/{incident}"), &crew.token).await;
    let (status, _) = act(
        &app,
        &crew,
        incident.as_i64().unwrap(),
        "take",
        job["version"].as_i64().unwrap(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let mut everything = created.to_string();
    for path in [
        format!("/api/v1/reports/{}", created["id"]),
        format!("/api/v1/reports/{}/events", created["id"]),
        "/api/v1/reports?limit=200".to_owned(),
        format!("/api/v1/incidents/{incident}"),
        format!(
            "/api/v1/reports/duplicates?lat={}&long={}&category=pothole",
            DORCHESTER.0, DORCHESTER.1
        ),
        "/open311/v2/requests.json?extensions=true".to_owned(),
        format!("/open311/v2/requests/{}.xml", created["id"]),
    ] {
        let response = app.get(&path).await;
        assert!(response.status().is_success(), "{path}");
        everything.push_str(&response.text().await.unwrap());
    }
    for secret in [
        "grace@example.org",
        "Grace H",
        "private.contact@example.org",
        "device-of-grace",
        &crew.email,
    ] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
}

#[tokio::test]
async fn the_live_stream_shows_a_change_made_through_another_replica() {
    let app = TestApp::spawn().await;
    let other = app.replica();
    let department = department_of(&app, DORCHESTER, "pothole").await;
    let crew_here = app.staff("crew", &[&department]).await;

    let mut stream = app
        .client
        .get(other.url("/api/v1/queue/stream"))
        .bearer_auth(&crew_here.token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let mut seen = String::new();
    let mut read_until = async |needle: &str, seen: &mut String| {
        tokio::time::timeout(Duration::from_secs(10), async {
            while !seen.contains(needle) {
                let chunk = stream
                    .chunk()
                    .await
                    .unwrap()
                    .expect("the stream stays open");
                seen.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {needle:?} in {seen:?}"));
    };
    read_until("event: ready", &mut seen).await;

    // A report and a take through the first replica reach the second replica's stream.
    let job = report(&app, DORCHESTER, "pothole", json!({})).await["incident_id"]
        .as_i64()
        .unwrap();
    read_until("\"change\":\"created\"", &mut seen).await;
    assert!(seen.contains(&format!("\"incident_id\":{job}")), "{seen}");
    let (status, _) = act(&app, &crew_here, job, "take", 1, None).await;
    assert_eq!(status, StatusCode::OK);
    read_until("\"change\":\"assigned\"", &mut seen).await;
    // Another department's work is not streamed to this crew.
    report(&app, BACK_BAY, "graffiti", json!({})).await;
    let graffiti_department = department_of(&app, BACK_BAY, "graffiti").await;
    assert_ne!(graffiti_department, department);
    let (status, _) = act(&app, &crew_here, job, "release", 2, None).await;
    assert_eq!(status, StatusCode::OK);
    read_until("\"version\":3", &mut seen).await;
    assert_eq!(seen.matches("event: queue").count(), 3, "{seen}");
}

#[tokio::test]
async fn the_reporter_reopens_a_resolution_within_the_window() {
    let app = TestApp::spawn().await;
    let department = department_of(&app, DORCHESTER, "pothole").await;
    let crew = app.staff("crew", &[&department]).await;
    let created = report(
        &app,
        DORCHESTER,
        "pothole",
        json!({"device_id": "phone-of-the-reporter"}),
    )
    .await;
    let job = created["incident_id"].as_i64().unwrap();
    let reopen = |device: &'static str| json!({"explanation": "Still a hole, the patch came off", "device_id": device});
    let path = format!("/api/v1/reports/{}/reopen", created["id"]);
    let (status, body, _) = call(
        &app,
        Method::POST,
        &path,
        None,
        &[],
        Some(reopen("phone-of-the-reporter")),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "not_reopenable");

    let (status, _) = act(
        &app,
        &crew,
        job,
        "status",
        1,
        Some(json!({"status": "resolved", "explanation": "Patched."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body, _) = call(
        &app,
        Method::POST,
        &path,
        None,
        &[],
        Some(reopen("somebody-elses-phone")),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "not_the_reporter");
    let (status, body, _) = call(
        &app,
        Method::POST,
        &path,
        None,
        &[],
        Some(reopen("phone-of-the-reporter")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "reopened");
    let (_, queue) = get(&app, "/api/v1/queue", &crew.token).await;
    assert!(
        queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|item| item["id"] == job),
        "back in the queue"
    );

    // Past the window the reporter is told to report it again.
    let (status, _) = act(
        &app,
        &crew,
        job,
        "status",
        3,
        Some(json!({"status": "resolved", "explanation": "Patched again."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let mut conn = app.db.connect().await;
    diesel::sql_query("UPDATE incidents SET closed_at = now() - interval '15 days'")
        .execute(&mut conn)
        .await
        .unwrap();
    let (status, body, _) = call(
        &app,
        Method::POST,
        &path,
        None,
        &[],
        Some(reopen("phone-of-the-reporter")),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "reopen_window_passed");
}

#[tokio::test]
async fn a_resident_who_signs_up_claims_the_reports_of_their_device() {
    let app = TestApp::spawn().await;
    report(
        &app,
        DORCHESTER,
        "pothole",
        json!({"device_id": "first-phone-0001"}),
    )
    .await;
    report(
        &app,
        BACK_BAY,
        "graffiti",
        json!({"device_id": "second-phone-0002"}),
    )
    .await;
    report(
        &app,
        BACK_BAY,
        "street_light_out",
        json!({"device_id": "not-mine-00003"}),
    )
    .await;
    let (status, session, _) = call(&app, Method::POST, "/api/v1/auth/register", None, &[],
        Some(json!({"email": "new@example.org", "password": "correct horse battery", "device_id": "first-phone-0001"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let token = session["access_token"].as_str().unwrap();
    let (status, claimed, _) = call(
        &app,
        Method::POST,
        "/api/v1/me/claims",
        Some(token),
        &[],
        Some(json!({"device_id": "second-phone-0002"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(claimed["claimed"], 1);
    let mut conn = app.db.connect().await;
    let owned: Vec<TextRow> = diesel::sql_query(
        "SELECT count(*)::text AS text FROM reports WHERE reporter_id IS NOT NULL",
    )
    .load(&mut conn)
    .await
    .unwrap();
    assert_eq!(owned[0].text, "2");
    let (status, body, _) = call(
        &app,
        Method::POST,
        "/api/v1/auth/register",
        None,
        &[],
        Some(json!({"email": "NEW@example.org", "password": "correct horse battery"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "email_taken");
}

#[tokio::test]
async fn floods_get_429_with_retry_after_and_write_nothing() {
    let limits = signalons_api::rate_limit::RateLimits {
        login_per_minute: 3,
        reports_per_minute: 2,
        ..generous_limits()
    };
    let app = TestApp::spawn_with(TestDatabase::new(Contents::BostonCatalog).await, limits).await;
    for attempt in 0..4 {
        let (status, body, headers) = call(
            &app,
            Method::POST,
            "/api/v1/auth/login",
            None,
            &[],
            Some(json!({"email": "target@example.org", "password": "guess number one"})),
        )
        .await;
        if attempt < 3 {
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        } else {
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(body["code"], "rate_limited");
            let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=60).contains(&wait), "{wait}");
        }
    }
    for attempt in 0..3 {
        let body =
            json!({"category": "pothole", "latitude": DORCHESTER.0, "longitude": DORCHESTER.1});
        let response = app.post_json("/api/v1/reports", &body).await;
        let expected = if attempt < 2 {
            StatusCode::CREATED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(response.status(), expected);
    }
    assert_eq!(app.db.count("reports").await, 2);
}

#[tokio::test]
async fn overdue_jobs_come_first_and_due_dates_follow_the_local_calendar() {
    let app = TestApp::spawn().await;
    let department = department_of(&app, DORCHESTER, "pothole").await;
    let crew = app.staff("crew", &[&department]).await;
    let first = report(&app, DORCHESTER, "pothole", json!({})).await["incident_id"]
        .as_i64()
        .unwrap();
    let second = report(&app, (42.2900, -71.0710), "pothole", json!({})).await["incident_id"]
        .as_i64()
        .unwrap();
    let mut conn = app.db.connect().await;
    diesel::sql_query(format!(
        "UPDATE incidents SET due_at = now() - interval '1 hour' WHERE id = {second}"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let (_, queue) = get(&app, "/api/v1/queue", &crew.token).await;
    let ids: Vec<i64> = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    let position = |id| ids.iter().position(|&x| x == id).unwrap();
    assert!(position(second) < position(first), "{ids:?}");
    assert_eq!(queue["items"][position(second)]["overdue"], true);

    // Two days for a pothole opened Saturday 7 March 2026 at 10:00 in Boston: due at the end of
    // Monday the 9th, local time — after the switch to daylight time on Sunday the 8th.
    let due: Vec<TextRow> = diesel::sql_query(
        "SELECT to_char(incident_due_at(id, '2026-03-07T15:00:00Z') AT TIME ZONE 'UTC', \
                'YYYY-MM-DD\"T\"HH24:MI') AS text \
         FROM categories WHERE code = 'pothole'",
    )
    .load(&mut conn)
    .await
    .unwrap();
    assert_eq!(due[0].text, "2026-03-10T04:00");
}

#[tokio::test]
async fn dispatchers_merge_duplicates_and_split_what_was_wrongly_joined() {
    let app = TestApp::spawn().await;
    let department = department_of(&app, DORCHESTER, "pothole").await;
    let dispatcher = app.staff("dispatcher", &[&department]).await;
    let crew = app.staff("crew", &[&department]).await;
    // Two potholes 150 m apart: separate incidents, which the dispatcher knows are one.
    let first = report(&app, DORCHESTER, "pothole", json!({})).await;
    let second = report(
        &app,
        (DORCHESTER.0 + 0.0014, DORCHESTER.1),
        "pothole",
        json!({}),
    )
    .await;
    let keeper = first["incident_id"].as_i64().unwrap();
    let absorbed = second["incident_id"].as_i64().unwrap();
    assert_ne!(keeper, absorbed);
    let merge = json!({"incident_ids": [absorbed], "explanation": "The same crater, reported from both ends."});

    let (status, body) = act(&app, &crew, keeper, "merge", 1, Some(merge.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "dispatcher_only");
    let (status, merged) = act(&app, &dispatcher, keeper, "merge", 1, Some(merge)).await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    assert_eq!(merged["report_count"], 2);
    assert_eq!(merged["supporters_count"], 1);
    let (_, old) = app.get_json(&format!("/api/v1/incidents/{absorbed}")).await;
    assert_eq!(old["status"], "duplicate");
    assert_eq!(old["merged_into"], keeper);
    let (_, moved) = app
        .get_json(&format!("/api/v1/reports/{}", second["id"]))
        .await;
    assert_eq!(moved["incident_id"], keeper);
    let (_, events) = app
        .get_json(&format!("/api/v1/reports/{}/events", second["id"]))
        .await;
    assert!(events.to_string().contains("reported from both ends"));

    // Split it back off: a new job with that report, the keeper keeps the other one.
    let version = merged["version"].as_i64().unwrap();
    let split = json!({"report_ids": [second["id"]], "explanation": "Two holes after all."});
    let (status, body) = act(
        &app,
        &dispatcher,
        keeper,
        "split",
        version,
        Some(json!({"report_ids": [first["id"], second["id"]], "explanation": "All of them"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "not_splittable");
    let (status, created) = act(&app, &dispatcher, keeper, "split", version, Some(split)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["report_count"], 1);
    let new_job = created["id"].as_i64().unwrap();
    let (_, moved) = app
        .get_json(&format!("/api/v1/reports/{}", second["id"]))
        .await;
    assert_eq!(moved["incident_id"], new_job);
    let (_, kept) = app.get_json(&format!("/api/v1/incidents/{keeper}")).await;
    assert_eq!(kept["report_count"], 1);
    let (_, audit) = get(
        &app,
        &format!("/api/v1/jobs/{keeper}/audit"),
        &dispatcher.token,
    )
    .await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["job.split", "job.merge"]);
}

#[tokio::test]
async fn admins_define_departments_categories_areas_and_routes() {
    let app = TestApp::spawn().await;
    let admin = app.staff("admin", &[]).await;
    let dispatcher = app.staff("dispatcher", &["PWD"]).await;
    let put = async |who: &Staff, path: &str, body: Value| {
        call(&app, Method::PUT, path, Some(&who.token), &[], Some(body)).await
    };
    let (status, _, _) = put(
        &dispatcher,
        "/api/v1/admin/departments/SNOW",
        json!({"name": "Snow Desk"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body, _) = put(
        &admin,
        "/api/v1/admin/departments/snow desk",
        json!({"name": "Snow Desk"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["code"], "invalid_code");
    let (status, _, _) = put(
        &admin,
        "/api/v1/admin/departments/SNOW",
        json!({"name": "Snow Desk", "name_fr": "Bureau neige"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let category = json!({"name": "Icy sidewalk", "group": "Snow", "dedup_group": "icy_sidewalk",
        "department": "SNOW", "default_priority": 2, "dedup_radius_m": 40, "dedup_window_days": 7,
        "allow_anonymous": true, "sla_days": 1});
    let (status, body, _) = put(
        &admin,
        "/api/v1/admin/categories/icy_sidewalk",
        category.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut bad = category.clone();
    bad["dedup_radius_m"] = json!(0);
    bad["department"] = json!("NOPE");
    let (status, body, _) = put(&admin, "/api/v1/admin/categories/icy_sidewalk", bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"].as_array().unwrap().len(), 2, "{body}");
    let (_, preview) = app
        .get_json(&format!(
            "/api/v1/routing?lat={}&long={}&category=icy_sidewalk",
            BACK_BAY.0, BACK_BAY.1
        ))
        .await;
    assert_eq!(preview["department"]["code"], "SNOW");

    // A district drawn around Back Bay, then a route of the category there to Public Works.
    let (lat, long) = BACK_BAY;
    let square = json!({"type": "FeatureCollection", "features": [{"type": "Feature",
        "properties": {"name": "Snow District 1"},
        "geometry": {"type": "Polygon", "coordinates": [[[long - 0.01, lat - 0.01], [long + 0.01, lat - 0.01],
            [long + 0.01, lat + 0.01], [long - 0.01, lat + 0.01], [long - 0.01, lat - 0.01]]]}}]});
    let bowtie =
        json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]});
    let (status, body, _) = call(
        &app,
        Method::POST,
        "/api/v1/admin/areas?kind=snow_district&priority=20",
        Some(&admin.token),
        &[],
        Some(bowtie),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let areas_before = app.db.count("service_areas").await;
    let (status, body, _) = call(
        &app,
        Method::POST,
        "/api/v1/admin/areas?kind=snow_district&priority=20",
        Some(&admin.token),
        &[],
        Some(square),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["stored"], 1);
    assert_eq!(app.db.count("service_areas").await, areas_before + 1);
    let (status, _, _) = put(
        &admin,
        "/api/v1/admin/routes",
        json!({"category": "icy_sidewalk", "area": "snow-district-1", "department": "PWD"}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body, _) = put(
        &admin,
        "/api/v1/admin/routes",
        json!({"category": "icy_sidewalk", "area": "nowhere", "department": "PWD"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "area");
    let (_, preview) = app
        .get_json(&format!(
            "/api/v1/routing?lat={lat}&long={long}&category=icy_sidewalk"
        ))
        .await;
    assert_eq!(preview["department"]["code"], "PWD");
    assert_eq!(preview["service_area"]["code"], "snow-district-1");

    // Bodies are bounded even where GeoJSON is allowed to be large.
    let huge = format!(
        "{{\"type\":\"FeatureCollection\",\"features\":[],\"pad\":\"{}\"}}",
        "x".repeat(6 * 1024 * 1024)
    );
    let response = app
        .client
        .post(app.url("/api/v1/admin/areas"))
        .bearer_auth(&admin.token)
        .header("Content-Type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[derive(diesel::QueryableByName)]
struct IdRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// The queue is computed tier by tier (priority, due tier) and, with a position, band by band:
/// over jobs with every kind of tie (same priority, same due tier, same kilometre band, same
/// opening time) its pages are those of one ORDER BY over every open job, at every offset.
#[tokio::test]
async fn queue_pages_are_those_of_one_order_over_every_open_job() {
    let app = TestApp::spawn().await;
    let department = department_of(&app, DORCHESTER, "pothole").await;
    let crew = app.staff("crew", &[&department]).await;
    let seed = report(&app, DORCHESTER, "pothole", json!({})).await["incident_id"]
        .as_i64()
        .unwrap();
    let mut conn = app.db.connect().await;
    // 160 more open jobs of the department within ~6 km, over priorities 2 to 4, overdue, not
    // yet due or without a due date, a few opened at the same instant; and closed ones.
    diesel::sql_query(format!(
        "INSERT INTO incidents (jurisdiction_id, category_id, dedup_group, location, status,
                                priority, department_id, created_at, updated_at, due_at, closed_at)
         SELECT jurisdiction_id, category_id, dedup_group,
                ST_SetSRID(ST_MakePoint(-71.0676 + (random() - 0.5) * 0.14,
                                        42.3016 + (random() - 0.5) * 0.1), 4326)::geography,
                'submitted', 2 + g % 3, department_id,
                timestamptz '2026-01-01' + (g % 40) * interval '1 hour',
                timestamptz '2026-01-01',
                CASE g % 4 WHEN 0 THEN now() - interval '1 day'
                           WHEN 1 THEN now() + interval '1 day' ELSE NULL END,
                CASE WHEN g % 17 = 0 THEN now() END
         FROM incidents, generate_series(1, 170) g WHERE id = {seed}"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    for (near, order) in [
        (
            "&lat=42.3016&long=-71.0676",
            "floor(ST_Distance(location, ST_SetSRID(ST_MakePoint(-71.0676, 42.3016), 4326)::geography) / 1000),",
        ),
        (
            "&lat=42.33&long=-71.03",
            "floor(ST_Distance(location, ST_SetSRID(ST_MakePoint(-71.03, 42.33), 4326)::geography) / 1000),",
        ),
        ("", ""),
    ] {
        let expected: Vec<i64> = diesel::sql_query(format!(
            "SELECT id FROM incidents WHERE closed_at IS NULL
               AND department_id = (SELECT id FROM departments WHERE code = '{department}')
             ORDER BY priority, (due_at < now()) DESC NULLS LAST, {order} created_at, id"
        ))
        .load::<IdRow>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.id)
        .collect();
        assert!(expected.len() > 150, "{}", expected.len());
        for (limit, offset) in [
            (50, 0),
            (7, 0),
            (7, 7),
            (7, 45),
            (13, 100),
            (20, 150),
            (5, 300),
        ] {
            let path = format!("/api/v1/queue?limit={limit}&offset={offset}{near}");
            let (status, page) = get(&app, &path, &crew.token).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let got: Vec<i64> = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| item["id"].as_i64().unwrap())
                .collect();
            let want: Vec<i64> = expected.iter().copied().skip(offset).take(limit).collect();
            assert_eq!(got, want, "{path}");
            assert_eq!(
                page["next_offset"].as_i64(),
                (expected.len() > offset + limit).then_some((offset + limit) as i64),
                "{path}"
            );
        }
    }
}

/// Categories and routing rules are kept in the server for a second: a change made through a
/// server is seen by its next report at once, one made through another replica within the
/// second.
#[tokio::test]
async fn a_route_change_reaches_the_next_report_at_once_and_other_replicas_within_a_second() {
    let app = TestApp::spawn().await;
    let other = app.replica();
    let admin = app.staff("admin", &[]).await;
    let preview_path = format!(
        "/api/v1/routing?lat={}&long={}&category=pothole",
        DORCHESTER.0, DORCHESTER.1
    );
    let department_at = async |url: String| {
        let preview: Value = app
            .client
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            preview["department"]["code"].as_str().unwrap().to_owned(),
            preview["service_area"]["code"].as_str().map(str::to_owned),
        )
    };
    // Both servers have read (and keep) the route of a pothole in Dorchester.
    let (before, area) = department_at(app.url(&preview_path)).await;
    assert_eq!(department_at(other.url(&preview_path)).await.0, before);
    assert_ne!(before, "SNOW");
    let (status, _, _) = call(
        &app,
        Method::PUT,
        "/api/v1/admin/departments/SNOW",
        Some(&admin.token),
        &[],
        Some(json!({"name": "Snow Desk"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body, _) = call(
        &app,
        Method::PUT,
        "/api/v1/admin/routes",
        Some(&admin.token),
        &[],
        Some(json!({"category": "pothole", "area": area, "department": "SNOW"})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // Through the server that made the change: at once, for the preview and a new report.
    assert_eq!(department_at(app.url(&preview_path)).await.0, "SNOW");
    let created = report(&app, DORCHESTER, "pothole", json!({})).await;
    let mut conn = app.db.connect().await;
    let routed: Vec<TextRow> = diesel::sql_query(format!(
        "SELECT d.code AS text FROM reports r JOIN departments d ON d.id = r.department_id \
         WHERE r.id = {}",
        created["id"]
    ))
    .load(&mut conn)
    .await
    .unwrap();
    assert_eq!(routed[0].text, "SNOW");

    // Through the other replica: within the second its copy lasts.
    let started = std::time::Instant::now();
    loop {
        if department_at(other.url(&preview_path)).await.0 == "SNOW" {
            break;
        }
        assert!(
            started.elapsed()
                < signalons_api::catalog_cache::CATALOG_TTL + Duration::from_millis(500),
            "the other replica still routes to {before}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The public history of report `id`.
async fn events_of(app: &TestApp, report: &Value) -> Vec<Value> {
    let (status, events) = app
        .get_json(&format!("/api/v1/reports/{}/events", report["id"]))
        .await;
    assert_eq!(status, StatusCode::OK);
    events["items"]
        .as_array()
        .or(events.as_array())
        .cloned()
        .unwrap_or_else(|| panic!("events: {events}"))
}

async fn public_status(app: &TestApp, report: &Value) -> Value {
    let (_, body) = app
        .get_json(&format!("/api/v1/reports/{}", report["id"]))
        .await;
    body["status"].clone()
}

#[tokio::test]
async fn merges_go_through_the_status_machine_and_never_into_a_closed_job() {
    let app = TestApp::spawn().await;
    let department = department_of(&app, DORCHESTER, "pothole").await;
    let dispatcher = app.staff("dispatcher", &[&department]).await;
    let behind = report(&app, DORCHESTER, "pothole", json!({})).await;
    let ahead = report(
        &app,
        (DORCHESTER.0 + 0.0014, DORCHESTER.1),
        "pothole",
        json!({}),
    )
    .await;
    let behind_job = behind["incident_id"].as_i64().unwrap();
    let ahead_job = ahead["incident_id"].as_i64().unwrap();
    let (status, _) = act(
        &app,
        &dispatcher,
        ahead_job,
        "status",
        1,
        Some(json!({"status": "in_progress", "explanation": "A crew is on it."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Merging the job in progress into the one just submitted would move its report back.
    let (status, refused) = act(
        &app,
        &dispatcher,
        behind_job,
        "merge",
        1,
        Some(json!({"incident_ids": [ahead_job], "explanation": "Same hole."})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["code"], "invalid_transition");
    assert_eq!(public_status(&app, &ahead).await, "in_progress");
    let (_, untouched) = app
        .get_json(&format!("/api/v1/incidents/{ahead_job}"))
        .await;
    assert_eq!(untouched["status"], "in_progress");
    assert_eq!(untouched["merged_into"], Value::Null);

    // The other way round the report that was behind catches up, and its history says from what.
    let (status, merged) = act(
        &app,
        &dispatcher,
        ahead_job,
        "merge",
        2,
        Some(json!({"incident_ids": [behind_job], "explanation": "Same hole."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    assert_eq!(public_status(&app, &behind).await, "in_progress");
    let events = events_of(&app, &behind).await;
    let merge_event = events.iter().find(|e| e["kind"] == "merged").unwrap();
    assert_eq!(merge_event["status_from"], "submitted");
    assert_eq!(merge_event["status_to"], "in_progress");

    // A status change of the incident reaches both of its reports and both histories.
    let (status, resolved) = act(
        &app,
        &dispatcher,
        ahead_job,
        "status",
        merged["version"].as_i64().unwrap(),
        Some(json!({"status": "resolved", "explanation": "Both ends filled with asphalt."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    for report in [&ahead, &behind] {
        assert_eq!(public_status(&app, report).await, "resolved");
        let last = events_of(&app, report).await.last().cloned().unwrap();
        assert_eq!(last["kind"], "status_changed");
        assert_eq!(last["status_from"], "in_progress");
        assert_eq!(last["status_to"], "resolved");
        assert_eq!(last["explanation"], "Both ends filled with asphalt.");
    }

    // Nothing merges into a closed job: its new reports would close without anyone deciding.
    let late = report(
        &app,
        (DORCHESTER.0 - 0.0014, DORCHESTER.1),
        "pothole",
        json!({}),
    )
    .await;
    let late_job = late["incident_id"].as_i64().unwrap();
    assert_ne!(late_job, ahead_job);
    let (status, refused) = act(
        &app,
        &dispatcher,
        ahead_job,
        "merge",
        resolved["version"].as_i64().unwrap(),
        Some(json!({"incident_ids": [late_job], "explanation": "Same hole again."})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["code"], "job_closed");
    assert_eq!(refused["current"]["status"], "resolved");
    assert_eq!(public_status(&app, &late).await, "submitted");
    let (_, late_incident) = app.get_json(&format!("/api/v1/incidents/{late_job}")).await;
    assert_eq!(late_incident["status"], "submitted");
    assert_eq!(late_incident["report_count"], 1);
}

/// Replays of history close reports one by one; those closings go through the status machine
/// too: a status that closes nothing, or a move it forbids, writes nothing.
#[tokio::test]
async fn closing_a_report_directly_follows_the_status_machine() {
    use signalons_domain::ReportStatus;
    let app = TestApp::spawn().await;
    let created = report(&app, DORCHESTER, "pothole", json!({})).await;
    let id = created["id"].as_i64().unwrap();
    let mut conn = app.db.connect().await;
    let now = chrono::Utc::now();
    for wrong in [ReportStatus::Submitted, ReportStatus::Reopened] {
        let refused = signalons_db::incidents::close_report(&mut conn, id, wrong, "No.", now)
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(refused.to, wrong);
    }
    assert_eq!(public_status(&app, &created).await, "submitted");
    assert_eq!(events_of(&app, &created).await.len(), 1);
    signalons_db::incidents::close_report(
        &mut conn,
        id,
        ReportStatus::Rejected,
        "Private land.",
        now,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(public_status(&app, &created).await, "rejected");
    let (_, incident) = app
        .get_json(&format!("/api/v1/incidents/{}", created["incident_id"]))
        .await;
    assert_eq!(incident["status"], "rejected");
    assert!(incident["closed_at"].is_string());
}

/// Signs up a resident and returns their access token.
async fn resident(app: &TestApp, email: &str) -> String {
    let (status, session, _) = call(
        app,
        Method::POST,
        "/api/v1/auth/register",
        None,
        &[],
        Some(json!({"email": email, "password": "correct horse battery"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    session["access_token"].as_str().unwrap().to_owned()
}

fn assert_limited(status: StatusCode, body: &Value, headers: &reqwest::header::HeaderMap) {
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["code"], "rate_limited");
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
}

/// Everything in these tests comes from 127.0.0.1; with an IP allowed many times an account's
/// rate, the per-account (and per-key) limits are what refuses, and only the one spent.
#[tokio::test]
async fn accounts_and_keys_have_their_own_limits_behind_one_address() {
    let limits = signalons_api::rate_limit::RateLimits {
        reports_per_minute: 2,
        supports_per_minute: 2,
        app_requests_per_minute: 2,
        ip_factor: 2,
        ..generous_limits()
    };
    let app = TestApp::spawn_with(TestDatabase::new(Contents::BostonCatalog).await, limits).await;
    let ada = resident(&app, "ada@example.org").await;
    let bob = resident(&app, "bob@example.org").await;
    let pothole =
        json!({"category": "pothole", "latitude": DORCHESTER.0, "longitude": DORCHESTER.1});

    // Reports: Ada's two, then Ada is refused while Bob, from the same address, is not.
    for _ in 0..2 {
        let (status, body, _) = call(
            &app,
            Method::POST,
            "/api/v1/reports",
            Some(&ada),
            &[],
            Some(pothole.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body, headers) = call(
        &app,
        Method::POST,
        "/api/v1/reports",
        Some(&ada),
        &[],
        Some(pothole.clone()),
    )
    .await;
    assert_limited(status, &body, &headers);
    let (status, _, _) = call(
        &app,
        Method::POST,
        "/api/v1/reports",
        Some(&bob),
        &[],
        Some(pothole.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(app.db.count("reports").await, 3);

    // Supports: the same, and the address's own budget (2 × 2) ends the anonymous ones. (The
    // problems to support are reported through another replica, which counts on its own.)
    let replica = app.replica();
    let mut incidents = Vec::new();
    for (lat, long) in [
        BACK_BAY,
        (42.3390, -71.0950),
        (42.3601, -71.0589),
        (42.3150, -71.0900),
    ] {
        let response = app
            .client
            .post(replica.url("/api/v1/reports"))
            .json(&json!({"category": "graffiti", "latitude": lat, "longitude": long}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        incidents.push(response.json::<Value>().await.unwrap()["incident_id"].clone());
    }
    let support = async |token: Option<&str>, incident: &Value, device: &str| {
        call(
            &app,
            Method::POST,
            &format!("/api/v1/incidents/{incident}/supports"),
            token,
            &[],
            Some(json!({"device_id": device})),
        )
        .await
    };
    for incident in &incidents[..2] {
        let (status, body, _) = support(Some(&ada), incident, "ada-phone-0001").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body, headers) = support(Some(&ada), &incidents[2], "ada-phone-0001").await;
    assert_limited(status, &body, &headers);
    for incident in &incidents[2..4] {
        let (status, body, _) = support(Some(&bob), incident, "bob-phone-0001").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let supports_before = app.db.count("incident_supports").await;
    assert_eq!(supports_before, 4);
    let (status, body, headers) = support(None, &incidents[3], "anonymous-phone-1").await;
    assert_limited(status, &body, &headers);
    assert_eq!(app.db.count("incident_supports").await, supports_before);

    // Apps: each API key has its own budget on the webhook endpoints.
    let mut conn = app.db.connect().await;
    let mut keys = Vec::new();
    for name in ["first app", "second app"] {
        let key = signalons_api::api_keys::create(
            &mut conn,
            name,
            &[signalons_api::api_keys::WEBHOOKS.to_owned()],
            chrono::Utc::now(),
        )
        .await
        .unwrap()
        .key;
        keys.push(key);
    }
    for _ in 0..2 {
        let (status, body, _) = call(
            &app,
            Method::GET,
            "/api/v1/webhooks",
            None,
            &[("X-Api-Key", &keys[0])],
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body, headers) = call(
        &app,
        Method::GET,
        "/api/v1/webhooks",
        None,
        &[("X-Api-Key", &keys[0])],
        None,
    )
    .await;
    assert_limited(status, &body, &headers);
    let (status, body, headers) = call(
        &app,
        Method::POST,
        "/api/v1/webhooks",
        None,
        &[("X-Api-Key", &keys[0])],
        Some(
            json!({"jurisdiction": "boston", "url": "http://127.0.0.1:9/hook",
                    "secret": "a secret of sixteen+", "events": ["report.created"]}),
        ),
    )
    .await;
    assert_limited(status, &body, &headers);
    assert_eq!(app.db.count("webhook_subscriptions").await, 0);
    let (status, _, _) = call(
        &app,
        Method::GET,
        "/api/v1/webhooks",
        None,
        &[("X-Api-Key", &keys[1])],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

/// Behind a load balancer every request comes from the balancer: with it trusted, the client
/// named in `X-Forwarded-For` is what is counted; without, the header is ignored (anyone can
/// write it).
#[tokio::test]
async fn the_client_address_comes_from_x_forwarded_for_only_behind_a_trusted_proxy() {
    let limits = signalons_api::rate_limit::RateLimits {
        login_per_minute: 1,
        ..generous_limits()
    };
    let login = async |app: &TestApp, email: &str, forwarded_for: &str| {
        call(
            app,
            Method::POST,
            "/api/v1/auth/login",
            None,
            &[("X-Forwarded-For", forwarded_for)],
            Some(json!({"email": email, "password": "wrong password!!"})),
        )
        .await
        .0
    };
    let proxies = signalons_api::client_ip::TrustedProxies::parse(&["127.0.0.0/8"]).unwrap();
    let behind = TestApp::spawn_behind(
        TestDatabase::new(Contents::BostonCatalog).await,
        limits,
        proxies,
    )
    .await;
    assert_eq!(
        login(&behind, "a@example.org", "203.0.113.1").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&behind, "b@example.org", "203.0.113.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client through the same balancer has its own budget...
    assert_eq!(
        login(&behind, "c@example.org", "203.0.113.2").await,
        StatusCode::UNAUTHORIZED
    );
    // ...and a client cannot dodge its own by writing another address before it: the balancer
    // appends the real one, which is what counts.
    assert_eq!(
        login(&behind, "d@example.org", "198.51.100.77, 203.0.113.2").await,
        StatusCode::TOO_MANY_REQUESTS
    );

    let direct =
        TestApp::spawn_with(TestDatabase::new(Contents::BostonCatalog).await, limits).await;
    assert_eq!(
        login(&direct, "a@example.org", "203.0.113.1").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&direct, "c@example.org", "203.0.113.2").await,
        StatusCode::TOO_MANY_REQUESTS,
        "an untrusted peer's header changes nothing"
    );
}

/// `(department code, service area code)` where a report of `category` at `place` would go.
async fn routed(app: &TestApp, (lat, long): (f64, f64), category: &str) -> (Value, Value) {
    let (status, preview) = app
        .get_json(&format!(
            "/api/v1/routing?lat={lat}&long={long}&category={category}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    (
        preview["department"]["code"].clone(),
        preview["service_area"]["code"].clone(),
    )
}

/// The actions of the city's audit log, newest first.
async fn audited_actions(app: &TestApp, admin: &Staff, query: &str) -> Vec<Value> {
    let (status, entries) = get(app, &format!("/api/v1/admin/audit{query}"), &admin.token).await;
    assert_eq!(status, StatusCode::OK, "{entries}");
    entries.as_array().unwrap().clone()
}

#[tokio::test]
async fn admins_list_retire_and_delete_what_they_define_and_every_change_is_audited() {
    let app = TestApp::spawn().await;
    let admin = app.staff("admin", &[]).await;
    let dispatcher = app.staff("dispatcher", &["PWD"]).await;
    let send = async |method: Method, path: &str, body: Option<Value>| {
        let (status, body, _) = call(&app, method, path, Some(&admin.token), &[], body).await;
        (status, body)
    };
    for path in [
        "/api/v1/admin/departments",
        "/api/v1/admin/categories",
        "/api/v1/admin/areas",
        "/api/v1/admin/routes",
        "/api/v1/admin/audit",
        "/api/v1/admin/jurisdiction",
    ] {
        let (status, body) = get(&app, path, &dispatcher.token).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(body["code"], "admin_only");
    }
    let (status, departments) = get(&app, "/api/v1/admin/departments", &admin.token).await;
    assert_eq!(status, StatusCode::OK);
    let pwd = departments
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "PWD")
        .unwrap();
    assert_eq!(pwd["active"], true);

    // Two winter categories of one dedup group, each routed city-wide by its definition.
    let (status, _) = send(
        Method::PUT,
        "/api/v1/admin/departments/SNOW",
        Some(json!({"name": "Snow Desk"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for (code, department) in [("icy_sidewalk", "SNOW"), ("snow_drift", "PWD")] {
        let (status, body) = send(
            Method::PUT,
            &format!("/api/v1/admin/categories/{code}"),
            Some(
                json!({"name": code, "group": "Snow", "dedup_group": "winter_hazard",
                "department": department, "default_priority": 2, "dedup_radius_m": 40,
                "dedup_window_days": 7, "allow_anonymous": true, "sla_days": 1}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    // A route for the whole dedup group applies to a category without a route of its own.
    let (status, body) = send(
        Method::PUT,
        "/api/v1/admin/routes",
        Some(json!({"dedup_group": "winter_hazard", "department": "SNOW"})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, routes) = get(&app, "/api/v1/admin/routes", &admin.token).await;
    assert!(routes.as_array().unwrap().contains(
        &json!({"category": null, "dedup_group": "winter_hazard", "area": null, "department": "SNOW"})
    ), "{routes}");
    assert_eq!(
        routed(&app, BACK_BAY, "snow_drift").await.0,
        "PWD",
        "its own route first"
    );
    let (status, _) = send(
        Method::DELETE,
        "/api/v1/admin/routes?category=snow_drift",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(routed(&app, BACK_BAY, "snow_drift").await.0, "SNOW");
    let (status, body) = send(
        Method::DELETE,
        "/api/v1/admin/routes?category=snow_drift",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "route_not_found");
    for (bad, field, code) in [
        (
            json!({"category": "snow_drift", "dedup_group": "winter_hazard", "department": "PWD"}),
            "dedup_group",
            "conflicting_fields",
        ),
        (json!({"department": "PWD"}), "category", "missing_field"),
        (
            json!({"dedup_group": "no_such_group", "department": "PWD"}),
            "dedup_group",
            "not_found",
        ),
    ] {
        let (status, body) = send(Method::PUT, "/api/v1/admin/routes", Some(bad)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["errors"][0]["field"], field, "{body}");
        assert_eq!(body["errors"][0]["code"], code, "{body}");
    }

    // A department that still receives work cannot be retired; once rerouted it can, and then
    // takes no new route, category or staff member.
    let (status, body) = send(
        Method::PATCH,
        "/api/v1/admin/departments/SNOW",
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "department_in_use");
    for (path, route) in [
        (
            "/api/v1/admin/routes",
            json!({"category": "icy_sidewalk", "department": "PWD"}),
        ),
        (
            "/api/v1/admin/routes",
            json!({"dedup_group": "winter_hazard", "department": "PWD"}),
        ),
    ] {
        let (status, _) = send(Method::PUT, path, Some(route)).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let (status, body) = send(
        Method::PATCH,
        "/api/v1/admin/departments/SNOW",
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, departments) = get(&app, "/api/v1/admin/departments", &admin.token).await;
    let snow = departments
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "SNOW")
        .unwrap()
        .clone();
    assert_eq!(snow["active"], false);
    let (status, body) = send(
        Method::PUT,
        "/api/v1/admin/routes",
        Some(json!({"category": "snow_drift", "department": "SNOW"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["code"], "inactive_department");
    let (status, body) = send(
        Method::POST,
        "/api/v1/admin/staff",
        Some(
            json!({"email": "plow@city.example.org", "password": "a long enough password",
                    "role": "crew", "departments": ["SNOW"]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["code"], "inactive_department");

    // A retired category is no longer offered nor reported; its definition stays listed.
    let (status, _) = send(
        Method::PATCH,
        "/api/v1/admin/categories/snow_drift",
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, offered) = app.get_json("/api/v1/categories").await;
    assert!(!offered.to_string().contains("snow_drift"));
    let response = app
        .post_json(
            "/api/v1/reports",
            &json!({"category": "snow_drift", "latitude": BACK_BAY.0, "longitude": BACK_BAY.1}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (_, categories) = get(&app, "/api/v1/admin/categories", &admin.token).await;
    let drift = categories
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "snow_drift")
        .unwrap()
        .clone();
    assert_eq!(drift["active"], false);
    assert_eq!(drift["dedup_group"], "winter_hazard");
    let (status, _) = send(
        Method::PATCH,
        "/api/v1/admin/categories/nope",
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Areas: a used one is retired, not deleted; an unused one can be deleted.
    let (lat, long) = BACK_BAY;
    let square = |name: &str, d: f64| {
        json!({"type": "Feature", "properties": {"name": name},
        "geometry": {"type": "Polygon", "coordinates": [[[long - d, lat - d], [long + d, lat - d],
            [long + d, lat + d], [long - d, lat + d], [long - d, lat - d]]]}})
    };
    for (name, d, priority) in [("Snow District 1", 0.01, 20), ("Snow District 2", 0.02, 15)] {
        let (status, body) = send(
            Method::POST,
            &format!("/api/v1/admin/areas?kind=snow_district&priority={priority}"),
            Some(square(name, d)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, areas) = get(&app, "/api/v1/admin/areas", &admin.token).await;
    assert!(
        areas
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["code"] == "snow-district-1" && a["active"] == true)
    );
    let (_, area) = routed(&app, BACK_BAY, "icy_sidewalk").await;
    assert_eq!(area, "snow-district-1");
    report(&app, BACK_BAY, "icy_sidewalk", json!({})).await;
    let (status, body) = send(Method::DELETE, "/api/v1/admin/areas/snow-district-1", None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "area_in_use");
    let (status, _) = send(
        Method::PATCH,
        "/api/v1/admin/areas/snow-district-1",
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, area) = routed(&app, BACK_BAY, "icy_sidewalk").await;
    assert_eq!(area, "snow-district-2", "the retired area places nothing");
    let (status, _) = send(Method::DELETE, "/api/v1/admin/areas/snow-district-2", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, areas) = get(&app, "/api/v1/admin/areas", &admin.token).await;
    assert!(!areas.to_string().contains("snow-district-2"));
    let (status, _) = send(Method::DELETE, "/api/v1/admin/areas/snow-district-2", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Staff changes are audited with who did them and to whom.
    let (status, made) = send(
        Method::POST,
        "/api/v1/admin/staff",
        Some(
            json!({"email": "sander@city.example.org", "password": "a long enough password",
                    "role": "crew", "departments": ["PWD"]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = send(
        Method::PATCH,
        &format!("/api/v1/admin/staff/{}", made["id"]),
        Some(json!({"role": "dispatcher"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let staff = audited_actions(&app, &admin, "?object=staff&limit=2").await;
    assert_eq!(staff[0]["action"], "staff.update");
    assert_eq!(staff[0]["actor_id"], admin.id);
    assert_eq!(staff[0]["target_id"], made["id"]);
    assert_eq!(staff[0]["detail"]["role"], "dispatcher");
    assert_eq!(staff[1]["action"], "staff.create");
    assert_eq!(staff[1]["target_id"], made["id"]);
    let actions: Vec<String> = audited_actions(&app, &admin, "?limit=200")
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    for expected in [
        "department.put",
        "category.put",
        "route.put",
        "route.delete",
        "department.update",
        "category.update",
        "area.import",
        "area.update",
        "area.delete",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} not in {actions:?}"
        );
    }
    // Refused changes leave no entry: the two refused retirements above wrote nothing.
    assert_eq!(
        actions.iter().filter(|a| *a == "department.update").count(),
        1
    );
    let (status, body) = get(&app, "/api/v1/admin/audit?limit=0", &admin.token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

/// An audit entry commits with the change it records: when it cannot be written, the change
/// is undone too.
#[tokio::test]
async fn an_admin_change_whose_audit_entry_fails_is_not_made() {
    let app = TestApp::spawn().await;
    let admin = app.staff("admin", &[]).await;
    let crew = app.staff("crew", &["PWD"]).await;
    let mut conn = app.db.connect().await;
    diesel::sql_query(
        "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'audit log unavailable'; END $$",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query(
        "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log \
         FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let (status, _, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/admin/staff/{}", crew.id),
        Some(&admin.token),
        &[],
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let (status, _) = get(&app, "/api/v1/me", &crew.token).await;
    assert_eq!(status, StatusCode::OK, "the crew member is still enabled");
    let (status, _, _) = call(
        &app,
        Method::PUT,
        "/api/v1/admin/departments/SNOW",
        Some(&admin.token),
        &[],
        Some(json!({"name": "Snow Desk"})),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(app.db.count("departments WHERE code = 'SNOW'").await, 0);
    let (status, _, _) = call(
        &app,
        Method::POST,
        "/api/v1/admin/staff",
        Some(&admin.token),
        &[],
        Some(
            json!({"email": "ghost@city.example.org", "password": "a long enough password",
                    "role": "crew", "departments": ["PWD"]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        app.db
            .count("users WHERE email = 'ghost@city.example.org'")
            .await,
        0
    );
}

/// The reopen window is the city's to set, and a reporter's dispute follows it.
#[tokio::test]
async fn admins_set_the_reopen_window_and_time_zone_and_reopening_follows_them() {
    let app = TestApp::spawn().await;
    let admin = app.staff("admin", &[]).await;
    let department = department_of(&app, DORCHESTER, "pothole").await;
    let crew = app.staff("crew", &[&department]).await;
    let (status, settings) = get(&app, "/api/v1/admin/jurisdiction", &admin.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(settings["reopen_window_days"], 14);
    assert_eq!(settings["time_zone"], "America/New_York");
    for (bad, field) in [
        (json!({"reopen_window_days": 366}), "reopen_window_days"),
        (json!({"time_zone": "Mars/Olympus_Mons"}), "time_zone"),
    ] {
        let (status, body, _) = call(
            &app,
            Method::PATCH,
            "/api/v1/admin/jurisdiction",
            Some(&admin.token),
            &[],
            Some(bad),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["errors"][0]["field"], field);
    }
    let job = report(&app, DORCHESTER, "pothole", json!({})).await["incident_id"]
        .as_i64()
        .unwrap();
    let (_, before) = get(&app, &format!("/api/v1/jobs/{job}"), &crew.token).await;
    let (status, settings, _) = call(
        &app,
        Method::PATCH,
        "/api/v1/admin/jurisdiction",
        Some(&admin.token),
        &[],
        Some(json!({"reopen_window_days": 3, "time_zone": "America/Los_Angeles"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!(settings["reopen_window_days"], 3);
    assert_eq!(settings["time_zone"], "America/Los_Angeles");
    // Open jobs are now due at Los Angeles' midnight, three hours after Boston's.
    let (_, after) = get(&app, &format!("/api/v1/jobs/{job}"), &crew.token).await;
    let due = |job: &Value| {
        chrono::DateTime::parse_from_rfc3339(job["due_at"].as_str().unwrap()).unwrap()
    };
    assert_eq!((due(&after) - due(&before)).num_hours(), 3);
    let entries = audited_actions(&app, &admin, "?object=jurisdiction").await;
    assert_eq!(entries[0]["detail"]["reopen_window_days"], 3);

    // Resolved five days ago: past a three-day window. Two days ago: within it.
    let created = report(
        &app,
        BACK_BAY,
        "graffiti",
        json!({"device_id": "phone-of-the-reporter"}),
    )
    .await;
    let graffiti_crew = app
        .staff("crew", &[&department_of(&app, BACK_BAY, "graffiti").await])
        .await;
    let (status, _) = act(
        &app,
        &graffiti_crew,
        created["incident_id"].as_i64().unwrap(),
        "status",
        1,
        Some(json!({"status": "resolved", "explanation": "Painted over."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let reopen = json!({"explanation": "Still there", "device_id": "phone-of-the-reporter"});
    let path = format!("/api/v1/reports/{}/reopen", created["id"]);
    let mut conn = app.db.connect().await;
    for (days_ago, expected) in [(5, StatusCode::UNPROCESSABLE_ENTITY), (2, StatusCode::OK)] {
        diesel::sql_query(format!(
            "UPDATE incidents SET closed_at = now() - interval '{days_ago} days' WHERE id = {}",
            created["incident_id"]
        ))
        .execute(&mut conn)
        .await
        .unwrap();
        let (status, body, _) =
            call(&app, Method::POST, &path, None, &[], Some(reopen.clone())).await;
        assert_eq!(status, expected, "{days_ago} days: {body}");
    }
}

/// The ids of a queue page.
async fn queue_ids(app: &TestApp, staff: &Staff, query: &str) -> Vec<i64> {
    let (status, page) = get(
        app,
        &format!("/api/v1/queue?limit=200{query}"),
        &staff.token,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{query}: {page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn the_queue_filters_by_area_category_status_and_assignee() {
    let app = TestApp::spawn().await;
    let admin = app.staff("admin", &[]).await;
    let department = department_of(&app, DORCHESTER, "pothole").await;
    let crew = app.staff("crew", &[&department]).await;
    let job = async |place, category| {
        report(&app, place, category, json!({})).await["incident_id"]
            .as_i64()
            .unwrap()
    };
    let mine = job(DORCHESTER, "pothole").await;
    let crews = job((DORCHESTER.0 + 0.0014, DORCHESTER.1), "pothole").await;
    let nobodys = job((DORCHESTER.0 - 0.0014, DORCHESTER.1), "pothole").await;
    let graffiti = job(BACK_BAY, "graffiti").await;
    let (_, dorchester) = routed(&app, DORCHESTER, "pothole").await;
    let (_, back_bay) = routed(&app, BACK_BAY, "graffiti").await;
    assert_ne!(dorchester, back_bay);

    assert_eq!(
        act(&app, &admin, mine, "take", 1, None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        act(&app, &crew, crews, "take", 1, None).await.0,
        StatusCode::OK
    );
    let (status, _) = act(
        &app,
        &admin,
        graffiti,
        "status",
        1,
        Some(json!({"status": "acknowledged", "explanation": "Seen, cleaning is booked."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let sorted = |mut ids: Vec<i64>| {
        ids.sort_unstable();
        ids
    };
    let all = sorted(queue_ids(&app, &admin, "").await);
    assert_eq!(all, sorted(vec![mine, crews, nobodys, graffiti]));

    let area = |code: &Value| format!("&area={}", code.as_str().unwrap());
    assert_eq!(
        sorted(queue_ids(&app, &admin, &area(&dorchester)).await),
        sorted(vec![mine, crews, nobodys])
    );
    assert_eq!(queue_ids(&app, &admin, &area(&back_bay)).await, [graffiti]);
    assert_eq!(
        queue_ids(&app, &admin, "&area=nowhere").await,
        Vec::<i64>::new()
    );
    assert_eq!(
        queue_ids(&app, &admin, "&category=graffiti").await,
        [graffiti]
    );
    assert_eq!(
        sorted(queue_ids(&app, &admin, "&category=graffiti,pothole").await),
        all
    );
    assert_eq!(
        queue_ids(&app, &admin, "&status=acknowledged").await,
        [graffiti]
    );
    assert_eq!(
        sorted(queue_ids(&app, &admin, "&status=submitted").await),
        sorted(vec![mine, crews, nobodys])
    );
    assert_eq!(queue_ids(&app, &admin, "&assignee=me").await, [mine]);
    assert_eq!(queue_ids(&app, &crew, "&assignee=me").await, [crews]);
    assert_eq!(
        queue_ids(&app, &admin, &format!("&assignee={}", crew.id)).await,
        [crews]
    );
    assert_eq!(
        sorted(queue_ids(&app, &admin, "&assignee=none").await),
        sorted(vec![nobodys, graffiti]),
        "assigned jobs are not unassigned ones"
    );
    // Filters combine.
    assert_eq!(
        queue_ids(
            &app,
            &admin,
            &format!("&assignee=none{}", area(&dorchester))
        )
        .await,
        [nobodys]
    );
    for bad in [
        "&assignee=someone",
        "&status=open",
        "&category=Not A Code",
        "&limit=0",
    ] {
        let (status, body) = get(&app, &format!("/api/v1/queue?{bad}"), &admin.token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["code"], "invalid_query");
    }
}

/// Residents see the due date crews work to, and whether it has passed, on the incident, on
/// each report and in Open311's `expected_datetime`.
#[tokio::test]
async fn due_dates_and_lateness_are_public() {
    let app = TestApp::spawn().await;
    let department = department_of(&app, DORCHESTER, "pothole").await;
    let crew = app.staff("crew", &[&department]).await;
    let created = report(&app, DORCHESTER, "pothole", json!({})).await;
    let job = created["incident_id"].as_i64().unwrap();
    let (_, staff_view) = get(&app, &format!("/api/v1/jobs/{job}"), &crew.token).await;
    let due = staff_view["due_at"].clone();
    assert!(due.is_string(), "potholes have a service level");
    let public = async || {
        let (_, report) = app
            .get_json(&format!("/api/v1/reports/{}", created["id"]))
            .await;
        let (_, incident) = app.get_json(&format!("/api/v1/incidents/{job}")).await;
        let (_, open311) = app
            .get_json(&format!("/open311/v2/requests/{}.json", created["id"]))
            .await;
        (report, incident, open311[0].clone())
    };
    let instant =
        |value: &Value| chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap()).unwrap();
    let (report_view, incident, open311) = public().await;
    assert_eq!(report_view["due_at"], due);
    assert_eq!(incident["due_at"], due);
    assert_eq!(instant(&open311["expected_datetime"]), instant(&due));
    assert_eq!(report_view["overdue"], false);
    assert_eq!(incident["overdue"], false);

    let mut conn = app.db.connect().await;
    diesel::sql_query(format!(
        "UPDATE incidents SET due_at = now() - interval '2 hours' WHERE id = {job}"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let (report_view, incident, _) = public().await;
    assert_eq!(report_view["overdue"], true);
    assert_eq!(incident["overdue"], true);
    let (_, listed) = app.get_json("/api/v1/reports?limit=5").await;
    assert_eq!(listed["items"][0]["overdue"], true, "{listed}");

    // Once fixed it is no longer late, whenever it was due.
    let (status, _) = act(
        &app,
        &crew,
        job,
        "status",
        1,
        Some(json!({"status": "resolved", "explanation": "Filled."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (report_view, incident, _) = public().await;
    assert_eq!(report_view["overdue"], false);
    assert_eq!(incident["overdue"], false);
    assert!(report_view["due_at"].is_string());
}

/// Reads `stream` until `needle` appears (10 s at most); returns everything read so far.
async fn read_until(stream: &mut reqwest::Response, seen: &mut String, needle: &str) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !seen.contains(needle) {
            let chunk = stream
                .chunk()
                .await
                .unwrap()
                .expect("the stream stays open");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {needle:?} in {seen:?}"));
}

/// Supporters make a job more urgent whichever way they add up (a "me too", a merge) and less
/// so when a split takes them away; live queues hear of each change with the new priority.
#[tokio::test]
async fn priority_follows_supporters_through_supports_merges_and_splits_and_reaches_live_queues() {
    let app = TestApp::spawn().await;
    let department = department_of(&app, DORCHESTER, "pothole").await;
    let dispatcher = app.staff("dispatcher", &[&department]).await;
    let keeper_report = report(&app, DORCHESTER, "pothole", json!({})).await;
    let other_report = report(
        &app,
        (DORCHESTER.0 + 0.0014, DORCHESTER.1),
        "pothole",
        json!({}),
    )
    .await;
    let keeper = keeper_report["incident_id"].as_i64().unwrap();
    let other = other_report["incident_id"].as_i64().unwrap();
    let priority = async |job: i64| {
        let (_, incident) = app.get_json(&format!("/api/v1/incidents/{job}")).await;
        incident["priority"].as_i64().unwrap()
    };
    assert_eq!(priority(keeper).await, 3, "a pothole's default");

    let mut stream = app
        .client
        .get(app.url("/api/v1/queue/stream"))
        .bearer_auth(&dispatcher.token)
        .send()
        .await
        .unwrap();
    let mut seen = String::new();
    read_until(&mut stream, &mut seen, "event: ready").await;

    // One "me too" on the other job: it is announced, still at its priority.
    let support = |device: &str| json!({"device_id": device});
    let response = app
        .post_json(
            &format!("/api/v1/incidents/{other}/supports"),
            &support("a-neighbour-phone"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    read_until(&mut stream, &mut seen, "\"change\":\"supported\"").await;
    assert!(seen.contains(&format!("\"incident_id\":{other}")), "{seen}");

    // Merged, the keeper has two supporters (the second report and the "me too"): one level
    // more urgent, and the stream says so.
    let (status, merged) = act(
        &app,
        &dispatcher,
        keeper,
        "merge",
        1,
        Some(json!({"incident_ids": [other], "explanation": "One hole."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    assert_eq!(merged["supporters_count"], 2);
    assert_eq!(merged["priority"], 2);
    read_until(
        &mut stream,
        &mut seen,
        &format!("\"incident_id\":{keeper},\"jurisdiction_id\""),
    )
    .await;
    let merged_event = seen
        .lines()
        .rev()
        .find(|line| line.contains(&format!("\"incident_id\":{keeper}")))
        .unwrap()
        .to_owned();
    assert!(merged_event.contains("\"priority\":2"), "{merged_event}");

    // Split back, the second report's support leaves with it.
    let (status, created) = act(
        &app,
        &dispatcher,
        keeper,
        "split",
        merged["version"].as_i64().unwrap(),
        Some(json!({"report_ids": [other_report["id"]], "explanation": "Two holes."})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(priority(keeper).await, 3);
    assert_eq!(created["priority"], 3);
}

/// A live stream keeps the rights its account has now: moved to another department, the crew
/// sees that department's changes and no longer the old one's; disabled, the stream ends.
#[tokio::test]
async fn a_live_stream_follows_its_account_and_ends_when_it_is_disabled() {
    let app = TestApp::spawn().await;
    let other = app.replica();
    let admin = app.staff("admin", &[]).await;
    let potholes = department_of(&app, DORCHESTER, "pothole").await;
    let graffiti = department_of(&app, BACK_BAY, "graffiti").await;
    let crew = app.staff("crew", &[&potholes]).await;
    // The stream is served by the other replica; the admin changes go through the first.
    let mut stream = app
        .client
        .get(other.url("/api/v1/queue/stream"))
        .bearer_auth(&crew.token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let mut seen = String::new();
    read_until(&mut stream, &mut seen, "event: ready").await;
    let patch = async |body: Value| {
        let (status, body, _) = call(
            &app,
            Method::PATCH,
            &format!("/api/v1/admin/staff/{}", crew.id),
            Some(&admin.token),
            &[],
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    };

    patch(json!({"departments": [graffiti]})).await;
    let pothole = report(&app, DORCHESTER, "pothole", json!({})).await["incident_id"].clone();
    let wall = report(&app, BACK_BAY, "graffiti", json!({})).await["incident_id"].clone();
    read_until(&mut stream, &mut seen, &format!("\"incident_id\":{wall}")).await;
    assert!(
        !seen.contains(&format!("\"incident_id\":{pothole}")),
        "the old department's work is no longer streamed: {seen}"
    );

    patch(json!({"disabled": true})).await;
    read_until(&mut stream, &mut seen, "event: revoked").await;
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = stream.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(end.is_ok(), "the stream of a disabled account ends: {seen}");
    // And it cannot be opened again.
    let (status, body) = get(&app, "/api/v1/queue/stream", &crew.token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

/// Seeds a second city around Worcester (far from Boston) with one department (`WDPW`) and a
/// `pothole` category of its own; returns its id.
async fn seed_worcester(app: &TestApp) -> i64 {
    use signalons_db::import::{self, CategorySeed, DepartmentSeed, JurisdictionSeed, RouteTarget};
    let mut conn = app.db.connect().await;
    let (lat, long) = WORCESTER;
    let square = json!({"type": "Polygon", "coordinates": [[[long - 0.05, lat - 0.05],
        [long + 0.05, lat - 0.05], [long + 0.05, lat + 0.05], [long - 0.05, lat + 0.05],
        [long - 0.05, lat - 0.05]]]});
    let city = import::upsert_jurisdiction(
        &mut conn,
        &JurisdictionSeed {
            slug: "worcester",
            name: "Worcester",
            locale: "en",
            time_zone: "America/New_York",
        },
        &[square.to_string()],
    )
    .await
    .unwrap();
    let department = import::upsert_department(
        &mut conn,
        city,
        &DepartmentSeed {
            code: "WDPW",
            name: "Worcester Public Works",
            names: json!({"en": "Worcester Public Works"}),
            channel: "internal",
            channel_config: json!({}),
        },
    )
    .await
    .unwrap();
    import::set_default_department(&mut conn, city, department)
        .await
        .unwrap();
    let category = import::upsert_category(
        &mut conn,
        city,
        &CategorySeed {
            code: "pothole",
            name: "Pothole",
            names: json!({"en": "Pothole"}),
            description: "",
            descriptions: json!({}),
            group_name: "Streets",
            dedup_group: "road_surface",
            default_priority: 3,
            dedup_radius_m: 30,
            dedup_window_days: 30,
            allow_anonymous: true,
            sla_days: Some(2),
            attributes: json!([]),
        },
    )
    .await
    .unwrap();
    import::upsert_route(
        &mut conn,
        city,
        RouteTarget::Category(category),
        None,
        department,
    )
    .await
    .unwrap();
    city
}

const WORCESTER: (f64, f64) = (42.2626, -71.8023);

/// A staff member of `city`, signed in.
async fn staff_of(app: &TestApp, city: i64, role: &str, departments: &[&str]) -> Staff {
    let email = format!("{role}.{city}@worcester.example.org");
    let password = "a long enough password".to_owned();
    let mut conn = app.db.connect().await;
    let request = signalons_api::admin::NewStaff {
        email: email.clone(),
        password: password.clone(),
        role: role.parse().unwrap(),
        display_name: None,
        departments: departments.iter().map(|d| (*d).to_owned()).collect(),
    };
    let id = signalons_api::admin::create_staff_account(&mut conn, city, &request, None)
        .await
        .unwrap();
    let token = app.login(&email, &password).await;
    Staff {
        id,
        email,
        password,
        token,
    }
}

/// Staff act in their own city only, admins included, whatever id or code they try.
#[tokio::test]
async fn nothing_crosses_from_one_city_to_another() {
    let app = TestApp::spawn().await;
    let worcester = seed_worcester(&app).await;
    let boston_admin = app.staff("admin", &[]).await;
    let boston_department = department_of(&app, DORCHESTER, "pothole").await;
    let boston_dispatcher = app.staff("dispatcher", &[&boston_department]).await;
    let worcester_admin = staff_of(&app, worcester, "admin", &[]).await;
    let worcester_crew = staff_of(&app, worcester, "crew", &["WDPW"]).await;
    let there = report(&app, WORCESTER, "pothole", json!({})).await;
    assert_eq!(there["jurisdiction"], "worcester", "{there}");
    let far_job = there["incident_id"].as_i64().unwrap();
    let boston_job = report(&app, DORCHESTER, "pothole", json!({})).await["incident_id"]
        .as_i64()
        .unwrap();

    // Boston's admin can neither see nor touch Worcester's job, nor merge it into Boston's.
    let (status, body) = get(
        &app,
        &format!("/api/v1/jobs/{far_job}"),
        &boston_admin.token,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "out_of_scope");
    for (action, body) in [
        ("take", None),
        ("release", None),
        ("assign", Some(json!({"assignee_id": boston_admin.id}))),
        (
            "status",
            Some(json!({"status": "rejected", "explanation": "Not ours"})),
        ),
        (
            "split",
            Some(json!({"report_ids": [there["id"]], "explanation": "Not one hole"})),
        ),
    ] {
        let (status, refused) = act(&app, &boston_admin, far_job, action, 1, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{action}: {refused}");
        assert_eq!(refused["code"], "out_of_scope");
    }
    let (status, refused) = act(
        &app,
        &boston_admin,
        boston_job,
        "merge",
        1,
        Some(json!({"incident_ids": [far_job], "explanation": "Same hole?"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert!(!queue_ids(&app, &boston_admin, "").await.contains(&far_job));
    assert_eq!(queue_ids(&app, &worcester_crew, "").await, [far_job]);

    // A Boston job cannot be given to Worcester's crew, nor Worcester's staff changed from Boston.
    let (status, refused) = act(
        &app,
        &boston_dispatcher,
        boston_job,
        "assign",
        1,
        Some(json!({"assignee_id": worcester_crew.id})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused["code"], "invalid_assignee");
    let (status, _, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/admin/staff/{}", worcester_crew.id),
        Some(&boston_admin.token),
        &[],
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(&app, "/api/v1/me", &worcester_crew.token).await;
    assert_eq!(status, StatusCode::OK, "still enabled");
    let (_, boston_staff) = get(&app, "/api/v1/admin/staff", &boston_admin.token).await;
    assert!(!boston_staff.to_string().contains("worcester.example.org"));

    // Codes are per city: Boston's admin cannot name Worcester's department.
    let (status, refused, _) = call(
        &app,
        Method::POST,
        "/api/v1/admin/staff",
        Some(&boston_admin.token),
        &[],
        Some(
            json!({"email": "mole@city.example.org", "password": "a long enough password",
                    "role": "crew", "departments": ["WDPW"]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused["errors"][0]["code"], "unknown_department");
    let (status, _, _) = call(
        &app,
        Method::PUT,
        "/api/v1/admin/routes",
        Some(&boston_admin.token),
        &[],
        Some(json!({"category": "pothole", "department": "WDPW"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _, _) = call(
        &app,
        Method::PATCH,
        "/api/v1/admin/departments/WDPW",
        Some(&boston_admin.token),
        &[],
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = call(
        &app,
        Method::PATCH,
        "/api/v1/admin/jurisdiction",
        Some(&boston_admin.token),
        &[],
        Some(json!({"reopen_window_days": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, settings) = get(&app, "/api/v1/admin/jurisdiction", &worcester_admin.token).await;
    assert_eq!(settings["slug"], "worcester");
    assert_eq!(
        settings["reopen_window_days"], 14,
        "Boston's change stays in Boston"
    );

    // Each admin reads their own city's audit log only.
    let actions: Vec<Value> = audited_actions(&app, &worcester_admin, "?limit=200").await;
    assert!(
        actions.iter().all(|e| e["action"] != "jurisdiction.update"),
        "{actions:?}"
    );
    assert!(actions.iter().all(|e| e["target_id"] != boston_admin.id));
    let (_, departments) = get(&app, "/api/v1/admin/departments", &worcester_admin.token).await;
    assert_eq!(departments.as_array().unwrap().len(), 1);
}

/// Status-change mails queued for `address`.
async fn news_for(app: &TestApp, address: &str) -> i64 {
    app.db
        .count(&format!(
            "outbox WHERE message = 'status_changed' AND channel = 'email' AND destination = '{address}'"
        ))
        .await
}

/// Residents follow an incident without supporting it — by account or by phone — hear of its
/// status changes (also once it was merged into another), list what they follow, and stop.
#[tokio::test]
async fn residents_follow_incidents_without_supporting_them() {
    let app = TestApp::spawn().await;
    let department = department_of(&app, DORCHESTER, "pothole").await;
    let dispatcher = app.staff("dispatcher", &[&department]).await;
    let ada = resident(&app, "ada@example.org").await;
    let keeper = report(&app, DORCHESTER, "pothole", json!({})).await["incident_id"]
        .as_i64()
        .unwrap();
    let other = report(
        &app,
        (DORCHESTER.0 + 0.0014, DORCHESTER.1),
        "pothole",
        json!({}),
    )
    .await["incident_id"]
        .as_i64()
        .unwrap();
    let follow = async |token: Option<&str>, incident: i64, body: Value| {
        call(
            &app,
            Method::POST,
            &format!("/api/v1/incidents/{incident}/follow"),
            token,
            &[],
            Some(body),
        )
        .await
    };

    // A phone follows with an address; without a device id (nor an account) there is no one.
    let (status, body, _) = follow(None, keeper, json!({"notify_email": "x@example.org"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["code"], "missing_field");
    let phone = json!({"device_id": "a-curious-phone", "notify_email": "curious@example.org"});
    let (status, body, _) = follow(None, other, phone.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["notified"], true);
    let (status, _, _) = follow(None, other, phone.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body, _) = follow(None, 999_999, phone.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // Following is not supporting: no one more said "me too".
    let (_, incident) = app.get_json(&format!("/api/v1/incidents/{other}")).await;
    assert_eq!(incident["supporters_count"], 0);
    assert_eq!(incident["priority"], 3);

    // Ada follows one incident by account, without mail, and supports the other: both listed.
    let (status, body, _) = follow(Some(&ada), keeper, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["notified"], false);
    let (status, _, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/incidents/{other}/supports"),
        Some(&ada),
        &[],
        Some(json!({"device_id": "adas-phone-0001"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, mine) = get(&app, "/api/v1/me/follows", &ada).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    let listed: Vec<&Value> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["incident"]["id"])
        .collect();
    assert_eq!(listed, [&json!(other), &json!(keeper)], "newest first");
    assert!(!mine.to_string().contains("@example.org"), "{mine}");
    let (status, _) = get(&app, "/api/v1/me/follows", "not-a-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Merged into the keeper, the followed incident's news is the keeper's: the phone hears.
    let (status, merged) = act(
        &app,
        &dispatcher,
        keeper,
        "merge",
        1,
        Some(json!({"incident_ids": [other], "explanation": "Same hole."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    let (status, moved) = act(
        &app,
        &dispatcher,
        keeper,
        "status",
        merged["version"].as_i64().unwrap(),
        Some(json!({"status": "scheduled", "explanation": "Booked for Monday."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(news_for(&app, "curious@example.org").await, 1);
    // Both reporters (the report helper leaves an address) and the phone.
    let mails = app.mail.wait_for(3, Duration::from_secs(10)).await;
    assert!(
        mails
            .iter()
            .any(|m| m.contains("To: curious@example.org") && m.contains("Booked for Monday.")),
        "{mails:?}"
    );

    // Unfollowed, the phone hears nothing more.
    let (status, _, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/incidents/{other}/unfollow"),
        None,
        &[],
        Some(json!({"device_id": "a-curious-phone"})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = act(
        &app,
        &dispatcher,
        keeper,
        "status",
        moved["version"].as_i64().unwrap(),
        Some(json!({"status": "resolved", "explanation": "Filled."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(news_for(&app, "curious@example.org").await, 1);
    let (status, _, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/incidents/{keeper}/unfollow"),
        Some(&ada),
        &[],
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, mine) = get(&app, "/api/v1/me/follows", &ada).await;
    assert_eq!(mine.as_array().unwrap().len(), 1, "the supported one stays");
}

/// One address hears of a change once, whether it reported, supported or follows.
#[tokio::test]
async fn a_follower_who_also_supports_hears_once() {
    let app = TestApp::spawn().await;
    let department = department_of(&app, DORCHESTER, "pothole").await;
    let crew = app.staff("crew", &[&department]).await;
    let job = report(&app, DORCHESTER, "pothole", json!({})).await["incident_id"]
        .as_i64()
        .unwrap();
    let neighbour =
        json!({"device_id": "neighbour-phone-1", "notify_email": "Neighbour@example.org"});
    for path in ["supports", "follow"] {
        let response = app
            .post_json(&format!("/api/v1/incidents/{job}/{path}"), &neighbour)
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "{path}");
    }
    let (status, _) = act(
        &app,
        &crew,
        job,
        "status",
        1,
        Some(json!({"status": "acknowledged", "explanation": "Seen."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.db
            .count("outbox WHERE message = 'status_changed' AND lower(destination) = 'neighbour@example.org'")
            .await,
        1
    );
}

/// An incident's public history: every report's public events, each change once however many
/// reports it moved, newest first, in pages; a crew's internal note never.
#[tokio::test]
async fn an_incident_history_shows_each_public_change_once_and_never_a_note() {
    let app = TestApp::spawn().await;
    let department = department_of(&app, DORCHESTER, "pothole").await;
    let dispatcher = app.staff("dispatcher", &[&department]).await;
    let crew = app.staff("crew", &[&department]).await;
    let first = report(&app, DORCHESTER, "pothole", json!({})).await;
    let second = report(
        &app,
        (DORCHESTER.0 + 0.0014, DORCHESTER.1),
        "pothole",
        json!({}),
    )
    .await;
    let job = first["incident_id"].as_i64().unwrap();
    let (status, merged) = act(
        &app,
        &dispatcher,
        job,
        "merge",
        1,
        Some(json!({"incident_ids": [second["incident_id"]], "explanation": "One crater, two ends."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    // Both reports move, each gets the event: the history says it once, the note never.
    let (status, moved) = act(
        &app,
        &crew,
        job,
        "status",
        merged["version"].as_i64().unwrap(),
        Some(
            json!({"status": "scheduled", "explanation": "Booked for Monday.",
                    "internal_note": "Cold patch, 2 bags; gate code 4411."}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(
        app.db
            .count("report_events WHERE is_internal AND body LIKE 'Cold patch%'")
            .await,
        2,
        "the note is kept, on both reports"
    );

    let path = format!("/api/v1/incidents/{job}/events");
    let (status, history) = app.get_json(&path).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert!(!history.to_string().contains("Cold patch"), "{history}");
    assert!(!history.to_string().contains("4411"), "{history}");
    let items = history["items"].as_array().unwrap();
    let summary: Vec<(&str, &str)> = items
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap(),
                e["status_to"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("status_changed", "scheduled"),
            ("merged", "submitted"),
            ("created", "submitted"),
            ("created", "submitted"),
        ],
        "newest first, the status change once: {history}"
    );
    assert_eq!(items[0]["explanation"], "Booked for Monday.");
    assert_eq!(items[0]["status_from"], "submitted");
    assert_eq!(items[1]["explanation"], "One crater, two ends.");
    assert!(history["next_cursor"].is_null());

    // In pages of two: the same entries, and no more.
    let (status, page) = app.get_json(&format!("{path}?limit=2")).await;
    assert_eq!(status, StatusCode::OK);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (status, rest) = app
        .get_json(&format!("{path}?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{rest}");
    assert!(rest["next_cursor"].is_null(), "{rest}");
    let paged: Vec<Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["items"].as_array().unwrap())
        .cloned()
        .collect();
    assert_eq!(&paged, items);

    // Bad pages are refused by name; an unknown incident is not found.
    for query in ["limit=0", "limit=201", "cursor=bm90LWEtY3Vyc29y", "page=2"] {
        let (status, body) = app.get_json(&format!("{path}?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["code"], "invalid_query", "{query}");
    }
    let (status, body) = app.get_json("/api/v1/incidents/999999/events").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "incident_not_found");
    // The reports' own histories still hold the change, each once.
    for report in [&first, &second] {
        let events = events_of(&app, report).await;
        let changes = events
            .iter()
            .filter(|e| e["explanation"] == "Booked for Monday.")
            .count();
        assert_eq!(changes, 1);
    }
}

/// A phone lists what it follows by its device id (a header: a `GET` has no body), and
/// stopping to follow what it supported stops the mail its support asked for.
#[tokio::test]
async fn a_phone_lists_what_it_follows_and_stopping_stops_the_mail() {
    let app = TestApp::spawn().await;
    let department = department_of(&app, DORCHESTER, "pothole").await;
    let crew = app.staff("crew", &[&department]).await;
    let job = report(&app, DORCHESTER, "pothole", json!({})).await["incident_id"]
        .as_i64()
        .unwrap();
    let phone = "a-phone-that-follows";
    let me_too = json!({"device_id": phone, "notify_email": "phone@example.org"});
    let response = app
        .post_json(&format!("/api/v1/incidents/{job}/supports"), &me_too)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = app
        .post_json(
            &format!("/api/v1/incidents/{job}/follow"),
            &json!({"device_id": phone}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let follows = async |headers: &[(&str, &str)]| {
        let (status, body, _) =
            call(&app, Method::GET, "/api/v1/me/follows", None, headers, None).await;
        (status, body)
    };
    let (status, listed) = follows(&[("Device-Id", phone)]).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["incident"]["id"], job);
    assert_eq!(listed[0]["notified"], false, "the address is the support's");
    assert!(!listed.to_string().contains("@example.org"));
    let (status, other) = follows(&[("Device-Id", "another-phone-01")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(other, json!([]), "another phone follows nothing");
    let (status, body) = follows(&[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = follows(&[("Device-Id", "short")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "device_id");

    // Stopped: not listed, and the next change is not mailed; the support still counts.
    let (status, _, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/incidents/{job}/unfollow"),
        None,
        &[],
        Some(json!({"device_id": phone})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(follows(&[("Device-Id", phone)]).await.1, json!([]));
    let (status, _) = act(
        &app,
        &crew,
        job,
        "status",
        1,
        Some(json!({"status": "acknowledged", "explanation": "Seen."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(news_for(&app, "phone@example.org").await, 0);
    assert_eq!(
        news_for(&app, "resident@example.org").await,
        1,
        "the reporter hears"
    );
    let (_, incident) = app.get_json(&format!("/api/v1/incidents/{job}")).await;
    assert_eq!(incident["supporters_count"], 1);
}

/// Signed in, a resident supports an incident once, whichever phone they use.
#[tokio::test]
async fn one_support_per_account_whatever_the_device() {
    let app = TestApp::spawn().await;
    let ada = resident(&app, "ada@example.org").await;
    let job = report(&app, DORCHESTER, "pothole", json!({})).await["incident_id"]
        .as_i64()
        .unwrap();
    let mut answers = Vec::new();
    for device in ["adas-phone-0001", "adas-tablet-002"] {
        let (status, body, _) = call(
            &app,
            Method::POST,
            &format!("/api/v1/incidents/{job}/supports"),
            Some(&ada),
            &[],
            Some(json!({"device_id": device})),
        )
        .await;
        answers.push((status, body["supporters_count"].clone()));
    }
    assert_eq!(
        answers,
        [(StatusCode::CREATED, json!(1)), (StatusCode::OK, json!(1))]
    );
    // Signed out, the same phone is a device of its own: it counts once more.
    let response = app
        .post_json(
            &format!("/api/v1/incidents/{job}/supports"),
            &json!({"device_id": "adas-phone-0001"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(app.db.count("incident_supports").await, 2);
}
