//! Migrations up → down → up, the OpenAPI contract, and the demo loader's idempotency.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::{QueryableByName, sql_types::Text};
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use signalons_db::migrations::{self, Direction};
use signalons_test_support::{Contents, TestApp, TestDatabase, demo_dir};

#[derive(QueryableByName)]
struct Digest {
    #[diesel(sql_type = Text)]
    digest: String,
}

/// A digest of the whole content of the tables the demo writes.
async fn content_digest(db: &TestDatabase) -> String {
    let mut conn = db.connect().await;
    let tables = [
        "jurisdictions",
        "departments",
        "categories",
        "service_areas",
        "routes",
        "incidents",
        "reports",
        "report_events",
    ];
    let parts: Vec<String> = tables
        .iter()
        .map(|t| {
            format!("(SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY t.id)), '') FROM {t} t)")
        })
        .collect();
    let sql = format!("SELECT concat_ws('|', {}) AS digest", parts.join(", "));
    diesel::sql_query(sql)
        .get_result::<Digest>(&mut conn)
        .await
        .unwrap()
        .digest
}

async fn public_tables(db: &TestDatabase) -> Vec<String> {
    let mut conn = db.connect().await;
    diesel::sql_query(
        "SELECT table_name::text AS digest FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_name NOT IN ('spatial_ref_sys', 'geography_columns', 'geometry_columns') \
         ORDER BY 1",
    )
    .load::<Digest>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|row| row.digest)
    .collect()
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    let db = TestDatabase::blank().await;
    migrations::run(&db.url, Direction::Up).await.unwrap();
    let after_up = public_tables(&db).await;
    for table in [
        "reports",
        "incidents",
        "report_events",
        "routes",
        "service_areas",
        "public_reports",
    ] {
        assert!(
            after_up.contains(&table.to_owned()),
            "{table} missing: {after_up:?}"
        );
    }
    migrations::run(&db.url, Direction::DownAll).await.unwrap();
    assert_eq!(
        public_tables(&db).await,
        vec!["__diesel_schema_migrations".to_owned()]
    );
    migrations::run(&db.url, Direction::Up).await.unwrap();
    assert_eq!(public_tables(&db).await, after_up);
    assert!(
        migrations::run(&db.url, Direction::Up)
            .await
            .unwrap()
            .is_empty(),
        "nothing pending"
    );
}

#[tokio::test]
async fn loading_the_demo_twice_changes_nothing_and_history_clusters_once() {
    let db = TestDatabase::new(Contents::Empty).await;
    let mut conn = db.connect().await;
    let first = signalons_import::boston::load(&mut conn, &demo_dir(), true)
        .await
        .unwrap();
    assert_eq!(first.service_areas, 26);
    assert!(first.reports_inserted > 15_000, "{first:?}");
    let digest = content_digest(&db).await;
    let second = signalons_import::boston::load(&mut conn, &demo_dir(), true)
        .await
        .unwrap();
    assert_eq!(second.reports_inserted, 0);
    assert_eq!(content_digest(&db).await, digest);
    // Every imported report has a department and an area, and closed ones explain why.
    assert_eq!(
        db.count("reports WHERE department_id IS NULL OR service_area_id IS NULL")
            .await,
        0
    );
    assert_eq!(
        db.count("reports r WHERE r.closed_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM report_events e WHERE e.report_id = r.id AND e.kind = 'status_changed')").await,
        0
    );
    assert!(db.count("reports WHERE status = 'duplicate'").await > 500);

    // Batch clustering groups the history into incidents, once.
    let incidents_before = db.count("incidents").await;
    let clustered =
        signalons_import::recluster::recluster(&mut conn, first.jurisdiction_id, "import")
            .await
            .unwrap();
    assert!(clustered.reports_moved > 1_000, "{clustered:?}");
    assert_eq!(
        db.count("incidents").await,
        incidents_before - clustered.reports_moved as i64
    );
    assert_eq!(
        db.count("report_events WHERE kind = 'merged'").await,
        clustered.reports_moved as i64
    );
    assert_eq!(
        db.count("incidents i WHERE report_count <> (SELECT count(*) FROM reports r WHERE r.incident_id = i.id)").await,
        0,
        "counts follow the reports"
    );
    assert_eq!(
        db.count("incidents i WHERE (closed_at IS NULL) <> EXISTS (SELECT 1 FROM reports r WHERE r.incident_id = i.id AND r.closed_at IS NULL)").await,
        0,
        "an incident is open exactly while one of its reports is"
    );
    assert_eq!(
        db.count("incidents WHERE (closed_at IS NULL) <> (status NOT IN ('resolved', 'duplicate', 'not_responsible', 'rejected'))").await,
        0,
        "an open incident has an open status, a closed one a closed status"
    );
    let digest = content_digest(&db).await;
    let again = signalons_import::recluster::recluster(&mut conn, first.jurisdiction_id, "import")
        .await
        .unwrap();
    assert_eq!(again.reports_moved, 0);
    assert_eq!(content_digest(&db).await, digest);
}

#[tokio::test]
async fn the_committed_contract_is_the_served_one() {
    let committed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/openapi.json"),
    )
    .expect("openapi/openapi.json is committed");
    let generated = signalons_api::openapi_json().unwrap();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `cargo run -p signalons-server -- openapi --output openapi/openapi.json`"
    );

    let app = TestApp::spawn().await;
    let (status, served) = app.get_json("/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let committed: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(served, committed);
    assert_eq!(served["openapi"], "3.1.0");
    for path in [
        "/api/v1/reports",
        "/api/v1/reports/{id}",
        "/api/v1/reports/{id}/events",
        "/api/v1/categories",
        "/readyz",
    ] {
        assert!(
            served["paths"].get(path).is_some(),
            "{path} is not documented"
        );
    }

    let docs = app.get("/api/docs/").await;
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(
        docs.text().await.unwrap().contains("swagger"),
        "the documentation page is served"
    );
}

/// OpenAPI forbids two paths that differ only in their parameters' names (`/a/{x}` and
/// `/a/{y}`): clients generated from the contract could not tell them apart.
#[test]
fn no_two_paths_of_the_contract_are_the_same_template() {
    let contract = signalons_api::openapi();
    let mut seen = std::collections::HashMap::new();
    for path in contract.paths.paths.keys() {
        let shape: String = path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "{}"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        if let Some(other) = seen.insert(shape, path.clone()) {
            panic!("{path} and {other} are the same template");
        }
    }
    assert!(seen.len() > 40, "the contract has its paths");
}
