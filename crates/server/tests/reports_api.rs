//! The report API through the real HTTP server, over a per-test copy of the Boston catalog.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use signalons_test_support::TestApp;

/// A pothole on Boylston Street, Fenway.
fn pothole() -> Value {
    json!({
        "category": "pothole",
        "latitude": 42.3467,
        "longitude": -71.0972,
        "description": "Deep hole in the right lane",
        "address": "1000 Boylston St",
        "location_accuracy_m": 8.5,
        "contact_email": "resident@example.org",
        "source": "pwa"
    })
}

async fn create(app: &TestApp, body: &Value, key: Option<&str>) -> (StatusCode, Value) {
    let mut request = app.client.post(app.url("/api/v1/reports")).json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_created_report_is_stored_routed_and_readable() {
    let app = TestApp::spawn().await;
    let response = app.post_json("/api/v1/reports", &pothole()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/reports/{}", created["id"]));
    assert_eq!(created["status"], "submitted");
    assert_eq!(created["jurisdiction"], "boston");
    assert_eq!(created["category"]["code"], "pothole");
    // Potholes go to the Public Works district crew of the neighborhood, as in Boston's cases.
    assert_eq!(created["department"]["code"], "PWD_D10A");
    assert_eq!(created["service_area"]["code"], "fenway");
    assert_eq!(created["source"], "pwa");
    assert_eq!(created["latitude"], 42.3467);
    assert_eq!(created["location_accuracy_m"], 8.5);
    assert!(created["incident_id"].as_i64().unwrap() > 0);

    assert_eq!(created["linked_to_existing_incident"], false);
    assert_eq!(created["duplicate_candidates"], json!([]));

    let (status, fetched) = app.get_json(&location).await;
    assert_eq!(status, StatusCode::OK);
    let mut expected = created.clone();
    expected
        .as_object_mut()
        .unwrap()
        .remove("linked_to_existing_incident");
    expected
        .as_object_mut()
        .unwrap()
        .remove("duplicate_candidates");
    assert_eq!(
        expected.as_object_mut().unwrap().remove("photos"),
        Some(json!([]))
    );
    assert_eq!(
        expected
            .as_object_mut()
            .unwrap()
            .remove("location_from_photo"),
        Some(json!(false))
    );
    assert_eq!(fetched, expected);

    let (status, events) = app.get_json(&format!("{location}/events")).await;
    assert_eq!(status, StatusCode::OK);
    let events = events["items"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["kind"], "created");
    assert_eq!(events[0]["status_to"], "submitted");
    assert_eq!(app.db.count("incidents").await, 1);
}

#[tokio::test]
async fn personal_data_never_appears_in_public_responses() {
    let app = TestApp::spawn().await;
    let (_, created) = create(&app, &pothole(), Some("private-1")).await;
    let id = created["id"].as_i64().unwrap();
    for path in [
        format!("/api/v1/reports/{id}"),
        format!("/api/v1/reports/{id}/events"),
        "/api/v1/reports".to_owned(),
    ] {
        let body = app.get(&path).await.text().await.unwrap();
        assert!(
            !body.contains("resident@example.org"),
            "{path} leaks the email"
        );
        assert!(
            !body.contains("private-1"),
            "{path} leaks the idempotency key"
        );
    }
}

#[tokio::test]
async fn departments_follow_the_category_and_areas_the_place() {
    let app = TestApp::spawn().await;
    let graffiti_in_dorchester =
        json!({"category": "graffiti", "latitude": 42.3016, "longitude": -71.0676});
    let (status, report) = create(&app, &graffiti_in_dorchester, None).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["department"]["code"], "PROP");
    assert_eq!(report["service_area"]["code"], "dorchester");

    let hydrant_downtown =
        json!({"category": "fire_hydrant", "latitude": 42.3555, "longitude": -71.0603});
    let (_, report) = create(&app, &hydrant_downtown, None).await;
    assert_eq!(report["department"]["code"], "BWSC");
    assert_eq!(report["service_area"]["code"], "downtown");
}

#[tokio::test]
async fn the_same_idempotency_key_returns_the_same_report() {
    let app = TestApp::spawn().await;
    let (first_status, first) = create(&app, &pothole(), Some("retry-me")).await;
    assert_eq!(first_status, StatusCode::CREATED);
    let response = app
        .client
        .post(app.url("/api/v1/reports"))
        .header("Idempotency-Key", "retry-me")
        .json(&pothole())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["idempotent-replayed"], "true");
    let second: Value = response.json().await.unwrap();
    assert_eq!(second["id"], first["id"]);
    assert_eq!(app.db.count("reports").await, 1);
    assert_eq!(app.db.count("report_events").await, 1);
}

#[tokio::test]
async fn concurrent_retries_with_one_key_make_one_report() {
    let app = TestApp::spawn().await;
    let body = pothole();
    let attempts = (0..12).map(|_| create(&app, &body, Some("flaky-network")));
    let results = join_all(attempts).await;
    let ids: std::collections::HashSet<_> = results
        .iter()
        .map(|(_, body)| body["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "{results:?}");
    assert_eq!(
        results
            .iter()
            .filter(|(status, _)| *status == StatusCode::CREATED)
            .count(),
        1
    );
    assert_eq!(app.db.count("reports").await, 1);
    assert_eq!(app.db.count("incidents").await, 1);
}

#[tokio::test]
async fn a_key_reused_for_another_report_is_refused() {
    let app = TestApp::spawn().await;
    create(&app, &pothole(), Some("k1")).await;
    let mut other = pothole();
    other["description"] = json!("a different problem");
    let (status, problem) = create(&app, &other, Some("k1")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["code"], "idempotency_key_reused");
    assert_eq!(app.db.count("reports").await, 1);
}

#[tokio::test]
async fn a_point_outside_every_jurisdiction_is_refused() {
    let app = TestApp::spawn().await;
    let mut paris = pothole();
    paris["latitude"] = json!(48.8566);
    paris["longitude"] = json!(2.3522);
    let (status, problem) = create(&app, &paris, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["code"], "outside_jurisdiction");
    assert_eq!(app.db.count("reports").await, 0);
}

/// A bad request: name, body, content type, expected status, problem code, and the field and
/// its code when a field is at fault.
type BadRequest = (
    &'static str,
    String,
    &'static str,
    u16,
    &'static str,
    Option<(&'static str, &'static str)>,
);

#[tokio::test]
async fn bad_input_gets_a_precise_problem_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let with = |field: &str, value: Value| {
        let mut body = pothole();
        body[field] = value;
        body.to_string()
    };
    let without = |field: &str| {
        let mut body = pothole();
        body.as_object_mut().unwrap().remove(field);
        body.to_string()
    };
    let json_type = "application/json";
    let cases: Vec<BadRequest> = vec![
        (
            "malformed JSON",
            "{\"category\": ".into(),
            json_type,
            400,
            "malformed_json",
            None,
        ),
        (
            "trailing garbage",
            format!("{} x", pothole()),
            json_type,
            400,
            "malformed_json",
            None,
        ),
        (
            "wrong content type",
            pothole().to_string(),
            "text/plain",
            415,
            "unsupported_media_type",
            None,
        ),
        (
            "form content type",
            "category=pothole".into(),
            "application/x-www-form-urlencoded",
            415,
            "unsupported_media_type",
            None,
        ),
        (
            "missing category",
            without("category"),
            json_type,
            422,
            "validation_failed",
            Some(("category", "missing_field")),
        ),
        (
            "missing latitude",
            without("latitude"),
            json_type,
            422,
            "validation_failed",
            Some(("latitude", "missing_field")),
        ),
        (
            "extra field",
            with("priority", json!(1)),
            json_type,
            422,
            "validation_failed",
            Some(("priority", "unknown_field")),
        ),
        (
            "latitude 91",
            with("latitude", json!(91)),
            json_type,
            422,
            "validation_failed",
            Some(("latitude", "out_of_range")),
        ),
        (
            "longitude -181",
            with("longitude", json!(-181)),
            json_type,
            422,
            "validation_failed",
            Some(("longitude", "out_of_range")),
        ),
        (
            "latitude as text",
            with("latitude", json!("north")),
            json_type,
            422,
            "validation_failed",
            Some(("latitude", "invalid_type")),
        ),
        (
            "longitude null",
            with("longitude", Value::Null),
            json_type,
            422,
            "validation_failed",
            Some(("longitude", "invalid_type")),
        ),
        (
            "description too long",
            with("description", json!("x".repeat(4001))),
            json_type,
            422,
            "validation_failed",
            Some(("description", "too_long")),
        ),
        (
            "1 MB description",
            with("description", json!("x".repeat(1_000_000))),
            json_type,
            413,
            "payload_too_large",
            None,
        ),
        (
            "bad email",
            with("contact_email", json!("not-an-email")),
            json_type,
            422,
            "validation_failed",
            Some(("contact_email", "invalid_email")),
        ),
        (
            "badly formed category",
            with("category", json!("Pot Hole")),
            json_type,
            422,
            "validation_failed",
            Some(("category", "invalid_category_code")),
        ),
        (
            "unknown category",
            with("category", json!("flying_saucer")),
            json_type,
            422,
            "unknown_category",
            None,
        ),
        (
            "staff source",
            with("source", json!("staff")),
            json_type,
            422,
            "validation_failed",
            Some(("source", "source_not_allowed")),
        ),
        (
            "unknown source",
            with("source", json!("fax")),
            json_type,
            422,
            "validation_failed",
            Some(("source", "unknown_value")),
        ),
        (
            "negative accuracy",
            with("location_accuracy_m", json!(-1)),
            json_type,
            422,
            "validation_failed",
            Some(("location_accuracy_m", "out_of_range")),
        ),
        (
            "array body",
            "[]".into(),
            json_type,
            422,
            "validation_failed",
            None,
        ),
    ];
    for (name, body, content_type, status, code, field) in cases {
        let response = app
            .client
            .post(app.url("/api/v1/reports"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{name}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{name}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], code, "{name}: {problem}");
        assert_eq!(problem["status"], status, "{name}");
        assert_eq!(
            problem["type"],
            format!("urn:signalons:problem:{code}"),
            "{name}"
        );
        if let Some((field, field_code)) = field {
            let errors = problem["errors"].as_array().unwrap();
            assert!(
                errors
                    .iter()
                    .any(|e| e["field"] == field && e["code"] == field_code),
                "{name}: {problem}"
            );
        }
    }
    let key_response = app
        .client
        .post(app.url("/api/v1/reports"))
        .header("Idempotency-Key", "has space")
        .json(&pothole())
        .send()
        .await
        .unwrap();
    assert_eq!(key_response.status(), StatusCode::BAD_REQUEST);
    let problem: Value = key_response.json().await.unwrap();
    assert_eq!(problem["code"], "invalid_idempotency_key");

    assert_nothing_written(&app).await;
}

/// Nothing a report brings along was stored: no report, incident, event, message or photo.
async fn assert_nothing_written(app: &TestApp) {
    for table in ["reports", "incidents", "report_events", "outbox", "media"] {
        assert_eq!(app.db.count(table).await, 0, "{table}");
    }
}

#[tokio::test]
async fn a_body_sent_without_a_length_is_cut_at_the_limit() {
    // A chunked body declares no length: the server must count what arrives, not trust a header.
    let app = TestApp::spawn().await;
    let address = app.url("").trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(address.trim_end_matches('/'))
        .await
        .unwrap();
    let body = with_description("x".repeat(200_000));
    let mut request = format!(
        "POST /api/v1/reports HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    for chunk in body.as_bytes().chunks(8_192) {
        request.push_str(&format!("{:x}\r\n", chunk.len()));
        request.push_str(std::str::from_utf8(chunk).unwrap());
        request.push_str("\r\n");
    }
    request.push_str("0\r\n\r\n");
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // The server may answer and close before reading everything: a failed write is fine.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(
        answer.contains("\"code\":\"payload_too_large\""),
        "{answer}"
    );
    assert_nothing_written(&app).await;
}

fn with_description(description: String) -> String {
    let mut body = pothole();
    body["description"] = json!(description);
    body.to_string()
}

#[tokio::test]
async fn an_unexpected_failure_answers_500_without_its_internals() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect().await;
    use diesel_async::RunQueryDsl;
    // A schema the code does not expect: the insert of the report's first event fails.
    diesel::sql_query("ALTER TABLE report_events RENAME TO report_events_moved")
        .execute(&mut conn)
        .await
        .unwrap();
    let response = app.post_json("/api/v1/reports", &pothole()).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let text = response.text().await.unwrap();
    let problem: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(problem["code"], "internal_error");
    assert_eq!(problem["status"], 500);
    for internal in ["report_events", "relation", "SQL", "diesel", "postgres"] {
        assert!(!text.contains(internal), "{internal} leaked: {text}");
    }
    diesel::sql_query("ALTER TABLE report_events_moved RENAME TO report_events")
        .execute(&mut conn)
        .await
        .unwrap();
    // The report and its incident were rolled back with the failed event.
    assert_nothing_written(&app).await;
}

#[tokio::test]
async fn a_method_the_api_does_not_offer_is_a_problem_too() {
    // Routes are matched on method and path together: there is no DELETE here at all.
    let app = TestApp::spawn().await;
    let response = app
        .client
        .delete(app.url("/api/v1/reports/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "not_found");
}

#[tokio::test]
async fn unknown_reports_and_paths_are_problems() {
    let app = TestApp::spawn().await;
    for (path, code) in [
        ("/api/v1/reports/999999", "report_not_found"),
        ("/api/v1/reports/999999/events", "report_not_found"),
        ("/api/v1/reports/abc", "not_found"),
        ("/api/v1/nothing-here", "not_found"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], code, "{path}");
    }
}
