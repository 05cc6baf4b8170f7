//! Everything Signalons says to PostgreSQL + PostGIS: the schema, embedded migrations and the
//! queries. Functions return diesel's `QueryResult`; mapping failures to HTTP is the API's job.

pub mod accounts;
pub mod admin;
pub mod alerts;
pub mod api_keys;
pub mod bulk;
pub mod catalog;
pub mod functions;
pub mod gazetteer;
pub mod import;
pub mod incidents;
pub mod jobs;
pub mod map;
pub mod media;
pub mod migrations;
pub mod models;
pub mod open311;
pub mod outbox;
mod pool;
pub mod reports;
pub mod schema;

pub use diesel::result::{DatabaseErrorKind, Error as DbError, QueryResult};
pub use diesel_async::{AsyncConnection, AsyncPgConnection};
pub use pool::{DbConn, DbPool, PoolError, build_pool, ping};

/// The position type stored in `geography(Point, 4326)` columns.
pub type Point = postgis_diesel::types::Point;

/// The SRID of every coordinate Signalons stores: WGS 84.
pub const WGS84: u32 = 4326;

/// A WGS 84 point from a domain position.
pub fn wgs84_point(position: signalons_domain::GeoPoint) -> Point {
    Point {
        x: position.lon(),
        y: position.lat(),
        srid: Some(WGS84),
    }
}
