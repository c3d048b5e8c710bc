//! Phone files over HTTP/1.1 (TCP 6970, as CUCM's TFTP service does): 78xx/88xx/89xx/99xx
//! phones ask there first and fall back to TFTP. `GET`/`HEAD /<name>` serve exactly what TFTP
//! serves for `<name>`: the same `FileSource` (caches, origin, one fetch for concurrent misses
//! of both protocols), the same filename rules, the same metrics with `protocol="http"`.
//! Separate from the status listener (`http.rs`).
//!
//! - `listener`: accept loop, caps, hyper per connection, idle watchdog
//! - `handler`: one request -> response
//! - `body`: zero-copy bodies, transfer reporting
//! - `range`, `conditional`: pure `Range` / `If-*` rules
//! - `etag`: strong ETags from the content
//! - `limits`: connection caps
//! - `activity`: last-activity tracking for the idle timeout; sends slices of large cached
//!   files with `sendfile`
//! - `zero_copy`: the file copies (`http_sendfile_dir`, else memfd) those slices come from

pub mod activity;
pub mod body;
pub mod conditional;
pub mod etag;
pub mod handler;
pub mod limits;
pub mod listener;
pub mod range;
pub mod zero_copy;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::content::FileSource;
use crate::server::events::Events;

/// The HTTP file listener's settings (`http_*` keys, `--http-*` flags).
#[derive(Clone, Debug, PartialEq)]
pub struct HttpConfig {
    /// Addresses to listen on; `[::]` is bound v6-only so it can sit beside `0.0.0.0`.
    pub listen: Vec<SocketAddr>,
    /// Open connections at most; more are answered 503 and closed (counted `busy`).
    pub max_connections: usize,
    /// Open connections from one IP address at most (counted `per_client_busy`).
    pub per_client_max: u32,
    /// Time for a whole request head to arrive, counted from when the server starts waiting
    /// for it: bounds slowloris clients and kept-alive connections between requests.
    pub header_timeout: Duration,
    /// A connection on which no byte moves either way for this long is closed (a client that
    /// stopped reading its response).
    pub idle_timeout: Duration,
    /// Largest request head accepted (request line and headers); larger gets 431.
    pub max_header_bytes: usize,
    /// Where a large file's copy for `sendfile` is made (an unlinked file; see `zero_copy`):
    /// the system's temporary directory unless set; None keeps it in memory (a memfd).
    pub sendfile_dir: Option<PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: vec![
                "0.0.0.0:6970".parse().unwrap(),
                "[::]:6970".parse().unwrap(),
            ],
            max_connections: 4096,
            // As TFTP's: behind SNAT many phones share one address.
            per_client_max: 64,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_header_bytes: 8 << 10,
            sendfile_dir: Some(std::env::temp_dir()),
        }
    }
}

/// Bound listeners, ready to run.
pub struct HttpFiles {
    shared: Arc<listener::Shared>,
    listeners: Vec<TcpListener>,
}

impl HttpFiles {
    /// Bind every address. A wildcard IPv6 address on a host without IPv6 is skipped with a
    /// warning (the default lists `[::]:6970`); any other failure is an error.
    pub fn bind(
        cfg: HttpConfig,
        source: Arc<dyn FileSource>,
        events: Arc<dyn Events>,
    ) -> io::Result<HttpFiles> {
        let mut listeners = Vec::new();
        for addr in &cfg.listen {
            match bind_tcp(*addr) {
                Ok(l) => listeners.push(l),
                Err(e)
                    if addr.is_ipv6()
                        && addr.ip().is_unspecified()
                        && matches!(
                            e.raw_os_error(),
                            Some(libc::EAFNOSUPPORT | libc::EADDRNOTAVAIL)
                        ) =>
                {
                    tracing::warn!(%addr, error = %e, "no IPv6 here; HTTP file listener not bound");
                }
                Err(e) => return Err(io::Error::new(e.kind(), format!("bind {addr}: {e}"))),
            }
        }
        let ctx = handler::Ctx {
            source,
            events,
            sendfile_dir: cfg.sendfile_dir.clone(),
        };
        Ok(HttpFiles {
            shared: Arc::new(listener::Shared::new(cfg, ctx)),
            listeners,
        })
    }

    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Open connections now.
    pub fn open_connections(&self) -> usize {
        self.shared.limits.open()
    }

    /// Accept until `stop` turns true; connections already open finish on their own.
    pub fn spawn(self, stop: watch::Receiver<bool>) {
        for l in self.listeners {
            if let Ok(addr) = l.local_addr() {
                tracing::info!(http_addr = %addr, "serving phone files over HTTP");
            }
            tokio::spawn(listener::run(l, self.shared.clone(), stop.clone()));
        }
    }
}

fn bind_tcp(addr: SocketAddr) -> io::Result<TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    // A boot storm connects all at once.
    s.listen(4096)?;
    TcpListener::from_std(s.into())
}
