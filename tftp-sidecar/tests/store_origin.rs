//! Store against a real local HTTP origin: fill, coalescing, streaming, revalidation,
//! negative caching, stale-if-error, LRU budget, local-root precedence.

mod store_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use store_support::*;
use tftp_sidecar::content::{FileSource, OpenError};
use tftp_sidecar::store::StoreConfig;

const T: Duration = Duration::from_secs(10);

#[tokio::test]
async fn cache_fill_then_memory_hits() {
    let origin = TestOrigin::start().await;
    let body = pattern(70_000, 1);
    origin.put("term41.default.loads", body.clone(), Some("\"v1\""));
    let (store, m) = build(&origin.config());
    let c = store.open("term41.default.loads").await.unwrap();
    assert_eq!(read_all(&c).await, body);
    settle(&store).await;
    for _ in 0..5 {
        let c = store.open("term41.default.loads").await.unwrap();
        assert_eq!(c.as_complete().unwrap(), body, "served whole from memory");
    }
    assert_eq!(origin.requests(), 1);
    assert_eq!(metric(&m, "tftp_cache_misses_total"), 1.0);
    assert_eq!(metric(&m, r#"tftp_cache_hits_total{tier="memory"}"#), 5.0);
    assert_eq!(
        metric(&m, r#"tftp_origin_requests_total{outcome="ok"}"#),
        1.0
    );
    assert_eq!(
        metric(&m, "tftp_origin_request_duration_seconds_count"),
        1.0
    );
    assert_eq!(metric(&m, r#"tftp_cache_bytes{tier="memory"}"#), 70_000.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_misses_one_origin_fetch() {
    let origin = TestOrigin::start().await;
    let body = pattern(300_000, 7);
    origin.put("SIP78xx.sbn", body.clone(), Some("\"fw\""));
    // Slow enough that every open arrives while the fetch is in flight.
    origin.set_delay(Duration::from_millis(1000));
    let (store, m) = build(&origin.config());
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let c = s.open("SIP78xx.sbn").await.unwrap();
            read_all(&c).await
        }));
    }
    for t in tasks {
        let got = tokio::time::timeout(T, t).await.unwrap().unwrap();
        assert_eq!(got, body);
    }
    assert_eq!(origin.requests(), 1, "exactly one origin GET");
    assert_eq!(metric(&m, "tftp_cache_misses_total"), 1.0);
    let joined = metric(&m, "tftp_cache_coalesced_waits_total")
        + metric(&m, r#"tftp_cache_hits_total{tier="memory"}"#);
    assert_eq!(joined, 99.0);
    assert!(metric(&m, "tftp_cache_coalesced_waits_total") >= 90.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_starts_before_the_fetch_completes() {
    let body = pattern(10_000, 3);
    let origin = GatedOrigin::start(body.clone(), 2048).await;
    let cfg = StoreConfig {
        origin_url: Some(origin.url.clone()),
        ..Default::default()
    };
    let (store, m) = build(&cfg);
    let c = tokio::time::timeout(T, store.open("big.bin"))
        .await
        .expect("open returns once headers arrive")
        .unwrap();
    assert_eq!(
        c.size_hint(),
        Some(10_000),
        "tsize known from Content-Length"
    );
    assert!(c.as_complete().is_none(), "still filling");
    // The first blocks are readable while the origin holds back the rest.
    let first = tokio::time::timeout(T, c.read_at(0, 512))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first, body.slice(0..512));
    let more = tokio::time::timeout(T, c.read_at(1536, 512))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(more, body.slice(1536..2048));
    // A second session joins the same fill instead of fetching again.
    let c2 = tokio::time::timeout(T, store.open("big.bin"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(metric(&m, "tftp_cache_coalesced_waits_total"), 1.0);
    let pending = tokio::spawn({
        let c2 = c2.clone();
        async move { c2.read_at(9_728, 512).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!pending.is_finished(), "waits for bytes not yet arrived");
    origin.gate.notify_one();
    let tail = tokio::time::timeout(T, pending)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(tail, body.slice(9_728..10_000));
    assert_eq!(read_all(&c).await, body);
    assert_eq!(read_all(&c2).await, body);
    settle(&store).await;
    assert_eq!(
        origin.connections.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    assert_eq!(
        store.open("big.bin").await.unwrap().as_complete().unwrap(),
        body
    );
}

#[tokio::test]
async fn revalidation_with_etag_and_last_modified() {
    let origin = TestOrigin::start().await;
    origin.put("SEP001122334455.cnf.xml", "v1", Some("\"1\""));
    origin.put_file(
        "lm.xml",
        OriginFile {
            body: Bytes::from_static(b"lm-v1"),
            etag: None,
            last_modified: Some("Wed, 21 Oct 2015 07:28:00 GMT".into()),
        },
    );
    let cfg = StoreConfig {
        fresh_ttl_secs: 0.0, // every open asks the origin again
        ..origin.config()
    };
    let (store, m) = build(&cfg);
    let name = "SEP001122334455.cnf.xml";
    assert_eq!(read_all(&store.open(name).await.unwrap()).await, "v1");
    settle(&store).await;
    assert_eq!(read_all(&store.open(name).await.unwrap()).await, "v1");
    settle(&store).await;
    assert_eq!(origin.requests(), 2);
    assert_eq!(origin.not_modified(), 1, "304 kept the cached copy");
    assert_eq!(
        metric(&m, r#"tftp_origin_requests_total{outcome="not_modified"}"#),
        1.0
    );
    // Changed at the origin: new bytes.
    origin.put(name, "v2-longer", Some("\"2\""));
    assert_eq!(
        read_all(&store.open(name).await.unwrap()).await,
        "v2-longer"
    );
    settle(&store).await;
    assert_eq!(origin.not_modified(), 1);
    assert_eq!(
        metric(&m, r#"tftp_origin_requests_total{outcome="ok"}"#),
        2.0
    );

    assert_eq!(
        read_all(&store.open("lm.xml").await.unwrap()).await,
        "lm-v1"
    );
    settle(&store).await;
    assert_eq!(
        read_all(&store.open("lm.xml").await.unwrap()).await,
        "lm-v1"
    );
    assert_eq!(origin.not_modified(), 2, "If-Modified-Since answered 304");
}

#[tokio::test]
async fn fresh_copy_is_not_revalidated() {
    let origin = TestOrigin::start().await;
    origin.put("a.xml", "a", Some("\"1\""));
    let cfg = StoreConfig {
        fresh_ttl_secs: 2.0,
        ..origin.config()
    };
    let (store, _m) = build(&cfg);
    store.open("a.xml").await.unwrap();
    settle(&store).await;
    store.open("a.xml").await.unwrap();
    assert_eq!(origin.requests(), 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    store.open("a.xml").await.unwrap();
    assert_eq!(origin.requests(), 2);
    assert_eq!(origin.not_modified(), 1);
}

#[tokio::test]
async fn negative_cache_then_expiry() {
    let origin = TestOrigin::start().await;
    let cfg = StoreConfig {
        negative_ttl_secs: 2.0,
        ..origin.config()
    };
    let (store, m) = build(&cfg);
    let name = "CTLSEP001122334455.tlv";
    let started = Instant::now();
    assert_eq!(store.open(name).await.unwrap_err(), OpenError::NotFound);
    assert_eq!(origin.requests(), 1);
    origin.put(name, "now here", None);
    for _ in 0..3 {
        assert_eq!(store.open(name).await.unwrap_err(), OpenError::NotFound);
    }
    assert!(
        started.elapsed() < Duration::from_millis(2000),
        "test too slow to be meaningful"
    );
    assert_eq!(origin.requests(), 1, "remembered, not asked again");
    assert_eq!(metric(&m, "tftp_negative_cache_hits_total"), 3.0);
    assert_eq!(
        metric(&m, r#"tftp_origin_requests_total{outcome="not_found"}"#),
        1.0
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let c = store.open(name).await.unwrap();
    assert_eq!(read_all(&c).await, "now here");
    assert_eq!(origin.requests(), 2);
}

#[tokio::test]
async fn origin_404_drops_the_cached_copy() {
    let origin = TestOrigin::start().await;
    origin.put("gone.xml", "x", Some("\"1\""));
    let cfg = StoreConfig {
        fresh_ttl_secs: 0.0,
        negative_ttl_secs: 0.0,
        ..origin.config()
    };
    let (store, _m) = build(&cfg);
    store.open("gone.xml").await.unwrap();
    settle(&store).await;
    origin.remove("gone.xml");
    assert_eq!(
        store.open("gone.xml").await.unwrap_err(),
        OpenError::NotFound
    );
    assert_eq!(
        store.open("gone.xml").await.unwrap_err(),
        OpenError::NotFound
    );
    assert_eq!(origin.requests(), 3, "negative cache off: asked each time");
}

#[tokio::test]
async fn stale_if_error_serves_cached_copy_and_counts() {
    let origin = TestOrigin::start().await;
    origin.put("XMLDefault.cnf.xml", "cfg", Some("\"1\""));
    let cfg = StoreConfig {
        fresh_ttl_secs: 0.0,
        stale_retry_secs: 0.0,
        origin_timeout_secs: 1.0,
        ..origin.config()
    };
    let (store, m) = build(&cfg);
    store.open("XMLDefault.cnf.xml").await.unwrap();
    settle(&store).await;

    origin.force_status(Some(500));
    let c = store.open("XMLDefault.cnf.xml").await.unwrap();
    assert_eq!(read_all(&c).await, "cfg");
    settle(&store).await;
    assert_eq!(metric(&m, "tftp_cache_stale_served_total"), 1.0);
    assert_eq!(
        metric(&m, r#"tftp_origin_requests_total{outcome="error"}"#),
        1.0
    );

    // A timeout is an error too.
    origin.force_status(None);
    origin.set_delay(Duration::from_secs(4));
    let c = store.open("XMLDefault.cnf.xml").await.unwrap();
    assert_eq!(read_all(&c).await, "cfg");
    settle(&store).await;
    assert_eq!(metric(&m, "tftp_cache_stale_served_total"), 2.0);
    assert_eq!(
        metric(&m, r#"tftp_origin_requests_total{outcome="timeout"}"#),
        1.0
    );

    // Nothing cached: the failure reaches the caller.
    origin.set_delay(Duration::ZERO);
    origin.force_status(Some(503));
    match store.open("other.xml").await {
        Err(OpenError::Unavailable(why)) => assert!(why.contains("503"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(metric(&m, "tftp_cache_stale_served_total"), 2.0);
}

#[tokio::test]
async fn stale_copy_served_without_retrying_origin_for_a_while() {
    let origin = TestOrigin::start().await;
    origin.put("f.xml", "f", Some("\"1\""));
    let cfg = StoreConfig {
        fresh_ttl_secs: 0.0,
        stale_retry_secs: 30.0,
        ..origin.config()
    };
    let (store, m) = build(&cfg);
    store.open("f.xml").await.unwrap();
    settle(&store).await;
    origin.force_status(Some(500));
    for _ in 0..5 {
        assert_eq!(read_all(&store.open("f.xml").await.unwrap()).await, "f");
        settle(&store).await;
    }
    assert_eq!(
        origin.requests(),
        2,
        "one failed revalidation, then backoff"
    );
    assert_eq!(metric(&m, "tftp_cache_stale_served_total"), 5.0);
}

#[tokio::test]
async fn lru_eviction_by_byte_budget_is_counted() {
    let origin = TestOrigin::start().await;
    for (i, n) in ["a.bin", "b.bin", "c.bin"].iter().enumerate() {
        origin.put(n, pattern(1000, i as u8), None);
    }
    let cfg = StoreConfig {
        memory_cache_bytes: 2500,
        ..origin.config()
    };
    let (store, m) = build(&cfg);
    for n in ["a.bin", "b.bin"] {
        store.open(n).await.unwrap();
        settle(&store).await;
    }
    store.open("a.bin").await.unwrap(); // b is now least recently used
    for n in ["c.bin", "a.bin"] {
        store.open(n).await.unwrap();
        settle(&store).await;
    }
    assert_eq!(
        metric(&m, r#"tftp_cache_evictions_total{tier="memory"}"#),
        1.0
    );
    assert_eq!(metric(&m, r#"tftp_cache_bytes{tier="memory"}"#), 2000.0);
    assert_eq!(origin.requests(), 3, "a and c stayed");
    let c = store.open("b.bin").await.unwrap();
    assert_eq!(read_all(&c).await, pattern(1000, 1));
    assert_eq!(origin.requests_for("b.bin"), 2, "b was evicted");
    settle(&store).await;
    assert_eq!(
        metric(&m, r#"tftp_cache_evictions_total{tier="memory"}"#),
        2.0
    );
    assert!(store.memory_bytes() <= 2500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_file_does_not_block_other_misses() {
    let origin = TestOrigin::start().await;
    origin.put("SEP000000000001.cnf.xml", "slow", None);
    origin.put("SEP000000000002.cnf.xml", "fast", None);
    origin.set_path_delay("SEP000000000001.cnf.xml", Duration::from_secs(6));
    let (store, _m) = build(&origin.config());
    let slow = tokio::spawn({
        let s = store.clone();
        async move { s.open("SEP000000000001.cnf.xml").await.map(|_| ()) }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let t0 = Instant::now();
    let c = store.open("SEP000000000002.cnf.xml").await.unwrap();
    assert_eq!(read_all(&c).await, "fast");
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
    assert!(!slow.is_finished());
    slow.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origin_requests_in_flight_are_capped() {
    let origin = TestOrigin::start().await;
    for i in 0..6 {
        origin.put(&format!("SEP00000000000{i}.cnf.xml"), "x", None);
    }
    origin.set_delay(Duration::from_millis(200));
    let cfg = StoreConfig {
        origin_max_concurrent: 2,
        ..origin.config()
    };
    let (store, _m) = build(&cfg);
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let s = store.clone();
            tokio::spawn(async move {
                s.open(&format!("SEP00000000000{i}.cnf.xml"))
                    .await
                    .map(|_| ())
            })
        })
        .collect();
    for t in tasks {
        tokio::time::timeout(T, t).await.unwrap().unwrap().unwrap();
    }
    assert_eq!(origin.requests(), 6);
    assert_eq!(
        origin
            .state
            .max_in_flight
            .load(std::sync::atomic::Ordering::SeqCst),
        2
    );
}

#[tokio::test]
async fn local_root_first_then_origin() {
    let origin = TestOrigin::start().await;
    origin.put("both.xml", "from origin", None);
    origin.put("Remote.xml", "remote", None);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("both.xml"), "from local").unwrap();
    std::fs::write(dir.path().join("Jar41sip.sbn"), "jar").unwrap();
    let cfg = StoreConfig {
        root: Some(dir.path().to_path_buf()),
        case_insensitive: true,
        fresh_ttl_secs: 0.0,
        ..origin.config()
    };
    let (store, m) = build(&cfg);
    assert_eq!(
        read_all(&store.open("both.xml").await.unwrap()).await,
        "from local"
    );
    assert_eq!(
        read_all(&store.open("jar41sip.SBN").await.unwrap()).await,
        "jar"
    );
    assert_eq!(origin.requests(), 0);
    assert_eq!(
        read_all(&store.open("Remote.xml").await.unwrap()).await,
        "remote"
    );
    assert_eq!(origin.requests(), 1);
    // A local file changed on disk is read again (same size, so mtime tells).
    settle(&store).await;
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(dir.path().join("both.xml"), "from LOCAL").unwrap();
    assert_eq!(
        read_all(&store.open("both.xml").await.unwrap()).await,
        "from LOCAL"
    );
    // Case-insensitive keys share one cached copy.
    assert_eq!(metric(&m, "tftp_cache_misses_total"), 4.0);
}

#[tokio::test]
async fn symlink_escape_refused_through_store() {
    let origin = TestOrigin::start().await;
    origin.put("leak", "origin copy", None);
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "secret").unwrap();
    let dir = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("leak")).unwrap();
    let cfg = StoreConfig {
        root: Some(dir.path().to_path_buf()),
        ..origin.config()
    };
    let (store, _m) = build(&cfg);
    #[cfg(unix)]
    assert!(matches!(
        store.open("leak").await,
        Err(OpenError::AccessDenied(_))
    ));
    assert_eq!(
        origin.requests(),
        0,
        "a refused name is not asked of the origin"
    );
}

#[tokio::test]
async fn oversize_origin_file_refused() {
    let origin = TestOrigin::start().await;
    origin.put("huge.bin", pattern(5000, 0), None);
    let cfg = StoreConfig {
        max_file_bytes: 4096,
        ..origin.config()
    };
    let (store, _m) = build(&cfg);
    assert!(matches!(
        store.open("huge.bin").await,
        Err(OpenError::Unavailable(_))
    ));
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync + 'static>() {}
    is::<tftp_sidecar::store::Store>();
    is::<Arc<dyn FileSource>>();
}
