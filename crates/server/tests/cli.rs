//! The `signalons` binary as operators run it: configured by environment, migrate then serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use signalons_test_support::TestDatabase;

fn signalons(db: &TestDatabase) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_signalons"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SIGNALONS_DATABASE_URL", &db.url)
        .env("SIGNALONS_LOG", "warn")
        .current_dir(std::env::temp_dir());
    command
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn migrate_then_serve_from_environment_configuration() {
    let db = TestDatabase::blank().await;
    let status = signalons(&db).arg("migrate").status().unwrap();
    assert!(status.success());

    let port = free_port();
    let _server = KillOnDrop(
        signalons(&db)
            .arg("serve")
            .env("SIGNALONS_BIND", format!("127.0.0.1:{port}"))
            .env("SIGNALONS_HTTP_WORKERS", "1")
            .env("SIGNALONS_JWT_SECRET", "a-32-byte-secret-for-the-cli-test!")
            .env(
                "SIGNALONS_MAP_TILES_URL",
                "https://tiles.example.org/{z}/{x}/{y}.png",
            )
            .env(
                "SIGNALONS_MAP_TILES_ATTRIBUTION",
                "© <a href=\"https://example.org\">Example</a> \"tiles\"",
            )
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::new();
    let started = Instant::now();
    let ready = loop {
        match client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
        {
            Ok(response) => break response,
            Err(_) if started.elapsed() < Duration::from_secs(20) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("the server never answered: {error}"),
        }
    };
    assert_eq!(ready.status(), reqwest::StatusCode::OK);
    let landing = client
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await
        .unwrap();
    assert!(landing.text().await.unwrap().contains("Signalons"));

    // The map tiles reach clients from the server's configuration.
    let config = client
        .get(format!("http://127.0.0.1:{port}/api/v1/config"))
        .send()
        .await
        .unwrap();
    assert_eq!(config.status(), reqwest::StatusCode::OK);
    assert_eq!(
        config.headers()["cache-control"],
        "no-cache",
        "a changed setting reaches installed apps at their next start"
    );
    let config: serde_json::Value = config.json().await.unwrap();
    assert_eq!(
        config,
        serde_json::json!({
            "map_tiles_url": "https://tiles.example.org/{z}/{x}/{y}.png",
            "map_tiles_attribution": "© <a href=\"https://example.org\">Example</a> \"tiles\"",
        })
    );
}

#[tokio::test]
async fn a_map_tiles_url_that_is_not_a_template_is_refused() {
    let db = TestDatabase::blank().await;
    let output = signalons(&db)
        .arg("serve")
        .env("SIGNALONS_BIND", format!("127.0.0.1:{}", free_port()))
        .env("SIGNALONS_JWT_SECRET", "a-32-byte-secret-for-the-cli-test!")
        .env(
            "SIGNALONS_MAP_TILES_URL",
            "https://tiles.example.org/tile.png",
        )
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("map_tiles_url") && stderr.contains("{z}"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_bad_configuration_stops_with_a_clear_message() {
    let db = TestDatabase::blank().await;
    let output = signalons(&db)
        .arg("serve")
        .env("SIGNALONS_BIND", "nowhere")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid configuration"), "{stderr}");
    assert!(stderr.to_lowercase().contains("bind"), "{stderr}");
}

#[tokio::test]
async fn a_delivery_lease_shorter_than_twice_the_timeout_is_refused() {
    let db = TestDatabase::blank().await;
    let output = signalons(&db)
        .arg("serve")
        .env("SIGNALONS_BIND", format!("127.0.0.1:{}", free_port()))
        .env("SIGNALONS_JWT_SECRET", "a-32-byte-secret-for-the-cli-test!")
        .env("SIGNALONS_DELIVERY_LEASE_SECONDS", "15")
        .env("SIGNALONS_DELIVERY_TIMEOUT_SECONDS", "10")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("lease") && stderr.contains("twice"),
        "{stderr}"
    );
}

#[tokio::test]
async fn serving_without_a_token_secret_is_refused() {
    let db = TestDatabase::blank().await;
    for secret in [None, Some("too short")] {
        let mut command = signalons(&db);
        command
            .arg("serve")
            .env("SIGNALONS_BIND", format!("127.0.0.1:{}", free_port()));
        if let Some(secret) = secret {
            command.env("SIGNALONS_JWT_SECRET", secret);
        }
        let output = command.output().unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("SIGNALONS_JWT_SECRET"), "{stderr}");
        assert!(
            !stderr.contains("too short"),
            "the secret is never printed: {stderr}"
        );
    }
}

#[tokio::test]
async fn admin_create_makes_the_first_admin_who_can_sign_in() {
    use signalons_test_support::{Contents, TestApp};
    use std::io::Write;
    let db = TestDatabase::new(Contents::BostonCatalog).await;
    let create = |email: &str, password: &str| {
        let mut child = signalons(&db)
            .args([
                "admin",
                "create",
                "--email",
                email,
                "--jurisdiction",
                "boston",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let refused = create("chief@city.example.org", "short");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("password"));
    let made = create("Chief@City.example.org", "a long admin password");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let id: i64 = String::from_utf8_lossy(&made.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!(!String::from_utf8_lossy(&made.stderr).contains("a long admin password"));

    let app = TestApp::spawn_on(db).await;
    let token = app
        .login("chief@city.example.org", "a long admin password")
        .await;
    let me: serde_json::Value = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], id);
    assert_eq!(me["role"], "admin");
    assert_eq!(me["jurisdiction"], "boston");
}

#[test]
fn openapi_prints_the_contract_without_a_database() {
    let output = Command::new(env!("CARGO_BIN_EXE_signalons"))
        .arg("openapi")
        .output()
        .unwrap();
    assert!(output.status.success());
    let contract: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(contract["openapi"], "3.1.0");
}

#[tokio::test]
async fn import_areas_adds_a_district_that_wins_over_neighborhoods() {
    use signalons_test_support::{Contents, TestApp};
    let db = TestDatabase::new(Contents::BostonCatalog).await;
    let dir = std::env::temp_dir().join(format!("signalons-areas-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A small square around Fields Corner, Dorchester.
    let district = serde_json::json!({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": "Fields Corner Snow District"},
        "geometry": {"type": "Polygon", "coordinates": [[
            [-71.065, 42.295], [-71.055, 42.295], [-71.055, 42.305], [-71.065, 42.305], [-71.065, 42.295]]]}}]});
    let good = dir.join("district.geojson");
    std::fs::write(&good, district.to_string()).unwrap();
    let bad = dir.join("bad.geojson");
    std::fs::write(&bad, r#"{"type":"Feature","properties":{"name":"X"},"geometry":{"type":"Point","coordinates":[-71,42]}}"#).unwrap();

    let refused = signalons(&db)
        .args(["import-areas", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("not_a_polygon"), "{stderr}");
    assert_eq!(
        db.count("service_areas").await,
        26,
        "a refused file changes nothing"
    );

    let imported = signalons(&db)
        .args(["import-areas", good.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    assert_eq!(
        db.count("service_areas WHERE kind = 'district' AND priority = 10")
            .await,
        1
    );

    let app = TestApp::spawn_on(db).await;
    let (_, inside) = app
        .get_json("/api/v1/routing?lat=42.300&long=-71.060&category=pothole")
        .await;
    assert_eq!(
        inside["service_area"]["code"],
        "fields-corner-snow-district"
    );
    let (_, outside) = app
        .get_json("/api/v1/routing?lat=42.290&long=-71.070&category=pothole")
        .await;
    assert_eq!(outside["service_area"]["code"], "dorchester");
    std::fs::remove_dir_all(&dir).unwrap();
}
