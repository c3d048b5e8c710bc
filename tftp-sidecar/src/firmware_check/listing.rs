//! The files of a TFTP root, as the server would find them (case-insensitively or not).

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// The files of a root: relative name (`/`-separated) -> size.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    files: BTreeMap<String, u64>,
    lower: BTreeMap<String, String>,
    case_insensitive: bool,
}

impl Listing {
    pub fn new(files: BTreeMap<String, u64>, case_insensitive: bool) -> Listing {
        let lower = files
            .keys()
            .map(|k| (k.to_ascii_lowercase(), k.clone()))
            .collect();
        Listing {
            files,
            lower,
            case_insensitive,
        }
    }

    /// Walks `root` recursively (symlinks followed, dot-files skipped, as the server would
    /// not serve them).
    pub fn walk(root: &Path, case_insensitive: bool) -> io::Result<Listing> {
        let mut files = BTreeMap::new();
        let mut stack = vec![(root.to_path_buf(), String::new())];
        while let Some((dir, prefix)) = stack.pop() {
            for e in std::fs::read_dir(&dir)? {
                let e = e?;
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                let rel = format!("{prefix}{name}");
                let md = match std::fs::metadata(e.path()) {
                    Ok(m) => m,
                    Err(_) => continue, // dangling symlink: as good as absent
                };
                if md.is_dir() {
                    if stack.len() < 10_000 {
                        stack.push((e.path(), format!("{rel}/")));
                    }
                } else if md.is_file() {
                    files.insert(rel, md.len());
                }
            }
        }
        Ok(Listing::new(files, case_insensitive))
    }

    /// The stored name a request for `name` finds.
    pub fn find(&self, name: &str) -> Option<&str> {
        if let Some((k, _)) = self.files.get_key_value(name) {
            return Some(k);
        }
        if self.case_insensitive {
            return self
                .lower
                .get(&name.to_ascii_lowercase())
                .map(|s| s.as_str());
        }
        None
    }

    pub fn size(&self, name: &str) -> Option<u64> {
        self.find(name).and_then(|k| self.files.get(k).copied())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(|s| s.as_str())
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}
