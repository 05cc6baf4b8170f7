//! Jurisdictions, categories and where a point falls: the reference data reports hang on.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use postgis_diesel::functions::st_covers;
use signalons_domain::routing::RouteRule;

use crate::{
    Point,
    functions::{st_xmax, st_xmin, st_ymax, st_ymin},
    models::{Category, CategoryInJurisdiction, JurisdictionSummary},
    schema::{categories, jurisdictions, routes, service_areas},
};

/// Every jurisdiction served, with the bounding box of its boundary.
pub async fn list_jurisdictions(
    conn: &mut AsyncPgConnection,
) -> QueryResult<Vec<JurisdictionSummary>> {
    use crate::schema::jurisdictions::dsl::*;
    jurisdictions
        .select((
            id,
            slug,
            name,
            locale,
            time_zone,
            st_xmin(boundary),
            st_ymin(boundary),
            st_xmax(boundary),
            st_ymax(boundary),
        ))
        .order(slug)
        .load(conn)
        .await
}

/// The active categories, optionally of one jurisdiction, by group then name.
pub async fn list_categories(
    conn: &mut AsyncPgConnection,
    jurisdiction_slug: Option<&str>,
) -> QueryResult<Vec<CategoryInJurisdiction>> {
    let mut query = categories::table
        .inner_join(jurisdictions::table)
        .filter(categories::active.eq(true))
        .select((jurisdictions::slug, Category::as_select()))
        .order((
            jurisdictions::slug,
            categories::group_name,
            categories::name,
        ))
        .into_boxed();
    if let Some(wanted) = jurisdiction_slug {
        query = query.filter(jurisdictions::slug.eq(wanted.to_owned()));
    }
    query.load(conn).await
}

/// The active category `code` of a jurisdiction.
pub async fn find_active_category(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    code: &str,
) -> QueryResult<Option<Category>> {
    categories::table
        .filter(categories::jurisdiction_id.eq(jurisdiction))
        .filter(categories::code.eq(code))
        .filter(categories::active.eq(true))
        .select(Category::as_select())
        .first(conn)
        .await
        .optional()
}

/// Where a point falls: its jurisdiction and, if any covers it, its service area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub jurisdiction_id: i64,
    pub service_area_id: Option<i64>,
}

/// The jurisdiction whose boundary covers `point`, and the highest-priority active service area
/// of it that covers the point. `None` when no jurisdiction serves that place.
pub async fn place(conn: &mut AsyncPgConnection, point: Point) -> QueryResult<Option<Placement>> {
    let jurisdiction = jurisdictions::table
        .filter(st_covers(jurisdictions::boundary, point))
        .select(jurisdictions::id)
        .order(jurisdictions::id)
        .first::<i64>(conn)
        .await
        .optional()?;
    let Some(jurisdiction_id) = jurisdiction else {
        return Ok(None);
    };
    let service_area_id = service_areas::table
        .filter(service_areas::jurisdiction_id.eq(jurisdiction_id))
        .filter(service_areas::active.eq(true))
        .filter(st_covers(service_areas::geom, point))
        .select(service_areas::id)
        .order((service_areas::priority.desc(), service_areas::id))
        .first::<i64>(conn)
        .await
        .optional()?;
    Ok(Some(Placement {
        jurisdiction_id,
        service_area_id,
    }))
}

/// The routing rules of a jurisdiction, by id (see [`signalons_domain::routing`]), and its
/// default department.
pub async fn routing_rules(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
) -> QueryResult<(Vec<RouteRule>, Option<i64>)> {
    let rows = routes::table
        .filter(routes::jurisdiction_id.eq(jurisdiction))
        .select((
            routes::category_id,
            routes::dedup_group,
            routes::service_area_id,
            routes::department_id,
        ))
        .order(routes::id)
        .load::<(Option<i64>, Option<String>, Option<i64>, i64)>(conn)
        .await?;
    let default_department = jurisdictions::table
        .find(jurisdiction)
        .select(jurisdictions::default_department_id)
        .first::<Option<i64>>(conn)
        .await?;
    let rules = rows
        .into_iter()
        .map(
            |(category_id, dedup_group, service_area_id, department_id)| RouteRule {
                category_id,
                dedup_group,
                service_area_id,
                department_id,
            },
        )
        .collect();
    Ok((rules, default_department))
}

/// Display names of a routing outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementNames {
    pub jurisdiction_slug: String,
    /// Code and name.
    pub department: Option<(String, String)>,
    /// Code and name.
    pub service_area: Option<(String, String)>,
}

/// The names of a placement's jurisdiction and area, and of a department.
pub async fn names(
    conn: &mut AsyncPgConnection,
    placement: Placement,
    department: Option<i64>,
) -> QueryResult<PlacementNames> {
    let jurisdiction_slug = jurisdictions::table
        .find(placement.jurisdiction_id)
        .select(jurisdictions::slug)
        .first(conn)
        .await?;
    let department = match department {
        Some(id) => crate::schema::departments::table
            .find(id)
            .select((
                crate::schema::departments::code,
                crate::schema::departments::name,
            ))
            .first(conn)
            .await
            .optional()?,
        None => None,
    };
    let service_area = match placement.service_area_id {
        Some(id) => service_areas::table
            .find(id)
            .select((service_areas::code, service_areas::name))
            .first(conn)
            .await
            .optional()?,
        None => None,
    };
    Ok(PlacementNames {
        jurisdiction_slug,
        department,
        service_area,
    })
}

/// The id of the jurisdiction `slug`.
pub async fn jurisdiction_id(conn: &mut AsyncPgConnection, slug: &str) -> QueryResult<Option<i64>> {
    jurisdictions::table
        .filter(jurisdictions::slug.eq(slug))
        .select(jurisdictions::id)
        .first(conn)
        .await
        .optional()
}

/// The slug of jurisdiction `id`.
pub async fn jurisdiction_slug(
    conn: &mut AsyncPgConnection,
    id: i64,
) -> QueryResult<Option<String>> {
    jurisdictions::table
        .find(id)
        .select(jurisdictions::slug)
        .first(conn)
        .await
        .optional()
}

/// The id of category `code` of `jurisdiction`, active or not.
pub async fn category_id(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    code: &str,
) -> QueryResult<Option<i64>> {
    categories::table
        .filter(categories::jurisdiction_id.eq(jurisdiction))
        .filter(categories::code.eq(code))
        .select(categories::id)
        .first(conn)
        .await
        .optional()
}

/// The language and name of jurisdiction `id`.
pub async fn jurisdiction_locale(
    conn: &mut AsyncPgConnection,
    id: i64,
) -> QueryResult<(String, String)> {
    jurisdictions::table
        .find(id)
        .select((jurisdictions::locale, jurisdictions::name))
        .first(conn)
        .await
}

/// The id of service area `code` in `jurisdiction`.
pub async fn service_area_id(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    code: &str,
) -> QueryResult<Option<i64>> {
    use crate::schema::service_areas;
    service_areas::table
        .filter(service_areas::jurisdiction_id.eq(jurisdiction))
        .filter(service_areas::code.eq(code))
        .select(service_areas::id)
        .first(conn)
        .await
        .optional()
}
