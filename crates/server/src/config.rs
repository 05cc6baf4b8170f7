//! Typed configuration: defaults, then an optional TOML file, then `SIGNALONS_*` variables.

use std::{net::SocketAddr, path::PathBuf};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

/// Everything the `signalons` binary can be told.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// PostgreSQL + PostGIS connection string (`SIGNALONS_DATABASE_URL`).
    pub database_url: String,
    /// Address the HTTP server listens on, as host:port (`SIGNALONS_BIND`).
    pub bind: SocketAddr,
    /// Most database connections the server holds (`SIGNALONS_DATABASE_POOL_SIZE`); 0 means
    /// two per core of this machine.
    pub database_pool_size: usize,
    /// HTTP worker threads; 0 means one per core (`SIGNALONS_HTTP_WORKERS`).
    pub http_workers: usize,
    /// Seconds between two folds of new reports into the stored map counts
    /// (`SIGNALONS_MAP_FOLD_SECONDS`); 0 turns folding off.
    pub map_fold_seconds: u64,
    /// The built PWA, served at `/` when present (`SIGNALONS_PWA_DIR`).
    pub pwa_dir: PathBuf,
    /// The map's background tiles, a URL template with `{z}`, `{x}` and `{y}`, given to the
    /// PWA and other clients by `GET /api/v1/config` (`SIGNALONS_MAP_TILES_URL`); empty means
    /// no basemap.
    pub map_tiles_url: String,
    /// What the tile provider requires to be shown with its tiles, text with `<a href>` links
    /// (`SIGNALONS_MAP_TILES_ATTRIBUTION`).
    pub map_tiles_attribution: String,
    /// The Boston demo data loaded by `seed demo` (`SIGNALONS_DEMO_DIR`).
    pub demo_dir: PathBuf,
    /// Log filter in `tracing` syntax (`SIGNALONS_LOG`).
    pub log: String,
    /// `text` for people, `json` for log collectors (`SIGNALONS_LOG_FORMAT`).
    pub log_format: LogFormat,
    /// The HS256 key signing access tokens, at least 32 bytes; the same on every replica
    /// (`SIGNALONS_JWT_SECRET`). Required to serve; never logged.
    pub jwt_secret: String,
    /// Lifetime of an access token in minutes (`SIGNALONS_ACCESS_TOKEN_MINUTES`).
    pub access_token_minutes: u64,
    /// Lifetime of a refresh token in days (`SIGNALONS_REFRESH_TOKEN_DAYS`).
    pub refresh_token_days: u64,
    /// Sign-in attempts per minute, per IP and per account (`SIGNALONS_RATE_LIMIT_LOGIN_PER_MINUTE`).
    pub rate_limit_login_per_minute: u32,
    /// New reports per minute, per IP, account or API key (`SIGNALONS_RATE_LIMIT_REPORTS_PER_MINUTE`).
    pub rate_limit_reports_per_minute: u32,
    /// "Me too" supports and follows per minute, per IP or account
    /// (`SIGNALONS_RATE_LIMIT_SUPPORTS_PER_MINUTE`).
    pub rate_limit_supports_per_minute: u32,
    /// Requests per minute an app makes with its API key to manage its webhooks, per key and IP
    /// (`SIGNALONS_RATE_LIMIT_APP_REQUESTS_PER_MINUTE`).
    pub rate_limit_app_requests_per_minute: u32,
    /// How many times the per-account rates one IP may use, as many residents share an address
    /// behind an office or a phone carrier (`SIGNALONS_RATE_LIMIT_IP_FACTOR`, at least 1).
    pub rate_limit_ip_factor: u32,
    /// Load balancers or reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For`
    /// names the client; none by default, when the header is ignored
    /// (`SIGNALONS_TRUSTED_PROXIES`, e.g. `["10.0.0.0/8"]`).
    pub trusted_proxies: Vec<String>,
    /// Where links in messages point: the address residents use (`SIGNALONS_PUBLIC_URL`).
    pub public_url: String,
    /// The SMTP server mail goes through (`SIGNALONS_SMTP_HOST`, `SIGNALONS_SMTP_PORT`).
    pub smtp_host: String,
    pub smtp_port: u16,
    /// `none`, `starttls` or `tls` (`SIGNALONS_SMTP_SECURITY`).
    pub smtp_security: SmtpSecurity,
    /// SMTP credentials, when the server wants them (`SIGNALONS_SMTP_USERNAME`,
    /// `SIGNALONS_SMTP_PASSWORD`; the password is never logged).
    pub smtp_username: Option<String>,
    pub smtp_password: Option<String>,
    /// The sender of every email (`SIGNALONS_MAIL_FROM`).
    pub mail_from: String,
    /// Attempts before a message is given up as dead (`SIGNALONS_DELIVERY_MAX_ATTEMPTS`).
    pub delivery_max_attempts: u32,
    /// The first retry's delay in seconds, doubling after (`SIGNALONS_DELIVERY_RETRY_BASE_SECONDS`).
    pub delivery_retry_base_seconds: u64,
    /// Seconds a claimed message is left to its server before another may send it again: how
    /// long a message waits after its server died mid-delivery (`SIGNALONS_DELIVERY_LEASE_SECONDS`).
    /// At least twice `delivery_timeout_seconds`.
    pub delivery_lease_seconds: u64,
    /// Seconds one attempt may take before it counts as failed: a webhook's or Open311
    /// server's answer, an SMTP exchange (`SIGNALONS_DELIVERY_TIMEOUT_SECONDS`).
    pub delivery_timeout_seconds: u64,
    /// Whether webhooks and Open311 forwards may reach loopback, private and link-local
    /// addresses (`SIGNALONS_DELIVERY_ALLOW_PRIVATE_TARGETS`); off, a URL saved through the API
    /// cannot make the server call into its own network.
    pub delivery_allow_private_targets: bool,
    /// Where photos are kept: `local` (in `photo_dir`) or `s3` (`SIGNALONS_PHOTO_STORE`).
    pub photo_store: PhotoStoreKind,
    /// The directory of the local photo store, created when missing (`SIGNALONS_PHOTO_DIR`).
    pub photo_dir: PathBuf,
    /// The S3-compatible bucket, its region and, when not AWS, its endpoint
    /// (`SIGNALONS_PHOTO_S3_BUCKET`, `SIGNALONS_PHOTO_S3_REGION`, `SIGNALONS_PHOTO_S3_ENDPOINT`).
    pub photo_s3_bucket: Option<String>,
    pub photo_s3_region: String,
    pub photo_s3_endpoint: Option<String>,
    /// Credentials of the bucket (`SIGNALONS_PHOTO_S3_ACCESS_KEY_ID`,
    /// `SIGNALONS_PHOTO_S3_SECRET_ACCESS_KEY`; the secret is never logged).
    pub photo_s3_access_key_id: Option<String>,
    pub photo_s3_secret_access_key: Option<String>,
    /// The most an uploaded photo may weigh, in bytes (`SIGNALONS_PHOTO_MAX_BYTES`).
    pub photo_max_bytes: usize,
    /// The most pixels an uploaded photo may have (`SIGNALONS_PHOTO_MAX_PIXELS`).
    pub photo_max_pixels: u64,
    /// The most photos of residents, and of crews, one report keeps (`SIGNALONS_PHOTOS_PER_REPORT`).
    pub photos_per_report: usize,
}

/// Where photos are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhotoStoreKind {
    Local,
    S3,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    None,
    Starttls,
    Tls,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// OpenStreetMap's standard tiles, the default basemap. Their usage policy asks for a valid
/// referer and moderate use: a deployment with many users points `map_tiles_url` at its own
/// tile server or a commercial provider.
const OSM_TILES_URL: &str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";
const OSM_TILES_ATTRIBUTION: &str =
    "© <a href=\"https://www.openstreetmap.org/copyright\">OpenStreetMap</a> contributors";

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "postgres://postgres@127.0.0.1:5432/signalons".to_owned(),
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_pool_size: 0,
            http_workers: 0,
            map_fold_seconds: 5,
            pwa_dir: PathBuf::from("pwa/dist"),
            map_tiles_url: OSM_TILES_URL.to_owned(),
            map_tiles_attribution: OSM_TILES_ATTRIBUTION.to_owned(),
            demo_dir: PathBuf::from("data/boston-2015"),
            log: "info".to_owned(),
            log_format: LogFormat::Text,
            jwt_secret: String::new(),
            access_token_minutes: 15,
            refresh_token_days: 30,
            rate_limit_login_per_minute: 10,
            rate_limit_reports_per_minute: 30,
            rate_limit_supports_per_minute: 60,
            rate_limit_app_requests_per_minute: 120,
            rate_limit_ip_factor: 1,
            trusted_proxies: Vec::new(),
            public_url: "http://127.0.0.1:8080".to_owned(),
            smtp_host: "127.0.0.1".to_owned(),
            smtp_port: 25,
            smtp_security: SmtpSecurity::None,
            smtp_username: None,
            smtp_password: None,
            mail_from: "Signalons <noreply@localhost>".to_owned(),
            delivery_max_attempts: 8,
            delivery_retry_base_seconds: 10,
            delivery_lease_seconds: 120,
            delivery_timeout_seconds: 10,
            delivery_allow_private_targets: false,
            photo_store: PhotoStoreKind::Local,
            photo_dir: PathBuf::from("var/photos"),
            photo_s3_bucket: None,
            photo_s3_region: "us-east-1".to_owned(),
            photo_s3_endpoint: None,
            photo_s3_access_key_id: None,
            photo_s3_secret_access_key: None,
            photo_max_bytes: 10 * 1024 * 1024,
            photo_max_pixels: 40_000_000,
            photos_per_report: 5,
        }
    }
}

impl Config {
    /// Layers the defaults, `file` (or `signalons.toml` when it exists) and the environment.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        match file {
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None => figment = figment.merge(Toml::file("signalons.toml")),
        }
        figment
            .merge(Env::prefixed("SIGNALONS_").ignore(&["config"]))
            .extract()
            .map_err(Box::new)
    }

    /// Token settings, refused when the secret is missing or short.
    pub fn auth(
        &self,
    ) -> Result<signalons_api::auth::AuthSettings, signalons_api::auth::WeakSecret> {
        signalons_api::auth::AuthSettings::new(
            self.jwt_secret.as_bytes(),
            std::time::Duration::from_secs(self.access_token_minutes * 60),
            std::time::Duration::from_secs(self.refresh_token_days * 86_400),
        )
    }

    /// What the outbox worker needs.
    pub fn delivery(&self) -> signalons_delivery::DeliverySettings {
        use std::time::Duration;
        signalons_delivery::DeliverySettings {
            smtp: signalons_delivery::SmtpSettings {
                host: self.smtp_host.clone(),
                port: self.smtp_port,
                security: match self.smtp_security {
                    SmtpSecurity::None => signalons_delivery::SmtpSecurity::None,
                    SmtpSecurity::Starttls => signalons_delivery::SmtpSecurity::StartTls,
                    SmtpSecurity::Tls => signalons_delivery::SmtpSecurity::Tls,
                },
                username: self.smtp_username.clone(),
                password: self.smtp_password.clone(),
            },
            mail_from: self.mail_from.clone(),
            public_url: self.public_url.clone(),
            max_attempts: self.delivery_max_attempts.max(1),
            retry_base: Duration::from_secs(self.delivery_retry_base_seconds.max(1)),
            lease: Duration::from_secs(self.delivery_lease_seconds),
            poll_interval: Duration::from_secs(1),
            timeout: Duration::from_secs(self.delivery_timeout_seconds.max(1)),
            targets: self.delivery_targets(),
            unsubscribe_key: signalons_domain::delivery::unsubscribe_key(
                self.jwt_secret.as_bytes(),
            ),
            status_poll_interval: Duration::from_secs(300),
        }
    }

    /// What public clients are told (`GET /api/v1/config`); refused when the tile URL is not
    /// a usable template.
    pub fn client_config(&self) -> anyhow::Result<signalons_api::client_config::ClientConfig> {
        use signalons_api::client_config::{ClientConfig, MapTiles};
        let tiles = MapTiles::new(&self.map_tiles_url, &self.map_tiles_attribution)
            .map_err(|violation| anyhow::anyhow!("map_tiles_url: {}", violation.message))?;
        Ok(ClientConfig::with_tiles(tiles.as_ref()))
    }

    /// Which addresses webhooks and Open311 forwards may reach.
    pub fn delivery_targets(&self) -> signalons_domain::delivery::Targets {
        if self.delivery_allow_private_targets {
            signalons_domain::delivery::Targets::Any
        } else {
            signalons_domain::delivery::Targets::PublicOnly
        }
    }

    /// The photo store, as configured; an S3 store needs its bucket and both credentials.
    pub fn photo_store(&self) -> anyhow::Result<signalons_media::StoreConfig> {
        use anyhow::Context;
        Ok(match self.photo_store {
            PhotoStoreKind::Local => signalons_media::StoreConfig::Local {
                dir: self.photo_dir.clone(),
            },
            PhotoStoreKind::S3 => signalons_media::StoreConfig::S3 {
                bucket: self
                    .photo_s3_bucket
                    .clone()
                    .context("photo_store = s3 needs photo_s3_bucket")?,
                region: self.photo_s3_region.clone(),
                endpoint: self.photo_s3_endpoint.clone(),
                access_key_id: self
                    .photo_s3_access_key_id
                    .clone()
                    .context("photo_store = s3 needs photo_s3_access_key_id")?,
                secret_access_key: self
                    .photo_s3_secret_access_key
                    .clone()
                    .context("photo_store = s3 needs photo_s3_secret_access_key")?,
            },
        })
    }

    /// What an upload may be.
    pub fn photo_limits(&self) -> signalons_media::PhotoLimits {
        signalons_media::PhotoLimits {
            max_bytes: self.photo_max_bytes,
            max_pixels: self.photo_max_pixels,
            ..signalons_media::PhotoLimits::default()
        }
    }

    /// The rate limits of the API.
    pub fn rate_limits(&self) -> signalons_api::rate_limit::RateLimits {
        signalons_api::rate_limit::RateLimits {
            login_per_minute: self.rate_limit_login_per_minute,
            reports_per_minute: self.rate_limit_reports_per_minute,
            supports_per_minute: self.rate_limit_supports_per_minute,
            app_requests_per_minute: self.rate_limit_app_requests_per_minute,
            ip_factor: self.rate_limit_ip_factor,
        }
    }

    /// The proxies whose `X-Forwarded-For` is believed; an entry that is no address or range is
    /// refused.
    pub fn trusted_proxies(
        &self,
    ) -> Result<signalons_api::client_ip::TrustedProxies, signalons_api::client_ip::InvalidRange>
    {
        signalons_api::client_ip::TrustedProxies::parse(&self.trusted_proxies)
    }

    /// The pool size to use: as configured, or two connections per core. More connections than
    /// the database has cores to run them only queue inside PostgreSQL: measured on 2 cores with
    /// PostgreSQL on the same machine, 16 connections gave a p99 of 150 ms to 1 s on
    /// primary-key reads where 4 gave 7 ms, for 20 % less throughput.
    pub fn pool_size(&self) -> usize {
        match self.database_pool_size {
            0 => 2 * std::thread::available_parallelism().map_or(1, usize::from),
            size => size,
        }
    }

    /// The database URL with any password replaced, fit for logs.
    pub fn redacted_database_url(&self) -> String {
        redact_password(&self.database_url)
    }
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

impl std::fmt::Debug for Config {
    // Secrets never reach logs, even through a debug print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &self.redacted_database_url())
            .field("bind", &self.bind)
            .field("database_pool_size", &self.database_pool_size)
            .field("http_workers", &self.http_workers)
            .field("map_fold_seconds", &self.map_fold_seconds)
            .field("pwa_dir", &self.pwa_dir)
            .field("map_tiles_url", &self.map_tiles_url)
            .field("map_tiles_attribution", &self.map_tiles_attribution)
            .field("demo_dir", &self.demo_dir)
            .field("log", &self.log)
            .field("log_format", &self.log_format)
            .field("jwt_secret", &"<secret>")
            .field("access_token_minutes", &self.access_token_minutes)
            .field("refresh_token_days", &self.refresh_token_days)
            .field(
                "rate_limit_login_per_minute",
                &self.rate_limit_login_per_minute,
            )
            .field(
                "rate_limit_reports_per_minute",
                &self.rate_limit_reports_per_minute,
            )
            .field(
                "rate_limit_supports_per_minute",
                &self.rate_limit_supports_per_minute,
            )
            .field(
                "rate_limit_app_requests_per_minute",
                &self.rate_limit_app_requests_per_minute,
            )
            .field("rate_limit_ip_factor", &self.rate_limit_ip_factor)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("public_url", &self.public_url)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_security", &self.smtp_security)
            .field("smtp_username", &self.smtp_username)
            .field(
                "smtp_password",
                &self.smtp_password.as_ref().map(|_| "<secret>"),
            )
            .field("mail_from", &self.mail_from)
            .field("delivery_max_attempts", &self.delivery_max_attempts)
            .field(
                "delivery_retry_base_seconds",
                &self.delivery_retry_base_seconds,
            )
            .field("delivery_lease_seconds", &self.delivery_lease_seconds)
            .field("delivery_timeout_seconds", &self.delivery_timeout_seconds)
            .field(
                "delivery_allow_private_targets",
                &self.delivery_allow_private_targets,
            )
            .field("photo_store", &self.photo_store)
            .field("photo_dir", &self.photo_dir)
            .field("photo_s3_bucket", &self.photo_s3_bucket)
            .field("photo_s3_region", &self.photo_s3_region)
            .field("photo_s3_endpoint", &self.photo_s3_endpoint)
            .field("photo_s3_access_key_id", &self.photo_s3_access_key_id)
            .field(
                "photo_s3_secret_access_key",
                &self.photo_s3_secret_access_key.as_ref().map(|_| "<secret>"),
            )
            .field("photo_max_bytes", &self.photo_max_bytes)
            .field("photo_max_pixels", &self.photo_max_pixels)
            .field("photos_per_report", &self.photos_per_report)
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_password("postgres://app:s3cret@db:5432/signalons"),
            "postgres://app:***@db:5432/signalons"
        );
        assert_eq!(
            redact_password("postgres://app@db/x"),
            "postgres://app@db/x"
        );
        let config = Config {
            database_url: "postgres://a:b@c/d".into(),
            jwt_secret: "a-very-secret-signing-key-of-32-bytes".into(),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains(":b@"));
        assert!(!format!("{config:?}").contains("very-secret"));
    }

    #[test]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("custom.toml", "bind = \"127.0.0.1:9000\"\nlog = \"debug\"")?;
            jail.set_env("SIGNALONS_LOG", "warn");
            let config = Config::load(Some(std::path::Path::new("custom.toml")))
                .map_err(|e| e.to_string())?;
            assert_eq!(config.bind.port(), 9000, "file overrides defaults");
            assert_eq!(config.log, "warn", "environment overrides the file");
            assert_eq!(config.database_pool_size, 0, "defaults fill the rest");
            Ok(())
        });
    }

    #[test]
    fn the_basemap_defaults_to_openstreetmap_and_an_empty_url_turns_it_off() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            let config = Config::load(None).map_err(|e| e.to_string())?;
            let told = config.client_config().map_err(|e| e.to_string())?;
            assert_eq!(told.map_tiles_url.as_deref(), Some(OSM_TILES_URL));
            assert!(
                told.map_tiles_attribution
                    .as_deref()
                    .is_some_and(|a| a.contains("OpenStreetMap"))
            );

            jail.set_env("SIGNALONS_MAP_TILES_URL", "");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            let told = config.client_config().map_err(|e| e.to_string())?;
            assert_eq!(told.map_tiles_url, None, "empty means no basemap");
            assert_eq!(told.map_tiles_attribution, None);

            jail.set_env(
                "SIGNALONS_MAP_TILES_URL",
                "tiles.example.org/{z}/{x}/{y}.png",
            );
            let config = Config::load(None).map_err(|e| e.to_string())?;
            let refused = config
                .client_config()
                .map(|_| ())
                .map_err(|e| e.to_string());
            assert!(
                refused.as_ref().is_err_and(|e| e.contains("map_tiles_url")),
                "{refused:?}"
            );
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("bad.toml", "bnid = \"127.0.0.1:9000\"")?;
            assert!(Config::load(Some(std::path::Path::new("bad.toml"))).is_err());
            jail.create_file("bad2.toml", "bind = \"not an address\"")?;
            assert!(Config::load(Some(std::path::Path::new("bad2.toml"))).is_err());
            Ok(())
        });
    }

    #[test]
    fn trusted_proxies_come_from_the_file_or_the_environment_and_are_checked() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.trusted_proxies().unwrap(), Default::default());
            jail.create_file("lb.toml", "trusted_proxies = [\"10.0.0.0/8\", \"::1\"]")?;
            let config =
                Config::load(Some(std::path::Path::new("lb.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.trusted_proxies, ["10.0.0.0/8", "::1"]);
            assert!(config.trusted_proxies().is_ok());
            jail.set_env("SIGNALONS_TRUSTED_PROXIES", "[\"192.0.2.0/24\"]");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.trusted_proxies, ["192.0.2.0/24"]);
            jail.set_env("SIGNALONS_TRUSTED_PROXIES", "[\"the load balancer\"]");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert!(config.trusted_proxies().is_err());
            Ok(())
        });
    }
}
