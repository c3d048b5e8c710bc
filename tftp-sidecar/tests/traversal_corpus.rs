//! Path-traversal corpus against the running binary: every request is refused with an
//! ERROR and nothing from outside the root is ever sent.

mod support;
mod traversal_support;

use std::time::Duration;

use support::*;
use tftp_sidecar::packet::Packet;

use traversal_support::SECRET;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traversal_corpus_is_refused() {
    let top = tempfile::tempdir().unwrap();
    let root = traversal_support::make_tree(top.path());
    let secret_abs = top.path().join("secret.txt");

    let bin = spawn_bin(&["--listen", "127.0.0.1:0", "--root", root.to_str().unwrap()]);
    let corpus = traversal_support::corpus(&secret_abs);

    for name in &corpus {
        let c = Client::new(bin.addr).await;
        // Raw bytes (NUL included) go on the wire as they are.
        let mut pkt = vec![0, 1];
        pkt.extend_from_slice(name);
        pkt.extend_from_slice(b"\0octet\0");
        c.sock.send_to(&pkt, bin.addr).await.unwrap();
        let shown = String::from_utf8_lossy(name);
        match c.recv(Duration::from_secs(3)).await {
            Some((Packet::Error { code, message }, _)) => {
                assert!(
                    code == 1 || code == 2 || code == 4,
                    "{shown:?}: code {code} {message}"
                );
                assert!(!message
                    .as_bytes()
                    .windows(SECRET.len())
                    .any(|w| w == SECRET));
                // Never reveal where the root is.
                assert!(!message.contains(top.path().to_str().unwrap()), "{message}");
            }
            other => panic!("{shown:?} was not refused: {other:?}"),
        }
    }
    // The real file is still served.
    let c = Client::new(bin.addr).await;
    assert_eq!(
        c.get("ok.cnf", &[], Duration::from_secs(2), 3)
            .await
            .unwrap()
            .data,
        b"fine"
    );
    let c = Client::new(bin.addr).await;
    assert!(c
        .get("./sub/../ok.cnf", &[], Duration::from_secs(2), 3)
        .await
        .is_err());
    let log = bin.log_text();
    assert!(!log.contains("TOP-SECRET"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_insensitive_lookup_stays_inside_the_root() {
    let top = tempfile::tempdir().unwrap();
    let root = top.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("SEPDefault.cnf"), b"cfg").unwrap();
    std::fs::write(top.path().join("SECRET.TXT"), SECRET).unwrap();
    let bin = spawn_bin(&[
        "--listen",
        "127.0.0.1:0",
        "--root",
        root.to_str().unwrap(),
        "--case-insensitive",
        "true",
    ]);
    let c = Client::new(bin.addr).await;
    assert_eq!(
        c.get("sepdefault.CNF", &[], Duration::from_secs(2), 3)
            .await
            .unwrap()
            .data,
        b"cfg"
    );
    let c = Client::new(bin.addr).await;
    assert!(c
        .get("../secret.txt", &[], Duration::from_secs(2), 3)
        .await
        .is_err());
}
