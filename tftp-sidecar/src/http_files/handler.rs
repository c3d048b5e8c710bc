//! One request: method -> name (the TFTP filename rules) -> the same `FileSource` as TFTP ->
//! preconditions -> range -> response. Error bodies are one short line and never name a
//! server path.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::body::{FileBody, Report};
use super::{conditional, etag, range, zero_copy};
use crate::content::{Content, FileSource, OpenError};
use crate::file_class::FileClass;
use crate::filename;
use crate::server::events::{Events, Outcome, Protocol, RejectReason};

/// What every request on every connection shares.
pub struct Ctx {
    pub source: Arc<dyn FileSource>,
    /// The metrics and the phone table, as for TFTP (`main.rs` builds one for both).
    pub events: Arc<dyn Events>,
    /// Where large files' `sendfile` copies go (`HttpConfig::sendfile_dir`).
    pub sendfile_dir: Option<PathBuf>,
}

pub async fn handle(ctx: &Ctx, client: SocketAddr, req: Request<Incoming>) -> Response<FileBody> {
    let started = Instant::now();
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        ctx.events
            .request_rejected(Protocol::Http, RejectReason::Method);
        let mut r = short(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n", false);
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let name = match filename::validate_url_path(req.uri().path()) {
        Ok(n) => n,
        Err(_) => {
            ctx.events
                .request_rejected(Protocol::Http, RejectReason::Path);
            return short(StatusCode::BAD_REQUEST, "bad file name\n", head);
        }
    };
    let class = FileClass::of(&name);
    // HEAD transfers nothing: it is answered but not counted as a transfer.
    let report = (!head).then(|| {
        ctx.events.transfer_started(Protocol::Http, class);
        Report {
            events: ctx.events.clone(),
            name: name.clone(),
            class,
            client,
            started,
        }
    });
    let content = match ctx.source.open(&name).await {
        Ok(c) => c,
        Err(e) => {
            let (status, text, outcome) = match e {
                OpenError::NotFound => {
                    (StatusCode::NOT_FOUND, "file not found\n", Outcome::NotFound)
                }
                OpenError::AccessDenied(_) => (
                    StatusCode::FORBIDDEN,
                    "access denied\n",
                    Outcome::AccessDenied,
                ),
                OpenError::Unavailable(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "file unavailable\n",
                    Outcome::Unavailable,
                ),
            };
            if let Some(r) = report {
                r.finish(outcome, 0);
            }
            return short(status, text, head);
        }
    };
    respond(ctx, req.headers(), content, class, head, report).await
}

async fn respond(
    ctx: &Ctx,
    h: &HeaderMap,
    content: Content,
    class: FileClass,
    head: bool,
    report: Option<Report>,
) -> Response<FileBody> {
    let wants_whole = [
        header::RANGE,
        header::IF_NONE_MATCH,
        header::IF_MODIFIED_SINCE,
    ]
    .iter()
    .any(|k| h.contains_key(k));
    let bytes = match content.as_complete() {
        Some(b) => b,
        // Still filling and nothing but the bytes wanted: stream them as they arrive.
        None if !wants_whole && !head => return streaming(content, class, report),
        // Validators and ranges need the whole file (its ETag); wait for the fill.
        None => match content.read_at(0, usize::MAX).await {
            Ok(b) => b,
            Err(_) => {
                if let Some(r) = report {
                    r.finish(Outcome::Unavailable, 0);
                }
                return short(StatusCode::SERVICE_UNAVAILABLE, "file unavailable\n", head);
            }
        },
    };
    let tag = etag::for_content(&content, &bytes).await;
    let modified = content.meta().modified;
    let mut resp = Response::builder()
        .header(header::ETAG, &tag)
        .header(header::ACCEPT_RANGES, "bytes");
    if let Some(m) = modified {
        resp = resp.header(header::LAST_MODIFIED, httpdate::fmt_http_date(m));
    }
    let get = |k| h.get(k).map(HeaderValue::as_bytes);
    if conditional::not_modified(
        get(header::IF_NONE_MATCH),
        get(header::IF_MODIFIED_SINCE),
        &tag,
        modified,
    ) {
        if let Some(r) = report {
            // The phone's copy is current: a completed transfer of nothing.
            r.finish(Outcome::Completed, 0);
        }
        return resp
            .status(StatusCode::NOT_MODIFIED)
            .body(FileBody::empty())
            .expect("valid response");
    }
    let len = bytes.len() as u64;
    if !head && bytes.len() >= zero_copy::MIN_BYTES {
        // Once per cached copy: a file the socket writer can sendfile this body from.
        content.meta().keep.get_or_init(|| {
            zero_copy::register(&bytes, ctx.sendfile_dir.as_deref())
                .map_err(|e| tracing::warn!(error = %e, "no zero-copy copy; copying instead"))
                .ok()
                .map(|c| Box::new(c) as Box<dyn std::any::Any + Send + Sync>)
        });
    }
    let ranged = if conditional::range_applies(get(header::IF_RANGE), &tag, modified) {
        range::parse(get(header::RANGE), len)
    } else {
        range::RangeRequest::Full
    };
    let resp = resp.header(header::CONTENT_TYPE, content_type(class));
    let (resp, body) = match ranged {
        range::RangeRequest::Full => (resp.status(StatusCode::OK), bytes),
        range::RangeRequest::Partial { start, end } => (
            resp.status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}")),
            bytes.slice(start as usize..=end as usize),
        ),
        range::RangeRequest::Unsatisfiable => {
            if let Some(r) = report {
                r.finish(Outcome::ClientError, 0);
            }
            let mut r = short(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range not satisfiable\n",
                head,
            );
            r.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{len}")).expect("ascii"),
            );
            return r;
        }
    };
    let resp = resp.header(header::CONTENT_LENGTH, body.len());
    let body = if head {
        FileBody::empty()
    } else {
        FileBody::bytes(body, report)
    };
    resp.body(body).expect("valid response")
}

fn streaming(content: Content, class: FileClass, report: Option<Report>) -> Response<FileBody> {
    let len = content.size_hint();
    let mut resp = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type(class));
    if let Some(m) = content.meta().modified {
        resp = resp.header(header::LAST_MODIFIED, httpdate::fmt_http_date(m));
    }
    // Without a known length hyper sends it chunked.
    if let Some(n) = len {
        resp = resp.header(header::CONTENT_LENGTH, n);
    }
    resp.body(FileBody::stream(content, len, report))
        .expect("valid response")
}

/// A one-line plain-text answer (HEAD: headers only).
fn short(status: StatusCode, text: &'static str, head: bool) -> Response<FileBody> {
    let body = if head {
        FileBody::empty()
    } else {
        FileBody::bytes(Bytes::from_static(text.as_bytes()), None)
    };
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::CONTENT_LENGTH, text.len())
        .body(body)
        .expect("valid response")
}

/// By file class: configs are XML text, everything else is opaque bytes.
pub fn content_type(class: FileClass) -> &'static str {
    match class {
        FileClass::Config => "text/xml; charset=utf-8",
        _ => "application/octet-stream",
    }
}
