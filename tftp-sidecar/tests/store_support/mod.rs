//! A real HTTP origin for store tests: axum on 127.0.0.1:0, counting requests, able to answer
//! 304, 404, 500, or slowly. Plus a hand-written HTTP/1.1 server that sends a body in two
//! parts with a gate between them (to see a transfer start before the fetch ends).

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use tftp_sidecar::content::Content;
use tftp_sidecar::metrics::Metrics;
use tftp_sidecar::store::{Store, StoreConfig};

#[derive(Clone)]
pub struct OriginFile {
    pub body: Bytes,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

#[derive(Default)]
pub struct OriginState {
    pub files: Mutex<HashMap<String, OriginFile>>,
    /// Every request, whatever the answer.
    pub requests: AtomicUsize,
    pub per_path: Mutex<HashMap<String, usize>>,
    pub conditional: AtomicUsize,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    pub not_modified: AtomicUsize,
    /// If set, every request gets this status.
    pub force_status: Mutex<Option<u16>>,
    /// Delay before answering, for every path.
    pub delay: Mutex<Duration>,
    /// Delay before answering, per path (overrides `delay`).
    pub path_delay: Mutex<HashMap<String, Duration>>,
}

pub struct TestOrigin {
    pub addr: SocketAddr,
    pub url: String,
    pub state: Arc<OriginState>,
}

impl TestOrigin {
    pub async fn start() -> TestOrigin {
        let state = Arc::new(OriginState::default());
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        TestOrigin {
            addr,
            url: format!("http://{addr}/files/"),
            state,
        }
    }

    pub fn put(&self, name: &str, body: impl Into<Bytes>, etag: Option<&str>) {
        self.state.files.lock().unwrap().insert(
            name.to_string(),
            OriginFile {
                body: body.into(),
                etag: etag.map(str::to_string),
                last_modified: None,
            },
        );
    }

    pub fn put_file(&self, name: &str, file: OriginFile) {
        self.state
            .files
            .lock()
            .unwrap()
            .insert(name.to_string(), file);
    }

    pub fn remove(&self, name: &str) {
        self.state.files.lock().unwrap().remove(name);
    }

    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    pub fn requests_for(&self, name: &str) -> usize {
        *self.state.per_path.lock().unwrap().get(name).unwrap_or(&0)
    }

    pub fn not_modified(&self) -> usize {
        self.state.not_modified.load(Ordering::SeqCst)
    }

    pub fn force_status(&self, s: Option<u16>) {
        *self.state.force_status.lock().unwrap() = s;
    }

    pub fn set_delay(&self, d: Duration) {
        *self.state.delay.lock().unwrap() = d;
    }

    pub fn set_path_delay(&self, name: &str, d: Duration) {
        self.state
            .path_delay
            .lock()
            .unwrap()
            .insert(name.to_string(), d);
    }

    /// A store config pointing at this origin, short timeouts, everything else default.
    pub fn config(&self) -> StoreConfig {
        StoreConfig {
            origin_url: Some(self.url.clone()),
            origin_connect_timeout_secs: 2.0,
            origin_timeout_secs: 5.0,
            ..Default::default()
        }
    }
}

async fn handle(State(st): State<Arc<OriginState>>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    let Some(name) = path.strip_prefix("/files/") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let name = percent_decode(name);
    st.requests.fetch_add(1, Ordering::SeqCst);
    let now = st.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    st.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let resp = respond(&st, name, &headers).await;
    st.in_flight.fetch_sub(1, Ordering::SeqCst);
    resp
}

async fn respond(st: &OriginState, name: String, headers: &HeaderMap) -> Response {
    *st.per_path.lock().unwrap().entry(name.clone()).or_default() += 1;
    let delay = st
        .path_delay
        .lock()
        .unwrap()
        .get(&name)
        .copied()
        .unwrap_or(*st.delay.lock().unwrap());
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(s) = *st.force_status.lock().unwrap() {
        return StatusCode::from_u16(s).unwrap().into_response();
    }
    let Some(file) = st.files.lock().unwrap().get(&name).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let inm = headers.get("if-none-match").and_then(|v| v.to_str().ok());
    let ims = headers
        .get("if-modified-since")
        .and_then(|v| v.to_str().ok());
    if inm.is_some() || ims.is_some() {
        st.conditional.fetch_add(1, Ordering::SeqCst);
    }
    let unchanged = match (inm, &file.etag, ims, &file.last_modified) {
        (Some(a), Some(b), _, _) => a == b,
        (None, _, Some(a), Some(b)) => a == b,
        _ => false,
    };
    let mut h = HeaderMap::new();
    if let Some(e) = &file.etag {
        h.insert("etag", e.parse().unwrap());
    }
    if let Some(lm) = &file.last_modified {
        h.insert("last-modified", lm.parse().unwrap());
    }
    if unchanged {
        st.not_modified.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    (StatusCode::OK, h, file.body).into_response()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Serves one file over raw HTTP/1.1: headers and `first` bytes at once, the rest after
/// `gate` is notified. Counts connections.
pub struct GatedOrigin {
    pub url: String,
    pub gate: Arc<Notify>,
    pub connections: Arc<AtomicUsize>,
}

impl GatedOrigin {
    pub async fn start(body: Bytes, first: usize) -> GatedOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let gate = Arc::new(Notify::new());
        let connections = Arc::new(AtomicUsize::new(0));
        let (g, c) = (gate.clone(), connections.clone());
        tokio::spawn(async move {
            loop {
                let (mut sock, _) = listener.accept().await.unwrap();
                c.fetch_add(1, Ordering::SeqCst);
                let (g, body) = (g.clone(), body.clone());
                tokio::spawn(async move {
                    let mut req = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        let n = sock.read(&mut buf).await.unwrap();
                        if n == 0 {
                            return;
                        }
                        req.extend_from_slice(&buf[..n]);
                    }
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nETag: \"gated\"\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    sock.write_all(head.as_bytes()).await.unwrap();
                    sock.write_all(&body[..first]).await.unwrap();
                    sock.flush().await.unwrap();
                    g.notified().await;
                    let _ = sock.write_all(&body[first..]).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        GatedOrigin {
            url: format!("http://{addr}/"),
            gate,
            connections,
        }
    }
}

pub fn build(cfg: &StoreConfig) -> (Store, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    let store = cfg.build(metrics.clone()).unwrap();
    (store, metrics)
}

/// All the bytes of a content (waits for a fill).
pub async fn read_all(c: &Content) -> Bytes {
    tokio::time::timeout(Duration::from_secs(10), c.read_at(0, usize::MAX / 2))
        .await
        .expect("read timed out")
        .unwrap()
}

/// Wait until the store has no load in flight (disk writes happen at the end of a load).
pub async fn settle(store: &Store) {
    for _ in 0..500 {
        if store.loads_in_flight() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("loads still in flight");
}

/// One sample from the text exposition, e.g. `tftp_cache_hits_total{tier="memory"}`.
pub fn metric(m: &Metrics, series: &str) -> f64 {
    let text = m.render();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix(series) {
            if let Some(v) = v.strip_prefix(' ') {
                return v.parse().unwrap();
            }
        }
    }
    panic!("series {series} not in:\n{text}")
}

pub fn pattern(n: usize, seed: u8) -> Bytes {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}
