//! Batch clustering of past reports into incidents, by the same rule as a live submission:
//! taken in time order, each report joins the open incident it matches confidently
//! ([`crate::dedup::assess`] reaching [`AUTO_LINK_THRESHOLD`] under its own category's policy)
//! or opens a new one. DBSCAN on projected metres (geo's DBSCAN is Euclidean, so positions are
//! projected first) first splits the reports into places no link can cross, which keeps the
//! replay short; an incident never grows wider than twice its categories' link radius, however
//! many reports chain along a street.

use chrono::{DateTime, Utc};
use geo::{Dbscan, MultiPoint, Point};

use crate::{
    GeoPoint,
    dedup::{self, AUTO_LINK_THRESHOLD, DedupPolicy, Vocabulary},
};

/// One past report to cluster.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PastReport<'a> {
    pub position: GeoPoint,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub address: Option<&'a str>,
    pub description: &'a str,
    /// Its category's sense of "the same problem".
    pub policy: DedupPolicy,
}

/// Metres per degree of latitude, and of longitude at the equator (WGS 84 mean values).
const METRES_PER_DEGREE_LAT: f64 = 110_574.0;
const METRES_PER_DEGREE_LON: f64 = 111_320.0;

/// An equirectangular projection centred on the reports: within a city, distances in it are
/// within a fraction of a percent of great-circle ones.
fn project(reports: &[PastReport<'_>]) -> MultiPoint<f64> {
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

/// An incident being rebuilt: it is where, and says what, its first report said.
struct Rebuilt {
    members: Vec<usize>,
    last_reported_at: DateTime<Utc>,
    /// When its last open report closed; `None` while one is still open.
    closes_at: Option<DateTime<Utc>>,
}

impl Rebuilt {
    fn is_open_at(&self, at: DateTime<Utc>) -> bool {
        self.closes_at.is_none_or(|closed| closed > at)
    }
}

/// Replays the reports of one place (`members`, indices into `reports`) in time order.
fn replay(
    reports: &[PastReport<'_>],
    mut members: Vec<usize>,
    vocabulary: &Vocabulary,
) -> Vec<Vec<usize>> {
    members.sort_by_key(|&i| (reports[i].created_at, i));
    let mut incidents: Vec<Rebuilt> = Vec::new();
    for index in members {
        let report = reports[index];
        let submission = dedup::Submission {
            position: report.position,
            at: report.created_at,
            address: report.address,
            description: report.description,
        };
        let best = incidents
            .iter()
            .enumerate()
            .filter(|(_, incident)| incident.is_open_at(report.created_at))
            .filter_map(|(at, incident)| {
                let first = reports[incident.members[0]];
                // Cheap first: most incidents of a place are out of linking reach.
                if dedup::distance_m(report.position, first.position)
                    > report.policy.link_radius_m()
                {
                    return None;
                }
                let incident = dedup::Incident {
                    position: first.position,
                    last_reported_at: incident.last_reported_at,
                    address: first.address,
                    description: first.description,
                };
                let score = dedup::assess(report.policy, submission, incident, vocabulary).score;
                (score >= AUTO_LINK_THRESHOLD).then_some((score, at))
            })
            // The best score; between equals, the latest incident, as the live search orders.
            .max_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        match best {
            Some((_, at)) => {
                let incident = &mut incidents[at];
                incident.members.push(index);
                incident.last_reported_at = report.created_at;
                incident.closes_at = incident
                    .closes_at
                    .zip(report.closed_at)
                    .map(|(a, b)| a.max(b));
            }
            None => incidents.push(Rebuilt {
                members: vec![index],
                last_reported_at: report.created_at,
                closes_at: report.closed_at,
            }),
        }
    }
    incidents.into_iter().map(|i| i.members).collect()
}

/// Groups `reports` (of one dedup group, words weighed by `vocabulary`) into incidents:
/// indices into `reports`, each incident in time order, incidents by their first report.
pub fn cluster(reports: &[PastReport<'_>], vocabulary: &Vocabulary) -> Vec<Vec<usize>> {
    let reach = reports
        .iter()
        .map(|r| r.policy.link_radius_m())
        .fold(0.0, f64::max);
    let labels = project(reports).dbscan(reach, 1);
    let mut places: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (index, label) in labels.iter().enumerate() {
        // With one sample per core every point is in a cluster; noise would stay alone.
        places
            .entry(label.unwrap_or(usize::MAX - index))
            .or_default()
            .push(index);
    }
    let mut incidents: Vec<Vec<usize>> = places
        .into_values()
        .flat_map(|members| replay(reports, members, vocabulary))
        .collect();
    incidents.sort();
    incidents
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::{Latitude, Longitude};

    const LIGHT: DedupPolicy = DedupPolicy {
        radius_m: 40.0,
        window_days: 30.0,
    };

    fn report(lat: f64, lon: f64, day: i64, closed_day: Option<i64>) -> PastReport<'static> {
        let start = DateTime::parse_from_rfc3339("2015-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        PastReport {
            position: GeoPoint::new(Latitude::new(lat).unwrap(), Longitude::new(lon).unwrap()),
            created_at: start + Duration::days(day),
            closed_at: closed_day.map(|d| start + Duration::days(d)),
            address: None,
            description: "",
            policy: LIGHT,
        }
    }

    fn words() -> Vocabulary {
        Vocabulary::default()
    }

    #[test]
    fn nearby_reports_of_an_open_problem_form_one_incident() {
        let reports = [
            report(42.3560, -71.0700, 0, Some(10)),
            report(42.35605, -71.0700, 1, Some(3)), // ~6 m away, the next day
            report(42.3580, -71.0700, 3, None),     // ~220 m away
        ];
        assert_eq!(cluster(&reports, &words()), vec![vec![0, 1], vec![2]]);
    }

    #[test]
    fn a_problem_fixed_then_reported_again_is_a_new_incident() {
        let reports = [
            report(42.3560, -71.0700, 0, Some(5)),
            report(42.3560, -71.0700, 20, None), // after the fix
        ];
        assert_eq!(cluster(&reports, &words()), vec![vec![0], vec![1]]);
    }

    #[test]
    fn a_report_long_after_the_last_one_is_not_linked_with_confidence() {
        let reports = [
            report(42.3560, -71.0700, 0, None),
            report(42.3560, -71.0700, 3, None),
            report(42.3560, -71.0700, 60, None),
            report(42.3560, -71.0700, 62, None),
        ];
        assert_eq!(
            cluster(&reports, &words()),
            vec![vec![0, 1], vec![2, 3]],
            "the third came two windows after the second"
        );
    }

    #[test]
    fn reports_chained_along_a_street_do_not_become_one_wide_incident() {
        // A report every 5 m along 200 m of one street, all open: DBSCAN alone would chain
        // them into one component.
        let reports: Vec<PastReport<'static>> = (0..40)
            .map(|i| report(42.3500 + f64::from(i) * 0.000_045, -71.0700, 0, None))
            .collect();
        let incidents = cluster(&reports, &words());
        assert!(incidents.len() > 5, "{incidents:?}");
        let widest = incidents
            .iter()
            .flat_map(|members| {
                members
                    .iter()
                    .flat_map(move |&a| members.iter().map(move |&b| (a, b)))
            })
            .map(|(a, b)| dedup::distance_m(reports[a].position, reports[b].position))
            .fold(0.0, f64::max);
        assert!(widest <= 2.0 * LIGHT.link_radius_m(), "{widest} m");
    }

    #[test]
    fn each_category_keeps_its_own_radius_within_a_group() {
        let pothole = DedupPolicy {
            radius_m: 30.0,
            window_days: 30.0,
        };
        let resurfacing = DedupPolicy {
            radius_m: 100.0,
            window_days: 180.0,
        };
        let at = |lat, policy| PastReport {
            policy,
            ..report(lat, -71.0700, 0, None)
        };
        // ~15 m apart each time: close for a stretch of road, far for a pothole.
        let reports = [
            at(42.3500, pothole),
            at(42.350_135, pothole),
            at(42.3600, resurfacing),
            at(42.360_135, resurfacing),
        ];
        assert_eq!(
            cluster(&reports, &words()),
            vec![vec![0], vec![1], vec![2, 3]]
        );
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
