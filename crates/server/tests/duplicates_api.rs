//! Duplicates as incidents: candidates, automatic links, "me too", and the routing preview.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::StatusCode;
use serde_json::{Value, json};
use signalons_test_support::TestApp;

async fn report(app: &TestApp, body: Value) -> Value {
    let response = app.post_json("/api/v1/reports", &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

fn light(latitude: f64, longitude: f64) -> Value {
    json!({"category": "street_light_out", "latitude": latitude, "longitude": longitude,
           "address": "1 Charles St Boston MA 02116", "description": "Street light out all night"})
}

#[tokio::test]
async fn the_same_problem_reported_twice_is_one_incident_with_a_supporter() {
    let app = TestApp::spawn().await;
    let first = report(&app, light(42.3560, -71.0700)).await;
    let second = report(&app, light(42.3560, -71.0700)).await;
    assert_eq!(second["linked_to_existing_incident"], true);
    assert_eq!(second["incident_id"], first["incident_id"]);
    assert_ne!(second["id"], first["id"]);
    let candidates = second["duplicate_candidates"].as_array().unwrap();
    assert_eq!(candidates[0]["incident_id"], first["incident_id"]);

    let incident_path = format!("/api/v1/incidents/{}", first["incident_id"]);
    let (status, incident) = app.get_json(&incident_path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(incident["report_count"], 2);
    assert_eq!(incident["supporters_count"], 1);
    assert_eq!(app.db.count("incidents").await, 1);

    // Every report says how known its problem is: in the create answer, alone and in lists.
    let known = json!({"report_count": 2, "supporters_count": 1});
    assert_eq!(
        first["incident"],
        json!({"report_count": 1, "supporters_count": 0})
    );
    assert_eq!(second["incident"], known);
    let (_, alone) = app
        .get_json(&format!("/api/v1/reports/{}", first["id"]))
        .await;
    assert_eq!(alone["incident"], known);
    let (_, listed) = app
        .get_json("/api/v1/reports?lat=42.3560&long=-71.0700&radius=50")
        .await;
    let listed = listed["items"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|r| r["incident"] == known), "{listed:?}");

    let (_, events) = app
        .get_json(&format!("/api/v1/reports/{}/events", second["id"]))
        .await;
    let note = events["items"][0]["explanation"].as_str().unwrap();
    assert!(note.contains("already reported"), "{note}");
}

#[tokio::test]
async fn plausible_matches_are_shown_and_unrelated_ones_are_not() {
    let app = TestApp::spawn().await;
    let first = report(&app, light(42.3560, -71.0700)).await;
    // Another pole ~33 m away, a few numbers up the street: plausible, not certain.
    let mut other = light(42.3563, -71.0700);
    other["address"] = json!("9 Charles St Boston MA 02116");
    let second = report(&app, other).await;
    assert_eq!(second["linked_to_existing_incident"], false);
    assert_ne!(second["incident_id"], first["incident_id"]);
    assert_eq!(
        second["duplicate_candidates"][0]["incident_id"],
        first["incident_id"]
    );

    let path = "/api/v1/reports/duplicates?lat=42.3561&long=-71.0700&category=street_light_out";
    let (status, found) = app.get_json(path).await;
    assert_eq!(status, StatusCode::OK);
    let items = found["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let best = &items[0];
    assert!(best["distance_m"].as_f64().unwrap() < 20.0, "{best}");
    assert!(
        best["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("nearby"))
    );
    assert!(
        items
            .windows(2)
            .all(|w| w[0]["score"].as_f64() >= w[1]["score"].as_f64())
    );

    // Far away, or another kind of problem: nothing to show.
    let (_, far) = app
        .get_json("/api/v1/reports/duplicates?lat=42.3300&long=-71.0700&category=street_light_out")
        .await;
    assert_eq!(far["items"], json!([]));
    let (_, other_kind) = app
        .get_json("/api/v1/reports/duplicates?lat=42.3560&long=-71.0700&category=graffiti")
        .await;
    assert_eq!(other_kind["items"], json!([]));
}

#[tokio::test]
async fn duplicate_queries_are_validated() {
    let app = TestApp::spawn().await;
    for (query, status, code) in [
        ("lat=91&long=-71&category=pothole", 400, "invalid_query"),
        ("lat=42.35&category=pothole", 400, "invalid_query"),
        ("lat=42.35&long=-71.06&category=Pot", 400, "invalid_query"),
        (
            "lat=42.35&long=-71.06&category=flying_saucer",
            422,
            "unknown_category",
        ),
        (
            "lat=48.85&long=2.35&category=pothole",
            422,
            "outside_jurisdiction",
        ),
    ] {
        let (actual, problem) = app
            .get_json(&format!("/api/v1/reports/duplicates?{query}"))
            .await;
        assert_eq!(actual.as_u16(), status, "{query}");
        assert_eq!(problem["code"], code, "{query}");
    }
}

#[tokio::test]
async fn me_too_counts_once_per_device_and_raises_priority() {
    let app = TestApp::spawn().await;
    let first = report(&app, light(42.3560, -71.0700)).await;
    let incident = first["incident_id"].as_i64().unwrap();
    let path = format!("/api/v1/incidents/{incident}/supports");

    let response = app
        .post_json(&path, &json!({"device_id": "device-aaaa-1111"}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["supporters_count"], 1);
    assert_eq!(body["newly_supported"], true);

    let again = app
        .post_json(&path, &json!({"device_id": "device-aaaa-1111"}))
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.json::<Value>().await.unwrap()["supporters_count"], 1);

    let other = app
        .post_json(
            &path,
            &json!({"device_id": "device-bbbb-2222", "notify_email": "me@example.org"}),
        )
        .await;
    assert_eq!(other.status(), StatusCode::CREATED);
    let (_, incident_now) = app.get_json(&format!("/api/v1/incidents/{incident}")).await;
    assert_eq!(incident_now["supporters_count"], 2);
    assert!(
        incident_now["priority"].as_i64() < first["priority"].as_i64(),
        "{incident_now}"
    );
    assert_eq!(app.db.count("reports").await, 1, "supports are not reports");
    let body = app
        .get(&format!("/api/v1/incidents/{incident}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!body.contains("me@example.org"));

    for (body, status, code) in [
        (json!({"device_id": "short"}), 422, "validation_failed"),
        (
            json!({"device_id": "device-cccc-3333", "notify_email": "nope"}),
            422,
            "validation_failed",
        ),
        (
            json!({"device": "device-cccc-3333"}),
            422,
            "validation_failed",
        ),
    ] {
        let response = app.post_json(&path, &body).await;
        assert_eq!(response.status().as_u16(), status, "{body}");
        assert_eq!(
            response.json::<Value>().await.unwrap()["code"],
            code,
            "{body}"
        );
    }
    let missing = app
        .post_json(
            "/api/v1/incidents/999999/supports",
            &json!({"device_id": "device-dddd-4444"}),
        )
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        missing.json::<Value>().await.unwrap()["code"],
        "incident_not_found"
    );
}

#[tokio::test]
async fn closed_incidents_cannot_be_supported() {
    let app = TestApp::spawn().await;
    let first = report(&app, light(42.3560, -71.0700)).await;
    let mut conn = app.db.connect().await;
    signalons_db::incidents::close_report(
        &mut conn,
        first["id"].as_i64().unwrap(),
        signalons_domain::ReportStatus::Resolved,
        "Lamp replaced.",
        chrono::Utc::now(),
    )
    .await
    .unwrap()
    .unwrap();
    let path = format!("/api/v1/incidents/{}/supports", first["incident_id"]);
    let response = app
        .post_json(&path, &json!({"device_id": "device-aaaa-1111"}))
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "incident_closed"
    );
    // A closed incident is no longer a candidate: the same problem again opens a new one.
    let again = report(&app, light(42.3560, -71.0700)).await;
    assert_eq!(again["linked_to_existing_incident"], false);
    assert_ne!(again["incident_id"], first["incident_id"]);
}

#[tokio::test]
async fn the_routing_preview_names_the_department_and_area() {
    let app = TestApp::spawn().await;
    let (status, preview) = app
        .get_json("/api/v1/routing?lat=42.3016&long=-71.0676&category=graffiti")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(preview["jurisdiction"], "boston");
    assert_eq!(preview["department"]["code"], "PROP");
    assert_eq!(preview["service_area"]["code"], "dorchester");
    assert_eq!(preview["service_area"]["name"], "Dorchester");

    let (status, problem) = app
        .get_json("/api/v1/routing?lat=48.85&long=2.35&category=graffiti")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["code"], "outside_jurisdiction");
    assert_eq!(app.db.count("reports").await, 0, "a preview stores nothing");
}

#[tokio::test]
async fn a_label_every_report_carries_is_no_evidence_but_distinctive_words_are() {
    let app = TestApp::spawn().await;
    let labelled = |latitude: f64, longitude: f64, description: &str| {
        let mut body = light(latitude, longitude);
        body["description"] = json!(description);
        body.as_object_mut().unwrap().remove("address");
        body
    };
    // Poles about a kilometre apart, all described by the fixed label an import carries, one
    // with more to say.
    for (latitude, longitude) in [
        (42.3300, -71.0700),
        (42.3400, -71.0700),
        (42.3500, -71.0700),
        (42.3300, -71.0600),
        (42.3500, -71.0600),
    ] {
        report(&app, labelled(latitude, longitude, "Street Light Outages")).await;
    }
    report(
        &app,
        labelled(
            42.3600,
            -71.0700,
            "Street Light Outages: pole leaning over the sidewalk",
        ),
    )
    .await;

    let reasons = |found: &Value| -> Vec<Value> {
        found["items"][0]["reasons"]
            .as_array()
            .expect("a candidate")
            .clone()
    };
    let near = |latitude: f64, description: &str| {
        format!(
            "/api/v1/reports/duplicates?lat={latitude}&long=-71.0700&category=street_light_out\
             &description={}",
            description.replace(' ', "+")
        )
    };
    let (_, label) = app.get_json(&near(42.3402, "Street Light Outages")).await;
    let (_, nothing_said) = app.get_json(&near(42.3402, "")).await;
    assert!(!reasons(&label).contains(&json!("similar_description")));
    assert_eq!(
        label["items"][0]["score"], nothing_said["items"][0]["score"],
        "the label adds nothing"
    );

    let (_, described) = app
        .get_json(&near(42.3602, "Leaning pole over sidewalk"))
        .await;
    let (_, silent) = app.get_json(&near(42.3602, "")).await;
    assert!(reasons(&described).contains(&json!("similar_description")));
    assert!(
        described["items"][0]["score"].as_f64() > silent["items"][0]["score"].as_f64(),
        "{described} {silent}"
    );
}

#[tokio::test]
async fn an_open_incident_is_a_candidate_while_it_is_reported_again_however_old() {
    use diesel_async::RunQueryDsl;
    let app = TestApp::spawn().await;
    let first = report(&app, light(42.3560, -71.0700)).await;
    let mut conn = app.db.connect().await;
    let age = |opened_days: i64, reported_days: i64| {
        format!(
            "UPDATE incidents SET created_at = now() - interval '{opened_days} days', \
             last_reported_at = now() - interval '{reported_days} days'"
        )
    };
    let path = "/api/v1/reports/duplicates?lat=42.3561&long=-71.0700&category=street_light_out";
    // Opened 200 days ago and never reported since: beyond four windows of 30 days.
    diesel::sql_query(age(200, 200))
        .execute(&mut conn)
        .await
        .unwrap();
    let (_, forgotten) = app.get_json(path).await;
    assert_eq!(forgotten["items"], json!([]));
    // Still open and reported again two days ago: a live problem.
    diesel::sql_query(age(200, 2))
        .execute(&mut conn)
        .await
        .unwrap();
    let (_, live) = app.get_json(path).await;
    assert_eq!(live["items"][0]["incident_id"], first["incident_id"]);
    assert!(
        live["items"][0]["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("recent"))
    );
}
