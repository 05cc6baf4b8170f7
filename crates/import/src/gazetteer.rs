//! Boston's gazetteer, measured from its own 311 cases: every case names its `location`
//! (`33 Beacon St  Boston  MA  02108`, `INTERSECTION of C St & W Third St  South Boston  MA`) and
//! the position the city recorded for it. Cases are grouped by normalised address
//! (`signalons_domain::gazetteer`) and each address sits at the median of its cases' positions,
//! so one mistyped case does not move it.

use std::{collections::HashMap, path::Path};

use serde::Deserialize;
use signalons_db::gazetteer::GazetteerEntry;
use signalons_domain::{
    Latitude, Longitude,
    gazetteer::{AddressKind, locality_key, street_key, words},
};

use crate::boston::{DemoError, PLACEHOLDER};

/// The columns of the Boston CSV the gazetteer needs.
#[derive(Debug, Deserialize)]
struct LocatedRow {
    location: String,
    latitude: String,
    longitude: String,
}

/// One case's address, read from Boston's `location` column.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CaseAddress {
    /// The street part as written, without `INTERSECTION of`.
    street: String,
    locality: String,
    zip: Option<String>,
}

/// Splits `33 Beacon St  Boston  MA  02108` (fields separated by two spaces) into its parts.
fn case_address(location: &str) -> Option<CaseAddress> {
    let mut fields = location
        .split("  ")
        .map(str::trim)
        .filter(|field| !field.is_empty());
    let street = fields.next()?;
    let locality = fields.next()?;
    let zip = fields
        .find(|field| field.len() == 5 && field.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned);
    let street = street.split_whitespace().collect::<Vec<_>>().join(" ");
    const INTERSECTION: &str = "intersection of ";
    let street = match street.get(..INTERSECTION.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(INTERSECTION) => {
            street[INTERSECTION.len()..].trim().to_owned()
        }
        _ => street,
    };
    (!street.is_empty()).then(|| CaseAddress {
        street,
        locality: locality.to_owned(),
        zip,
    })
}

impl CaseAddress {
    fn label(&self) -> String {
        match &self.zip {
            Some(zip) => format!("{}, {}, MA {zip}", self.street, self.locality),
            None => format!("{}, {}, MA", self.street, self.locality),
        }
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    }
}

#[derive(Default)]
struct Samples {
    latitudes: Vec<f64>,
    longitudes: Vec<f64>,
    labels: HashMap<String, usize>,
}

/// One entry per normalised address of the cases in `path` that have a real position, in key
/// order.
pub fn entries(path: &Path) -> Result<Vec<GazetteerEntry>, DemoError> {
    let csv_error = |source| DemoError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = csv::Reader::from_path(path).map_err(csv_error)?;
    let mut samples: HashMap<(String, String), (signalons_domain::gazetteer::StreetKey, Samples)> =
        HashMap::new();
    for row in reader.deserialize::<LocatedRow>() {
        let row = row.map_err(csv_error)?;
        let (Ok(latitude), Ok(longitude)) = (
            row.latitude.trim().parse::<f64>(),
            row.longitude.trim().parse::<f64>(),
        ) else {
            continue;
        };
        if (latitude, longitude) == PLACEHOLDER
            || Latitude::new(latitude).is_err()
            || Longitude::new(longitude).is_err()
        {
            continue;
        }
        let Some(address) = case_address(&row.location) else {
            continue;
        };
        let Some(key) = street_key(&words(&address.street)) else {
            continue;
        };
        // Boston writes `0 Centre St` for "somewhere on Centre St": not an address.
        if key.houses.is_some_and(|(from, _)| from == 0) {
            continue;
        }
        let locality = locality_key(&address.locality);
        let (_, entry) = samples
            .entry((key.key.clone(), locality))
            .or_insert_with(|| (key, Samples::default()));
        entry.latitudes.push(latitude);
        entry.longitudes.push(longitude);
        *entry.labels.entry(address.label()).or_default() += 1;
    }
    let mut entries: Vec<GazetteerEntry> = samples
        .into_iter()
        .filter_map(|((_, locality), (key, mut samples))| {
            // The spelling most cases used; ties go to the first in alphabetical order.
            let label = samples
                .labels
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                .map(|(label, _)| label.chars().take(300).collect::<String>())?;
            let houses = match key.kind {
                AddressKind::Numbered => key.houses,
                _ => None,
            };
            Some(GazetteerEntry {
                label,
                kind: key.kind.as_str(),
                sample_count: i32::try_from(samples.latitudes.len()).unwrap_or(i32::MAX),
                latitude: median(&mut samples.latitudes),
                longitude: median(&mut samples.longitudes),
                street_key: key.key,
                street: key.street,
                houses,
                locality,
            })
        })
        .filter(|entry| entry.street_key.chars().count() <= 300 && entry.locality.len() <= 100)
        .collect();
    entries.sort_by(|a, b| {
        (a.street_key.as_str(), a.locality.as_str()).cmp(&(b.street_key.as_str(), &b.locality))
    });
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn cases_file() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../data/boston-2015")
            .join(crate::boston::CASES_FILE)
    }

    #[test]
    fn boston_locations_split_into_street_locality_and_zip() {
        assert_eq!(
            case_address("33 Beacon St  Boston  MA  02108"),
            Some(CaseAddress {
                street: "33 Beacon St".to_owned(),
                locality: "Boston".to_owned(),
                zip: Some("02108".to_owned()),
            })
        );
        let corner = case_address("INTERSECTION of C St & W Third St  South Boston  MA").unwrap();
        assert_eq!(corner.street, "C St & W Third St");
        assert_eq!(corner.label(), "C St & W Third St, South Boston, MA");
        assert_eq!(case_address(""), None);
        assert_eq!(case_address("Somewhere without a locality"), None);
    }

    #[test]
    fn medians_ignore_an_outlier() {
        assert_eq!(median(&mut [1.0, 100.0, 2.0]), 2.0);
        assert_eq!(median(&mut [1.0, 2.0, 3.0, 4.0]), 2.5);
    }

    #[test]
    fn the_boston_cases_give_one_entry_per_normalised_address() {
        let entries = entries(&cases_file()).unwrap();
        assert!(entries.len() > 10_000, "{} addresses", entries.len());
        let mut keys: Vec<_> = entries
            .iter()
            .map(|e| (e.street_key.as_str(), e.locality.as_str()))
            .collect();
        keys.dedup();
        assert_eq!(keys.len(), entries.len());
        // City Hall's placeholder position is never an address's position.
        assert!(
            entries
                .iter()
                .all(|e| (e.latitude, e.longitude) != PLACEHOLDER)
        );
        assert!(
            entries
                .iter()
                .all(|e| e.houses.is_none_or(|(from, _)| from > 0))
        );
        let beacon = entries
            .iter()
            .find(|e| e.street_key == "33 beacon st" && e.locality == "boston")
            .unwrap();
        assert_eq!(beacon.label, "33 Beacon St, Boston, MA 02108");
        assert_eq!(beacon.kind, "numbered");
        assert!((beacon.latitude - 42.3574).abs() < 0.001);
        let corner = entries
            .iter()
            .find(|e| e.street_key == "hampden st & melnea cass blvd")
            .unwrap();
        assert_eq!(corner.kind, "intersection");
        assert!(corner.sample_count >= 40, "{}", corner.sample_count);
        let range = entries
            .iter()
            .find(|e| e.street_key == "145-151 ipswich st")
            .unwrap();
        assert_eq!(range.houses, Some((145, 151)));
    }
}
