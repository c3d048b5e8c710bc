//! Which server list a Cisco client gets: most specific wins.
//!
//! Site: matched by subnet id, beats matched by relay (giaddr; exact address or longest
//! containing prefix), beats matched by the client's address prefix; a longer prefix beats a
//! shorter one, ties go to the site listed first. Within the site: model > family > servers;
//! if the site has none of these for the client, the global lists in the same order.
//! Every list is encoded once at build time, so resolving only returns references and never
//! allocates.

#![forbid(unsafe_code)]

use std::fmt;
use std::net::Ipv4Addr;

use crate::config::{ConfigError, HookConfig, Prefix, ServerLists};
use crate::encoding;
use crate::matching::{FamilyId, Matcher};

/// A resolved list with its wire encodings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerList {
    /// Position in [`Policy::lists`]: lets the FFI edge keep one prebuilt Kea option per list.
    pub id: usize,
    pub servers: Vec<Ipv4Addr>,
    /// Option 150 payload (4 bytes a server).
    pub option150: Vec<u8>,
    /// Option 66 payload when option 66 is enabled.
    pub option66: Option<Vec<u8>>,
}

impl ServerList {
    fn new(servers: &[Ipv4Addr], option66: Option<&str>, path: &str) -> Result<Self, ConfigError> {
        let option150 = encoding::option150(servers).map_err(|e| ConfigError {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        let option66 = option66.map(|name| match name {
            "" => encoding::option66(&servers[0].to_string()),
            n => encoding::option66(n),
        });
        Ok(ServerList {
            id: 0, // numbered by Policy::build
            servers: servers.to_vec(),
            option150,
            option66,
        })
    }
}

#[derive(Clone, Debug, Default)]
struct Lists {
    servers: Option<ServerList>,
    families: Vec<(FamilyId, Box<str>, ServerList)>,
    models: Vec<(Box<str>, ServerList)>,
}

impl Lists {
    fn all_mut(&mut self) -> impl Iterator<Item = &mut ServerList> {
        self.servers
            .iter_mut()
            .chain(self.families.iter_mut().map(|(_, _, l)| l))
            .chain(self.models.iter_mut().map(|(_, l)| l))
    }

    fn all(&self) -> impl Iterator<Item = &ServerList> {
        self.servers
            .iter()
            .chain(self.families.iter().map(|(_, _, l)| l))
            .chain(self.models.iter().map(|(_, l)| l))
    }

    /// `option66`: `None` = option 66 off; `Some("")` = first server as text; else the name.
    fn build(
        cfg: &ServerLists,
        matcher: &Matcher,
        option66: Option<&str>,
        path: &str,
    ) -> Result<Self, ConfigError> {
        let mut out = Lists::default();
        if let Some(s) = &cfg.servers {
            out.servers = Some(ServerList::new(s, option66, &join(path, "servers"))?);
        }
        for (name, list) in &cfg.families {
            let p = join(path, &format!("families.{name}"));
            let id = matcher.family_id(name).ok_or_else(|| ConfigError {
                path: p.clone(),
                message: format!("unknown family: \"{name}\""),
            })?;
            let list = ServerList::new(list, option66, &p)?;
            out.families
                .push((id, matcher.family_name(id).into(), list));
        }
        for (model, list) in &cfg.models {
            let p = join(path, &format!("models.{model}"));
            out.models
                .push((model.as_str().into(), ServerList::new(list, option66, &p)?));
        }
        Ok(out)
    }

    fn find<'a>(
        &'a self,
        model: Option<&str>,
        family: FamilyId,
    ) -> Option<(&'a ServerList, Via<'a>)> {
        if let Some(m) = model {
            if let Some((k, l)) = self.models.iter().find(|(k, _)| k.eq_ignore_ascii_case(m)) {
                return Some((l, Via::Model(k)));
            }
        }
        if let Some((_, n, l)) = self.families.iter().find(|(id, _, _)| *id == family) {
            return Some((l, Via::Family(n)));
        }
        self.servers.as_ref().map(|l| (l, Via::Servers))
    }
}

fn join(path: &str, k: &str) -> String {
    if path.is_empty() {
        k.to_string()
    } else {
        format!("{path}.{k}")
    }
}

#[derive(Clone, Debug)]
pub struct Site {
    pub name: String,
    subnet_ids: Vec<u32>,
    relays: Vec<Prefix>,
    prefixes: Vec<Prefix>,
    lists: Lists,
}

/// How strongly a site matches; compared lexicographically (class, prefix length).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Score(u8, u8);

fn longest(prefixes: &[Prefix], ip: Option<Ipv4Addr>) -> Option<u8> {
    let ip = ip?;
    prefixes
        .iter()
        .filter(|p| p.contains(ip))
        .map(|p| p.len)
        .max()
}

impl Site {
    fn score(&self, at: &Location) -> Option<Score> {
        if at.subnet_id.is_some_and(|id| self.subnet_ids.contains(&id)) {
            return Some(Score(3, 0));
        }
        if let Some(len) = longest(&self.relays, at.relay) {
            return Some(Score(2, len));
        }
        longest(&self.prefixes, at.client_addr).map(|len| Score(1, len))
    }
}

/// Where a request comes from. Callers pass `None` for 0.0.0.0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Location {
    pub subnet_id: Option<u32>,
    /// The relay agent address (giaddr).
    pub relay: Option<Ipv4Addr>,
    /// The client's address (yiaddr, else ciaddr).
    pub client_addr: Option<Ipv4Addr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope<'a> {
    Site(&'a str),
    Global,
}

/// Which list of a scope won.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via<'a> {
    /// The model key as configured.
    Model(&'a str),
    Family(&'a str),
    Servers,
}

/// The rule that chose a list, e.g. `site branch-a, model 7941G` or `global, servers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule<'a> {
    pub scope: Scope<'a>,
    pub via: Via<'a>,
}

impl fmt::Display for Rule<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scope {
            Scope::Site(s) => write!(f, "site {s}, ")?,
            Scope::Global => write!(f, "global, ")?,
        }
        match self.via {
            Via::Model(m) => write!(f, "model {m}"),
            Via::Family(n) => write!(f, "family {n}"),
            Via::Servers => write!(f, "servers"),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Resolved<'a> {
    pub list: &'a ServerList,
    pub rule: Rule<'a>,
}

#[derive(Clone, Debug, Default)]
pub struct Policy {
    sites: Vec<Site>,
    global: Lists,
}

impl Policy {
    /// Encodes every list of a validated configuration. Family names resolve through
    /// `matcher`, which must have been built from the same configuration.
    pub fn build(cfg: &HookConfig, matcher: &Matcher) -> Result<Policy, ConfigError> {
        let o66 = &cfg.option66;
        let global_name = o66.enabled.then(|| o66.name.as_deref().unwrap_or(""));
        let global = Lists::build(&cfg.lists, matcher, global_name, "")?;
        let mut sites = Vec::with_capacity(cfg.sites.len());
        for (i, s) in cfg.sites.iter().enumerate() {
            let name = global_name.map(|g| s.option66_name.as_deref().unwrap_or(g));
            sites.push(Site {
                name: s.name.clone(),
                subnet_ids: s.subnet_ids.clone(),
                relays: s.relays.clone(),
                prefixes: s.prefixes.clone(),
                lists: Lists::build(&s.lists, matcher, name, &format!("sites[{i}]"))?,
            });
        }
        let mut policy = Policy { sites, global };
        let lists = policy
            .global
            .all_mut()
            .chain(policy.sites.iter_mut().flat_map(|s| s.lists.all_mut()));
        for (id, list) in lists.enumerate() {
            list.id = id;
        }
        Ok(policy)
    }

    /// Every list, in `id` order (global first, then each site's).
    pub fn lists(&self) -> impl Iterator<Item = &ServerList> {
        self.global
            .all()
            .chain(self.sites.iter().flat_map(|s| s.lists.all()))
    }

    pub fn sites(&self) -> &[Site] {
        &self.sites
    }

    /// The most specific matching site, if any.
    pub fn select_site(&self, at: &Location) -> Option<&Site> {
        let mut best: Option<(Score, &Site)> = None;
        for site in &self.sites {
            if let Some(score) = site.score(at) {
                // Strictly greater: on a tie the earlier site stays.
                if !matches!(best, Some((b, _)) if b >= score) {
                    best = Some((score, site));
                }
            }
        }
        best.map(|(_, s)| s)
    }

    /// The list for a client, or `None` when nothing applies (the client is left alone).
    pub fn resolve(
        &self,
        model: Option<&str>,
        family: FamilyId,
        at: &Location,
    ) -> Option<Resolved<'_>> {
        if let Some(site) = self.select_site(at) {
            if let Some((list, via)) = site.lists.find(model, family) {
                return Some(Resolved {
                    list,
                    rule: Rule {
                        scope: Scope::Site(&site.name),
                        via,
                    },
                });
            }
        }
        self.global.find(model, family).map(|(list, via)| Resolved {
            list,
            rule: Rule {
                scope: Scope::Global,
                via,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn policy(json: &str) -> (Policy, Matcher) {
        let cfg = config::parse(json).unwrap();
        let m = Matcher::new(&cfg.patterns, &cfg.disabled_families).unwrap();
        (Policy::build(&cfg, &m).unwrap(), m)
    }

    fn at(subnet: Option<u32>, relay: Option<&str>, client: Option<&str>) -> Location {
        Location {
            subnet_id: subnet,
            relay: relay.map(ip),
            client_addr: client.map(ip),
        }
    }

    /// (rule text, first server) or "none".
    fn resolve(p: &Policy, model: Option<&str>, family: FamilyId, loc: Location) -> String {
        match p.resolve(model, family, &loc) {
            Some(r) => format!("{} -> {}", r.rule, r.list.servers[0]),
            None => "none".into(),
        }
    }

    const F79: FamilyId = FamilyId::numeric(79);
    const F88: FamilyId = FamilyId::numeric(88);

    const SITES: &str = r#"{
        "servers": ["10.0.0.1"],
        "sites": [
            {"name": "by-prefix-16", "prefixes": ["10.2.0.0/16"], "servers": ["10.9.0.16"]},
            {"name": "by-prefix-24", "prefixes": ["10.2.3.0/24"], "servers": ["10.9.0.24"]},
            {"name": "by-relay-net", "relays": ["10.5.0.0/16"], "servers": ["10.9.1.16"]},
            {"name": "by-relay", "relays": ["10.5.0.1"], "servers": ["10.9.1.32"]},
            {"name": "by-subnet", "subnet-ids": [10], "servers": ["10.9.2.1"]},
            {"name": "by-subnet-too", "subnet-ids": [10, 11], "servers": ["10.9.2.2"]},
            {"name": "tie-a", "prefixes": ["10.7.0.0/16"], "servers": ["10.9.3.1"]},
            {"name": "tie-b", "prefixes": ["10.7.0.0/16"], "servers": ["10.9.3.2"]}
        ]}"#;

    #[test]
    fn site_precedence() {
        let (p, _) = policy(SITES);
        let r = |s, g, c| resolve(&p, None, F79, at(s, g, c));
        assert_eq!(r(None, None, None), "global, servers -> 10.0.0.1");
        assert_eq!(
            r(None, None, Some("10.2.9.9")),
            "site by-prefix-16, servers -> 10.9.0.16"
        );
        // Longer prefix beats shorter, whatever the order.
        assert_eq!(
            r(None, None, Some("10.2.3.4")),
            "site by-prefix-24, servers -> 10.9.0.24"
        );
        // Relay beats client prefix.
        assert_eq!(
            r(None, Some("10.5.7.7"), Some("10.2.3.4")),
            "site by-relay-net, servers -> 10.9.1.16"
        );
        // Exact relay address beats a relay prefix.
        assert_eq!(
            r(None, Some("10.5.0.1"), Some("10.2.3.4")),
            "site by-relay, servers -> 10.9.1.32"
        );
        // Subnet id beats relay and prefix; ties go to the first site listed.
        assert_eq!(
            r(Some(10), Some("10.5.0.1"), Some("10.2.3.4")),
            "site by-subnet, servers -> 10.9.2.1"
        );
        assert_eq!(
            r(Some(11), None, None),
            "site by-subnet-too, servers -> 10.9.2.2"
        );
        assert_eq!(
            r(Some(12), None, Some("10.7.1.1")),
            "site tie-a, servers -> 10.9.3.1"
        );
        // Unmatched subnet and relay fall back to the client prefix.
        assert_eq!(
            r(Some(99), Some("10.6.0.1"), Some("10.2.3.4")),
            "site by-prefix-24, servers -> 10.9.0.24"
        );
        assert_eq!(
            p.select_site(&at(Some(99), None, Some("192.0.2.1")))
                .map(|s| &*s.name),
            None
        );
    }

    const LISTS: &str = r#"{
        "servers": ["10.0.0.1"],
        "families": {"79xx": ["10.0.0.79"], "acme": ["10.0.0.99"]},
        "models": {"7941G": ["10.0.0.41"]},
        "patterns": [{"regex": "^Acme", "family": "acme"}],
        "sites": [
            {"name": "full", "subnet-ids": [1], "servers": ["10.1.0.1"],
             "families": {"79xx": ["10.1.0.79"]}, "models": {"7941g": ["10.1.0.41"]}},
            {"name": "family-only", "subnet-ids": [2], "families": {"88xx": ["10.2.0.88"]}},
            {"name": "model-only", "subnet-ids": [3], "models": {"8841": ["10.3.0.41"]}}
        ]}"#;

    #[test]
    fn list_precedence_and_fall_through() {
        let (p, m) = policy(LISTS);
        let r = |model, fam, subnet| resolve(&p, model, fam, at(subnet, None, None));
        let s = |subnet| Some(subnet);
        // Site: model > family > servers; model keys compare case-insensitively.
        assert_eq!(
            r(Some("7941G"), F79, s(1)),
            "site full, model 7941g -> 10.1.0.41"
        );
        assert_eq!(
            r(Some("7961G"), F79, s(1)),
            "site full, family 79xx -> 10.1.0.79"
        );
        assert_eq!(r(Some("8841"), F88, s(1)), "site full, servers -> 10.1.0.1");
        assert_eq!(
            r(None, FamilyId::GENERIC, s(1)),
            "site full, servers -> 10.1.0.1"
        );
        // A site with nothing for this client falls through to global.
        assert_eq!(
            r(Some("8845"), F88, s(2)),
            "site family-only, family 88xx -> 10.2.0.88"
        );
        assert_eq!(
            r(Some("7941g"), F79, s(2)),
            "global, model 7941G -> 10.0.0.41"
        );
        assert_eq!(
            r(Some("7961G"), F79, s(2)),
            "global, family 79xx -> 10.0.0.79"
        );
        assert_eq!(
            r(Some("6901"), FamilyId::numeric(69), s(2)),
            "global, servers -> 10.0.0.1"
        );
        assert_eq!(
            r(Some("8841"), F88, s(3)),
            "site model-only, model 8841 -> 10.3.0.41"
        );
        assert_eq!(r(Some("8851"), F88, s(3)), "global, servers -> 10.0.0.1");
        // Global without a site.
        let acme = m.family_id("acme").unwrap();
        assert_eq!(
            r(Some("X1"), acme, None),
            "global, family acme -> 10.0.0.99"
        );
        assert_eq!(
            r(Some("7941G-GE"), F79, None),
            "global, family 79xx -> 10.0.0.79"
        );
    }

    #[test]
    fn no_policy() {
        let (p, _) = policy(
            r#"{"families": {"79xx": ["10.0.0.79"]},
                "sites": [{"name": "a", "subnet-ids": [1], "models": {"8841": ["10.1.0.1"]}}]}"#,
        );
        assert_eq!(
            resolve(&p, Some("8845"), F88, at(Some(1), None, None)),
            "none"
        );
        assert_eq!(
            resolve(&p, None, FamilyId::GENERIC, at(None, None, None)),
            "none"
        );
        assert_eq!(
            resolve(&p, Some("8841"), F88, at(Some(1), None, None)),
            "site a, model 8841 -> 10.1.0.1"
        );
    }

    #[test]
    fn lists_are_numbered_in_the_order_lists_gives() {
        let cfg = crate::config::parse(
            r#"{"servers": ["10.0.0.1"], "families": {"88xx": ["10.0.0.2"]},
                "sites": [{"name": "a", "relays": ["10.9.0.1"], "servers": ["10.0.0.3"],
                           "models": {"7941G": ["10.0.0.4"]}}]}"#,
        )
        .unwrap();
        let matcher = Matcher::new(&cfg.patterns, &cfg.disabled_families).unwrap();
        let p = Policy::build(&cfg, &matcher).unwrap();
        let ids: Vec<usize> = p.lists().map(|l| l.id).collect();
        assert_eq!(ids, [0, 1, 2, 3]);
        let firsts: Vec<u8> = p.lists().map(|l| l.servers[0].octets()[3]).collect();
        assert_eq!(firsts, [1, 2, 3, 4]);
    }

    #[test]
    fn encodings_and_option66() {
        let (p, _) = policy(
            r#"{"servers": ["10.0.0.10", "10.0.0.11"], "option-66": {"enabled": true},
                "sites": [{"name": "a", "subnet-ids": [1], "servers": ["10.1.0.1"],
                           "option-66-name": "tftp-a.example.com"},
                          {"name": "b", "subnet-ids": [2], "servers": ["10.2.0.1", "10.2.0.2"]}]}"#,
        );
        let g = p.resolve(None, F79, &Location::default()).unwrap().list;
        assert_eq!(g.option150, [10, 0, 0, 10, 10, 0, 0, 11]);
        assert_eq!(g.option66.as_deref(), Some(&b"10.0.0.10"[..]));
        let a = p.resolve(None, F79, &at(Some(1), None, None)).unwrap().list;
        assert_eq!(a.option66.as_deref(), Some(&b"tftp-a.example.com"[..]));
        let b = p.resolve(None, F79, &at(Some(2), None, None)).unwrap().list;
        assert_eq!(b.option66.as_deref(), Some(&b"10.2.0.1"[..]));
        assert_eq!(crate::encoding::hex(&b.option150), "0a0200010a020002");

        let (p, _) =
            policy(r#"{"servers": ["10.0.0.10"], "option-66": {"name": "tftp.example.com"}}"#);
        let g = p.resolve(None, F79, &Location::default()).unwrap().list;
        assert_eq!(g.option66.as_deref(), Some(&b"tftp.example.com"[..]));
        let (p, _) = policy(
            r#"{"servers": ["10.0.0.10"], "option-66": {"enabled": false, "name": "x"},
                "sites": [{"name": "a", "subnet-ids": [1], "servers": ["10.1.0.1"], "option-66-name": "y"}]}"#,
        );
        assert_eq!(
            p.resolve(None, F79, &Location::default())
                .unwrap()
                .list
                .option66,
            None
        );
        assert_eq!(
            p.resolve(None, F79, &at(Some(1), None, None))
                .unwrap()
                .list
                .option66,
            None
        );
    }
}
