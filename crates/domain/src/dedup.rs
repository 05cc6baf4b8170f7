//! Duplicate detection: how likely an open incident is the problem being reported.
//!
//! A candidate's score is the product of a distance term and an age term, each decaying with
//! the category's own scale (its dedup radius and window: a street light is a point, an
//! abandoned car a block, graffiti stays for months), damped when both sides give a different
//! street address, and raised a little by similar descriptions. Scores are in 0..=1.25.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use geo::{Distance, Haversine, Point};
use serde::Serialize;
use utoipa::ToSchema;

use crate::GeoPoint;

/// Candidates scoring below this (a fifth of certainty) are not worth a resident's attention.
pub const SHOW_THRESHOLD: f64 = 0.2;
/// A candidate scoring at least this is the same problem: the report joins its incident.
pub const AUTO_LINK_THRESHOLD: f64 = 0.8;
/// At most this many candidates are shown.
pub const MAX_SHOWN: usize = 5;

/// Damping when both addresses are known and differ but name the same street.
const SAME_STREET_OTHER_NUMBER: f64 = 0.7;
/// Damping when both addresses are known and name different streets.
const OTHER_STREET: f64 = 0.5;
/// The most similar descriptions can add (a quarter of the score).
const DESCRIPTION_WEIGHT: f64 = 0.25;

/// A category's sense of "the same problem".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DedupPolicy {
    /// Distance at which the distance term falls to 1/e.
    pub radius_m: f64,
    /// Age at which the age term falls to 1/e.
    pub window_days: f64,
}

impl DedupPolicy {
    /// How far to look: beyond this the distance term alone is below [`SHOW_THRESHOLD`].
    pub fn search_radius_m(self) -> f64 {
        self.radius_m * -SHOW_THRESHOLD.ln()
    }

    /// How far back to look: beyond this the age term alone is below [`SHOW_THRESHOLD`].
    pub fn search_window_days(self) -> f64 {
        self.window_days * -SHOW_THRESHOLD.ln()
    }
}

/// What is being reported.
#[derive(Debug, Clone, Copy)]
pub struct Submission<'a> {
    pub position: GeoPoint,
    pub at: DateTime<Utc>,
    pub address: Option<&'a str>,
    pub description: &'a str,
}

/// An open incident that might be the same problem.
#[derive(Debug, Clone, Copy)]
pub struct Incident<'a> {
    pub position: GeoPoint,
    pub opened_at: DateTime<Utc>,
    pub address: Option<&'a str>,
    pub description: &'a str,
}

/// Why a candidate was proposed, for the resident and for crews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchReason {
    /// Within the category's radius.
    Nearby,
    /// At the same street address.
    SameAddress,
    /// Reported within the category's window.
    Recent,
    /// The descriptions share words.
    SimilarDescription,
}

/// A scored candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub score: f64,
    pub distance_m: f64,
    pub reasons: Vec<MatchReason>,
}

/// Great-circle distance in metres.
pub fn distance_m(a: GeoPoint, b: GeoPoint) -> f64 {
    Haversine.distance(Point::new(a.lon(), a.lat()), Point::new(b.lon(), b.lat()))
}

/// Lowercase words of an address, without punctuation, ZIP code and city/state suffix noise.
fn address_words(address: &str) -> Vec<String> {
    address
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The street part of an address: everything after a leading house number.
fn street(words: &[String]) -> &[String] {
    match words.first() {
        Some(first) if first.starts_with(|c: char| c.is_ascii_digit()) => &words[1..],
        _ => words,
    }
}

/// How two addresses compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AddressMatch {
    Unknown,
    Same,
    SameStreet,
    Different,
}

fn compare_addresses(a: Option<&str>, b: Option<&str>) -> AddressMatch {
    let (Some(a), Some(b)) = (a, b) else {
        return AddressMatch::Unknown;
    };
    let (a, b) = (address_words(a), address_words(b));
    if a.is_empty() || b.is_empty() {
        AddressMatch::Unknown
    } else if a == b {
        AddressMatch::Same
    } else if street(&a) == street(&b) {
        AddressMatch::SameStreet
    } else {
        AddressMatch::Different
    }
}

const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "at", "de", "des", "du", "for", "in", "is", "it", "la", "le", "les", "of",
    "on", "the", "there", "to", "un", "une", "et", "est", "il", "y", "a", "sur", "with",
];

fn content_words(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| word.chars().count() > 2)
        .map(str::to_lowercase)
        .filter(|word| !STOP_WORDS.contains(&word.as_str()))
        .collect()
}

/// Jaccard similarity of the content words, when both texts say something.
fn description_similarity(a: &str, b: &str) -> Option<f64> {
    let (a, b) = (content_words(a), content_words(b));
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let shared = a.intersection(&b).count() as f64;
    Some(shared / a.union(&b).count() as f64)
}

/// Scores `incident` as the problem `submission` reports, under `policy`.
pub fn assess(
    policy: DedupPolicy,
    submission: Submission<'_>,
    incident: Incident<'_>,
) -> Assessment {
    let distance_m = distance_m(submission.position, incident.position);
    let age_days = ((submission.at - incident.opened_at).num_seconds().max(0) as f64) / 86_400.0;
    let mut reasons = Vec::new();
    let near = (-distance_m / policy.radius_m).exp();
    if distance_m <= policy.radius_m {
        reasons.push(MatchReason::Nearby);
    }
    let fresh = (-age_days / policy.window_days).exp();
    if age_days <= policy.window_days {
        reasons.push(MatchReason::Recent);
    }
    let address_factor = match compare_addresses(submission.address, incident.address) {
        AddressMatch::Same => {
            reasons.push(MatchReason::SameAddress);
            1.0
        }
        AddressMatch::Unknown => 1.0,
        AddressMatch::SameStreet => SAME_STREET_OTHER_NUMBER,
        AddressMatch::Different => OTHER_STREET,
    };
    let text_factor = match description_similarity(submission.description, incident.description) {
        Some(similarity) if similarity > 0.0 => {
            if similarity >= 0.3 {
                reasons.push(MatchReason::SimilarDescription);
            }
            1.0 + DESCRIPTION_WEIGHT * similarity
        }
        _ => 1.0,
    };
    Assessment {
        score: near * fresh * address_factor * text_factor,
        distance_m,
        reasons,
    }
}

/// What to do with a submission given its best candidate's score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Confident: the report joins the incident.
    Link,
    /// Plausible: show it and let the resident decide.
    Show,
    /// Not worth showing.
    Ignore,
}

pub fn decide(score: f64) -> Decision {
    if score >= AUTO_LINK_THRESHOLD {
        Decision::Link
    } else if score >= SHOW_THRESHOLD {
        Decision::Show
    } else {
        Decision::Ignore
    }
}

/// Priority (1 urgent .. 5 low) after `supporters` residents said "me too": one level more
/// urgent at 2, 5 and 10 supporters, never above 1.
pub fn priority_with_support(default_priority: i16, supporters: i32) -> i16 {
    let boost = match supporters {
        s if s >= 10 => 3,
        s if s >= 5 => 2,
        s if s >= 2 => 1,
        _ => 0,
    };
    (default_priority - boost).max(1)
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::{Latitude, Longitude};

    fn at(lat: f64, lon: f64) -> GeoPoint {
        GeoPoint::new(Latitude::new(lat).unwrap(), Longitude::new(lon).unwrap())
    }

    const POLICY: DedupPolicy = DedupPolicy {
        radius_m: 40.0,
        window_days: 30.0,
    };

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2015-03-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn submission(address: Option<&'static str>) -> Submission<'static> {
        Submission {
            position: at(42.3467, -71.0972),
            at: now(),
            address,
            description: "",
        }
    }

    fn incident(
        lat: f64,
        lon: f64,
        days_ago: i64,
        address: Option<&'static str>,
    ) -> Incident<'static> {
        Incident {
            position: at(lat, lon),
            opened_at: now() - Duration::days(days_ago),
            address,
            description: "",
        }
    }

    #[test]
    fn haversine_distance_is_in_metres() {
        // 0.001 degree of latitude is about 111 m.
        let d = distance_m(at(42.0, -71.0), at(42.001, -71.0));
        assert!((d - 111.2).abs() < 0.5, "{d}");
    }

    #[test]
    fn the_same_spot_reported_today_is_linked() {
        let same = assess(
            POLICY,
            submission(None),
            incident(42.3467, -71.0972, 0, None),
        );
        assert!((same.score - 1.0).abs() < 1e-9);
        assert_eq!(decide(same.score), Decision::Link);
        assert!(same.reasons.contains(&MatchReason::Nearby));
        assert!(same.reasons.contains(&MatchReason::Recent));
    }

    #[test]
    fn scores_fall_with_distance_and_age() {
        let near = assess(
            POLICY,
            submission(None),
            incident(42.3468, -71.0972, 1, None),
        );
        let far = assess(
            POLICY,
            submission(None),
            incident(42.3477, -71.0972, 1, None),
        );
        let old = assess(
            POLICY,
            submission(None),
            incident(42.3468, -71.0972, 50, None),
        );
        assert!(near.score > far.score && near.score > old.score);
        assert_eq!(
            decide(far.score),
            Decision::Ignore,
            "111 m is far for a 40 m radius"
        );
        assert!(!far.reasons.contains(&MatchReason::Nearby));
        assert!(!old.reasons.contains(&MatchReason::Recent));
    }

    #[test]
    fn the_search_bounds_cover_everything_that_could_be_shown() {
        let radius = POLICY.search_radius_m();
        assert!(((-radius / POLICY.radius_m).exp() - SHOW_THRESHOLD).abs() < 1e-9);
        let window = POLICY.search_window_days();
        assert!(((-window / POLICY.window_days).exp() - SHOW_THRESHOLD).abs() < 1e-9);
    }

    #[test]
    fn addresses_raise_or_damp_confidence() {
        let here = Some("145 Ipswich St Boston MA 02215");
        let same = assess(
            POLICY,
            submission(here),
            incident(42.3468, -71.0972, 2, here),
        );
        let neighbour = assess(
            POLICY,
            submission(here),
            incident(42.3468, -71.0972, 2, Some("151 Ipswich St Boston MA 02215")),
        );
        let elsewhere = assess(
            POLICY,
            submission(here),
            incident(42.3468, -71.0972, 2, Some("2 Boylston St Boston MA 02116")),
        );
        assert!(same.reasons.contains(&MatchReason::SameAddress));
        assert!(same.score > neighbour.score && neighbour.score > elsewhere.score);
        assert!((neighbour.score / same.score - SAME_STREET_OTHER_NUMBER).abs() < 1e-9);
    }

    #[test]
    fn similar_descriptions_help_a_little() {
        let base = submission(None);
        let talking = Submission {
            description: "Deep pothole in the bike lane",
            ..base
        };
        let mut similar = incident(42.3470, -71.0972, 3, None);
        similar.description = "pothole in bike lane, deep";
        let mut unrelated = incident(42.3470, -71.0972, 3, None);
        unrelated.description = "Sign knocked over by a truck";
        let with = assess(POLICY, talking, similar);
        let without = assess(POLICY, talking, unrelated);
        assert!(with.score > without.score);
        assert!(with.score / without.score <= 1.0 + DESCRIPTION_WEIGHT);
        assert!(with.reasons.contains(&MatchReason::SimilarDescription));
    }

    #[test]
    fn support_raises_priority_but_not_past_urgent() {
        assert_eq!(priority_with_support(3, 0), 3);
        assert_eq!(priority_with_support(3, 2), 2);
        assert_eq!(priority_with_support(3, 5), 1);
        assert_eq!(priority_with_support(2, 100), 1);
    }
}
