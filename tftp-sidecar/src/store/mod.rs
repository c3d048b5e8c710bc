//! Where file bytes come from: a local root, an HTTP(S) origin, and the caches in front.
//!
//! [`Store`] is the [`FileSource`](crate::content::FileSource) the server uses; [`LocalRoot`]
//! alone is one too (no caching). Build a store from the `[store]` config table with
//! [`StoreConfig::build`].

pub mod config;
pub mod disk_cache;
pub mod events;
pub mod local;
pub mod memory_cache;
pub mod negative;
pub mod origin;
pub mod tiered;

pub use config::StoreConfig;
pub use events::{NoStoreEvents, OriginOutcome, StoreEvents, Tier};
pub use local::{LocalFile, LocalRoot};
pub use tiered::{Store, StoreParts};
