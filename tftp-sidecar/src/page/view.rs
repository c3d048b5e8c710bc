//! The page's routes and templates. Templates are askama's (`templates/page/`), checked at
//! compile time and HTML-escaped by default: every string that came from a phone (file names,
//! which may hold any bytes) is text, never markup. Links are built here, percent-encoded,
//! then HTML-escaped by the template like any other value.

use std::sync::Arc;
use std::time::SystemTime;

use askama::Template;
use axum::extract::{Path, Query as QueryParams, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;

use super::model::{self, class_text, outcome_text, PageView, Query, SortKey, State as PhoneState};
use super::Page;
use crate::phones::rfc3339;

const CSS: &str = include_str!("assets/page.css");
const JS: &str = include_str!("assets/page.js");

/// Only this origin's own script and style; no inline script can run even if markup got in.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `/`, `/page/fragment`, `/page/page.css`, `/page/page.js`, `/phones/<MAC>`.
pub fn routes(page: Arc<Page>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/page/fragment", get(fragment))
        .route(
            "/page/page.css",
            get(|| asset(CSS, "text/css; charset=utf-8")),
        )
        .route(
            "/page/page.js",
            get(|| asset(JS, "text/javascript; charset=utf-8")),
        )
        .route("/phones/:mac", get(phone))
        .with_state(page)
}

/// The query string as sent; anything unknown or malformed means "the default".
#[derive(Deserialize, Default)]
struct Params {
    q: Option<String>,
    state: Option<String>,
    sort: Option<String>,
    order: Option<String>,
    page: Option<String>,
}

impl Params {
    fn query(&self) -> Query {
        Query {
            // Bounded: a filter is a few words, not a document.
            q: self.q.as_deref().unwrap_or("").chars().take(200).collect(),
            state: self.state.as_deref().and_then(PhoneState::parse),
            sort: self
                .sort
                .as_deref()
                .and_then(SortKey::parse)
                .unwrap_or_default(),
            desc: self.order.as_deref() == Some("desc"),
            page: self
                .page
                .as_deref()
                .and_then(|p| p.parse().ok())
                .unwrap_or(1),
        }
    }
}

fn view(page: &Page, query: &Query) -> PageView {
    let records = page.phones.records();
    let facts = page.check.facts();
    model::build(
        &records,
        &facts,
        query,
        SystemTime::now(),
        page.config.stuck_after(),
        page.phones.capacity(),
    )
}

async fn index(State(page): State<Arc<Page>>, QueryParams(p): QueryParams<Params>) -> Response {
    let q = p.query();
    let v = view(&page, &q);
    let t = IndexTemplate {
        main: MainTemplate::of(&v),
        refresh_ms: (page.config.refresh * 1000.0) as u64,
        refresh_secs: page.config.refresh.ceil() as u64,
    };
    html(StatusCode::OK, t.render())
}

async fn fragment(State(page): State<Arc<Page>>, QueryParams(p): QueryParams<Params>) -> Response {
    let v = view(&page, &p.query());
    html(StatusCode::OK, MainTemplate::of(&v).render())
}

async fn phone(State(page): State<Arc<Page>>, Path(raw): Path<String>) -> Response {
    let mac: String = raw
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.'))
        .collect::<String>()
        .to_ascii_uppercase();
    let record = (mac.len() == 12 && mac.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| page.phones.phone(&mac))
        .flatten();
    let Some(r) = record else {
        let t = NotFoundTemplate {
            what: raw.chars().take(100).collect(),
        };
        return html(StatusCode::NOT_FOUND, t.render());
    };
    let facts = page.check.facts();
    let now = SystemTime::now();
    let row = model::row_of(&r, &facts, now, page.config.stuck_after());
    let t = PhoneTemplate {
        row: RowView::of(&row),
        first_seen: rfc3339(r.first_seen),
        transfers: r.transfers,
        load_file: r.load_file.clone().unwrap_or_default(),
        transcript: r
            .transcript
            .iter()
            .rev()
            .map(|t| TranscriptLine {
                at: rfc3339(t.at),
                file: t.file.clone(),
                class: class_text(t.class),
                protocol: t.protocol.as_str(),
                outcome: t.outcome.as_str(),
                outcome_text: outcome_text(t.outcome),
                ok: t.outcome == crate::server::events::Outcome::Completed,
                bytes: t.bytes,
                duration_ms: t.duration.as_millis() as u64,
            })
            .collect(),
        kept: crate::phones::TRANSCRIPT_LEN,
    };
    html(StatusCode::OK, t.render())
}

fn html(status: StatusCode, body: askama::Result<String>) -> Response {
    match body {
        Ok(b) => {
            let mut r = (status, b).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "operator's page: template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template failed\n").into_response()
        }
    }
}

async fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

// --- what the templates see: strings ready to print (escaped by askama) ---

struct RowView {
    mac: String,
    mac_colons: String,
    href: String,
    model: String,
    address: String,
    protocol: String,
    file: String,
    state: &'static str,
    reason: String,
    in_problems: bool,
    has_bar: bool,
    bar_value: u64,
    bar_max: u64,
    progress_text: String,
    seen: String,
    seen_ago: String,
}

impl RowView {
    fn of(r: &model::Row) -> RowView {
        let (has_bar, bar_value, bar_max, progress_text) = match &r.progress {
            Some(p) => match (p.total, p.percent()) {
                (Some(total), Some(pct)) => (
                    true,
                    p.fetched.min(total),
                    total.max(1),
                    match p.missing_images {
                        0 => format!("{} of {} ({pct} %)", bytes(p.fetched), bytes(total)),
                        n => format!(
                            "{} of {} ({pct} %) + {n} image(s) missing from the root",
                            bytes(p.fetched),
                            bytes(total)
                        ),
                    },
                ),
                _ => (
                    false,
                    0,
                    0,
                    format!("{} fetched (load size unknown)", bytes(p.fetched)),
                ),
            },
            None => (false, 0, 0, String::new()),
        };
        RowView {
            mac: r.mac.clone(),
            mac_colons: r
                .mac
                .as_bytes()
                .chunks(2)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(":"),
            href: format!("/phones/{}", r.mac),
            model: r.model.clone(),
            address: r.address.clone(),
            protocol: if r.fell_back {
                format!("{} (fell back from http)", r.protocol)
            } else {
                r.protocol.to_string()
            },
            file: r.file.clone(),
            state: r.state.as_str(),
            reason: r.reason.clone().unwrap_or_default(),
            in_problems: r.file_in_problems,
            has_bar,
            bar_value,
            bar_max,
            progress_text,
            seen: r.last_seen.clone(),
            seen_ago: r.seen_ago.clone(),
        }
    }
}

struct Link {
    label: String,
    href: String,
    current: bool,
}

struct Column {
    label: &'static str,
    href: String,
    /// "", "▲" or "▼".
    arrow: &'static str,
}

struct ProblemView {
    text: String,
    phones_on_it: usize,
}

#[derive(Template)]
#[template(path = "page/main.html")]
struct MainTemplate {
    total: usize,
    capacity: usize,
    matching: usize,
    states: Vec<Link>,
    columns: Vec<Column>,
    rows: Vec<RowView>,
    page: usize,
    pages: usize,
    prev: String,
    next: String,
    check_status: String,
    problems: Vec<ProblemView>,
    /// Problems and warnings not shown (the lists are bounded).
    more_problems: usize,
    warnings: Vec<String>,
    warnings_total: usize,
    more_warnings: usize,
    definitions: Vec<(&'static str, String)>,
    generated_at: String,
    q: String,
    state: String,
    sort: &'static str,
    order: &'static str,
}

impl MainTemplate {
    fn of(v: &PageView) -> MainTemplate {
        let q = &v.query;
        let mut states = vec![Link {
            label: format!("all {}", v.counts.total),
            href: href(&Query {
                state: None,
                page: 1,
                ..q.clone()
            }),
            current: q.state.is_none(),
        }];
        for s in PhoneState::ALL {
            states.push(Link {
                label: format!("{} {}", s.as_str(), v.counts.of(s)),
                href: href(&Query {
                    state: Some(s),
                    page: 1,
                    ..q.clone()
                }),
                current: q.state == Some(s),
            });
        }
        let columns = [
            (SortKey::Mac, "MAC"),
            (SortKey::Model, "Model"),
            (SortKey::Address, "Address"),
            (SortKey::Protocol, "Protocol"),
            (SortKey::File, "File"),
            (SortKey::State, "State"),
            (SortKey::Progress, "Firmware progress"),
            (SortKey::Seen, "Last seen"),
        ]
        .into_iter()
        .map(|(key, label)| {
            let on = q.sort == key;
            Column {
                label,
                href: href(&Query {
                    sort: key,
                    desc: on && !q.desc,
                    page: 1,
                    ..q.clone()
                }),
                arrow: match (on, q.desc) {
                    (false, _) => "",
                    (true, false) => "▲",
                    (true, true) => "▼",
                },
            }
        })
        .collect();
        let at_page = |page: usize| href(&Query { page, ..q.clone() });
        MainTemplate {
            total: v.counts.total,
            capacity: v.capacity,
            matching: v.matching,
            states,
            columns,
            rows: v.rows.iter().map(RowView::of).collect(),
            page: v.page,
            pages: v.pages,
            prev: if v.page > 1 {
                at_page(v.page - 1)
            } else {
                String::new()
            },
            next: if v.page < v.pages {
                at_page(v.page + 1)
            } else {
                String::new()
            },
            check_status: v.check_status.clone(),
            problems: v
                .problems
                .iter()
                .map(|p| ProblemView {
                    text: p.text.clone(),
                    phones_on_it: p.phones_on_it,
                })
                .collect(),
            more_problems: v.problems_total - v.problems.len(),
            warnings: v.warnings.clone(),
            warnings_total: v.warnings_total,
            more_warnings: v.warnings_total - v.warnings.len(),
            definitions: v
                .definitions
                .iter()
                .map(|(s, d)| (s.as_str(), d.clone()))
                .collect(),
            generated_at: v.generated_at.clone(),
            q: q.q.clone(),
            state: q.state.map(|s| s.as_str()).unwrap_or("").to_string(),
            sort: q.sort.as_str(),
            order: if q.desc { "desc" } else { "asc" },
        }
    }
}

#[derive(Template)]
#[template(path = "page/index.html")]
struct IndexTemplate {
    main: MainTemplate,
    refresh_ms: u64,
    refresh_secs: u64,
}

struct TranscriptLine {
    at: String,
    file: String,
    class: &'static str,
    protocol: &'static str,
    outcome: &'static str,
    outcome_text: &'static str,
    ok: bool,
    bytes: u64,
    duration_ms: u64,
}

#[derive(Template)]
#[template(path = "page/phone.html")]
struct PhoneTemplate {
    row: RowView,
    first_seen: String,
    transfers: u64,
    load_file: String,
    transcript: Vec<TranscriptLine>,
    kept: usize,
}

#[derive(Template)]
#[template(path = "page/not_found.html")]
struct NotFoundTemplate {
    what: String,
}

/// `/?q=...&state=...&sort=...&order=...&page=...`, defaults left out.
fn href(q: &Query) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !q.q.is_empty() {
        parts.push(format!("q={}", utf8_percent_encode(&q.q, NON_ALPHANUMERIC)));
    }
    if let Some(s) = q.state {
        parts.push(format!("state={}", s.as_str()));
    }
    if q.sort != SortKey::default() {
        parts.push(format!("sort={}", q.sort.as_str()));
    }
    if q.desc {
        parts.push("order=desc".to_string());
    }
    if q.page > 1 {
        parts.push(format!("page={}", q.page));
    }
    if parts.is_empty() {
        "/".to_string()
    } else {
        format!("/?{}", parts.join("&"))
    }
}

/// `812 B`, `3.4 kB`, `7.1 MB` (decimal, as firmware sizes are quoted).
fn bytes(n: u64) -> String {
    if n < 1000 {
        format!("{n} B")
    } else if n < 1_000_000 {
        format!("{:.1} kB", n as f64 / 1e3)
    } else if n < 1_000_000_000 {
        format!("{:.1} MB", n as f64 / 1e6)
    } else {
        format!("{:.2} GB", n as f64 / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_query_and_encode_the_filter() {
        let q = Query {
            q: "a&b <x>".into(),
            state: Some(PhoneState::Stuck),
            sort: SortKey::Mac,
            desc: true,
            page: 3,
        };
        assert_eq!(
            href(&q),
            "/?q=a%26b%20%3Cx%3E&state=stuck&sort=mac&order=desc&page=3"
        );
        assert_eq!(href(&Query::default()), "/");
        assert_eq!(bytes(7_100_000), "7.1 MB");
        assert_eq!(bytes(999), "999 B");
    }
}
