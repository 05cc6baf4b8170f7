//! Batch clustering of past reports into incidents: DBSCAN on projected metres (geo's DBSCAN is
//! Euclidean, so positions are projected first), then split in time so that a problem fixed and
//! reported again later becomes a new incident.

use chrono::{DateTime, Duration, Utc};
use geo::{Dbscan, MultiPoint, Point};

use crate::GeoPoint;

/// One past report to cluster.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PastReport {
    pub position: GeoPoint,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// Metres per degree of latitude, and of longitude at the equator (WGS 84 mean values).
const METRES_PER_DEGREE_LAT: f64 = 110_574.0;
const METRES_PER_DEGREE_LON: f64 = 111_320.0;

/// An equirectangular projection centred on the reports: within a city, distances in it are
/// within a fraction of a percent of great-circle ones.
fn project(reports: &[PastReport]) -> MultiPoint<f64> {
    let count = reports.len().max(1) as f64;
    let lat0 = reports.iter().map(|r| r.position.lat()).sum::<f64>() / count;
    let lon0 = reports.iter().map(|r| r.position.lon()).sum::<f64>() / count;
    let lon_scale = METRES_PER_DEGREE_LON * lat0.to_radians().cos();
    reports
        .iter()
        .map(|r| {
            Point::new(
                (r.position.lon() - lon0) * lon_scale,
                (r.position.lat() - lat0) * METRES_PER_DEGREE_LAT,
            )
        })
        .collect()
}

/// Groups `reports` (of one dedup group) into incidents: indices into `reports`, each group in
/// time order. Reports within `radius_m` of each other chain spatially; within such a cluster a
/// report starts a new incident when the previous one was already closed, or was last reported
/// more than `window_days` earlier.
pub fn cluster(reports: &[PastReport], radius_m: f64, window_days: f64) -> Vec<Vec<usize>> {
    let labels = project(reports).dbscan(radius_m, 1);
    let mut spatial: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (index, label) in labels.iter().enumerate() {
        // With one sample per core every point is in a cluster; noise would stay alone.
        spatial
            .entry(label.unwrap_or(usize::MAX - index))
            .or_default()
            .push(index);
    }
    let window = Duration::seconds((window_days * 86_400.0) as i64);
    let mut incidents = Vec::new();
    for mut members in spatial.into_values() {
        members.sort_by_key(|&i| (reports[i].created_at, i));
        let mut current: Vec<usize> = Vec::new();
        let mut last_reported = None;
        let mut open_until: Option<Option<DateTime<Utc>>> = None;
        for index in members {
            let report = reports[index];
            let closed_before =
                matches!(open_until, Some(Some(closed)) if closed < report.created_at);
            let too_late = last_reported.is_some_and(|last| report.created_at - last > window);
            if !current.is_empty() && (closed_before || too_late) {
                incidents.push(std::mem::take(&mut current));
                open_until = None;
            }
            current.push(index);
            last_reported = Some(report.created_at);
            // The incident stays open while any of its reports is open.
            open_until = Some(match (open_until, report.closed_at) {
                (Some(None), _) | (_, None) => None,
                (Some(Some(a)), Some(b)) => Some(a.max(b)),
                (None, Some(b)) => Some(b),
            });
        }
        if !current.is_empty() {
            incidents.push(current);
        }
    }
    incidents.sort();
    incidents
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Latitude, Longitude};

    fn report(lat: f64, lon: f64, day: i64, closed_day: Option<i64>) -> PastReport {
        let start = DateTime::parse_from_rfc3339("2015-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        PastReport {
            position: GeoPoint::new(Latitude::new(lat).unwrap(), Longitude::new(lon).unwrap()),
            created_at: start + Duration::days(day),
            closed_at: closed_day.map(|d| start + Duration::days(d)),
        }
    }

    #[test]
    fn nearby_reports_of_an_open_problem_form_one_incident() {
        let reports = [
            report(42.3560, -71.0700, 0, Some(10)),
            report(42.3561, -71.0700, 2, Some(3)), // ~11 m away
            report(42.3580, -71.0700, 3, None),    // ~220 m away
        ];
        assert_eq!(cluster(&reports, 40.0, 30.0), vec![vec![0, 1], vec![2]]);
    }

    #[test]
    fn a_problem_fixed_then_reported_again_is_a_new_incident() {
        let reports = [
            report(42.3560, -71.0700, 0, Some(5)),
            report(42.3560, -71.0700, 20, None), // after the fix
        ];
        assert_eq!(cluster(&reports, 40.0, 30.0), vec![vec![0], vec![1]]);
    }

    #[test]
    fn reports_too_far_apart_in_time_are_separate() {
        let reports = [
            report(42.3560, -71.0700, 0, None),
            report(42.3560, -71.0700, 90, None),
        ];
        assert_eq!(cluster(&reports, 40.0, 30.0), vec![vec![0], vec![1]]);
        assert_eq!(cluster(&reports, 40.0, 120.0), vec![vec![0, 1]]);
    }

    #[test]
    fn projection_keeps_city_distances() {
        // 0.001 degree of latitude ~ 111 m; 0.001 of longitude at 42.36 N ~ 82 m.
        let reports = [
            report(42.3600, -71.0600, 0, None),
            report(42.3610, -71.0610, 0, None),
        ];
        let points = project(&reports);
        let dx = points.0[1].x() - points.0[0].x();
        let dy = points.0[1].y() - points.0[0].y();
        let projected = (dx * dx + dy * dy).sqrt();
        let great_circle = crate::dedup::distance_m(reports[0].position, reports[1].position);
        assert!(
            (projected - great_circle).abs() / great_circle < 0.005,
            "{projected} vs {great_circle}"
        );
    }
}
