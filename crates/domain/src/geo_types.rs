//! Coordinates in WGS 84 (EPSG:4326), checked once at the boundary.

use crate::Violation;

fn finite_in_range(value: f64, min: f64, max: f64, name: &str) -> Result<f64, Violation> {
    if !value.is_finite() {
        return Err(Violation::new(
            "not_a_number",
            format!("{name} must be a finite number"),
        ));
    }
    if !(min..=max).contains(&value) {
        return Err(Violation::new(
            "out_of_range",
            format!("{name} must be between {min} and {max}, got {value}"),
        ));
    }
    Ok(value)
}

/// Degrees north of the equator, in -90..=90.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Latitude(f64);

impl Latitude {
    pub fn new(degrees: f64) -> Result<Self, Violation> {
        finite_in_range(degrees, -90.0, 90.0, "latitude").map(Self)
    }
    pub fn degrees(self) -> f64 {
        self.0
    }
}

/// Degrees east of Greenwich, in -180..=180.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Longitude(f64);

impl Longitude {
    pub fn new(degrees: f64) -> Result<Self, Violation> {
        finite_in_range(degrees, -180.0, 180.0, "longitude").map(Self)
    }
    pub fn degrees(self) -> f64 {
        self.0
    }
}

/// A position on the earth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    pub latitude: Latitude,
    pub longitude: Longitude,
}

impl GeoPoint {
    pub fn new(latitude: Latitude, longitude: Longitude) -> Self {
        Self {
            latitude,
            longitude,
        }
    }
    pub fn lat(self) -> f64 {
        self.latitude.degrees()
    }
    pub fn lon(self) -> f64 {
        self.longitude.degrees()
    }
}

/// A search radius in metres, bounded so a "nearby" query stays a local one.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct RadiusMetres(f64);

impl RadiusMetres {
    pub const MAX: f64 = 50_000.0;

    pub fn new(metres: f64) -> Result<Self, Violation> {
        let metres = finite_in_range(metres, 0.0, Self::MAX, "radius")?;
        if metres == 0.0 {
            return Err(Violation::new(
                "out_of_range",
                "radius must be greater than 0",
            ));
        }
        Ok(Self(metres))
    }
    pub fn metres(self) -> f64 {
        self.0
    }
}

/// A west-south-east-north box that does not cross the antimeridian.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    pub south_west: GeoPoint,
    pub north_east: GeoPoint,
}

impl BoundingBox {
    /// Parses `min_lon,min_lat,max_lon,max_lat` (the order of GeoJSON and OGC APIs).
    pub fn parse(text: &str) -> Result<Self, Violation> {
        let shape = || {
            Violation::new(
                "invalid_bbox",
                "bbox must be min_lon,min_lat,max_lon,max_lat",
            )
        };
        let numbers = text
            .split(',')
            .map(|part| part.trim().parse::<f64>().map_err(|_| shape()))
            .collect::<Result<Vec<_>, _>>()?;
        let [min_lon, min_lat, max_lon, max_lat] = numbers[..] else {
            return Err(shape());
        };
        let south_west = GeoPoint::new(Latitude::new(min_lat)?, Longitude::new(min_lon)?);
        let north_east = GeoPoint::new(Latitude::new(max_lat)?, Longitude::new(max_lon)?);
        if min_lon >= max_lon || min_lat >= max_lat {
            return Err(Violation::new(
                "invalid_bbox",
                "bbox minimums must be smaller than its maximums",
            ));
        }
        Ok(Self {
            south_west,
            north_east,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latitude_bounds_are_inclusive_and_checked() {
        assert!(Latitude::new(90.0).is_ok());
        assert!(Latitude::new(-90.0).is_ok());
        assert_eq!(Latitude::new(91.0).unwrap_err().code, "out_of_range");
        assert_eq!(Latitude::new(f64::NAN).unwrap_err().code, "not_a_number");
    }

    #[test]
    fn longitude_bounds_are_checked() {
        assert!(Longitude::new(180.0).is_ok());
        assert_eq!(Longitude::new(-181.0).unwrap_err().code, "out_of_range");
        assert_eq!(
            Longitude::new(f64::INFINITY).unwrap_err().code,
            "not_a_number"
        );
    }

    #[test]
    fn radius_must_be_positive_and_bounded() {
        assert!(RadiusMetres::new(250.0).is_ok());
        assert_eq!(RadiusMetres::new(0.0).unwrap_err().code, "out_of_range");
        assert_eq!(
            RadiusMetres::new(50_001.0).unwrap_err().code,
            "out_of_range"
        );
    }

    #[test]
    fn bbox_parses_in_geojson_order() {
        let bbox = BoundingBox::parse("-71.1,42.3,-71.0,42.4").unwrap();
        assert_eq!(bbox.south_west.lon(), -71.1);
        assert_eq!(bbox.north_east.lat(), 42.4);
    }

    #[test]
    fn bbox_refuses_wrong_shapes() {
        for text in [
            "",
            "1,2,3",
            "1,2,3,4,5",
            "a,b,c,d",
            "-71.0,42.3,-71.1,42.4",
            "0,91,1,92",
        ] {
            assert!(
                BoundingBox::parse(text).is_err(),
                "{text} should be refused"
            );
        }
    }
}
