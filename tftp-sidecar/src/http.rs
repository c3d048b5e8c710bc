//! The status listener (separate from TFTP): `/metrics`, `/healthz`, `/readyz`,
//! `/api/v1/phones`, and the operator's page (`/`, `/phones/<MAC>`: see `page`).

use std::future::Future;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::page::{Page, PageConfig, RootCheck};
use crate::phones::PhoneTable;

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    phones: Arc<PhoneTable>,
    ready: watch::Receiver<bool>,
}

/// The routes, for serving on a listener of your own or testing without one.
/// `ready` is true once the TFTP socket is bound and the store is usable. The page shows the
/// phone table and no firmware check (see [`router_with_page`]).
pub fn router(
    metrics: Arc<Metrics>,
    phones: Arc<PhoneTable>,
    ready: watch::Receiver<bool>,
) -> Router {
    let page = Page::new(phones, RootCheck::none(), PageConfig::default());
    router_with_page(metrics, ready, page)
}

/// The routes with the operator's page (and `/api/v1/phones`) reading from `page`.
pub fn router_with_page(
    metrics: Arc<Metrics>,
    ready: watch::Receiver<bool>,
    page: Arc<Page>,
) -> Router {
    let phones = page.phones.clone();
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/phones", get(phones_json))
        .with_state(AppState {
            metrics,
            phones,
            ready,
        })
        .merge(crate::page::routes(page))
}

/// Serve until the process ends.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    phones: Arc<PhoneTable>,
    ready: watch::Receiver<bool>,
) -> std::io::Result<()> {
    axum::serve(listener, router(metrics, phones, ready)).await
}

/// Serve, with the operator's page reading from `page`, until the process ends.
pub async fn serve_with_page(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    ready: watch::Receiver<bool>,
    page: Arc<Page>,
) -> std::io::Result<()> {
    axum::serve(listener, router_with_page(metrics, ready, page)).await
}

/// Serve until `shutdown` completes, then finish the requests in progress.
pub async fn serve_with_shutdown(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    phones: Arc<PhoneTable>,
    ready: watch::Receiver<bool>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(metrics, phones, ready))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn metrics_text(State(s): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(),
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// 200 once TFTP is served, 503 before and while draining. Kea's statistics sources are
/// reported on lines of their own but do not change the status: TFTP works without them.
async fn readyz(State(s): State<AppState>) -> Response {
    let (status, mut body) = if *s.ready.borrow() {
        (StatusCode::OK, String::from("ready\n"))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, String::from("not ready\n"))
    };
    for k in s.metrics.kea_sources() {
        body.push_str(&k.status_line());
        body.push('\n');
    }
    (status, body).into_response()
}

async fn phones_json(State(s): State<AppState>) -> Json<serde_json::Value> {
    Json(s.phones.snapshot())
}
