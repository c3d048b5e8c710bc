//! phone-sim: DHCPv4 as a Cisco IP phone, for the demo, tests and benchmarks.
//!
//! Exit status: 0 answered (`boot`: every phone up), 2 no answer, 3 NAK, 4 (`boot`) some phone
//! failed to boot, 1 any other error.

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use std::io::Write as _;
use std::net::IpAddr;
use std::time::Instant;

use cisco_tftp_tests::boot::{boot_many, summary, BootConfig, BootPhone, LeaseAddr};
use cisco_tftp_tests::firmware::{Model, MODELS};
use cisco_tftp_tests::tftp::TftpOptions;
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
    /// Boot phones like a 79xx: DHCP, then TFTP (trust lists, config, load, images), many at
    /// once; prints a transcript and a summary.
    Boot(BootArgs),
    /// Write an example TFTP root: placeholder firmware (Cisco-like names and sizes, never
    /// Cisco's files), term files, XMLDefault.cnf.xml and a SEP<MAC>.cnf.xml per phone.
    Firmware(FirmwareArgs),
    /// Delete test namespaces (and their processes) left by crashed test runs.
    Cleanup,
}

#[derive(Args)]
struct FirmwareArgs {
    /// Directory to write (created if needed).
    dir: std::path::PathBuf,
    /// Total image bytes of one load (7.1 MB as in the field).
    #[arg(long, default_value_t = cisco_tftp_tests::firmware::FIELD_LOAD_BYTES)]
    load_bytes: u64,
    /// A phone config as MODEL=MAC; repeat or comma-separate.
    #[arg(long = "phone", value_delimiter = ',', value_name = "MODEL=MAC")]
    phones: Vec<String>,
    /// Configs for this many phones with the MACs `boot --count N` generates.
    #[arg(long, default_value_t = 0)]
    count: u32,
    #[arg(long, value_delimiter = ',', default_value = "7941,7961,8841,7921")]
    models: Vec<String>,
    /// A phone whose config names a load whose first image is missing, as MODEL=MAC.
    #[arg(long, value_name = "MODEL=MAC")]
    broken_phone: Vec<String>,
}

#[derive(Args)]
struct BootArgs {
    /// Broadcast DHCP on this interface.
    #[arg(long, required_unless_present = "relay")]
    iface: Option<String>,
    /// DHCP as a relay from this local address (with --server).
    #[arg(long, requires = "server", conflicts_with = "iface")]
    relay: Option<Ipv4Addr>,
    /// The DHCP server to unicast to (with --relay).
    #[arg(long, requires = "relay")]
    server: Option<Ipv4Addr>,
    /// A phone as MODEL=MAC (e.g. 7941=00:1e:4a:79:41:01); repeat or comma-separate.
    #[arg(long = "phone", value_delimiter = ',', value_name = "MODEL=MAC")]
    phones: Vec<String>,
    /// Models to cycle through for --count phones (known: 7941, 7961, 8841, 7921).
    #[arg(long, value_delimiter = ',', default_value = "7941,7961,8841,7921")]
    models: Vec<String>,
    /// This many phones with generated MACs (00:1e:4a:<model>:NN, e.g. 00:1e:4a:79:41:01).
    #[arg(long, default_value_t = 0)]
    count: u32,
    /// Use this TFTP server instead of option 150/66.
    #[arg(long)]
    tftp_server: Option<IpAddr>,
    #[arg(long, default_value_t = 69)]
    tftp_port: u16,
    /// HTTP port 78xx/88xx phones try first for each file (falling back to TFTP when it
    /// fails); 0: every phone uses TFTP only.
    #[arg(long, default_value_t = 6970)]
    http_port: u16,
    /// Connect/read timeout of an HTTP attempt, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    http_timeout_ms: u64,
    /// Ask for blksize (default: none, 512-byte blocks like a 79xx).
    #[arg(long)]
    blksize: Option<u16>,
    /// Ask for tsize.
    #[arg(long)]
    tsize: bool,
    /// Ask for windowsize (RFC 7440).
    #[arg(long)]
    windowsize: Option<u16>,
    /// Wait per TFTP packet before resending, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    timeout_ms: u64,
    /// Resends of one TFTP packet before the file counts as timed out.
    #[arg(long, default_value_t = 5)]
    retries: u32,
    /// Requests of one file (on timeout or busy) before the boot fails.
    #[arg(long, default_value_t = 3)]
    file_attempts: u32,
    /// Pause before asking a file again, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    retry_delay_ms: u64,
    /// Do not put each phone's leased address on an interface (all phones then share the
    /// namespace's address for TFTP).
    #[arg(long)]
    no_lease_addr: bool,
    /// Interface to put leased addresses on [default: --iface, or lo with --relay].
    #[arg(long)]
    lease_iface: Option<String>,
    /// Start phone k after k x this many milliseconds.
    #[arg(long, default_value_t = 0)]
    stagger_ms: u64,
    /// DORAs in flight at once (broadcast).
    #[arg(long, default_value_t = 16)]
    dhcp_parallel: usize,
    /// DHCP wait per attempt, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    dhcp_timeout_ms: u64,
    /// Only the summary, no transcript.
    #[arg(long)]
    quiet: bool,
    /// Boot as after a factory reset: termXX.default.loads and its images first.
    #[arg(long)]
    factory_reset: bool,
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
            // `boot` already printed its JSON (phones that failed are in it).
            if json && code != 4 {
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
        Cmd::Boot(a) => boot_cmd(a, cli.json),
        Cmd::Firmware(a) => firmware_cmd(a, cli.json),
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

/// Generated MAC for the n-th (1-based) phone of a model: 00:1e:4a:<model digits as hex>:NN,
/// e.g. 7941 #1 = 00:1e:4a:79:41:01; past 255 phones of a model, 00:1e:4a:<3 bytes of n>
/// with the model's index in the top bits.
fn generated_mac(model: &Model, model_index: usize, n: u32) -> [u8; 6] {
    let d = model.name.as_bytes();
    let hex = |a: u8, b: u8| ((a - b'0') << 4) | (b - b'0');
    if n <= 255 && d.len() == 4 && d.iter().all(u8::is_ascii_digit) {
        return [0x00, 0x1e, 0x4a, hex(d[0], d[1]), hex(d[2], d[3]), n as u8];
    }
    let v = ((model_index as u32 & 0xf) << 20) | (n & 0xfffff);
    [0x00, 0x1e, 0x4b, (v >> 16) as u8, (v >> 8) as u8, v as u8]
}

fn boot_cmd(a: BootArgs, json_out: bool) -> Result<(), (u8, String)> {
    let phones = phone_list(&a.phones, a.count, &a.models)?;
    if phones.is_empty() {
        return Err((1, "no phones: give --phone MODEL=MAC or --count N".into()));
    }
    let transport = match (a.relay, a.server, &a.iface) {
        (Some(relay), Some(server), _) => Transport::Relay { relay, server },
        (_, _, Some(iface)) => Transport::Broadcast {
            iface: iface.clone(),
        },
        _ => return Err((1, "need --iface, or --relay and --server".into())),
    };
    let mut cfg = BootConfig::new(transport);
    if a.no_lease_addr {
        cfg.lease_addr = LeaseAddr::Off;
    } else if let Some(dev) = &a.lease_iface {
        cfg.lease_addr = LeaseAddr::AddTo(dev.clone());
    }
    cfg.tftp.options = TftpOptions {
        blksize: a.blksize,
        tsize: a.tsize,
        timeout: None,
        windowsize: a.windowsize,
    };
    cfg.tftp.timeout = Duration::from_millis(a.timeout_ms.max(1));
    cfg.tftp.retries = a.retries;
    cfg.file_attempts = a.file_attempts;
    cfg.retry_delay = Duration::from_millis(a.retry_delay_ms);
    cfg.tftp_port = a.tftp_port;
    cfg.http_port = a.http_port;
    cfg.http_timeout = Duration::from_millis(a.http_timeout_ms.max(1));
    cfg.server_override = a.tftp_server;
    cfg.stagger = Duration::from_millis(a.stagger_ms);
    cfg.dhcp_parallel = a.dhcp_parallel;
    cfg.dhcp_timeout = Duration::from_millis(a.dhcp_timeout_ms.max(1));
    cfg.factory_reset = a.factory_reset;
    let quiet = a.quiet || json_out;
    let log = move |_: usize, line: &str| {
        if !quiet {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        }
    };
    let t = Instant::now();
    let results = boot_many(&phones, &cfg, &log);
    let wall = t.elapsed();
    let failed = results.iter().filter(|r| !r.ok()).count();
    if json_out {
        let mut times: Vec<f64> = results
            .iter()
            .filter(|r| r.ok())
            .map(|r| r.total_ms)
            .collect();
        times.sort_by(|a, b| a.total_cmp(b));
        let pct = |p| cisco_tftp_tests::boot::percentile(&times, p);
        let v = json!({
            "phones": results,
            "summary": {
                "phones": results.len(),
                "up": results.len() - failed,
                "failed": failed,
                "wall_ms": wall.as_secs_f64() * 1000.0,
                "boot_ms_p50": pct(50.0),
                "boot_ms_p90": pct(90.0),
                "boot_ms_p99": pct(99.0),
                "boot_ms_max": times.last().copied().unwrap_or(0.0),
                "bytes": results.iter().map(|r| r.bytes).sum::<u64>(),
            }
        });
        println!("{v}");
    } else {
        if !quiet {
            println!();
        }
        print!("{}", summary(&results, wall));
    }
    if failed > 0 {
        return Err((
            4,
            format!("{failed} of {} phones did not boot", results.len()),
        ));
    }
    Ok(())
}

fn model_named(name: &str) -> Result<Model, (u8, String)> {
    Model::by_name(name).ok_or_else(|| {
        let known: Vec<&str> = MODELS.iter().map(|m| m.name).collect();
        (
            1,
            format!("unknown model {name:?} (known: {})", known.join(", ")),
        )
    })
}

/// `--phone MODEL=MAC` entries, then `count` generated phones cycling through `models`.
fn phone_list(
    specs: &[String],
    count: u32,
    models: &[String],
) -> Result<Vec<BootPhone>, (u8, String)> {
    let model = model_named;
    let mut phones = Vec::new();
    for p in specs {
        let (m, mac) = p
            .split_once('=')
            .ok_or_else(|| (1, format!("--phone {p:?}: expected MODEL=MAC")))?;
        phones.push(BootPhone {
            model: model(m)?,
            mac: parse_mac(mac).map_err(|e| (1, format!("--phone {p:?}: {e}")))?,
        });
    }
    let models: Vec<Model> = models.iter().map(|m| model(m)).collect::<Result<_, _>>()?;
    if count > 0 && models.is_empty() {
        return Err((1, "--count needs --models".into()));
    }
    for i in 0..count {
        let k = i as usize % models.len();
        let n = i / models.len() as u32 + 1;
        phones.push(BootPhone {
            model: models[k],
            mac: generated_mac(&models[k], k, n),
        });
    }
    Ok(phones)
}

fn firmware_cmd(a: FirmwareArgs, json_out: bool) -> Result<(), (u8, String)> {
    use cisco_tftp_tests::firmware::{generate, write_load, RootSpec};
    let phones = phone_list(&a.phones, a.count, &a.models)?;
    let mut spec = RootSpec::new().load_bytes(a.load_bytes);
    for p in &phones {
        spec = spec.phone(p.mac, p.model);
    }
    let broken = phone_list(&a.broken_phone, 0, &[])?;
    for p in &broken {
        spec = spec.phone_with_load(p.mac, p.model, &format!("{}-BROKEN", p.model.load));
    }
    let mut root = generate(&a.dir, &spec).map_err(|e| (1, format!("{}: {e}", a.dir.display())))?;
    for p in &broken {
        let load = format!("{}-BROKEN", p.model.load);
        let mut images: Vec<(String, Option<u64>)> = p
            .model
            .image_sizes(a.load_bytes)
            .iter()
            .map(|(n, s)| (n.to_string(), Some(*s)))
            .collect();
        images[0].0 = format!("MISSING-{}", images[0].0);
        let file = format!("{load}.loads");
        let n = write_load(&a.dir, &file, &load, &images).map_err(|e| (1, e.to_string()))?;
        root.files.insert(file, n);
    }
    if json_out {
        println!(
            "{}",
            json!({"dir": a.dir, "files": root.files, "bytes": root.total_bytes()})
        );
    } else {
        for (name, size) in &root.files {
            println!("{size:>10}  {name}");
        }
        println!(
            "{:>10}  total, {} files in {}",
            root.total_bytes(),
            root.files.len(),
            a.dir.display()
        );
    }
    Ok(())
}
