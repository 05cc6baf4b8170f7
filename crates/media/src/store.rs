//! Where photo bytes live: one interface ([`object_store::ObjectStore`]) over a local directory
//! (the default) or an S3-compatible bucket. Objects are written once under a random key and
//! never changed, so they can be cached for as long as a client likes.

use std::{path::PathBuf, sync::Arc};

use bytes::Bytes;
use object_store::{ObjectStore, PutPayload, path::Path};

/// Which photo store to use.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// Files under a local directory, created when missing.
    Local { dir: PathBuf },
    /// An S3-compatible bucket (AWS, MinIO, Garage, Ceph...).
    S3 {
        bucket: String,
        region: String,
        /// The service's address when it is not AWS (`http://127.0.0.1:9000`).
        endpoint: Option<String>,
        access_key_id: String,
        secret_access_key: String,
    },
}

impl std::fmt::Debug for StoreConfig {
    // The secret key never reaches logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local { dir } => f.debug_struct("Local").field("dir", dir).finish(),
            Self::S3 {
                bucket,
                region,
                endpoint,
                access_key_id,
                ..
            } => f
                .debug_struct("S3")
                .field("bucket", bucket)
                .field("region", region)
                .field("endpoint", endpoint)
                .field("access_key_id", access_key_id)
                .field("secret_access_key", &"<secret>")
                .finish(),
        }
    }
}

/// The photo store failed: unreachable, refused, out of space...
#[derive(Debug, thiserror::Error)]
#[error("photo store: {0}")]
pub struct StoreError(#[from] object_store::Error);

/// The store photos are written to and read from.
#[derive(Debug, Clone)]
pub struct PhotoStore {
    objects: Arc<dyn ObjectStore>,
}

/// A new random storage key: 32 lowercase hex digits.
pub fn new_storage_key() -> String {
    rand::random::<[u8; 16]>()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Whether `key` has the shape of a storage key, so that no other path can be asked for.
pub fn is_storage_key(key: &str) -> bool {
    key.len() == 32
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The file of a photo, or of its thumbnail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rendition {
    Photo,
    Thumbnail,
}

/// Where the API serves a photo's file, relative to the server's address.
pub fn public_path(key: &str, rendition: Rendition) -> String {
    match rendition {
        Rendition::Photo => format!("/api/v1/media/files/{key}.jpg"),
        Rendition::Thumbnail => format!("/api/v1/media/files/{key}.thumb.jpg"),
    }
}

fn object_path(key: &str, rendition: Rendition) -> Path {
    let suffix = match rendition {
        Rendition::Photo => "jpg",
        Rendition::Thumbnail => "thumb.jpg",
    };
    Path::from(format!("photos/{key}.{suffix}"))
}

impl PhotoStore {
    /// Opens the store `config` describes.
    pub fn open(config: &StoreConfig) -> Result<Self, StoreError> {
        let objects: Arc<dyn ObjectStore> = match config {
            StoreConfig::Local { dir } => {
                std::fs::create_dir_all(dir).map_err(|source| object_store::Error::Generic {
                    store: "LocalFileSystem",
                    source: Box::new(source),
                })?;
                Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir)?)
            }
            StoreConfig::S3 {
                bucket,
                region,
                endpoint,
                access_key_id,
                secret_access_key,
            } => {
                let mut builder = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(region)
                    .with_access_key_id(access_key_id)
                    .with_secret_access_key(secret_access_key);
                if let Some(endpoint) = endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"));
                }
                Arc::new(builder.build()?)
            }
        };
        Ok(Self { objects })
    }

    /// Writes a photo and its thumbnail under `key`.
    pub async fn put(
        &self,
        key: &str,
        photo: Vec<u8>,
        thumbnail: Vec<u8>,
    ) -> Result<(), StoreError> {
        self.objects
            .put(&object_path(key, Rendition::Photo), PutPayload::from(photo))
            .await?;
        self.objects
            .put(
                &object_path(key, Rendition::Thumbnail),
                PutPayload::from(thumbnail),
            )
            .await?;
        Ok(())
    }

    /// The bytes of a photo or its thumbnail; `None` when there is no such object.
    pub async fn get(&self, key: &str, rendition: Rendition) -> Result<Option<Bytes>, StoreError> {
        match self.objects.get(&object_path(key, rendition)).await {
            Ok(found) => Ok(Some(found.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Removes a photo and its thumbnail; a missing object is no error.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        for rendition in [Rendition::Photo, Rendition::Thumbnail] {
            match self.objects.delete(&object_path(key, rendition)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hex_and_nothing_else_passes_for_one() {
        let key = new_storage_key();
        assert!(is_storage_key(&key), "{key}");
        assert_ne!(key, new_storage_key());
        for bad in [
            "../../etc/passwd",
            "",
            "ABCDEF0123456789abcdef0123456789",
            &key[..31],
        ] {
            assert!(!is_storage_key(bad), "{bad}");
        }
    }

    #[test]
    fn the_secret_key_is_not_printed() {
        let config = StoreConfig::S3 {
            bucket: "b".into(),
            region: "r".into(),
            endpoint: None,
            access_key_id: "id".into(),
            secret_access_key: "very-secret".into(),
        };
        assert!(!format!("{config:?}").contains("very-secret"));
    }
}
