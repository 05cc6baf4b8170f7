//! `signalons recluster`: groups past reports into incidents in one batch, as the live path
//! would have if they had come in through it (see [`signalons_domain::clustering`]).

use std::collections::BTreeMap;

use signalons_db::{
    AsyncPgConnection, QueryResult,
    incidents::{self, ClusterableReport},
};
use signalons_domain::{
    GeoPoint, Latitude, Longitude,
    clustering::{PastReport, cluster},
    dedup::{DedupPolicy, Vocabulary},
};

/// What a re-clustering did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReclusterSummary {
    pub reports: usize,
    /// Incidents with more than one report after clustering.
    pub shared_incidents: usize,
    pub reports_moved: usize,
}

fn past(report: &ClusterableReport) -> Option<PastReport<'_>> {
    Some(PastReport {
        position: GeoPoint::new(
            Latitude::new(report.location.y).ok()?,
            Longitude::new(report.location.x).ok()?,
        ),
        created_at: report.created_at,
        closed_at: report.closed_at,
        address: report.address.as_deref(),
        description: &report.description,
        policy: DedupPolicy::of_category(report.dedup_radius_m, report.dedup_window_days),
    })
}

/// Re-clusters the reports of `source` (usually `import`) of a jurisdiction, one dedup group at
/// a time, each report under its own category's policy, with the words of the group's
/// descriptions weighed over all of them. Running it again moves nothing.
pub async fn recluster(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    source: &str,
) -> QueryResult<ReclusterSummary> {
    let rows = incidents::clusterable_reports(conn, jurisdiction, source).await?;
    let mut groups: BTreeMap<&str, Vec<&ClusterableReport>> = BTreeMap::new();
    for row in &rows {
        groups.entry(&row.dedup_group).or_default().push(row);
    }
    let mut summary = ReclusterSummary {
        reports: rows.len(),
        ..Default::default()
    };
    for members in groups.values() {
        let Some(points) = members.iter().map(|r| past(r)).collect::<Option<Vec<_>>>() else {
            continue;
        };
        let vocabulary =
            Vocabulary::from_descriptions(members.iter().map(|r| r.description.as_str()));
        for incident in cluster(&points, &vocabulary) {
            if incident.len() < 2 {
                continue;
            }
            summary.shared_incidents += 1;
            let first = members[incident[0]];
            let ids: Vec<i64> = incident.iter().map(|&i| members[i].report_id).collect();
            let note = format!(
                "Grouped with report #{} as the same problem (batch clustering of past reports).",
                first.report_id
            );
            summary.reports_moved += incidents::merge(conn, first.incident_id, &ids, &note).await?;
        }
    }
    Ok(summary)
}
