//! `signalons import-areas`: service areas from GeoJSON files.

use std::path::Path;

use signalons_db::{AsyncPgConnection, import::store_areas};
use signalons_domain::{
    Violation,
    areas::{parse_areas, valid_kind},
};

/// Why a file of areas was refused.
#[derive(Debug, thiserror::Error)]
pub enum AreaImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not JSON: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    #[error("{path}: {violation}")]
    Invalid { path: String, violation: Violation },
    #[error("database: {0}")]
    Database(#[from] signalons_db::DbError),
}

/// How the areas of a file are named and ranked.
#[derive(Debug, Clone)]
pub struct AreaOptions<'a> {
    /// `neighborhood`, `district`, `road_network`...
    pub kind: &'a str,
    /// Among overlapping areas, the highest priority wins.
    pub priority: i32,
    /// The feature property that names each area.
    pub name_property: &'a str,
}

/// Checks every area of `path` first, then creates or updates them all; returns how many.
/// A file with one bad area changes nothing.
pub async fn import_file(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    path: &Path,
    options: &AreaOptions<'_>,
) -> Result<usize, AreaImportError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| AreaImportError::Read {
        path: shown.clone(),
        source,
    })?;
    let document: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| AreaImportError::Json {
            path: shown.clone(),
            source,
        })?;
    let areas = parse_areas(&document, options.name_property).map_err(|violation| {
        AreaImportError::Invalid {
            path: shown,
            violation,
        }
    })?;
    valid_kind(options.kind).map_err(|violation| AreaImportError::Invalid {
        path: path.display().to_string(),
        violation,
    })?;
    Ok(store_areas(conn, jurisdiction, &areas, options.kind, options.priority).await?)
}
