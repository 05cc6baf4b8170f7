//! PostGIS functions that postgis_diesel does not declare.

use diesel::sql_types::{Double, Integer};
use postgis_diesel::sql_types::{Geography, Geometry};

diesel::define_sql_function! {
    /// The planar view of a geography value (indexed by `reports_location_box_gist`).
    fn geometry(value: Geography) -> Geometry;
}

diesel::define_sql_function! {
    /// A rectangle from its corners, in the given SRID.
    #[sql_name = "ST_MakeEnvelope"]
    fn st_make_envelope(xmin: Double, ymin: Double, xmax: Double, ymax: Double, srid: Integer) -> Geometry;
}

diesel::define_sql_function! {
    /// Distance in metres between two geography values.
    #[sql_name = "ST_Distance"]
    fn st_distance(left: Geography, right: Geography) -> Double;
}

diesel::define_sql_function! {
    /// The smallest x (west) of a geometry's bounding box.
    #[sql_name = "ST_XMin"]
    fn st_xmin(value: Geometry) -> Double;
}

diesel::define_sql_function! {
    /// The smallest y (south) of a geometry's bounding box.
    #[sql_name = "ST_YMin"]
    fn st_ymin(value: Geometry) -> Double;
}

diesel::define_sql_function! {
    /// The largest x (east) of a geometry's bounding box.
    #[sql_name = "ST_XMax"]
    fn st_xmax(value: Geometry) -> Double;
}

diesel::define_sql_function! {
    /// The largest y (north) of a geometry's bounding box.
    #[sql_name = "ST_YMax"]
    fn st_ymax(value: Geometry) -> Double;
}
