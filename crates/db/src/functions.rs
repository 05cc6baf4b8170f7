//! PostGIS functions that postgis_diesel does not declare.

use diesel::sql_types::{BigInt, Bool, Double, Integer};
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

diesel::define_sql_function! {
    /// A report's place and id as one 3-D point (indexed by `reports_place_id_gist`).
    fn report_place_and_id(location: Geography, id: BigInt) -> Geometry;
}

diesel::define_sql_function! {
    /// The search box of `report_place_and_id`: a lon/lat rectangle and the ids
    /// `lo <= id < hi` (its bounds are inclusive: callers filter the ids exactly).
    fn report_area_window(west: Double, south: Double, east: Double, north: Double, lo: BigInt, hi: BigInt) -> Geometry;
}

diesel::infix_operator!(NdOverlaps, " &&& ", backend: diesel::pg::Pg);

/// Whether the n-dimensional bounding boxes of two geometries overlap (PostGIS `&&&`).
pub fn nd_overlaps<L, R>(left: L, right: R) -> NdOverlaps<L, R>
where
    L: diesel::Expression<SqlType = Geometry>,
    R: diesel::Expression<SqlType = Geometry>,
{
    NdOverlaps::new(left, right)
}

diesel::define_sql_function! {
    /// `ST_DWithin` on geography without its index support: the same test, which the planner
    /// cannot turn into a scan of `reports_location_gist`.
    #[sql_name = "_ST_DWithin"]
    fn st_d_within_unindexed(left: Geography, right: Geography, metres: Double, use_spheroid: Bool) -> Bool;
}

diesel::define_sql_function! {
    /// The function behind the `&&` operator of geometries: the same test, which the planner
    /// cannot turn into a scan of `reports_location_box_gist`.
    fn geometry_overlaps(left: Geometry, right: Geometry) -> Bool;
}
