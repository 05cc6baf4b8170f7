//! Addresses as people type them and as city records spell them, reduced to one key so that the
//! two meet: lowercase words without punctuation, street types, directions and ordinals
//! abbreviated the way the USPS does it (Publication 28: `Street` → `st`, `West` → `w`,
//! `Third` → `3rd`), and an intersection's two streets in a fixed order whatever order they were
//! named in. The same functions build the gazetteer's keys and read a resident's query, so a key
//! never depends on which side spelled it.

use serde::Serialize;
use utoipa::ToSchema;

use crate::Violation;

/// The longest address query read, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// The most words of a query that are looked at.
const MAX_WORDS: usize = 24;
/// The most trailing words tried as a locality (`jamaica plain`, `w roxbury`).
const MAX_LOCALITY_WORDS: usize = 3;

/// Street types, directions, ordinals and honorifics, each to its one spelling.
const CANONICAL: &[(&str, &str)] = &[
    ("street", "st"),
    ("str", "st"),
    ("avenue", "ave"),
    ("av", "ave"),
    ("road", "rd"),
    ("boulevard", "blvd"),
    ("drive", "dr"),
    ("place", "pl"),
    ("square", "sq"),
    ("terrace", "ter"),
    ("terr", "ter"),
    ("court", "ct"),
    ("lane", "ln"),
    ("parkway", "pkwy"),
    ("highway", "hwy"),
    ("plaza", "plz"),
    ("circle", "cir"),
    ("wharf", "whf"),
    ("alley", "aly"),
    ("extension", "ext"),
    ("heights", "hts"),
    ("mount", "mt"),
    ("point", "pt"),
    ("expressway", "expy"),
    ("crescent", "cres"),
    ("turnpike", "tpke"),
    ("wy", "way"),
    ("fort", "ft"),
    ("north", "n"),
    ("south", "s"),
    ("east", "e"),
    ("west", "w"),
    ("saint", "st"),
    ("first", "1st"),
    ("second", "2nd"),
    ("third", "3rd"),
    ("fourth", "4th"),
    ("fifth", "5th"),
    ("sixth", "6th"),
    ("seventh", "7th"),
    ("eighth", "8th"),
    ("ninth", "9th"),
    ("tenth", "10th"),
];

/// Words that join the two streets of an intersection.
pub(crate) const JOINERS: &[&str] = &["&", "and", "/", "@"];

fn canonical(word: &str) -> String {
    CANONICAL
        .iter()
        .find(|(long, _)| *long == word)
        .map_or_else(|| word.to_owned(), |(_, short)| (*short).to_owned())
}

/// Lowercase words with their canonical spelling; `&`, `/` and `@` are words of their own,
/// apostrophes vanish (`O'Brien` → `obrien`), other punctuation separates.
pub fn words(text: &str) -> Vec<String> {
    let mut spaced = String::with_capacity(text.len() + 8);
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            '\'' | '\u{2019}' => {}
            '&' | '/' | '@' => {
                spaced.push(' ');
                spaced.push(c);
                spaced.push(' ');
            }
            c if c.is_alphanumeric() || c == '-' => spaced.push(c),
            _ => spaced.push(' '),
        }
    }
    spaced
        .split_whitespace()
        .map(|word| word.trim_matches('-'))
        .filter(|word| !word.is_empty())
        .take(MAX_WORDS)
        .map(canonical)
        .collect()
}

/// What an address names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    /// A house number on a street: `33 beacon st`.
    Numbered,
    /// Two streets crossing: `beacon st & charles st`.
    Intersection,
    /// A named place or a street without a number.
    Place,
}

impl AddressKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Numbered => "numbered",
            Self::Intersection => "intersection",
            Self::Place => "place",
        }
    }
}

/// The normalised street part of an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreetKey {
    /// The whole key: `33 beacon st`, `beacon st & charles st`.
    pub key: String,
    /// The street without its number (the key itself for places and intersections).
    pub street: String,
    /// The house numbers a numbered address covers (`145-151` → 145..=151).
    pub houses: Option<(i32, i32)>,
    pub kind: AddressKind,
}

/// `33`, `12a`, `145-151`: the numbers a house number covers. A range written backwards
/// (`12-4`, Boston's shorthand for 12–14) covers its first number only.
pub(crate) fn house_numbers(word: &str) -> Option<(i32, i32)> {
    fn number(part: &str) -> Option<i32> {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        let rest = &part[digits.len()..];
        if digits.is_empty() || digits.len() > 6 || rest.chars().count() > 1 {
            return None;
        }
        if !rest.chars().all(|c| c.is_ascii_alphabetic()) {
            return None;
        }
        digits.parse().ok()
    }
    match word.split_once('-') {
        None => number(word).map(|n| (n, n)),
        Some((from, to)) => {
            let (from, to) = (number(from)?, number(to)?);
            Some((from, if to >= from { to } else { from }))
        }
    }
}

/// The key of a street part given as words (see [`words`]); `None` when nothing is left.
pub fn street_key(words: &[String]) -> Option<StreetKey> {
    let mut words: &[String] = words;
    if words.first().is_some_and(|w| w == "intersection") {
        words = &words[1..];
        if words.first().is_some_and(|w| w == "of") {
            words = &words[1..];
        }
    }
    if words.is_empty() {
        return None;
    }
    let joiners: Vec<usize> = words
        .iter()
        .enumerate()
        .filter(|(_, w)| JOINERS.contains(&w.as_str()))
        .map(|(i, _)| i)
        .collect();
    if let [at] = joiners[..]
        && at > 0
        && at + 1 < words.len()
    {
        let mut streets = [words[..at].join(" "), words[at + 1..].join(" ")];
        streets.sort();
        let key = streets.join(" & ");
        return Some(StreetKey {
            street: key.clone(),
            key,
            houses: None,
            kind: AddressKind::Intersection,
        });
    }
    let key = words.join(" ");
    match (house_numbers(&words[0]), words.len() > 1) {
        (Some(houses), true) => Some(StreetKey {
            street: words[1..].join(" "),
            key,
            houses: Some(houses),
            kind: AddressKind::Numbered,
        }),
        _ => Some(StreetKey {
            street: key.clone(),
            key,
            houses: None,
            kind: AddressKind::Place,
        }),
    }
}

/// The key of a locality (`South Boston` → `s boston`).
pub fn locality_key(text: &str) -> String {
    words(text).join(" ")
}

/// One way to read a query: this street part, in this locality if one was named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub street: StreetKey,
    pub locality: Option<String>,
}

/// An address typed by a person, with every way its trailing words may name a locality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressQuery {
    /// The whole query as one key (no locality split), for similarity search.
    pub text: String,
    /// Readings, the one without a locality first.
    pub readings: Vec<Reading>,
}

fn is_zip(word: &str) -> bool {
    let (five, plus) = word.split_once('-').unwrap_or((word, ""));
    five.len() == 5
        && five.bytes().all(|b| b.is_ascii_digit())
        && (plus.is_empty() || (plus.len() == 4 && plus.bytes().all(|b| b.is_ascii_digit())))
}

impl AddressQuery {
    /// Reads `text`: at most [`MAX_QUERY_CHARS`] characters with at least one letter or digit.
    /// A trailing country, ZIP code and state (`MA`, `Massachusetts`) are dropped.
    pub fn parse(text: &str) -> Result<Self, Violation> {
        let length = text.trim().chars().count();
        if length > MAX_QUERY_CHARS {
            return Err(Violation::new(
                "too_long",
                format!("the address must be at most {MAX_QUERY_CHARS} characters, got {length}"),
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(Violation::new(
                "control_characters",
                "the address must not contain control characters",
            ));
        }
        let mut words = words(text);
        if words.last().is_some_and(|w| w == "usa" || w == "us") {
            words.pop();
        }
        if words.last().is_some_and(|w| is_zip(w)) {
            words.pop();
        }
        if words
            .last()
            .is_some_and(|w| w == "ma" || w == "massachusetts")
            && words.len() > 1
        {
            words.pop();
        }
        if words.last().is_some_and(|w| is_zip(w)) {
            words.pop();
        }
        let whole = street_key(&words)
            .ok_or_else(|| Violation::new("empty", "the address must contain letters or digits"))?;
        let mut readings = vec![Reading {
            street: whole.clone(),
            locality: None,
        }];
        for count in 1..=MAX_LOCALITY_WORDS.min(words.len().saturating_sub(1)) {
            let (street, locality) = words.split_at(words.len() - count);
            if let Some(street) = street_key(street) {
                readings.push(Reading {
                    street,
                    locality: Some(locality.join(" ")),
                });
            }
        }
        Ok(Self {
            text: whole.key,
            readings,
        })
    }

    /// The kind of address the whole query names.
    pub fn kind(&self) -> AddressKind {
        self.readings[0].street.kind
    }

    /// The house number the query names, if any.
    pub fn house(&self) -> Option<i32> {
        self.readings[0].street.houses.map(|(from, _)| from)
    }

    /// Whether an entry of the gazetteer is what one of the readings names exactly.
    pub fn names_exactly(&self, key: &str, locality: &str) -> bool {
        self.readings.iter().any(|reading| {
            reading.street.key == key && reading.locality.as_deref().is_none_or(|l| l == locality)
        })
    }

    /// Whether an entry covering `houses` on `street` holds the query's house number.
    pub fn names_within(&self, street: &str, houses: (i32, i32), locality: &str) -> bool {
        self.readings.iter().any(|reading| {
            reading.street.kind == AddressKind::Numbered
                && reading.street.street == street
                && reading
                    .street
                    .houses
                    .is_some_and(|(n, _)| houses.0 <= n && n <= houses.1)
                && reading.locality.as_deref().is_none_or(|l| l == locality)
        })
    }
}

/// How an address matched a query, best first: `exact` (the same address), `house_in_range`
/// (the house number falls in a numbered range such as 145-151), `similar` (close words: a
/// typo, a word not typed yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchQuality {
    /// The same normalised address.
    Exact,
    /// The house number falls within a numbered range of the same street (`147` in `145-151`).
    HouseInRange,
    /// Similar words (a typo, a word not typed yet): only as good as its similarity.
    Similar,
}

/// The least word similarity (0..=1, pg_trgm's `word_similarity`) at which a similar address is
/// taken for the one a request names.
pub const MIN_SIMILARITY_TO_PLACE: f64 = 0.6;
/// Matches of the same quality closer than this to the best are the same place.
pub const SAME_PLACE_METRES: f64 = 150.0;

/// A gazetteer entry found for a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate<T> {
    pub entry: T,
    pub quality: MatchQuality,
    /// Word similarity for [`MatchQuality::Similar`], 1 otherwise.
    pub similarity: f64,
    /// How many records the entry's position was measured from.
    pub samples: i32,
    pub position: crate::GeoPoint,
}

/// What a query resolves to when a request must be placed at one point.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution<T> {
    Found(T),
    /// Several places match equally well: name the locality or the house number.
    Ambiguous(Vec<T>),
    NotFound,
}

/// Candidates best first: quality, then similarity, then how well measured.
pub fn rank<T>(candidates: &mut [Candidate<T>]) {
    candidates.sort_by(|a, b| {
        a.quality
            .cmp(&b.quality)
            .then(b.similarity.total_cmp(&a.similarity))
            .then(b.samples.cmp(&a.samples))
    });
}

/// The one place `candidates` name: the best, unless another of the same quality and
/// similarity lies elsewhere (farther than [`SAME_PLACE_METRES`]). Similar matches count only
/// from [`MIN_SIMILARITY_TO_PLACE`].
pub fn resolve<T: Clone>(mut candidates: Vec<Candidate<T>>) -> Resolution<T> {
    candidates
        .retain(|c| c.quality != MatchQuality::Similar || c.similarity >= MIN_SIMILARITY_TO_PLACE);
    rank(&mut candidates);
    let Some(best) = candidates.first() else {
        return Resolution::NotFound;
    };
    let rivals: Vec<&Candidate<T>> = candidates[1..]
        .iter()
        .filter(|c| {
            c.quality == best.quality
                && (best.similarity - c.similarity).abs() < 1e-9
                && crate::dedup::distance_m(best.position, c.position) > SAME_PLACE_METRES
        })
        .collect();
    if rivals.is_empty() {
        Resolution::Found(best.entry.clone())
    } else {
        Resolution::Ambiguous(
            std::iter::once(&best.entry)
                .chain(rivals.into_iter().map(|c| &c.entry))
                .take(5)
                .cloned()
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GeoPoint, Latitude, Longitude};

    fn key(text: &str) -> String {
        street_key(&words(text)).unwrap().key
    }

    #[test]
    fn spellings_of_one_address_share_a_key() {
        assert_eq!(key("33 Beacon St"), "33 beacon st");
        assert_eq!(key("33  BEACON   Street"), "33 beacon st");
        assert_eq!(key("33 Beacon St."), "33 beacon st");
        assert_eq!(key("W Third St"), key("West 3rd Street"));
        assert_eq!(key("Msgr O'Brien Hwy"), "msgr obrien hwy");
        assert_eq!(key("Saint Botolph Street"), key("St Botolph St"));
    }

    #[test]
    fn intersections_do_not_depend_on_the_order_of_their_streets() {
        let city = key("INTERSECTION of Hampden St & Melnea Cass Blvd");
        assert_eq!(city, "hampden st & melnea cass blvd");
        assert_eq!(key("Melnea Cass Boulevard and Hampden Street"), city);
        assert_eq!(key("melnea cass blvd / hampden st"), city);
        let parts = street_key(&words("C St & W Third St")).unwrap();
        assert_eq!(parts.kind, AddressKind::Intersection);
        // A lone joiner at an end is not an intersection.
        assert_eq!(
            street_key(&words("& Beacon St")).unwrap().kind,
            AddressKind::Place
        );
    }

    #[test]
    fn house_numbers_and_ranges() {
        let range = street_key(&words("145-151 Ipswich St")).unwrap();
        assert_eq!(range.houses, Some((145, 151)));
        assert_eq!(range.street, "ipswich st");
        assert_eq!(range.kind, AddressKind::Numbered);
        assert_eq!(
            street_key(&words("12-4 Palmer St")).unwrap().houses,
            Some((12, 12))
        );
        assert_eq!(
            street_key(&words("12A Palmer St")).unwrap().houses,
            Some((12, 12))
        );
        let place = street_key(&words("Boston Common")).unwrap();
        assert_eq!((place.kind, place.houses), (AddressKind::Place, None));
        // A number alone is not an address on a street.
        assert_eq!(street_key(&words("33")).unwrap().kind, AddressKind::Place);
    }

    #[test]
    fn queries_drop_state_and_zip_and_try_trailing_words_as_locality() {
        let query = AddressQuery::parse("33 Beacon Street, Boston, MA 02108").unwrap();
        assert_eq!(query.text, "33 beacon st boston");
        assert!(query.names_exactly("33 beacon st", "boston"));
        assert!(!query.names_exactly("33 beacon st", "dorchester"));
        let bare = AddressQuery::parse("33 beacon st").unwrap();
        assert!(bare.names_exactly("33 beacon st", "dorchester"));
        assert_eq!(bare.house(), Some(33));
        let corner = AddressQuery::parse("W Third St and C Street, South Boston").unwrap();
        assert!(corner.names_exactly("c st & w 3rd st", "s boston"));
        assert_eq!(corner.kind(), AddressKind::Intersection);
        let within = AddressQuery::parse("147 Ipswich Street").unwrap();
        assert!(within.names_within("ipswich st", (145, 151), "boston"));
        assert!(!within.names_within("ipswich st", (153, 155), "boston"));
    }

    #[test]
    fn queries_are_bounded() {
        assert_eq!(
            AddressQuery::parse(&"a".repeat(201)).unwrap_err().code,
            "too_long"
        );
        assert_eq!(AddressQuery::parse(" ,, ").unwrap_err().code, "empty");
        assert_eq!(
            AddressQuery::parse("1 a\u{0}st").unwrap_err().code,
            "control_characters"
        );
        let long = "word ".repeat(100);
        let query = AddressQuery::parse(&long[..199]).unwrap();
        assert!(query.text.split(' ').count() <= MAX_WORDS);
    }

    fn at(lat: f64, lon: f64) -> GeoPoint {
        GeoPoint::new(Latitude::new(lat).unwrap(), Longitude::new(lon).unwrap())
    }

    fn candidate(
        name: &'static str,
        quality: MatchQuality,
        similarity: f64,
        position: GeoPoint,
    ) -> Candidate<&'static str> {
        Candidate {
            entry: name,
            quality,
            similarity,
            samples: 1,
            position,
        }
    }

    #[test]
    fn resolution_takes_the_best_unless_an_equal_one_is_elsewhere() {
        let here = at(42.3574, -71.0648);
        let near = at(42.3575, -71.0649);
        let far = at(42.3000, -71.0800);
        assert_eq!(
            resolve(vec![
                candidate("similar", MatchQuality::Similar, 0.9, far),
                candidate("exact", MatchQuality::Exact, 1.0, here),
            ]),
            Resolution::Found("exact")
        );
        assert_eq!(
            resolve(vec![
                candidate("boston", MatchQuality::Exact, 1.0, here),
                candidate("same corner", MatchQuality::Exact, 1.0, near),
            ]),
            Resolution::Found("boston")
        );
        assert_eq!(
            resolve(vec![
                candidate("dorchester", MatchQuality::Exact, 1.0, here),
                candidate("charlestown", MatchQuality::Exact, 1.0, far),
            ]),
            Resolution::Ambiguous(vec!["dorchester", "charlestown"])
        );
        assert_eq!(
            resolve(vec![candidate("weak", MatchQuality::Similar, 0.4, here)]),
            Resolution::NotFound
        );
        assert_eq!(resolve::<&str>(vec![]), Resolution::NotFound);
    }
}
