//! The TFTP server: listening sockets -> admission -> one task per transfer.
//!
//! Linux only: `batch_io` and `socket` use recvmmsg/sendmmsg, UDP_SEGMENT and IP_PKTINFO.
//!
//! - `listener`: receive loop per listening socket (requests, single-port demux)
//! - `session`: one transfer (negotiation, windows, retransmits)
//! - `options`: pure option negotiation
//! - `ports`: ephemeral / range / single-port reply sockets
//! - `limits`: session caps and the live-session table
//! - `socket`: socket options (receive buffer, v6-only), IP_PKTINFO for wildcard listeners
//! - `batch_io`: GSO window sends, recvmmsg/sendmmsg batches
//! - `outbox`: single-port mode's queue of replies, flushed by the listener
//! - `shutdown`: signals and draining
//! - `events`: what the engine reports (metrics hook)
//! - `outcome`: the engine's vocabulary (how a transfer ended, why a request was refused)

pub mod batch_io;
pub mod events;
pub mod limits;
mod listener;
pub mod options;
mod outbox;
pub mod outcome;
pub mod ports;
pub mod session;
pub mod shutdown;
pub mod socket;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

pub use events::{
    Events, NoEvents, Outcome, Protocol, RejectReason, TransferProgress, TransferReport,
};
pub use ports::PortMode;

use crate::content::FileSource;
use limits::Admission;
use session::{EngineConfig, SessionCtx};

/// Everything the engine needs to know; built from the config file/flags by `config`.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: Vec<SocketAddr>,
    pub port_mode: PortMode,
    pub blksize_max: u16,
    pub windowsize_max: u16,
    pub timeout: Duration,
    pub retries: u32,
    pub first_block_retries: u32,
    pub max_sessions: usize,
    pub per_client_max: u32,
    /// SO_RCVBUF of listening sockets.
    pub recv_buffer: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: vec!["0.0.0.0:69".parse().unwrap()],
            port_mode: PortMode::Ephemeral,
            // 1500-byte MTU - 20 (IPv4) - 8 (UDP) - 4 (TFTP header).
            blksize_max: 1468,
            windowsize_max: 16,
            timeout: Duration::from_secs(1),
            retries: 5,
            first_block_retries: 2,
            max_sessions: 2000,
            // Generous: behind SNAT (Kubernetes, NAT) many phones share one address.
            per_client_max: 64,
            recv_buffer: 4 << 20,
        }
    }
}

pub(crate) struct Shared {
    cfg: ServerConfig,
    admission: Arc<Admission>,
    range: Option<ports::RangeAllocator>,
    accepting: AtomicBool,
    abort: watch::Sender<bool>,
    session: Arc<SessionCtx>,
    events: Arc<dyn Events>,
}

pub struct Server {
    shared: Arc<Shared>,
    listening: Vec<listener::Listening>,
}

/// Cheap handle for observing a running server (tests, status).
#[derive(Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
}

impl ServerHandle {
    pub fn active_sessions(&self) -> usize {
        self.shared.admission.active()
    }
}

impl Server {
    /// Bind every listening address. Must run inside a tokio runtime.
    pub fn bind(
        cfg: ServerConfig,
        source: Arc<dyn FileSource>,
        events: Arc<dyn Events>,
    ) -> io::Result<Server> {
        let mut sockets = Vec::new();
        for addr in &cfg.listen {
            let s = socket::bind_udp(*addr, Some(cfg.recv_buffer))
                .map_err(|e| io::Error::new(e.kind(), format!("bind {addr}: {e}")))?;
            // On a wildcard address replies must leave from the address each client asked.
            let pktinfo = addr.ip().is_unspecified();
            if pktinfo {
                socket::enable_pktinfo(&s)
                    .map_err(|e| io::Error::new(e.kind(), format!("IP_PKTINFO on {addr}: {e}")))?;
            }
            sockets.push(listener::Listening {
                sock: Arc::new(s),
                pktinfo,
                outbox: (cfg.port_mode == PortMode::SinglePort).then(Default::default),
            });
        }
        let (abort, abort_rx) = watch::channel(false);
        let range = match cfg.port_mode {
            PortMode::Range { first, last } => Some(ports::RangeAllocator::new(first, last)),
            _ => None,
        };
        let session = Arc::new(SessionCtx {
            cfg: EngineConfig {
                limits: options::Limits {
                    blksize_max: cfg.blksize_max,
                    windowsize_max: cfg.windowsize_max,
                },
                timeout: cfg.timeout,
                retries: cfg.retries,
                first_block_retries: cfg.first_block_retries,
            },
            source,
            events: events.clone(),
            abort: abort_rx,
        });
        let shared = Arc::new(Shared {
            admission: Admission::new(cfg.max_sessions, cfg.per_client_max),
            cfg,
            range,
            accepting: AtomicBool::new(true),
            abort,
            session,
            events,
        });
        Ok(Server {
            shared,
            listening: sockets,
        })
    }

    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listening
            .iter()
            .filter_map(|l| l.sock.local_addr().ok())
            .collect()
    }

    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            shared: self.shared.clone(),
        }
    }

    /// Serve until `stop` resolves, then drain for up to `drain`.
    /// Returns the number of transfers aborted at the deadline.
    pub async fn run(self, stop: impl Future<Output = ()>, drain: Duration) -> usize {
        for addr in self.local_addrs() {
            tracing::info!(%addr, mode = ?self.shared.cfg.port_mode, "listening");
        }
        let listeners: Vec<_> = self
            .listening
            .iter()
            .map(|l| tokio::spawn(listener::run(self.shared.clone(), l.clone())))
            .collect();
        stop.await;
        // Listeners keep running while draining: single-port sessions depend on them.
        let aborted = shutdown::drain(&self.shared, drain).await;
        // The last replies of aborted single-port sessions (ERROR "shutting down").
        for l in &self.listening {
            if let Some(o) = &l.outbox {
                o.flush(&l.sock).await;
            }
        }
        for l in listeners {
            l.abort();
        }
        aborted
    }
}
