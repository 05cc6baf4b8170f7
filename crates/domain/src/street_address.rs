//! Street addresses, understood just enough to tell whether two reports name the same place.
//!
//! Addresses arrive as people and geocoders write them: "145-151 Ipswich St Boston MA 02215",
//! "INTERSECTION of South St & S Walter St Roslindale MA", "147 Ipswich Street, Boston". One is
//! read as an optional house number (or range of numbers) and the set of streets it names: one,
//! or two at a corner. A street is its name up to its type word, with the usual abbreviations
//! (Street = St, Avenue = Ave, Third = 3rd) and without a leading compass point, so that what
//! follows it (city, state, ZIP code) does not matter and "S Walter St" is "Walter St".

use std::collections::BTreeSet;

use crate::gazetteer::{self, JOINERS};

/// An address read as house numbers and streets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreetAddress {
    /// The inclusive range of house numbers ("145-151"), or one number twice.
    numbers: Option<(i32, i32)>,
    /// The streets named: one, or two (or more) at a corner.
    streets: BTreeSet<String>,
}

/// How two addresses relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Correspondence {
    /// The same house number (or overlapping ranges) on the same street, or the same corner.
    Same,
    /// A street in common, but another number, or a corner of that street.
    SameStreet,
    /// No street in common.
    OtherStreet,
}

/// Street types as [`gazetteer::words`] spells them (`Street` is already `st`).
const STREET_TYPES: &[&str] = &[
    "st", "ave", "rd", "blvd", "pl", "sq", "ter", "ct", "dr", "pkwy", "hwy", "ln", "way", "row",
    "whf", "cir", "plz", "aly", "ext", "cres", "tpke", "pike", "path", "park",
];

const COMPASS_POINTS: &[&str] = &["n", "s", "e", "w"];

fn is_type(word: &str) -> bool {
    STREET_TYPES.contains(&word)
}

/// A one-word street named for its kind of way: Broadway, Fenway, Jamaicaway.
fn is_way_name(word: &str) -> bool {
    word.len() > 3 && word.ends_with("way")
}

/// A street's words reduced to its name and type: "s walter st roslindale ma" -> "walter st".
/// Words without a type word name a street only where the address says it is one (after a
/// house number, or at a corner): alone, "Boston" is a place, not a street.
fn street(words: &[String], surely_a_street: bool) -> Option<String> {
    // The street ends at its type word (the last of a run: "Savin Hill Ave", "Park Dr").
    let end = words.iter().enumerate().position(|(index, word)| {
        let ends_here = (index > 0 && is_type(word)) || is_way_name(word);
        ends_here && words.get(index + 1).is_none_or(|next| !is_type(next))
    });
    let mut name: Vec<&str> = match end {
        Some(end) => words[..=end].iter().map(String::as_str).collect(),
        None if !surely_a_street => return None,
        // No type word: everything but a trailing ZIP code.
        None => {
            let kept = words
                .iter()
                .rposition(|w| !w.chars().all(|c| c.is_ascii_digit()))
                .map_or(0, |last| last + 1);
            words[..kept].iter().map(String::as_str).collect()
        }
    };
    if name.len() > 2 && COMPASS_POINTS.contains(&name[0]) {
        name.remove(0);
    }
    (!name.is_empty()).then(|| name.join(" "))
}

impl StreetAddress {
    /// Reads `text` with the gazetteer's spelling of words; `None` when it names no street.
    pub fn parse(text: &str) -> Option<Self> {
        // Only the first line says where: "145 Ipswich St, Boston, MA" -> "145 Ipswich St".
        let line = text.split([',', '\n']).next().unwrap_or_default();
        let mut words = gazetteer::words(line);
        if matches!(words.as_slice(), [first, second, ..]
            if (first == "intersection" || first == "corner") && second == "of")
        {
            words.drain(..2);
        }
        // A house number, or a range of them, before the street.
        let mut numbers = None;
        if let Some(first) = words.first()
            && let Some(range) = gazetteer::house_numbers(first)
            && words[1..].iter().any(|w| !JOINERS.contains(&w.as_str()))
        {
            numbers = Some(range);
            words.remove(0);
        }
        let parts: Vec<&[String]> = words
            .split(|word| JOINERS.contains(&word.as_str()))
            .collect();
        let surely_a_street = numbers.is_some() || parts.len() > 1;
        let streets: BTreeSet<String> = parts
            .iter()
            .filter_map(|part| street(part, surely_a_street))
            .collect();
        (!streets.is_empty()).then_some(Self { numbers, streets })
    }

    /// How `self` and `other` relate.
    pub fn compare(&self, other: &Self) -> Correspondence {
        let same_numbers = match (self.numbers, other.numbers) {
            (Some((a_low, a_high)), Some((b_low, b_high))) => a_low <= b_high && b_low <= a_high,
            // Two corners of the same streets.
            (None, None) => self.streets.len() > 1,
            _ => false,
        };
        if self.streets == other.streets && same_numbers {
            Correspondence::Same
        } else if self.streets.intersection(&other.streets).next().is_some() {
            Correspondence::SameStreet
        } else {
            Correspondence::OtherStreet
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> StreetAddress {
        StreetAddress::parse(text).unwrap_or_else(|| panic!("{text} names no street"))
    }

    fn compare(a: &str, b: &str) -> Correspondence {
        parsed(a).compare(&parsed(b))
    }

    fn streets(text: &str) -> Vec<String> {
        parsed(text).streets.into_iter().collect()
    }

    #[test]
    fn the_city_state_and_zip_after_the_street_do_not_matter() {
        assert_eq!(streets("145 Ipswich St Boston MA 02215"), ["ipswich st"]);
        assert_eq!(streets("145 Ipswich Street, Boston, MA"), ["ipswich st"]);
        assert_eq!(parsed("145-151 Ipswich St").numbers, Some((145, 151)));
        assert_eq!(
            compare(
                "145 Ipswich St Boston MA 02215",
                "145 Ipswich Street, Boston"
            ),
            Correspondence::Same
        );
    }

    #[test]
    fn type_words_inside_a_name_do_not_end_it() {
        assert_eq!(
            streets("110 Savin Hill Ave Dorchester MA"),
            ["savin hill ave"]
        );
        assert_eq!(streets("2 Park Dr Boston"), ["park dr"]);
        assert_eq!(streets("12 St Botolph St Boston"), ["st botolph st"]);
        assert_eq!(streets("700 Broadway South Boston MA"), ["broadway"]);
    }

    #[test]
    fn a_corner_is_the_set_of_its_streets_whatever_their_order_and_spelling() {
        assert_eq!(
            streets("INTERSECTION of South St & S Walter St Roslindale MA"),
            ["s st", "walter st"]
        );
        assert_eq!(
            compare(
                "INTERSECTION of South St & S Walter St Roslindale MA",
                "Walter Street and South Street, Roslindale"
            ),
            Correspondence::Same
        );
        assert_eq!(
            compare("Third Ave & Main St", "3rd Avenue / Main Street"),
            Correspondence::Same
        );
    }

    #[test]
    fn numbers_and_corners_of_one_street_share_the_street() {
        assert_eq!(
            compare("147 Ipswich St Boston", "145-151 Ipswich St Boston"),
            Correspondence::Same,
            "a number inside a range"
        );
        assert_eq!(
            compare(
                "63-67 Highland St Roxbury",
                "INTERSECTION of Dorr St & Highland St"
            ),
            Correspondence::SameStreet
        );
        assert_eq!(
            compare("109 Providence St", "141 Providence St"),
            Correspondence::SameStreet
        );
        assert_eq!(
            compare("Atlantic Ave & Congress St", "Atlantic Ave & Seaport Blvd"),
            Correspondence::SameStreet,
            "two corners of Atlantic Ave"
        );
        assert_eq!(
            compare("2 Boylston St Boston", "145 Ipswich St Boston"),
            Correspondence::OtherStreet
        );
        assert_eq!(
            compare("12 W Broadway", "40 E Broadway"),
            Correspondence::OtherStreet,
            "a compass point alone before a one-word street is part of its name"
        );
    }

    #[test]
    fn text_without_a_street_is_not_an_address() {
        assert_eq!(StreetAddress::parse(""), None);
        assert_eq!(StreetAddress::parse(" , Boston"), None);
        assert_eq!(StreetAddress::parse("&&&"), None);
        assert_eq!(StreetAddress::parse("12"), None, "a number on no street");
        assert_eq!(StreetAddress::parse("Boston, MA 02116"), None);
        assert_eq!(streets("12 Boylston, Boston"), ["boylston"]);
        assert_eq!(streets("Washington & Elm"), ["elm", "washington"]);
    }
}
