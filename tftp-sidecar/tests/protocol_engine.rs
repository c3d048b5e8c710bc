//! Packet-level checks of the transfer engine against an in-process server.

mod support;

use std::time::Duration;

use support::*;
use tftp_sidecar::packet::{Packet, Request};
use tftp_sidecar::server::{Outcome, PortMode, RejectReason};

const T: Duration = Duration::from_secs(2);

fn data_of(p: &Packet) -> (u16, usize) {
    match p {
        Packet::Data { block, data } => (*block, data.len()),
        other => panic!("expected DATA, got {other:?}"),
    }
}

async fn wait_idle(r: &Running) {
    for _ in 0..300 {
        if r.handle.active_sessions() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("sessions still active: {}", r.handle.active_sessions());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_options_gives_plain_512_lockstep() {
    let file = pattern(1300, 1);
    let srv = start(test_config(), MapSource::with(&[("f", file.clone())])).await;
    let c = Client::new(srv.addr).await;
    c.rrq(b"f", &[]).await;
    let (p, tid) = c.recv(T).await.unwrap();
    assert_ne!(tid, srv.addr, "replies come from a new TID");
    assert_eq!(data_of(&p), (1, 512));
    // Lock-step: nothing more until ACK 1.
    assert!(c.recv(Duration::from_millis(100)).await.is_none());
    c.ack(1, tid).await;
    assert_eq!(data_of(&c.recv(T).await.unwrap().0), (2, 512));
    c.ack(2, tid).await;
    assert_eq!(data_of(&c.recv(T).await.unwrap().0), (3, 276));
    c.ack(3, tid).await;
    wait_idle(&srv).await;
    assert_eq!(
        srv.events.outcomes(),
        vec![("f".into(), Outcome::Completed, 1300)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oack_lists_granted_options_and_waits_for_ack0() {
    let file = pattern(20_000, 2);
    let srv = start(
        test_config(),
        MapSource::with(&[("fw.loads", file.clone())]),
    )
    .await;
    let c = Client::new(srv.addr).await;
    c.rrq(
        b"fw.loads",
        &[
            ("blksize", "1428"),
            ("tsize", "0"),
            ("timeout", "3"),
            ("windowsize", "8"),
            ("x-unknown", "1"),
        ],
    )
    .await;
    let (p, tid) = c.recv(T).await.unwrap();
    assert_eq!(
        p,
        Packet::Oack(opts(&[
            ("blksize", "1428"),
            ("tsize", "20000"),
            ("timeout", "3"),
            ("windowsize", "8")
        ]))
    );
    // No DATA before ACK 0.
    assert!(c.recv(Duration::from_millis(150)).await.is_none());
    c.ack(0, tid).await;
    for i in 1..=8u16 {
        assert_eq!(data_of(&c.recv(T).await.unwrap().0), (i, 1428));
    }
    // A whole window, then a wait for its ACK.
    assert!(c.recv(Duration::from_millis(100)).await.is_none());
    c.ack(8, tid).await;
    assert_eq!(data_of(&c.recv(T).await.unwrap().0).0, 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_range_options() {
    let file = pattern(3000, 3);
    let srv = start(test_config(), MapSource::with(&[("f", file.clone())])).await;
    // Too big: clamped to the configured maximums.
    let c = Client::new(srv.addr).await;
    c.rrq(b"f", &[("blksize", "70000"), ("windowsize", "1000")])
        .await;
    let (p, _) = c.recv(T).await.unwrap();
    assert_eq!(
        p,
        Packet::Oack(opts(&[("blksize", "1468"), ("windowsize", "16")]))
    );
    // Invalid values: left out; with nothing left there is no OACK at all (plain DATA 1).
    for bad in [
        vec![("blksize", "1"), ("windowsize", "0"), ("timeout", "0")],
        vec![("blksize", "abc"), ("timeout", "300")],
        vec![("timeout", "-1"), ("windowsize", "x")],
    ] {
        let c = Client::new(srv.addr).await;
        c.rrq(b"f", &bad).await;
        let (p, _) = c.recv(T).await.unwrap();
        assert_eq!(data_of(&p), (1, 512), "{bad:?}");
    }
    // Valid and invalid mixed: only the valid ones are acknowledged.
    let c = Client::new(srv.addr).await;
    c.rrq(b"f", &[("blksize", "7"), ("timeout", "2"), ("tsize", "0")])
        .await;
    let (p, _) = c.recv(T).await.unwrap();
    assert_eq!(
        p,
        Packet::Oack(opts(&[("timeout", "2"), ("tsize", "3000")]))
    );
    // Full transfers with the extremes.
    let c = Client::new(srv.addr).await;
    let got = c
        .get("f", &[("blksize", "8"), ("windowsize", "1000")], T, 5)
        .await
        .unwrap();
    assert_eq!(got.data, file);
    let c = Client::new(srv.addr).await;
    let got = c.get("f", &[("blksize", "65464")], T, 5).await.unwrap();
    assert_eq!(got.data, file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tsize_omitted_when_size_unknown() {
    let file = pattern(5000, 4);
    let mut src = MapSource::with(&[("streamed", file.clone())]);
    src.unknown_size.push("streamed".into());
    let srv = start(test_config(), src).await;
    let c = Client::new(srv.addr).await;
    let got = c
        .get("streamed", &[("tsize", "0"), ("blksize", "1024")], T, 5)
        .await
        .unwrap();
    assert_eq!(got.oack, Some(opts(&[("blksize", "1024")])));
    assert_eq!(got.data, file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tid_gets_error5_and_transfer_continues() {
    let file = pattern(1500, 5);
    let srv = start(test_config(), MapSource::with(&[("f", file.clone())])).await;
    let c = Client::new(srv.addr).await;
    c.rrq(b"f", &[]).await;
    let (p, tid) = c.recv(T).await.unwrap();
    assert_eq!(data_of(&p), (1, 512));
    let intruder = Client::new(srv.addr).await;
    intruder.ack(1, tid).await;
    let (p, from) = intruder.recv(T).await.unwrap();
    assert!(matches!(p, Packet::Error { code: 5, .. }), "{p:?}");
    assert_eq!(from, tid);
    // The intruder's ACK did not advance the transfer.
    assert!(c.recv(Duration::from_millis(100)).await.is_none());
    let got = finish_from(&c, tid, 1, file[..512].to_vec()).await;
    assert_eq!(got, file);
    wait_idle(&srv).await;
    assert_eq!(srv.events.outcomes()[0].1, Outcome::Completed);
}

/// ACK `acked` and collect the rest of a 512-byte lock-step transfer.
async fn finish_from(
    c: &Client,
    tid: std::net::SocketAddr,
    mut acked: u16,
    mut have: Vec<u8>,
) -> Vec<u8> {
    loop {
        c.ack(acked, tid).await;
        let (p, _) = c.recv(T).await.expect("DATA");
        let Packet::Data { block, data } = p else {
            panic!("{p:?}")
        };
        assert_eq!(block, acked.wrapping_add(1));
        have.extend_from_slice(&data);
        acked = block;
        if data.len() < 512 {
            c.ack(acked, tid).await;
            return have;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_ack_never_triggers_a_resend() {
    let file = pattern(2000, 6);
    let mut cfg = test_config();
    cfg.timeout = Duration::from_secs(3);
    let srv = start(cfg, MapSource::with(&[("f", file.clone())])).await;
    let c = Client::new(srv.addr).await;
    c.rrq(b"f", &[]).await;
    let (_, tid) = c.recv(T).await.unwrap();
    c.ack(1, tid).await;
    assert_eq!(data_of(&c.recv(T).await.unwrap().0), (2, 512));
    for _ in 0..5 {
        c.ack(1, tid).await;
    }
    assert!(
        c.recv(Duration::from_millis(500)).await.is_none(),
        "server resent on a duplicate ACK"
    );
    let got = finish_from(&c, tid, 2, file[..1024].to_vec()).await;
    assert_eq!(got, file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_error_aborts_the_transfer() {
    let file = pattern(100_000, 7);
    let srv = start(test_config(), MapSource::with(&[("f", file)])).await;
    let c = Client::new(srv.addr).await;
    c.rrq(b"f", &[]).await;
    let (_, tid) = c.recv(T).await.unwrap();
    c.ack(1, tid).await;
    c.recv(T).await.unwrap();
    c.send(
        &Packet::Error {
            code: 0,
            message: "user cancelled".into(),
        },
        tid,
    )
    .await;
    wait_idle(&srv).await;
    // No retransmits after the ERROR (timeout is 200 ms).
    assert!(c.recv(Duration::from_millis(600)).await.is_none());
    assert_eq!(
        srv.events.outcomes(),
        vec![("f".into(), Outcome::ClientError, 512)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vanishing_client_is_freed_after_the_retry_limit() {
    let file = pattern(100_000, 8);
    let mut cfg = test_config();
    cfg.timeout = Duration::from_millis(50);
    cfg.retries = 3;
    let srv = start(cfg, MapSource::with(&[("f", file)])).await;
    let c = Client::new(srv.addr).await;
    c.rrq(b"f", &[]).await;
    let (_, tid) = c.recv(T).await.unwrap();
    c.ack(1, tid).await;
    // Then silence: DATA 2 once plus `retries` retransmits with backoff (50+100+200+400 ms).
    let mut copies = 0;
    while let Some((p, _)) = c.recv(Duration::from_secs(1)).await {
        assert_eq!(data_of(&p).0, 2);
        copies += 1;
    }
    assert_eq!(copies, 4);
    wait_idle(&srv).await;
    assert_eq!(
        srv.events.outcomes(),
        vec![("f".into(), Outcome::TimedOut, 512)]
    );
    assert_eq!(
        srv.events
            .retransmits
            .load(std::sync::atomic::Ordering::SeqCst),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_block_is_retransmitted_only_a_few_times() {
    first_block_retransmits(PortMode::Ephemeral).await;
}

/// Single-port mode on one thread (the binary's default runtime): a retransmit queued by a
/// session's timer must leave the listener's send queue with no client packet to wake it.
#[tokio::test(flavor = "current_thread")]
async fn single_port_retransmits_without_client_traffic() {
    first_block_retransmits(PortMode::SinglePort).await;
}

async fn first_block_retransmits(mode: PortMode) {
    let mut cfg = test_config();
    cfg.port_mode = mode;
    cfg.timeout = Duration::from_millis(50);
    cfg.retries = 10;
    cfg.first_block_retries = 1;
    let srv = start(cfg, MapSource::with(&[("f", pattern(4000, 9))])).await;
    // A spoofed request never ACKs: DATA 1 goes out 1 + first_block_retries times.
    let c = Client::new(srv.addr).await;
    c.rrq(b"f", &[]).await;
    let mut n = 0;
    while c.recv(Duration::from_millis(600)).await.is_some() {
        n += 1;
    }
    assert_eq!(n, 2);
    // Same for an OACK.
    let c = Client::new(srv.addr).await;
    c.rrq(b"f", &[("blksize", "1024")]).await;
    let mut n = 0;
    while let Some((p, _)) = c.recv(Duration::from_millis(600)).await {
        assert!(matches!(p, Packet::Oack(_)));
        n += 1;
    }
    assert_eq!(n, 2);
    wait_idle(&srv).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_caps_answer_server_busy() {
    let mut cfg = test_config();
    cfg.max_sessions = 2;
    cfg.per_client_max = 5;
    cfg.timeout = Duration::from_secs(2);
    let srv = start(cfg, MapSource::with(&[("f", pattern(10_000, 10))])).await;
    let a = Client::new(srv.addr).await;
    let b = Client::new(srv.addr).await;
    a.rrq(b"f", &[]).await;
    b.rrq(b"f", &[]).await;
    a.recv(T).await.unwrap();
    b.recv(T).await.unwrap();
    let c = Client::new(srv.addr).await;
    c.rrq(b"f", &[]).await;
    let (p, from) = c.recv(T).await.unwrap();
    assert_eq!(
        p,
        Packet::Error {
            code: 0,
            message: "server busy".into()
        }
    );
    assert_eq!(from, srv.addr);
    assert_eq!(
        *srv.events.rejected.lock().unwrap(),
        vec![RejectReason::Busy]
    );
    srv.stop().await;

    // Per-client-address cap.
    let mut cfg = test_config();
    cfg.per_client_max = 1;
    cfg.timeout = Duration::from_secs(2);
    let srv = start(cfg, MapSource::with(&[("f", pattern(10_000, 10))])).await;
    let a = Client::new(srv.addr).await;
    a.rrq(b"f", &[]).await;
    a.recv(T).await.unwrap();
    let b = Client::new(srv.addr).await;
    b.rrq(b"f", &[]).await;
    let (p, _) = b.recv(T).await.unwrap();
    assert!(
        matches!(p, Packet::Error { code: 0, ref message } if message.contains("busy")),
        "{p:?}"
    );
    assert_eq!(
        *srv.events.rejected.lock().unwrap(),
        vec![RejectReason::PerClientBusy]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retransmitted_request_does_not_start_a_second_session() {
    let mut cfg = test_config();
    cfg.timeout = Duration::from_secs(2);
    let srv = start(cfg, MapSource::with(&[("f", pattern(1000, 11))])).await;
    let c = Client::new(srv.addr).await;
    c.rrq(b"f", &[]).await;
    c.rrq(b"f", &[]).await;
    let (_, tid) = c.recv(T).await.unwrap();
    assert!(c.recv(Duration::from_millis(200)).await.is_none());
    assert_eq!(srv.handle.active_sessions(), 1);
    let _ = tid;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_for_refused_requests() {
    let srv = start(test_config(), MapSource::with(&[("f", pattern(10, 12))])).await;
    let c = Client::new(srv.addr).await;
    let wrq = Packet::Wrq(Request {
        filename: b"up".to_vec(),
        mode: "octet".into(),
        options: vec![],
    });
    c.send(&wrq, srv.addr).await;
    let (p, _) = c.recv(T).await.unwrap();
    assert!(
        matches!(p, Packet::Error { code: 2, ref message } if message.contains("writes are disabled")),
        "{p:?}"
    );

    c.rrq(b"missing.tlv", &[]).await;
    let (p, _) = c.recv(T).await.unwrap();
    assert!(matches!(p, Packet::Error { code: 1, .. }), "{p:?}");

    let mail = Packet::Rrq(Request {
        filename: b"f".to_vec(),
        mode: "mail".into(),
        options: vec![],
    });
    c.send(&mail, srv.addr).await;
    let (p, _) = c.recv(T).await.unwrap();
    assert!(matches!(p, Packet::Error { code: 4, .. }), "{p:?}");

    c.sock.send_to(b"\x00\x01nonul", srv.addr).await.unwrap();
    let (p, _) = c.recv(T).await.unwrap();
    assert!(matches!(p, Packet::Error { code: 4, .. }), "{p:?}");

    // A stray ACK at the listening port: unknown TID.
    c.ack(3, srv.addr).await;
    let (p, _) = c.recv(T).await.unwrap();
    assert!(matches!(p, Packet::Error { code: 5, .. }), "{p:?}");
    wait_idle(&srv).await;
    let rejected = srv.events.rejected.lock().unwrap().clone();
    assert_eq!(
        rejected,
        vec![
            RejectReason::Write,
            RejectReason::Malformed,
            RejectReason::Malformed
        ]
    );
    assert_eq!(
        srv.events.outcomes(),
        vec![("missing.tlv".into(), Outcome::NotFound, 0)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netascii_is_converted() {
    let text = b"line one\nline two\r\nend\n".repeat(100);
    let srv = start(test_config(), MapSource::with(&[("t.txt", text.clone())])).await;
    let c = Client::new(srv.addr).await;
    let p = Packet::Rrq(Request {
        filename: b"t.txt".to_vec(),
        mode: "NetASCII".into(),
        options: opts(&[("tsize", "0")]),
    });
    c.send(&p, srv.addr).await;
    // tsize is not known for netascii, so no OACK: plain DATA.
    let mut got = Vec::new();
    let mut want_block = 1u16;
    loop {
        let (p, tid) = c.recv(T).await.unwrap();
        let Packet::Data { block, data } = p else {
            panic!("{p:?}")
        };
        assert_eq!(block, want_block);
        got.extend_from_slice(&data);
        c.ack(block, tid).await;
        if data.len() < 512 {
            break;
        }
        want_block += 1;
    }
    assert_eq!(got, tftp_sidecar::netascii::encode_all(&text));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollover_past_block_65535() {
    let file = pattern(32 * 1024 * 1024 + 1, 13);
    let srv = start(test_config(), MapSource::with(&[("big.sbn", file.clone())])).await;
    let c = Client::new(srv.addr).await;
    let got = c.get("big.sbn", &[], T, 5).await.unwrap();
    assert!(got.data == file, "rollover transfer differs");
    // Windowed too, with a small blksize so the block counter wraps.
    let c = Client::new(srv.addr).await;
    let got = c
        .get("big.sbn", &[("blksize", "256"), ("windowsize", "16")], T, 5)
        .await
        .unwrap();
    assert!(got.data == file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_port_mode_with_concurrent_clients() {
    let mut cfg = test_config();
    cfg.port_mode = PortMode::SinglePort;
    let files: Vec<_> = (0..20)
        .map(|i| (format!("f{i}"), pattern(3000 + i * 777, i as u8)))
        .collect();
    let src = MapSource::with(
        &files
            .iter()
            .map(|(n, d)| (n.as_str(), d.clone()))
            .collect::<Vec<_>>(),
    );
    let srv = start(cfg, src).await;
    let mut tasks = Vec::new();
    for (i, (name, data)) in files.iter().cloned().enumerate() {
        let addr = srv.addr;
        tasks.push(tokio::spawn(async move {
            let c = Client::new(addr).await;
            let o: &[(&str, &str)] = if i % 2 == 0 {
                &[]
            } else {
                &[("blksize", "1000"), ("windowsize", "4")]
            };
            let got = c.get(&name, o, T, 5).await.unwrap();
            assert_eq!(
                got.tid,
                Some(addr),
                "single-port replies come from the listening port"
            );
            assert!(got.data == data);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // A packet from an address with no session: ERROR 5 from the listening port.
    let c = Client::new(srv.addr).await;
    c.ack(1, srv.addr).await;
    assert!(matches!(
        c.recv(T).await.unwrap().0,
        Packet::Error { code: 5, .. }
    ));
    wait_idle(&srv).await;
    assert_eq!(
        srv.events
            .outcomes()
            .iter()
            .filter(|o| o.1 == Outcome::Completed)
            .count(),
        20
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_range_mode_with_concurrent_clients() {
    // Find a free block of ports by probing.
    let first = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port().clamp(20000, 60000)
    };
    let (lo, hi) = (first, first + 7);
    let mut cfg = test_config();
    cfg.port_mode = PortMode::Range {
        first: lo,
        last: hi,
    };
    cfg.timeout = Duration::from_secs(1);
    let files: Vec<_> = (0..6)
        .map(|i| (format!("f{i}"), pattern(40_000 + i * 1000, i as u8)))
        .collect();
    let src = MapSource::with(
        &files
            .iter()
            .map(|(n, d)| (n.as_str(), d.clone()))
            .collect::<Vec<_>>(),
    );
    let srv = start(cfg, src).await;
    let mut tasks = Vec::new();
    for (name, data) in files.iter().cloned() {
        let addr = srv.addr;
        tasks.push(tokio::spawn(async move {
            let c = Client::new(addr).await;
            let got = c.get(&name, &[("blksize", "1024")], T, 5).await.unwrap();
            let port = got.tid.unwrap().port();
            assert!((lo..=hi).contains(&port), "port {port} outside {lo}-{hi}");
            assert!(got.data == data);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_range_exhausted_is_busy() {
    let holder = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let mut cfg = test_config();
    // The only port in the range is taken by `holder`.
    cfg.port_mode = PortMode::Range {
        first: port,
        last: port,
    };
    let srv = start(cfg, MapSource::with(&[("f", pattern(100, 1))])).await;
    let c = Client::new(srv.addr).await;
    c.rrq(b"f", &[]).await;
    let (p, _) = c.recv(T).await.unwrap();
    assert!(
        matches!(p, Packet::Error { code: 0, ref message } if message.contains("busy")),
        "{p:?}"
    );
    drop(holder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_loopback() {
    let Ok(probe) = std::net::UdpSocket::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback here; skipping");
        return;
    };
    drop(probe);
    for mode in [PortMode::Ephemeral, PortMode::SinglePort] {
        let mut cfg = test_config();
        cfg.listen = vec!["[::1]:0".parse().unwrap()];
        cfg.port_mode = mode;
        let file = pattern(70_000, 14);
        let srv = start(cfg, MapSource::with(&[("v6", file.clone())])).await;
        let c = Client::new(srv.addr).await;
        let got = c
            .get("v6", &[("blksize", "1428"), ("windowsize", "8")], T, 5)
            .await
            .unwrap();
        assert!(got.data == file);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_then_aborts() {
    let mut cfg = test_config();
    cfg.timeout = Duration::from_secs(5);
    let srv = start_with_drain(
        cfg,
        MapSource::with(&[("f", pattern(100_000, 15))]),
        Duration::from_millis(300),
    )
    .await;
    let c = Client::new(srv.addr).await;
    c.rrq(b"f", &[]).await;
    let (_, tid) = c.recv(T).await.unwrap();
    let events = srv.events.clone();
    let addr = srv.addr;
    let stopper = tokio::spawn(srv.stop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    // New requests are refused while draining.
    let d = Client::new(addr).await;
    d.rrq(b"f", &[]).await;
    assert!(
        matches!(d.recv(T).await.unwrap().0, Packet::Error { code: 0, ref message } if message.contains("shutting down"))
    );
    // The stalled transfer is aborted at the deadline with an ERROR.
    let (p, from) = c.recv(T).await.unwrap();
    assert_eq!(from, tid);
    assert!(matches!(p, Packet::Error { code: 0, .. }), "{p:?}");
    assert_eq!(stopper.await.unwrap(), 1);
    assert_eq!(events.outcomes()[0].1, Outcome::Aborted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reused_client_port_with_a_new_request_is_served() {
    let mut cfg = test_config();
    cfg.timeout = Duration::from_secs(2);
    let srv = start(
        cfg,
        MapSource::with(&[("a.cnf", pattern(600, 1)), ("b.cnf", pattern(100, 2))]),
    )
    .await;
    let c = Client::new(srv.addr).await;
    c.rrq(b"a.cnf", &[]).await;
    let (_, tid_a) = c.recv(T).await.unwrap();
    c.ack(1, tid_a).await;
    // DATA 2 (the last) arrives; its ACK is "lost", so the first session is still live.
    assert_eq!(data_of(&c.recv(T).await.unwrap().0), (2, 88));
    // Same request again: a retransmission, ignored.
    c.rrq(b"a.cnf", &[]).await;
    // A new request from the same port: served at once by a new session.
    c.rrq(b"b.cnf", &[]).await;
    let (p, tid_b) = c.recv(T).await.unwrap();
    assert_ne!(tid_a, tid_b);
    assert_eq!(
        p,
        Packet::Data {
            block: 1,
            data: pattern(100, 2).into()
        }
    );
    c.ack(1, tid_b).await;
    c.ack(2, tid_a).await;
    wait_idle(&srv).await;
    assert_eq!(srv.events.outcomes().len(), 2);
}

/// Single-port mode: a client that finishes a transfer and at once asks for the next file
/// from the same port (the final ACK and the new RRQ in one receive batch) is served at
/// once, not after its own retry timer (the RRQ must not go to the finishing session).
#[tokio::test(flavor = "current_thread")]
async fn single_port_next_request_right_after_the_last_ack_is_served_at_once() {
    let mut cfg = test_config();
    cfg.port_mode = PortMode::SinglePort;
    cfg.timeout = Duration::from_secs(2);
    let srv = start(
        cfg,
        MapSource::with(&[("a.cnf", pattern(100, 1)), ("b.cnf", pattern(100, 2))]),
    )
    .await;
    let c = Client::new(srv.addr).await;
    c.rrq(b"a.cnf", &[]).await;
    assert_eq!(data_of(&c.recv(T).await.unwrap().0), (1, 100));
    // Both datagrams are queued before the server's listener runs again.
    c.ack(1, srv.addr).await;
    c.rrq(b"b.cnf", &[]).await;
    let (p, _) = c
        .recv(Duration::from_millis(500))
        .await
        .expect("b.cnf served without waiting for a client retry");
    assert_eq!(
        p,
        Packet::Data {
            block: 1,
            data: pattern(100, 2).into()
        }
    );
    c.ack(1, srv.addr).await;
    wait_idle(&srv).await;
    let outcomes = srv.events.outcomes();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert!(
        outcomes.iter().all(|o| o.1 == Outcome::Completed),
        "{outcomes:?}"
    );
}

/// A request longer than the listener reads (4096 bytes) is refused as malformed, even when
/// the cut lands on a NUL and the first 4096 bytes would decode as a request (here with
/// `blksize` after the cut, which would otherwise be dropped without a word).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlong_request_is_refused_not_cut() {
    let srv = start(test_config(), MapSource::with(&[("f", pattern(10, 12))])).await;
    let c = Client::new(srv.addr).await;
    let mut rrq = b"\x00\x01f\x00octet\x00pad\x00".to_vec();
    rrq.resize(4095, b'x');
    rrq.push(0); // byte 4096 ends the "pad" value
    rrq.extend_from_slice(b"blksize\x001024\x00");
    c.sock.send_to(&rrq, srv.addr).await.unwrap();
    let (p, _) = c.recv(T).await.unwrap();
    assert!(
        matches!(p, Packet::Error { code: 4, ref message } if message.contains("longer than")),
        "{p:?}"
    );
    wait_idle(&srv).await;
    assert_eq!(
        *srv.events.rejected.lock().unwrap(),
        vec![RejectReason::Malformed]
    );
    assert!(srv.events.outcomes().is_empty());
}
