//! An example TFTP root for simulated phones: placeholder firmware with Cisco-like file names
//! and sizes, and a `SEP<MAC>.cnf.xml` per phone. Never Cisco's binaries: every image is
//! deterministic filler with a text header saying so, and every `.loads` file uses the
//! placeholder text convention of `tftp-sidecar/docs/firmware-check.md`:
//!
//! ```text
//! # cisco-tftp placeholder load: not a Cisco file (tftp-sidecar/docs/firmware-check.md)
//! load SIP41.9-4-2SR3-1S
//! image apps41.9-4-2ES26.sbn 2130000
//! ...
//! ```
//!
//! Sizes: `RootSpec::load_bytes` is the total of one load's images (7.1 MB for a 79x1 load
//! by default, as in the field; tests use a few hundred KB), split over its images by fixed
//! weights.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Total image bytes of one load in the field (79x1): about 7.1 MB.
pub const FIELD_LOAD_BYTES: u64 = 7_100_000;

/// A phone model the simulator knows: what it sends as option 60 and what it boots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Model {
    /// `7941`, `7961`, `8841`, `7921`.
    pub name: &'static str,
    /// Option 60 exactly as the phone sends it (trailing NUL included where phones send one).
    pub vendor_class: &'static [u8],
    /// The load a factory-reset phone asks for: `termXX.default.loads`.
    pub term_file: &'static str,
    /// The load the config names in `<loadInformation>` (without `.loads`).
    pub load: &'static str,
    /// Image files of the load, with their share of the load's bytes (per mille).
    pub images: &'static [(&'static str, u32)],
}

pub const M7941: Model = Model {
    name: "7941",
    vendor_class: b"Cisco Systems, Inc. IP Phone CP-7941G\0",
    term_file: "term41.default.loads",
    load: "SIP41.9-4-2SR3-1S",
    images: &LOAD_SIP41,
};

pub const M7961: Model = Model {
    name: "7961",
    vendor_class: b"Cisco Systems, Inc. IP Phone CP-7961G\0",
    term_file: "term61.default.loads",
    load: "SIP41.9-4-2SR3-1S",
    images: &LOAD_SIP41,
};

pub const M8841: Model = Model {
    name: "8841",
    vendor_class: b"Cisco Systems, Inc. IP Phone CP-8841\0",
    term_file: "term8841.default.loads",
    load: "sip88xx.12-8-1-0001-455",
    images: &LOAD_88XX,
};

pub const M7921: Model = Model {
    name: "7921",
    vendor_class: b"Cisco Systems Inc. Wireless Phone 7921",
    term_file: "term21.default.loads",
    load: "CP7921G-1.4.6.3",
    images: &LOAD_7921,
};

/// 7941 and 7961 share the SIP41 load (as in the field).
const LOAD_SIP41: [(&str, u32); 5] = [
    ("apps41.9-4-2ES26.sbn", 300),
    ("cnu41.9-4-2ES26.sbn", 90),
    ("cvm41sip.9-4-2ES26.sbn", 380),
    ("dsp41.9-4-2ES26.sbn", 80),
    ("jar41sip.9-4-2ES26.sbn", 150),
];

const LOAD_88XX: [(&str, u32); 4] = [
    ("kern88xx.12-8-1-0001-455.sbn", 150),
    ("rootfs88xx.12-8-1-0001-455.sbn", 700),
    ("sboot88xx.12-8-1-0001-455.sbn", 50),
    ("sip88xx.12-8-1-0001-455.sbn", 100),
];

const LOAD_7921: [(&str, u32); 5] = [
    ("APPS-1.4.6.3.SBN", 350),
    ("GUI-1.4.6.3.SBN", 200),
    ("SYS-1.4.6.3.SBN", 150),
    ("TNUX-1.4.6.3.SBN", 200),
    ("WLAN-1.4.6.3.SBN", 100),
];

/// Every model the generator and the simulator know.
pub const MODELS: [Model; 4] = [M7941, M7961, M8841, M7921];

impl Model {
    /// By name (`7941`, `CP-7941G`, `7941G` all work).
    pub fn by_name(name: &str) -> Option<Model> {
        let n = name.trim().to_ascii_uppercase();
        let n = n.strip_prefix("CP-").unwrap_or(&n);
        let n = n.strip_suffix('G').unwrap_or(n);
        MODELS.iter().copied().find(|m| m.name == n)
    }

    /// Newer enterprise firmware (78xx, 88xx, 89xx, 99xx) asks the option-150 server over
    /// HTTP on TCP 6970 first and falls back to TFTP per file; 79xx here stay TFTP-only.
    pub fn asks_http_first(&self) -> bool {
        ["78", "88", "89", "99"]
            .iter()
            .any(|p| self.name.starts_with(p))
    }

    /// The load file name (`<load>.loads`).
    pub fn load_file(&self) -> String {
        format!("{}.loads", self.load)
    }

    /// `model` attribute value in configs: `Cisco 7941`.
    pub fn config_model(&self) -> String {
        format!("Cisco {}", self.name)
    }

    /// Image sizes for a load of `total` bytes (every image at least 1 byte).
    pub fn image_sizes(&self, total: u64) -> Vec<(&'static str, u64)> {
        self.images
            .iter()
            .map(|(n, w)| (*n, (total * u64::from(*w) / 1000).max(1)))
            .collect()
    }
}

/// `SEP` + 12 upper-case hex digits.
pub fn sep_name(mac: &[u8; 6]) -> String {
    let mut s = String::from("SEP");
    for b in mac {
        let _ = write!(s, "{b:02X}");
    }
    s
}

/// `00:1e:4a:79:41:01`.
pub fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// One phone the root has a config for.
#[derive(Clone, Debug)]
pub struct PhoneSpec {
    pub mac: [u8; 6],
    pub model: Model,
    /// `<loadInformation>` to write instead of the model's load (to make broken phones).
    pub load: Option<String>,
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct RootSpec {
    pub models: Vec<Model>,
    pub phones: Vec<PhoneSpec>,
    /// Total bytes of one load's images.
    pub load_bytes: u64,
    /// Also write `XMLDefault.cnf.xml` (auto-registration: every model's load).
    pub xml_default: bool,
}

impl RootSpec {
    /// Every known model, no phones, field-size loads, `XMLDefault.cnf.xml`.
    pub fn new() -> RootSpec {
        RootSpec {
            models: MODELS.to_vec(),
            phones: Vec::new(),
            load_bytes: FIELD_LOAD_BYTES,
            xml_default: true,
        }
    }

    pub fn load_bytes(mut self, bytes: u64) -> Self {
        self.load_bytes = bytes;
        self
    }

    pub fn phone(mut self, mac: [u8; 6], model: Model) -> Self {
        self.phones.push(PhoneSpec {
            mac,
            model,
            load: None,
        });
        self
    }

    /// A phone whose config names `load` instead of its model's.
    pub fn phone_with_load(mut self, mac: [u8; 6], model: Model, load: &str) -> Self {
        self.phones.push(PhoneSpec {
            mac,
            model,
            load: Some(load.to_string()),
        });
        self
    }
}

impl Default for RootSpec {
    fn default() -> Self {
        RootSpec::new()
    }
}

/// What was written: file name -> size.
#[derive(Clone, Debug)]
pub struct GeneratedRoot {
    pub dir: PathBuf,
    pub files: BTreeMap<String, u64>,
}

impl GeneratedRoot {
    /// The bytes of a generated file.
    pub fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        fs::read(self.dir.join(name))
    }

    pub fn total_bytes(&self) -> u64 {
        self.files.values().sum()
    }
}

/// Writes the root described by `spec` into `dir` (created if needed).
pub fn generate(dir: &Path, spec: &RootSpec) -> io::Result<GeneratedRoot> {
    fs::create_dir_all(dir)?;
    let mut files = BTreeMap::new();
    let mut done_loads = Vec::new();
    for m in &spec.models {
        let sizes = m.image_sizes(spec.load_bytes);
        if !done_loads.contains(&m.load) {
            done_loads.push(m.load);
            for (name, size) in &sizes {
                write_image(dir, name, *size)?;
                files.insert(name.to_string(), *size);
            }
            let n = write_load(dir, &m.load_file(), m.load, &sizes_opt(&sizes))?;
            files.insert(m.load_file(), n);
        }
        // A term file is a copy of the model's load, as Cisco ships them.
        let n = write_load(dir, m.term_file, m.load, &sizes_opt(&sizes))?;
        files.insert(m.term_file.to_string(), n);
    }
    for p in &spec.phones {
        let load = p.load.clone().unwrap_or_else(|| p.model.load.to_string());
        let name = format!("{}.cnf.xml", sep_name(&p.mac));
        let n = write_config(dir, &name, &[(Some(p.model.config_model()), load)])?;
        files.insert(name, n);
    }
    if spec.xml_default {
        let entries: Vec<(Option<String>, String)> = spec
            .models
            .iter()
            .map(|m| (Some(m.config_model()), m.load.to_string()))
            .collect();
        let n = write_config(dir, "XMLDefault.cnf.xml", &entries)?;
        files.insert("XMLDefault.cnf.xml".into(), n);
    }
    Ok(GeneratedRoot {
        dir: dir.to_path_buf(),
        files,
    })
}

fn sizes_opt(sizes: &[(&str, u64)]) -> Vec<(String, Option<u64>)> {
    sizes
        .iter()
        .map(|(n, s)| (n.to_string(), Some(*s)))
        .collect()
}

/// The placeholder `.loads` text for `load` naming `images` (size optional).
pub fn load_text(load: &str, images: &[(String, Option<u64>)]) -> String {
    let mut t = String::from(
        "# cisco-tftp placeholder load: not a Cisco file (tftp-sidecar/docs/firmware-check.md)\n",
    );
    let _ = writeln!(t, "load {load}");
    for (name, size) in images {
        match size {
            Some(s) => {
                let _ = writeln!(t, "image {name} {s}");
            }
            None => {
                let _ = writeln!(t, "image {name}");
            }
        }
    }
    t
}

/// Writes a placeholder `.loads` file; returns its size.
pub fn write_load(
    dir: &Path,
    file: &str,
    load: &str,
    images: &[(String, Option<u64>)],
) -> io::Result<u64> {
    let t = load_text(load, images);
    fs::write(dir.join(file), &t)?;
    Ok(t.len() as u64)
}

/// A phone config with one `<loadInformation>` per (model, load) entry; returns its size.
pub fn write_config(dir: &Path, file: &str, loads: &[(Option<String>, String)]) -> io::Result<u64> {
    let t = config_text(loads);
    fs::write(dir.join(file), &t)?;
    Ok(t.len() as u64)
}

/// The text of a `SEP<MAC>.cnf.xml` / `XMLDefault.cnf.xml` in CUCM's shape (trimmed).
pub fn config_text(loads: &[(Option<String>, String)]) -> String {
    let mut t = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<device>\n");
    t.push_str("  <deviceProtocol>SIP</deviceProtocol>\n");
    t.push_str("  <sshUserId></sshUserId>\n  <devicePool>\n    <dateTimeSetting>\n");
    t.push_str("      <dateTemplate>D/M/Y</dateTemplate>\n      <timeZone>UTC</timeZone>\n");
    t.push_str("    </dateTimeSetting>\n    <callManagerGroup><members><member priority=\"0\">\n");
    t.push_str("      <callManager><processNodeName>10.0.0.10</processNodeName></callManager>\n");
    t.push_str("    </member></members></callManagerGroup>\n  </devicePool>\n");
    for (model, load) in loads {
        match model {
            Some(m) => {
                let _ = writeln!(
                    t,
                    "  <loadInformation model=\"{m}\">{load}</loadInformation>"
                );
            }
            None => {
                let _ = writeln!(t, "  <loadInformation>{load}</loadInformation>");
            }
        }
    }
    t.push_str("  <vendorConfig><disableSpeaker>false</disableSpeaker></vendorConfig>\n");
    t.push_str("</device>\n");
    t
}

/// Writes `size` bytes of deterministic filler, headed by a line saying what it is.
pub fn write_image(dir: &Path, name: &str, size: u64) -> io::Result<()> {
    let f = fs::File::create(dir.join(name))?;
    let mut w = io::BufWriter::with_capacity(1 << 16, f);
    let header = format!("cisco-tftp placeholder image {name}: not Cisco firmware\n");
    let mut left = size;
    let h = header.as_bytes();
    let take = (h.len() as u64).min(left) as usize;
    w.write_all(&h[..take])?;
    left -= take as u64;
    let mut x: u64 = name.bytes().fold(0xcbf2_9ce4_8422_2325, |a, b| {
        (a ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut chunk = vec![0u8; 1 << 16];
    while left > 0 {
        let n = (left as usize).min(chunk.len());
        for c in chunk[..n].chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b = x.to_le_bytes();
            c.copy_from_slice(&b[..c.len()]);
        }
        w.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_a_root_with_the_expected_files_and_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let spec = RootSpec::new()
            .load_bytes(300_000)
            .phone([0, 0x1e, 0x4a, 0x79, 0x41, 1], M7941);
        let root = generate(dir.path(), &spec).unwrap();
        for f in [
            "term41.default.loads",
            "term61.default.loads",
            "SIP41.9-4-2SR3-1S.loads",
            "cvm41sip.9-4-2ES26.sbn",
            "CP7921G-1.4.6.3.loads",
            "SEP001E4A794101.cnf.xml",
            "XMLDefault.cnf.xml",
        ] {
            assert!(root.files.contains_key(f), "{f}");
            assert_eq!(
                fs::metadata(dir.path().join(f)).unwrap().len(),
                root.files[f],
                "{f}"
            );
        }
        let sip41: u64 = M7941.image_sizes(300_000).iter().map(|(_, s)| s).sum();
        assert!((299_000..=300_000).contains(&sip41));
        assert_eq!(root.files["cvm41sip.9-4-2ES26.sbn"], 114_000);
        let load = fs::read_to_string(dir.path().join("SIP41.9-4-2SR3-1S.loads")).unwrap();
        assert!(
            load.contains("image jar41sip.9-4-2ES26.sbn 45000\n"),
            "{load}"
        );
        let cfg = fs::read_to_string(dir.path().join("SEP001E4A794101.cnf.xml")).unwrap();
        assert!(cfg
            .contains("<loadInformation model=\"Cisco 7941\">SIP41.9-4-2SR3-1S</loadInformation>"));
        // Deterministic filler.
        let a = root.read("apps41.9-4-2ES26.sbn").unwrap();
        write_image(dir.path(), "again.sbn", 0).unwrap();
        write_image(dir.path(), "apps41.9-4-2ES26.sbn", a.len() as u64).unwrap();
        assert_eq!(root.read("apps41.9-4-2ES26.sbn").unwrap(), a);
        assert!(a.starts_with(b"cisco-tftp placeholder image"));
    }

    #[test]
    fn models_by_name() {
        assert_eq!(Model::by_name("CP-7961G"), Some(M7961));
        assert_eq!(Model::by_name("8841"), Some(M8841));
        assert_eq!(Model::by_name("7921G"), Some(M7921));
        assert_eq!(Model::by_name("9971"), None);
        assert_eq!(sep_name(&[0, 0x1e, 0x4a, 0xab, 0, 1]), "SEP001E4AAB0001");
    }
}
