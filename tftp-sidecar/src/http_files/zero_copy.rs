//! Zero-copy bodies for large files. Writing a cached firmware image to a socket from memory
//! makes the kernel copy every byte (perf: most of the listener's CPU in a boot storm);
//! `sendfile` from a file hands its pages to TCP instead, as nginx does from the page cache.
//!
//! A large cached copy served over HTTP gets a file holding the same bytes, once, kept as
//! long as the copy (in its `FileMeta`), and registered by the address range of the cached
//! `Bytes`. hyper still builds every response; the socket wrapper (`activity.rs`) sees the
//! body slices hyper writes, recognises a slice of a registered copy by its address, and
//! sends it with `sendfile` from the file at the same offset. A registered copy keeps its
//! `Bytes` alive, so no other buffer can sit at those addresses while it is registered.
//!
//! The file is an unlinked one (`O_TMPFILE`) in `http_sendfile_dir` when that is set: page
//! cache of a disk filesystem, which the kernel splices to sockets for less CPU than shmem
//! (a boot storm of 200 x 7.1 MB on ext4, kernel 6.18: 0.23 s against a memfd's 0.29 s,
//! nginx 0.19 s, same run; `tftp-sidecar/bench/results/2026-12-02-http.md`). Without a
//! directory, or when it cannot take one (read-only, full, no `O_TMPFILE`), a memfd.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// Smaller files are copied as usual: a file per config file would cost more than it saves.
pub const MIN_BYTES: usize = 1 << 20;

struct Entry {
    len: usize,
    file: Arc<File>,
    backing: Backing,
    /// Copies registered for this range (the same `Bytes` can back several metas).
    refs: usize,
}

static REGISTRY: Mutex<BTreeMap<usize, Entry>> = Mutex::new(BTreeMap::new());

/// What holds a registered copy's bytes for `sendfile`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backing {
    /// An unlinked file in `http_sendfile_dir`.
    Disk,
    /// A memfd (shmem).
    Memory,
}

/// A registered file copy of some cached bytes; unregistered when dropped.
pub struct SendfileCopy {
    start: usize,
    backing: Backing,
    _bytes: Bytes,
}

impl SendfileCopy {
    pub fn backing(&self) -> Backing {
        self.backing
    }
}

impl Drop for SendfileCopy {
    fn drop(&mut self) {
        let mut reg = REGISTRY.lock().unwrap();
        if let Some(e) = reg.get_mut(&self.start) {
            e.refs -= 1;
            if e.refs == 0 {
                reg.remove(&self.start);
            }
        }
    }
}

/// Register `bytes` for zero-copy sends: writes them into a new unlinked file in `dir` (a
/// memfd without one, or when `dir` refuses it), or joins the copy already registered for
/// the same bytes.
pub fn register(bytes: &Bytes, dir: Option<&Path>) -> io::Result<SendfileCopy> {
    let start = bytes.as_ptr() as usize;
    {
        let mut reg = REGISTRY.lock().unwrap();
        if let Some(e) = reg.get_mut(&start).filter(|e| e.len == bytes.len()) {
            e.refs += 1;
            return Ok(SendfileCopy {
                start,
                backing: e.backing,
                _bytes: bytes.clone(),
            });
        }
    }
    let (mut f, backing) = match dir.map(unlinked_file) {
        Some(Ok(f)) => (f, Backing::Disk),
        Some(Err(e)) => {
            tracing::warn!(dir = %dir.unwrap_or(Path::new("")).display(), error = %e,
                "http_sendfile_dir cannot hold a file copy; using memory");
            (memfd()?, Backing::Memory)
        }
        None => (memfd()?, Backing::Memory),
    };
    // One write: the page cache can then hold the copy in large folios.
    f.write_all(bytes)?;
    let mut reg = REGISTRY.lock().unwrap();
    let e = reg.entry(start).or_insert(Entry {
        len: bytes.len(),
        file: Arc::new(f),
        backing,
        refs: 0,
    });
    e.refs += 1;
    Ok(SendfileCopy {
        start,
        backing: e.backing,
        _bytes: bytes.clone(),
    })
}

/// A file in `dir` with no name: gone with its last descriptor, never visible to others.
fn unlinked_file(dir: &Path) -> io::Result<File> {
    let c = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
    // SAFETY: a NUL-terminated path and valid flags; the fd is owned by the File below.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC,
            0o600,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a new descriptor nobody else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

fn memfd() -> io::Result<File> {
    // SAFETY: a NUL-terminated name and valid flags; the fd is owned by the File below.
    let fd = unsafe { libc::memfd_create(c"tftp-sidecar-file".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a new descriptor nobody else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// The file and offset holding exactly `buf`, if `buf` lies within a registered copy.
pub fn lookup(buf: &[u8]) -> Option<(Arc<File>, u64)> {
    if buf.is_empty() {
        return None;
    }
    let p = buf.as_ptr() as usize;
    let reg = REGISTRY.lock().unwrap();
    let (start, e) = reg.range(..=p).next_back()?;
    (p + buf.len() <= start + e.len).then(|| (e.file.clone(), (p - start) as u64))
}

/// One `sendfile` of `len` bytes at `offset` of `file` to the socket `out`.
pub fn sendfile(out: &impl AsRawFd, file: &File, offset: u64, len: usize) -> io::Result<usize> {
    let mut off = offset as libc::off_t;
    // SAFETY: both fds are open for the duration of the call; `off` is a valid pointer.
    let n = unsafe { libc::sendfile(out.as_raw_fd(), file.as_raw_fd(), &mut off, len) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    #[test]
    fn slices_of_registered_bytes_are_found_at_their_offset() {
        let b = Bytes::from((0..=255u8).cycle().take(3 << 20).collect::<Vec<u8>>());
        assert!(lookup(&b).is_none());
        let copy = register(&b, None).unwrap();
        assert_eq!(copy.backing(), Backing::Memory);
        let again = register(&b, None).unwrap();
        let s = b.slice(1000..5000);
        let (file, off) = lookup(&s).unwrap();
        assert_eq!(off, 1000);
        let mut got = vec![0u8; 4000];
        file.read_exact_at(&mut got, off).unwrap();
        assert_eq!(got, &s[..]);
        // Other memory, and a range running past the copy, are not found.
        let other = vec![0u8; 10];
        assert!(lookup(&other).is_none());
        drop(copy);
        assert!(lookup(&s).is_some(), "still registered by the second copy");
        drop(again);
        assert!(lookup(&s).is_none());
    }

    #[test]
    fn a_directory_gets_an_unlinked_file_and_a_bad_one_falls_back_to_memory() {
        let dir = tempfile::tempdir().unwrap();
        let b = Bytes::from((0..=250u8).cycle().take(2 << 20).collect::<Vec<u8>>());
        let copy = register(&b, Some(dir.path())).unwrap();
        assert_eq!(copy.backing(), Backing::Disk);
        let (file, off) = lookup(&b.slice(7..)).unwrap();
        let mut got = vec![0u8; b.len() - 7];
        file.read_exact_at(&mut got, off).unwrap();
        assert_eq!(got, &b[7..]);
        // The copy has no name: nothing to clean up, nothing another process can read.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        drop(copy);

        let c = Bytes::from(vec![9u8; 2 << 20]);
        let missing = dir.path().join("not-there");
        let copy = register(&c, Some(&missing)).unwrap();
        assert_eq!(copy.backing(), Backing::Memory);
        let (file, _) = lookup(&c).unwrap();
        let mut one = [0u8; 1];
        file.read_exact_at(&mut one, (2 << 20) - 1).unwrap();
        assert_eq!(one, [9]);
    }
}
