//! The per-packet path (`Engine::decide`) must not allocate when no user patterns are
//! configured: it runs inside kea-dhcp4 for every response. A counting global allocator
//! checks it. One test function only, so no other test thread allocates meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};

use dhcp_cisco_tftp::engine::{Decision, Engine, Request};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const PARAMS: &str = r#"{
    "servers": ["10.0.0.10", "10.0.0.11"],
    "families": {"88xx": ["10.0.0.20"]},
    "models": {"7941G": ["10.0.0.30"]},
    "disabled-families": ["spa"],
    "option-66": {"enabled": true},
    "sites": [
        {"name": "a", "subnet-ids": [10], "servers": ["10.2.0.5"], "models": {"8841": ["10.2.0.6"]}},
        {"name": "b", "relays": ["10.3.0.1", "10.4.0.0/16"], "families": {"79xx": ["10.3.0.5"]}},
        {"name": "c", "prefixes": ["10.5.0.0/16", "10.5.1.0/24"], "servers": ["10.5.0.5"]}
    ]}"#;

fn ip(s: &str) -> Option<Ipv4Addr> {
    Some(s.parse().unwrap())
}

#[test]
fn decide_does_not_allocate() {
    let engine = Engine::from_json(PARAMS).unwrap();
    let vendor_classes: Vec<Vec<u8>> = [
        &b"Cisco Systems, Inc. IP Phone CP-7941G\0"[..],
        b"Cisco Systems, Inc. IP Phone CP-8841",
        b"Cisco Systems, Inc. IP Phone 7912",
        b"Cisco Systems, Inc.",
        b"Cisco Systems Inc. Wireless Phone 7921",
        b"CISCO SPA122",
        b"CISCO ATA190",
        b"MSFT 5.0",
        b"PXEClient:Arch:00000:UNDI:002001",
        b"Cisco Systems, Inc. IP Phone \xff\xfe",
        &[0xffu8; 255],
        b"",
    ]
    .iter()
    .map(|v| v.to_vec())
    .collect();
    let places = [
        (None, None, None),
        (Some(10), None, None),
        (None, ip("10.3.0.1"), None),
        (None, ip("10.4.9.9"), ip("10.5.1.7")),
        (Some(99), ip("192.0.2.1"), ip("10.5.1.7")),
    ];
    let mut sent = 0usize;
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for vc in &vendor_classes {
        for (subnet_id, giaddr, client_addr) in places {
            let req = Request {
                vendor_class: Some(vc),
                subnet_id,
                giaddr,
                client_addr,
            };
            let d = engine.decide(&req);
            if let Decision::Send(a) = d {
                // Touch the answer so nothing is optimised away.
                sent += a.option150.len() + a.option66.map_or(0, <[u8]>::len);
            }
        }
    }
    let after = ALLOCATIONS.load(Ordering::SeqCst);
    assert!(sent > 0);
    assert_eq!(after - before, 0, "decide() allocated");
}
