//! A bounded table of recently seen phones, so an operator can find phones stuck "Upgrading".
//!
//! Phones are keyed by the MAC in `SEP<MAC>.cnf.xml`, `CTLSEP<MAC>.tlv` and `ITLSEP<MAC>.tlv`.
//! Firmware names carry no MAC, so a request from an address already tied to a MAC counts for
//! that phone. Each phone remembers the protocol of its last transfer (TFTP or HTTP on 6970);
//! one that used HTTP and then TFTP for a later file "fell back" (its HTTP attempt failed, or
//! HTTP went away). Each phone also keeps its last [`TRANSCRIPT_LEN`] transfers (the boot
//! transcript the operator's page shows), with file names cut to [`NAME_MAX`] bytes, so the
//! table's memory stays bounded by its capacity.
//!
//! The table listens to both engines' [`Events`] itself (each report names its protocol).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use lru::LruCache;
use prometheus::{IntGauge, IntGaugeVec, Opts, Registry};
use serde_json::{json, Value};

use crate::file_class::FileClass;
use crate::server::events::{Events, Outcome, Protocol, TransferProgress, TransferReport};

/// Transfers kept per phone: a whole boot (trust lists, config, load, images, dial plan).
pub const TRANSCRIPT_LEN: usize = 32;
/// File names longer than this (bytes) are cut (at a character boundary) and end in `…`.
pub const NAME_MAX: usize = 160;

pub const DEFAULT_CAPACITY: usize = 4096;

#[derive(Clone, Debug)]
struct Phone {
    address: IpAddr,
    last_file: String,
    last_seen: SystemTime,
    last_firmware: Option<String>,
    last_class: Option<FileClass>,
    firmware_bytes: u64,
    last_outcome: Outcome,
    transfers: u64,
    /// Its last config or firmware transfer did not complete (trust lists, absent on most
    /// systems, do not count): a phone likely stuck "Upgrading".
    unfinished: bool,
    /// The protocol of its last transfer.
    protocol: Protocol,
    /// It has used HTTP at least once while in the table.
    used_http: bool,
    /// The model, when a file name it asked for tells (see [`model_of`]).
    model: Option<String>,
    /// The last `.loads` file it asked for: the firmware it is upgrading to.
    load_file: Option<String>,
    /// It has fetched a config (`SEP<MAC>.cnf.xml`, `XMLDefault.cnf.xml`) completely.
    config_fetched: bool,
    /// When it last completed a transfer, or a firmware transfer of its moved on.
    last_progress: Option<SystemTime>,
    first_seen: SystemTime,
    /// The firmware file it is fetching now and the bytes delivered so far (from progress
    /// events; cleared when that transfer ends).
    in_flight: Option<FirmwareFetch>,
    /// Its last transfers, oldest first, at most [`TRANSCRIPT_LEN`].
    transcript: VecDeque<Transfer>,
}

/// One transfer in a phone's transcript.
#[derive(Clone, Debug, PartialEq)]
pub struct Transfer {
    pub file: String,
    pub class: FileClass,
    pub protocol: Protocol,
    pub outcome: Outcome,
    pub bytes: u64,
    pub duration: Duration,
    /// When it finished.
    pub at: SystemTime,
}

/// What the table holds about one phone (the transcript only in [`PhoneTable::phone`]).
#[derive(Clone, Debug)]
pub struct PhoneRecord {
    pub mac: String,
    pub address: IpAddr,
    pub model: Option<String>,
    pub protocol: Protocol,
    pub fell_back: bool,
    pub last_file: String,
    pub last_class: Option<FileClass>,
    pub last_outcome: Outcome,
    pub last_seen: SystemTime,
    pub first_seen: SystemTime,
    pub last_progress: Option<SystemTime>,
    pub unfinished: bool,
    pub config_fetched: bool,
    pub load_file: Option<String>,
    pub firmware_bytes: u64,
    pub transfers: u64,
    /// Firmware files in the transcript: the most bytes any transfer of each sent, and
    /// whether one completed (for progress against a load's images).
    pub firmware: Vec<FirmwareFetch>,
    /// Its last config or firmware transfer in the transcript (what it is stuck on, if so).
    pub last_key: Option<Transfer>,
    /// Empty unless asked for.
    pub transcript: Vec<Transfer>,
    /// The firmware file it is fetching now, bytes so far (`completed` false).
    pub in_flight: Option<FirmwareFetch>,
}

/// The best transfer of one firmware file seen in a transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirmwareFetch {
    pub file: String,
    pub bytes: u64,
    pub completed: bool,
}

impl Phone {
    /// Used HTTP, then TFTP for a later file.
    fn fell_back(&self) -> bool {
        self.used_http && self.protocol == Protocol::Tftp
    }

    fn counted(&self) -> (Protocol, bool) {
        (self.protocol, self.fell_back())
    }
}

struct Table {
    by_mac: LruCache<String, Phone>,
    /// Address -> MAC of the phone last seen there; never larger than `by_mac`.
    by_addr: HashMap<IpAddr, String>,
    /// Phones in `by_mac` with `unfinished` set, kept in step on every change.
    unfinished: usize,
    /// Phones in `by_mac` by the protocol of their last transfer (index: `Protocol as usize`).
    by_protocol: [usize; 2],
    /// Phones in `by_mac` that fell back from HTTP to TFTP.
    fell_back: usize,
}

impl Table {
    /// Take a phone out of (`sign` = -1) or into (+1) the per-protocol and fell-back counts.
    fn count(&mut self, (protocol, fell_back): (Protocol, bool), sign: isize) {
        let slot = &mut self.by_protocol[protocol as usize];
        *slot = slot.wrapping_add_signed(sign);
        if fell_back {
            self.fell_back = self.fell_back.wrapping_add_signed(sign);
        }
    }
}

/// Recently seen phones, at most `capacity`; the least recently seen is dropped first.
pub struct PhoneTable {
    capacity: usize,
    table: Mutex<Table>,
    tracked: Option<IntGauge>,
    unfinished: Option<IntGauge>,
    by_protocol: Option<IntGaugeVec>,
    fell_back: Option<IntGauge>,
}

impl PhoneTable {
    /// A table of `capacity` phones whose gauges (`tftp_phones_tracked`, `_unfinished`,
    /// `_by_protocol`, `_fell_back`) are registered in `registry` (the metrics' one, so
    /// `/metrics` shows them).
    pub fn registered(capacity: usize, registry: &Registry) -> PhoneTable {
        let r = registry;
        let tracked =
            IntGauge::new("tftp_phones_tracked", "Phones in the recently-seen table.").unwrap();
        r.register(Box::new(tracked.clone())).unwrap();
        let unfinished = IntGauge::new(
            "tftp_phones_unfinished",
            "Phones in the recently-seen table whose last config or firmware transfer did not complete.",
        )
        .unwrap();
        r.register(Box::new(unfinished.clone())).unwrap();
        let phones_by_protocol = IntGaugeVec::new(
            Opts::new(
                "tftp_phones_by_protocol",
                "Phones in the recently-seen table, by the protocol of their last transfer.",
            ),
            &["protocol"],
        )
        .unwrap();
        r.register(Box::new(phones_by_protocol.clone())).unwrap();
        let fell_back = IntGauge::new(
            "tftp_phones_fell_back",
            "Phones in the recently-seen table that used HTTP, then TFTP for a later file.",
        )
        .unwrap();
        r.register(Box::new(fell_back.clone())).unwrap();

        PhoneTable::new(capacity)
            .with_gauge(tracked)
            .with_unfinished_gauge(unfinished)
            .with_protocol_gauges(phones_by_protocol, fell_back)
    }

    /// A table without gauges.
    pub fn new(capacity: usize) -> PhoneTable {
        let cap = NonZeroUsize::new(capacity.max(1)).unwrap();
        PhoneTable {
            capacity: cap.get(),
            table: Mutex::new(Table {
                by_mac: LruCache::new(cap),
                by_addr: HashMap::new(),
                unfinished: 0,
                by_protocol: [0; 2],
                fell_back: 0,
            }),
            tracked: None,
            unfinished: None,
            by_protocol: None,
            fell_back: None,
        }
    }

    /// Keep `by_protocol{protocol}` equal to the phones whose last transfer used that
    /// protocol, and `fell_back` to the phones that used HTTP and then TFTP.
    pub fn with_protocol_gauges(
        mut self,
        by_protocol: IntGaugeVec,
        fell_back: IntGauge,
    ) -> PhoneTable {
        for p in Protocol::ALL {
            by_protocol.with_label_values(&[p.as_str()]);
        }
        self.by_protocol = Some(by_protocol);
        self.fell_back = Some(fell_back);
        self
    }

    /// Phones that used HTTP and then TFTP for a later file.
    pub fn fell_back(&self) -> usize {
        self.table.lock().unwrap().fell_back
    }

    /// Keep `gauge` equal to the number of phones held.
    pub fn with_gauge(mut self, gauge: IntGauge) -> PhoneTable {
        self.tracked = Some(gauge);
        self
    }

    /// Keep `gauge` equal to the number of phones whose last config or firmware transfer
    /// did not complete.
    pub fn with_unfinished_gauge(mut self, gauge: IntGauge) -> PhoneTable {
        self.unfinished = Some(gauge);
        self
    }

    /// Phones whose last config or firmware transfer did not complete.
    pub fn unfinished(&self) -> usize {
        self.table.lock().unwrap().unfinished
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.table.lock().unwrap().by_mac.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Record one finished transfer (without its duration; see [`PhoneTable::record`]).
    pub fn observe(
        &self,
        name: &str,
        client: SocketAddr,
        protocol: Protocol,
        class: FileClass,
        bytes: u64,
        outcome: Outcome,
    ) {
        self.record(&TransferReport {
            protocol,
            client,
            file: name,
            class,
            bytes,
            duration: Duration::ZERO,
            outcome,
        });
    }

    /// A firmware transfer of a phone already in the table moved on (firmware names carry
    /// no MAC: the phone is found by its address). Not a new phone, not a transcript line.
    pub fn progress(&self, p: &TransferProgress<'_>) {
        let now = SystemTime::now();
        let mut t = self.table.lock().unwrap();
        let Some(mac) = t.by_addr.get(&p.client.ip()).cloned() else {
            return;
        };
        if let Some(phone) = t.by_mac.peek_mut(&mac) {
            let file = bounded_name(p.file);
            phone.last_file.clone_from(&file);
            phone.last_seen = now;
            phone.last_progress = Some(now);
            phone.in_flight = Some(FirmwareFetch {
                file,
                bytes: p.bytes,
                completed: false,
            });
        }
    }

    /// Record one finished transfer.
    pub fn record(&self, r: &TransferReport<'_>) {
        let (name, client, class, bytes, outcome) = (r.file, r.client, r.class, r.bytes, r.outcome);
        let protocol = r.protocol;
        let ip = client.ip();
        let now = SystemTime::now();
        let mut t = self.table.lock().unwrap();
        let mac = match mac_of(name) {
            Some(mac) => mac,
            None => match t.by_addr.get(&ip) {
                Some(mac) => mac.clone(),
                // An unknown address asking for a shared file: nothing to attribute it to.
                None => return,
            },
        };
        if !t.by_mac.contains(&mac) {
            let fresh = new_phone(ip, now, protocol);
            t.count(fresh.counted(), 1);
            if let Some((old_mac, old)) = t.by_mac.push(mac.clone(), fresh) {
                // `push` only returns an entry when it evicted one (the key is new).
                if t.by_addr.get(&old.address) == Some(&old_mac) {
                    t.by_addr.remove(&old.address);
                }
                if old.unfinished {
                    t.unfinished -= 1;
                }
                t.count(old.counted(), -1);
            }
        }
        let before = t.by_mac.peek(&mac).expect("just inserted").counted();
        t.count(before, -1);
        let Table {
            by_mac,
            by_addr,
            unfinished,
            ..
        } = &mut *t;
        let phone = by_mac.get_mut(&mac).expect("just inserted");
        phone.protocol = protocol;
        phone.used_http |= protocol == Protocol::Http;
        if phone.address != ip && by_addr.get(&phone.address) == Some(&mac) {
            by_addr.remove(&phone.address);
        }
        phone.address = ip;
        by_addr.insert(ip, mac);
        let name = bounded_name(name);
        phone.last_file = name.clone();
        if class == FileClass::Firmware {
            // A phone fetches one image at a time: whatever was running has ended.
            phone.in_flight = None;
        }
        phone.last_class = Some(class);
        phone.last_seen = now;
        phone.last_outcome = outcome;
        phone.transfers += 1;
        if class == FileClass::Firmware {
            phone.firmware_bytes += bytes;
            phone.last_firmware = Some(name.clone());
        }
        if let Some(m) = model_of(&name) {
            phone.model = Some(m);
        }
        if name.to_ascii_lowercase().ends_with(".loads") {
            phone.load_file = Some(name.clone());
        }
        if outcome == Outcome::Completed {
            phone.last_progress = Some(now);
            if class == FileClass::Config && name.to_ascii_lowercase().contains(".cnf") {
                phone.config_fetched = true;
            }
        }
        if phone.transcript.len() == TRANSCRIPT_LEN {
            phone.transcript.pop_front();
        }
        phone.transcript.push_back(Transfer {
            file: name,
            class,
            protocol,
            outcome,
            bytes,
            duration: r.duration,
            at: now,
        });
        let after = phone.counted();
        if matches!(class, FileClass::Firmware | FileClass::Config) {
            let now_unfinished = outcome != Outcome::Completed;
            if now_unfinished != phone.unfinished {
                phone.unfinished = now_unfinished;
                if now_unfinished {
                    *unfinished += 1;
                } else {
                    *unfinished -= 1;
                }
            }
        }
        if let Some(g) = &self.tracked {
            g.set(by_mac.len() as i64);
        }
        if let Some(g) = &self.unfinished {
            g.set(*unfinished as i64);
        }
        t.count(after, 1);
        if let Some(g) = &self.by_protocol {
            for p in Protocol::ALL {
                g.with_label_values(&[p.as_str()])
                    .set(t.by_protocol[p as usize] as i64);
            }
        }
        if let Some(g) = &self.fell_back {
            g.set(t.fell_back as i64);
        }
    }

    /// Every phone, most recently seen first, without transcripts.
    pub fn records(&self) -> Vec<PhoneRecord> {
        let t = self.table.lock().unwrap();
        t.by_mac
            .iter()
            .map(|(mac, p)| p.record(mac, false))
            .collect()
    }

    /// One phone (MAC as 12 hex digits, any case) with its transcript.
    pub fn phone(&self, mac: &str) -> Option<PhoneRecord> {
        let t = self.table.lock().unwrap();
        let mac = mac.to_ascii_uppercase();
        t.by_mac.peek(&mac).map(|p| p.record(&mac, true))
    }

    /// The table as JSON, most recently seen first.
    pub fn snapshot(&self) -> Value {
        let t = self.table.lock().unwrap();
        let phones: Vec<Value> = t
            .by_mac
            .iter()
            .map(|(mac, p)| {
                json!({
                    "mac": mac,
                    "address": p.address.to_string(),
                    "last_file": p.last_file,
                    "last_seen": rfc3339(p.last_seen),
                    "last_firmware": p.last_firmware,
                    "firmware_bytes": p.firmware_bytes,
                    "last_outcome": p.last_outcome.as_str(),
                    "transfers": p.transfers,
                    "unfinished": p.unfinished,
                    "protocol": p.protocol.as_str(),
                    "fell_back": p.fell_back(),
                    "model": p.model,
                    "load_file": p.load_file,
                    "in_flight": p.in_flight.as_ref().map(|f| json!({
                        "file": f.file,
                        "bytes": f.bytes,
                    })),
                })
            })
            .collect();
        json!({
            "capacity": self.capacity,
            "count": phones.len(),
            "unfinished": t.unfinished,
            "fell_back": t.fell_back,
            "phones": phones,
        })
    }
}

fn new_phone(ip: IpAddr, now: SystemTime, protocol: Protocol) -> Phone {
    Phone {
        protocol,
        used_http: false,
        address: ip,
        last_file: String::new(),
        last_seen: now,
        last_firmware: None,
        last_class: None,
        firmware_bytes: 0,
        last_outcome: Outcome::Completed,
        transfers: 0,
        unfinished: false,
        model: None,
        load_file: None,
        config_fetched: false,
        last_progress: None,
        first_seen: now,
        in_flight: None,
        transcript: VecDeque::new(),
    }
}

impl Phone {
    fn record(&self, mac: &str, with_transcript: bool) -> PhoneRecord {
        // Each firmware file's best transfer; the one still running counts as not completed.
        let mut firmware: Vec<FirmwareFetch> = Vec::new();
        let finished = self
            .transcript
            .iter()
            .filter(|t| t.class == FileClass::Firmware)
            .map(|t| (&t.file, t.bytes, t.outcome == Outcome::Completed));
        let running = self.in_flight.iter().map(|f| (&f.file, f.bytes, false));
        for (file, bytes, done) in finished.chain(running) {
            match firmware.iter_mut().find(|f| f.file == *file) {
                Some(f) => {
                    f.bytes = f.bytes.max(bytes);
                    f.completed |= done;
                }
                None => firmware.push(FirmwareFetch {
                    file: file.clone(),
                    bytes,
                    completed: done,
                }),
            }
        }
        PhoneRecord {
            mac: mac.to_string(),
            address: self.address,
            model: self.model.clone(),
            protocol: self.protocol,
            fell_back: self.fell_back(),
            last_file: self.last_file.clone(),
            last_class: self.last_class,
            last_outcome: self.last_outcome,
            last_seen: self.last_seen,
            first_seen: self.first_seen,
            last_progress: self.last_progress,
            unfinished: self.unfinished,
            config_fetched: self.config_fetched,
            load_file: self.load_file.clone(),
            firmware_bytes: self.firmware_bytes,
            transfers: self.transfers,
            firmware,
            last_key: self
                .transcript
                .iter()
                .rev()
                .find(|t| matches!(t.class, FileClass::Firmware | FileClass::Config))
                .cloned(),
            transcript: if with_transcript {
                self.transcript.iter().cloned().collect()
            } else {
                Vec::new()
            },
            in_flight: self.in_flight.clone(),
        }
    }
}

/// Cut a file name to [`NAME_MAX`] bytes at a character boundary, marking the cut.
fn bounded_name(name: &str) -> String {
    if name.len() <= NAME_MAX {
        return name.to_string();
    }
    let mut end = NAME_MAX;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &name[..end])
}

/// The model (or model family) a file name tells: a term file (`term41.default.loads` ->
/// 7941) or a load's name (`SIP41.…loads` -> 7941/7961, `sip88xx.…` -> 88xx,
/// `CP7921G-…` -> 7921). Loads without a known prefix tell nothing.
pub fn model_of(name: &str) -> Option<String> {
    let base = name.rsplit('/').next().unwrap_or(name);
    if let Some(m) = crate::firmware_check::model_of_term_file(base) {
        return Some(m);
    }
    let lower = base.to_ascii_lowercase();
    if !lower.ends_with(".loads") {
        return None;
    }
    const FAMILIES: [(&str, &str); 10] = [
        ("sip41.", "7941/7961"),
        ("sccp41.", "7941/7961"),
        ("sip42.", "7942/7962"),
        ("sccp42.", "7942/7962"),
        ("sip45.", "7945/7965"),
        ("sccp45.", "7945/7965"),
        ("sip70.", "7970/7971"),
        ("sip88xx.", "88xx"),
        ("sip78xx.", "78xx"),
        ("cp7921g-", "7921"),
    ];
    FAMILIES
        .iter()
        .find(|(prefix, _)| lower.starts_with(prefix))
        .map(|(_, family)| family.to_string())
}

/// Both engines' transfers.
impl Events for PhoneTable {
    fn transfer_finished(&self, report: &TransferReport<'_>) {
        self.record(report);
    }
    fn transfer_progress(&self, progress: &TransferProgress<'_>) {
        self.progress(progress);
    }
}

/// The MAC (12 upper-case hex digits) in a per-phone file name, if it is one.
pub fn mac_of(name: &str) -> Option<String> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let upper = base.to_ascii_uppercase();
    let rest = ["CTLSEP", "ITLSEP", "SEP"]
        .iter()
        .find_map(|p| upper.strip_prefix(p))?;
    if rest.len() < 12 || !rest.is_char_boundary(12) {
        return None;
    }
    let (mac, suffix) = rest.split_at(12);
    if !mac.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let ok = if upper.starts_with("SEP") {
        suffix.starts_with(".CNF.XML")
    } else {
        suffix == ".TLV"
    };
    ok.then(|| mac.to_string())
}

/// UTC time as RFC 3339 with milliseconds, e.g. `2026-11-25T15:12:59.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use std::time::UNIX_EPOCH;

    #[test]
    fn parses_macs() {
        assert_eq!(
            mac_of("SEP001122aabbcc.cnf.xml").as_deref(),
            Some("001122AABBCC")
        );
        assert_eq!(
            mac_of("sep001122AABBCC.CNF.XML").as_deref(),
            Some("001122AABBCC")
        );
        assert_eq!(
            mac_of("SEP001122AABBCC.cnf.xml.sgn").as_deref(),
            Some("001122AABBCC")
        );
        assert_eq!(
            mac_of("CTLSEP001122AABBCC.tlv").as_deref(),
            Some("001122AABBCC")
        );
        assert_eq!(
            mac_of("dir/ITLSEP001122AABBCC.tlv").as_deref(),
            Some("001122AABBCC")
        );
        assert_eq!(mac_of("SEPDefault.cnf"), None);
        assert_eq!(mac_of("SEP001122AABBC.cnf.xml"), None);
        assert_eq!(mac_of("SEP001122AABBCCD.cnf.xml"), None);
        assert_eq!(mac_of("CTLSEP001122AABBCC.cnf.xml"), None);
        assert_eq!(mac_of("SEP00112éAABBCC.cnf.xml"), None);
        assert_eq!(mac_of("ITLFile.tlv"), None);
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_709_251_199_250); // leap year end of Feb
        assert_eq!(rfc3339(t), "2024-02-29T23:59:59.250Z");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(t), "2000-02-29T00:00:00.000Z");
    }
}

#[cfg(test)]
mod unfinished_tests {
    use super::*;

    fn addr(last: u8) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, last], 50000))
    }

    #[test]
    fn counts_phones_whose_last_config_or_firmware_transfer_failed() {
        let gauge = IntGauge::new("t_unfinished", "test").unwrap();
        let t = PhoneTable::new(2).with_unfinished_gauge(gauge.clone());
        let cfg = "SEP001122334455.cnf.xml";
        // A missing trust list is normal: not unfinished.
        t.observe(
            "CTLSEP001122334455.tlv",
            addr(1),
            Protocol::Tftp,
            FileClass::TrustList,
            0,
            Outcome::NotFound,
        );
        t.observe(
            cfg,
            addr(1),
            Protocol::Tftp,
            FileClass::Config,
            100,
            Outcome::Completed,
        );
        assert_eq!(t.unfinished(), 0);
        t.observe(
            "apps41.sbn",
            addr(1),
            Protocol::Tftp,
            FileClass::Firmware,
            10,
            Outcome::TimedOut,
        );
        assert_eq!((t.unfinished(), gauge.get()), (1, 1));
        t.observe(
            "apps41.sbn",
            addr(1),
            Protocol::Tftp,
            FileClass::Firmware,
            10,
            Outcome::Completed,
        );
        assert_eq!((t.unfinished(), gauge.get()), (0, 0));
        t.observe(
            "dsp41.sbn",
            addr(1),
            Protocol::Tftp,
            FileClass::Firmware,
            0,
            Outcome::NotFound,
        );
        assert_eq!(t.unfinished(), 1);
        assert_eq!(t.snapshot()["unfinished"], 1);
        // Evicting the stuck phone (capacity 2) takes it out of the count.
        t.observe(
            "SEP00000000000A.cnf.xml",
            addr(2),
            Protocol::Tftp,
            FileClass::Config,
            1,
            Outcome::Completed,
        );
        t.observe(
            "SEP00000000000B.cnf.xml",
            addr(3),
            Protocol::Tftp,
            FileClass::Config,
            1,
            Outcome::Completed,
        );
        assert_eq!((t.unfinished(), gauge.get()), (0, 0));
    }

    #[test]
    fn a_running_firmware_transfer_shows_until_it_ends() {
        let t = PhoneTable::new(4);
        let progress = |client, bytes| {
            t.transfer_progress(&TransferProgress {
                protocol: Protocol::Http,
                client,
                file: "apps41.sbn",
                bytes,
            })
        };
        // Nobody at this address yet: a firmware name alone tells no phone.
        progress(addr(1), 1000);
        assert!(t.records().is_empty());
        t.observe(
            "SEP001E4A794101.cnf.xml",
            addr(1),
            Protocol::Tftp,
            FileClass::Config,
            10,
            Outcome::Completed,
        );
        progress(addr(1), 524_288);
        let r = &t.records()[0];
        let running = FirmwareFetch {
            file: "apps41.sbn".into(),
            bytes: 524_288,
            completed: false,
        };
        assert_eq!(r.in_flight.as_ref(), Some(&running));
        assert_eq!(r.firmware, vec![running]);
        assert_eq!(r.last_file, "apps41.sbn");
        assert_eq!(r.transfers, 1, "progress is not a transfer");
        assert_eq!(t.snapshot()["phones"][0]["in_flight"]["bytes"], 524_288);
        t.observe(
            "apps41.sbn",
            addr(1),
            Protocol::Http,
            FileClass::Firmware,
            700_000,
            Outcome::Completed,
        );
        let r = &t.records()[0];
        assert_eq!(r.in_flight, None);
        assert_eq!(
            r.firmware,
            vec![FirmwareFetch {
                file: "apps41.sbn".into(),
                bytes: 700_000,
                completed: true
            }]
        );
        assert!(t.snapshot()["phones"][0]["in_flight"].is_null());
    }
}
