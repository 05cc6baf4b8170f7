//! Addresses instead of points: the local gazetteer searched for a typed address. Residents who
//! cannot or would rather not point at a map type an address (`GET /api/v1/geocode`), and
//! Open311 clients send `address_string` or `address_id`. Nothing leaves the server: the
//! gazetteer holds the city's own addresses (see `signalons_import::gazetteer`).

use std::collections::HashSet;

use actix_web::{get, web};
use serde::{Deserialize, Serialize};
use signalons_db::{
    AsyncPgConnection, DbError, catalog,
    gazetteer::{self, FoundAddress},
};
use signalons_domain::{
    GeoPoint, Latitude, Longitude, Violation,
    gazetteer::{AddressKind, AddressQuery, Candidate, MatchQuality, Resolution},
};
use utoipa::{IntoParams, ToSchema};

use crate::{
    AppState,
    error::{ApiError, FieldError, Problem},
    extract::QueryParams,
};

/// The most suggestions one search returns.
pub const MAX_SUGGESTIONS: i64 = 10;
const DEFAULT_SUGGESTIONS: i64 = 5;
/// The least word similarity of a suggestion while typing: low, since the words are often cut.
const MIN_SIMILARITY_TO_SUGGEST: f64 = 0.3;
/// How many of the nearest addresses are looked at for a typo in a request's address.
const NEAREST_TO_PLACE: i64 = 20;

fn position(found: &FoundAddress) -> Option<GeoPoint> {
    Some(GeoPoint::new(
        Latitude::new(found.latitude).ok()?,
        Longitude::new(found.longitude).ok()?,
    ))
}

fn candidate(found: FoundAddress, quality: MatchQuality) -> Option<Candidate<FoundAddress>> {
    Some(Candidate {
        position: position(&found)?,
        samples: found.sample_count,
        similarity: if quality == MatchQuality::Similar {
            found.similarity
        } else {
            1.0
        },
        quality,
        entry: found,
    })
}

/// The entries `query` names exactly, then those whose numbered range holds its house number.
async fn exact_and_in_range(
    conn: &mut AsyncPgConnection,
    jurisdiction: Option<i64>,
    query: &AddressQuery,
) -> Result<Vec<Candidate<FoundAddress>>, DbError> {
    let keys: Vec<String> = query
        .readings
        .iter()
        .map(|r| r.street.key.clone())
        .collect();
    let mut found: Vec<Candidate<FoundAddress>> = gazetteer::by_keys(conn, jurisdiction, &keys)
        .await?
        .into_iter()
        .filter(|a| query.names_exactly(&a.street_key, &a.locality))
        .filter_map(|a| candidate(a, MatchQuality::Exact))
        .collect();
    if let Some(house) = query.house() {
        let streets: Vec<String> = query
            .readings
            .iter()
            .filter(|r| r.street.kind == AddressKind::Numbered)
            .map(|r| r.street.street.clone())
            .collect();
        let seen: HashSet<i64> = found.iter().map(|c| c.entry.id).collect();
        found.extend(
            gazetteer::by_house_in_range(conn, jurisdiction, &streets, house)
                .await?
                .into_iter()
                .filter(|a| !seen.contains(&a.id))
                .filter(|a| match (a.house_from, a.house_to) {
                    (Some(from), Some(to)) => {
                        query.names_within(&a.street, (from, to), &a.locality)
                    }
                    _ => false,
                })
                .filter_map(|a| candidate(a, MatchQuality::HouseInRange)),
        );
    }
    Ok(found)
}

/// The one place `query` names, for a request that must be placed at a point: an exact match,
/// else a house number within a range, else a similar address of the same kind (the same
/// house number, an intersection, a place) close enough to be a typo.
pub async fn place(
    conn: &mut AsyncPgConnection,
    jurisdiction: Option<i64>,
    query: &AddressQuery,
) -> Result<Resolution<FoundAddress>, DbError> {
    let found = exact_and_in_range(conn, jurisdiction, query).await?;
    if !found.is_empty() {
        return Ok(signalons_domain::gazetteer::resolve(found));
    }
    // The nearest words, kept when they name the same kind of address (the same house number,
    // an intersection, a place) and are close enough to be a typo.
    let similar = gazetteer::nearest(conn, jurisdiction, &query.text, NEAREST_TO_PLACE)
        .await?
        .into_iter()
        .filter(|a| same_kind(query, a))
        .filter_map(|a| candidate(a, MatchQuality::Similar))
        .collect();
    Ok(signalons_domain::gazetteer::resolve(similar))
}

/// Whether `found` names the same kind of address as `query`, with its house number if any.
fn same_kind(query: &AddressQuery, found: &FoundAddress) -> bool {
    found.kind == query.kind().as_str()
        && query.house().is_none_or(|house| {
            found
                .house_from
                .zip(found.house_to)
                .is_some_and(|(from, to)| from <= house && house <= to)
        })
}

/// Up to `limit` addresses for what a resident is typing, best first.
pub async fn suggest(
    conn: &mut AsyncPgConnection,
    jurisdiction: Option<i64>,
    query: &AddressQuery,
    limit: i64,
) -> Result<Vec<Candidate<FoundAddress>>, DbError> {
    let mut found = exact_and_in_range(conn, jurisdiction, query).await?;
    let seen: HashSet<i64> = found.iter().map(|c| c.entry.id).collect();
    found.extend(
        gazetteer::nearest(conn, jurisdiction, &query.text, limit)
            .await?
            .into_iter()
            .filter(|a| a.similarity >= MIN_SIMILARITY_TO_SUGGEST && !seen.contains(&a.id))
            .filter_map(|a| candidate(a, MatchQuality::Similar)),
    );
    signalons_domain::gazetteer::rank(&mut found);
    found.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(found)
}

/// An address search.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GeocodeQuery {
    /// The address as typed, 1 to 200 characters: `33 Beacon St`, `Beacon Street & Charles
    /// Street`, `145 Ipswich St, Boston MA`. Case, spacing, punctuation and abbreviations
    /// (`Street`/`St`, `West`/`W`, `Third`/`3rd`) do not matter.
    #[param(example = "33 beacon street")]
    pub q: String,
    /// Only addresses of this jurisdiction (its slug).
    pub jurisdiction: Option<String>,
    /// How many suggestions, 1 to 10 (default 5).
    pub limit: Option<i64>,
}

/// An address of the gazetteer and its position.
#[derive(Debug, Serialize, ToSchema)]
pub struct GeocodedAddress {
    /// The gazetteer's id: Open311 clients may send it as `address_id`.
    #[schema(example = "1234")]
    pub id: String,
    /// As people read it.
    #[schema(example = "33 Beacon St, Boston, MA 02108")]
    pub address: String,
    pub latitude: f64,
    pub longitude: f64,
    /// Slug of the jurisdiction.
    pub jurisdiction: String,
    /// How it matched.
    pub r#match: MatchQuality,
}

/// Suggestions, best first.
#[derive(Debug, Serialize, ToSchema)]
pub struct GeocodeResults {
    pub items: Vec<GeocodedAddress>,
}

async fn jurisdiction_filter(
    conn: &mut AsyncPgConnection,
    slug: Option<&str>,
) -> Result<Option<i64>, ApiError> {
    let Some(slug) = slug else {
        return Ok(None);
    };
    let unknown = || {
        ApiError::invalid_query(vec![FieldError::new(
            "jurisdiction",
            Violation::new(
                "unknown_jurisdiction",
                format!("no jurisdiction `{slug}` is served here"),
            ),
        )])
    };
    if slug.len() > 64 {
        return Err(unknown());
    }
    catalog::jurisdiction_id(conn, slug)
        .await?
        .map(Some)
        .ok_or_else(unknown)
}

/// Addresses matching what a resident types, with their positions, so a report can be placed
/// without pointing at a map. Searches the city's own gazetteer (no outside service): exact
/// addresses first, then a house number within a numbered range, then similar words.
#[utoipa::path(
    tag = "catalog",
    params(GeocodeQuery),
    responses(
        (status = 200, body = GeocodeResults),
        (status = 400, description = "`q` empty or too long, `limit` out of range, unknown jurisdiction", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/geocode")]
pub async fn geocode(
    state: web::Data<AppState>,
    QueryParams(params): QueryParams<GeocodeQuery>,
) -> Result<web::Json<GeocodeResults>, ApiError> {
    let mut errors = Vec::new();
    let query = AddressQuery::parse(&params.q)
        .map_err(|violation| errors.push(FieldError::new("q", violation)))
        .ok();
    let limit = params.limit.unwrap_or(DEFAULT_SUGGESTIONS);
    if !(1..=MAX_SUGGESTIONS).contains(&limit) {
        errors.push(FieldError::new(
            "limit",
            Violation::new(
                "out_of_range",
                format!("limit must be 1 to {MAX_SUGGESTIONS}"),
            ),
        ));
    }
    let Some(query) = query.filter(|_| errors.is_empty()) else {
        return Err(ApiError::invalid_query(errors));
    };
    let mut conn = state.pool.get().await?;
    let jurisdiction = jurisdiction_filter(&mut conn, params.jurisdiction.as_deref()).await?;
    let items = suggest(&mut conn, jurisdiction, &query, limit)
        .await?
        .into_iter()
        .map(|candidate| GeocodedAddress {
            id: candidate.entry.id.to_string(),
            address: candidate.entry.label,
            latitude: candidate.entry.latitude,
            longitude: candidate.entry.longitude,
            jurisdiction: candidate.entry.jurisdiction_slug,
            r#match: candidate.quality,
        })
        .collect();
    Ok(web::Json(GeocodeResults { items }))
}
