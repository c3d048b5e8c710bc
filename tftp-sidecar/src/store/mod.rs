//! Where file bytes come from: a local root, an HTTP(S) origin, and the caches in front.

pub mod local;

pub use local::{LocalFile, LocalRoot};
