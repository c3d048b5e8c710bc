//! Fire-and-forget DISCOVERs with random option 60, sent as a relay.
//!
//! Used to show Kea (and the hook) survive garbage vendor classes: the count
//! of replies proves the server kept answering throughout.

use std::collections::HashSet;
use std::io;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::dhcp::{Client, Phone, MSG_DISCOVER, MSG_OFFER};

/// Prefix for a share of the packets, so matching code sees Cisco-like input too.
const CISCO_PREFIX: &[u8] = b"Cisco Systems, Inc. IP Phone CP-";

#[derive(Clone, Debug)]
pub struct FuzzConfig {
    pub relay: Ipv4Addr,
    pub server: Ipv4Addr,
    pub count: u32,
    pub seed: u64,
    /// Packets per second (0 = as fast as possible).
    pub rate: u32,
    /// How long to keep collecting replies after the last send.
    pub drain: Duration,
}

impl FuzzConfig {
    pub fn new(relay: Ipv4Addr, server: Ipv4Addr, count: u32, seed: u64) -> FuzzConfig {
        FuzzConfig {
            relay,
            server,
            count,
            seed,
            rate: 2000,
            drain: Duration::from_secs(1),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct FuzzStats {
    pub sent: u32,
    /// Distinct DISCOVERs answered with an OFFER.
    pub offers: u32,
    /// Any other reply to one of our xids.
    pub other_replies: u32,
    /// Options 60 of length 0 sent (an edge case worth knowing it was hit).
    pub empty_vendor_class: u32,
    pub elapsed_ms: u64,
}

/// The `i`-th fuzzed option 60: random length 0..=255, random bytes; one in
/// four starts with the Cisco prefix, one in eight ends in NUL.
pub fn random_vendor_class(rng: &mut StdRng) -> Vec<u8> {
    let len = rng.gen_range(0..=255usize);
    let mut v: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
    if rng.gen_ratio(1, 4) {
        let n = CISCO_PREFIX.len().min(len);
        v[..n].copy_from_slice(&CISCO_PREFIX[..n]);
    }
    if len > 0 && rng.gen_ratio(1, 8) {
        v[len - 1] = 0;
    }
    v
}

/// Sends `count` DISCOVERs (random MAC, random option 60) at a bounded rate.
pub fn fuzz(cfg: &FuzzConfig) -> io::Result<FuzzStats> {
    let client = Client::relay(cfg.relay, cfg.server)?;
    fuzz_with(&client, cfg)
}

/// Same as [`fuzz`] with a client you created (e.g. inside a namespace).
pub fn fuzz_with(client: &Client, cfg: &FuzzConfig) -> io::Result<FuzzStats> {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let base_xid: u32 = rng.gen();
    let mut stats = FuzzStats::default();
    let mut answered = HashSet::new();
    let start = Instant::now();
    let interval = if cfg.rate == 0 {
        Duration::ZERO
    } else {
        Duration::from_secs(1) / cfg.rate
    };
    let mut collect = |client: &Client, until: Instant, stats: &mut FuzzStats| -> io::Result<()> {
        // Any xid in our range counts (recv_reply would filter on one xid).
        while let Some(r) = client.recv_any(until)? {
            let i = r.xid.wrapping_sub(base_xid);
            if i < stats.sent {
                if r.msg_type == MSG_OFFER && answered.insert(i) {
                    stats.offers += 1;
                } else if r.msg_type != MSG_OFFER {
                    stats.other_replies += 1;
                }
            }
        }
        Ok(())
    };
    for i in 0..cfg.count {
        let mut mac = [0u8; 6];
        rng.fill(&mut mac);
        mac[0] &= 0xfe; // unicast MAC
        let vc = random_vendor_class(&mut rng);
        if vc.is_empty() {
            stats.empty_vendor_class += 1;
        }
        let phone = Phone::cisco(mac, &vc);
        let pkt = client.build(&phone, base_xid.wrapping_add(i), MSG_DISCOVER, None);
        client.send_raw(&pkt)?;
        stats.sent += 1;
        // Pace to the target rate; read replies while waiting.
        let due = start + interval * (i + 1);
        collect(client, due, &mut stats)?;
    }
    collect(client, Instant::now() + cfg.drain, &mut stats)?;
    stats.elapsed_ms = start.elapsed().as_millis() as u64;
    Ok(stats)
}
