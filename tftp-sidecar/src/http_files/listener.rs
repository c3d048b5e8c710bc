//! Accept loop and one task per connection: caps first (refused connections get a one-line
//! 503 and are closed, counted by reason), then hyper's HTTP/1.1 with keep-alive, a bounded
//! request head and the header-read timeout, plus our idle watchdog.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::activity::{Activity, ActivityIo};
use super::handler::{handle, Ctx};
use super::limits::{ConnLimits, ConnPermit};
use super::HttpConfig;
use crate::server::events::{Protocol, RejectReason};

/// Sent, best effort, to a connection over a cap before it is closed.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nserver busy\n";

pub struct Shared {
    pub cfg: HttpConfig,
    pub ctx: Ctx,
    pub limits: Arc<ConnLimits>,
    pub builder: http1::Builder,
}

impl Shared {
    pub fn new(cfg: HttpConfig, ctx: Ctx) -> Shared {
        let mut b = http1::Builder::new();
        b.timer(TokioTimer::new())
            // Also bounds how long a kept-alive connection waits for its next request.
            .header_read_timeout(cfg.header_timeout)
            .max_header_size(cfg.max_header_bytes)
            // The read buffer bounds an unfinished head (max_header_size is only checked
            // once a head is complete); hyper refuses anything under 8 KiB.
            .max_buf_size(cfg.max_header_bytes.max(8192))
            .max_headers(64)
            .keep_alive(true)
            .writev(true);
        let limits = ConnLimits::new(
            cfg.max_connections,
            cfg.per_client_max,
            Some(ctx.events.clone()),
        );
        Shared {
            cfg,
            ctx,
            limits,
            builder: b,
        }
    }
}

pub async fn run(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|s| *s) => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: do not spin.
                tracing::warn!(error = %e, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match shared.limits.try_admit(peer.ip()) {
            Ok(permit) => {
                tokio::spawn(connection(shared.clone(), stream, peer, permit));
            }
            Err(reason) => {
                shared.ctx.events.request_rejected(Protocol::Http, reason);
                // No task and no waiting: one non-blocking write, then close.
                let _ = stream.try_write(BUSY);
            }
        }
    }
}

async fn connection(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr, _permit: ConnPermit) {
    let _ = stream.set_nodelay(true);
    let activity = Activity::new();
    let io = TokioIo::new(ActivityIo::new(stream, activity.clone()));
    let requests = Arc::new(AtomicU64::new(0));
    let svc = {
        let (shared, requests) = (shared.clone(), requests.clone());
        service_fn(move |req| {
            let (shared, requests) = (shared.clone(), requests.clone());
            async move {
                requests.fetch_add(1, Ordering::Relaxed);
                Ok::<_, Infallible>(handle(&shared.ctx, peer, req).await)
            }
        })
    };
    let conn = shared.builder.serve_connection(io, svc);
    tokio::pin!(conn);
    let idle = shared.cfg.idle_timeout;
    let events = &shared.ctx.events;
    let result = loop {
        let deadline = tokio::time::Instant::from_std(activity.last() + idle);
        tokio::select! {
            r = conn.as_mut() => break r,
            _ = tokio::time::sleep_until(deadline) => {
                if activity.last().elapsed() >= idle {
                    events.request_rejected(Protocol::Http, RejectReason::Timeout);
                    return;
                }
            }
        }
    };
    let served = requests.load(Ordering::Relaxed);
    if let Err(e) = result {
        // A connection that never got a whole request in is a refusal worth counting; a
        // kept-alive one that ends between requests is normal.
        if e.is_timeout() && served == 0 {
            events.request_rejected(Protocol::Http, RejectReason::Timeout);
        } else if e.is_parse() || e.is_parse_too_large() {
            events.request_rejected(Protocol::Http, RejectReason::Malformed);
        }
        tracing::debug!(%peer, error = %e, "HTTP connection ended");
    }
}
