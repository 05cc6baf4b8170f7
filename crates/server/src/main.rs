//! `signalons`: run the server and operate its database.

mod config;
mod eval_dedup;

use std::{net::TcpListener, path::PathBuf, time::Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use signalons_api::{AppState, HttpSettings};
use signalons_db::migrations::{self, Direction};
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

/// Signalons: residents report problems in public space; the city fixes them in the open.
#[derive(Debug, Parser)]
#[command(name = "signalons", version)]
struct Cli {
    /// A TOML configuration file (default: ./signalons.toml when it exists). `SIGNALONS_*`
    /// variables override it.
    #[arg(long, global = true, env = "SIGNALONS_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API, its documentation and the PWA.
    Serve,
    /// Apply pending database migrations.
    Migrate {
        /// Revert every migration instead (drops all Signalons tables).
        #[arg(long)]
        down_all: bool,
    },
    /// Load data.
    Seed {
        #[command(subcommand)]
        what: Seed,
    },
    /// Create or update service areas from GeoJSON files (Polygon/MultiPolygon features in
    /// WGS 84). Every area of a file is checked before any is stored.
    ImportAreas {
        /// GeoJSON files (FeatureCollection, Feature or bare geometry).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The jurisdiction's slug.
        #[arg(long, default_value = "boston")]
        jurisdiction: String,
        /// What the areas are: neighborhood, district, road_network...
        #[arg(long, default_value = "district")]
        kind: String,
        /// Among overlapping areas the highest priority wins.
        #[arg(long, default_value_t = 10)]
        priority: i32,
        /// The feature property holding each area's name.
        #[arg(long, default_value = "name")]
        name_property: String,
    },
    /// Group imported reports into incidents in one batch, by the rule a live submission
    /// follows (each report joins the open incident it matches confidently). Idempotent.
    Recluster {
        /// The jurisdiction's slug.
        #[arg(long, default_value = "boston")]
        jurisdiction: String,
    },
    /// Replay Boston 311 cases through the submission path and measure duplicate detection
    /// against the crews' labels (uses a scratch database on the configured server).
    EvalDedup {
        /// A Boston 311 CSV export (default: the demo's cases).
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Also print the figures of each category and the labelled pairs whose original was
        /// not among the first three.
        #[arg(long)]
        detail: bool,
    },
    /// Manage staff accounts from the command line (the first admin of a city).
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Manage the API keys of third-party apps (Open311 clients).
    ApiKey {
        #[command(subcommand)]
        action: ApiKeyAction,
    },
    /// Print the OpenAPI 3.1 contract as JSON.
    Openapi {
        /// Write it to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum AdminAction {
    /// Create a staff account (an admin by default). The password is read from the first line
    /// of standard input, or from SIGNALONS_ADMIN_PASSWORD.
    Create {
        #[arg(long)]
        email: String,
        /// The city the account works for.
        #[arg(long, default_value = "boston")]
        jurisdiction: String,
        /// admin, dispatcher or crew.
        #[arg(long, default_value = "admin")]
        role: String,
        #[arg(long, default_value = "")]
        name: String,
        /// Department codes (repeatable; crews and dispatchers need one).
        #[arg(long = "department")]
        departments: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ApiKeyAction {
    /// Make a key and print it once: only its SHA-256 digest is stored.
    Create {
        /// Who the key is for (an app, an integrator).
        #[arg(long)]
        name: String,
        /// What the key may do (repeatable).
        #[arg(long = "scope", default_value = signalons_api::api_keys::OPEN311_WRITE)]
        scopes: Vec<String>,
    },
    /// Revoke the key whose public prefix (the part after `sgn_`) is given.
    Revoke {
        #[arg(long)]
        prefix: String,
    },
}

#[derive(Debug, Subcommand)]
enum Seed {
    /// The Boston 2015 demo city: catalog, neighborhoods and historical cases. Idempotent.
    Demo {
        /// Load the catalog and neighborhoods only, not the 2015 cases.
        #[arg(long)]
        without_history: bool,
    },
    /// Synthetic reports drawn from the Boston demo's cases (positions moved by a few tens of
    /// metres, times spread at Boston's rate), for load tests at city scale. Loads the Boston
    /// catalog if missing; never changes existing rows. Loaded with COPY; prints the rate.
    Synthetic {
        /// How many reports the jurisdiction should hold in all (demo's included); nothing is
        /// added when it already holds as many. With `--add`, how many to add.
        #[arg(long)]
        reports: u64,
        /// Add `--reports` more, whatever is there already.
        #[arg(long)]
        add: bool,
        /// Seed of the random draws (the same seed and count give the same reports).
        #[arg(long, default_value_t = 2015)]
        seed: u64,
    },
}

fn init_logging(config: &Config, command: &Command) {
    let mut directives = config.log.clone();
    if matches!(command, Command::EvalDedup { .. }) {
        // A replay submits tens of thousands of reports: one log line each would bury the figures.
        directives.push_str(",signalons_api::submission=warn");
    }
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Openapi { output } = &cli.command {
        let json = signalons_api::openapi_json()?;
        return match output {
            Some(path) => {
                std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))
            }
            None => {
                use std::io::Write;
                std::io::stdout()
                    .write_all(json.as_bytes())
                    .context("writing to stdout")
            }
        };
    }
    let config = Config::load(cli.config.as_deref()).context("invalid configuration")?;
    init_logging(&config, &cli.command);
    // A multi-thread runtime: the migration harness blocks and must not run on actix's
    // current-thread one; actix's server runs fine on it too.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli.command, config))
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate { down_all } => {
            let direction = if down_all {
                Direction::DownAll
            } else {
                Direction::Up
            };
            let versions = migrations::run(&config.database_url, direction)
                .await
                .map_err(|e| anyhow::anyhow!(e))
                .with_context(|| format!("migrating {}", config.redacted_database_url()))?;
            tracing::info!(?direction, ?versions, "migrations done");
            Ok(())
        }
        Command::Seed {
            what: Seed::Demo { without_history },
        } => {
            let started = Instant::now();
            let pool = signalons_db::build_pool(&config.database_url, 1)?;
            let mut conn = pool.get().await.context("connecting to the database")?;
            let summary =
                signalons_import::boston::load(&mut conn, &config.demo_dir, !without_history)
                    .await
                    .with_context(|| {
                        format!("loading the demo from {}", config.demo_dir.display())
                    })?;
            tracing::info!(
                ?summary,
                seconds = started.elapsed().as_secs_f64(),
                "Boston demo loaded"
            );
            Ok(())
        }
        Command::Seed {
            what: Seed::Synthetic { reports, add, seed },
        } => {
            let pool = signalons_db::build_pool(&config.database_url, 1)?;
            let mut conn = pool.get().await.context("connecting to the database")?;
            let mut bulk = signalons_db::bulk::connect(&config.database_url)
                .await
                .context("connecting to the database for COPY")?;
            let amount = if add {
                signalons_import::synthetic::Amount::Add(reports)
            } else {
                signalons_import::synthetic::Amount::Total(reports)
            };
            let summary = signalons_import::synthetic::load(
                &mut conn,
                &mut bulk,
                &config.demo_dir,
                amount,
                seed,
            )
            .await
            .context("loading synthetic reports")?;
            tracing::info!(
                before = summary.before,
                added = summary.added,
                seconds = format!("{:.1}", summary.seconds),
                reports_per_second = summary.reports_per_second.round(),
                "synthetic reports loaded"
            );
            Ok(())
        }
        Command::ImportAreas {
            files,
            jurisdiction,
            kind,
            priority,
            name_property,
        } => {
            let pool = signalons_db::build_pool(&config.database_url, 1)?;
            let mut conn = pool.get().await.context("connecting to the database")?;
            let id = signalons_db::catalog::jurisdiction_id(&mut conn, &jurisdiction)
                .await?
                .with_context(|| format!("no jurisdiction `{jurisdiction}`"))?;
            let options = signalons_import::areas::AreaOptions {
                kind: &kind,
                priority,
                name_property: &name_property,
            };
            for file in &files {
                let count =
                    signalons_import::areas::import_file(&mut conn, id, file, &options).await?;
                tracing::info!(file = %file.display(), areas = count, "service areas imported");
            }
            Ok(())
        }
        Command::Recluster { jurisdiction } => {
            let started = Instant::now();
            let pool = signalons_db::build_pool(&config.database_url, 1)?;
            let mut conn = pool.get().await.context("connecting to the database")?;
            let id = signalons_db::catalog::jurisdiction_id(&mut conn, &jurisdiction)
                .await?
                .with_context(|| format!("no jurisdiction `{jurisdiction}`"))?;
            let summary = signalons_import::recluster::recluster(&mut conn, id, "import").await?;
            tracing::info!(
                ?summary,
                seconds = started.elapsed().as_secs_f64(),
                "reclustered"
            );
            Ok(())
        }
        Command::EvalDedup { csv, detail } => {
            let csv =
                csv.unwrap_or_else(|| config.demo_dir.join(signalons_import::boston::CASES_FILE));
            let figures = eval_dedup::run(&config.database_url, &config.demo_dir, &csv).await?;
            use std::io::Write;
            std::io::stdout()
                .write_all(figures.render(detail).as_bytes())
                .context("writing the figures")
        }
        Command::ApiKey { action } => api_key(&config, action).await,
        Command::Admin { action } => admin(&config, action).await,
        Command::Openapi { .. } => Ok(()),
    }
}

async fn api_key(config: &Config, action: ApiKeyAction) -> anyhow::Result<()> {
    use std::io::Write;
    let pool = signalons_db::build_pool(&config.database_url, 1)?;
    let mut conn = pool.get().await.context("connecting to the database")?;
    match action {
        ApiKeyAction::Create { name, scopes } => {
            let created =
                signalons_api::api_keys::create(&mut conn, &name, &scopes, chrono::Utc::now())
                    .await?;
            tracing::info!(id = created.id, prefix = %created.prefix, name = %name, ?scopes, "API key created");
            std::io::stdout()
                .write_all(format!("{}\n", created.key).as_bytes())
                .context("writing the key")
        }
        ApiKeyAction::Revoke { prefix } => {
            if signalons_api::api_keys::revoke(&mut conn, &prefix, chrono::Utc::now()).await? {
                tracing::info!(%prefix, "API key revoked");
                Ok(())
            } else {
                anyhow::bail!("no live API key with prefix `{prefix}`")
            }
        }
    }
}

async fn admin(config: &Config, action: AdminAction) -> anyhow::Result<()> {
    let AdminAction::Create {
        email,
        jurisdiction,
        role,
        name,
        departments,
    } = action;
    let password = match std::env::var("SIGNALONS_ADMIN_PASSWORD") {
        Ok(password) => password,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            line.trim_end_matches(['\n', '\r']).to_owned()
        }
    };
    let role = role
        .parse()
        .map_err(|e: signalons_domain::Violation| anyhow::anyhow!(e.message))?;
    let pool = signalons_db::build_pool(&config.database_url, 1)?;
    let mut conn = pool.get().await.context("connecting to the database")?;
    let jurisdiction_id = signalons_db::catalog::jurisdiction_id(&mut conn, &jurisdiction)
        .await?
        .with_context(|| format!("no jurisdiction `{jurisdiction}`"))?;
    let request = signalons_api::admin::NewStaff {
        email,
        password,
        role,
        display_name: Some(name),
        departments,
    };
    match signalons_api::admin::create_staff_account(&mut conn, jurisdiction_id, &request, None)
        .await
    {
        Ok(id) => {
            use std::io::Write;
            std::io::stdout()
                .write_all(format!("{id}\n").as_bytes())
                .context("writing the id")
        }
        Err(signalons_api::admin::StaffError::Invalid(errors)) => {
            let reasons: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.detail))
                .collect();
            anyhow::bail!("refused: {}", reasons.join("; "))
        }
        Err(error) => Err(anyhow::anyhow!(error.to_string())),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let auth = config
        .auth()
        .context("set SIGNALONS_JWT_SECRET (or jwt_secret in the configuration file)")?;
    let client_config = config.client_config()?;
    let pool = signalons_db::build_pool(&config.database_url, config.pool_size())?;
    let listener = TcpListener::bind(config.bind)
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    tracing::info!(
        address = %config.bind,
        database = %config.redacted_database_url(),
        "serving on http://{}",
        config.bind
    );
    if config.map_fold_seconds > 0 {
        tokio::spawn(signalons_api::map::fold_periodically(
            pool.clone(),
            std::time::Duration::from_secs(config.map_fold_seconds),
        ));
    }
    let settings = HttpSettings {
        pwa_dir: Some(config.pwa_dir.clone()),
        workers: (config.http_workers > 0).then_some(config.http_workers),
        listen_url: Some(config.database_url.clone()),
    };
    let worker = signalons_delivery::Worker::new(pool.clone(), config.delivery())
        .context("the outbox worker cannot start")?;
    let _delivering = worker.spawn();
    let photo_store = signalons_media::PhotoStore::open(&config.photo_store()?)
        .context("the photo store cannot be opened")?;
    let photos = signalons_api::photos::PhotoService::new(
        photo_store,
        config.photo_limits(),
        config.photos_per_report.max(1),
    );
    let proxies = config
        .trusted_proxies()
        .context("trusted_proxies lists addresses or CIDR ranges")?;
    let state = AppState::new(pool, auth, config.rate_limits(), photos)
        .with_delivery_targets(config.delivery_targets())
        .with_trusted_proxies(proxies)
        .with_client_config(client_config);
    signalons_api::serve(listener, state, settings)?.await?;
    Ok(())
}
