//! Row structs (what a query returns) and insert structs (what a write takes), kept apart.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::{Point, schema::*};

/// A category of problem residents can report (an Open311 service).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = categories, check_for_backend(diesel::pg::Pg))]
pub struct Category {
    pub id: i64,
    pub jurisdiction_id: i64,
    pub code: String,
    pub name: String,
    pub names: serde_json::Value,
    pub description: String,
    pub descriptions: serde_json::Value,
    pub group_name: String,
    pub dedup_group: String,
    pub attributes: serde_json::Value,
    pub default_priority: i16,
    pub dedup_radius_m: i32,
    pub dedup_window_days: i32,
    pub allow_anonymous: bool,
    pub active: bool,
}

/// A category together with the slug of its jurisdiction, for public listings.
#[derive(Debug, Clone, Queryable)]
pub struct CategoryInJurisdiction {
    pub jurisdiction_slug: String,
    pub category: Category,
}

/// A city as the public sees it, with the bounding box of its boundary.
#[derive(Debug, Clone, Queryable)]
pub struct JurisdictionSummary {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub locale: String,
    pub time_zone: String,
    pub west: f64,
    pub south: f64,
    pub east: f64,
    pub north: f64,
}

/// A report as the public may see it (read from the `public_reports` view).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = public_reports, check_for_backend(diesel::pg::Pg))]
pub struct PublicReport {
    pub id: i64,
    pub jurisdiction_id: i64,
    pub jurisdiction_slug: String,
    pub category_id: i64,
    pub category_code: String,
    pub category_name: String,
    pub incident_id: i64,
    pub location: Point,
    pub location_accuracy_m: Option<f32>,
    pub address: Option<String>,
    pub description: String,
    pub status: String,
    pub priority: i16,
    pub department_code: Option<String>,
    pub department_name: Option<String>,
    pub service_area_code: Option<String>,
    pub service_area_name: Option<String>,
    pub source: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// A photo link an Open311 client gave; never fetched by the server.
    pub external_media_url: Option<String>,
    /// When its incident should be done (the category's service level), if promised.
    pub due_at: Option<DateTime<Utc>>,
    /// Reports of its incident, this one included.
    pub incident_report_count: i32,
    /// Residents who reported its incident again or said "me too".
    pub incident_supporters_count: i32,
}

/// One entry of a report's public history.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = report_events, check_for_backend(diesel::pg::Pg))]
pub struct ReportEvent {
    pub id: i64,
    pub report_id: i64,
    pub kind: String,
    pub status_from: Option<String>,
    pub status_to: Option<String>,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// A new physical problem, opened by its first report.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = incidents)]
pub struct NewIncident<'a> {
    pub jurisdiction_id: i64,
    pub category_id: i64,
    pub dedup_group: &'a str,
    pub location: Point,
    pub status: &'a str,
    pub priority: i16,
    pub department_id: Option<i64>,
    pub service_area_id: Option<i64>,
    pub report_count: i32,
    pub address: Option<&'a str>,
    pub summary: &'a str,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_reported_at: DateTime<Utc>,
}

/// The columns of a new report that its incident does not decide.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = reports)]
pub struct NewReport<'a> {
    pub jurisdiction_id: i64,
    pub category_id: i64,
    pub incident_id: i64,
    pub location: Point,
    pub location_accuracy_m: Option<f32>,
    pub address: Option<&'a str>,
    pub description: &'a str,
    pub attributes: serde_json::Value,
    pub status: &'a str,
    pub priority: i16,
    pub department_id: Option<i64>,
    pub service_area_id: Option<i64>,
    pub source: &'a str,
    pub contact_email: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    pub request_fingerprint: Option<&'a [u8]>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The signed-in resident who reported it.
    pub reporter_id: Option<i64>,
    /// The reporting device, hashed, so its owner can claim the report later.
    pub device_hash: Option<&'a [u8]>,
    /// A photo link an Open311 client gave; never fetched by the server.
    pub external_media_url: Option<&'a str>,
    /// The third-party app (API key) that sent it; its idempotency keys are its own.
    pub api_key_id: Option<i64>,
}

/// A new entry in a report's history.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = report_events)]
pub struct NewReportEvent<'a> {
    pub report_id: i64,
    pub kind: &'a str,
    pub status_from: Option<&'a str>,
    pub status_to: Option<&'a str>,
    pub body: &'a str,
    pub is_internal: bool,
    pub created_at: DateTime<Utc>,
}

/// An open incident near a submission, with what duplicate scoring compares.
#[derive(Debug, Clone, Queryable)]
pub struct CandidateIncident {
    pub id: i64,
    pub category_code: String,
    pub category_name: String,
    pub location: Point,
    pub status: String,
    pub address: Option<String>,
    pub summary: String,
    pub report_count: i32,
    pub supporters_count: i32,
    pub created_at: DateTime<Utc>,
    /// When a resident last reported it.
    pub last_reported_at: DateTime<Utc>,
}

/// An incident as the public sees it.
#[derive(Debug, Clone, Queryable)]
pub struct PublicIncident {
    pub id: i64,
    pub jurisdiction_slug: String,
    pub category_code: String,
    pub category_name: String,
    pub location: Point,
    pub status: String,
    pub priority: i16,
    pub address: Option<String>,
    pub summary: String,
    pub report_count: i32,
    pub supporters_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The incident this one was merged into, if any.
    pub merged_into_id: Option<i64>,
    pub due_at: Option<DateTime<Utc>>,
}
