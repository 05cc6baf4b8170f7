//! Photos, which are often the best description of a problem and can also show a face, a
//! number plate or the reporter's home: checked from their bytes (never the name or the
//! declared type), re-encoded so that EXIF, GPS and every other metadata are gone, and kept in
//! a photo store behind one interface (a local directory, or S3-compatible object storage).

pub mod photo;
pub mod store;

pub use photo::{PhotoLimits, ProcessedPhoto, Refusal, process};
pub use store::{
    PhotoStore, Rendition, StoreConfig, StoreError, is_storage_key, new_storage_key, public_path,
};
