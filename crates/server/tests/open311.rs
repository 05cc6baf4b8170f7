//! Open311 GeoReport v2 as third-party apps use it: every endpoint in JSON and XML (parsed with
//! a real XML parser), attributes, API keys, filters, and every bad request answered with the
//! spec's error arrays and writing nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use diesel::{QueryableByName, sql_types::Text};
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::Value;
use signalons_test_support::{Contents, TestApp, TestDatabase};

const BASE: &str = "/open311/v2";

async fn new_key(app: &TestApp) -> String {
    let mut conn = app.db.connect().await;
    signalons_api::api_keys::create(
        &mut conn,
        "test client",
        &[signalons_api::api_keys::OPEN311_WRITE.to_owned()],
        chrono::Utc::now(),
    )
    .await
    .unwrap()
    .key
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

async fn post(app: &TestApp, path: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url(&format!("{BASE}/{path}")))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form(pairs))
        .send()
        .await
        .unwrap()
}

async fn get_json(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let response = app.get(&format!("{BASE}/{path}")).await;
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    (status, response.json().await.unwrap())
}

async fn get_xml(app: &TestApp, path: &str) -> (StatusCode, String) {
    let response = app.get(&format!("{BASE}/{path}")).await;
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/xml"), "{content_type}");
    let text = response.text().await.unwrap();
    assert!(
        text.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"),
        "{text}"
    );
    (status, text)
}

fn children<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Vec<roxmltree::Node<'a, 'i>> {
    node.children()
        .filter(|c| c.is_element() && c.has_tag_name(name))
        .collect()
}

fn child_text(node: roxmltree::Node<'_, '_>, name: &str) -> String {
    children(node, name)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no <{name}>"))
        .text()
        .unwrap_or_default()
        .to_owned()
}

/// The one error of an error array, in JSON.
fn only_error(body: &Value, code: u16) -> String {
    let errors = body.as_array().expect("an array of errors");
    assert!(!errors.is_empty());
    for error in errors {
        assert_eq!(error["code"], code);
    }
    errors
        .iter()
        .map(|e| e["description"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join(" | ")
}

const POTHOLE: &[(&str, &str)] = &[
    ("service_code", "pothole"),
    ("lat", "42.3467"),
    ("long", "-71.0972"),
    ("description", "Deep hole in the right lane"),
    ("attribute[position]", "travel_lane"),
    ("attribute[depth_cm]", "8"),
];

async fn create(app: &TestApp, key: &str, pairs: &[(&str, &str)]) -> String {
    let mut all = pairs.to_vec();
    all.push(("api_key", key));
    let response = post(app, "requests.json", &all).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body[0]["service_request_id"].as_str().unwrap().to_owned();
    assert_eq!(body[0]["token"], id.as_str());
    id
}

#[derive(QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Text)]
    value: String,
}

async fn sql_text(app: &TestApp, sql: &str) -> String {
    let mut conn = app.db.connect().await;
    diesel::sql_query(sql)
        .get_result::<TextRow>(&mut conn)
        .await
        .unwrap()
        .value
}

async fn sql(app: &TestApp, sql: &str) {
    let mut conn = app.db.connect().await;
    diesel::sql_query(sql).execute(&mut conn).await.unwrap();
}

#[tokio::test]
async fn discovery_and_services_in_json_and_xml() {
    let app = TestApp::spawn().await;

    let (status, discovery) = get_json(&app, "discovery.json").await;
    assert_eq!(status, StatusCode::OK);
    let endpoint = &discovery["endpoints"][0];
    assert!(endpoint["url"].as_str().unwrap().ends_with("/open311/v2"));
    assert_eq!(
        endpoint["specification"],
        "http://wiki.open311.org/GeoReport_v2"
    );
    let (_, xml) = get_xml(&app, "discovery.xml").await;
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let endpoints = children(doc.root_element(), "endpoints");
    let formats = children(children(endpoints[0], "endpoint")[0], "formats");
    assert_eq!(children(formats[0], "format").len(), 2);

    let (status, services) = get_json(&app, "services.json").await;
    assert_eq!(status, StatusCode::OK);
    let services = services.as_array().unwrap();
    assert_eq!(services.len(), 35);
    let by_code = |code: &str| {
        services
            .iter()
            .find(|s| s["service_code"] == code)
            .unwrap()
            .clone()
    };
    assert_eq!(by_code("pothole")["metadata"], true);
    assert_eq!(by_code("graffiti")["metadata"], true);
    assert_eq!(by_code("damaged_sign")["metadata"], false);
    assert_eq!(by_code("pothole")["service_name"], "Pothole");
    assert_eq!(by_code("pothole")["type"], "realtime");

    let (_, xml) = get_xml(&app, "services.xml").await;
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert!(doc.root_element().has_tag_name("services"));
    let listed = children(doc.root_element(), "service");
    assert_eq!(listed.len(), 35);
    let pothole = listed
        .iter()
        .find(|s| child_text(**s, "service_code") == "pothole")
        .unwrap();
    assert_eq!(child_text(*pothole, "metadata"), "true");
    assert_eq!(child_text(*pothole, "group"), "Streets");

    // Real clients send an empty jurisdiction_id, or the known one.
    let (status, same) = get_json(&app, "services.json?jurisdiction_id=").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(same.as_array().unwrap().len(), 35);
    let (status, _) = get_json(&app, "services.json?jurisdiction_id=boston").await;
    assert_eq!(status, StatusCode::OK);
    let (status, error) = get_json(&app, "services.json?jurisdiction_id=paris").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(only_error(&error, 404).contains("paris"));
    let (status, xml) = get_xml(&app, "services.xml?jurisdiction_id=paris").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert!(doc.root_element().has_tag_name("errors"));
    let error = children(doc.root_element(), "error")[0];
    assert_eq!(child_text(error, "code"), "404");
    assert!(child_text(error, "description").contains("paris"));

    // Unknown formats and paths are 404 error arrays too.
    let (status, error) = get_json(&app, "services.html").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    only_error(&error, 404);
    let (status, _) = get_json(&app, "nothing/here.json").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn service_definitions_in_json_and_xml() {
    let app = TestApp::spawn().await;

    let (status, pothole) = get_json(&app, "services/pothole.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pothole["service_code"], "pothole");
    let attributes = pothole["attributes"].as_array().unwrap();
    assert_eq!(attributes.len(), 2);
    assert_eq!(attributes[0]["code"], "position");
    assert_eq!(attributes[0]["datatype"], "singlevaluelist");
    assert_eq!(attributes[0]["required"], true);
    assert_eq!(attributes[0]["variable"], true);
    assert_eq!(attributes[0]["order"], 1);
    assert_eq!(attributes[0]["values"][1]["key"], "bike_lane");
    assert_eq!(attributes[0]["values"][1]["name"], "In a bike lane");
    assert_eq!(attributes[1]["datatype"], "number");
    assert!(attributes[1].get("values").is_none());

    let (_, light) = get_json(&app, "services/street_light_out.json").await;
    let types: Vec<&str> = light["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["datatype"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["string", "datetime"]);

    let (_, none) = get_json(&app, "services/damaged_sign.json").await;
    assert_eq!(none["attributes"], serde_json::json!([]));

    let (status, xml) = get_xml(&app, "services/graffiti.xml").await;
    assert_eq!(status, StatusCode::OK);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    assert!(root.has_tag_name("service_definition"));
    assert_eq!(child_text(root, "service_code"), "graffiti");
    let attributes = children(children(root, "attributes")[0], "attribute");
    assert_eq!(attributes.len(), 3);
    assert_eq!(child_text(attributes[0], "datatype"), "multivaluelist");
    let values = children(children(attributes[0], "values")[0], "value");
    assert_eq!(values.len(), 4);
    assert_eq!(child_text(values[0], "key"), "wall");
    assert_eq!(child_text(attributes[1], "datatype"), "text");
    assert_eq!(child_text(attributes[2], "variable"), "false");

    let (status, error) = get_json(&app, "services/no_such_service.json").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(only_error(&error, 404).contains("no_such_service"));
    let (status, xml) = get_xml(&app, "services/no_such_service.xml").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(xml.contains("<errors><error><code>404</code>"));
}

#[tokio::test]
async fn requests_are_created_with_attributes_and_read_back_in_json_and_xml() {
    let app = TestApp::spawn().await;
    let key = new_key(&app).await;

    let mut pairs = POTHOLE.to_vec();
    pairs.extend([
        ("email", "resident@example.org"),
        ("first_name", "Ada"),
        ("last_name", "Lovelace"),
        ("phone", "617-555-0100"),
        ("device_id", "device-1"),
        ("account_id", "acct-9"),
        ("address_string", "1 Brookline Ave, Boston"),
        ("jurisdiction_id", ""),
    ]);
    let id = create(&app, &key, &pairs).await;
    assert_eq!(app.db.count("reports").await, 1);
    let stored = sql_text(
        &app,
        &format!("SELECT attributes::text AS value FROM reports WHERE id = {id}"),
    )
    .await;
    let stored: Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(
        stored,
        serde_json::json!({"position": "travel_lane", "depth_cm": 8.0})
    );
    let source = sql_text(
        &app,
        &format!("SELECT source || ' ' || contact_email AS value FROM reports WHERE id = {id}"),
    )
    .await;
    assert_eq!(source, "open311 resident@example.org");

    let response = app.get(&format!("{BASE}/requests/{id}.json")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    for private in [
        "resident@example.org",
        "Ada",
        "Lovelace",
        "555-0100",
        "device-1",
        "acct-9",
    ] {
        assert!(!text.contains(private), "{private} leaked: {text}");
    }
    let body: Value = serde_json::from_str(&text).unwrap();
    let requests = body.as_array().unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request["service_request_id"], id.as_str());
    assert_eq!(request["status"], "open");
    assert_eq!(request["status_notes"], "Report received.");
    assert_eq!(request["service_code"], "pothole");
    assert_eq!(request["service_name"], "Pothole");
    assert_eq!(request["description"], "Deep hole in the right lane");
    assert_eq!(request["address"], "1 Brookline Ave, Boston");
    assert!(
        request["agency_responsible"]
            .as_str()
            .unwrap()
            .contains("Public Works")
    );
    assert_eq!(request["lat"], 42.3467);
    assert_eq!(request["long"], -71.0972);
    let requested = request["requested_datetime"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(requested).is_ok());
    assert!(requested.ends_with("+00:00"), "{requested}");
    // Potholes have a service level: its due date is the request's expected date.
    let expected = request["expected_datetime"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(expected).unwrap()
            > chrono::DateTime::parse_from_rfc3339(requested).unwrap()
    );
    assert!(request.get("extended_attributes").is_none());

    let (status, xml) = get_xml(&app, &format!("requests/{id}.xml")).await;
    assert_eq!(status, StatusCode::OK);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert!(doc.root_element().has_tag_name("service_requests"));
    let requests = children(doc.root_element(), "request");
    assert_eq!(requests.len(), 1);
    assert_eq!(child_text(requests[0], "service_request_id"), id);
    assert_eq!(child_text(requests[0], "status"), "open");
    assert_eq!(child_text(requests[0], "lat"), "42.3467");
    assert!(!xml.contains("resident@example.org"));

    let (status, token) = get_json(&app, &format!("tokens/{id}.json")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(token[0]["service_request_id"], id.as_str());
    let (_, xml) = get_xml(&app, &format!("tokens/{id}.xml")).await;
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let request = children(doc.root_element(), "request")[0];
    assert_eq!(child_text(request, "token"), id);

    // XML create, api_key in the query string, a multi-value list and free text.
    let response = app
        .client
        .post(app.url(&format!("{BASE}/requests.xml?api_key={key}")))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("service_code", "graffiti"),
            ("lat", "42.3555"),
            ("long", "-71.0603"),
            (
                "description",
                "Tags & <b>paint</b> on the wall — ça recommence",
            ),
            ("attribute[surface][]", "wall"),
            ("attribute[surface][]", "utility_box"),
            ("attribute[details]", "About two metres wide"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let xml = response.text().await.unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let created = children(doc.root_element(), "request")[0];
    let graffiti = child_text(created, "service_request_id");
    assert!(!child_text(created, "service_notice").is_empty());
    let stored = sql_text(
        &app,
        &format!("SELECT attributes::text AS value FROM reports WHERE id = {graffiti}"),
    )
    .await;
    let stored: Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(
        stored,
        serde_json::json!({"surface": ["wall", "utility_box"], "details": "About two metres wide"})
    );
    let (_, xml) = get_xml(&app, &format!("requests/{graffiti}.xml")).await;
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let request = children(doc.root_element(), "request")[0];
    assert_eq!(
        child_text(request, "description"),
        "Tags & <b>paint</b> on the wall — ça recommence"
    );

    // A retry with the same Idempotency-Key makes no second request.
    let mut pairs = POTHOLE.to_vec();
    pairs.push(("api_key", &key));
    let mut answers = Vec::new();
    for _ in 0..2 {
        let response = app
            .client
            .post(app.url(&format!("{BASE}/requests.json")))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Idempotency-Key", "open311-retry-1")
            .body(form(&pairs))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        answers.push(body[0]["service_request_id"].clone());
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(app.db.count("reports").await, 3);

    // Unknown requests and tokens.
    for path in [
        "requests/999999.json",
        "requests/abc.json",
        "tokens/999999.json",
    ] {
        let (status, error) = get_json(&app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        only_error(&error, 404);
    }
    let (status, _) = get_xml(&app, "requests/999999.xml").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn creating_needs_a_live_key_with_the_scope() {
    let app = TestApp::spawn().await;
    let key = new_key(&app).await;

    let (status, _) = {
        let response = post(&app, "requests.json", POTHOLE).await;
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert_eq!(status, StatusCode::FORBIDDEN);

    let mut refused = Vec::new();
    let wrong_secret = format!("{}0", &key[..key.len() - 1]);
    let mangled = if wrong_secret == key {
        format!("{}1", &key[..key.len() - 1])
    } else {
        wrong_secret
    };
    for bad in [
        mangled.as_str(),
        "sgn_nothing",
        "not-a-key",
        "sgn_0123456789ab_00",
    ] {
        let mut pairs = POTHOLE.to_vec();
        pairs.push(("api_key", bad));
        refused.push(post(&app, "requests.json", &pairs).await);
    }
    // A key without the scope.
    {
        let mut conn = app.db.connect().await;
        let hash = {
            use sha2::Digest;
            sha2::Sha256::digest(b"sgn_aaaaaaaaaaaa_bbbb").to_vec()
        };
        signalons_db::api_keys::insert(
            &mut conn,
            signalons_db::api_keys::NewApiKey {
                name: "read only",
                key_prefix: "aaaaaaaaaaaa",
                secret_hash: &hash,
                scopes: vec![],
                created_at: chrono::Utc::now(),
            },
        )
        .await
        .unwrap();
    }
    let mut pairs = POTHOLE.to_vec();
    pairs.push(("api_key", "sgn_aaaaaaaaaaaa_bbbb"));
    refused.push(post(&app, "requests.json", &pairs).await);
    for response in refused {
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        only_error(&response.json::<Value>().await.unwrap(), 403);
    }
    let response = post(&app, "requests.xml", POTHOLE).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.unwrap().contains("<code>403</code>"));
    assert_eq!(app.db.count("reports").await, 0);

    // The live key works; once revoked it does not.
    create(&app, &key, POTHOLE).await;
    let prefix = key.split('_').nth(1).unwrap().to_owned();
    let mut conn = app.db.connect().await;
    assert!(
        signalons_api::api_keys::revoke(&mut conn, &prefix, chrono::Utc::now())
            .await
            .unwrap()
    );
    let mut pairs = POTHOLE.to_vec();
    pairs.push(("api_key", &key));
    let response = post(&app, "requests.json", &pairs).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.db.count("reports").await, 1);
}

#[tokio::test]
async fn bad_requests_get_400_error_arrays_and_write_nothing() {
    let app = TestApp::spawn().await;
    let key = new_key(&app).await;
    let long_text = "x".repeat(4001);
    // The cases borrow 'static text; the few built at run time live as long as the test.
    let long_name: &'static str = "A".repeat(201).leak();
    let long_media_url: &'static str =
        format!("https://photos.example.org/{}.jpg", "a".repeat(2030)).leak();
    let with = |changes: &[(&'static str, &'static str)], drop: &[&str]| {
        let mut pairs: Vec<(&str, String)> = POTHOLE
            .iter()
            .filter(|(name, _)| !drop.contains(name) && !changes.iter().any(|(n, _)| n == name))
            .map(|(n, v)| (*n, (*v).to_owned()))
            .collect();
        pairs.extend(changes.iter().map(|(n, v)| (*n, (*v).to_owned())));
        pairs
    };
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "no service_code",
            with(&[], &["service_code"]),
            "service_code is required",
        ),
        (
            "unknown service",
            with(&[("service_code", "unicorn")], &[]),
            "unicorn",
        ),
        (
            "no position",
            with(&[], &["lat", "long"]),
            "a location is required",
        ),
        (
            "an address the gazetteer does not know",
            with(&[("address_string", "999 Nowhere Lane")], &["lat", "long"]),
            "not an address this server knows",
        ),
        (
            "an unknown address_id",
            with(&[("address_id", "999999999")], &["lat", "long"]),
            "address_id `999999999` is not an address",
        ),
        (
            "an address_id that is not a number",
            with(&[("address_id", "main-street")], &["lat", "long"]),
            "address_id `main-street` is not an address",
        ),
        (
            "a street without a house number",
            with(&[("address_string", "Beacon Street")], &["lat", "long"]),
            "send a house number and street",
        ),
        (
            "an address in several neighborhoods",
            with(&[("address_string", "15 Chestnut St")], &["lat", "long"]),
            "names several places",
        ),
        (
            "lat only",
            with(&[], &["long"]),
            "lat and long are required together",
        ),
        (
            "latitude out of range",
            with(&[("lat", "91")], &[]),
            "lat must be",
        ),
        (
            "longitude not a number",
            with(&[("long", "west")], &[]),
            "long must be",
        ),
        (
            "outside every city",
            with(&[("lat", "48.8566"), ("long", "2.3522")], &[]),
            "outside",
        ),
        (
            "bad email",
            with(&[("email", "not an email")], &[]),
            "email",
        ),
        (
            "bad media_url",
            with(&[("media_url", "ftp://x/y.jpg")], &[]),
            "media_url must be an http or https URL",
        ),
        (
            "media_url with credentials",
            with(
                &[("media_url", "https://me:secret@photos.example.org/1.jpg")],
                &[],
            ),
            "media_url must not carry a user name or password",
        ),
        (
            "media_url too long",
            with(&[("media_url", long_media_url)], &[]),
            "media_url must be at most 2048 characters",
        ),
        (
            "first_name too long",
            with(&[("first_name", long_name)], &[]),
            "first_name must be at most 200 characters",
        ),
        (
            "required attribute missing",
            with(&[], &["attribute[position]"]),
            "attribute[position] is required",
        ),
        (
            "unknown attribute",
            with(&[("attribute[colour]", "red")], &[]),
            "attribute[colour]",
        ),
        (
            "not a list key",
            with(&[("attribute[position]", "roof")], &[]),
            "must be one of",
        ),
        (
            "not a number",
            with(&[("attribute[depth_cm]", "deep")], &[]),
            "must be a number",
        ),
        (
            "two values for one",
            with(&[("attribute[position][]", "curb")], &[]),
            "takes one value",
        ),
    ];
    for (name, pairs, expected) in cases {
        let mut all: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
        all.push(("api_key", &key));
        let response = post(&app, "requests.json", &all).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}");
        let body: Value = response.json().await.unwrap();
        let descriptions = only_error(&body, 400);
        assert!(descriptions.contains(expected), "{name}: {descriptions}");
    }
    // Too long a description, and every error at once.
    let mut pairs = POTHOLE.to_vec();
    pairs.retain(|(n, _)| *n != "description");
    pairs.extend([
        ("description", long_text.as_str()),
        ("api_key", &key),
        ("lat", "100"),
    ]);
    let response = post(&app, "requests.json", &pairs).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body.as_array().unwrap().len(), 2, "{body}");

    // Attribute types of the other services.
    let long_text = "t".repeat(2001);
    for (code, attribute, value, expected) in [
        (
            "street_light_out",
            "attribute[noticed_at]",
            "yesterday",
            "W3C",
        ),
        (
            "street_light_out",
            "attribute[pole_number]",
            &"9".repeat(101) as &str,
            "at most 100",
        ),
        ("graffiti", "attribute[surface][]", "roof", "not one of"),
        (
            "graffiti",
            "attribute[instructions]",
            "hello",
            "not a question",
        ),
        (
            "graffiti",
            "attribute[details]",
            long_text.as_str(),
            "at most 2000",
        ),
    ] {
        let mut pairs = vec![
            ("service_code", code),
            ("lat", "42.3555"),
            ("long", "-71.0603"),
            ("api_key", key.as_str()),
            (attribute, value),
        ];
        if code == "graffiti" && attribute != "attribute[surface][]" {
            pairs.push(("attribute[surface][]", "wall"));
        }
        let response = post(&app, "requests.json", &pairs).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{code} {attribute}"
        );
        let descriptions = only_error(&response.json().await.unwrap(), 400);
        assert!(descriptions.contains(expected), "{descriptions}");
    }

    // JSON bodies are not what the spec sends.
    let response = app
        .client
        .post(app.url(&format!("{BASE}/requests.json?api_key={key}")))
        .json(&serde_json::json!({"service_code": "pothole"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // An XML error document.
    let response = post(&app, "requests.xml", &[("api_key", &key)]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let xml = response.text().await.unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let errors = children(doc.root_element(), "error");
    assert_eq!(errors.len(), 2);
    assert_eq!(child_text(errors[0], "code"), "400");

    assert_eq!(app.db.count("reports").await, 0);
    assert_eq!(app.db.count("incidents").await, 0);
    assert_eq!(app.db.count("report_events").await, 0);
}

#[tokio::test]
async fn lists_filter_like_the_spec_and_its_extensions() {
    let app = TestApp::spawn().await;
    let key = new_key(&app).await;
    let first = create(&app, &key, POTHOLE).await;
    let mut far = POTHOLE.to_vec();
    far.retain(|(n, _)| *n != "lat" && *n != "long");
    far.extend([("lat", "42.3000"), ("long", "-71.0800")]);
    let second = create(&app, &key, &far).await;
    let light = create(
        &app,
        &key,
        &[
            ("service_code", "street_light_out"),
            ("lat", "42.3555"),
            ("long", "-71.0603"),
        ],
    )
    .await;
    sql(
        &app,
        &format!(
            "UPDATE reports SET status = 'resolved', closed_at = now(), updated_at = now() \
             WHERE id = {light}"
        ),
    )
    .await;
    sql(
        &app,
        &format!(
            "INSERT INTO report_events (report_id, kind, status_from, status_to, body, is_internal, created_at) \
             VALUES ({light}, 'status_changed', 'submitted', 'resolved', 'Lamp replaced.', false, now()), \
                    ({light}, 'internal_note', NULL, NULL, 'crew note', true, now() + interval '1 second')"
        ),
    )
    .await;

    let ids = |body: &Value| -> Vec<String> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|r| r["service_request_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, all) = get_json(&app, "requests.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&all), [light.clone(), second.clone(), first.clone()]);
    assert_eq!(all[0]["status"], "closed");
    assert_eq!(all[0]["status_notes"], "Lamp replaced.");

    let (_, potholes) = get_json(&app, "requests.json?service_code=pothole").await;
    assert_eq!(ids(&potholes), [second.clone(), first.clone()]);
    let (_, both) = get_json(&app, "requests.json?service_code=pothole,street_light_out").await;
    assert_eq!(ids(&both).len(), 3);
    let (_, closed) = get_json(&app, "requests.json?status=closed").await;
    assert_eq!(ids(&closed), [light.as_str()]);
    let (_, open) = get_json(&app, "requests.json?status=open").await;
    assert_eq!(ids(&open), [second.clone(), first.clone()]);
    let (_, either) = get_json(&app, "requests.json?status=open,closed").await;
    assert_eq!(ids(&either).len(), 3);

    // service_request_id overrides the other filters.
    let (_, chosen) = get_json(
        &app,
        &format!("requests.json?service_request_id={first},{light}&service_code=graffiti"),
    )
    .await;
    assert_eq!(ids(&chosen), [light.clone(), first.clone()]);

    let (_, page) = get_json(&app, "requests.json?page_size=1&page=2").await;
    assert_eq!(ids(&page), [second.as_str()]);
    let (_, past) = get_json(
        &app,
        "requests.json?start_date=2015-01-01T00:00:00Z&end_date=2015-03-01T00:00:00-05:00",
    )
    .await;
    assert_eq!(ids(&past).len(), 0);
    let (_, future) = get_json(&app, "requests.json?updated_after=2099-01-01T00:00:00Z").await;
    assert_eq!(ids(&future).len(), 0);
    let (_, before) = get_json(&app, "requests.json?updated_before=2099-01-01T00:00:00Z").await;
    assert_eq!(ids(&before).len(), 3);
    let (_, near) = get_json(&app, "requests.json?lat=42.3467&long=-71.0972&radius=200").await;
    assert_eq!(ids(&near), [first.as_str()]);
    let (_, boxed) = get_json(&app, "requests.json?bbox=-71.07,42.35,-71.05,42.36").await;
    assert_eq!(ids(&boxed), [light.as_str()]);

    let (_, extended) = get_json(
        &app,
        &format!("requests.json?extensions=true&service_request_id={first}"),
    )
    .await;
    let extra = &extended[0]["extended_attributes"];
    assert_eq!(extra["category"], "pothole");
    assert_eq!(extra["supporters"], 0);
    assert!(extra["incident_id"].as_str().is_some());

    let (_, xml) = get_xml(&app, "requests.xml?status=open").await;
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let listed = children(doc.root_element(), "request");
    assert_eq!(listed.len(), 2);
    assert_eq!(child_text(listed[0], "service_request_id"), second);

    let too_many_ids = format!(
        "service_request_id={}",
        (1..=1001)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    for (bad, expected) in [
        ("status=pending", "status `pending`"),
        (
            "start_date=2015-01-01T00:00:00Z&end_date=2015-06-01T00:00:00Z",
            "may not span more than 90 days",
        ),
        (
            "start_date=2026-02-01T00:00:00Z&end_date=2026-01-01T00:00:00Z",
            "start_date must not be after end_date",
        ),
        ("start_date=yesterday", "start_date must be a W3C date"),
        (
            "updated_after=yesterday",
            "updated_after must be a W3C date",
        ),
        (
            "updated_before=2026-13-01",
            "updated_before must be a W3C date",
        ),
        ("page_size=5000", "page_size must be 1 to 1000"),
        ("page=0", "page must be 1 to 10000"),
        ("page=10001", "page must be 1 to 10000"),
        ("service_request_id=abc", "`abc` is not a request id"),
        (too_many_ids.as_str(), "at most 1000 service_request_id"),
        ("lat=42.35", "lat and long go together"),
        ("bbox=1,2,3", "bbox"),
        ("bbox=-200,42.35,-71.05,42.36", "bbox"),
        (
            "bbox=-71.07,42.35,-71.05,42.36&lat=42.3&long=-71.0",
            "not both",
        ),
        ("radius=100", "radius needs lat and long"),
        ("lat=42.35&long=-71.06&radius=50001", "radius"),
        ("lat=91&long=-71.06", "latitude"),
        ("service_code=Bad!", "not a service code"),
    ] {
        let (status, body) = get_json(&app, &format!("requests.json?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        let descriptions = only_error(&body, 400);
        assert!(
            descriptions
                .to_lowercase()
                .contains(&expected.to_lowercase()),
            "{bad}: {descriptions}"
        );
    }
    let (status, body) = get_json(&app, "requests.json?jurisdiction_id=atlantis").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    only_error(&body, 404);
    let (status, xml) = get_xml(&app, "requests.xml?status=pending").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(xml.contains("<errors><error><code>400</code>"));
}

#[tokio::test]
async fn api_keys_are_made_and_revoked_from_the_command_line() {
    let db = TestDatabase::new(Contents::BostonCatalog).await;
    let signalons = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_signalons"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SIGNALONS_DATABASE_URL", &db.url)
            .env("SIGNALONS_LOG", "warn")
            .current_dir(std::env::temp_dir());
        command
    };
    let output = signalons()
        .args([
            "api-key",
            "create",
            "--name",
            "Boston app",
            "--scope",
            "open311:write",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let key = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(key.starts_with("sgn_"), "{key}");
    let prefix = key.split('_').nth(1).unwrap().to_owned();

    let mut conn = db.connect().await;
    assert!(
        signalons_api::api_keys::allows(&mut conn, &key, "open311:write")
            .await
            .unwrap()
    );
    let stored: TextRow = diesel::sql_query(
        "SELECT name || ' ' || key_prefix || ' ' || array_to_string(scopes, ',') || ' ' || encode(secret_hash, 'hex') AS value FROM api_keys",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert!(
        stored
            .value
            .starts_with(&format!("Boston app {prefix} open311:write "))
    );
    assert!(
        !stored.value.contains(&key[4 + prefix.len() + 1..]),
        "the secret is stored"
    );

    let refused = signalons()
        .args(["api-key", "create", "--name", "x", "--scope", "admin"])
        .output()
        .unwrap();
    assert!(!refused.status.success());

    let revoked = signalons()
        .args(["api-key", "revoke", "--prefix", &prefix])
        .output()
        .unwrap();
    assert!(revoked.status.success(), "{revoked:?}");
    assert!(
        !signalons_api::api_keys::allows(&mut conn, &key, "open311:write")
            .await
            .unwrap()
    );
    let again = signalons()
        .args(["api-key", "revoke", "--prefix", &prefix])
        .output()
        .unwrap();
    assert!(!again.status.success());
}

#[tokio::test]
async fn each_key_has_a_rate_limit_answered_429_with_retry_after() {
    use signalons_test_support::{Contents, TestDatabase, generous_limits};
    let limits = signalons_api::rate_limit::RateLimits {
        reports_per_minute: 2,
        ..generous_limits()
    };
    let app = TestApp::spawn_with(TestDatabase::new(Contents::BostonCatalog).await, limits).await;
    let key = new_key(&app).await;
    for _ in 0..2 {
        create(&app, &key, POTHOLE).await;
    }
    let mut request = POTHOLE.to_vec();
    request.push(("api_key", key.as_str()));
    let response = post(&app, "requests.json", &request).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait));
    let body: Value = response.json().await.unwrap();
    assert!(only_error(&body, 429).contains("too many requests"));
    assert_eq!(app.db.count("reports").await, 2);
}

// ---- addresses instead of points -----------------------------------------------------------

/// Where the gazetteer puts `address`: its id, label and position.
async fn gazetteer_entry(app: &TestApp, address: &str) -> (String, String, f64, f64) {
    let mut conn = app.db.connect().await;
    #[derive(QueryableByName)]
    struct Entry {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
        #[diesel(sql_type = Text)]
        label: String,
        #[diesel(sql_type = diesel::sql_types::Double)]
        lat: f64,
        #[diesel(sql_type = diesel::sql_types::Double)]
        long: f64,
    }
    let entry: Entry = diesel::sql_query(
        "SELECT id, label, ST_Y(location::geometry) AS lat, ST_X(location::geometry) AS long \
         FROM addresses WHERE label = $1",
    )
    .bind::<Text, _>(address)
    .get_result(&mut conn)
    .await
    .unwrap();
    (entry.id.to_string(), entry.label, entry.lat, entry.long)
}

async fn read_request(app: &TestApp, id: &str) -> Value {
    let (status, body) = get_json(app, &format!("requests/{id}.json?extensions=true")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body[0].clone()
}

#[tokio::test]
async fn requests_are_placed_by_address_string_or_address_id_from_the_gazetteer() {
    let app = TestApp::spawn().await;
    let key = new_key(&app).await;
    let (beacon_id, beacon, lat, long) =
        gazetteer_entry(&app, "33 Beacon St, Boston, MA 02108").await;

    // Spelled another way, with a typo, with the city and ZIP code: the same address.
    for spelling in [
        "33 Beacon Street, Boston, MA 02108",
        "33 BEACON ST.",
        "33 Becon Street",
    ] {
        let pairs = [
            ("service_code", "damaged_sign"),
            ("address_string", spelling),
            ("description", "Sign bent over"),
            ("api_key", key.as_str()),
        ];
        let response = post(&app, "requests.json", &pairs).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{spelling}: {body}");
        assert!(
            body[0]["service_notice"]
                .as_str()
                .unwrap()
                .contains("Located at 33 Beacon St, Boston, MA 02108"),
            "{body}"
        );
        let request = read_request(&app, body[0]["service_request_id"].as_str().unwrap()).await;
        assert_eq!(request["address"], beacon.as_str(), "{spelling}");
        assert_eq!(request["lat"], lat);
        assert_eq!(request["long"], long);
    }

    // The gazetteer's id, as GET /api/v1/geocode gives it.
    let (status, found) = app
        .get_json("/api/v1/geocode?q=33%20beacon%20street&jurisdiction=boston")
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["items"][0]["id"], beacon_id.as_str());
    let id = create(
        &app,
        &key,
        &[
            ("service_code", "damaged_sign"),
            ("address_id", &beacon_id),
            ("jurisdiction_id", "boston"),
        ],
    )
    .await;
    assert_eq!(read_request(&app, &id).await["address"], beacon.as_str());

    // A house number inside a numbered range; an intersection named in either order.
    let (_, ipswich, ipswich_lat, _) =
        gazetteer_entry(&app, "145-151 Ipswich St, Boston, MA 02215").await;
    let id = create(
        &app,
        &key,
        &[
            ("service_code", "damaged_sign"),
            ("address_string", "147 Ipswich St"),
        ],
    )
    .await;
    let request = read_request(&app, &id).await;
    assert_eq!(request["address"], ipswich.as_str());
    assert_eq!(request["lat"], ipswich_lat);
    let (_, corner, _, _) =
        gazetteer_entry(&app, "Hampden St & Melnea Cass Blvd, Roxbury, MA").await;
    for spelling in [
        "Melnea Cass Boulevard and Hampden Street",
        "INTERSECTION of Hampden St & Melnea Cass Blvd",
    ] {
        let id = create(
            &app,
            &key,
            &[
                ("service_code", "damaged_sign"),
                ("address_string", spelling),
            ],
        )
        .await;
        assert_eq!(read_request(&app, &id).await["address"], corner.as_str());
    }

    // The same house number in three neighborhoods: the neighborhood decides.
    let (_, charlestown, _, _) =
        gazetteer_entry(&app, "15 Chestnut St, Charlestown, MA 02129").await;
    let id = create(
        &app,
        &key,
        &[
            ("service_code", "damaged_sign"),
            ("address_string", "15 Chestnut Street, Charlestown"),
        ],
    )
    .await;
    assert_eq!(
        read_request(&app, &id).await["address"],
        charlestown.as_str()
    );
    let before = app.db.count("reports").await;

    // In XML too, with the spec's error document when the address is unknown or ambiguous.
    for (address, expected) in [
        ("999 Nowhere Lane", "not an address this server knows"),
        ("15 Chestnut St", "15 Chestnut St, Hyde Park, MA 02136"),
    ] {
        let response = post(
            &app,
            "requests.xml",
            &[
                ("service_code", "damaged_sign"),
                ("address_string", address),
                ("api_key", &key),
            ],
        )
        .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let xml = response.text().await.unwrap();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let error = children(doc.root_element(), "error")[0];
        assert_eq!(child_text(error, "code"), "400");
        assert!(child_text(error, "description").contains(expected), "{xml}");
    }
    // An address_id of another jurisdiction is unknown there.
    sql(
        &app,
        "INSERT INTO jurisdictions (slug, name, boundary) VALUES ('paris', 'Paris', \
         ST_Multi(ST_MakeEnvelope(2.2, 48.8, 2.4, 48.9, 4326)))",
    )
    .await;
    let response = post(
        &app,
        "requests.json",
        &[
            ("service_code", "damaged_sign"),
            ("address_id", &beacon_id),
            ("jurisdiction_id", "paris"),
            ("api_key", &key),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.db.count("reports").await, before);
}

#[tokio::test]
async fn the_geocode_endpoint_ranks_addresses_and_refuses_bad_queries() {
    let app = TestApp::spawn().await;

    let (status, found) = app
        .get_json("/api/v1/geocode?q=33%20Beacon%20Street%2C%20Boston%20MA&jurisdiction=boston")
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let items = found["items"].as_array().unwrap();
    assert!(!items.is_empty() && items.len() <= 5, "{found}");
    assert_eq!(items[0]["address"], "33 Beacon St, Boston, MA 02108");
    assert_eq!(items[0]["match"], "exact");
    assert_eq!(items[0]["jurisdiction"], "boston");
    assert!((items[0]["latitude"].as_f64().unwrap() - 42.3574).abs() < 0.001);
    assert!((items[0]["longitude"].as_f64().unwrap() + 71.0648).abs() < 0.001);
    assert!(items[1..].iter().all(|i| i["match"] != "exact"));

    // While typing: the words so far find the address first.
    let (_, typing) = app.get_json("/api/v1/geocode?q=33%20beac&limit=3").await;
    let typing = typing["items"].as_array().unwrap();
    assert_eq!(typing.len(), 3);
    assert_eq!(typing[0]["address"], "33 Beacon St, Boston, MA 02108");
    assert_eq!(typing[0]["match"], "similar");

    let (_, range) = app.get_json("/api/v1/geocode?q=147%20Ipswich%20St").await;
    assert_eq!(
        range["items"][0]["address"],
        "145-151 Ipswich St, Boston, MA 02215"
    );
    assert_eq!(range["items"][0]["match"], "house_in_range");

    let (_, nothing) = app.get_json("/api/v1/geocode?q=zzzzqqq").await;
    assert_eq!(nothing["items"], serde_json::json!([]));

    let long = "a".repeat(201);
    for (query, field, code) in [
        ("", "q", "missing_field"),
        ("q=%20%2C%20", "q", "empty"),
        (&format!("q={long}") as &str, "q", "too_long"),
        ("q=beacon&limit=0", "limit", "out_of_range"),
        ("q=beacon&limit=11", "limit", "out_of_range"),
        (
            "q=beacon&jurisdiction=atlantis",
            "jurisdiction",
            "unknown_jurisdiction",
        ),
        ("q=beacon&radius=5", "radius", "unknown_field"),
    ] {
        let response = app.get(&format!("/api/v1/geocode?{query}")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "invalid_query", "{query}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
        assert_eq!(problem["errors"][0]["code"], code, "{query}: {problem}");
    }
}

// ---- bodies, media, windows, duplicates, crews ----------------------------------------------

#[tokio::test]
async fn an_oversized_post_gets_an_open311_error_in_its_format() {
    let app = TestApp::spawn().await;
    let key = new_key(&app).await;
    let huge = "x".repeat(1024 * 1024);
    let mut pairs = POTHOLE.to_vec();
    pairs.retain(|(n, _)| *n != "description");
    pairs.extend([("description", huge.as_str()), ("api_key", &key)]);

    let response = post(&app, "requests.json", &pairs).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = response.json().await.unwrap();
    assert!(only_error(&body, 413).contains("at most 65536 bytes"));

    let response = post(&app, "requests.xml", &pairs).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let xml = response.text().await.unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let error = children(doc.root_element(), "error")[0];
    assert_eq!(child_text(error, "code"), "413");

    // Without a Content-Length (chunked), the body is still read only up to the bound.
    let address = app.address.trim_start_matches("http://").to_owned();
    let head = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let _ = stream.write_all(
            b"POST /open311/v2/requests.xml HTTP/1.1\r\nHost: localhost\r\n\
              Content-Type: application/x-www-form-urlencoded\r\n\
              Transfer-Encoding: chunked\r\n\r\n",
        );
        let chunk = format!("4000\r\n{}\r\n", "d".repeat(0x4000));
        for _ in 0..64 {
            if stream.write_all(chunk.as_bytes()).is_err() {
                break;
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap();
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(head.contains("<errors><error><code>413</code>"), "{head}");
    assert_eq!(app.db.count("reports").await, 0);
}

#[tokio::test]
async fn a_media_url_is_kept_as_an_unfetched_link_and_shown_back() {
    let app = TestApp::spawn().await;
    let key = new_key(&app).await;
    let link = "https://photos.example.org/boston/pothole-1.jpg?size=large";
    let mut pairs = POTHOLE.to_vec();
    pairs.push(("media_url", link));
    let id = create(&app, &key, &pairs).await;

    let request = read_request(&app, &id).await;
    assert_eq!(request["media_url"], link);
    assert_eq!(
        request["extended_attributes"]["media_url_kind"],
        "external_link"
    );
    let (_, xml) = get_xml(&app, &format!("requests/{id}.xml")).await;
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let request = children(doc.root_element(), "request")[0];
    assert_eq!(child_text(request, "media_url"), link);
    // Stored as given; nothing was uploaded on its behalf.
    assert_eq!(app.db.count("media").await, 0);

    // Without a link there is no media_url.
    let plain = create(&app, &key, POTHOLE).await;
    let request = read_request(&app, &plain).await;
    assert_eq!(request["media_url"], Value::Null);
    assert_eq!(
        request["extended_attributes"]["media_url_kind"],
        Value::Null
    );
}

#[tokio::test]
async fn a_second_request_at_the_same_spot_joins_the_first_incident() {
    let app = TestApp::spawn().await;
    let key = new_key(&app).await;
    let first = create(&app, &key, POTHOLE).await;
    let mut again = POTHOLE.to_vec();
    again.push(("api_key", &key));
    let response = post(&app, "requests.json", &again).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let second = body[0]["service_request_id"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert!(
        body[0]["service_notice"]
            .as_str()
            .unwrap()
            .contains("already reported"),
        "{body}"
    );
    let (first, second) = (
        read_request(&app, &first).await,
        read_request(&app, &second).await,
    );
    assert_eq!(
        first["extended_attributes"]["incident_id"],
        second["extended_attributes"]["incident_id"]
    );
    assert_eq!(app.db.count("incidents").await, 1);
    assert!(
        second["status_notes"]
            .as_str()
            .unwrap()
            .contains("already reported")
    );
}

#[tokio::test]
async fn crews_explain_in_status_notes_and_updated_after_sees_old_requests() {
    let app = TestApp::spawn().await;
    let key = new_key(&app).await;
    let id = create(&app, &key, POTHOLE).await;
    // The request was made long before the default 90-day window.
    sql(
        &app,
        &format!(
            "UPDATE reports SET created_at = now() - interval '200 days', \
             updated_at = now() - interval '200 days' WHERE id = {id}"
        ),
    )
    .await;
    let listed = |body: &Value| {
        body.as_array()
            .unwrap()
            .iter()
            .any(|r| r["service_request_id"] == id.as_str())
    };
    let (_, recent) = get_json(&app, "requests.json").await;
    assert!(!listed(&recent));
    let since = chrono::Utc::now() - chrono::Duration::minutes(1);
    let since = since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (_, changed) = get_json(&app, &format!("requests.json?updated_after={since}")).await;
    assert!(!listed(&changed));

    // A crew of the agency responsible resolves it through the API, with a public explanation.
    let request = read_request(&app, &id).await;
    let department = request["extended_attributes"]["agency_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let job = request["extended_attributes"]["incident_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let crew = app.staff("crew", &[&department]).await;
    let job_url = app.url(&format!("/api/v1/jobs/{job}"));
    let read = app
        .client
        .get(&job_url)
        .bearer_auth(&crew.token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let version = read.json::<Value>().await.unwrap()["version"]
        .as_i64()
        .unwrap();
    let changed = app
        .client
        .post(format!("{job_url}/status"))
        .bearer_auth(&crew.token)
        .header("If-Match", format!("\"{version}\""))
        .json(&serde_json::json!({
            "status": "resolved",
            "explanation": "Filled with hot asphalt this morning.",
            "internal_note": "Truck 12",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        changed.status(),
        StatusCode::OK,
        "{}",
        changed.text().await.unwrap()
    );

    let request = read_request(&app, &id).await;
    assert_eq!(request["status"], "closed");
    assert_eq!(
        request["status_notes"],
        "Filled with hot asphalt this morning."
    );
    assert_eq!(request["extended_attributes"]["status_detail"], "resolved");
    // Syncing by update time sees it, however old the request; the default window still not.
    let (status, changed) = get_json(&app, &format!("requests.json?updated_after={since}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(listed(&changed), "{changed}");
    let (_, before) = get_json(
        &app,
        &format!("requests.json?updated_before={since}&service_code=pothole"),
    )
    .await;
    assert!(!listed(&before));
    let (_, recent) = get_json(&app, "requests.json").await;
    assert!(!listed(&recent));
    // Explicit request dates still bound it.
    let (_, dated) = get_json(
        &app,
        &format!(
            "requests.json?updated_after={since}&start_date={}",
            (chrono::Utc::now() - chrono::Duration::days(30))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
    )
    .await;
    assert!(!listed(&dated));
}

#[tokio::test]
async fn extended_attributes_in_xml_and_datetime_answers() {
    let app = TestApp::spawn().await;
    let key = new_key(&app).await;
    let id = create(
        &app,
        &key,
        &[
            ("service_code", "street_light_out"),
            ("lat", "42.3555"),
            ("long", "-71.0603"),
            ("attribute[noticed_at]", "2026-11-30T20:15:00-05:00"),
            ("attribute[pole_number]", "P-1234"),
        ],
    )
    .await;
    let stored = sql_text(
        &app,
        &format!("SELECT attributes->>'noticed_at' AS value FROM reports WHERE id = {id}"),
    )
    .await;
    assert!(
        chrono::DateTime::parse_from_rfc3339(&stored).is_ok_and(|at| at.timestamp()
            == chrono::DateTime::parse_from_rfc3339("2026-12-01T01:15:00Z")
                .unwrap()
                .timestamp()),
        "{stored}"
    );

    let (status, xml) = get_xml(
        &app,
        &format!("requests.xml?extensions=true&service_request_id={id}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let request = children(doc.root_element(), "request")[0];
    let extended = children(request, "extended_attributes")[0];
    assert_eq!(child_text(extended, "category"), "street_light_out");
    assert_eq!(child_text(extended, "status_detail"), "submitted");
    assert_eq!(child_text(extended, "supporters"), "0");
    assert_eq!(child_text(extended, "jurisdiction_id"), "boston");
    assert!(!child_text(extended, "incident_id").is_empty());
    let (_, plain) = get_xml(&app, &format!("requests/{id}.xml")).await;
    assert!(!plain.contains("extended_attributes"));
}

#[tokio::test]
async fn idempotency_keys_belong_to_the_api_key_that_sent_them() {
    let app = TestApp::spawn().await;
    let (first_app, second_app) = (new_key(&app).await, new_key(&app).await);
    let send = |api_key: String, key: &'static str, description: &'static str| {
        let app = &app;
        async move {
            let mut pairs = POTHOLE.to_vec();
            pairs.retain(|(n, _)| *n != "description");
            pairs.extend([("description", description), ("api_key", &api_key)]);
            let response = app
                .client
                .post(app.url(&format!("{BASE}/requests.json")))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Idempotency-Key", key)
                .body(form(&pairs))
                .send()
                .await
                .unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, one) = send(first_app.clone(), "retry-42", "Hole by the curb").await;
    assert_eq!(status, StatusCode::OK, "{one}");
    // Another integrator choosing the same key value makes its own request.
    let (status, other) = send(second_app.clone(), "retry-42", "Hole in the bike lane").await;
    assert_eq!(status, StatusCode::OK, "{other}");
    assert_ne!(one[0]["service_request_id"], other[0]["service_request_id"]);
    // Each one's retry answers its own request.
    let (_, replay) = send(first_app.clone(), "retry-42", "Hole by the curb").await;
    assert_eq!(
        replay[0]["service_request_id"],
        one[0]["service_request_id"]
    );
    let (_, replay) = send(second_app.clone(), "retry-42", "Hole in the bike lane").await;
    assert_eq!(
        replay[0]["service_request_id"],
        other[0]["service_request_id"]
    );
    assert_eq!(app.db.count("reports").await, 2);

    // A key reused for something else, and keys that are not keys.
    let (status, reused) = send(first_app.clone(), "retry-42", "Something else").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(only_error(&reused, 400).contains("already used for a different request"));
    for bad in ["with space", "é-accent"] {
        let mut pairs = POTHOLE.to_vec();
        pairs.push(("api_key", &first_app));
        let response = app
            .client
            .post(app.url(&format!("{BASE}/requests.json")))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header(
                "Idempotency-Key",
                reqwest::header::HeaderValue::from_bytes(bad.as_bytes()).unwrap(),
            )
            .body(form(&pairs))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert!(only_error(&body, 400).contains("Idempotency-Key"));
    }
    assert_eq!(app.db.count("reports").await, 2);
}

#[tokio::test]
async fn ids_tokens_and_lists_stay_within_the_jurisdiction_asked_for() {
    let app = TestApp::spawn().await;
    let key = new_key(&app).await;
    let id = create(&app, &key, POTHOLE).await;
    sql(
        &app,
        "INSERT INTO jurisdictions (slug, name, boundary) VALUES ('paris', 'Paris', \
         ST_Multi(ST_MakeEnvelope(2.2, 48.8, 2.4, 48.9, 4326)))",
    )
    .await;
    let (status, boston) = get_json(
        &app,
        &format!("requests.json?service_request_id={id}&jurisdiction_id=boston"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(boston.as_array().unwrap().len(), 1);
    let (status, paris) = get_json(
        &app,
        &format!("requests.json?service_request_id={id}&jurisdiction_id=paris"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(paris, serde_json::json!([]));
    for path in [
        format!("requests/{id}.json?jurisdiction_id=paris"),
        format!("tokens/{id}.json?jurisdiction_id=paris"),
    ] {
        let (status, body) = get_json(&app, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let (status, _) = get_json(&app, &format!("tokens/{id}.json?jurisdiction_id=boston")).await;
    assert_eq!(status, StatusCode::OK);
}
