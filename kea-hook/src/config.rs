//! The hook's `parameters` (JSON text from Kea's `Element::str()`), parsed and validated.
//!
//! The JSON is walked by hand rather than through serde derive so every error can name the
//! exact parameter path and the offending value, e.g.
//! `parameter 'sites[1].servers[0]': not an IPv4 address: "10.0.0.300"`: Kea shows this text
//! when it rejects the configuration. See docs/PARAMETERS.md for the schema.

#![forbid(unsafe_code)]

use std::fmt;
use std::net::Ipv4Addr;

use regex::bytes::Regex;
use serde_json::{json, Map, Value};

use crate::encoding::MAX_SERVERS;
use crate::matching::{builtin_family_id, UserPattern};

/// A configuration error: the parameter path (empty for the whole map) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "parameters: {}", self.message)
        } else {
            write!(f, "parameter '{}': {}", self.path, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// An IPv4 prefix with no host bits set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Prefix {
    pub addr: Ipv4Addr,
    pub len: u8,
}

impl Prefix {
    pub fn host(addr: Ipv4Addr) -> Prefix {
        Prefix { addr, len: 32 }
    }

    fn mask(len: u8) -> u32 {
        // checked_shl: a shift by 32 would overflow for /0.
        u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let m = Self::mask(self.len);
        u32::from(ip) & m == u32::from(self.addr) & m
    }

    /// Parses `a.b.c.d/len` or a bare address (= /32). Errors are the message text.
    pub fn parse(text: &str) -> Result<Prefix, String> {
        let bad = || format!("not an IPv4 prefix: {}", show_str(text));
        let (addr, len) = match text.split_once('/') {
            Some((a, l)) => {
                let len: u8 = match l.parse() {
                    Ok(n) if n <= 32 && !l.starts_with('+') => n,
                    _ => return Err(bad()),
                };
                (a, len)
            }
            None => (text, 32),
        };
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let p = Prefix { addr, len };
        let net = Ipv4Addr::from(u32::from(addr) & Self::mask(len));
        if net != addr {
            return Err(format!(
                "host bits set in prefix: {} (did you mean \"{net}/{len}\"?)",
                show_str(text)
            ));
        }
        Ok(p)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Ordered server lists at one level (global or a site).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerLists {
    pub servers: Option<Vec<Ipv4Addr>>,
    /// (canonical family name, servers)
    pub families: Vec<(String, Vec<Ipv4Addr>)>,
    /// (model as configured, servers); models compare ASCII case-insensitively.
    pub models: Vec<(String, Vec<Ipv4Addr>)>,
}

impl ServerLists {
    pub fn is_empty(&self) -> bool {
        self.servers.is_none() && self.families.is_empty() && self.models.is_empty()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Option66 {
    pub enabled: bool,
    /// `None`: send the first server of the chosen list as dotted-quad text.
    pub name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    pub name: String,
    pub subnet_ids: Vec<u32>,
    /// Relay (giaddr) addresses (/32) and prefixes.
    pub relays: Vec<Prefix>,
    /// Prefixes containing the client's address.
    pub prefixes: Vec<Prefix>,
    pub lists: ServerLists,
    pub option66_name: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct HookConfig {
    pub lists: ServerLists,
    /// Canonical family names.
    pub disabled_families: Vec<String>,
    pub patterns: Vec<UserPattern>,
    pub option66: Option66,
    pub sites: Vec<Site>,
}

type R<T> = Result<T, ConfigError>;

fn err(path: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        path: path.to_string(),
        message: message.into(),
    }
}

fn key(path: &str, k: &str) -> String {
    if path.is_empty() {
        k.to_string()
    } else {
        format!("{path}.{k}")
    }
}

fn idx(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// A value as JSON text for messages, cut short so a huge value cannot flood Kea's log.
fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.len() <= 100 {
        return s;
    }
    let mut end = 100;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

fn show_str(s: &str) -> String {
    show(&Value::String(s.to_string()))
}

fn expected(path: &str, what: &str, got: &Value) -> ConfigError {
    err(path, format!("expected {what}, got {}", show(got)))
}

fn object<'v>(v: &'v Value, path: &str) -> R<&'v Map<String, Value>> {
    v.as_object().ok_or_else(|| expected(path, "an object", v))
}

fn array<'v>(v: &'v Value, path: &str, what: &str) -> R<&'v Vec<Value>> {
    v.as_array().ok_or_else(|| expected(path, what, v))
}

fn string<'v>(v: &'v Value, path: &str) -> R<&'v str> {
    v.as_str().ok_or_else(|| expected(path, "a string", v))
}

fn check_keys(map: &Map<String, Value>, path: &str, allowed: &[&str]) -> R<()> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(err(
            &key(path, k),
            format!(
                "unknown parameter (expected one of: {})",
                allowed.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

const TOP_KEYS: &[&str] = &[
    "servers",
    "families",
    "models",
    "disabled-families",
    "patterns",
    "option-66",
    "sites",
];
const SITE_KEYS: &[&str] = &[
    "name",
    "subnet-ids",
    "relays",
    "prefixes",
    "servers",
    "families",
    "models",
    "option-66-name",
];
const PATTERN_KEYS: &[&str] = &["regex", "family"];
const OPTION66_KEYS: &[&str] = &["enabled", "name"];

fn servers(v: &Value, path: &str) -> R<Vec<Ipv4Addr>> {
    let items = array(v, path, "a list of IPv4 addresses")?;
    if items.is_empty() {
        return Err(err(path, "empty server list"));
    }
    if items.len() > MAX_SERVERS {
        return Err(err(
            path,
            format!(
                "too many servers: {} (option 150 holds at most {MAX_SERVERS})",
                items.len()
            ),
        ));
    }
    let mut out: Vec<Ipv4Addr> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let p = idx(path, i);
        let text = item
            .as_str()
            .ok_or_else(|| expected(&p, "an IPv4 address string", item))?;
        let addr: Ipv4Addr = text
            .parse()
            .map_err(|_| err(&p, format!("not an IPv4 address: {}", show(item))))?;
        if addr.is_unspecified() || addr.is_broadcast() || addr.is_multicast() {
            return Err(err(
                &p,
                format!("not a usable server address: {}", show(item)),
            ));
        }
        if out.contains(&addr) {
            return Err(err(&p, format!("duplicate server: {}", show(item))));
        }
        out.push(addr);
    }
    Ok(out)
}

/// Family names known to this configuration: built-in ones plus pattern families.
struct Families<'c> {
    pattern_families: &'c [UserPattern],
}

impl Families<'_> {
    /// Canonical spelling, or `None` when unknown.
    fn canonical(&self, name: &str) -> Option<String> {
        if builtin_family_id(name).is_some() {
            return Some(name.to_ascii_lowercase());
        }
        self.pattern_families
            .iter()
            .find(|p| p.family.eq_ignore_ascii_case(name))
            .map(|p| p.family.clone())
    }

    fn resolve(&self, name: &str, path: &str) -> R<String> {
        self.canonical(name).ok_or_else(|| {
            err(
                path,
                format!(
                    "unknown family: {} (families are NNxx, generic, wireless, spa, ata \
                     or the family of a pattern)",
                    show_str(name)
                ),
            )
        })
    }
}

fn family_lists(v: &Value, path: &str, fams: &Families) -> R<Vec<(String, Vec<Ipv4Addr>)>> {
    let map = object(v, path)?;
    let mut out: Vec<(String, Vec<Ipv4Addr>)> = Vec::with_capacity(map.len());
    for (name, list) in map {
        let p = key(path, name);
        let canonical = fams.resolve(name, &p)?;
        if out.iter().any(|(n, _)| *n == canonical) {
            return Err(err(&p, format!("duplicate family: {}", show_str(name))));
        }
        out.push((canonical, servers(list, &p)?));
    }
    Ok(out)
}

fn is_model_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

fn model_lists(v: &Value, path: &str) -> R<Vec<(String, Vec<Ipv4Addr>)>> {
    let map = object(v, path)?;
    let mut out: Vec<(String, Vec<Ipv4Addr>)> = Vec::with_capacity(map.len());
    for (model, list) in map {
        let p = key(path, model);
        if !is_model_name(model) {
            return Err(err(
                &p,
                format!(
                    "not a model name: {} (models are made of A-Z a-z 0-9 . _ -)",
                    show_str(model)
                ),
            ));
        }
        // Phones send `CP-7941G` but the model is `7941G`: a key with the prefix never matches.
        if model.len() > 3 && model[..3].eq_ignore_ascii_case("cp-") {
            return Err(err(
                &p,
                format!(
                    "write the model without \"CP-\": {} (the hook compares {})",
                    show_str(model),
                    show_str(&model[3..])
                ),
            ));
        }
        if out.iter().any(|(m, _)| m.eq_ignore_ascii_case(model)) {
            return Err(err(
                &p,
                format!(
                    "duplicate model (models compare case-insensitively): {}",
                    show_str(model)
                ),
            ));
        }
        out.push((model.clone(), servers(list, &p)?));
    }
    Ok(out)
}

fn lists(map: &Map<String, Value>, path: &str, fams: &Families) -> R<ServerLists> {
    Ok(ServerLists {
        servers: match map.get("servers") {
            Some(v) => Some(servers(v, &key(path, "servers"))?),
            None => None,
        },
        families: match map.get("families") {
            Some(v) => family_lists(v, &key(path, "families"), fams)?,
            None => Vec::new(),
        },
        models: match map.get("models") {
            Some(v) => model_lists(v, &key(path, "models"))?,
            None => Vec::new(),
        },
    })
}

/// Option 66 text: 1..=255 bytes of printable ASCII.
fn option66_name(v: &Value, path: &str) -> R<String> {
    let s = string(v, path)?;
    if s.is_empty() {
        return Err(err(path, "empty name"));
    }
    if s.len() > 255 {
        return Err(err(
            path,
            format!("name too long: {} bytes (at most 255)", s.len()),
        ));
    }
    if !s.bytes().all(|c| c.is_ascii_graphic() || c == b' ') {
        return Err(err(path, format!("not printable ASCII: {}", show(v))));
    }
    Ok(s.to_string())
}

fn option66(v: &Value, path: &str) -> R<Option66> {
    let map = object(v, path)?;
    check_keys(map, path, OPTION66_KEYS)?;
    let enabled = match map.get("enabled") {
        // Writing the object at all means the user wants option 66.
        None => true,
        Some(e) => e
            .as_bool()
            .ok_or_else(|| expected(&key(path, "enabled"), "true or false", e))?,
    };
    let name = match map.get("name") {
        Some(n) => Some(option66_name(n, &key(path, "name"))?),
        None => None,
    };
    Ok(Option66 { enabled, name })
}

fn is_family_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// Regex errors span several lines (with a caret diagram); keep the one that says what.
fn regex_error_line(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map(str::to_string)
        .unwrap_or_else(|| text.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn patterns(v: &Value, path: &str) -> R<Vec<UserPattern>> {
    let items = array(v, path, "a list of patterns")?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let p = idx(path, i);
        let map = object(item, &p)?;
        check_keys(map, &p, PATTERN_KEYS)?;
        let rp = key(&p, "regex");
        let src = string(
            map.get("regex")
                .ok_or_else(|| err(&rp, "missing (every pattern needs a regex)"))?,
            &rp,
        )?;
        if src.is_empty() {
            return Err(err(&rp, "empty regex"));
        }
        let regex = Regex::new(src).map_err(|e| {
            err(
                &rp,
                format!("invalid regex: {}: {}", show_str(src), regex_error_line(&e)),
            )
        })?;
        let fp = key(&p, "family");
        let family = string(
            map.get("family")
                .ok_or_else(|| err(&fp, "missing (every pattern needs a family)"))?,
            &fp,
        )?;
        if !is_family_name(family) {
            return Err(err(
                &fp,
                format!(
                    "not a family name: {} (1 to 64 of A-Z a-z 0-9 . _ -)",
                    show_str(family)
                ),
            ));
        }
        out.push(UserPattern {
            regex,
            family: family.to_string(),
        });
    }
    Ok(out)
}

fn prefixes(v: &Value, path: &str, what: &str) -> R<Vec<Prefix>> {
    let items = array(v, path, what)?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let p = idx(path, i);
        let text = item
            .as_str()
            .ok_or_else(|| expected(&p, "a string (IPv4 address or prefix)", item))?;
        out.push(Prefix::parse(text).map_err(|m| err(&p, m))?);
    }
    Ok(out)
}

fn subnet_ids(v: &Value, path: &str) -> R<Vec<u32>> {
    let items = array(v, path, "a list of subnet ids")?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if n > 0 => out.push(n),
            _ => {
                return Err(err(
                    &idx(path, i),
                    format!("not a subnet id (1 to 4294967295): {}", show(item)),
                ))
            }
        }
    }
    Ok(out)
}

fn site(v: &Value, path: &str, fams: &Families, taken: &[Site]) -> R<Site> {
    let map = object(v, path)?;
    check_keys(map, path, SITE_KEYS)?;
    let np = key(path, "name");
    let name = string(
        map.get("name")
            .ok_or_else(|| err(&np, "missing (every site needs a name)"))?,
        &np,
    )?;
    if name.trim().is_empty() {
        return Err(err(&np, "empty site name"));
    }
    if taken.iter().any(|s| s.name == name) {
        return Err(err(&np, format!("duplicate site name: {}", show_str(name))));
    }
    let get_or_empty = |k: &str, f: &dyn Fn(&Value, &str) -> R<Vec<_>>| match map.get(k) {
        Some(v) => f(v, &key(path, k)),
        None => Ok(Vec::new()),
    };
    let subnet_ids = match map.get("subnet-ids") {
        Some(v) => subnet_ids(v, &key(path, "subnet-ids"))?,
        None => Vec::new(),
    };
    let relays = get_or_empty("relays", &|v, p| {
        prefixes(v, p, "a list of relay addresses or prefixes")
    })?;
    let client_prefixes = get_or_empty("prefixes", &|v, p| prefixes(v, p, "a list of prefixes"))?;
    let lists = lists(map, path, fams)?;
    let option66_name = match map.get("option-66-name") {
        Some(n) => Some(option66_name(n, &key(path, "option-66-name"))?),
        None => None,
    };
    if subnet_ids.is_empty() && relays.is_empty() && client_prefixes.is_empty() {
        return Err(err(
            path,
            format!(
                "site {} has no subnet-ids, relays or prefixes, so it can never match",
                show_str(name)
            ),
        ));
    }
    if lists.is_empty() {
        return Err(err(
            path,
            format!("site {} has no servers, families or models", show_str(name)),
        ));
    }
    Ok(Site {
        name: name.to_string(),
        subnet_ids,
        relays,
        prefixes: client_prefixes,
        lists,
        option66_name,
    })
}

/// Parses and validates the hook's parameters. `null` stands for no parameters.
pub fn parse(json: &str) -> Result<HookConfig, ConfigError> {
    let root: Value =
        serde_json::from_str(json).map_err(|e| err("", format!("not valid JSON: {e}")))?;
    from_value(&root)
}

/// As [`parse`], from an already parsed value.
pub fn from_value(root: &Value) -> Result<HookConfig, ConfigError> {
    let empty = Map::new();
    let map = match root {
        Value::Null => &empty,
        v => object(v, "")?,
    };
    check_keys(map, "", TOP_KEYS)?;
    let patterns = match map.get("patterns") {
        Some(v) => patterns(v, "patterns")?,
        None => Vec::new(),
    };
    let fams = Families {
        pattern_families: &patterns,
    };
    let lists = lists(map, "", &fams)?;
    let mut disabled_families: Vec<String> = Vec::new();
    if let Some(v) = map.get("disabled-families") {
        let items = array(v, "disabled-families", "a list of family names")?;
        for (i, item) in items.iter().enumerate() {
            let p = idx("disabled-families", i);
            let name = fams.resolve(string(item, &p)?, &p)?;
            if !disabled_families.contains(&name) {
                disabled_families.push(name);
            }
        }
    }
    let option66 = match map.get("option-66") {
        Some(v) => option66(v, "option-66")?,
        None => Option66::default(),
    };
    let mut sites: Vec<Site> = Vec::new();
    if let Some(v) = map.get("sites") {
        let items = array(v, "sites", "a list of sites")?;
        for (i, item) in items.iter().enumerate() {
            let s = site(item, &idx("sites", i), &fams, &sites)?;
            sites.push(s);
        }
    }
    if lists.is_empty() && sites.is_empty() {
        return Err(err(
            "",
            "no server list: set \"servers\", \"families\", \"models\" or a site's lists",
        ));
    }
    Ok(HookConfig {
        lists,
        disabled_families,
        patterns,
        option66,
        sites,
    })
}

fn addrs(list: &[Ipv4Addr]) -> Value {
    Value::Array(list.iter().map(|a| Value::String(a.to_string())).collect())
}

fn named(lists: &[(String, Vec<Ipv4Addr>)]) -> Value {
    Value::Object(lists.iter().map(|(n, l)| (n.clone(), addrs(l))).collect())
}

fn lists_into(map: &mut Map<String, Value>, l: &ServerLists) {
    if let Some(s) = &l.servers {
        map.insert("servers".into(), addrs(s));
    }
    if !l.families.is_empty() {
        map.insert("families".into(), named(&l.families));
    }
    if !l.models.is_empty() {
        map.insert("models".into(), named(&l.models));
    }
}

impl HookConfig {
    /// The normalised configuration in the input schema (parsing it gives the same config).
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        lists_into(&mut map, &self.lists);
        map.insert("disabled-families".into(), json!(self.disabled_families));
        map.insert(
            "patterns".into(),
            Value::Array(
                self.patterns
                    .iter()
                    .map(|p| json!({"regex": p.regex.as_str(), "family": p.family}))
                    .collect(),
            ),
        );
        let mut o66 = Map::new();
        o66.insert("enabled".into(), json!(self.option66.enabled));
        if let Some(n) = &self.option66.name {
            o66.insert("name".into(), json!(n));
        }
        map.insert("option-66".into(), Value::Object(o66));
        let sites = self
            .sites
            .iter()
            .map(|s| {
                let mut m = Map::new();
                m.insert("name".into(), json!(s.name));
                m.insert("subnet-ids".into(), json!(s.subnet_ids));
                m.insert(
                    "relays".into(),
                    Value::Array(
                        s.relays
                            .iter()
                            .map(|p| {
                                // An exact relay address reads better without "/32".
                                if p.len == 32 {
                                    json!(p.addr.to_string())
                                } else {
                                    json!(p.to_string())
                                }
                            })
                            .collect(),
                    ),
                );
                m.insert(
                    "prefixes".into(),
                    Value::Array(s.prefixes.iter().map(|p| json!(p.to_string())).collect()),
                );
                lists_into(&mut m, &s.lists);
                if let Some(n) = &s.option66_name {
                    m.insert("option-66-name".into(), json!(n));
                }
                Value::Object(m)
            })
            .collect();
        map.insert("sites".into(), Value::Array(sites));
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn fails(json: &str) -> String {
        match parse(json) {
            Ok(_) => panic!("accepted: {json}"),
            Err(e) => e.to_string(),
        }
    }

    const FULL: &str = r#"{
        "servers": ["10.0.0.10", "10.0.0.11"],
        "families": {"88xx": ["10.0.0.20"]},
        "models": {"7941G": ["10.0.0.30"]},
        "disabled-families": ["spa", "ata"],
        "patterns": [{"regex": "^Acme Phone (?P<model>\\S+)", "family": "acme"}],
        "option-66": {"enabled": true, "name": "tftp.example.com"},
        "sites": [{"name": "branch-a", "subnet-ids": [10], "relays": ["10.2.0.1", "10.3.0.0/24"],
                   "prefixes": ["10.2.0.0/16"], "servers": ["10.2.0.5"],
                   "families": {"acme": ["10.2.0.6"]}, "models": {"8841": ["10.2.0.7"]},
                   "option-66-name": "tftp-a.example.com"}]
    }"#;

    #[test]
    fn full_example() {
        let c = parse(FULL).unwrap();
        assert_eq!(
            c.lists.servers,
            Some(vec![ip("10.0.0.10"), ip("10.0.0.11")])
        );
        assert_eq!(
            c.lists.families,
            vec![("88xx".into(), vec![ip("10.0.0.20")])]
        );
        assert_eq!(
            c.lists.models,
            vec![("7941G".into(), vec![ip("10.0.0.30")])]
        );
        assert_eq!(c.disabled_families, ["spa", "ata"]);
        assert_eq!(c.patterns.len(), 1);
        assert_eq!(c.patterns[0].family, "acme");
        assert_eq!(
            c.option66,
            Option66 {
                enabled: true,
                name: Some("tftp.example.com".into())
            }
        );
        let s = &c.sites[0];
        assert_eq!(s.name, "branch-a");
        assert_eq!(s.subnet_ids, [10]);
        assert_eq!(
            s.relays,
            [
                Prefix::host(ip("10.2.0.1")),
                Prefix {
                    addr: ip("10.3.0.0"),
                    len: 24
                }
            ]
        );
        assert_eq!(s.prefixes[0].to_string(), "10.2.0.0/16");
        assert_eq!(s.lists.families[0].0, "acme");
        assert_eq!(s.option66_name.as_deref(), Some("tftp-a.example.com"));
    }

    #[test]
    fn minimal_and_defaults() {
        let c = parse(r#"{"servers": ["10.0.0.10"]}"#).unwrap();
        assert!(!c.option66.enabled);
        assert!(c.sites.is_empty() && c.patterns.is_empty());
        let c = parse(r#"{"models": {"7941G": ["10.0.0.30"]}, "option-66": {}}"#).unwrap();
        assert!(c.option66.enabled);
        assert_eq!(c.option66.name, None);
        let c = parse(r#"{"option-66": {"enabled": false}, "families": {"79XX": ["1.2.3.4"]}}"#)
            .unwrap();
        assert!(!c.option66.enabled);
        // Family names are canonicalised.
        assert_eq!(c.lists.families[0].0, "79xx");
        // Only sites.
        parse(r#"{"sites": [{"name": "a", "subnet-ids": [1], "servers": ["1.2.3.4"]}]}"#).unwrap();
    }

    #[test]
    fn round_trip_effective_config() {
        let c = parse(FULL).unwrap();
        let v = c.to_value();
        let again = from_value(&v).unwrap().to_value();
        assert_eq!(v, again);
        assert_eq!(v["sites"][0]["relays"], json!(["10.2.0.1", "10.3.0.0/24"]));
        assert_eq!(
            v["option-66"],
            json!({"enabled": true, "name": "tftp.example.com"})
        );
    }

    #[test]
    fn error_messages_name_path_and_value() {
        let site = |extra: &str| {
            format!(
                r#"{{"servers": ["10.0.0.1"], "sites": [
                    {{"name": "a", "subnet-ids": [1], "servers": ["10.1.0.1"]}},
                    {{"name": "b", "subnet-ids": [2], "servers": ["10.1.0.2"]{extra}}}]}}"#
            )
        };
        let cases: Vec<(String, &str)> = vec![
            (
                r#"{"servers": ["10.0.0.1"], "sites": [
                    {"name": "a", "subnet-ids": [1], "servers": ["10.1.0.1"]},
                    {"name": "b", "relays": ["10.0.0.1"], "servers": ["10.0.0.300"]}]}"#
                    .into(),
                r#"parameter 'sites[1].servers[0]': not an IPv4 address: "10.0.0.300""#,
            ),
            (
                r#"{"servers": ["10.0.0.300"]}"#.into(),
                r#"parameter 'servers[0]': not an IPv4 address: "10.0.0.300""#,
            ),
            (
                r#"{"servers": ["10.0.0.1", "bogus"]}"#.into(),
                r#"parameter 'servers[1]': not an IPv4 address: "bogus""#,
            ),
            (
                r#"{"servers": ["0.0.0.0"]}"#.into(),
                r#"parameter 'servers[0]': not a usable server address: "0.0.0.0""#,
            ),
            (
                r#"{"servers": []}"#.into(),
                "parameter 'servers': empty server list",
            ),
            (
                r#"{"families": {"88xx": []}}"#.into(),
                "parameter 'families.88xx': empty server list",
            ),
            (
                r#"{"servers": ["10.0.0.1", "10.0.0.2", "10.0.0.1"]}"#.into(),
                r#"parameter 'servers[2]': duplicate server: "10.0.0.1""#,
            ),
            (
                r#"{"servers": "10.0.0.1"}"#.into(),
                r#"parameter 'servers': expected a list of IPv4 addresses, got "10.0.0.1""#,
            ),
            (
                r#"{"servers": [167772161]}"#.into(),
                "parameter 'servers[0]': expected an IPv4 address string, got 167772161",
            ),
            (
                r#"{"servers": ["10.0.0.1"], "serverz": 1}"#.into(),
                "parameter 'serverz': unknown parameter (expected one of: servers, families, \
                 models, disabled-families, patterns, option-66, sites)",
            ),
            (
                site(r#", "relay": ["10.0.0.1"]"#),
                "parameter 'sites[1].relay': unknown parameter (expected one of: name, \
                 subnet-ids, relays, prefixes, servers, families, models, option-66-name)",
            ),
            (
                r#"{"servers": ["10.0.0.1"], "option-66": {"enable": true}}"#.into(),
                "parameter 'option-66.enable': unknown parameter (expected one of: enabled, name)",
            ),
            (
                r#"{"servers": ["10.0.0.1"], "patterns": [{"regex": "x", "family": "f", "x": 1}]}"#.into(),
                "parameter 'patterns[0].x': unknown parameter (expected one of: regex, family)",
            ),
            (
                r#"{"servers": ["10.0.0.1"], "patterns": [{"regex": "(abc", "family": "f"}]}"#.into(),
                r#"parameter 'patterns[0].regex': invalid regex: "(abc": unclosed group"#,
            ),
            (
                r#"{"servers": ["10.0.0.1"], "patterns": [{"regex": "^Acme"}]}"#.into(),
                "parameter 'patterns[0].family': missing (every pattern needs a family)",
            ),
            (
                r#"{"servers": ["10.0.0.1"], "patterns": [{"family": "acme"}]}"#.into(),
                "parameter 'patterns[0].regex': missing (every pattern needs a regex)",
            ),
            (
                r#"{"servers": ["10.0.0.1"], "patterns": [{"regex": "x", "family": "a b"}]}"#.into(),
                r#"parameter 'patterns[0].family': not a family name: "a b" (1 to 64 of A-Z a-z 0-9 . _ -)"#,
            ),
            (
                r#"{"families": {"77yy": ["10.0.0.1"]}}"#.into(),
                r#"parameter 'families.77yy': unknown family: "77yy" (families are NNxx, generic, wireless, spa, ata or the family of a pattern)"#,
            ),
            (
                r#"{"servers": ["10.0.0.1"], "disabled-families": ["spa", "acme"]}"#.into(),
                r#"parameter 'disabled-families[1]': unknown family: "acme" (families are NNxx, generic, wireless, spa, ata or the family of a pattern)"#,
            ),
            (
                r#"{"families": {"88xx": ["10.0.0.1"], "88XX": ["10.0.0.2"]}}"#.into(),
                r#"parameter 'families.88xx': duplicate family: "88xx""#,
            ),
            (
                r#"{"models": {"7941G": ["10.0.0.1"], "7941g": ["10.0.0.2"]}}"#.into(),
                r#"parameter 'models.7941g': duplicate model (models compare case-insensitively): "7941g""#,
            ),
            (
                r#"{"models": {"CP-7941G": ["10.0.0.1"]}}"#.into(),
                r#"parameter 'models.CP-7941G': write the model without "CP-": "CP-7941G" (the hook compares "7941G")"#,
            ),
            (
                r#"{"models": {"79 41": ["10.0.0.1"]}}"#.into(),
                r#"parameter 'models.79 41': not a model name: "79 41" (models are made of A-Z a-z 0-9 . _ -)"#,
            ),
            (
                site(r#", "prefixes": ["10.0.0.0/33"]"#),
                r#"parameter 'sites[1].prefixes[0]': not an IPv4 prefix: "10.0.0.0/33""#,
            ),
            (
                site(r#", "prefixes": ["10.0.0.1/24"]"#),
                r#"parameter 'sites[1].prefixes[0]': host bits set in prefix: "10.0.0.1/24" (did you mean "10.0.0.0/24"?)"#,
            ),
            (
                site(r#", "relays": ["10.0.0.0/8", "garbage"]"#),
                r#"parameter 'sites[1].relays[1]': not an IPv4 prefix: "garbage""#,
            ),
            (
                site(r#", "relays": ["10.0.0.0/"]"#),
                r#"parameter 'sites[1].relays[0]': not an IPv4 prefix: "10.0.0.0/""#,
            ),
            (
                site(r#", "subnet-ids": [0]"#),
                "parameter 'sites[1].subnet-ids[0]': not a subnet id (1 to 4294967295): 0",
            ),
            (
                site(r#", "subnet-ids": ["10"]"#),
                r#"parameter 'sites[1].subnet-ids[0]': not a subnet id (1 to 4294967295): "10""#,
            ),
            (
                r#"{"sites": [{"name": "", "subnet-ids": [1], "servers": ["10.0.0.1"]}]}"#.into(),
                "parameter 'sites[0].name': empty site name",
            ),
            (
                r#"{"sites": [{"subnet-ids": [1], "servers": ["10.0.0.1"]}]}"#.into(),
                "parameter 'sites[0].name': missing (every site needs a name)",
            ),
            (
                r#"{"sites": [{"name": "a", "subnet-ids": [1], "servers": ["10.0.0.1"]},
                              {"name": "a", "subnet-ids": [2], "servers": ["10.0.0.2"]}]}"#.into(),
                r#"parameter 'sites[1].name': duplicate site name: "a""#,
            ),
            (
                r#"{"sites": [{"name": "a", "servers": ["10.0.0.1"]}]}"#.into(),
                r#"parameter 'sites[0]': site "a" has no subnet-ids, relays or prefixes, so it can never match"#,
            ),
            (
                r#"{"sites": [{"name": "a", "subnet-ids": [], "relays": [], "servers": ["10.0.0.1"]}]}"#.into(),
                r#"parameter 'sites[0]': site "a" has no subnet-ids, relays or prefixes, so it can never match"#,
            ),
            (
                r#"{"servers": ["10.0.0.1"], "sites": [{"name": "a", "subnet-ids": [1]}]}"#.into(),
                r#"parameter 'sites[0]': site "a" has no servers, families or models"#,
            ),
            (
                r#"{"option-66": {"enabled": true}}"#.into(),
                r#"parameters: no server list: set "servers", "families", "models" or a site's lists"#,
            ),
            (
                "{}".into(),
                r#"parameters: no server list: set "servers", "families", "models" or a site's lists"#,
            ),
            (
                "null".into(),
                r#"parameters: no server list: set "servers", "families", "models" or a site's lists"#,
            ),
            (
                "[1]".into(),
                "parameters: expected an object, got [1]",
            ),
            (
                r#"{"servers": ["10.0.0.1"], "option-66": {"name": 5}}"#.into(),
                "parameter 'option-66.name': expected a string, got 5",
            ),
            (
                r#"{"servers": ["10.0.0.1"], "option-66": {"name": ""}}"#.into(),
                "parameter 'option-66.name': empty name",
            ),
            (
                r#"{"servers": ["10.0.0.1"], "option-66": {"name": "tftp\u00e9.example"}}"#.into(),
                r#"parameter 'option-66.name': not printable ASCII: "tftpé.example""#,
            ),
            (
                r#"{"servers": ["10.0.0.1"], "option-66": {"enabled": "yes"}}"#.into(),
                r#"parameter 'option-66.enabled': expected true or false, got "yes""#,
            ),
            (
                r#"{"servers": ["10.0.0.1"], "option-66": true}"#.into(),
                "parameter 'option-66': expected an object, got true",
            ),
            (
                site(r#", "option-66-name": ["x"]"#),
                r#"parameter 'sites[1].option-66-name': expected a string, got ["x"]"#,
            ),
            (
                r#"{"servers": ["10.0.0.1"], "sites": {}}"#.into(),
                "parameter 'sites': expected a list of sites, got {}",
            ),
            (
                r#"{"servers": ["10.0.0.1"], "disabled-families": "spa"}"#.into(),
                r#"parameter 'disabled-families': expected a list of family names, got "spa""#,
            ),
            (
                r#"{"servers": ["10.0.0.1"], "sites": [5]}"#.into(),
                "parameter 'sites[0]': expected an object, got 5",
            ),
        ];
        for (json, want) in cases {
            assert_eq!(fails(&json), want, "for {json}");
        }
    }

    #[test]
    fn too_many_and_too_long() {
        let list: Vec<String> = (1..=64).map(|i| format!("\"10.0.1.{i}\"")).collect();
        let json = format!(
            r#"{{"sites": [{{"name": "a", "relays": ["10.9.0.1"], "servers": [{}]}}]}}"#,
            list.join(",")
        );
        assert_eq!(
            fails(&json),
            "parameter 'sites[0].servers': too many servers: 64 (option 150 holds at most 63)"
        );
        let json = format!(r#"{{"servers": [{}]}}"#, list[..63].join(","));
        assert_eq!(parse(&json).unwrap().lists.servers.unwrap().len(), 63);

        let long = "a".repeat(256);
        let json = format!(r#"{{"servers": ["10.0.0.1"], "option-66": {{"name": "{long}"}}}}"#);
        assert_eq!(
            fails(&json),
            "parameter 'option-66.name': name too long: 256 bytes (at most 255)"
        );
        let json = format!(
            r#"{{"servers": ["10.0.0.1"], "option-66": {{"name": "{}"}}}}"#,
            &long[1..]
        );
        assert!(parse(&json).is_ok());
    }

    #[test]
    fn invalid_json_and_value_truncation() {
        assert!(fails("{").starts_with("parameters: not valid JSON: "));
        let long = "x".repeat(500);
        let msg = fails(&format!(r#"{{"servers": ["{long}"]}}"#));
        assert!(msg.len() < 200 && msg.ends_with("..."), "{msg}");
    }

    #[test]
    fn pattern_families_are_known_families() {
        let c = parse(
            r#"{"patterns": [{"regex": "^Acme", "family": "Acme"}],
                "families": {"ACME": ["10.0.0.1"]}, "disabled-families": ["acme"]}"#,
        )
        .unwrap();
        // Canonical spelling is the pattern's.
        assert_eq!(c.lists.families[0].0, "Acme");
        assert_eq!(c.disabled_families, ["Acme"]);
    }

    #[test]
    fn prefixes() {
        let p = Prefix::parse("10.3.0.0/24").unwrap();
        assert!(p.contains(ip("10.3.0.255")) && !p.contains(ip("10.3.1.0")));
        let all = Prefix::parse("0.0.0.0/0").unwrap();
        assert!(all.contains(ip("255.255.255.255")));
        let host = Prefix::parse("10.2.0.1").unwrap();
        assert_eq!(host.len, 32);
        assert!(host.contains(ip("10.2.0.1")) && !host.contains(ip("10.2.0.2")));
        for bad in [
            "10.0.0.0/+8",
            "10.0.0.0/-1",
            "10.0.0/8",
            "/8",
            "10.0.0.0/8/8",
            "",
        ] {
            assert!(Prefix::parse(bad).is_err(), "{bad}");
        }
    }
}
