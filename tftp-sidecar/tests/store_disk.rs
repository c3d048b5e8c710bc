//! The disk tier across restarts, and a corrupted entry refetched, never served.

mod store_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use store_support::*;
use tftp_sidecar::content::FileSource;
use tftp_sidecar::store::StoreConfig;

fn entry_files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect()
}

#[tokio::test]
async fn disk_tier_survives_restart_without_origin_request() {
    let origin = TestOrigin::start().await;
    let body = pattern(200_000, 9);
    origin.put("apps41.sbn", body.clone(), Some("\"a\""));
    let disk = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        disk_dir: Some(disk.path().to_path_buf()),
        fresh_ttl_secs: 3600.0,
        ..origin.config()
    };
    {
        let (store, m) = build(&cfg);
        assert_eq!(
            read_all(&store.open("apps41.sbn").await.unwrap()).await,
            body
        );
        settle(&store).await;
        assert_eq!(metric(&m, r#"tftp_cache_bytes{tier="disk"}"#), 200_000.0);
    }
    assert_eq!(entry_files(disk.path(), "data").len(), 1);
    assert_eq!(origin.requests(), 1);
    // "Restart": a new store and registry over the same directory; the origin is down.
    origin.force_status(Some(500));
    let (store, m) = build(&cfg);
    assert_eq!(metric(&m, r#"tftp_cache_bytes{tier="disk"}"#), 200_000.0);
    let c = store.open("apps41.sbn").await.unwrap();
    assert_eq!(c.as_complete().unwrap(), body);
    assert_eq!(origin.requests(), 1, "no origin request after restart");
    assert_eq!(metric(&m, r#"tftp_cache_hits_total{tier="disk"}"#), 1.0);
    assert_eq!(metric(&m, "tftp_cache_misses_total"), 0.0);
    // Now in memory too.
    store.open("apps41.sbn").await.unwrap();
    assert_eq!(metric(&m, r#"tftp_cache_hits_total{tier="memory"}"#), 1.0);
}

#[tokio::test]
async fn stale_disk_entry_revalidated_after_restart() {
    let origin = TestOrigin::start().await;
    origin.put("cfg.xml", "v1", Some("\"1\""));
    let disk = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        disk_dir: Some(disk.path().to_path_buf()),
        fresh_ttl_secs: 0.2,
        ..origin.config()
    };
    {
        let (store, _m) = build(&cfg);
        store.open("cfg.xml").await.unwrap();
        settle(&store).await;
    }
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (store, m) = build(&cfg);
    assert_eq!(read_all(&store.open("cfg.xml").await.unwrap()).await, "v1");
    assert_eq!(
        origin.not_modified(),
        1,
        "ETag from the disk metadata was sent"
    );
    assert_eq!(
        metric(&m, r#"tftp_origin_requests_total{outcome="not_modified"}"#),
        1.0
    );
    settle(&store).await;
    // Origin down after a restart with a stale disk copy: stale-if-error.
    tokio::time::sleep(Duration::from_millis(250)).await;
    origin.force_status(Some(502));
    let (store, m) = build(&cfg);
    assert_eq!(read_all(&store.open("cfg.xml").await.unwrap()).await, "v1");
    assert_eq!(metric(&m, "tftp_cache_stale_served_total"), 1.0);
}

#[tokio::test]
async fn corrupted_disk_entry_is_refetched_not_served() {
    let origin = TestOrigin::start().await;
    let body = pattern(50_000, 5);
    origin.put("dsp41.sbn", body.clone(), Some("\"d\""));
    let disk = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        disk_dir: Some(disk.path().to_path_buf()),
        fresh_ttl_secs: 3600.0,
        ..origin.config()
    };
    {
        let (store, _m) = build(&cfg);
        store.open("dsp41.sbn").await.unwrap();
        settle(&store).await;
    }
    // Flip one byte of the stored data.
    let data = entry_files(disk.path(), "data").pop().unwrap();
    let mut raw = std::fs::read(&data).unwrap();
    raw[12_345] ^= 0x01;
    std::fs::write(&data, &raw).unwrap();

    let (store, m) = build(&cfg);
    let c = store.open("dsp41.sbn").await.unwrap();
    assert_eq!(read_all(&c).await, body, "the good bytes, from the origin");
    assert_eq!(origin.requests(), 2, "refetched");
    assert_eq!(metric(&m, "tftp_cache_corrupt_entries_total"), 1.0);
    assert_eq!(metric(&m, r#"tftp_cache_hits_total{tier="disk"}"#), 0.0);
    settle(&store).await;
    // The rewritten entry is good again after another restart.
    let (store, m) = build(&cfg);
    assert_eq!(
        store
            .open("dsp41.sbn")
            .await
            .unwrap()
            .as_complete()
            .unwrap(),
        body
    );
    assert_eq!(metric(&m, r#"tftp_cache_hits_total{tier="disk"}"#), 1.0);
    assert_eq!(origin.requests(), 2);
}

#[tokio::test]
async fn corrupted_metadata_is_refetched_and_truncated_data_dropped_at_start() {
    let origin = TestOrigin::start().await;
    origin.put("a.xml", "aaaa", Some("\"a\""));
    origin.put("b.xml", "bbbb", Some("\"b\""));
    let disk = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        disk_dir: Some(disk.path().to_path_buf()),
        fresh_ttl_secs: 3600.0,
        ..origin.config()
    };
    {
        let (store, _m) = build(&cfg);
        for n in ["a.xml", "b.xml"] {
            store.open(n).await.unwrap();
            settle(&store).await;
        }
    }
    assert_eq!(entry_files(disk.path(), "meta").len(), 2);
    // Garble one meta file's checksum, truncate the other's data.
    let metas = entry_files(disk.path(), "meta");
    let text = std::fs::read_to_string(&metas[0]).unwrap();
    let garbled = text.replacen("\"sha256\":\"", "\"sha256\":\"00", 1);
    std::fs::write(&metas[0], garbled).unwrap();
    std::fs::write(metas[1].with_extension("data"), "bb").unwrap();
    // A leftover temp file from a crash is cleaned at start.
    std::fs::write(disk.path().join(".tmp-junk"), "x").unwrap();

    let (store, m) = build(&cfg);
    assert!(!disk.path().join(".tmp-junk").exists());
    assert_eq!(read_all(&store.open("a.xml").await.unwrap()).await, "aaaa");
    assert_eq!(read_all(&store.open("b.xml").await.unwrap()).await, "bbbb");
    assert_eq!(origin.requests(), 4, "both refetched");
    assert!(metric(&m, "tftp_cache_corrupt_entries_total") >= 1.0);
}

#[tokio::test]
async fn disk_budget_evicts_oldest() {
    let origin = TestOrigin::start().await;
    for (i, n) in ["1.bin", "2.bin", "3.bin"].iter().enumerate() {
        origin.put(n, pattern(1000, i as u8), None);
    }
    let disk = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        disk_dir: Some(disk.path().to_path_buf()),
        disk_max_bytes: 2500,
        ..origin.config()
    };
    let (store, m) = build(&cfg);
    for n in ["1.bin", "2.bin", "3.bin"] {
        store.open(n).await.unwrap();
        settle(&store).await;
    }
    assert_eq!(
        metric(&m, r#"tftp_cache_evictions_total{tier="disk"}"#),
        1.0
    );
    assert_eq!(metric(&m, r#"tftp_cache_bytes{tier="disk"}"#), 2000.0);
    assert_eq!(entry_files(disk.path(), "data").len(), 2);
}
