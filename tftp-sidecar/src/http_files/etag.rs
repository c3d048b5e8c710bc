//! Strong ETags from the content: the first 128 bits of its SHA-256, so every replica and
//! every restart gives the same tag for the same bytes. Computed once per cached copy (the
//! tag lives in the copy's `FileMeta`), off the runtime threads for large files.

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::content::Content;

/// Larger files are hashed on the blocking pool (SHA-256 of 7 MB takes milliseconds).
const INLINE_MAX: usize = 256 << 10;

pub fn of(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let mut s = String::with_capacity(34);
    s.push('"');
    for b in &d[..16] {
        s.push_str(&format!("{b:02x}"));
    }
    s.push('"');
    s
}

/// The tag of `content`, whose complete bytes are `bytes`.
pub async fn for_content(content: &Content, bytes: &Bytes) -> String {
    let meta = content.meta();
    if let Some(t) = meta.etag.get() {
        return t.clone();
    }
    let tag = if bytes.len() <= INLINE_MAX {
        of(bytes)
    } else {
        let b = bytes.clone();
        tokio::task::spawn_blocking(move || of(&b))
            .await
            .unwrap_or_else(|_| of(bytes))
    };
    meta.etag.get_or_init(|| tag).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strong_quoted_and_content_derived() {
        let a = of(b"hello");
        assert_eq!(a.len(), 34);
        assert!(a.starts_with('"') && a.ends_with('"'));
        assert_eq!(a, of(b"hello"));
        assert_ne!(a, of(b"hellp"));
        // SHA-256("") begins e3b0c442...
        assert_eq!(of(b""), "\"e3b0c44298fc1c149afbf4c8996fb924\"");
    }

    #[tokio::test]
    async fn computed_once_per_meta() {
        let c = Content::complete(Bytes::from_static(b"abc"));
        let b = c.as_complete().unwrap();
        let t = for_content(&c, &b).await;
        assert_eq!(c.meta().etag.get(), Some(&t));
        assert_eq!(for_content(&c.clone(), &b).await, t);
    }
}
