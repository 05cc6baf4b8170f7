//! Duplicate detection: how likely an open incident is the problem being reported.
//!
//! A candidate's score multiplies evidence. Distance and age set it, each on the category's own
//! scale (its dedup radius and window: a street light is a point, an abandoned car a block,
//! graffiti stays for months): the distance term decays exponentially, the age term — the time
//! since the incident was last reported — hyperbolically, since how fast a problem silently
//! goes away is uncertain and an open incident is a live problem. Addresses then raise the score
//! when both name the same place and damp it when they name another number or another street;
//! descriptions raise it by the words they share that are rare among the dedup group's open
//! incidents, so a fixed label every report carries counts for nothing.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use geo::{Distance, Haversine, Point};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    GeoPoint,
    street_address::{Correspondence, StreetAddress},
};

/// Candidates scoring below this (a fifth of certainty) are not worth a resident's attention.
pub const SHOW_THRESHOLD: f64 = 0.2;
/// A candidate scoring at least this is the same problem: the report joins its incident.
pub const AUTO_LINK_THRESHOLD: f64 = 0.8;
/// At most this many candidates are shown.
pub const MAX_SHOWN: usize = 5;

/// Raise when both addresses name the same place (the same number, or the same corner).
const SAME_ADDRESS: f64 = 1.25;
/// Damping when both addresses name the same street but another number or corner.
const SAME_STREET_OTHER_NUMBER: f64 = 0.7;
/// Damping when both addresses name different streets.
const OTHER_STREET: f64 = 0.5;
/// The most shared descriptions can add (a quarter of the score).
const DESCRIPTION_WEIGHT: f64 = 0.25;
/// The highest score: the same spot, reported now, at the same address, in the same words.
pub const MAX_SCORE: f64 = SAME_ADDRESS * (1.0 + DESCRIPTION_WEIGHT);

/// A category's sense of "the same problem".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DedupPolicy {
    /// Distance at which the distance term falls to 1/e.
    pub radius_m: f64,
    /// Time since the last report at which the age term falls to 1/2.
    pub window_days: f64,
}

impl DedupPolicy {
    /// The policy of a category with this dedup radius and window (as the catalog stores them).
    pub fn of_category(radius_m: i32, window_days: i32) -> Self {
        Self {
            radius_m: f64::from(radius_m),
            window_days: f64::from(window_days),
        }
    }

    /// How far to look: beyond this the distance term alone is below [`SHOW_THRESHOLD`]. An
    /// agreeing address or description raises a candidate within reach; it never reaches
    /// farther.
    pub fn search_radius_m(self) -> f64 {
        self.radius_m * -SHOW_THRESHOLD.ln()
    }

    /// How far back to look for the last report of an open incident: beyond this the age term
    /// alone is below [`SHOW_THRESHOLD`] (four windows).
    pub fn search_window_days(self) -> f64 {
        self.window_days * (1.0 / SHOW_THRESHOLD - 1.0)
    }

    /// Beyond this distance not even the best agreement of address and words reaches
    /// [`AUTO_LINK_THRESHOLD`].
    pub fn link_radius_m(self) -> f64 {
        self.radius_m * (MAX_SCORE / AUTO_LINK_THRESHOLD).ln()
    }

    fn nearness(self, distance_m: f64) -> f64 {
        (-distance_m / self.radius_m).exp()
    }

    fn freshness(self, age_days: f64) -> f64 {
        1.0 / (1.0 + age_days / self.window_days)
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
    /// When a resident last reported it (its opening, if nobody reported it again).
    pub last_reported_at: DateTime<Utc>,
    pub address: Option<&'a str>,
    pub description: &'a str,
}

/// Why a candidate was proposed, for the resident and for crews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchReason {
    /// Within the category's radius.
    Nearby,
    /// At the same street address or corner.
    SameAddress,
    /// Last reported within the category's window.
    Recent,
    /// The descriptions share distinctive words.
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

/// How two addresses compare, when both are given and name a street.
fn compare_addresses(a: Option<&str>, b: Option<&str>) -> Option<Correspondence> {
    let a = StreetAddress::parse(a?)?;
    let b = StreetAddress::parse(b?)?;
    Some(a.compare(&b))
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

/// Which words of a dedup group's descriptions tell one problem from another: those that
/// few of its open incidents use. A word every incident carries (the category's name, a fixed
/// label an import repeats) tells nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vocabulary {
    descriptions: usize,
    /// How many descriptions use each word.
    using: HashMap<String, usize>,
}

impl Vocabulary {
    /// The vocabulary of `descriptions` (usually the group's open incidents' summaries).
    pub fn from_descriptions<'a>(descriptions: impl IntoIterator<Item = &'a str>) -> Self {
        let mut vocabulary = Self::default();
        for description in descriptions {
            vocabulary.descriptions += 1;
            for word in content_words(description) {
                *vocabulary.using.entry(word).or_default() += 1;
            }
        }
        vocabulary
    }

    /// How many descriptions it was built from.
    pub fn descriptions(&self) -> usize {
        self.descriptions
    }

    /// From 0 (a word every description uses) to 1 (a word none uses): the smoothed inverse
    /// document frequency, over its largest value. With no descriptions, nothing is known.
    fn distinctiveness(&self, word: &str) -> f64 {
        if self.descriptions == 0 {
            return 0.0;
        }
        let documents = self.descriptions as f64 + 1.0;
        let using = self.using.get(word).copied().unwrap_or(0) as f64 + 1.0;
        (documents / using).ln() / documents.ln()
    }

    /// How much two descriptions say the same distinctive thing, from 0 to 1: the
    /// distinctiveness of the words they share, over the number of words either uses.
    fn similarity(&self, a: &str, b: &str) -> Option<f64> {
        let (a, b) = (content_words(a), content_words(b));
        if a.is_empty() || b.is_empty() {
            return None;
        }
        let shared: f64 = a.intersection(&b).map(|w| self.distinctiveness(w)).sum();
        Some(shared / a.union(&b).count() as f64)
    }
}

/// Scores `incident` as the problem `submission` reports, under `policy`, with the words of
/// the dedup group weighed by `vocabulary`.
pub fn assess(
    policy: DedupPolicy,
    submission: Submission<'_>,
    incident: Incident<'_>,
    vocabulary: &Vocabulary,
) -> Assessment {
    let distance_m = distance_m(submission.position, incident.position);
    let age_days = ((submission.at - incident.last_reported_at)
        .num_seconds()
        .max(0) as f64)
        / 86_400.0;
    let mut reasons = Vec::new();
    if distance_m <= policy.radius_m {
        reasons.push(MatchReason::Nearby);
    }
    if age_days <= policy.window_days {
        reasons.push(MatchReason::Recent);
    }
    let address_factor = match compare_addresses(submission.address, incident.address) {
        Some(Correspondence::Same) => {
            reasons.push(MatchReason::SameAddress);
            SAME_ADDRESS
        }
        Some(Correspondence::SameStreet) => SAME_STREET_OTHER_NUMBER,
        Some(Correspondence::OtherStreet) => OTHER_STREET,
        None => 1.0,
    };
    let similarity = vocabulary
        .similarity(submission.description, incident.description)
        .unwrap_or(0.0);
    if similarity >= 0.3 {
        reasons.push(MatchReason::SimilarDescription);
    }
    let text_factor = 1.0 + DESCRIPTION_WEIGHT * similarity;
    Assessment {
        score: policy.nearness(distance_m)
            * policy.freshness(age_days)
            * address_factor
            * text_factor,
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
            last_reported_at: now() - Duration::days(days_ago),
            address,
            description: "",
        }
    }

    fn no_words() -> Vocabulary {
        Vocabulary::default()
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
            &no_words(),
        );
        assert!((same.score - 1.0).abs() < 1e-9);
        assert_eq!(decide(same.score), Decision::Link);
        assert!(same.reasons.contains(&MatchReason::Nearby));
        assert!(same.reasons.contains(&MatchReason::Recent));
    }

    #[test]
    fn scores_fall_with_distance_and_age() {
        let score = |lat, days| {
            assess(
                POLICY,
                submission(None),
                incident(lat, -71.0972, days, None),
                &no_words(),
            )
        };
        let (near, far, old) = (score(42.3468, 1), score(42.3477, 1), score(42.3468, 50));
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
    fn the_search_bounds_are_where_distance_or_age_alone_falls_below_showing() {
        let radius = POLICY.search_radius_m();
        assert!((POLICY.nearness(radius) - SHOW_THRESHOLD).abs() < 1e-9);
        let window = POLICY.search_window_days();
        assert!((POLICY.freshness(window) - SHOW_THRESHOLD).abs() < 1e-9);
        assert!((window - 4.0 * POLICY.window_days).abs() < 1e-9);
        let link = POLICY.link_radius_m();
        assert!((POLICY.nearness(link) * MAX_SCORE - AUTO_LINK_THRESHOLD).abs() < 1e-9);
        assert!(link < radius);
    }

    #[test]
    fn an_open_incident_fades_slowly_and_revives_when_reported_again() {
        // Half the certainty after one window, still worth showing after two.
        assert!((POLICY.freshness(POLICY.window_days) - 0.5).abs() < 1e-9);
        let neglected = assess(
            POLICY,
            submission(None),
            incident(42.3468, -71.0972, 60, None),
            &no_words(),
        );
        assert_eq!(decide(neglected.score), Decision::Show, "{neglected:?}");
        // An exponential age term would have dropped it.
        let exponential = (-2.0_f64).exp() * POLICY.nearness(neglected.distance_m);
        assert_eq!(decide(exponential), Decision::Ignore);
        let confirmed = assess(
            POLICY,
            submission(None),
            incident(42.3468, -71.0972, 2, None),
            &no_words(),
        );
        assert!(confirmed.score > 2.0 * neglected.score);
        assert!(confirmed.reasons.contains(&MatchReason::Recent));
    }

    #[test]
    fn addresses_raise_or_damp_confidence() {
        let here = Some("145 Ipswich St Boston MA 02215");
        let score = |address| {
            assess(
                POLICY,
                submission(here),
                incident(42.3468, -71.0972, 2, address),
                &no_words(),
            )
        };
        let same = score(Some("145 Ipswich Street, Boston"));
        let unknown = score(None);
        let neighbour = score(Some("151 Ipswich St Boston MA 02215"));
        let elsewhere = score(Some("2 Boylston St Boston MA 02116"));
        assert!(same.reasons.contains(&MatchReason::SameAddress));
        assert!(!neighbour.reasons.contains(&MatchReason::SameAddress));
        assert!((same.score / unknown.score - SAME_ADDRESS).abs() < 1e-9);
        assert!((neighbour.score / unknown.score - SAME_STREET_OTHER_NUMBER).abs() < 1e-9);
        assert!((elsewhere.score / unknown.score - OTHER_STREET).abs() < 1e-9);
        assert!(
            (score(Some("Boston")).score - unknown.score).abs() < 1e-9,
            "no street named: unknown"
        );
    }

    #[test]
    fn the_same_corner_written_another_way_is_the_same_address() {
        let corner = Submission {
            address: Some("INTERSECTION of South St & Walter St Roslindale MA"),
            ..submission(None)
        };
        let found = assess(
            POLICY,
            corner,
            incident(
                42.3468,
                -71.0972,
                2,
                Some("INTERSECTION of S Walter St & South St Roslindale MA"),
            ),
            &no_words(),
        );
        assert!(
            found.reasons.contains(&MatchReason::SameAddress),
            "{found:?}"
        );
    }

    fn abandoned_cars() -> Vocabulary {
        Vocabulary::from_descriptions(std::iter::repeat_n("Abandoned Vehicles", 40))
    }

    #[test]
    fn a_label_every_report_carries_counts_for_nothing() {
        let labelled = Submission {
            description: "Abandoned Vehicles",
            ..submission(None)
        };
        let mut other = incident(42.3470, -71.0972, 3, None);
        other.description = "Abandoned Vehicles";
        let with_label = assess(POLICY, labelled, other, &abandoned_cars());
        let without = assess(
            POLICY,
            submission(None),
            incident(42.3470, -71.0972, 3, None),
            &abandoned_cars(),
        );
        assert!((with_label.score - without.score).abs() < 1e-9);
        assert!(
            !with_label
                .reasons
                .contains(&MatchReason::SimilarDescription)
        );
    }

    #[test]
    fn shared_distinctive_words_raise_a_candidate_a_little() {
        let vocabulary = Vocabulary::from_descriptions(
            [
                "pothole",
                "pothole on the corner",
                "big pothole",
                "pothole near the school",
                "pothole in front of 12",
                "deep pothole",
            ]
            .into_iter()
            .cycle()
            .take(60),
        );
        assert_eq!(vocabulary.descriptions(), 60);
        assert!(vocabulary.distinctiveness("pothole") < 0.01);
        assert!(vocabulary.distinctiveness("bike") > 0.99);
        let talking = Submission {
            description: "Deep pothole in the bike lane",
            ..submission(None)
        };
        let with = |description| {
            let mut candidate = incident(42.3470, -71.0972, 3, None);
            candidate.description = description;
            assess(POLICY, talking, candidate, &vocabulary)
        };
        let similar = with("pothole in bike lane, deep");
        let vague = with("pothole");
        let unrelated = with("pothole near the school");
        assert!(similar.score > vague.score);
        assert!((vague.score - unrelated.score).abs() < 1e-9);
        assert!(similar.score / unrelated.score <= 1.0 + DESCRIPTION_WEIGHT);
        assert!(similar.reasons.contains(&MatchReason::SimilarDescription));
        assert!(!vague.reasons.contains(&MatchReason::SimilarDescription));
        // Knowing no descriptions yet, no word can be told distinctive.
        let naive = assess(
            POLICY,
            talking,
            Incident {
                description: "pothole in bike lane, deep",
                ..incident(42.3470, -71.0972, 3, None)
            },
            &no_words(),
        );
        assert!((naive.score - unrelated.score).abs() < 1e-9);
    }

    #[test]
    fn support_raises_priority_but_not_past_urgent() {
        assert_eq!(priority_with_support(3, 0), 3);
        assert_eq!(priority_with_support(3, 2), 2);
        assert_eq!(priority_with_support(3, 5), 1);
        assert_eq!(priority_with_support(2, 100), 1);
    }
}
