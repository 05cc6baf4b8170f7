//! The reads behind Open311 GeoReport v2: requests by id or by filters (offset pages, as the
//! spec's integrators expect), and what each request shows besides its report row.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use postgis_diesel::{functions::st_d_within, operators::intersects_2d};

use crate::{
    WGS84,
    functions::{geometry, st_make_envelope},
    models::PublicReport,
    reports::AreaFilter,
    schema::{incidents, public_reports, report_events, reports},
};

/// What an Open311 list is restricted to; every field narrows it.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub jurisdiction_slug: Option<String>,
    pub category_codes: Vec<String>,
    pub statuses: Vec<&'static str>,
    pub requested_from: Option<DateTime<Utc>>,
    pub requested_to: Option<DateTime<Utc>>,
    pub updated_after: Option<DateTime<Utc>>,
    pub updated_before: Option<DateTime<Utc>>,
    pub area: Option<AreaFilter>,
}

/// Public reports with these ids (of one jurisdiction, when its slug is given), newest first.
pub async fn by_ids(
    conn: &mut AsyncPgConnection,
    jurisdiction_slug: Option<&str>,
    ids: &[i64],
) -> QueryResult<Vec<PublicReport>> {
    let mut query = public_reports::table
        .filter(public_reports::id.eq_any(ids.to_vec()))
        .into_boxed();
    if let Some(slug) = jurisdiction_slug {
        query = query.filter(public_reports::jurisdiction_slug.eq(slug.to_owned()));
    }
    query
        .select(PublicReport::as_select())
        .order((public_reports::created_at.desc(), public_reports::id.desc()))
        .load(conn)
        .await
}

/// Up to `limit` public reports matching `filter` after skipping `offset`, newest first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &RequestFilter,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<PublicReport>> {
    use crate::schema::public_reports::dsl::*;
    let mut query = public_reports
        .select(PublicReport::as_select())
        .into_boxed();
    match filter.area {
        Some(AreaFilter::BoundingBox {
            west,
            south,
            east,
            north,
        }) => {
            let envelope = st_make_envelope(west, south, east, north, WGS84 as i32);
            query = query.filter(intersects_2d(geometry(location), envelope));
        }
        Some(AreaFilter::Radius { center, metres }) => {
            query = query.filter(st_d_within(location, center, metres));
        }
        None => {}
    }
    if let Some(slug) = &filter.jurisdiction_slug {
        query = query.filter(jurisdiction_slug.eq(slug.clone()));
    }
    if !filter.category_codes.is_empty() {
        query = query.filter(category_code.eq_any(filter.category_codes.clone()));
    }
    if !filter.statuses.is_empty() {
        query = query.filter(status.eq_any(filter.statuses.clone()));
    }
    if let Some(from) = filter.requested_from {
        query = query.filter(created_at.ge(from));
    }
    if let Some(to) = filter.requested_to {
        query = query.filter(created_at.le(to));
    }
    if let Some(after) = filter.updated_after {
        query = query.filter(updated_at.gt(after));
    }
    if let Some(before) = filter.updated_before {
        query = query.filter(updated_at.lt(before));
    }
    query
        .order((created_at.desc(), id.desc()))
        .offset(offset)
        .limit(limit)
        .load(conn)
        .await
}

/// The latest public explanation of each report (its `status_notes`).
pub async fn latest_notes(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
) -> QueryResult<HashMap<i64, String>> {
    let rows: Vec<(i64, String)> = report_events::table
        .filter(report_events::report_id.eq_any(ids.to_vec()))
        .filter(report_events::is_internal.eq(false))
        .distinct_on(report_events::report_id)
        .select((report_events::report_id, report_events::body))
        .order((
            report_events::report_id,
            report_events::created_at.desc(),
            report_events::id.desc(),
        ))
        .load(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// The supporters of each report's incident.
pub async fn supporters(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
) -> QueryResult<HashMap<i64, i32>> {
    let rows: Vec<(i64, i32)> = reports::table
        .inner_join(incidents::table)
        .filter(reports::id.eq_any(ids.to_vec()))
        .select((reports::id, incidents::supporters_count))
        .load(conn)
        .await?;
    Ok(rows.into_iter().collect())
}
