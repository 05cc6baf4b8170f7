//! The photo store over a real S3-compatible server. `scripts/s3.sh test` starts one on
//! 127.0.0.1 (moto, from PyPI), creates the bucket and runs these tests with `--ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use signalons_media::{PhotoStore, Rendition, StoreConfig, new_storage_key};

fn s3_store() -> PhotoStore {
    let endpoint = std::env::var("SIGNALONS_TEST_S3_ENDPOINT")
        .expect("SIGNALONS_TEST_S3_ENDPOINT: run through scripts/s3.sh test");
    let bucket = std::env::var("SIGNALONS_TEST_S3_BUCKET").expect("SIGNALONS_TEST_S3_BUCKET");
    PhotoStore::open(&StoreConfig::S3 {
        bucket,
        region: "us-east-1".to_owned(),
        endpoint: Some(endpoint),
        access_key_id: "signalons-test".to_owned(),
        secret_access_key: "signalons-test-secret".to_owned(),
    })
    .expect("open the S3 store")
}

#[tokio::test]
#[ignore = "needs an S3-compatible server: scripts/s3.sh test"]
async fn an_s3_store_keeps_serves_and_forgets_photos() {
    let store = s3_store();
    let key = new_storage_key();
    let photo = vec![0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD9];
    store
        .put(&key, photo.clone(), b"thumbnail".to_vec())
        .await
        .expect("put");
    assert_eq!(
        store
            .get(&key, Rendition::Photo)
            .await
            .expect("get")
            .as_deref(),
        Some(&photo[..])
    );
    assert_eq!(
        store
            .get(&key, Rendition::Thumbnail)
            .await
            .expect("get")
            .as_deref(),
        Some(&b"thumbnail"[..])
    );
    assert_eq!(
        store
            .get(&new_storage_key(), Rendition::Photo)
            .await
            .expect("a missing photo is no error"),
        None
    );
    store.delete(&key).await.expect("delete");
    assert_eq!(store.get(&key, Rendition::Photo).await.expect("get"), None);
}
