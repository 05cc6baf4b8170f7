//! Photos through the real HTTP server: stripped of every metadata, refused when hostile,
//! hidden by staff, bounded per report even under concurrent uploads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures_util::future::join_all;
use reqwest::{
    StatusCode,
    multipart::{Form, Part},
};
use serde_json::{Value, json};
use signalons_test_support::{TestApp, photos};

/// Fenway, where potholes go to the Public Works crew of district 10A.
const FENWAY: (f64, f64) = (42.3467, -71.0972);
const DEVICE: &str = "device-of-a-resident-0001";

fn report(with_position: bool) -> Value {
    let mut report = json!({
        "category": "pothole",
        "description": "Deep hole in the right lane",
        "device_id": DEVICE,
    });
    if with_position {
        report["latitude"] = json!(FENWAY.0);
        report["longitude"] = json!(FENWAY.1);
    }
    report
}

fn photo_part(bytes: Vec<u8>, name: &str) -> Part {
    // The declared type is a lie on purpose: only the bytes count.
    Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str("image/jpeg")
        .unwrap()
}

fn form(report: &Value, photos: Vec<Vec<u8>>) -> Form {
    let mut form = Form::new().part(
        "report",
        Part::text(report.to_string())
            .mime_str("application/json")
            .unwrap(),
    );
    for (n, bytes) in photos.into_iter().enumerate() {
        form = form.part("photo", photo_part(bytes, &format!("photo{n}.jpg")));
    }
    form
}

async fn create(app: &TestApp, form: Form, key: Option<&str>) -> (StatusCode, Value) {
    let mut request = app.client.post(app.url("/api/v1/reports")).multipart(form);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// A report made with the JSON body, from [`DEVICE`].
async fn report_without_photos(app: &TestApp) -> Value {
    let response = app.post_json("/api/v1/reports", &report(true)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

fn stored_files(app: &TestApp) -> usize {
    match std::fs::read_dir(app.photo_dir.join("photos")) {
        Ok(entries) => entries.count(),
        Err(_) => 0,
    }
}

async fn fetch(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).send().await.unwrap()
}

#[tokio::test]
async fn a_photo_with_gps_places_the_report_and_comes_out_without_any_metadata() {
    let app = TestApp::spawn().await;
    // Landscape pixels that the camera says to turn a quarter clockwise.
    let original = photos::jpeg_with_exif(800, 400, Some(FENWAY), 6);
    assert!(
        exif::Reader::new()
            .read_from_container(&mut std::io::Cursor::new(&original))
            .is_ok()
    );
    let (status, created) = create(&app, form(&report(false), vec![original]), None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["location_from_photo"], true);
    assert!((created["latitude"].as_f64().unwrap() - FENWAY.0).abs() < 1e-5);
    assert!((created["longitude"].as_f64().unwrap() - FENWAY.1).abs() < 1e-5);
    assert_eq!(created["service_area"]["code"], "fenway");
    let photo = &created["photos"][0];
    assert_eq!(photo["kind"], "report");
    assert_eq!(
        (photo["width"].as_i64(), photo["height"].as_i64()),
        (Some(400), Some(800))
    );

    let response = fetch(&app, photo["url"].as_str().unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    // Kept by caches but asked again on every use: hiding it must take effect at once.
    assert_eq!(response.headers()["cache-control"], "public, no-cache");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let served = response.bytes().await.unwrap();
    let parsed = exif::Reader::new().read_from_container(&mut std::io::Cursor::new(&served));
    assert!(parsed.is_err(), "EXIF left in the photo");
    for marker in photos::jpeg_markers(&served) {
        assert!(
            !(0xE1..=0xEF).contains(&marker) && marker != 0xFE,
            "metadata segment {marker:#x} left in the photo"
        );
    }
    for needle in [&b"SignalonsCam"[..], b"Jane Resident", b"Exif"] {
        assert!(!served.windows(needle.len()).any(|w| w == needle));
    }
    let decoded = image::load_from_memory(&served).unwrap();
    assert_eq!(
        (decoded.width(), decoded.height()),
        (400, 800),
        "turned upright"
    );

    let revalidated = app
        .client
        .get(app.url(photo["url"].as_str().unwrap()))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);

    let thumbnail = fetch(&app, photo["thumbnail_url"].as_str().unwrap()).await;
    assert_eq!(thumbnail.status(), StatusCode::OK);
    let thumbnail = image::load_from_memory(&thumbnail.bytes().await.unwrap()).unwrap();
    assert_eq!(thumbnail.width().max(thumbnail.height()), 320);

    let (status, listed) = app
        .get_json(&format!("/api/v1/reports/{}/media", created["id"]))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed, json!([photo.clone()]));
}

#[tokio::test]
async fn png_and_webp_are_accepted_and_stored_as_jpeg() {
    let app = TestApp::spawn().await;
    let (status, created) = create(
        &app,
        form(
            &report(true),
            vec![photos::png(300, 200), photos::webp(200, 300)],
        ),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["location_from_photo"], false);
    for photo in created["photos"].as_array().unwrap() {
        let bytes = fetch(&app, photo["url"].as_str().unwrap())
            .await
            .bytes()
            .await
            .unwrap();
        assert_eq!(
            image::guess_format(&bytes).unwrap(),
            image::ImageFormat::Jpeg
        );
    }
    assert_eq!(stored_files(&app), 4, "two photos and their thumbnails");
}

#[tokio::test]
async fn hostile_or_broken_files_are_refused_with_their_codes_and_store_nothing() {
    let app = TestApp::spawn().await;
    let whole = photos::jpeg(640, 480);
    let truncated = whole[..whole.len() / 2].to_vec();
    let mut oversized = photos::jpeg(64, 64);
    oversized.resize(10 * 1024 * 1024 + 1, 0);
    let cases = [
        (
            photos::zip_file(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_photo_type",
        ),
        (truncated, StatusCode::UNPROCESSABLE_ENTITY, "photo_corrupt"),
        (
            photos::png_declaring(50_000, 50_000),
            StatusCode::UNPROCESSABLE_ENTITY,
            "photo_too_many_pixels",
        ),
        (oversized, StatusCode::PAYLOAD_TOO_LARGE, "photo_too_large"),
        (Vec::new(), StatusCode::UNPROCESSABLE_ENTITY, "photo_empty"),
    ];
    for (bytes, status, code) in cases {
        // With a good photo first: all or nothing.
        let (got, problem) = create(
            &app,
            form(&report(true), vec![photos::jpeg(100, 100), bytes]),
            None,
        )
        .await;
        assert_eq!(got, status, "{code}: {problem}");
        assert_eq!(problem["code"], code);
    }
    // No location at all, and none in the photo.
    let (status, problem) =
        create(&app, form(&report(false), vec![photos::jpeg(50, 50)]), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "latitude");
    // Too many photos for one report, and a part nobody asked for.
    let six = (0..6).map(|_| photos::jpeg(20, 20)).collect();
    let (status, problem) = create(&app, form(&report(true), six), None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::CONFLICT, Some("photo_limit_reached"))
    );
    let odd = form(&report(true), vec![]).part("avatar", Part::bytes(photos::jpeg(20, 20)));
    let (status, problem) = create(&app, odd, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["code"], "unknown_field");

    assert_eq!(app.db.count("reports").await, 0, "no report was stored");
    assert_eq!(app.db.count("media").await, 0);
    assert_eq!(stored_files(&app), 0, "no file was left in the store");
}

#[tokio::test]
async fn a_retried_create_with_photos_makes_one_report_with_its_photos_once() {
    let app = TestApp::spawn().await;
    let send = || form(&report(true), vec![photos::jpeg(200, 100)]);
    let (first_status, first) = create(&app, send(), Some("photo-retry-1")).await;
    let (again_status, again) = create(&app, send(), Some("photo-retry-1")).await;
    assert_eq!(
        (first_status, again_status),
        (StatusCode::CREATED, StatusCode::OK)
    );
    assert_eq!(first["id"], again["id"]);
    assert_eq!(first["photos"], again["photos"]);
    assert_eq!(app.db.count("reports").await, 1);
    assert_eq!(app.db.count("media").await, 1);
    assert_eq!(stored_files(&app), 2, "the retry's copy left the store");
}

async fn upload(
    app: &TestApp,
    report_id: i64,
    device: &str,
    photo: Vec<u8>,
) -> (StatusCode, Value) {
    upload_with_key(app, report_id, device, photo, None).await
}

async fn upload_with_key(
    app: &TestApp,
    report_id: i64,
    device: &str,
    photo: Vec<u8>,
    key: Option<&str>,
) -> (StatusCode, Value) {
    let form = Form::new()
        .text("device_id", device.to_owned())
        .part("photo", photo_part(photo, "later.jpg"));
    let mut request = app
        .client
        .post(app.url(&format!("/api/v1/reports/{report_id}/media")))
        .multipart(form);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_retried_upload_with_its_key_stores_the_photos_once() {
    let app = TestApp::spawn().await;
    let created: Value = report_without_photos(&app).await;
    let id = created["id"].as_i64().unwrap();
    let photo = photos::jpeg(160, 120);
    let (first_status, first) =
        upload_with_key(&app, id, DEVICE, photo.clone(), Some("up-1")).await;
    let (again_status, again) =
        upload_with_key(&app, id, DEVICE, photo.clone(), Some("up-1")).await;
    assert_eq!(
        (first_status, again_status),
        (StatusCode::CREATED, StatusCode::OK)
    );
    assert_eq!(first, again);
    let (status, problem) =
        upload_with_key(&app, id, DEVICE, photos::jpeg(90, 90), Some("up-1")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["code"], "idempotency_key_reused");
    let (status, _) = upload_with_key(&app, id, DEVICE, photo, Some("up-2")).await;
    assert_eq!(status, StatusCode::CREATED, "another key is another upload");
    assert_eq!(app.db.count("media").await, 2);
    assert_eq!(stored_files(&app), 4);
}

#[tokio::test]
async fn only_the_reporter_adds_photos_and_concurrent_uploads_respect_the_limit() {
    let app = TestApp::spawn().await;
    let created = report_without_photos(&app).await;
    let id = created["id"].as_i64().unwrap();

    let (status, problem) = upload(&app, id, "another-device-0002", photos::jpeg(30, 30)).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_the_reporter"))
    );
    let (status, _) = upload(&app, 999_999, DEVICE, photos::jpeg(30, 30)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let attempts = join_all((0..8).map(|_| upload(&app, id, DEVICE, photos::jpeg(120, 90)))).await;
    let created_count = attempts
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let refused: Vec<_> = attempts
        .iter()
        .filter(|(s, _)| *s != StatusCode::CREATED)
        .collect();
    assert_eq!(created_count, 5, "{attempts:?}");
    assert!(
        refused
            .iter()
            .all(|(s, p)| *s == StatusCode::CONFLICT && p["code"] == "photo_limit_reached")
    );
    assert_eq!(app.db.count("media").await, 5);
    assert_eq!(
        stored_files(&app),
        10,
        "refused uploads left nothing behind"
    );
}

/// Sends a request by hand: `head` (request line and headers), then `body` with chunked
/// transfer encoding (no declared length), reading the answer all along. Returns its status
/// and body.
async fn raw_request(app: &TestApp, head: &str, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    let (mut read, mut write) = stream.into_split();
    let reader = tokio::spawn(async move {
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            read.read_to_end(&mut answer),
        )
        .await;
        answer
    });
    let _ = write.write_all(format!("{head}\r\n\r\n").as_bytes()).await;
    if !body.is_empty() {
        for chunk in body.chunks(1024 * 1024) {
            let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
            framed.extend_from_slice(chunk);
            framed.extend_from_slice(b"\r\n");
            if write.write_all(&framed).await.is_err() {
                break;
            }
        }
        let _ = write.write_all(b"0\r\n\r\n").await;
    }
    let answer = String::from_utf8_lossy(&reader.await.unwrap()).into_owned();
    let status = answer
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn a_multipart_body_takes_each_text_part_once_and_is_capped_as_a_whole() {
    let app = TestApp::spawn().await;
    // The same text part twice, in a create and in a later upload.
    let twice = form(&report(true), vec![photos::jpeg(20, 20)]).part(
        "report",
        Part::text(report(true).to_string())
            .mime_str("application/json")
            .unwrap(),
    );
    let (status, problem) = create(&app, twice, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["code"], "repeated_field");
    assert_eq!(problem["errors"][0]["field"], "report");
    let created = report_without_photos(&app).await;
    let twice = Form::new()
        .text("device_id", DEVICE)
        .text("device_id", DEVICE)
        .part("photo", photo_part(photos::jpeg(20, 20), "later.jpg"));
    let response = app
        .client
        .post(app.url(&format!("/api/v1/reports/{}/media", created["id"])))
        .multipart(twice)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["errors"][0]["code"], "repeated_field", "{problem}");

    // Five photos of 10 MiB, the text part, and 64 KiB of framing: a declared length beyond
    // that is refused before a byte is read...
    let limit = 5 * 10 * 1024 * 1024 + 64 * 1024 + 64 * 1024;
    let multipart = "Content-Type: multipart/form-data; boundary=xyz";
    let (status, body) = raw_request(
        &app,
        &format!(
            "POST /api/v1/reports HTTP/1.1\r\nHost: test\r\n{multipart}\r\nContent-Length: {}",
            limit + 1
        ),
        b"",
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("payload_too_large"), "{body}");
    // ...and a body sent without its length is cut off there, whatever makes it heavy: here
    // parts each within their limits, with padded part headers.
    let padding = "p".repeat(60 * 1024);
    let mut heavy = Vec::new();
    for _ in 0..5 {
        heavy.extend_from_slice(
            format!(
                "--xyz\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.jpg\"\r\n\
                 X-Padding: {padding}\r\n\r\n"
            )
            .as_bytes(),
        );
        heavy.resize(heavy.len() + 10 * 1024 * 1024 - 1, b'x');
        heavy.extend_from_slice(b"\r\n");
    }
    heavy.extend_from_slice(b"--xyz--\r\n");
    assert!(heavy.len() > limit);
    let (status, body) = raw_request(
        &app,
        &format!(
            "POST /api/v1/reports/{}/media HTTP/1.1\r\nHost: test\r\n{multipart}\r\n\
             Transfer-Encoding: chunked",
            created["id"]
        ),
        &heavy,
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("payload_too_large"), "{body}");
    assert_eq!(app.db.count("media").await, 0);
    assert_eq!(stored_files(&app), 0);
}

#[tokio::test]
async fn staff_hide_a_photo_and_the_public_no_longer_sees_it() {
    let app = TestApp::spawn().await;
    let (_, created) = create(
        &app,
        form(&report(true), vec![photos::jpeg(200, 150)]),
        None,
    )
    .await;
    let photo = created["photos"][0].clone();
    let url = photo["url"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/media/{}", photo["id"]);
    let hide = json!({"hidden": true, "reason": "a face is recognisable"});

    let crew = app.staff("crew", &["PWD_D10A"]).await;
    let elsewhere = app.staff("crew", &["PWD_D03"]).await;
    let patch = |token: Option<&str>, body: &Value| {
        let mut request = app.client.patch(app.url(&path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_eq!(
        patch(None, &hide).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let foreign = patch(Some(&elsewhere.token), &hide).await.unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    let no_reason = patch(Some(&crew.token), &json!({"hidden": true, "reason": ""}))
        .await
        .unwrap();
    assert_eq!(no_reason.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        fetch(&app, &url).await.status(),
        StatusCode::OK,
        "refusals changed nothing"
    );

    let cached = fetch(&app, &url).await;
    let etag = cached.headers()["etag"].to_str().unwrap().to_owned();
    let revalidated = app
        .client
        .get(app.url(&url))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);

    let hidden = patch(Some(&crew.token), &hide).await.unwrap();
    assert_eq!(hidden.status(), StatusCode::OK);
    // A cache that kept the photo asks again before showing it: the answer is now 404.
    let revalidated = app
        .client
        .get(app.url(&url))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::NOT_FOUND);
    let hidden: Value = hidden.json().await.unwrap();
    assert!(hidden["hidden_at"].is_string());

    for public in [&url, photo["thumbnail_url"].as_str().unwrap()] {
        let response = fetch(&app, public).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "photo_not_found");
    }
    let (_, listed) = app
        .get_json(&format!("/api/v1/reports/{}/media", created["id"]))
        .await;
    assert_eq!(listed, json!([]));
    let staff_view = app
        .client
        .get(app.url(&url))
        .bearer_auth(&crew.token)
        .send()
        .await
        .unwrap();
    assert_eq!(staff_view.status(), StatusCode::OK);
    assert_eq!(staff_view.headers()["cache-control"], "private, no-store");
    let outsider = app
        .client
        .get(app.url(&url))
        .bearer_auth(&elsewhere.token)
        .send()
        .await
        .unwrap();
    assert_eq!(outsider.status(), StatusCode::NOT_FOUND);

    let audit: Value = app
        .client
        .get(app.url(&format!("/api/v1/jobs/{}/audit", created["incident_id"])))
        .bearer_auth(&crew.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit[0]["action"], "job.photo_hide");
    assert_eq!(audit[0]["detail"]["reason"], "a face is recognisable");

    let shown = patch(
        Some(&crew.token),
        &json!({"hidden": false, "reason": "blurred by mistake"}),
    )
    .await
    .unwrap();
    assert_eq!(shown.status(), StatusCode::OK);
    assert_eq!(fetch(&app, &url).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_crew_photo_of_the_work_shows_with_every_report_of_the_incident() {
    let app = TestApp::spawn().await;
    let first: Value = report_without_photos(&app).await;
    let second: Value = report_without_photos(&app).await;
    assert_eq!(
        second["incident_id"], first["incident_id"],
        "the same pothole"
    );
    let job = first["incident_id"].as_i64().unwrap();
    let crew = app.staff("crew", &["PWD_D10A"]).await;
    let elsewhere = app.staff("crew", &["PWD_D03"]).await;
    let send = |token: &str| {
        app.client
            .post(app.url(&format!("/api/v1/jobs/{job}/media")))
            .bearer_auth(token)
            .multipart(Form::new().part("photo", photo_part(photos::jpeg(300, 200), "fixed.jpg")))
            .send()
    };
    assert_eq!(
        send(&elsewhere.token).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let response = send(&crew.token).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let added: Value = response.json().await.unwrap();
    assert_eq!(added[0]["kind"], "resolution");
    for report in [&first, &second] {
        let (_, listed) = app
            .get_json(&format!("/api/v1/reports/{}/media", report["id"]))
            .await;
        assert_eq!(listed, added, "report {}", report["id"]);
    }
    let staff: Value = app
        .client
        .get(app.url(&format!("/api/v1/jobs/{job}/media")))
        .bearer_auth(&crew.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(staff[0]["id"], added[0]["id"]);
    assert_eq!(staff[0]["hidden_at"], Value::Null);
}

#[tokio::test]
async fn photo_urls_name_nothing_but_photos() {
    let app = TestApp::spawn().await;
    for path in [
        "/api/v1/media/files/..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/v1/media/files/%2e%2e%2fCargo.toml",
        "/api/v1/media/files/0123456789abcdef0123456789abcdef.jpg",
        "/api/v1/media/files/0123456789abcdef0123456789abcdef.png",
    ] {
        let response = fetch(&app, path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = app.get_json("/api/v1/reports/424242/photos").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn open311_requests_carry_the_photo_as_media_url() {
    let app = TestApp::spawn().await;
    let (_, created) = create(
        &app,
        form(&report(true), vec![photos::jpeg(200, 150)]),
        None,
    )
    .await;
    let (status, requests) = app
        .get_json(&format!("/open311/v2/requests/{}.json", created["id"]))
        .await;
    assert_eq!(status, StatusCode::OK);
    let media_url = requests[0]["media_url"].as_str().unwrap();
    assert_eq!(
        media_url,
        app.url(created["photos"][0]["url"].as_str().unwrap())
    );
    assert_eq!(
        fetch(&app, &media_url[app.address.len()..]).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_department_mail_links_the_photos() {
    let app = TestApp::spawn().await;
    let admin = app.staff("admin", &[]).await;
    let saved = app
        .client
        .put(app.url("/api/v1/admin/departments/PWD_D10A"))
        .bearer_auth(&admin.token)
        .json(
            &json!({"name": "Public Works District 10A", "channel": "email",
                      "channel_config": {"to": "d10a@pwd.example.org"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        saved.status(),
        StatusCode::OK,
        "{}",
        saved.text().await.unwrap()
    );
    let (status, created) = create(
        &app,
        form(&report(true), vec![photos::jpeg(200, 150)]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let mails = app
        .mail
        .wait_for(1, std::time::Duration::from_secs(10))
        .await;
    let body = mails[0].replace("=\r\n", "").replace("=3D", "=");
    let link = format!(
        "https://signalons.example.org{}",
        created["photos"][0]["url"].as_str().unwrap()
    );
    assert!(body.contains(&link), "{body}");
}
