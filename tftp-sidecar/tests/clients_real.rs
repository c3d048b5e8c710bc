//! Real TFTP clients (tftp-hpa `tftp`, `atftp`, `curl`) against the running binary:
//! byte-identical files at the 512-byte edges and past the block-number rollover.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::*;

const SIZES: &[(&str, usize)] = &[
    ("empty.bin", 0),
    ("f511.bin", 511),
    ("f512.bin", 512),
    ("f513.bin", 513),
    ("SEP001122334455.cnf.xml", 4096),
    ("big.sbn", 32 * 1024 * 1024 + 1),
];

fn make_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (i, (name, size)) in SIZES.iter().enumerate() {
        std::fs::write(dir.path().join(name), pattern(*size, i as u8)).unwrap();
    }
    dir
}

fn same(a: &Path, b: &Path) {
    let (x, y) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    assert!(
        x == y,
        "{} differs from {} ({} vs {} bytes)",
        a.display(),
        b.display(),
        x.len(),
        y.len()
    );
}

fn tftp_hpa(bin: &Bin, name: &str, out: &Path) {
    run(Command::new("timeout")
        .args([
            "120",
            "tftp",
            "-m",
            "binary",
            "127.0.0.1",
            &bin.addr.port().to_string(),
            "-c",
            "get",
            name,
        ])
        .arg(out));
}

fn atftp(bin: &Bin, name: &str, out: &Path, options: &[&str]) {
    let mut c = Command::new("timeout");
    c.args(["120", "atftp", "--get", "-r", name, "-l"]).arg(out);
    for o in options {
        c.args(["--option", o]);
    }
    c.args(["127.0.0.1", &bin.addr.port().to_string()]);
    run(&mut c);
}

fn curl(bin: &Bin, name: &str, out: &Path, extra: &[&str]) {
    run(Command::new("timeout")
        .args(["120", "curl", "-sS", "--max-time", "100"])
        .args(extra)
        .arg("-o")
        .arg(out)
        .arg(format!("tftp://127.0.0.1:{}/{name}", bin.addr.port())));
}

#[test]
fn tftp_hpa_files_byte_identical() {
    if !have("tftp") {
        eprintln!("tftp-hpa client not installed; skipping");
        return;
    }
    let root = make_root();
    let bin = spawn_bin(&[
        "--listen",
        "127.0.0.1:0",
        "--root",
        root.path().to_str().unwrap(),
    ]);
    let out = tempfile::tempdir().unwrap();
    for (name, _) in SIZES {
        let o = out.path().join(name);
        tftp_hpa(&bin, name, &o);
        same(&o, &root.path().join(name));
    }
    let log = bin.log_text();
    assert!(log.contains("transfer finished"), "{log}");
    assert!(
        log.contains("file=big.sbn class=\"firmware\" bytes=33554433"),
        "{log}"
    );
}

#[test]
fn atftp_files_byte_identical_with_and_without_options() {
    if !have("atftp") {
        eprintln!("atftp not installed; skipping");
        return;
    }
    let root = make_root();
    let bin = spawn_bin(&[
        "--listen",
        "127.0.0.1:0",
        "--root",
        root.path().to_str().unwrap(),
    ]);
    let out = tempfile::tempdir().unwrap();
    for (name, _) in SIZES {
        let o = out.path().join(name);
        atftp(&bin, name, &o, &[]);
        same(&o, &root.path().join(name));
        let o = out.path().join(format!("{name}.opt"));
        atftp(
            &bin,
            name,
            &o,
            &["blksize 1428", "tsize 0", "timeout 2", "windowsize 8"],
        );
        same(&o, &root.path().join(name));
    }
    // Out-of-range requests still give a correct file.
    for opts in [
        &["blksize 70000"][..],
        &["blksize 1"],
        &["windowsize 1000", "blksize 100"],
        &["timeout 0"],
    ] {
        let o = out.path().join("odd");
        atftp(&bin, "f513.bin", &o, opts);
        same(&o, &root.path().join("f513.bin"));
    }
}

#[test]
fn curl_files_byte_identical() {
    if !have("curl") {
        eprintln!("curl not installed; skipping");
        return;
    }
    let root = make_root();
    let bin = spawn_bin(&[
        "--listen",
        "127.0.0.1:0",
        "--root",
        root.path().to_str().unwrap(),
    ]);
    let out = tempfile::tempdir().unwrap();
    for (name, size) in SIZES {
        let o = out.path().join(name);
        // curl 7.88 rejects a correct tsize=0 for empty files (a curl bug): no options there.
        let extra: &[&str] = if *size == 0 {
            &["--tftp-no-options"]
        } else {
            &[]
        };
        curl(&bin, name, &o, extra);
        same(&o, &root.path().join(name));
        if *size > 0 {
            let o = out.path().join(format!("{name}.blk"));
            curl(&bin, name, &o, &["--tftp-blksize", "1428"]);
            same(&o, &root.path().join(name));
        }
    }
    // A missing file is an error for the client.
    let st = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-o", "/dev/null"])
        .arg(format!(
            "tftp://127.0.0.1:{}/CTLSEP001122334455.tlv",
            bin.addr.port()
        ))
        .status()
        .unwrap();
    assert!(!st.success());
}

#[test]
fn single_port_and_range_mode_with_real_clients() {
    if !have("tftp") || !have("atftp") {
        return;
    }
    let root = make_root();
    let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let lo = probe.local_addr().unwrap().port().clamp(20000, 60000);
    drop(probe);
    let range = format!("{lo}-{}", lo + 15);
    for mode in [
        vec!["--port-mode", "single-port"],
        vec!["--port-mode", "range", "--port-range", &range],
    ] {
        let mut args = vec![
            "--listen",
            "127.0.0.1:0",
            "--root",
            root.path().to_str().unwrap(),
        ];
        args.extend(mode.iter().copied());
        let bin = spawn_bin(&args);
        let out = tempfile::tempdir().unwrap();
        std::thread::scope(|s| {
            for i in 0..8 {
                let (bin, out, root) = (&bin, out.path(), root.path());
                s.spawn(move || {
                    let name = "SEP001122334455.cnf.xml";
                    let o = out.join(format!("{i}"));
                    if i % 2 == 0 {
                        tftp_hpa(bin, name, &o);
                    } else {
                        atftp(bin, name, &o, &["blksize 1024", "windowsize 4"]);
                    }
                    same(&o, &root.join(name));
                });
            }
        });
    }
}

#[test]
fn sigterm_exits_cleanly() {
    let root = make_root();
    let mut bin = spawn_bin(&[
        "--listen",
        "127.0.0.1:0",
        "--root",
        root.path().to_str().unwrap(),
        "--drain-deadline",
        "2",
    ]);
    let st = bin
        .terminate(Duration::from_secs(10))
        .expect("exited after SIGTERM");
    assert!(st.success());
    assert!(bin.log_text().contains("draining"));
}
