//! City scale: the synthetic generator, and the clustered map over stored and new reports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::{QueryableByName, sql_types::BigInt};
use diesel_async::RunQueryDsl;
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use signalons_import::synthetic::{self, Amount};
use signalons_test_support::{Contents, TestApp, TestDatabase, demo_dir};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn scalar(db: &TestDatabase, sql: &str) -> i64 {
    let mut conn = db.connect().await;
    diesel::sql_query(sql)
        .get_result::<Count>(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .n
}

async fn load(db: &TestDatabase, amount: Amount) -> synthetic::SyntheticSummary {
    let mut conn = db.connect().await;
    let mut bulk = signalons_db::bulk::connect(&db.url).await.unwrap();
    synthetic::load(&mut conn, &mut bulk, &demo_dir(), amount, 7)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_generator_tops_up_consistently_and_counts_on_the_map() {
    let db = TestDatabase::new(Contents::BostonCatalog).await;
    let first = load(&db, Amount::Total(400)).await;
    assert_eq!((first.before, first.added), (0, 400));
    assert!(first.reports_per_second > 0.0);
    assert_eq!(load(&db, Amount::Total(400)).await.added, 0, "idempotent");
    assert_eq!(load(&db, Amount::Add(100)).await.added, 100);

    assert_eq!(db.count("reports").await, 500);
    assert_eq!(db.count("incidents").await, 500);
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) AS n FROM incidents i WHERE report_count <> \
             (SELECT count(*) FROM reports r WHERE r.incident_id = i.id)"
        )
        .await,
        0,
        "every report has its incident and counts agree"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) AS n FROM reports r WHERE NOT EXISTS \
             (SELECT 1 FROM report_events e WHERE e.report_id = r.id AND e.kind = 'created')"
        )
        .await,
        0
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) AS n FROM reports WHERE (closed_at IS NULL) <> (status = 'submitted')"
        )
        .await,
        0,
        "open reports are submitted, closed ones carry their closing time"
    );
    for level in [2, 10, 18, 20] {
        assert_eq!(
            scalar(
                &db,
                &format!("SELECT sum(reports) AS n FROM map_cells WHERE level = {level}")
            )
            .await,
            500,
            "level {level} counts every report once"
        );
    }
}

const BOSTON: &str = "-71.19,42.23,-70.99,42.40";

async fn clusters(app: &TestApp, query: &str) -> Value {
    let (status, body) = app.get_json(&format!("/api/v1/map/clusters?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Each cluster's count and position to about a metre (sums of floats may differ in the last
/// digit once folded).
fn shape(answer: &Value) -> Vec<(i64, i64, i64)> {
    answer["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let metre = |v: &Value| (v.as_f64().unwrap() * 1e5).round() as i64;
            (
                c["count"].as_i64().unwrap(),
                metre(&c["latitude"]),
                metre(&c["longitude"]),
            )
        })
        .collect()
}

async fn report(app: &TestApp, category: &str, latitude: f64, longitude: f64) -> i64 {
    let body = json!({"category": category, "latitude": latitude, "longitude": longitude});
    let response = app.post_json("/api/v1/reports", &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn clusters_are_exact_before_and_after_folding_and_revalidate() {
    let app = TestApp::spawn().await;
    let far_apart = [
        (42.3467, -71.0972),
        (42.3555, -71.0603),
        (42.2850, -71.1200),
    ];
    let mut ids = Vec::new();
    for (lat, lon) in far_apart {
        ids.push(report(&app, "pothole", lat, lon).await);
    }
    ids.push(report(&app, "graffiti", 42.3468, -71.0973).await);

    let city = clusters(&app, &format!("bbox={BOSTON}&zoom=3")).await;
    assert_eq!(city["total"], 4);
    assert_eq!(city["cell_level"], 5);
    assert_eq!(city["clusters"].as_array().unwrap().len(), 1, "{city}");

    let street_zoom = clusters(&app, &format!("bbox={BOSTON}&zoom=12")).await;
    let counts: Vec<i64> = street_zoom["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_i64().unwrap())
        .collect();
    assert_eq!(counts.iter().sum::<i64>(), 4);
    assert_eq!(
        counts.len(),
        3,
        "the two Fenway reports share a cell: {counts:?}"
    );

    // Folding moves the counts into map_cells; the answers do not change.
    let mut conn = app.db.connect().await;
    assert_eq!(signalons_db::map::fold(&mut conn, 10_000).await.unwrap(), 4);
    assert_eq!(signalons_db::map::fold(&mut conn, 10_000).await.unwrap(), 0);
    assert_eq!(
        shape(&clusters(&app, &format!("bbox={BOSTON}&zoom=12")).await),
        shape(&street_zoom)
    );
    assert_eq!(
        shape(&clusters(&app, &format!("bbox={BOSTON}&zoom=3")).await),
        shape(&city)
    );

    let graffiti = clusters(&app, &format!("bbox={BOSTON}&zoom=12&category=graffiti")).await;
    assert_eq!(graffiti["total"], 1);
    let none = clusters(
        &app,
        &format!("bbox={BOSTON}&zoom=12&category=no_such_kind"),
    )
    .await;
    assert_eq!(none["total"], 0);

    // A folded report that closes moves between statuses (trigger).
    diesel::sql_query(format!(
        "UPDATE reports SET status = 'resolved', closed_at = now(), updated_at = now() WHERE id = {}",
        ids[1]
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let open = clusters(&app, &format!("bbox={BOSTON}&zoom=8&status=submitted")).await;
    assert_eq!(open["total"], 3);
    let resolved = clusters(&app, &format!("bbox={BOSTON}&zoom=8&status=resolved")).await;
    assert_eq!(resolved["total"], 1);

    // At street level a lone report is named: from the stored counts (zoom 17, 18), from the
    // reports (19, 20), and once a new report shares its cell, no longer.
    for zoom in 17..=20 {
        let downtown = clusters(
            &app,
            &format!("bbox=-71.0610,42.3550,-71.0596,42.3560&zoom={zoom}"),
        )
        .await;
        assert_eq!(downtown["clusters"][0]["report_id"], ids[1], "zoom {zoom}");
        assert_eq!(downtown["clusters"][0]["count"], 1, "zoom {zoom}");
    }
    report(&app, "graffiti", 42.3555, -71.0603).await;
    for zoom in [17, 20] {
        let downtown = clusters(
            &app,
            &format!("bbox=-71.0610,42.3550,-71.0596,42.3560&zoom={zoom}"),
        )
        .await;
        assert_eq!(downtown["clusters"][0]["count"], 2, "zoom {zoom}");
        assert_eq!(
            downtown["clusters"][0]["report_id"],
            Value::Null,
            "zoom {zoom}"
        );
    }
    assert_eq!(signalons_db::map::fold(&mut conn, 10_000).await.unwrap(), 1);
    let folded = clusters(&app, "bbox=-71.0610,42.3550,-71.0596,42.3560&zoom=17").await;
    assert_eq!(folded["clusters"][0]["count"], 2);
    assert_eq!(folded["clusters"][0]["report_id"], Value::Null);

    // Revalidation: the same ETag answers 304 until a report changes.
    let url = app.url(&format!("/api/v1/map/clusters?bbox={BOSTON}&zoom=12"));
    let first = app.client.get(&url).send().await.unwrap();
    assert_eq!(first.headers()[header::CACHE_CONTROL], "public, no-cache");
    let etag = first.headers()[header::ETAG].to_str().unwrap().to_owned();
    let revalidate = || {
        app.client
            .get(&url)
            .header(header::IF_NONE_MATCH, &etag)
            .send()
    };
    assert_eq!(
        revalidate().await.unwrap().status(),
        StatusCode::NOT_MODIFIED
    );
    report(&app, "pothole", 42.3500, -71.0800).await;
    let changed = revalidate().await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(changed.headers()[header::ETAG].to_str().unwrap(), etag);
}

#[tokio::test]
async fn cluster_queries_are_bounded() {
    let app = TestApp::spawn().await;
    for (query, field, code) in [
        (format!("bbox={BOSTON}&zoom=17"), "bbox", "bbox_too_large"),
        (format!("bbox={BOSTON}&zoom=21"), "zoom", "out_of_range"),
        ("bbox=1,2,3&zoom=3".to_owned(), "bbox", "invalid_bbox"),
        (
            format!("bbox={BOSTON}&zoom=3&status=lost"),
            "status",
            "unknown_status",
        ),
    ] {
        let (status, problem) = app.get_json(&format!("/api/v1/map/clusters?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(problem["code"], "invalid_query");
        let error = &problem["errors"][0];
        assert_eq!(
            (error["field"].as_str(), error["code"].as_str()),
            (Some(field), Some(code)),
            "{problem}"
        );
    }
}
