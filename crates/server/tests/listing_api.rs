//! Listing reports, categories and jurisdictions; health probes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};
use signalons_test_support::TestApp;

/// Creates reports at known places: three potholes near Fenway, one street light downtown.
async fn seed_reports(app: &TestApp) -> Vec<i64> {
    let places = [
        ("pothole", 42.3467, -71.0972),
        ("pothole", 42.3470, -71.0975),
        ("pothole", 42.3480, -71.0990),
        ("street_light_out", 42.3555, -71.0603),
    ];
    let mut ids = Vec::new();
    for (category, latitude, longitude) in places {
        let body = json!({"category": category, "latitude": latitude, "longitude": longitude});
        let response = app.post_json("/api/v1/reports", &body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        ids.push(
            response.json::<Value>().await.unwrap()["id"]
                .as_i64()
                .unwrap(),
        );
    }
    ids
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn lists_filter_by_bbox_radius_category_and_status() {
    let app = TestApp::spawn().await;
    let created = seed_reports(&app).await;

    let (_, all) = app.get_json("/api/v1/reports").await;
    let mut newest_first = created.clone();
    newest_first.reverse();
    assert_eq!(ids(&all), newest_first);
    assert!(all["next_cursor"].is_null());

    let (_, fenway) = app
        .get_json("/api/v1/reports?bbox=-71.098,42.346,-71.097,42.3475")
        .await;
    assert_eq!(ids(&fenway), vec![created[1], created[0]]);

    let (_, near) = app
        .get_json("/api/v1/reports?lat=42.3467&long=-71.0972&radius=100")
        .await;
    assert_eq!(ids(&near), vec![created[1], created[0]]);
    let (_, wider) = app
        .get_json("/api/v1/reports?lat=42.3467&long=-71.0972&radius=1000")
        .await;
    assert_eq!(ids(&wider), vec![created[2], created[1], created[0]]);

    let (_, lights) = app
        .get_json("/api/v1/reports?category=street_light_out")
        .await;
    assert_eq!(ids(&lights), vec![created[3]]);
    let (_, both) = app
        .get_json("/api/v1/reports?category=pothole,street_light_out")
        .await;
    assert_eq!(ids(&both).len(), 4);

    let (_, open) = app.get_json("/api/v1/reports?status=submitted").await;
    assert_eq!(ids(&open).len(), 4);
    let (_, resolved) = app.get_json("/api/v1/reports?status=resolved").await;
    assert!(ids(&resolved).is_empty());

    let (_, recent) = app
        .get_json("/api/v1/reports?updated_since=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(ids(&recent).len(), 4);
    let (_, future) = app
        .get_json("/api/v1/reports?updated_since=2999-01-01T00:00:00Z")
        .await;
    assert!(ids(&future).is_empty());

    let (_, elsewhere) = app
        .get_json("/api/v1/reports?jurisdiction=springfield")
        .await;
    assert!(ids(&elsewhere).is_empty());
}

#[tokio::test]
async fn cursor_pagination_walks_every_report_once() {
    let app = TestApp::spawn().await;
    let mut created = Vec::new();
    for _ in 0..3 {
        created.extend(seed_reports(&app).await);
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/reports?limit=5".to_owned();
    loop {
        let (status, page) = app.get_json(&path).await;
        assert_eq!(status, StatusCode::OK);
        assert!(ids(&page).len() <= 5);
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/reports?limit=5&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), created.len());
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), created.len());
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seen:?}"
    );
}

#[tokio::test]
async fn bad_list_queries_are_refused_with_the_parameter_at_fault() {
    let app = TestApp::spawn().await;
    let cases = [
        ("limit=1000000", "limit", "out_of_range"),
        ("limit=0", "limit", "out_of_range"),
        ("limit=ten", "limit", "invalid_value"),
        ("bbox=1,2,3", "bbox", "invalid_bbox"),
        ("bbox=-71.0,42.3,-71.1,42.4", "bbox", "invalid_bbox"),
        ("bbox=-71,42,-70,91", "bbox", "out_of_range"),
        ("lat=91&long=0", "lat", "out_of_range"),
        ("lat=42&long=-181", "long", "out_of_range"),
        ("lat=42", "long", "missing_field"),
        ("lat=42&long=-71&radius=100000", "radius", "out_of_range"),
        ("radius=10", "radius", "missing_field"),
        (
            "bbox=-71.1,42.3,-71.0,42.4&lat=42&long=-71",
            "bbox",
            "conflicting_filters",
        ),
        ("status=open", "status", "unknown_status"),
        ("category=Pot%20Hole", "category", "invalid_category_code"),
        ("cursor=forged", "cursor", "invalid_cursor"),
        ("updated_since=yesterday", "updated_since", "invalid_value"),
        ("colour=red", "colour", "unknown_field"),
    ];
    for (query, field, code) in cases {
        let (status, problem) = app.get_json(&format!("/api/v1/reports?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(problem["code"], "invalid_query", "{query}");
        let errors = problem["errors"].as_array().unwrap();
        assert!(
            errors
                .iter()
                .any(|e| e["field"] == field && e["code"] == code),
            "{query}: {problem}"
        );
    }
}

#[tokio::test]
async fn the_boston_catalog_is_listed() {
    let app = TestApp::spawn().await;
    let (status, categories) = app.get_json("/api/v1/categories?jurisdiction=boston").await;
    assert_eq!(status, StatusCode::OK);
    let items = categories["items"].as_array().unwrap();
    assert!(items.len() >= 20, "{} categories", items.len());
    let pothole = items.iter().find(|c| c["code"] == "pothole").unwrap();
    assert_eq!(pothole["names"]["fr"], "Nid-de-poule");
    assert_eq!(pothole["jurisdiction"], "boston");
    assert!(
        pothole.get("dedup_radius_m").is_none(),
        "internal tuning stays internal"
    );

    let (_, none) = app
        .get_json("/api/v1/categories?jurisdiction=springfield")
        .await;
    assert!(none["items"].as_array().unwrap().is_empty());

    let (_, jurisdictions) = app.get_json("/api/v1/jurisdictions").await;
    let boston = &jurisdictions["items"][0];
    assert_eq!(boston["slug"], "boston");
    assert_eq!(boston["time_zone"], "America/New_York");
    let bbox: Vec<f64> = boston["bbox"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        bbox[0] < -71.0 && bbox[2] > -71.1 && bbox[1] > 42.2 && bbox[3] < 42.5,
        "{bbox:?}"
    );
}

#[tokio::test]
async fn probes_report_liveness_and_readiness() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.get_json("/healthz").await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
    assert_eq!(
        app.get_json("/readyz").await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
}

#[tokio::test]
async fn readiness_fails_while_the_database_is_unreachable() {
    let app = TestApp::spawn().await;
    app.db.drop_now().await;
    let (status, problem) = app.get_json("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(problem["code"], "database_unavailable");
    assert_eq!(app.get_json("/healthz").await.0, StatusCode::OK);
}

#[derive(diesel::QueryableByName)]
struct IdRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// Every page of `query`, following cursors.
async fn all_pages(app: &TestApp, query: &str) -> Vec<Vec<i64>> {
    let mut pages = Vec::new();
    let mut path = format!("/api/v1/reports?{query}");
    loop {
        let (status, page) = app.get_json(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        pages.push(ids(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/reports?{query}&cursor={cursor}"),
            None => break,
        }
        assert!(pages.len() < 500, "{query} does not end");
    }
    pages
}

/// Area lists search windows of recent ids first (10,000, then 80,000 more, ...): with reports
/// spread over a million ids, dense and sparse, every page is exactly the page one query over
/// everything gives, and the cursor walks every report once.
#[tokio::test]
async fn area_pages_across_id_windows_are_those_of_one_query_over_everything() {
    use diesel_async::RunQueryDsl;
    let app = TestApp::spawn().await;
    let first = seed_reports(&app).await[0];
    let mut conn = app.db.connect().await;
    // Batches of reports scattered within ~600 m of Fenway, ids pushed apart between batches
    // so that pages straddle every window boundary; one batch is a street light.
    for (batch, (gap, count, category)) in [
        (0, 40, "pothole"),
        (30_000, 3, "pothole"),
        (5_000, 25, "street_light_out"),
        (200_000, 2, "pothole"),
        (700_000, 30, "pothole"),
        (9_990, 4, "pothole"),
    ]
    .into_iter()
    .enumerate()
    {
        diesel::sql_query(format!(
            "SELECT setval(pg_get_serial_sequence('reports', 'id'), \
             (SELECT max(id) FROM reports) + {gap})"
        ))
        .execute(&mut conn)
        .await
        .unwrap();
        diesel::sql_query(format!(
            "INSERT INTO reports (jurisdiction_id, category_id, incident_id, location, status, source)
             SELECT r.jurisdiction_id, c.id, r.incident_id,
                    ST_SetSRID(ST_MakePoint(-71.0972 + (random() - 0.5) * 0.014,
                                            42.3467 + (random() - 0.5) * 0.011), 4326)::geography,
                    CASE WHEN g % 3 = 0 THEN 'resolved' ELSE 'submitted' END, 'api'
             FROM reports r JOIN categories c ON c.jurisdiction_id = r.jurisdiction_id
                  AND c.code = '{category}', generate_series(1, {count}) g
             WHERE r.id = {first} -- batch {batch}"
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    }
    diesel::sql_query("ANALYZE reports")
        .execute(&mut conn)
        .await
        .unwrap();
    let areas = [
        (
            "lat=42.3467&long=-71.0972&radius=250",
            "ST_DWithin(location, ST_SetSRID(ST_MakePoint(-71.0972, 42.3467), 4326)::geography, 250)",
        ),
        (
            "lat=42.3467&long=-71.0972&radius=1000",
            "ST_DWithin(location, ST_SetSRID(ST_MakePoint(-71.0972, 42.3467), 4326)::geography, 1000)",
        ),
        (
            "bbox=-71.100,42.344,-71.095,42.349",
            "geometry(location) && ST_MakeEnvelope(-71.100, 42.344, -71.095, 42.349, 4326)",
        ),
    ];
    let mut walked = 0;
    for (area, sql) in areas {
        for (kinds, kinds_sql) in [
            ("", "true"),
            ("&status=submitted", "status = 'submitted'"),
            (
                "&category=street_light_out",
                "category_id = (SELECT id FROM categories WHERE code = 'street_light_out')",
            ),
        ] {
            let expected: Vec<i64> = diesel::sql_query(format!(
                "SELECT id FROM reports WHERE {sql} AND {kinds_sql} ORDER BY id DESC"
            ))
            .load::<IdRow>(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.id)
            .collect();
            for limit in [1, 3, 7, 50] {
                let query = format!("{area}{kinds}&limit={limit}");
                let pages = all_pages(&app, &query).await;
                let naive: Vec<Vec<i64>> = if expected.is_empty() {
                    vec![Vec::new()]
                } else {
                    expected.chunks(limit).map(<[i64]>::to_vec).collect()
                };
                assert_eq!(pages, naive, "{query}");
                walked += expected.len();
            }
        }
    }
    assert!(walked > 200, "the areas hold reports: {walked}");
}
