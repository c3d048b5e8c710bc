//! Files under a local directory, never outside it.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use bytes::Bytes;

use crate::content::{BoxFuture, Content, FileSource, OpenError};

/// A directory served read-only. Names are resolved under the root; anything that resolves
/// outside it (through `..` or a symlink) is refused.
/// Cheap to clone (shared settings).
#[derive(Clone, Debug)]
pub struct LocalRoot {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    case_insensitive: bool,
    /// The root's canonical form, resolved on first use so a root mounted after start works.
    canonical: OnceLock<PathBuf>,
}

/// A resolved file: its canonical path plus what identifies this version of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalFile {
    pub path: PathBuf,
    pub len: u64,
    pub modified: Option<SystemTime>,
}

/// A local root that cannot be served.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RootError {
    #[error("{}: {error}", root.display())]
    Unreadable { root: PathBuf, error: String },
    #[error("{}: not a directory", .0.display())]
    NotDirectory(PathBuf),
}

impl LocalRoot {
    pub fn new(root: PathBuf, case_insensitive: bool) -> LocalRoot {
        LocalRoot {
            inner: Arc::new(Inner {
                root,
                case_insensitive,
                canonical: OnceLock::new(),
            }),
        }
    }

    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Fails when the root is missing or not a directory (for config checks at start).
    pub fn check(&self) -> Result<(), RootError> {
        let root = self.canonical_root().map_err(|e| RootError::Unreadable {
            root: self.inner.root.clone(),
            error: e.to_string(),
        })?;
        if !root.is_dir() {
            return Err(RootError::NotDirectory(self.inner.root.clone()));
        }
        Ok(())
    }

    fn canonical_root(&self) -> io::Result<&Path> {
        if let Some(p) = self.inner.canonical.get() {
            return Ok(p);
        }
        let p = fs::canonicalize(&self.inner.root)?;
        Ok(self.inner.canonical.get_or_init(|| p))
    }

    /// Blocking: find `name` under the root and check it stays there.
    pub fn resolve_blocking(&self, name: &str) -> Result<LocalFile, OpenError> {
        let root = self
            .canonical_root()
            .map_err(|e| OpenError::Unavailable(format!("local root: {e}")))?
            .to_path_buf();
        let mut path = root.clone();
        let mut any = false;
        for comp in Path::new(name).components() {
            match comp {
                Component::Normal(part) => {
                    any = true;
                    path = self.join_component(&path, part)?;
                }
                Component::CurDir => {}
                // The filename rules already refuse these; refuse again rather than trust.
                _ => return Err(OpenError::AccessDenied("path leaves the root".to_string())),
            }
        }
        if !any {
            return Err(OpenError::AccessDenied("empty file name".to_string()));
        }
        let real = fs::canonicalize(&path).map_err(io_error)?;
        if !real.starts_with(&root) {
            return Err(OpenError::AccessDenied(
                "symlink resolves outside the root".to_string(),
            ));
        }
        let meta = fs::metadata(&real).map_err(io_error)?;
        if !meta.is_file() {
            return Err(OpenError::AccessDenied("not a regular file".to_string()));
        }
        Ok(LocalFile {
            path: real,
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }

    /// Exact name first; otherwise (case-insensitive mode) one scan of the directory.
    fn join_component(&self, dir: &Path, part: &std::ffi::OsStr) -> Result<PathBuf, OpenError> {
        let exact = dir.join(part);
        if !self.inner.case_insensitive || fs::symlink_metadata(&exact).is_ok() {
            return Ok(exact);
        }
        let want = part.to_string_lossy();
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => return Err(io_error(e)),
        };
        // Several entries may differ only in case: take the smallest name so the choice is stable.
        let mut found: Option<std::ffi::OsString> = None;
        for entry in entries.flatten() {
            let n = entry.file_name();
            if !n.to_str().is_some_and(|s| s.eq_ignore_ascii_case(&want)) {
                continue;
            }
            let smaller = match &found {
                Some(f) => n < *f,
                None => true,
            };
            if smaller {
                found = Some(n);
            }
        }
        match found {
            Some(n) => Ok(dir.join(n)),
            None => Err(OpenError::NotFound),
        }
    }

    /// Resolve and read a whole file, off the async threads.
    pub async fn read(&self, name: &str) -> Result<(LocalFile, Bytes), OpenError> {
        let file = self.resolve(name).await?;
        let path = file.path.clone();
        let bytes = tokio::task::spawn_blocking(move || fs::read(path))
            .await
            .map_err(|e| OpenError::Unavailable(format!("local read: {e}")))?
            .map_err(io_error)?;
        Ok((file, Bytes::from(bytes)))
    }

    /// Resolve only (cheap: a few stat calls); used to revalidate a cached local file.
    pub async fn resolve(&self, name: &str) -> Result<LocalFile, OpenError> {
        let me = self.clone();
        let name = name.to_string();
        tokio::task::spawn_blocking(move || me.resolve_blocking(&name))
            .await
            .map_err(|e| OpenError::Unavailable(format!("local lookup: {e}")))?
    }
}

fn io_error(e: io::Error) -> OpenError {
    match e.kind() {
        io::ErrorKind::NotFound => OpenError::NotFound,
        io::ErrorKind::PermissionDenied => OpenError::AccessDenied("permission denied".to_string()),
        _ if e.raw_os_error() == Some(20) => OpenError::NotFound, // ENOTDIR: a file used as a dir
        _ => OpenError::Unavailable(format!("local I/O: {e}")),
    }
}

impl FileSource for LocalRoot {
    fn open<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Content, OpenError>> {
        Box::pin(async move {
            let (_, bytes) = self.read(name).await?;
            Ok(Content::complete(bytes))
        })
    }
}
