//! Service-area polygons from GeoJSON, checked before they reach the database: polygons only,
//! WGS 84 coordinates in range, closed rings, bounded vertex counts, a non-zero area.

use geo::{Area, Coord, LineString, MultiPolygon, Polygon};
use serde_json::Value;

use crate::Violation;

/// The most vertices one service area may have.
pub const MAX_VERTICES: usize = 100_000;
/// The most areas one file may hold.
pub const MAX_AREAS: usize = 10_000;

fn invalid(code: &'static str, message: impl Into<String>) -> Violation {
    Violation::new(code, message)
}

fn position(value: &Value) -> Result<Coord<f64>, Violation> {
    let pair = value.as_array().filter(|p| p.len() >= 2).ok_or_else(|| {
        invalid(
            "invalid_coordinates",
            "a position must be an array [longitude, latitude]",
        )
    })?;
    let (Some(x), Some(y)) = (pair[0].as_f64(), pair[1].as_f64()) else {
        return Err(invalid(
            "invalid_coordinates",
            "coordinates must be numbers",
        ));
    };
    if !(-180.0..=180.0).contains(&x) || !(-90.0..=90.0).contains(&y) {
        return Err(invalid(
            "not_wgs84",
            format!("position [{x}, {y}] is not longitude/latitude in WGS 84 (EPSG:4326)"),
        ));
    }
    Ok(Coord { x, y })
}

fn ring(value: &Value) -> Result<LineString<f64>, Violation> {
    let positions = value.as_array().ok_or_else(|| {
        invalid(
            "invalid_coordinates",
            "a ring must be an array of positions",
        )
    })?;
    let coords = positions
        .iter()
        .map(position)
        .collect::<Result<Vec<_>, _>>()?;
    if coords.len() < 4 {
        return Err(invalid(
            "ring_too_short",
            "a ring needs at least 4 positions",
        ));
    }
    if coords.first() != coords.last() {
        return Err(invalid(
            "ring_not_closed",
            "a ring must end where it starts",
        ));
    }
    Ok(LineString::new(coords))
}

fn polygon(value: &Value) -> Result<Polygon<f64>, Violation> {
    let rings = value
        .as_array()
        .filter(|rings| !rings.is_empty())
        .ok_or_else(|| {
            invalid(
                "invalid_coordinates",
                "a polygon must be a non-empty array of rings",
            )
        })?;
    let exterior = ring(&rings[0])?;
    let interiors = rings[1..].iter().map(ring).collect::<Result<Vec<_>, _>>()?;
    Ok(Polygon::new(exterior, interiors))
}

/// A GeoJSON `Polygon` or `MultiPolygon` geometry, checked.
pub fn multi_polygon(geometry: &Value) -> Result<MultiPolygon<f64>, Violation> {
    let coordinates = &geometry["coordinates"];
    let shape = match geometry["type"].as_str() {
        Some("Polygon") => MultiPolygon::new(vec![polygon(coordinates)?]),
        Some("MultiPolygon") => MultiPolygon::new(
            coordinates
                .as_array()
                .ok_or_else(|| invalid("invalid_coordinates", "a MultiPolygon holds polygons"))?
                .iter()
                .map(polygon)
                .collect::<Result<_, _>>()?,
        ),
        Some(other) => {
            return Err(invalid(
                "not_a_polygon",
                format!("a {other} cannot be a service area"),
            ));
        }
        None => return Err(invalid("invalid_geometry", "the geometry has no type")),
    };
    let vertices: usize = shape
        .0
        .iter()
        .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
        .sum();
    if vertices > MAX_VERTICES {
        return Err(invalid(
            "too_many_vertices",
            format!("{vertices} vertices; at most {MAX_VERTICES} per area"),
        ));
    }
    if shape.unsigned_area() <= 0.0 {
        return Err(invalid("empty_area", "the polygon encloses no area"));
    }
    Ok(shape)
}

/// A service area read from a GeoJSON feature.
#[derive(Debug, Clone)]
pub struct AreaFeature {
    pub code: String,
    pub name: String,
    /// The checked geometry, as GeoJSON text.
    pub geometry: String,
    pub shape: MultiPolygon<f64>,
}

/// Checks an area kind: `neighborhood`, `district`, `road_network`... (2 to 32 of a-z and _).
pub fn valid_kind(kind: &str) -> Result<(), Violation> {
    let valid =
        (2..=32).contains(&kind.len()) && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(Violation::new(
            "invalid_kind",
            "kind must be 2 to 32 of a-z and _",
        ))
    }
}

/// `Some Name / Other` → `some-name-other`.
pub fn slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').chars().take(64).collect()
}

fn declared_crs_is_wgs84(document: &Value) -> bool {
    match document["crs"]["properties"]["name"].as_str() {
        None => true,
        Some(name) => {
            let name = name.to_ascii_uppercase();
            name.ends_with("CRS84") || name.ends_with("4326")
        }
    }
}

/// The areas of a GeoJSON document (FeatureCollection, Feature or bare geometry), named by the
/// `name_property` of each feature. Every problem is reported with the feature's index.
pub fn parse_areas(document: &Value, name_property: &str) -> Result<Vec<AreaFeature>, Violation> {
    if !declared_crs_is_wgs84(document) {
        return Err(invalid(
            "not_wgs84",
            "the file declares a CRS other than WGS 84 (EPSG:4326)",
        ));
    }
    let features: Vec<&Value> = match document["type"].as_str() {
        Some("FeatureCollection") => document["features"]
            .as_array()
            .ok_or_else(|| invalid("invalid_geojson", "a FeatureCollection needs features"))?
            .iter()
            .collect(),
        Some("Feature") => vec![document],
        Some("Polygon" | "MultiPolygon") => vec![document],
        _ => {
            return Err(invalid(
                "invalid_geojson",
                "expected a FeatureCollection, Feature or polygon",
            ));
        }
    };
    if features.len() > MAX_AREAS {
        return Err(invalid(
            "too_many_areas",
            format!("at most {MAX_AREAS} areas per file"),
        ));
    }
    let mut areas: Vec<AreaFeature> = Vec::with_capacity(features.len());
    for (index, feature) in features.iter().enumerate() {
        let at = |v: Violation| Violation::new(v.code, format!("feature {index}: {}", v.message));
        let geometry = if feature["type"] == "Feature" {
            &feature["geometry"]
        } else {
            *feature
        };
        let shape = multi_polygon(geometry).map_err(at)?;
        let name = feature["properties"][name_property]
            .as_str()
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map_or_else(|| format!("Area {}", index + 1), str::to_owned);
        if name.chars().count() > 200 {
            return Err(at(invalid(
                "name_too_long",
                "an area name is at most 200 characters",
            )));
        }
        let code = slug(&name);
        if code.is_empty() {
            return Err(at(invalid(
                "invalid_name",
                "the name has no letters or digits",
            )));
        }
        if areas.iter().any(|a| a.code == code) {
            return Err(at(invalid(
                "duplicate_area",
                format!("two areas are named `{code}`"),
            )));
        }
        areas.push(AreaFeature {
            code,
            name,
            geometry: geometry.to_string(),
            shape,
        });
    }
    Ok(areas)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn square(x: f64, y: f64) -> Value {
        json!({"type": "Polygon", "coordinates": [[[x, y], [x + 0.01, y], [x + 0.01, y + 0.01], [x, y + 0.01], [x, y]]]})
    }

    fn collection(features: Vec<Value>) -> Value {
        json!({"type": "FeatureCollection", "features": features})
    }

    fn feature(name: &str, geometry: Value) -> Value {
        json!({"type": "Feature", "properties": {"Name": name}, "geometry": geometry})
    }

    #[test]
    fn valid_areas_are_named_and_coded() {
        let doc = collection(vec![
            feature("Back Bay", square(-71.08, 42.35)),
            feature("South End", square(-71.07, 42.34)),
        ]);
        let areas = parse_areas(&doc, "Name").unwrap();
        assert_eq!(areas.len(), 2);
        assert_eq!(areas[0].code, "back-bay");
        assert_eq!(areas[1].name, "South End");
    }

    #[test]
    fn each_bad_input_has_its_code() {
        let cases = [
            (
                collection(vec![feature(
                    "A",
                    json!({"type": "Point", "coordinates": [-71.0, 42.0]}),
                )]),
                "not_a_polygon",
            ),
            (
                collection(vec![feature("A", square(500_000.0, 4_600_000.0))]),
                "not_wgs84",
            ),
            (
                collection(vec![feature(
                    "A",
                    json!({"type": "Polygon", "coordinates": [[[-71.0, 42.0], [-71.0, 42.1], [-71.1, 42.1]]]}),
                )]),
                "ring_too_short",
            ),
            (
                collection(vec![feature(
                    "A",
                    json!({"type": "Polygon", "coordinates": [[[-71.0, 42.0], [-71.0, 42.1], [-71.1, 42.1], [-71.1, 42.2]]]}),
                )]),
                "ring_not_closed",
            ),
            (
                collection(vec![feature(
                    "A",
                    json!({"type": "Polygon", "coordinates": [[[-71.0, 42.0], [-71.0, 42.1], [-71.0, 42.2], [-71.0, 42.0]]]}),
                )]),
                "empty_area",
            ),
            (
                collection(vec![
                    feature("A", square(-71.0, 42.0)),
                    feature("a", square(-71.1, 42.0)),
                ]),
                "duplicate_area",
            ),
            (
                json!({"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:26986"}}, "features": []}),
                "not_wgs84",
            ),
            (json!({"type": "Topology"}), "invalid_geojson"),
        ];
        for (doc, code) in cases {
            assert_eq!(parse_areas(&doc, "Name").unwrap_err().code, code, "{doc}");
        }
    }

    #[test]
    fn vertex_counts_are_bounded() {
        let mut ring: Vec<Value> = (0..MAX_VERTICES)
            .map(|i| {
                let angle = i as f64 / MAX_VERTICES as f64 * std::f64::consts::TAU;
                json!([-71.0 + 0.01 * angle.cos(), 42.0 + 0.01 * angle.sin()])
            })
            .collect();
        ring.push(ring[0].clone());
        let doc = feature("Big", json!({"type": "Polygon", "coordinates": [ring]}));
        assert_eq!(
            parse_areas(&doc, "Name").unwrap_err().code,
            "too_many_vertices"
        );
    }
}
