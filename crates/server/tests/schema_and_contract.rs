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
        "addresses",
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

/// Every object the migrations own in the public schema, one line each, sorted: columns with
/// their types (tables and views), indexes, constraints, functions, triggers, types and
/// extensions. Objects that belong to an extension (PostGIS's own) are left out.
async fn schema_objects(db: &TestDatabase) -> Vec<String> {
    let mut conn = db.connect().await;
    diesel::sql_query(
        "WITH extension_member AS (SELECT objid FROM pg_depend WHERE deptype = 'e') \
         SELECT line AS digest FROM ( \
           SELECT format('column %s.%s %s', c.relname, a.attname, \
                         format_type(a.atttypid, a.atttypmod)) AS line \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
            WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p') \
              AND a.attnum > 0 AND NOT a.attisdropped \
              AND c.oid NOT IN (SELECT objid FROM extension_member) \
           UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public' \
              AND to_regclass(quote_ident(tablename))::oid NOT IN (SELECT objid FROM extension_member) \
           UNION ALL SELECT format('constraint %s on %s: %s', conname, conrelid::regclass, \
                                   pg_get_constraintdef(oid)) \
             FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid <> 0 \
              AND conrelid NOT IN (SELECT objid FROM extension_member) \
           UNION ALL SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p \
            WHERE p.pronamespace = 'public'::regnamespace \
              AND p.oid NOT IN (SELECT objid FROM extension_member) \
           UNION ALL SELECT format('trigger %s on %s', tgname, tgrelid::regclass) FROM pg_trigger \
            WHERE NOT tgisinternal AND tgrelid::regclass::text NOT LIKE 'pg_%' \
           UNION ALL SELECT 'type ' || t.typname FROM pg_type t \
            WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'd', 'r') \
              AND t.oid NOT IN (SELECT objid FROM extension_member) \
           UNION ALL SELECT 'extension ' || extname FROM pg_extension \
         ) objects ORDER BY 1",
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
    let before = schema_objects(&db).await;
    migrations::run(&db.url, Direction::Up).await.unwrap();
    let after_up = schema_objects(&db).await;
    for expected in [
        "column reports.location geography(Point,4326)",
        "column incidents.location geography(Point,4326)",
        "column public_reports.id bigint",
        "extension postgis",
    ] {
        assert!(
            after_up.iter().any(|line| line == expected),
            "{expected} missing: {after_up:#?}"
        );
    }
    for located in ["reports", "incidents"] {
        assert!(
            after_up
                .iter()
                .any(|line| line.starts_with("index CREATE INDEX")
                    && line.contains(&format!("ON public.{located} USING gist (location)"))),
            "no GiST index on {located}.location"
        );
    }
    migrations::run(&db.url, Direction::DownAll).await.unwrap();
    // Down leaves the bookkeeping table and PostGIS (an operator's decision to drop), nothing
    // else that up created: no table, view, function, trigger, type or index behind.
    let after_down = schema_objects(&db).await;
    for line in after_down.iter().filter(|line| !before.contains(line)) {
        assert!(
            line.contains("__diesel_schema_migrations") || line == "extension postgis",
            "left behind by down: {line}"
        );
    }
    migrations::run(&db.url, Direction::Up).await.unwrap();
    assert_eq!(schema_objects(&db).await, after_up);
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
    assert!(first.addresses > 18_000, "{first:?}");
    assert_eq!(db.count("addresses").await, first.addresses as i64);
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

#[tokio::test]
async fn loading_the_demo_again_keeps_what_an_admin_chose() {
    let app = TestApp::spawn().await;
    let admin = app.staff("admin", &[]).await;
    let (_, preview) = app
        .get_json("/api/v1/routing?lat=42.3016&long=-71.0676&category=pothole")
        .await;
    let code = preview["department"]["code"].as_str().unwrap().to_owned();
    let demo_name = preview["department"]["name"].as_str().unwrap().to_owned();
    let response = app
        .client
        .put(app.url(&format!("/api/v1/admin/departments/{code}")))
        .bearer_auth(&admin.token)
        .json(
            &serde_json::json!({"name": "Night shift", "channel": "email",
                                  "channel_config": {"to": "night@pwd.example.org"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The admin also makes potholes urgent with a longer promise, and sends this area's
    // potholes to Transportation.
    let area = preview["service_area"]["code"].as_str().unwrap().to_owned();
    let response = app
        .client
        .put(app.url("/api/v1/admin/categories/pothole"))
        .bearer_auth(&admin.token)
        .json(&serde_json::json!({"name": "Pothole", "group": "Streets",
            "dedup_group": "road_surface", "department": "PWD", "default_priority": 1,
            "dedup_radius_m": 30, "dedup_window_days": 30, "allow_anonymous": true,
            "sla_days": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .client
        .put(app.url("/api/v1/admin/routes"))
        .bearer_auth(&admin.token)
        .json(&serde_json::json!({"category": "pothole", "area": area, "department": "BTDT"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    // `run.sh` seeds the demo at every start.
    let mut conn = app.db.connect().await;
    signalons_import::boston::load(&mut conn, &demo_dir(), false)
        .await
        .unwrap();
    #[derive(QueryableByName)]
    struct Department {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Text)]
        channel: String,
        #[diesel(sql_type = Text)]
        channel_config: String,
    }
    let stored: Department = diesel::sql_query(
        "SELECT name, channel, channel_config::text AS channel_config FROM departments WHERE code = $1",
    )
    .bind::<Text, _>(&code)
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(stored.channel, "email", "the admin's channel stays");
    assert_eq!(stored.channel_config, r#"{"to": "night@pwd.example.org"}"#);
    assert_eq!(stored.name, demo_name, "names follow the demo data");
    #[derive(QueryableByName)]
    struct Category {
        #[diesel(sql_type = diesel::sql_types::SmallInt)]
        default_priority: i16,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
        sla_days: Option<i32>,
        #[diesel(sql_type = Text)]
        name_fr: String,
    }
    let pothole: Category = diesel::sql_query(
        "SELECT default_priority, sla_days, names->>'fr' AS name_fr FROM categories WHERE code = 'pothole'",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        (pothole.default_priority, pothole.sla_days),
        (1, Some(5)),
        "the admin's priority and service level stay"
    );
    assert_eq!(
        pothole.name_fr, "Nid-de-poule",
        "names follow the demo data"
    );
    // The catalog copy a server keeps is at most a second old.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (_, preview) = app
        .get_json("/api/v1/routing?lat=42.3016&long=-71.0676&category=pothole")
        .await;
    assert_eq!(
        preview["department"]["code"], "BTDT",
        "the admin's route stays"
    );
}
