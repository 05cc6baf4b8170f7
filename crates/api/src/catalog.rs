//! What can be reported, and where.

use std::collections::BTreeMap;

use actix_web::{get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{AppState, error::ApiError, extract::QueryParams};

/// A city served by this deployment (an Open311 jurisdiction).
#[derive(Debug, Serialize, ToSchema)]
pub struct Jurisdiction {
    /// Stable identifier, used as Open311 `jurisdiction_id`.
    #[schema(example = "boston")]
    pub slug: String,
    pub name: String,
    /// Default language (BCP 47).
    pub locale: String,
    /// IANA time zone.
    pub time_zone: String,
    /// Bounding box of the city: west, south, east, north (degrees).
    pub bbox: [f64; 4],
}

/// A list of jurisdictions.
#[derive(Debug, Serialize, ToSchema)]
pub struct JurisdictionList {
    pub items: Vec<Jurisdiction>,
}

/// The cities this deployment serves.
#[utoipa::path(tag = "catalog", responses((status = 200, body = JurisdictionList)))]
#[get("/jurisdictions")]
pub async fn list_jurisdictions(
    state: web::Data<AppState>,
) -> Result<web::Json<JurisdictionList>, ApiError> {
    let mut conn = state.pool.get().await?;
    let rows = signalons_db::catalog::list_jurisdictions(&mut conn).await?;
    let items = rows
        .into_iter()
        .map(|row| Jurisdiction {
            slug: row.slug,
            name: row.name,
            locale: row.locale,
            time_zone: row.time_zone,
            bbox: [row.west, row.south, row.east, row.north],
        })
        .collect();
    Ok(web::Json(JurisdictionList { items }))
}

/// A kind of problem residents can report (an Open311 service).
#[derive(Debug, Serialize, ToSchema)]
pub struct Category {
    /// The jurisdiction the category belongs to.
    pub jurisdiction: String,
    /// Stable code, sent as `category` when creating a report.
    #[schema(example = "pothole")]
    pub code: String,
    /// Name in the jurisdiction's language.
    pub name: String,
    /// Names by language (BCP 47 tag → name).
    pub names: BTreeMap<String, String>,
    pub description: String,
    /// Descriptions by language.
    pub descriptions: BTreeMap<String, String>,
    /// Heading under which apps list the category.
    pub group: String,
    /// 1 (urgent) to 5 (low).
    pub default_priority: i16,
    /// Whether a report needs no account.
    pub allow_anonymous: bool,
}

/// A list of categories.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryList {
    pub items: Vec<Category>,
}

/// Filters of the category list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CategoryQuery {
    /// Only the categories of this jurisdiction (its slug).
    pub jurisdiction: Option<String>,
}

fn localized(value: serde_json::Value) -> BTreeMap<String, String> {
    serde_json::from_value(value).unwrap_or_default()
}

/// The categories that can be reported, by jurisdiction, group and name.
#[utoipa::path(
    tag = "catalog",
    params(CategoryQuery),
    responses(
        (status = 200, body = CategoryList),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/categories")]
pub async fn list_categories(
    state: web::Data<AppState>,
    QueryParams(query): QueryParams<CategoryQuery>,
) -> Result<web::Json<CategoryList>, ApiError> {
    let mut conn = state.pool.get().await?;
    let rows =
        signalons_db::catalog::list_categories(&mut conn, query.jurisdiction.as_deref()).await?;
    let items = rows
        .into_iter()
        .map(|row| {
            let category = row.category;
            Category {
                jurisdiction: row.jurisdiction_slug,
                code: category.code,
                name: category.name,
                names: localized(category.names),
                description: category.description,
                descriptions: localized(category.descriptions),
                group: category.group_name,
                default_priority: category.default_priority,
                allow_anonymous: category.allow_anonymous,
            }
        })
        .collect();
    Ok(web::Json(CategoryList { items }))
}
