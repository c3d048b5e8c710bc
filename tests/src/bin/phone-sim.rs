//! phone-sim: DHCPv4 as a Cisco IP phone, for the demo, tests and benchmarks.
//!
//! Exit status: 0 answered, 2 no answer, 3 NAK, 1 any other error.

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};

use cisco_tftp_tests::dhcp::{
    describe_option, hex, parse_hex, parse_mac, Client, DhcpError, Phone, Reply, Transport,
    CISCO_PRL,
};
use cisco_tftp_tests::fuzz::{fuzz_with, FuzzConfig};
use cisco_tftp_tests::netns::{cleanup_stale, run_in};

#[derive(Parser)]
#[command(name = "phone-sim", about = "Speak DHCPv4 like a Cisco IP phone")]
struct Cli {
    /// Open the socket inside this network namespace (as named by `ip netns`).
    #[arg(long, global = true)]
    netns: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// DISCOVER/OFFER/REQUEST/ACK, then print both replies' options decoded.
    Dhcp(DhcpArgs),
    /// Send DISCOVERs with random option 60 as a relay and count the OFFERs.
    Fuzz(FuzzArgs),
    /// Delete test namespaces (and their processes) left by crashed test runs.
    Cleanup,
}

#[derive(Args)]
struct DhcpArgs {
    /// Broadcast on this interface (binds 0.0.0.0:68).
    #[arg(long, required_unless_present = "relay")]
    iface: Option<String>,
    #[arg(long, value_parser = parse_mac)]
    mac: [u8; 6],
    /// Option 60 as text.
    #[arg(long, conflicts_with = "vendor_class_hex")]
    vendor_class: Option<String>,
    /// Option 60 as hex bytes (any bytes, may be empty: "").
    #[arg(long)]
    vendor_class_hex: Option<String>,
    /// Append a NUL to option 60, as real phones do.
    #[arg(long)]
    nul: bool,
    /// Act as a relay from this local address (binds ADDR:67, giaddr=ADDR).
    #[arg(long, requires = "server", conflicts_with = "iface")]
    relay: Option<Ipv4Addr>,
    /// The DHCP server to unicast to (with --relay).
    #[arg(long, requires = "relay")]
    server: Option<Ipv4Addr>,
    /// Parameter request list (option 55), comma separated; default Cisco's.
    #[arg(long, value_delimiter = ',')]
    prl: Option<Vec<u8>>,
    /// Stop after the OFFER.
    #[arg(long)]
    discover_only: bool,
    /// Wait per attempt, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    timeout_ms: u64,
    #[arg(long, default_value_t = 3)]
    attempts: u32,
}

#[derive(Args)]
struct FuzzArgs {
    #[arg(long)]
    relay: Ipv4Addr,
    #[arg(long)]
    server: Ipv4Addr,
    #[arg(long, default_value_t = 1000)]
    count: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Packets per second (0 = unpaced).
    #[arg(long, default_value_t = 2000)]
    rate: u32,
    /// Keep collecting replies this long after the last send, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    drain_ms: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    let result = match cli.netns.clone() {
        // Only socket creation needs the namespace; the socket keeps it.
        Some(ns) => run_in(&ns, move || run(cli))
            .unwrap_or_else(|e| Err((1, format!("cannot enter netns {ns}: {e}")))),
        None => run(cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, msg)) => {
            if json {
                println!("{}", json!({"error": msg}));
            }
            eprintln!("phone-sim: {msg}");
            ExitCode::from(code)
        }
    }
}

fn run(cli: Cli) -> Result<(), (u8, String)> {
    match cli.cmd {
        Cmd::Dhcp(a) => dhcp(a, cli.json),
        Cmd::Fuzz(a) => fuzz(a, cli.json),
        Cmd::Cleanup => {
            cleanup_stale();
            Ok(())
        }
    }
}

fn dhcp(a: DhcpArgs, json_out: bool) -> Result<(), (u8, String)> {
    let mut vc = match (&a.vendor_class, &a.vendor_class_hex) {
        (Some(s), _) => Some(s.as_bytes().to_vec()),
        (None, Some(h)) => Some(parse_hex(h).map_err(|e| (1, e))?),
        (None, None) => None,
    };
    if a.nul {
        vc.get_or_insert_with(Vec::new).push(0);
    }
    if vc.as_ref().is_some_and(|v| v.len() > 255) {
        return Err((1, "option 60 is longer than 255 bytes".into()));
    }
    let mut phone = Phone::new(a.mac);
    phone.vendor_class = vc;
    phone.prl = a.prl.unwrap_or_else(|| CISCO_PRL.to_vec());
    phone.timeout = Duration::from_millis(a.timeout_ms);
    phone.attempts = a.attempts;
    let transport = match (a.relay, a.server, a.iface) {
        (Some(relay), Some(server), _) => Transport::Relay { relay, server },
        (_, _, Some(iface)) => Transport::Broadcast { iface },
        _ => return Err((1, "need --iface, or --relay and --server".into())),
    };
    let client = Client::new(&transport).map_err(|e| (1, format!("socket: {e}")))?;
    let xid: u32 = rand::random();
    let (offer, ack) = if a.discover_only {
        (client.discover(&phone, xid).map_err(err)?, None)
    } else {
        let d = client.dora_xid(&phone, xid).map_err(err)?;
        (d.offer, Some(d.ack))
    };
    if json_out {
        let v = json!({
            "xid": xid,
            "offer": reply_json(&offer),
            "ack": ack.as_ref().map(reply_json),
        });
        println!("{v}");
    } else {
        print_reply("OFFER", &offer);
        if let Some(ack) = &ack {
            print_reply("ACK", ack);
        }
    }
    Ok(())
}

fn err(e: DhcpError) -> (u8, String) {
    let code = match e {
        DhcpError::Timeout { .. } => 2,
        DhcpError::Nak(_) => 3,
        _ => 1,
    };
    (code, e.to_string())
}

fn print_reply(name: &str, r: &Reply) {
    println!(
        "{name} xid {:#010x} yiaddr {} server {} giaddr {}",
        r.xid,
        r.yiaddr,
        r.server_id().map_or("-".into(), |a| a.to_string()),
        r.giaddr
    );
    for line in r.describe() {
        println!("  {line}");
    }
}

fn reply_json(r: &Reply) -> Value {
    let options: Vec<Value> = r
        .options
        .iter()
        .map(|(c, v)| json!({"code": c, "hex": hex(v), "decoded": describe_option(*c, v)}))
        .collect();
    json!({
        "type": r.msg_type,
        "xid": r.xid,
        "yiaddr": r.yiaddr.to_string(),
        "siaddr": r.siaddr.to_string(),
        "giaddr": r.giaddr.to_string(),
        "server_id": r.server_id().map(|a| a.to_string()),
        "option150": r.option150().ok().flatten()
            .map(|l| l.iter().map(|a| a.to_string()).collect::<Vec<_>>()),
        "option66": r.option66(),
        "options": options,
    })
}

fn fuzz(a: FuzzArgs, json_out: bool) -> Result<(), (u8, String)> {
    let mut cfg = FuzzConfig::new(a.relay, a.server, a.count, a.seed);
    cfg.rate = a.rate;
    cfg.drain = Duration::from_millis(a.drain_ms);
    let client = Client::relay(a.relay, a.server).map_err(|e| (1, format!("socket: {e}")))?;
    let stats = fuzz_with(&client, &cfg).map_err(|e| (1, format!("fuzz: {e}")))?;
    if json_out {
        println!("{}", serde_json::to_string(&stats).unwrap());
    } else {
        println!(
            "sent {} offers {} other {} empty-60 {} in {} ms",
            stats.sent,
            stats.offers,
            stats.other_replies,
            stats.empty_vendor_class,
            stats.elapsed_ms
        );
    }
    if stats.offers == 0 && stats.sent > 0 {
        return Err((2, "no OFFER at all".into()));
    }
    Ok(())
}
