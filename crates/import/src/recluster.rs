//! `signalons recluster`: groups past reports into incidents in one batch, as the live path
//! would have if they had come in through it.

use std::collections::BTreeMap;

use signalons_db::{
    AsyncPgConnection, QueryResult,
    incidents::{self, ClusterableReport},
};
use signalons_domain::{
    GeoPoint, Latitude, Longitude,
    clustering::{PastReport, cluster},
};

/// What a re-clustering did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReclusterSummary {
    pub reports: usize,
    /// Incidents with more than one report after clustering.
    pub shared_incidents: usize,
    pub reports_moved: usize,
}

fn past(report: &ClusterableReport) -> Option<PastReport> {
    Some(PastReport {
        position: GeoPoint::new(
            Latitude::new(report.location.y).ok()?,
            Longitude::new(report.location.x).ok()?,
        ),
        created_at: report.created_at,
        closed_at: report.closed_at,
    })
}

/// Re-clusters the reports of `source` (usually `import`) of a jurisdiction, one dedup group at
/// a time, with the group's widest radius and window. Running it again moves nothing.
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
        let radius = members.iter().map(|r| r.dedup_radius_m).max().unwrap_or(50);
        let window = members
            .iter()
            .map(|r| r.dedup_window_days)
            .max()
            .unwrap_or(30);
        for incident in cluster(&points, f64::from(radius), f64::from(window)) {
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
