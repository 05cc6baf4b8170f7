//! The HTTP face of Signalons: the REST API under `/api/v1`, its OpenAPI contract, health
//! probes and the PWA's static files, on one actix-web server.

pub mod accounts;
pub mod admin;
pub mod admin_catalog;
pub mod alerts;
pub mod api_keys;
pub mod auth;
pub mod catalog;
pub mod catalog_cache;
pub mod client_config;
pub mod client_ip;
mod cursor;
pub mod error;
pub mod extract;
pub mod geocode;
pub mod health;
pub mod incidents;
pub mod jobs;
pub mod live;
pub mod mail_links;
pub mod map;
pub mod open311;
pub mod photos;
pub mod rate_limit;
pub mod reports;
pub mod routing;
pub mod submission;
pub mod webhooks;

use std::{net::TcpListener, path::PathBuf, sync::Arc};

use actix_web::{
    App, HttpRequest, HttpResponse,
    body::MessageBody,
    dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse},
    http::StatusCode,
    web,
};
use signalons_db::DbPool;
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, scope, service_config::ServiceConfig};
use utoipa_swagger_ui::SwaggerUi;

use crate::{
    auth::AuthSettings,
    error::ApiError,
    live::LiveQueue,
    photos::PhotoService,
    rate_limit::{RateLimiter, RateLimits},
};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub auth: Arc<AuthSettings>,
    pub limiter: Arc<RateLimiter>,
    pub live: LiveQueue,
    pub photos: Arc<PhotoService>,
    /// Categories and routing rules, kept for a second (cleared by admin changes).
    pub catalog: Arc<catalog_cache::CatalogCache>,
    /// Which addresses webhook and Open311 URLs saved through the API may reach.
    pub delivery_targets: signalons_domain::delivery::Targets,
    /// The load balancers whose `X-Forwarded-For` names the client (none by default).
    pub trusted_proxies: Arc<client_ip::TrustedProxies>,
    /// What public clients are told about this deployment (`GET /api/v1/config`).
    pub client_config: Arc<client_config::ClientConfig>,
}

impl AppState {
    pub fn new(pool: DbPool, auth: AuthSettings, limits: RateLimits, photos: PhotoService) -> Self {
        Self {
            pool,
            auth: Arc::new(auth),
            limiter: Arc::new(RateLimiter::new(limits)),
            live: LiveQueue::new(),
            photos: Arc::new(photos),
            catalog: Arc::new(catalog_cache::CatalogCache::default()),
            delivery_targets: signalons_domain::delivery::Targets::default(),
            trusted_proxies: Arc::new(client_ip::TrustedProxies::default()),
            client_config: Arc::new(client_config::ClientConfig::default()),
        }
    }

    /// The same state, telling public clients `config` (no basemap unless told otherwise).
    pub fn with_client_config(self, config: client_config::ClientConfig) -> Self {
        Self {
            client_config: Arc::new(config),
            ..self
        }
    }

    /// The same state, accepting webhook and Open311 URLs that reach `targets` (public
    /// addresses only unless told otherwise).
    pub fn with_delivery_targets(self, targets: signalons_domain::delivery::Targets) -> Self {
        Self {
            delivery_targets: targets,
            ..self
        }
    }

    /// The same state, believing `X-Forwarded-For` from `proxies`.
    pub fn with_trusted_proxies(self, proxies: client_ip::TrustedProxies) -> Self {
        Self {
            trusted_proxies: Arc::new(proxies),
            ..self
        }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("pool", &self.pool.status())
            .field("auth", &self.auth)
            .finish()
    }
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from `POST /api/v1/auth/login`"))
                    .build(),
            ),
        );
    }
}

/// Settings of the HTTP layer that do not belong to handlers.
#[derive(Debug, Clone, Default)]
pub struct HttpSettings {
    /// The built PWA (`pwa/dist`), served at `/` when it exists.
    pub pwa_dir: Option<PathBuf>,
    /// Worker threads; `None` lets actix use one per core.
    pub workers: Option<usize>,
    /// The database to LISTEN on for live queue changes (`None`: no live updates).
    pub listen_url: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Signalons API",
        description = "Report problems in public space and follow what the city does about them. \
                       Errors are RFC 9457 problem+json documents with a stable `code`.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later"),
    ),
    tags(
        (name = "reports", description = "Problems reported by residents and their public history"),
        (name = "photos", description = "Photos of reports, without metadata; staff hide those that show what they should not"),
        (name = "incidents", description = "The problems behind reports: duplicates share one, residents support it"),
        (name = "catalog", description = "Jurisdictions and the categories that can be reported"),
        (name = "config", description = "What public clients are told about this deployment, such as the map's background tiles"),
        (name = "health", description = "Probes for load balancers"),
        (name = "auth", description = "Accounts: sign up, sign in, rotate and revoke tokens"),
        (name = "crews", description = "The work queue of a department's crews: take, assign, change status with a public explanation"),
        (name = "admin", description = "Staff, departments, categories, service areas and routes (admins)"),
        (name = "alerts", description = "Residents watch an area for new problems, by mail at once or daily"),
        (name = "webhooks", description = "Third-party apps subscribe with an API key to a city's events, delivered as signed webhooks"),
    ),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

fn api_v1(config: &mut ServiceConfig) {
    config.service(
        scope::scope("/api/v1")
            .service(reports::create_report)
            .service(reports::list_reports)
            .service(reports::find_duplicates)
            .service(reports::get_report)
            .service(reports::list_report_events)
            .service(photos::add_report_photos)
            .service(photos::list_report_photos)
            .service(photos::get_photo_file)
            .service(photos::moderate_photo)
            .service(catalog::list_categories)
            .service(incidents::get_incident)
            .service(incidents::support_incident)
            .service(incidents::follow_incident)
            .service(incidents::unfollow_incident)
            .service(incidents::my_follows)
            .service(incidents::list_incident_events)
            .service(routing::preview_routing)
            .service(catalog::list_jurisdictions)
            .service(geocode::geocode)
            .service(reports::reopen_report)
            .service(accounts::register)
            .service(accounts::login)
            .service(accounts::refresh)
            .service(accounts::logout)
            .service(accounts::get_me)
            .service(accounts::claim_reports)
            .service(jobs::get_queue)
            .service(live::queue_stream)
            .service(jobs::get_job)
            .service(jobs::take_job)
            .service(jobs::release_job)
            .service(jobs::assign_job)
            .service(jobs::change_job_status)
            .service(jobs::job_audit)
            .service(jobs::merge_jobs)
            .service(jobs::split_job)
            .service(jobs::job_deliveries)
            .service(photos::add_job_photos)
            .service(photos::list_job_photos)
            .service(jobs::retry_delivery)
            .service(accounts::unsubscribe_page)
            .service(accounts::unsubscribe_one_click)
            .service(webhooks::create_webhook)
            .service(webhooks::list_webhooks)
            .service(webhooks::delete_webhook)
            .service(alerts::create_alert)
            .service(alerts::confirm_alert_page)
            .service(alerts::confirm_alert)
            .service(alerts::cancel_alert_page)
            .service(alerts::cancel_alert)
            .service(admin::create_staff)
            .service(admin::list_staff)
            .service(admin::update_staff)
            .service(admin::list_audit)
            .service(admin::get_jurisdiction)
            .service(admin::patch_jurisdiction)
            .service(admin_catalog::list_departments)
            .service(admin_catalog::put_department)
            .service(admin_catalog::patch_department)
            .service(admin_catalog::list_admin_categories)
            .service(admin_catalog::put_category)
            .service(admin_catalog::patch_category)
            .service(admin_catalog::list_areas)
            .service(admin_catalog::post_areas)
            .service(admin_catalog::patch_area)
            .service(admin_catalog::delete_area)
            .service(admin_catalog::list_routes)
            .service(admin_catalog::put_route)
            .service(admin_catalog::delete_route)
            .service(map::map_clusters)
            .service(client_config::get_client_config)
            .default_service(web::to(not_found)),
    );
    config.service(health::healthz).service(health::readyz);
}

/// The OpenAPI 3.1 contract of the API, generated from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(api_v1)
        .split_for_parts();
    api
}

/// The OpenAPI contract as committed in `openapi/openapi.json`: pretty JSON and a final newline.
pub fn openapi_json() -> Result<String, serde_json::Error> {
    openapi().to_pretty_json().map(|json| json + "\n")
}

fn path_error(error: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no such resource: {error}"),
    )
    .into()
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(
        "not_found",
        format!("nothing at {}", req.path()),
    ))
}

const LANDING_PAGE: &str = include_str!("landing.html");

async fn landing() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(LANDING_PAGE)
}

/// The whole application: API, documentation, probes and the PWA.
pub fn app(
    state: AppState,
    settings: HttpSettings,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let (app, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .app_data(web::Data::new(state))
        .app_data(extract::payload_config())
        .app_data(web::PathConfig::default().error_handler(path_error))
        .configure(api_v1)
        .split_for_parts();
    let app = app
        .wrap(TracingLogger::default())
        .service(SwaggerUi::new("/api/docs/{_:.*}").url("/api/openapi.json", api))
        // Open311 GeoReport v2: its own errors and formats, outside the OpenAPI document.
        .service(open311::scope())
        .service(web::scope("/api").default_service(web::to(not_found)));
    match settings
        .pwa_dir
        .filter(|dir| dir.join("index.html").is_file())
    {
        Some(dir) => {
            // Client-side routes (`/reports/12`) load the app shell; it routes itself.
            let index = dir.join("index.html");
            let shell = actix_web::dev::fn_service(move |req: ServiceRequest| {
                let index = index.clone();
                async move {
                    let file = actix_files::NamedFile::open_async(index).await?;
                    let (req, _) = req.into_parts();
                    let response = file.into_response(&req);
                    Ok(ServiceResponse::new(req, response))
                }
            });
            app.service(
                actix_files::Files::new("/", dir)
                    .index_file("index.html")
                    .default_handler(shell),
            )
        }
        None => app.service(web::resource("/").to(landing)),
    }
}

/// Starts serving on `listener`; the returned server runs until stopped or signalled.
pub fn serve(
    listener: TcpListener,
    state: AppState,
    settings: HttpSettings,
) -> std::io::Result<Server> {
    if let Some(url) = &settings.listen_url {
        state.live.spawn_listener(url.clone());
    }
    let factory_settings = settings.clone();
    let mut server =
        actix_web::HttpServer::new(move || app(state.clone(), factory_settings.clone()))
            .listen(listener)?;
    if let Some(workers) = settings.workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}
