//! The one object the FFI edge holds: configuration, matcher and policy together.
//!
//! `decide` is the per-packet path: allocation-free (unless user patterns are configured),
//! no locks, borrows everything it returns. `Engine` is `Send + Sync`, so Kea's packet threads
//! can share one instance.

#![forbid(unsafe_code)]

use std::net::Ipv4Addr;

use serde_json::{json, Map, Value};

use crate::config::{self, ConfigError, HookConfig};
use crate::encoding;
use crate::matching::{FamilyId, Kind, Match, Matcher};
use crate::policy::{Location, Policy};

pub use crate::policy::{Rule, Scope, Via};

/// What the hook knows about one request. The caller passes `None` for 0.0.0.0 addresses.
#[derive(Clone, Copy, Debug, Default)]
pub struct Request<'r> {
    /// Option 60 as received (Kea strips the trailing NUL; more are tolerated).
    pub vendor_class: Option<&'r [u8]>,
    /// Subnet Kea selected for the request.
    pub subnet_id: Option<u32>,
    pub giaddr: Option<Ipv4Addr>,
    /// yiaddr of the response, else ciaddr.
    pub client_addr: Option<Ipv4Addr>,
}

/// The lists to send to one client; everything borrows the engine or the request.
#[derive(Clone, Copy, Debug)]
pub struct Answer<'a> {
    pub family: FamilyId,
    pub kind: Kind,
    /// Model as sent by the client, borrowed from the request's vendor class.
    pub model: Option<&'a str>,
    /// Which of [`Engine::lists`] this is.
    pub list_id: usize,
    pub servers: &'a [Ipv4Addr],
    /// Option 150 payload.
    pub option150: &'a [u8],
    /// Option 66 payload, when option 66 is enabled.
    pub option66: Option<&'a [u8]>,
    pub rule: Rule<'a>,
}

#[derive(Clone, Copy, Debug)]
pub enum Decision<'a> {
    /// Not a Cisco device (or no option 60): leave the response alone, count nothing.
    NotCisco,
    /// A Cisco device whose family is in `disabled-families`.
    FamilyDisabled {
        family: FamilyId,
    },
    /// A Cisco device no list applies to.
    NoPolicy {
        family: FamilyId,
    },
    Send(Answer<'a>),
}

impl Decision<'_> {
    /// `not-cisco`, `family-disabled`, `no-policy` or `send`.
    pub fn reason(&self) -> &'static str {
        match self {
            Decision::NotCisco => "not-cisco",
            Decision::FamilyDisabled { .. } => "family-disabled",
            Decision::NoPolicy { .. } => "no-policy",
            Decision::Send(_) => "send",
        }
    }
}

#[derive(Debug)]
pub struct Engine {
    config: HookConfig,
    matcher: Matcher,
    policy: Policy,
}

const DRY_RUN_ARGS: &[&str] = &[
    "vendor-class",
    "vendor-class-hex",
    "subnet-id",
    "relay",
    "client-address",
];

fn arg_err(name: &str, msg: impl std::fmt::Display) -> String {
    format!("argument '{name}': {msg}")
}

fn dry_run_addr(args: &Map<String, Value>, name: &str) -> Result<Option<Ipv4Addr>, String> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let a: Ipv4Addr = v
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| arg_err(name, format!("not an IPv4 address: {v}")))?;
            // Same convention as the FFI edge: 0.0.0.0 means absent.
            Ok((!a.is_unspecified()).then_some(a))
        }
    }
}

impl Engine {
    /// Builds the engine from the hook's parameters as JSON text.
    pub fn from_json(params_json: &str) -> Result<Engine, ConfigError> {
        Self::from_config(config::parse(params_json)?)
    }

    pub fn from_config(config: HookConfig) -> Result<Engine, ConfigError> {
        let matcher =
            Matcher::new(&config.patterns, &config.disabled_families).map_err(|name| {
                ConfigError {
                    path: "disabled-families".into(),
                    message: format!("unknown family: \"{name}\""),
                }
            })?;
        let policy = Policy::build(&config, &matcher)?;
        Ok(Engine {
            config,
            matcher,
            policy,
        })
    }

    /// The per-packet decision. The answer's model borrows the request's vendor class.
    pub fn decide<'a>(&'a self, req: &Request<'a>) -> Decision<'a> {
        let phone = match req.vendor_class.map(|vc| self.matcher.classify(vc)) {
            None | Some(Match::NotCisco) => return Decision::NotCisco,
            Some(Match::Disabled(p)) => {
                return Decision::FamilyDisabled { family: p.family };
            }
            Some(Match::Phone(p)) => p,
        };
        let at = Location {
            subnet_id: req.subnet_id,
            relay: req.giaddr,
            client_addr: req.client_addr,
        };
        match self.policy.resolve(phone.model, phone.family, &at) {
            None => Decision::NoPolicy {
                family: phone.family,
            },
            Some(r) => Decision::Send(Answer {
                family: phone.family,
                kind: phone.kind,
                model: phone.model,
                list_id: r.list.id,
                servers: &r.list.servers,
                option150: &r.list.option150,
                option66: r.list.option66.as_deref(),
                rule: r.rule,
            }),
        }
    }

    /// Whether any site matches by subnet id (else the edge need not note the subnet).
    /// Every server list, in `list_id` order.
    pub fn lists(&self) -> impl Iterator<Item = &crate::policy::ServerList> {
        self.policy.lists()
    }

    pub fn uses_subnet_ids(&self) -> bool {
        self.config.sites.iter().any(|s| !s.subnet_ids.is_empty())
    }

    /// Whether any site matches by relay or client prefix (else the edge need not read the
    /// packet's addresses: `decide` never looks at them).
    pub fn uses_addresses(&self) -> bool {
        self.config
            .sites
            .iter()
            .any(|s| !s.relays.is_empty() || !s.prefixes.is_empty())
    }

    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    pub fn config(&self) -> &HookConfig {
        &self.config
    }

    pub fn family_name(&self, id: FamilyId) -> &str {
        self.matcher.family_name(id)
    }

    /// Every family (built-in, then pattern families), e.g. to pre-create statistics.
    pub fn families(&self) -> impl Iterator<Item = (FamilyId, &str)> + '_ {
        self.matcher.families()
    }

    /// One line for the load log.
    pub fn summary(&self) -> String {
        let c = &self.config;
        let all_lists = std::iter::once(&c.lists).chain(c.sites.iter().map(|s| &s.lists));
        let (mut family_lists, mut model_lists) = (0, 0);
        let mut servers: Vec<Ipv4Addr> = Vec::new();
        for l in all_lists {
            family_lists += l.families.len();
            model_lists += l.models.len();
            let every = l
                .servers
                .iter()
                .chain(l.families.iter().map(|(_, s)| s))
                .chain(l.models.iter().map(|(_, s)| s));
            for s in every.flatten() {
                if !servers.contains(s) {
                    servers.push(*s);
                }
            }
        }
        let disabled = if c.disabled_families.is_empty() {
            "none".to_string()
        } else {
            c.disabled_families.join(", ")
        };
        let option66 = match (&c.option66.enabled, &c.option66.name) {
            (false, _) => "off".to_string(),
            (true, Some(n)) => format!("on (name {n})"),
            (true, None) => "on (first server)".to_string(),
        };
        format!(
            "{} distinct servers, {} global list{}, {} sites, {} model lists, {} family lists, \
             {} patterns, disabled families: {}, option 66 {}",
            servers.len(),
            usize::from(c.lists.servers.is_some()),
            if c.lists.servers.is_some() { "" } else { "s" },
            c.sites.len(),
            model_lists,
            family_lists,
            c.patterns.len(),
            disabled,
            option66
        )
    }

    /// The normalised configuration, in the parameters' own schema.
    pub fn effective_config(&self) -> Value {
        self.config.to_value()
    }

    /// Control-command dry run: what would a client with these properties get?
    /// Arguments: `vendor-class` (text) or `vendor-class-hex`, optional `subnet-id`, `relay`,
    /// `client-address`.
    pub fn dry_run(&self, args: &Value) -> Result<Value, String> {
        let args = args
            .as_object()
            .ok_or_else(|| format!("arguments: expected an object, got {args}"))?;
        if let Some(k) = args.keys().find(|k| !DRY_RUN_ARGS.contains(&k.as_str())) {
            return Err(arg_err(
                k,
                format!(
                    "unknown argument (expected one of: {})",
                    DRY_RUN_ARGS.join(", ")
                ),
            ));
        }
        let vendor_class: Vec<u8> = match (args.get("vendor-class"), args.get("vendor-class-hex")) {
            (Some(_), Some(_)) => {
                return Err(arg_err(
                    "vendor-class",
                    "give either vendor-class or vendor-class-hex, not both",
                ))
            }
            (None, None) => {
                return Err(arg_err(
                    "vendor-class",
                    "missing (give vendor-class or vendor-class-hex)",
                ))
            }
            (Some(v), None) => v
                .as_str()
                .ok_or_else(|| arg_err("vendor-class", format!("expected a string, got {v}")))?
                .as_bytes()
                .to_vec(),
            (None, Some(v)) => v
                .as_str()
                .and_then(encoding::unhex)
                .ok_or_else(|| arg_err("vendor-class-hex", format!("not hex bytes: {v}")))?,
        };
        if vendor_class.len() > 255 {
            return Err(arg_err(
                if args.contains_key("vendor-class") {
                    "vendor-class"
                } else {
                    "vendor-class-hex"
                },
                format!(
                    "too long: {} bytes (option 60 holds at most 255)",
                    vendor_class.len()
                ),
            ));
        }
        let subnet_id = match args.get("subnet-id") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| arg_err("subnet-id", format!("not a subnet id: {v}")))?,
            ),
        };
        let req = Request {
            vendor_class: Some(&vendor_class),
            subnet_id,
            giaddr: dry_run_addr(args, "relay")?,
            client_addr: dry_run_addr(args, "client-address")?,
        };
        let decision = self.decide(&req);
        Ok(match decision {
            Decision::Send(a) => json!({
                "matched": true,
                "kind": a.kind.as_str(),
                "model": a.model,
                "family": self.family_name(a.family),
                "rule": a.rule.to_string(),
                "servers": a.servers.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                "option-150-hex": encoding::hex(a.option150),
                "option-66": a.option66.map(|b| String::from_utf8_lossy(b).into_owned()),
            }),
            Decision::NotCisco => json!({"matched": false, "reason": "not-cisco"}),
            Decision::FamilyDisabled { family } | Decision::NoPolicy { family } => {
                // Not the hot path: classify again for the extra detail.
                let (kind, model) = match self.matcher.classify(&vendor_class) {
                    Match::Phone(p) | Match::Disabled(p) => (Some(p.kind.as_str()), p.model),
                    Match::NotCisco => (None, None),
                };
                json!({
                    "matched": false,
                    "reason": decision.reason(),
                    "kind": kind,
                    "model": model,
                    "family": self.family_name(family),
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: &str = r#"{
        "servers": ["10.0.0.10", "10.0.0.11"],
        "families": {"88xx": ["10.0.0.20"]},
        "models": {"7941G": ["10.0.0.30"]},
        "disabled-families": ["spa", "ata"],
        "patterns": [{"regex": "^Acme Phone (?P<model>\\S+)", "family": "acme"}],
        "option-66": {"enabled": true, "name": "tftp.example.com"},
        "sites": [{"name": "branch-a", "subnet-ids": [10], "relays": ["10.2.0.1", "10.3.0.0/24"],
                   "prefixes": ["10.2.0.0/16"], "servers": ["10.2.0.5"],
                   "option-66-name": "tftp-a.example.com"},
                  {"name": "branch-b", "relays": ["10.4.0.1"], "models": {"8841": ["10.4.0.5"]}}]
    }"#;

    fn engine() -> Engine {
        Engine::from_json(PARAMS).unwrap()
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn engine_is_shareable_across_threads() {
        fn check<T: Send + Sync>() {}
        check::<Engine>();
    }

    #[test]
    fn decide_send_global_model() {
        let e = engine();
        let vc = b"Cisco Systems, Inc. IP Phone CP-7941G".to_vec();
        let req = Request {
            vendor_class: Some(&vc),
            ..Request::default()
        };
        match e.decide(&req) {
            Decision::Send(a) => {
                assert_eq!(a.model, Some("7941G"));
                assert_eq!(e.family_name(a.family), "79xx");
                assert_eq!(a.kind, Kind::IpPhone);
                assert_eq!(a.servers, [ip("10.0.0.30")]);
                assert_eq!(a.option150, [10, 0, 0, 30]);
                assert_eq!(a.option66, Some(&b"tftp.example.com"[..]));
                assert_eq!(a.rule.to_string(), "global, model 7941G");
            }
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn decide_each_outcome() {
        let e = engine();
        let decide = |vc: &[u8], giaddr: Option<&str>| {
            let req = Request {
                vendor_class: Some(vc),
                subnet_id: None,
                giaddr: giaddr.map(ip),
                client_addr: None,
            };
            let d = e.decide(&req);
            match d {
                Decision::Send(a) => format!("send {} ({})", e.family_name(a.family), a.rule),
                Decision::FamilyDisabled { family } | Decision::NoPolicy { family } => {
                    format!("{} {}", d.reason(), e.family_name(family))
                }
                Decision::NotCisco => "not-cisco".into(),
            }
        };
        assert_eq!(decide(b"MSFT 5.0", None), "not-cisco");
        assert_eq!(decide(b"", None), "not-cisco");
        assert_eq!(decide(b"CISCO SPA122", None), "family-disabled spa");
        assert_eq!(
            decide(b"Cisco Systems, Inc. IP Phone CP-8841", None),
            "send 88xx (global, family 88xx)"
        );
        // branch-b has only a model list: other phones there fall through to global.
        assert_eq!(
            decide(b"Acme Phone X1", Some("10.4.0.1")),
            "send acme (global, servers)"
        );
        let none = Request::default();
        assert!(matches!(e.decide(&none), Decision::NotCisco));

        let e2 = Engine::from_json(r#"{"families": {"79xx": ["10.0.0.1"]}}"#).unwrap();
        let req = Request {
            vendor_class: Some(b"Cisco Systems, Inc."),
            ..Request::default()
        };
        let d = e2.decide(&req);
        assert!(matches!(d, Decision::NoPolicy { family } if family == FamilyId::GENERIC));
        assert_eq!(d.reason(), "no-policy");
    }

    #[test]
    fn model_borrows_request() {
        let e = engine();
        let answer_model = {
            let vc = b"Cisco Systems, Inc. IP Phone CP-8841\0".to_vec();
            let req = Request {
                vendor_class: Some(&vc),
                giaddr: Some(ip("10.4.0.1")),
                ..Request::default()
            };
            match e.decide(&req) {
                Decision::Send(a) => (a.model.map(str::to_string), a.rule.to_string()),
                d => panic!("{d:?}"),
            }
        };
        assert_eq!(
            answer_model,
            (
                Some("8841".to_string()),
                "site branch-b, model 8841".to_string()
            )
        );
    }

    #[test]
    fn dry_run_outputs() {
        let e = engine();
        let out = e
            .dry_run(&json!({
                "vendor-class": "Cisco Systems, Inc. IP Phone CP-7941G",
                "subnet-id": 10, "relay": "10.2.0.1", "client-address": "10.2.3.4"
            }))
            .unwrap();
        assert_eq!(
            out,
            json!({
                "matched": true, "kind": "ip-phone", "model": "7941G", "family": "79xx",
                "rule": "site branch-a, servers", "servers": ["10.2.0.5"],
                "option-150-hex": "0a020005", "option-66": "tftp-a.example.com"
            })
        );
        let out = e
            .dry_run(&json!({"vendor-class": "Cisco Systems, Inc. IP Phone CP-7961G"}))
            .unwrap();
        assert_eq!(out["rule"], "global, servers");
        assert_eq!(out["option-150-hex"], "0a00000a0a00000b");
        assert_eq!(out["servers"], json!(["10.0.0.10", "10.0.0.11"]));
        // Relay prefix match.
        let out = e
            .dry_run(&json!({"vendor-class": "Cisco Systems, Inc. IP Phone CP-7961G", "relay": "10.3.0.9"}))
            .unwrap();
        assert_eq!(out["rule"], "site branch-a, servers");
        // 0.0.0.0 counts as absent.
        let out = e
            .dry_run(&json!({"vendor-class": "Cisco Systems, Inc. IP Phone CP-7961G", "relay": "0.0.0.0"}))
            .unwrap();
        assert_eq!(out["rule"], "global, servers");
        // Hex bytes, including a NUL and non-UTF-8.
        let hex = encoding::hex(b"Cisco Systems, Inc. IP Phone CP-8841\xff\0");
        let out = e.dry_run(&json!({"vendor-class-hex": hex})).unwrap();
        assert_eq!(out["model"], "8841");
        assert_eq!(out["rule"], "global, family 88xx");
        assert_eq!(
            e.dry_run(&json!({"vendor-class": "MSFT 5.0"})).unwrap(),
            json!({"matched": false, "reason": "not-cisco"})
        );
        assert_eq!(
            e.dry_run(&json!({"vendor-class": "CISCO ATA190"})).unwrap(),
            json!({"matched": false, "reason": "family-disabled", "kind": "ata",
                   "model": "ATA190", "family": "ata"})
        );
        let e2 = Engine::from_json(r#"{"families": {"79xx": ["10.0.0.1"]}}"#).unwrap();
        assert_eq!(
            e2.dry_run(&json!({"vendor-class": "Cisco Systems, Inc. IP Phone CP-8841"}))
                .unwrap(),
            json!({"matched": false, "reason": "no-policy", "kind": "ip-phone",
                   "model": "8841", "family": "88xx"})
        );
    }

    #[test]
    fn dry_run_bad_arguments() {
        let e = engine();
        let cases = [
            (json!([1]), "arguments: expected an object, got [1]"),
            (
                json!({}),
                "argument 'vendor-class': missing (give vendor-class or vendor-class-hex)",
            ),
            (
                json!({"vendor-class": 5}),
                "argument 'vendor-class': expected a string, got 5",
            ),
            (
                json!({"vendor-class": "x", "vendor-class-hex": "78"}),
                "argument 'vendor-class': give either vendor-class or vendor-class-hex, not both",
            ),
            (
                json!({"vendor-class-hex": "7"}),
                "argument 'vendor-class-hex': not hex bytes: \"7\"",
            ),
            (
                json!({"vendor-class": "x", "relay": "10.0.0.300"}),
                "argument 'relay': not an IPv4 address: \"10.0.0.300\"",
            ),
            (
                json!({"vendor-class": "x", "client-address": 7}),
                "argument 'client-address': not an IPv4 address: 7",
            ),
            (
                json!({"vendor-class": "x", "subnet-id": -1}),
                "argument 'subnet-id': not a subnet id: -1",
            ),
            (
                json!({"vendor-class": "x", "subnet": 1}),
                "argument 'subnet': unknown argument (expected one of: vendor-class, \
                 vendor-class-hex, subnet-id, relay, client-address)",
            ),
            (
                json!({"vendor-class": "x".repeat(256)}),
                "argument 'vendor-class': too long: 256 bytes (option 60 holds at most 255)",
            ),
        ];
        for (args, want) in cases {
            assert_eq!(e.dry_run(&args).unwrap_err(), want, "{args}");
        }
    }

    #[test]
    fn summary_and_effective_config() {
        let e = engine();
        assert_eq!(
            e.summary(),
            "6 distinct servers, 1 global list, 2 sites, 2 model lists, 1 family lists, \
             1 patterns, disabled families: spa, ata, option 66 on (name tftp.example.com)"
        );
        let v = e.effective_config();
        assert_eq!(v["disabled-families"], json!(["spa", "ata"]));
        assert_eq!(v["sites"][1]["relays"], json!(["10.4.0.1"]));
        assert_eq!(
            Engine::from_config(config::from_value(&v).unwrap())
                .unwrap()
                .effective_config(),
            v
        );
        assert_eq!(
            e.families().count(),
            crate::matching::BUILTIN_FAMILY_COUNT + 1
        );
        assert!(e.uses_subnet_ids());
        let e2 = Engine::from_json(
            r#"{"sites": [{"name": "a", "relays": ["10.0.0.1"], "servers": ["10.0.0.2"]}]}"#,
        )
        .unwrap();
        assert!(!e2.uses_subnet_ids());
        assert!(e2.uses_addresses());
        let by_id = Engine::from_json(
            r#"{"sites": [{"name": "a", "subnet-ids": [7], "servers": ["10.0.0.2"]}]}"#,
        )
        .unwrap();
        assert!(by_id.uses_subnet_ids() && !by_id.uses_addresses());
        let by_prefix = Engine::from_json(
            r#"{"sites": [{"name": "a", "prefixes": ["10.1.0.0/16"], "servers": ["10.0.0.2"]}]}"#,
        )
        .unwrap();
        assert!(by_prefix.uses_addresses());
        assert!(!Engine::from_json(r#"{"servers": ["10.0.0.2"]}"#)
            .unwrap()
            .uses_addresses());
        assert_eq!(
            e.family_name(FamilyId(crate::matching::BUILTIN_FAMILY_COUNT as u16)),
            "acme"
        );
    }

    #[test]
    fn load_errors_surface() {
        let err = Engine::from_json(r#"{"servers": ["10.0.0.300"]}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"parameter 'servers[0]': not an IPv4 address: "10.0.0.300""#
        );
    }
}
