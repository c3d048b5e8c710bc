//! The path-traversal corpus, shared by the TFTP and the HTTP tests: a root with a secret
//! beside it, symlinks out of it, and request names that try to reach the secret.
#![allow(dead_code)]

use std::path::Path;

pub const SECRET: &[u8] = b"TOP-SECRET-OUTSIDE-THE-ROOT";

/// `top/secret.txt`, `top/root/ok.cnf` ("fine"), and symlinks leaving the root.
pub fn make_tree(top: &Path) -> std::path::PathBuf {
    let root = top.join("root");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(top.join("secret.txt"), SECRET).unwrap();
    std::fs::write(root.join("ok.cnf"), b"fine").unwrap();
    std::os::unix::fs::symlink(top.join("secret.txt"), root.join("escape.txt")).unwrap();
    std::os::unix::fs::symlink(top, root.join("up")).unwrap();
    std::os::unix::fs::symlink("../../secret.txt", root.join("sub/rel.txt")).unwrap();
    root
}

/// Names (raw bytes, as a client would send them) that must all be refused.
pub fn corpus(secret_abs: &Path) -> Vec<Vec<u8>> {
    let mut corpus: Vec<Vec<u8>> = [
        "../secret.txt",
        "..\\secret.txt",
        "sub/../../secret.txt",
        "sub\\..\\..\\secret.txt",
        "./../secret.txt",
        "/etc/passwd",
        "\\etc\\passwd",
        "C:\\secret.txt",
        "%2e%2e/secret.txt",
        "%2E%2E%2Fsecret.txt",
        "..%2fsecret.txt",
        "..%5csecret.txt",
        "escape.txt",
        "up/secret.txt",
        "sub/rel.txt",
        "",
        "..",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    corpus.push(secret_abs.to_str().unwrap().as_bytes().to_vec());
    corpus.push(b"ok.cnf\0../secret.txt".to_vec());
    corpus.push(b"ok.cnf\n".to_vec());
    corpus.push([b"a/".repeat(150), b"ok.cnf".to_vec()].concat());
    corpus.push(vec![b'x'; 4000]);
    corpus
}
