//! Test harness: every test gets its own PostGIS database, cloned in ~0.1 s from a template
//! that was migrated (and loaded with the Boston catalog) once, and a real HTTP server on a
//! free port in front of it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU32, Ordering},
};

use diesel::{QueryableByName, sql_types::BigInt};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use signalons_api::{
    AppState, HttpSettings, auth::AuthSettings, client_ip::TrustedProxies, rate_limit::RateLimits,
};
pub use signalons_domain::delivery::Targets;

mod peers;
pub mod photos;
pub use peers::{Behaviour, MailSink, Received, WebhookReceiver};
use signalons_db::migrations::{self, Direction};
use tokio::sync::OnceCell;

/// The server the tests create databases on (any database there to connect to).
pub fn admin_url() -> String {
    std::env::var("TEST_PG_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn url_for(database: &str) -> String {
    let admin = admin_url();
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(base, _)| base);
    format!("{base}/{database}")
}

/// The repository's Boston demo data.
pub fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/boston-2015")
}

async fn admin() -> AsyncPgConnection {
    AsyncPgConnection::establish(&admin_url())
        .await
        .expect("connect to the PostgreSQL server")
}

async fn execute(conn: &mut AsyncPgConnection, sql: &str) {
    diesel::sql_query(sql)
        .execute(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn database_exists(conn: &mut AsyncPgConnection, name: &str) -> bool {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        count: i64,
    }
    let found: Count =
        diesel::sql_query("SELECT count(*) AS count FROM pg_database WHERE datname = $1")
            .bind::<diesel::sql_types::Text, _>(name)
            .get_result(conn)
            .await
            .expect("query pg_database");
    found.count > 0
}

/// What a template holds besides the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contents {
    /// Migrated, no rows.
    Empty,
    /// Migrated, with the Boston jurisdiction, neighborhoods, departments, categories and
    /// routes (no historical cases).
    BostonCatalog,
}

fn template_name(contents: Contents) -> String {
    match contents {
        Contents::Empty => format!("sig_tpl_{}_empty", migrations::FINGERPRINT),
        Contents::BostonCatalog => {
            format!(
                "sig_tpl_{}_{}",
                migrations::FINGERPRINT,
                env!("SIGNALONS_DEMO_FINGERPRINT")
            )
        }
    }
}

/// Builds the template once per server; concurrent test processes wait on an advisory lock.
async fn ensure_template(contents: Contents) -> String {
    let name = template_name(contents);
    let mut conn = admin().await;
    execute(&mut conn, "SELECT pg_advisory_lock(7165328)").await;
    if !database_exists(&mut conn, &name).await {
        let building = format!("{name}_building");
        execute(
            &mut conn,
            &format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
        )
        .await;
        execute(&mut conn, &format!("CREATE DATABASE {building}")).await;
        let url = url_for(&building);
        migrations::run(&url, Direction::Up)
            .await
            .expect("migrate the template");
        if contents == Contents::BostonCatalog {
            let mut db = AsyncPgConnection::establish(&url)
                .await
                .expect("connect to template");
            signalons_import::boston::load(&mut db, &demo_dir(), false)
                .await
                .expect("load the Boston catalog");
        }
        // Renaming last means a template that exists is always complete.
        execute(
            &mut conn,
            &format!("ALTER DATABASE {building} RENAME TO {name}"),
        )
        .await;
        drop_stale_templates(&mut conn).await;
    }
    execute(&mut conn, "SELECT pg_advisory_unlock(7165328)").await;
    name
}

/// Templates of older schemas or data pile up otherwise, one per change; the newest are kept.
async fn drop_stale_templates(conn: &mut AsyncPgConnection) {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        datname: String,
    }
    let current = [
        template_name(Contents::Empty),
        template_name(Contents::BostonCatalog),
    ];
    // Other checkouts of the project (branches, worktrees) may be testing against their own
    // templates right now: only the oldest beyond the newest dozen are dropped.
    let names: Vec<Name> = diesel::sql_query(
        "SELECT datname::text AS datname FROM pg_database WHERE datname LIKE 'sig\\_tpl\\_%' \
         ORDER BY oid DESC OFFSET 12",
    )
    .load(conn)
    .await
    .unwrap_or_default();
    for name in names.into_iter().map(|n| n.datname) {
        if !current.contains(&name) && !name.ends_with("_building") {
            execute(
                conn,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await;
        }
    }
}

static EMPTY_TEMPLATE: OnceCell<String> = OnceCell::const_new();
static BOSTON_TEMPLATE: OnceCell<String> = OnceCell::const_new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A database of its own for one test, dropped with it.
#[derive(Debug)]
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    /// A fresh copy of the template holding `contents`.
    pub async fn new(contents: Contents) -> Self {
        let cell = match contents {
            Contents::Empty => &EMPTY_TEMPLATE,
            Contents::BostonCatalog => &BOSTON_TEMPLATE,
        };
        let template = cell.get_or_init(|| ensure_template(contents)).await;
        let name = format!(
            "sig_test_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = admin().await;
        execute(
            &mut conn,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .await;
        execute(
            &mut conn,
            &format!("CREATE DATABASE {name} TEMPLATE {template}"),
        )
        .await;
        Self {
            url: url_for(&name),
            name,
        }
    }

    /// A database with no schema at all.
    pub async fn blank() -> Self {
        let name = format!(
            "sig_blank_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = admin().await;
        execute(
            &mut conn,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .await;
        execute(&mut conn, &format!("CREATE DATABASE {name}")).await;
        Self {
            url: url_for(&name),
            name,
        }
    }

    /// A direct connection, for setting up and checking what the API wrote.
    pub async fn connect(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url)
            .await
            .expect("connect to the test database")
    }

    /// Drops the database now, cutting every connection to it (to test outages).
    pub async fn drop_now(&self) {
        let mut conn = admin().await;
        execute(
            &mut conn,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        )
        .await;
    }

    /// `SELECT count(*)` of a table.
    pub async fn count(&self, table: &str) -> i64 {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            count: i64,
        }
        let mut conn = self.connect().await;
        let row: Count = diesel::sql_query(format!("SELECT count(*) AS count FROM {table}"))
            .get_result(&mut conn)
            .await
            .expect("count rows");
        row.count
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop runs outside async code: a short-lived thread with its own runtime does the I/O.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                if let Ok(mut conn) = AsyncPgConnection::establish(&admin_url()).await {
                    let _ = diesel::sql_query(sql).execute(&mut conn).await;
                }
            });
            Ok::<_, std::io::Error>(())
        })
        .join();
    }
}

/// The key tests sign tokens with.
pub const TEST_JWT_SECRET: &[u8] = b"signalons-tests-sign-with-this-32-byte-key";

/// Token settings of test servers: 15-minute access tokens.
pub fn test_auth() -> AuthSettings {
    AuthSettings::new(
        TEST_JWT_SECRET,
        std::time::Duration::from_secs(900),
        std::time::Duration::from_secs(30 * 86_400),
    )
    .expect("valid test secret")
}

/// Limits no ordinary test reaches (tests of the limits set their own).
pub fn generous_limits() -> RateLimits {
    RateLimits {
        login_per_minute: 10_000,
        reports_per_minute: 10_000,
        supports_per_minute: 10_000,
        app_requests_per_minute: 10_000,
        ip_factor: 1,
    }
}

/// What a test server may reach, and whom it believes about its clients' addresses.
#[derive(Debug, Clone)]
pub struct Network {
    /// Where webhooks and Open311 forwards may go (any address by default: test receivers
    /// listen on 127.0.0.1).
    pub targets: Targets,
    /// Load balancers whose `X-Forwarded-For` is believed (none by default).
    pub proxies: TrustedProxies,
}

impl Default for Network {
    fn default() -> Self {
        Self {
            targets: Targets::Any,
            proxies: TrustedProxies::default(),
        }
    }
}

/// The real application on a free port of 127.0.0.1, over its own database.
#[derive(Debug)]
pub struct TestApp {
    pub address: String,
    pub db: TestDatabase,
    pub client: reqwest::Client,
    /// Where this server's outbox worker sends mail.
    pub mail: MailSink,
    /// The local photo store of this server (removed when the app is dropped).
    pub photo_dir: PathBuf,
    handle: actix_web::dev::ServerHandle,
    delivery: tokio::task::JoinHandle<()>,
    targets: Targets,
}

impl TestApp {
    /// A server over a copy of the Boston catalog.
    pub async fn spawn() -> Self {
        Self::spawn_on(TestDatabase::new(Contents::BostonCatalog).await).await
    }

    /// A server over `db`.
    pub async fn spawn_on(db: TestDatabase) -> Self {
        Self::spawn_with(db, generous_limits()).await
    }

    /// A server over `db` with these rate limits.
    pub async fn spawn_with(db: TestDatabase, limits: RateLimits) -> Self {
        Self::spawn_in(db, limits, Network::default()).await
    }

    /// A server over `db` whose webhooks and Open311 forwards may reach `targets` (test servers
    /// reach any address, as their receivers listen on 127.0.0.1).
    pub async fn spawn_targeting(db: TestDatabase, limits: RateLimits, targets: Targets) -> Self {
        let network = Network {
            targets,
            ..Network::default()
        };
        Self::spawn_in(db, limits, network).await
    }

    /// A server over `db` with these rate limits, believing `X-Forwarded-For` from `proxies`
    /// (as behind a load balancer).
    pub async fn spawn_behind(
        db: TestDatabase,
        limits: RateLimits,
        proxies: TrustedProxies,
    ) -> Self {
        let network = Network {
            proxies,
            ..Network::default()
        };
        Self::spawn_in(db, limits, network).await
    }

    async fn spawn_in(db: TestDatabase, limits: RateLimits, network: Network) -> Self {
        let mail = MailSink::start().await;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let photo_dir = std::env::temp_dir().join(format!(
            "signalons-test-photos-{}-{n}-{}",
            std::process::id(),
            signalons_media::new_storage_key()
        ));
        let targets = network.targets;
        let (address, handle, delivery) = start_server(&db.url, limits, network, &mail, &photo_dir);
        let client = reqwest::Client::builder().build().expect("http client");
        Self {
            address,
            db,
            client,
            mail,
            photo_dir,
            handle,
            delivery,
            targets,
        }
    }

    /// Another server over the same database, as a second replica behind a load balancer
    /// (with its own outbox worker, sending mail to the same sink).
    pub fn replica(&self) -> Replica {
        let (address, handle, delivery) = start_server(
            &self.db.url,
            generous_limits(),
            Network {
                targets: self.targets,
                proxies: TrustedProxies::default(),
            },
            &self.mail,
            &self.photo_dir,
        );
        Replica {
            address,
            handle,
            delivery,
        }
    }

    /// Creates a staff account directly, as `signalons admin create` does.
    pub async fn staff(&self, role: &str, departments: &[&str]) -> Staff {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let email = format!("{role}{n}@city.example.org");
        let password = format!("{role}-password-{n}");
        let mut conn = self.db.connect().await;
        let boston = signalons_db::catalog::jurisdiction_id(&mut conn, "boston")
            .await
            .expect("query")
            .expect("the Boston jurisdiction");
        let request = signalons_api::admin::NewStaff {
            email: email.clone(),
            password: password.clone(),
            role: role.parse().expect("a role"),
            display_name: Some(format!("{role} {n}")),
            departments: departments.iter().map(|d| (*d).to_owned()).collect(),
        };
        let id = signalons_api::admin::create_staff_account(&mut conn, boston, &request, None)
            .await
            .expect("create staff");
        let token = self.login(&email, &password).await;
        Staff {
            id,
            email,
            password,
            token,
        }
    }

    /// Signs in and returns the access token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let response = self
            .post_json(
                "/api/v1/auth/login",
                &serde_json::json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(response.status(), reqwest::StatusCode::OK, "login {email}");
        let session: serde_json::Value = response.json().await.expect("session");
        session["access_token"]
            .as_str()
            .expect("access token")
            .to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_json(&self, path: &str) -> (reqwest::StatusCode, serde_json::Value) {
        let response = self.get(path).await;
        let status = response.status();
        (status, response.json().await.expect("JSON body"))
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST")
    }
}

/// A signed-in staff member of Boston.
#[derive(Debug, Clone)]
pub struct Staff {
    pub id: i64,
    pub email: String,
    pub password: String,
    pub token: String,
}

/// A second server over a test app's database.
#[derive(Debug)]
pub struct Replica {
    pub address: String,
    handle: actix_web::dev::ServerHandle,
    delivery: tokio::task::JoinHandle<()>,
}

impl Replica {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.delivery.abort();
        drop(self.handle.stop(false));
    }
}

/// How test servers deliver: fast retries, a 2-second timeout and a 4-second lease (twice
/// the timeout, as every server must have), so failures play out in seconds.
pub fn test_delivery(mail: &MailSink) -> signalons_delivery::DeliverySettings {
    use std::time::Duration;
    signalons_delivery::DeliverySettings {
        smtp: signalons_delivery::SmtpSettings {
            host: "127.0.0.1".to_owned(),
            port: mail.port,
            security: signalons_delivery::SmtpSecurity::None,
            username: None,
            password: None,
        },
        mail_from: "Signalons Boston <noreply@boston.example.org>".to_owned(),
        public_url: "https://signalons.example.org".to_owned(),
        max_attempts: 4,
        retry_base: Duration::from_millis(200),
        lease: Duration::from_secs(4),
        poll_interval: Duration::from_millis(100),
        timeout: Duration::from_secs(2),
        unsubscribe_key: signalons_domain::delivery::unsubscribe_key(TEST_JWT_SECRET),
        status_poll_interval: Duration::from_millis(300),
        targets: Targets::Any,
    }
}

/// The photo service of test servers: the default limits over a local store in `dir`.
pub fn test_photos(dir: &std::path::Path) -> signalons_api::photos::PhotoService {
    let store = signalons_media::PhotoStore::open(&signalons_media::StoreConfig::Local {
        dir: dir.to_owned(),
    })
    .expect("photo store");
    signalons_api::photos::PhotoService::new(store, signalons_media::PhotoLimits::default(), 5)
}

fn start_server(
    url: &str,
    limits: RateLimits,
    network: Network,
    mail: &MailSink,
    photo_dir: &std::path::Path,
) -> (
    String,
    actix_web::dev::ServerHandle,
    tokio::task::JoinHandle<()>,
) {
    let pool = signalons_db::build_pool(url, 8).expect("build pool");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let address = format!("http://{}", listener.local_addr().expect("local address"));
    let settings = HttpSettings {
        pwa_dir: None,
        workers: Some(2),
        listen_url: Some(url.to_owned()),
    };
    let delivery = signalons_delivery::Worker::new(
        pool.clone(),
        signalons_delivery::DeliverySettings {
            targets: network.targets,
            ..test_delivery(mail)
        },
    )
    .expect("delivery settings")
    .spawn();
    let state = AppState::new(pool, test_auth(), limits, test_photos(photo_dir))
        .with_delivery_targets(network.targets)
        .with_trusted_proxies(network.proxies);
    let server = signalons_api::serve(listener, state, settings).expect("serve");
    let handle = server.handle();
    tokio::spawn(server);
    (address, handle, delivery)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.delivery.abort();
        // Stop accepting; the runtime ending takes the rest down.
        drop(self.handle.stop(false));
        let _ = std::fs::remove_dir_all(&self.photo_dir);
    }
}
