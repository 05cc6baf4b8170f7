//! The photo store, as a local directory and over a real S3-compatible server. The S3 test is
//! ignored by a plain `cargo test`: `scripts/s3.sh test` starts a server on 127.0.0.1 (moto,
//! from PyPI), creates the bucket and runs it with `--ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use signalons_media::{PhotoStore, Rendition, StoreConfig, new_storage_key};

/// Writes a photo, reads both renditions back, misses an unknown key, deletes twice.
async fn keeps_serves_and_forgets(store: &PhotoStore) {
    let key = new_storage_key();
    let photo = vec![0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD9];
    store
        .put(&key, photo.clone(), b"thumbnail".to_vec())
        .await
        .expect("put");
    let read = |rendition| store.get(&key, rendition);
    assert_eq!(
        read(Rendition::Photo).await.expect("get").as_deref(),
        Some(&photo[..])
    );
    assert_eq!(
        read(Rendition::Thumbnail).await.expect("get").as_deref(),
        Some(&b"thumbnail"[..])
    );
    let missing = store.get(&new_storage_key(), Rendition::Photo).await;
    assert_eq!(missing.expect("a missing photo is no error"), None);
    store.delete(&key).await.expect("delete");
    assert_eq!(read(Rendition::Photo).await.expect("get"), None);
    store.delete(&key).await.expect("deleting twice is fine");
}

#[tokio::test]
async fn a_local_store_keeps_serves_and_forgets_photos() {
    let dir = std::env::temp_dir().join(format!("signalons-store-{}", new_storage_key()));
    let store = PhotoStore::open(&StoreConfig::Local { dir: dir.clone() }).expect("open");
    keeps_serves_and_forgets(&store).await;
    let mut left = std::fs::read_dir(dir.join("photos")).expect("the photos folder");
    assert!(left.next().is_none(), "nothing left behind");
    std::fs::remove_dir_all(dir).expect("clean up");
}

#[tokio::test]
#[ignore = "needs an S3-compatible server: scripts/s3.sh test"]
async fn an_s3_store_keeps_serves_and_forgets_photos() {
    let endpoint = std::env::var("SIGNALONS_TEST_S3_ENDPOINT")
        .expect("SIGNALONS_TEST_S3_ENDPOINT: run through scripts/s3.sh test");
    let bucket = std::env::var("SIGNALONS_TEST_S3_BUCKET").expect("SIGNALONS_TEST_S3_BUCKET");
    let store = PhotoStore::open(&StoreConfig::S3 {
        bucket,
        region: "us-east-1".to_owned(),
        endpoint: Some(endpoint),
        access_key_id: "signalons-test".to_owned(),
        secret_access_key: "signalons-test-secret".to_owned(),
    })
    .expect("open the S3 store");
    keeps_serves_and_forgets(&store).await;
}
