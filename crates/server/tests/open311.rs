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
            "lat and long are required",
        ),
        (
            "address only",
            with(&[("address_string", "1 City Hall Sq")], &["lat", "long"]),
            "no geocoder",
        ),
        (
            "address_id only",
            with(&[("address_id", "12345")], &["lat", "long"]),
            "no geocoder",
        ),
        (
            "lat only",
            with(&[], &["long"]),
            "lat and long are required",
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
            "media_url",
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

    for bad in [
        "status=pending",
        "start_date=2015-01-01T00:00:00Z&end_date=2015-06-01T00:00:00Z",
        "start_date=yesterday",
        "page_size=5000",
        "page=0",
        "service_request_id=abc",
        "lat=42.35",
        "bbox=1,2,3",
        "bbox=-71.07,42.35,-71.05,42.36&lat=42.3&long=-71.0",
        "radius=100",
        "service_code=Bad!",
    ] {
        let (status, body) = get_json(&app, &format!("requests.json?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        only_error(&body, 400);
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
