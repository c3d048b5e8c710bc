//! Zero-copy bodies for large files. Writing a cached firmware image to a socket from memory
//! makes the kernel copy every byte (perf: most of the listener's CPU in a boot storm);
//! `sendfile` from a file hands its pages to TCP instead, as nginx does from the page cache.
//!
//! A large cached copy served over HTTP gets a memfd holding the same bytes, once, kept as
//! long as the copy (in its `FileMeta`), and registered by the address range of the cached
//! `Bytes`. hyper still builds every response; the socket wrapper (`activity.rs`) sees the
//! body slices hyper writes, recognises a slice of a registered copy by its address, and
//! sends it with `sendfile` from the memfd at the same offset. A registered copy keeps its
//! `Bytes` alive, so no other buffer can sit at those addresses while it is registered.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// Smaller files are copied as usual: a memfd per config file would cost more than it saves.
pub const MIN_BYTES: usize = 1 << 20;

struct Entry {
    len: usize,
    file: Arc<File>,
    /// Copies registered for this range (the same `Bytes` can back several metas).
    refs: usize,
}

static REGISTRY: Mutex<BTreeMap<usize, Entry>> = Mutex::new(BTreeMap::new());

/// A registered memfd copy of some cached bytes; unregistered when dropped.
pub struct MemfdCopy {
    start: usize,
    _bytes: Bytes,
}

impl Drop for MemfdCopy {
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

/// Register `bytes` for zero-copy sends (writes them into a new memfd, or joins the copy
/// already registered for the same bytes).
pub fn register(bytes: &Bytes) -> io::Result<MemfdCopy> {
    let start = bytes.as_ptr() as usize;
    {
        let mut reg = REGISTRY.lock().unwrap();
        if let Some(e) = reg.get_mut(&start).filter(|e| e.len == bytes.len()) {
            e.refs += 1;
            return Ok(MemfdCopy {
                start,
                _bytes: bytes.clone(),
            });
        }
    }
    // SAFETY: a NUL-terminated name and valid flags; the fd is owned by the File below.
    let fd = unsafe { libc::memfd_create(c"tftp-sidecar-file".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a new descriptor nobody else owns.
    let mut f = unsafe { File::from_raw_fd(fd) };
    f.write_all(bytes)?;
    let mut reg = REGISTRY.lock().unwrap();
    let e = reg.entry(start).or_insert(Entry {
        len: bytes.len(),
        file: Arc::new(f),
        refs: 0,
    });
    e.refs += 1;
    Ok(MemfdCopy {
        start,
        _bytes: bytes.clone(),
    })
}

/// The memfd and offset holding exactly `buf`, if `buf` lies within a registered copy.
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
    use std::io::Read;

    #[test]
    fn slices_of_registered_bytes_are_found_at_their_offset() {
        let b = Bytes::from((0..=255u8).cycle().take(3 << 20).collect::<Vec<u8>>());
        assert!(lookup(&b).is_none());
        let copy = register(&b).unwrap();
        let again = register(&b).unwrap();
        let s = b.slice(1000..5000);
        let (file, off) = lookup(&s).unwrap();
        assert_eq!(off, 1000);
        let mut got = vec![0u8; 4000];
        use std::os::unix::fs::FileExt;
        file.read_exact_at(&mut got, off).unwrap();
        assert_eq!(got, &s[..]);
        // Other memory, and a range running past the copy, are not found.
        let other = vec![0u8; 10];
        assert!(lookup(&other).is_none());
        drop(copy);
        assert!(lookup(&s).is_some(), "still registered by the second copy");
        drop(again);
        assert!(lookup(&s).is_none());
        let _ = std::io::empty().read(&mut [0u8; 1]);
    }
}
