//! The map's grid: Web Mercator cells numbered like slippy-map tiles (2^level per side, x
//! eastward from 180°W, y southward from 85.05°N). A map at zoom `z` is clustered on cells of
//! level `z + 2`, a quarter of a 256-pixel tile (64 pixels) each. The database stores report
//! counts for levels [`COARSEST_STORED_LEVEL`]..=[`FINEST_STORED_LEVEL`] (migrations
//! `map_aggregates` and `map_cells_to_zoom_18`, whose SQL functions use the same formulas);
//! finer levels are counted from the reports in view.

use std::f64::consts::PI;

use crate::{BoundingBox, Violation};

/// Levels between a map zoom and its cell level: cells of 256 / 2^2 = 64 pixels.
pub const CELL_LEVELS_BELOW_TILE: u8 = 2;
/// The coarsest level with stored counts (zoom 0).
pub const COARSEST_STORED_LEVEL: u8 = CELL_LEVELS_BELOW_TILE;
/// The finest level with stored counts (zoom 18; cells of about 28 m in Boston).
pub const FINEST_STORED_LEVEL: u8 = 20;
/// The highest zoom a map may ask for.
pub const MAX_ZOOM: u8 = 20;
/// The most cells one answer covers (64 × 64 cells: a 4096-pixel-wide screen).
pub const MAX_CELLS: u64 = 4096;
/// Web Mercator's latitude limit.
const MAX_LATITUDE: f64 = 85.051_128_779_8;

/// A map zoom level, 0..=[`MAX_ZOOM`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapZoom(u8);

impl MapZoom {
    pub fn new(zoom: i64) -> Result<Self, Violation> {
        u8::try_from(zoom)
            .ok()
            .filter(|z| *z <= MAX_ZOOM)
            .map(Self)
            .ok_or_else(|| {
                Violation::new(
                    "out_of_range",
                    format!("zoom must be between 0 and {MAX_ZOOM}, got {zoom}"),
                )
            })
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// The level of the cells a map at this zoom is clustered on.
    pub fn cell_level(self) -> u8 {
        self.0 + CELL_LEVELS_BELOW_TILE
    }
}

fn cells_per_side(level: u8) -> f64 {
    f64::from(1u32 << level)
}

fn clamp_cell(value: f64, level: u8) -> u32 {
    let max = (1u32 << level) - 1;
    // Clamped into 0..=max before the conversion, so nothing is lost.
    value.floor().clamp(0.0, f64::from(max)) as u32
}

/// The column of the cell holding `lon` at `level`.
pub fn cell_x(lon: f64, level: u8) -> u32 {
    clamp_cell((lon + 180.0) / 360.0 * cells_per_side(level), level)
}

/// The row of the cell holding `lat` at `level` (0 at the north).
pub fn cell_y(lat: f64, level: u8) -> u32 {
    let lat = lat.clamp(-MAX_LATITUDE, MAX_LATITUDE).to_radians();
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / PI) / 2.0;
    clamp_cell(y * cells_per_side(level), level)
}

/// The longitude of the west edge of column `x` at `level`.
pub fn cell_west(x: u32, level: u8) -> f64 {
    f64::from(x) / cells_per_side(level) * 360.0 - 180.0
}

/// The latitude of the north edge of row `y` at `level`.
pub fn cell_north(y: u32, level: u8) -> f64 {
    let n = PI * (1.0 - 2.0 * f64::from(y) / cells_per_side(level));
    n.sinh().atan().to_degrees()
}

/// The cells of one level that cover a bounding box, inclusive on every side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellRange {
    pub level: u8,
    pub x_min: u32,
    pub x_max: u32,
    /// The northernmost row.
    pub y_min: u32,
    /// The southernmost row.
    pub y_max: u32,
}

impl CellRange {
    /// The cells of `zoom`'s level covering `bbox`; refused past [`MAX_CELLS`].
    pub fn covering(bbox: &BoundingBox, zoom: MapZoom) -> Result<Self, Violation> {
        let level = zoom.cell_level();
        let range = Self {
            level,
            x_min: cell_x(bbox.south_west.lon(), level),
            x_max: cell_x(bbox.north_east.lon(), level),
            y_min: cell_y(bbox.north_east.lat(), level),
            y_max: cell_y(bbox.south_west.lat(), level),
        };
        if range.len() > MAX_CELLS {
            return Err(Violation::new(
                "bbox_too_large",
                format!(
                    "this bbox covers {} cells at zoom {}: at most {MAX_CELLS}; zoom out or ask for a smaller area",
                    range.len(),
                    zoom.get()
                ),
            ));
        }
        Ok(range)
    }

    /// How many cells the range holds.
    pub fn len(&self) -> u64 {
        u64::from(self.x_max - self.x_min + 1) * u64::from(self.y_max - self.y_min + 1)
    }

    /// Never empty: a range holds at least the cell of one corner.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether counts of this level are stored rather than computed from the reports.
    pub fn is_stored(&self) -> bool {
        self.level <= FINEST_STORED_LEVEL
    }

    /// The area the cells cover: west, south, east, north in degrees.
    pub fn bounds(&self) -> [f64; 4] {
        [
            cell_west(self.x_min, self.level),
            cell_north(self.y_max + 1, self.level),
            cell_west(self.x_max + 1, self.level),
            cell_north(self.y_min, self.level),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_slippy_map_tiles() {
        // Boston City Hall is in tile 19/158656/193916 of OpenStreetMap's grid.
        assert_eq!(cell_x(-71.0589, 19), 158_656);
        assert_eq!(cell_y(42.3601, 19), 193_916);
        assert_eq!((cell_x(-180.0, 2), cell_y(85.0, 2)), (0, 0));
        assert_eq!((cell_x(180.0, 2), cell_y(-90.0, 2)), (3, 3));
    }

    #[test]
    fn cell_edges_round_trip() {
        for level in [2, 10, 18, 22] {
            let (x, y) = (cell_x(-71.06, level), cell_y(42.36, level));
            assert!(cell_west(x, level) <= -71.06 && -71.06 < cell_west(x + 1, level));
            assert!(cell_north(y + 1, level) < 42.36 && 42.36 <= cell_north(y, level));
        }
    }

    #[test]
    fn zoom_picks_a_level_and_is_bounded() {
        assert_eq!(MapZoom::new(0).unwrap().cell_level(), 2);
        assert_eq!(MapZoom::new(18).unwrap().cell_level(), FINEST_STORED_LEVEL);
        assert!(MapZoom::new(21).is_err());
        assert!(MapZoom::new(-1).is_err());
    }

    #[test]
    fn ranges_cover_the_box_and_refuse_too_many_cells() {
        let boston = BoundingBox::parse("-71.19,42.23,-70.99,42.40").unwrap();
        let range = CellRange::covering(&boston, MapZoom::new(12).unwrap()).unwrap();
        let [west, south, east, north] = range.bounds();
        assert!(west <= -71.19 && south <= 42.23 && east >= -70.99 && north >= 42.40);
        assert!(range.is_stored());
        assert!(CellRange::covering(&boston, MapZoom::new(17).unwrap()).is_err());
        let street = BoundingBox::parse("-71.060,42.359,-71.057,42.361").unwrap();
        let fine = CellRange::covering(&street, MapZoom::new(19).unwrap()).unwrap();
        assert!(!fine.is_stored());
        // 0.003° of longitude is 17.5 columns of level 21; 0.002° of latitude 15.7 rows there.
        assert!((18 * 16..=19 * 17).contains(&fine.len()), "{}", fine.len());
    }
}
