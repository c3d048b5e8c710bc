//! The HTTP(S) origin: `GET <base-url><name>`, conditional when a cached copy exists.

use std::time::Duration;

use reqwest::header::{HeaderMap, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use reqwest::StatusCode;

/// What the origin answered.
pub enum OriginReply {
    /// 304: the copy we hold is current.
    NotModified,
    /// 404 or 410.
    NotFound,
    /// 200: the body is still to be read with [`OriginBody::chunk`].
    Body(Box<OriginBody>),
}

pub struct OriginBody {
    response: reqwest::Response,
    /// Held until the body is read or dropped.
    _permit: tokio::sync::OwnedSemaphorePermit,
    pub content_length: Option<u64>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

#[derive(Debug, Clone)]
pub enum OriginFailure {
    Timeout(String),
    Error(String),
}

impl std::fmt::Display for OriginFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OriginFailure::Timeout(why) => write!(f, "origin timed out: {why}"),
            OriginFailure::Error(why) => write!(f, "origin error: {why}"),
        }
    }
}

impl OriginFailure {
    fn from_reqwest(e: reqwest::Error) -> OriginFailure {
        // Strip the URL: it is in the logs already and may carry credentials.
        let e = e.without_url();
        if e.is_timeout() {
            OriginFailure::Timeout(e.to_string())
        } else {
            OriginFailure::Error(error_chain(&e))
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}

impl OriginBody {
    /// The next piece of the body; `None` at the end.
    pub async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, OriginFailure> {
        self.response
            .chunk()
            .await
            .map_err(OriginFailure::from_reqwest)
    }
}

pub struct Origin {
    client: reqwest::Client,
    /// Caps requests in flight, so a storm of distinct names cannot open unbounded connections.
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    /// Always ends with `/`.
    base: String,
}

/// An origin that cannot be used as configured.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OriginConfigError {
    #[error("max concurrent requests must be > 0")]
    NoConcurrency,
    #[error("not a URL: {0}")]
    NotUrl(String),
    #[error("scheme must be http or https, not {0}")]
    Scheme(String),
    #[error("must not have a query or fragment")]
    QueryOrFragment,
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl Origin {
    /// `timeout` bounds a whole request, body included; `connect_timeout` the TCP/TLS setup;
    /// at most `max_concurrent` requests are in flight (others wait their turn).
    pub fn new(
        base_url: &str,
        connect_timeout: Duration,
        timeout: Duration,
        max_concurrent: usize,
    ) -> Result<Origin, OriginConfigError> {
        if max_concurrent == 0 {
            return Err(OriginConfigError::NoConcurrency);
        }
        let url =
            reqwest::Url::parse(base_url).map_err(|e| OriginConfigError::NotUrl(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OriginConfigError::Scheme(url.scheme().to_string()));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(OriginConfigError::QueryOrFragment);
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            .user_agent(concat!("tftp-sidecar/", env!("CARGO_PKG_VERSION")));
        // A proxy cannot reach our own loopback; don't let one from the environment try.
        let host = url.host_str().unwrap_or("");
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if loopback {
            builder = builder.no_proxy();
        }
        let client = builder
            .build()
            .map_err(|e| OriginConfigError::Client(error_chain(&e)))?;
        let mut base = url.to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        Ok(Origin {
            client,
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(max_concurrent)),
            base,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL for a (validated, relative) file name; each path segment percent-encoded.
    pub fn url_for(&self, name: &str) -> String {
        let mut url = self.base.clone();
        for (i, seg) in name.split('/').enumerate() {
            if i > 0 {
                url.push('/');
            }
            for b in seg.bytes() {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    url.push(b as char);
                } else {
                    url.push_str(&format!("%{b:02X}"));
                }
            }
        }
        url
    }

    /// Send the request and read the headers; the body (if any) is read by the caller.
    pub async fn get(
        &self,
        name: &str,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Result<OriginReply, OriginFailure> {
        let mut req = self.client.get(self.url_for(name));
        let conditional = etag.is_some() || last_modified.is_some();
        if let Some(e) = etag {
            req = req.header(IF_NONE_MATCH, e);
        }
        if let Some(lm) = last_modified {
            req = req.header(IF_MODIFIED_SINCE, lm);
        }
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore never closed");
        let response = req.send().await.map_err(OriginFailure::from_reqwest)?;
        match response.status() {
            StatusCode::OK => {
                let headers = response.headers();
                Ok(OriginReply::Body(Box::new(OriginBody {
                    content_length: response.content_length(),
                    etag: header(headers, ETAG),
                    last_modified: header(headers, LAST_MODIFIED),
                    response,
                    _permit: permit,
                })))
            }
            StatusCode::NOT_MODIFIED if conditional => Ok(OriginReply::NotModified),
            StatusCode::NOT_FOUND | StatusCode::GONE => Ok(OriginReply::NotFound),
            status => Err(OriginFailure::Error(format!("HTTP status {status}"))),
        }
    }
}

fn header(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_urls() {
        let t = Duration::from_secs(1);
        let o = Origin::new("http://127.0.0.1:8080/phones", t, t, 1).unwrap();
        assert_eq!(
            o.url_for("a/SEP 1#?.xml"),
            "http://127.0.0.1:8080/phones/a/SEP%201%23%3F.xml"
        );
        let o = Origin::new("https://files.example/", t, t, 1).unwrap();
        assert_eq!(
            o.url_for("Jar41sip.sbn"),
            "https://files.example/Jar41sip.sbn"
        );
        assert!(Origin::new("ftp://x/", t, t, 1).is_err());
        assert!(Origin::new("nonsense", t, t, 1).is_err());
        assert!(Origin::new("http://x/?q=1", t, t, 1).is_err());
        assert!(Origin::new("http://x/", t, t, 0).is_err());
    }
}
