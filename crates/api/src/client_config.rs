//! What public clients (the PWA first) are told about this deployment: the map's background
//! tiles. Configuration, not data: read at each start of the app, so that a change reaches
//! installed apps without a new build.

use actix_web::{HttpResponse, get, http::header, web};
use serde::Serialize;
use signalons_domain::Violation;
use utoipa::ToSchema;

use crate::AppState;

/// The longest tile URL template or attribution accepted.
const MAX_URL_LEN: usize = 2048;
const MAX_ATTRIBUTION_LEN: usize = 1000;

/// A slippy-map tile source: an `http(s)` URL template with `{z}`, `{x}` and `{y}` (Leaflet's
/// `{s}` and `{r}` allowed), and the attribution its provider requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapTiles {
    url: String,
    attribution: String,
}

impl MapTiles {
    /// Checks a configured source; an empty `url` means no basemap (`Ok(None)`).
    pub fn new(url: &str, attribution: &str) -> Result<Option<Self>, Violation> {
        let url = url.trim();
        if url.is_empty() {
            return Ok(None);
        }
        let attribution = attribution.trim();
        if url.len() > MAX_URL_LEN {
            return Err(Violation::new(
                "too_long",
                format!("the map tiles URL is at most {MAX_URL_LEN} characters"),
            ));
        }
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(Violation::new(
                "invalid_url",
                "the map tiles URL must start with https:// (or http://)",
            ));
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Violation::new(
                "invalid_url",
                "the map tiles URL cannot contain spaces or control characters",
            ));
        }
        if let Some(missing) = ["{z}", "{x}", "{y}"]
            .into_iter()
            .find(|part| !url.contains(part))
        {
            return Err(Violation::new(
                "invalid_url",
                format!("the map tiles URL is a template and needs {missing}"),
            ));
        }
        if attribution.chars().count() > MAX_ATTRIBUTION_LEN {
            return Err(Violation::new(
                "too_long",
                format!("the map tiles attribution is at most {MAX_ATTRIBUTION_LEN} characters"),
            ));
        }
        if attribution.chars().any(char::is_control) {
            return Err(Violation::new(
                "invalid_attribution",
                "the map tiles attribution cannot contain control characters",
            ));
        }
        Ok(Some(Self {
            url: url.to_owned(),
            attribution: attribution.to_owned(),
        }))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn attribution(&self) -> &str {
        &self.attribution
    }
}

/// The deployment's settings public clients read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ClientConfig {
    /// The map's background tiles: a URL template with `{z}`, `{x}`, `{y}` (and possibly
    /// `{s}`, `{r}`); `null` when the deployment has no basemap (reports are then drawn on a
    /// blank grid).
    #[schema(example = "https://tile.openstreetmap.org/{z}/{x}/{y}.png")]
    pub map_tiles_url: Option<String>,
    /// What the tile provider requires to be shown with its tiles: text with `<a href>` links
    /// only; `null` without a basemap.
    #[schema(
        example = "© <a href=\"https://www.openstreetmap.org/copyright\">OpenStreetMap</a> contributors"
    )]
    pub map_tiles_attribution: Option<String>,
}

impl ClientConfig {
    /// What clients are told with this basemap (or none).
    pub fn with_tiles(tiles: Option<&MapTiles>) -> Self {
        Self {
            map_tiles_url: tiles.map(|t| t.url.clone()),
            map_tiles_attribution: tiles.map(|t| t.attribution.clone()),
        }
    }
}

/// The deployment's settings for public clients: the map's background tiles. Public, never
/// cached for long (`no-cache`): a changed setting reaches installed apps at their next start.
#[utoipa::path(tag = "config", responses((status = 200, body = ClientConfig)))]
#[get("/config")]
pub async fn get_client_config(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(state.client_config.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OSM: &str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";

    #[test]
    fn an_empty_url_means_no_basemap() {
        assert_eq!(MapTiles::new("", "© someone"), Ok(None));
        assert_eq!(MapTiles::new("   ", ""), Ok(None));
        assert_eq!(ClientConfig::with_tiles(None), ClientConfig::default());
    }

    #[test]
    fn a_template_is_kept_trimmed_with_its_attribution() {
        let tiles = MapTiles::new(&format!(" {OSM} "), " © OSM ")
            .unwrap()
            .unwrap();
        assert_eq!((tiles.url(), tiles.attribution()), (OSM, "© OSM"));
        let told = ClientConfig::with_tiles(Some(&tiles));
        assert_eq!(told.map_tiles_url.as_deref(), Some(OSM));
        assert_eq!(told.map_tiles_attribution.as_deref(), Some("© OSM"));
        let subdomains = "https://{s}.tile.example.org/{z}/{x}/{y}{r}.png";
        assert!(matches!(MapTiles::new(subdomains, ""), Ok(Some(_))));
    }

    #[test]
    fn bad_templates_are_refused_with_a_reason() {
        let code = |url: &str| MapTiles::new(url, "").map(|_| ()).map_err(|v| v.code);
        assert_eq!(
            code("ftp://tiles.example.org/{z}/{x}/{y}.png"),
            Err("invalid_url")
        );
        assert_eq!(code("javascript:alert(1)//{z}/{x}/{y}"), Err("invalid_url"));
        assert_eq!(
            code("https://tiles.example.org/{z}/{x}.png"),
            Err("invalid_url")
        );
        assert_eq!(
            code("https://tiles.example.org/{z}/ {x}/{y}.png"),
            Err("invalid_url")
        );
        let long = format!(
            "https://t.example.org/{}/{{z}}/{{x}}/{{y}}",
            "a".repeat(2100)
        );
        assert_eq!(code(&long), Err("too_long"));
        assert_eq!(
            MapTiles::new(OSM, "line\nbreak").map_err(|v| v.code),
            Err("invalid_attribution")
        );
        assert_eq!(
            MapTiles::new(OSM, &"©".repeat(1001)).map_err(|v| v.code),
            Err("too_long")
        );
    }
}
