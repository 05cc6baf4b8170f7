//! The life of a submission, shared by every entry point (REST, and replays of history):
//! place it, find its category, route it, score duplicate candidates, then store it as a new
//! incident or as another report of a confidently matching one.

use crate::catalog_cache::CatalogCache;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use signalons_db::{
    AsyncPgConnection, DatabaseErrorKind, DbError,
    catalog::{self, Placement},
    incidents,
    models::{CandidateIncident, Category, NewReport},
    reports,
};
use signalons_domain::{
    Address, CategoryCode, ContactEmail, Description, ExternalMediaUrl, GeoPoint, IdempotencyKey,
    Latitude, Longitude, ReportSource, ReportStatus,
    dedup::{self, Assessment, Decision, DedupPolicy},
    routing::{RoutingQuestion, choose_department},
};

/// A report whose every field has been checked.
#[derive(Debug, Clone)]
pub struct ReportDraft {
    pub category: CategoryCode,
    pub position: GeoPoint,
    pub accuracy_m: Option<f32>,
    pub address: Option<Address>,
    pub description: Description,
    pub contact_email: Option<ContactEmail>,
    pub source: ReportSource,
    /// Answers to the category's extra questions (Open311 attributes), already validated;
    /// an empty object when there are none.
    pub attributes: serde_json::Value,
    /// The signed-in resident reporting it.
    pub reporter_id: Option<i64>,
    /// The hash of the reporting device's id (see [`crate::auth::device_hash`]).
    pub device_hash: Option<Vec<u8>>,
    /// A photo link given by an Open311 client, stored as given and never fetched.
    pub external_media_url: Option<ExternalMediaUrl>,
    /// The third-party app (API key) sending it: its idempotency keys are its own.
    pub api_key_id: Option<i64>,
}

impl ReportDraft {
    /// A digest of what was asked, to tell an honest retry from a reused key.
    pub fn fingerprint(&self) -> Vec<u8> {
        let canonical = serde_json::json!([
            self.category.as_str(),
            self.position.lat(),
            self.position.lon(),
            self.accuracy_m,
            self.address.as_ref().map(Address::as_str),
            self.description.as_str(),
            self.contact_email.as_ref().map(ContactEmail::as_str),
            self.source.as_str(),
        ]);
        // Drafts without attributes or a media link keep the fingerprint they always had.
        let canonical = match &self.attributes {
            serde_json::Value::Object(map) if map.is_empty() => canonical,
            serde_json::Value::Null => canonical,
            attributes => serde_json::json!([canonical, attributes]),
        };
        let canonical = match &self.external_media_url {
            Some(url) => serde_json::json!([canonical, {"media_url": url.as_str()}]),
            None => canonical,
        };
        Sha256::digest(canonical.to_string().as_bytes()).to_vec()
    }
}

/// Why a submission was not stored.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("no jurisdiction covers this point")]
    OutsideJurisdiction,
    #[error("`{0}` is not an active category of this jurisdiction")]
    UnknownCategory(CategoryCode),
    #[error("the idempotency key was used for a different report")]
    KeyReused,
    #[error("`{0}` can only be reported from an account")]
    AccountRequired(CategoryCode),
    #[error(transparent)]
    Database(#[from] DbError),
}

/// An open incident that may be what the resident is reporting.
#[derive(Debug, Clone)]
pub struct ScoredCandidate {
    pub incident: CandidateIncident,
    pub assessment: Assessment,
}

/// Where a point and category lead: the jurisdiction and area, and the category there.
pub async fn resolve(
    conn: &mut AsyncPgConnection,
    cache: &CatalogCache,
    position: GeoPoint,
    category: &CategoryCode,
) -> Result<(Placement, Category), SubmitError> {
    let point = signalons_db::wgs84_point(position);
    let placement = catalog::place(conn, point)
        .await?
        .ok_or(SubmitError::OutsideJurisdiction)?;
    let category = cache
        .active_category(conn, placement.jurisdiction_id, category.as_str())
        .await?
        .ok_or_else(|| SubmitError::UnknownCategory(category.clone()))?;
    Ok((placement, category))
}

/// The department responsible for `category` at `placement`.
pub async fn route(
    conn: &mut AsyncPgConnection,
    cache: &CatalogCache,
    placement: Placement,
    category: &Category,
) -> Result<Option<i64>, DbError> {
    let rules = cache.routing_rules(conn, placement.jurisdiction_id).await?;
    let (rules, default_department) = (&rules.0, rules.1);
    let question = RoutingQuestion {
        category_id: category.id,
        dedup_group: &category.dedup_group,
        service_area_id: placement.service_area_id,
    };
    Ok(choose_department(rules, question, default_department))
}

fn policy(category: &Category) -> DedupPolicy {
    DedupPolicy::of_category(category.dedup_radius_m, category.dedup_window_days)
}

fn position_of(point: &signalons_db::Point) -> Option<GeoPoint> {
    Some(GeoPoint::new(
        Latitude::new(point.y).ok()?,
        Longitude::new(point.x).ok()?,
    ))
}

/// The candidates worth showing for `submission`, best first (at most [`dedup::MAX_SHOWN`]).
pub async fn candidates(
    conn: &mut AsyncPgConnection,
    cache: &CatalogCache,
    placement: Placement,
    category: &Category,
    submission: dedup::Submission<'_>,
) -> Result<Vec<ScoredCandidate>, DbError> {
    let policy = policy(category);
    let window = Duration::seconds((policy.search_window_days() * 86_400.0) as i64);
    let vocabulary = cache
        .vocabulary(
            conn,
            placement.jurisdiction_id,
            &category.dedup_group,
            submission.at,
        )
        .await?;
    let found = incidents::open_candidates(
        conn,
        placement.jurisdiction_id,
        &category.dedup_group,
        signalons_db::wgs84_point(submission.position),
        policy.search_radius_m(),
        submission.at - window,
        submission.at,
    )
    .await?;
    let mut scored: Vec<ScoredCandidate> = found
        .into_iter()
        .filter_map(|incident| {
            let position = position_of(&incident.location)?;
            let assessment = dedup::assess(
                policy,
                submission,
                dedup::Incident {
                    position,
                    last_reported_at: incident.last_reported_at,
                    address: incident.address.as_deref(),
                    description: &incident.summary,
                },
                &vocabulary,
            );
            (dedup::decide(assessment.score) != Decision::Ignore).then_some(ScoredCandidate {
                incident,
                assessment,
            })
        })
        .collect();
    scored.sort_by(|a, b| {
        b.assessment
            .score
            .total_cmp(&a.assessment.score)
            .then(b.incident.id.cmp(&a.incident.id))
    });
    scored.truncate(dedup::MAX_SHOWN);
    Ok(scored)
}

/// What a submission became.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub report_id: i64,
    /// Answered from an earlier request with the same idempotency key.
    pub replayed: bool,
    /// Joined an incident that already existed.
    pub linked: bool,
    /// The department it was routed to (`None` on a replay, or when none is configured).
    pub department_id: Option<i64>,
    /// The candidates that were considered (empty on a replay).
    pub candidates: Vec<ScoredCandidate>,
}

async fn earlier_with_key(
    conn: &mut AsyncPgConnection,
    placement: Placement,
    api_key: Option<i64>,
    key: &IdempotencyKey,
    fingerprint: &[u8],
) -> Result<Option<i64>, SubmitError> {
    match reports::find_by_idempotency_key(conn, placement.jurisdiction_id, api_key, key.as_str())
        .await?
    {
        None => Ok(None),
        Some((id, Some(stored))) if stored == fingerprint => Ok(Some(id)),
        Some(_) => Err(SubmitError::KeyReused),
    }
}

fn replayed(report_id: i64) -> Submitted {
    Submitted {
        report_id,
        replayed: true,
        linked: false,
        department_id: None,
        candidates: Vec::new(),
    }
}

fn self_attributes(draft: &ReportDraft) -> serde_json::Value {
    match &draft.attributes {
        serde_json::Value::Null => serde_json::json!({}),
        attributes => attributes.clone(),
    }
}

/// Stores `draft` as of `now`. With a `key`, a retry returns the first report.
pub async fn submit(
    conn: &mut AsyncPgConnection,
    cache: &CatalogCache,
    draft: &ReportDraft,
    key: Option<&IdempotencyKey>,
    now: DateTime<Utc>,
) -> Result<Submitted, SubmitError> {
    let (placement, category) = resolve(conn, cache, draft.position, &draft.category).await?;
    if !category.allow_anonymous && draft.reporter_id.is_none() {
        return Err(SubmitError::AccountRequired(draft.category.clone()));
    }
    let fingerprint = draft.fingerprint();
    if let Some(key) = key
        && let Some(id) =
            earlier_with_key(conn, placement, draft.api_key_id, key, &fingerprint).await?
    {
        return Ok(replayed(id));
    }
    let department_id = route(conn, cache, placement, &category).await?;
    let submission = dedup::Submission {
        position: draft.position,
        at: now,
        address: draft.address.as_ref().map(Address::as_str),
        description: draft.description.as_str(),
    };
    let candidates = candidates(conn, cache, placement, &category, submission).await?;

    let report = NewReport {
        jurisdiction_id: placement.jurisdiction_id,
        category_id: category.id,
        incident_id: 0,
        location: signalons_db::wgs84_point(draft.position),
        location_accuracy_m: draft.accuracy_m,
        address: draft.address.as_ref().map(Address::as_str),
        description: draft.description.as_str(),
        attributes: self_attributes(draft),
        status: ReportStatus::Submitted.as_str(),
        priority: category.default_priority,
        department_id,
        service_area_id: placement.service_area_id,
        source: draft.source.as_str(),
        contact_email: draft.contact_email.as_ref().map(ContactEmail::as_str),
        idempotency_key: key.map(IdempotencyKey::as_str),
        request_fingerprint: Some(&fingerprint),
        created_at: now,
        updated_at: now,
        reporter_id: draft.reporter_id,
        device_hash: draft.device_hash.as_deref(),
        external_media_url: draft
            .external_media_url
            .as_ref()
            .map(ExternalMediaUrl::as_str),
        api_key_id: draft.api_key_id,
    };
    let link_to = candidates
        .first()
        .filter(|best| dedup::decide(best.assessment.score) == Decision::Link)
        .map(|best| best.incident.id);
    let inserted =
        match link_to {
            Some(incident) => incidents::insert_linked_report(
                conn,
                incident,
                report,
                "Report received: the same problem was already reported, so this report joins it.",
            )
            .await,
            None => {
                reports::insert_with_new_incident(
                    conn,
                    &category.dedup_group,
                    report,
                    "Report received.",
                )
                .await
            }
        };
    match (inserted, key) {
        (Ok(report_id), _) => {
            tracing::info!(report_id, linked = link_to.is_some(), category = %draft.category, "report stored");
            Ok(Submitted {
                report_id,
                replayed: false,
                linked: link_to.is_some(),
                department_id,
                candidates,
            })
        }
        // A concurrent request with the same key committed first: answer with its report.
        (Err(DbError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)), Some(key)) => {
            let id = earlier_with_key(conn, placement, draft.api_key_id, key, &fingerprint)
                .await?
                .ok_or(SubmitError::Database(DbError::NotFound))?;
            Ok(replayed(id))
        }
        (Err(error), _) => Err(error.into()),
    }
}
