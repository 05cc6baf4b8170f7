//! The pure rules of Signalons: values that cannot be invalid once constructed, and the public
//! status machine. Nothing here does I/O, so every rule can be read and tested alone.

pub mod access;
pub mod areas;
pub mod clustering;
pub mod dedup;
pub mod delivery;
pub mod gazetteer;
pub mod geo_types;
pub mod listing;
pub mod map_grid;
pub mod report;
pub mod routing;
pub mod status;
pub mod street_address;
pub mod text;
mod violation;

pub use access::{AccountEmail, Actor, DeviceId, Explanation, NewPassword, Role};
pub use geo_types::{BoundingBox, GeoPoint, Latitude, Longitude, RadiusMetres};
pub use listing::PageSize;
pub use report::{CategoryCode, ExternalMediaUrl, IdempotencyKey, ReportSource};
pub use status::ReportStatus;
pub use text::{Address, ContactEmail, Description};
pub use violation::Violation;
