//! Recognising Cisco devices from the bytes of option 60 (vendor class identifier).
//!
//! The built-in catalogue is matched by hand over bytes: this runs inside kea-dhcp4 for every
//! response, so it must not allocate, must not use regex and must never panic, whatever bytes
//! a client sends. User patterns (regex) are only consulted when the configuration has some.

#![forbid(unsafe_code)]

use regex::bytes::Regex;

/// What kind of device a vendor class describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    IpPhone,
    WirelessPhone,
    Ata,
    Spa,
    /// A Cisco device that does not say which model it is (the 6901 sends `Cisco Systems, Inc.`).
    Generic,
    /// Matched by a user pattern.
    Custom,
}

impl Kind {
    /// Stable kebab-case name, used in control command answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::IpPhone => "ip-phone",
            Kind::WirelessPhone => "wireless-phone",
            Kind::Ata => "ata",
            Kind::Spa => "spa",
            Kind::Generic => "generic",
            Kind::Custom => "custom",
        }
    }
}

/// Index into the family table of a [`Matcher`]. Small and `Copy` so counters can be arrays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FamilyId(pub u16);

impl FamilyId {
    pub const GENERIC: FamilyId = FamilyId(0);
    pub const WIRELESS: FamilyId = FamilyId(1);
    pub const SPA: FamilyId = FamilyId(2);
    pub const ATA: FamilyId = FamilyId(3);
    /// First of the 100 numeric families `00xx`..`99xx`.
    const NUMERIC_BASE: u16 = 4;

    /// The numeric family `NNxx` for two digits `nn` (0..=99).
    pub const fn numeric(nn: u8) -> FamilyId {
        FamilyId(Self::NUMERIC_BASE + (nn % 100) as u16)
    }

    /// Position in the family table (for indexing per-family arrays).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Number of built-in families: generic, wireless, spa, ata and `00xx`..`99xx`.
pub const BUILTIN_FAMILY_COUNT: usize = 4 + 100;

const NAMED_BUILTINS: [&str; 4] = ["generic", "wireless", "spa", "ata"];

/// The built-in family a name denotes (ASCII case-insensitive), if any.
pub fn builtin_family_id(name: &str) -> Option<FamilyId> {
    if let Some(i) = NAMED_BUILTINS
        .iter()
        .position(|n| n.eq_ignore_ascii_case(name))
    {
        return Some(FamilyId(i as u16));
    }
    match name.as_bytes() {
        [a, b, x, y]
            if a.is_ascii_digit()
                && b.is_ascii_digit()
                && x.eq_ignore_ascii_case(&b'x')
                && y.eq_ignore_ascii_case(&b'x') =>
        {
            Some(FamilyId::numeric((a - b'0') * 10 + (b - b'0')))
        }
        _ => None,
    }
}

/// A device recognised as Cisco.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Phone<'a> {
    pub kind: Kind,
    /// The model as sent (`7941G`, `SPA504G`), borrowed from the vendor class bytes.
    pub model: Option<&'a str>,
    pub family: FamilyId,
}

/// Result of classifying a vendor class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match<'a> {
    NotCisco,
    /// A Cisco device whose family the configuration switched off.
    Disabled(Phone<'a>),
    Phone(Phone<'a>),
}

/// A user-supplied pattern: tried before the built-in catalogue.
#[derive(Clone, Debug)]
pub struct UserPattern {
    /// Matched against the vendor class with trailing NULs and whitespace removed. An optional
    /// named group `model` supplies the model.
    pub regex: Regex,
    /// Family name; a built-in name (`79xx`) reuses the built-in family.
    pub family: String,
}

#[derive(Clone, Debug)]
struct CompiledPattern {
    regex: Regex,
    has_model: bool,
    family: FamilyId,
}

/// Classifies vendor classes; owns the family table.
#[derive(Clone, Debug)]
pub struct Matcher {
    names: Vec<Box<str>>,
    disabled: Vec<bool>,
    patterns: Vec<CompiledPattern>,
}

impl Default for Matcher {
    fn default() -> Self {
        Matcher::builtin()
    }
}

impl Matcher {
    /// The built-in catalogue alone, nothing disabled.
    pub fn builtin() -> Matcher {
        let mut names: Vec<Box<str>> = NAMED_BUILTINS.iter().map(|n| (*n).into()).collect();
        names.extend((0..100).map(|nn| format!("{nn:02}xx").into_boxed_str()));
        let disabled = vec![false; names.len()];
        Matcher {
            names,
            disabled,
            patterns: Vec::new(),
        }
    }

    /// Built-in catalogue plus user patterns (tried first, in order) and disabled families.
    /// Fails with the offending name when a disabled family is neither built-in nor the family
    /// of a pattern.
    pub fn new<S: AsRef<str>>(patterns: &[UserPattern], disabled: &[S]) -> Result<Matcher, String> {
        let mut m = Matcher::builtin();
        for p in patterns {
            let family = match m.family_id(&p.family) {
                Some(id) => id,
                None => {
                    m.names.push(p.family.as_str().into());
                    m.disabled.push(false);
                    FamilyId((m.names.len() - 1) as u16)
                }
            };
            let has_model = p.regex.capture_names().any(|n| n == Some("model"));
            m.patterns.push(CompiledPattern {
                regex: p.regex.clone(),
                has_model,
                family,
            });
        }
        for name in disabled {
            let name = name.as_ref();
            let id = m.family_id(name).ok_or_else(|| name.to_string())?;
            m.disabled[id.index()] = true;
        }
        Ok(m)
    }

    /// Looks a family up by name (ASCII case-insensitive).
    pub fn family_id(&self, name: &str) -> Option<FamilyId> {
        builtin_family_id(name).or_else(|| {
            self.names[BUILTIN_FAMILY_COUNT..]
                .iter()
                .position(|n| n.eq_ignore_ascii_case(name))
                .map(|i| FamilyId((BUILTIN_FAMILY_COUNT + i) as u16))
        })
    }

    /// Canonical name of a family; `"generic"` for an id this matcher did not hand out.
    pub fn family_name(&self, id: FamilyId) -> &str {
        self.names.get(id.index()).map_or("generic", |n| n)
    }

    /// Every family, built-in first, then pattern families (bounded: 104 + patterns).
    pub fn families(&self) -> impl Iterator<Item = (FamilyId, &str)> + '_ {
        self.names
            .iter()
            .enumerate()
            .map(|(i, n)| (FamilyId(i as u16), &**n))
    }

    /// Number of entries in the family table.
    pub fn family_count(&self) -> usize {
        self.names.len()
    }

    pub fn is_disabled(&self, id: FamilyId) -> bool {
        self.disabled.get(id.index()).copied().unwrap_or(false)
    }

    /// Names of the disabled families, in table order.
    pub fn disabled_families(&self) -> impl Iterator<Item = &str> + '_ {
        self.families()
            .filter(|(id, _)| self.is_disabled(*id))
            .map(|(_, n)| n)
    }

    /// User patterns as (regex source, family name), in order.
    pub fn patterns(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.patterns
            .iter()
            .map(|p| (p.regex.as_str(), self.family_name(p.family)))
    }

    /// Classifies a vendor class. Allocation-free unless user patterns are configured.
    pub fn classify<'a>(&self, vendor_class: &'a [u8]) -> Match<'a> {
        let vc = trim_end(vendor_class);
        let phone = match self.user_match(vc) {
            Some(p) => p,
            None => match builtin(vc) {
                Some(p) => p,
                None => return Match::NotCisco,
            },
        };
        if self.is_disabled(phone.family) {
            Match::Disabled(phone)
        } else {
            Match::Phone(phone)
        }
    }

    fn user_match<'a>(&self, vc: &'a [u8]) -> Option<Phone<'a>> {
        for p in &self.patterns {
            let model = if p.has_model {
                match p.regex.captures(vc) {
                    Some(c) => c.name("model").and_then(|m| ascii_token_str(m.as_bytes())),
                    None => continue,
                }
            } else if p.regex.is_match(vc) {
                None
            } else {
                continue;
            };
            return Some(Phone {
                kind: Kind::Custom,
                model,
                family: p.family,
            });
        }
        None
    }
}

/// Drops trailing NULs and ASCII whitespace (Cisco phones send a NUL; some stacks pad).
fn trim_end(mut b: &[u8]) -> &[u8] {
    while let [rest @ .., last] = b {
        if *last == 0 || last.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    b
}

/// `[A-Za-z0-9._-]`, as a table: one load per byte on the packet path.
const TOKEN_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
        c += 1;
    }
    t
};

fn is_token_byte(c: u8) -> bool {
    TOKEN_BYTES[c as usize]
}

/// The leading ASCII token `[A-Za-z0-9._-]+` of `b` as a `&str`, or `None` if empty.
fn ascii_token_str(b: &[u8]) -> Option<&str> {
    let n = b.iter().position(|c| !is_token_byte(*c)).unwrap_or(b.len());
    // Token bytes are ASCII, so this never fails; no unsafe needed.
    std::str::from_utf8(&b[..n]).ok().filter(|s| !s.is_empty())
}

/// A byte cursor for the hand-written catalogue grammar.
struct Cursor<'a> {
    b: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// Consumes `lit` (lower-case ASCII) case-insensitively.
    fn lit(&mut self, lit: &[u8]) -> bool {
        match self.b.get(..lit.len()) {
            Some(head) if head.eq_ignore_ascii_case(lit) => {
                self.b = &self.b[lit.len()..];
                true
            }
            _ => false,
        }
    }

    /// Consumes one byte if it is `c`.
    fn opt(&mut self, c: u8) {
        if let [first, rest @ ..] = self.b {
            if *first == c {
                self.b = rest;
            }
        }
    }

    /// Consumes spaces and tabs; returns how many.
    fn spaces(&mut self) -> usize {
        let n = self
            .b
            .iter()
            .position(|c| *c != b' ' && *c != b'\t')
            .unwrap_or(self.b.len());
        self.b = &self.b[n..];
        n
    }

    /// Consumes `word` when it is followed by whitespace or the end (a whole word).
    fn word(&mut self, word: &[u8]) -> bool {
        let save = self.b;
        if self.lit(word) && (self.b.is_empty() || self.spaces() > 0) {
            true
        } else {
            self.b = save;
            false
        }
    }

    fn token(&mut self) -> &'a [u8] {
        let n = self
            .b
            .iter()
            .position(|c| !is_token_byte(*c))
            .unwrap_or(self.b.len());
        let (t, rest) = self.b.split_at(n);
        self.b = rest;
        t
    }

    fn at_end(&self) -> bool {
        self.b.is_empty()
    }
}

fn starts_with_ci(b: &[u8], prefix: &[u8]) -> bool {
    b.get(..prefix.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(prefix))
}

/// Family of an IP phone model: its first two digits + `xx`, else `generic`.
fn ip_phone_family(model: &[u8]) -> FamilyId {
    match model {
        [a, b, ..] if a.is_ascii_digit() && b.is_ascii_digit() => {
            FamilyId::numeric((a - b'0') * 10 + (b - b'0'))
        }
        _ => FamilyId::GENERIC,
    }
}

/// How Cisco IP phones write their vendor class, to the byte: one comparison finds them before
/// the general grammar (which gives the same answer, more slowly).
const IP_PHONE_PREFIX: &[u8] = b"Cisco Systems, Inc. IP Phone ";

/// The built-in catalogue (see docs/PARAMETERS.md and reference/cisco-phones.md):
/// `Cisco Systems, Inc.` [`IP Phone` [`CP-`]model | `Wireless Phone` model | anything],
/// `Cisco Systems Inc.` (no comma) likewise, `Cisco SPAnnn`, `Cisco ATAnnn`; any case.
fn builtin(vc: &[u8]) -> Option<Phone<'_>> {
    if let Some(rest) = vc.strip_prefix(IP_PHONE_PREFIX) {
        let mut c = Cursor { b: rest };
        c.spaces();
        return Some(ip_phone(&mut c));
    }
    grammar(vc)
}

/// The catalogue's grammar, for every form.
fn grammar(vc: &[u8]) -> Option<Phone<'_>> {
    let mut c = Cursor { b: vc };
    if !c.lit(b"cisco") || c.spaces() == 0 {
        return None;
    }
    if c.lit(b"systems") {
        c.opt(b',');
        c.spaces();
        if !c.lit(b"inc") {
            return None;
        }
        c.opt(b'.');
        let generic = Phone {
            kind: Kind::Generic,
            model: None,
            family: FamilyId::GENERIC,
        };
        if c.at_end() || c.spaces() == 0 {
            // `Cisco Systems, Inc.` alone, or glued to something we do not know.
            return Some(generic);
        }
        if c.word(b"ip") && c.word(b"phone") {
            return Some(ip_phone(&mut c));
        }
        if c.word(b"wireless") && c.word(b"phone") {
            return Some(Phone {
                kind: Kind::WirelessPhone,
                model: ascii_token_str(c.token()),
                family: FamilyId::WIRELESS,
            });
        }
        return Some(generic);
    }
    let t = c.token();
    let (kind, family) = if starts_with_ci(t, b"spa") {
        (Kind::Spa, FamilyId::SPA)
    } else if starts_with_ci(t, b"ata") {
        (Kind::Ata, FamilyId::ATA)
    } else {
        // Other Cisco gear (access points, switches) is not ours to provision.
        return None;
    };
    Some(Phone {
        kind,
        model: ascii_token_str(t),
        family,
    })
}

/// An IP phone: the cursor is just after `IP Phone` and its spaces, at [`CP-`]model.
fn ip_phone<'a>(c: &mut Cursor<'a>) -> Phone<'a> {
    let mut t = c.token();
    if starts_with_ci(t, b"cp-") {
        t = &t[3..];
    }
    // Still all token bytes (a token minus an ASCII prefix): no need to scan it again.
    let model = std::str::from_utf8(t).ok().filter(|s| !s.is_empty());
    let family = model.map_or(FamilyId::GENERIC, |m| ip_phone_family(m.as_bytes()));
    Phone {
        kind: Kind::IpPhone,
        model,
        family,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn phone(vc: &[u8]) -> Phone<'_> {
        match Matcher::builtin().classify(vc) {
            Match::Phone(p) => p,
            other => panic!(
                "{:?}: expected a phone, got {other:?}",
                String::from_utf8_lossy(vc)
            ),
        }
    }

    fn fam(m: &Matcher, p: &Phone) -> String {
        m.family_name(p.family).to_string()
    }

    fn check(vc: &[u8], kind: Kind, model: Option<&str>, family: &str) {
        let m = Matcher::builtin();
        let p = phone(vc);
        assert_eq!(
            (p.kind, p.model, fam(&m, &p).as_str()),
            (kind, model, family),
            "{:?}",
            String::from_utf8_lossy(vc)
        );
    }

    #[test]
    fn catalogue_forms() {
        use Kind::*;
        let ip = b"Cisco Systems, Inc. IP Phone ";
        let cases: &[(&[u8], Kind, Option<&str>, &str)] = &[
            (
                b"Cisco Systems, Inc. IP Phone CP-7941G",
                IpPhone,
                Some("7941G"),
                "79xx",
            ),
            (
                b"Cisco Systems, Inc. IP Phone CP-7941G-GE",
                IpPhone,
                Some("7941G-GE"),
                "79xx",
            ),
            (
                b"Cisco Systems, Inc. IP Phone CP-7940G",
                IpPhone,
                Some("7940G"),
                "79xx",
            ),
            (
                b"Cisco Systems, Inc. IP Phone 7912",
                IpPhone,
                Some("7912"),
                "79xx",
            ),
            (
                b"Cisco Systems, Inc. IP Phone CP-8961",
                IpPhone,
                Some("8961"),
                "89xx",
            ),
            (
                b"Cisco Systems, Inc. IP Phone CP-9951",
                IpPhone,
                Some("9951"),
                "99xx",
            ),
            (
                b"Cisco Systems, Inc. IP Phone CP-8841",
                IpPhone,
                Some("8841"),
                "88xx",
            ),
            (
                b"Cisco Systems, Inc. IP Phone CP-7821",
                IpPhone,
                Some("7821"),
                "78xx",
            ),
            (
                b"Cisco Systems, Inc. IP Phone CP-6945",
                IpPhone,
                Some("6945"),
                "69xx",
            ),
            (
                b"Cisco Systems, Inc. IP Phone CP-6821",
                IpPhone,
                Some("6821"),
                "68xx",
            ),
            (
                b"Cisco Systems, Inc. IP Phone CP-3905",
                IpPhone,
                Some("3905"),
                "39xx",
            ),
            (
                b"Cisco Systems, Inc. IP Phone CP-9861",
                IpPhone,
                Some("9861"),
                "98xx",
            ),
            (
                b"Cisco Systems, Inc. IP Phone CP-DX650",
                IpPhone,
                Some("DX650"),
                "generic",
            ),
            (b"Cisco Systems, Inc. IP Phone", IpPhone, None, "generic"),
            (b"Cisco Systems, Inc.", Generic, None, "generic"),
            (
                b"Cisco Systems, Inc. Something Else",
                Generic,
                None,
                "generic",
            ),
            (
                b"Cisco Systems Inc. Wireless Phone 7921",
                WirelessPhone,
                Some("7921"),
                "wireless",
            ),
            (
                b"Cisco Systems, Inc. Wireless Phone 7925G",
                WirelessPhone,
                Some("7925G"),
                "wireless",
            ),
            (b"Cisco SPA504G", Spa, Some("SPA504G"), "spa"),
            (b"CISCO SPA122", Spa, Some("SPA122"), "spa"),
            (b"cisco spa303", Spa, Some("spa303"), "spa"),
            (b"CISCO ATA190", Ata, Some("ATA190"), "ata"),
            (b"Cisco ATA 186", Ata, Some("ATA"), "ata"),
        ];
        for (vc, kind, model, family) in cases {
            check(vc, *kind, *model, family);
        }
        check(
            &[ip.as_slice(), b"CP-7945G"].concat(),
            IpPhone,
            Some("7945G"),
            "79xx",
        );
    }

    #[test]
    fn trailing_nul_and_whitespace() {
        use Kind::*;
        check(
            b"Cisco Systems, Inc. IP Phone CP-7941G\0",
            IpPhone,
            Some("7941G"),
            "79xx",
        );
        check(
            b"Cisco Systems, Inc. IP Phone CP-7941G\0\0 \r\n",
            IpPhone,
            Some("7941G"),
            "79xx",
        );
        check(
            b"Cisco Systems, Inc. IP Phone CP-7941G   ",
            IpPhone,
            Some("7941G"),
            "79xx",
        );
        check(b"Cisco Systems, Inc.\0", Generic, None, "generic");
        check(b"Cisco Systems, Inc. \0", Generic, None, "generic");
        check(b"CISCO ATA190\0", Ata, Some("ATA190"), "ata");
    }

    #[test]
    fn mixed_case_and_spacing() {
        use Kind::*;
        check(
            b"CISCO SYSTEMS, INC. IP PHONE CP-7961G",
            IpPhone,
            Some("7961G"),
            "79xx",
        );
        check(
            b"cisco systems, inc. ip phone cp-7961g",
            IpPhone,
            Some("7961g"),
            "79xx",
        );
        check(
            b"Cisco  Systems,Inc.  IP  Phone  CP-7961G",
            IpPhone,
            Some("7961G"),
            "79xx",
        );
        check(
            b"cIsCo sYsTeMs iNc. WiReLeSs pHoNe 7921",
            WirelessPhone,
            Some("7921"),
            "wireless",
        );
        check(
            b"Cisco Systems Inc IP Phone CP-8845",
            IpPhone,
            Some("8845"),
            "88xx",
        );
    }

    #[test]
    fn odd_bytes_never_break_matching() {
        use Kind::*;
        // Non-UTF-8 after the model: the model stops at the token boundary.
        check(
            b"Cisco Systems, Inc. IP Phone CP-7941G\xff\xfe",
            IpPhone,
            Some("7941G"),
            "79xx",
        );
        // Non-UTF-8 in place of the model: still an IP phone, no model.
        check(
            b"Cisco Systems, Inc. IP Phone \xc3\x28",
            IpPhone,
            None,
            "generic",
        );
        check(b"Cisco Systems, Inc. \xff", Generic, None, "generic");
        check(b"Cisco Systems, Inc.\xff", Generic, None, "generic");
        check(b"Cisco SPA\xff504", Spa, Some("SPA"), "spa");
        let m = Matcher::builtin();
        assert_eq!(m.classify(b"\xffCisco SPA504G"), Match::NotCisco);
        assert_eq!(m.classify(b"Cisco \xffSPA504G"), Match::NotCisco);
        assert_eq!(m.classify(b"Cisco Systems, \xff Inc."), Match::NotCisco);
    }

    #[test]
    fn token_byte_table() {
        for c in 0..=255u8 {
            assert_eq!(
                is_token_byte(c),
                c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'),
                "{c}"
            );
        }
    }

    #[test]
    fn not_cisco() {
        let m = Matcher::builtin();
        let cases: &[&[u8]] = &[
            b"",
            b"\0",
            b"   ",
            b"MSFT 5.0",
            b"PXEClient:Arch:00000:UNDI:002001",
            b"udhcp 1.36.1",
            b"android-dhcp-13",
            b"Cisco",
            b"Cisco ",
            b"Ciscoxyz",
            b"CiscoSPA504G",
            b"Cisco AP c1140",
            b"Cisco Systems",
            b"Cisco Systems, Ltd.",
            b"Polycom-SoundPoint",
            b"Xcisco SPA504G",
        ];
        for vc in cases {
            assert_eq!(
                m.classify(vc),
                Match::NotCisco,
                "{:?}",
                String::from_utf8_lossy(vc)
            );
        }
        let random: Vec<u8> = (0..255u32)
            .map(|i| (i.wrapping_mul(167) ^ 0x5a) as u8)
            .collect();
        assert_eq!(m.classify(&random), Match::NotCisco);
    }

    #[test]
    fn family_table() {
        let m = Matcher::builtin();
        assert_eq!(m.family_count(), BUILTIN_FAMILY_COUNT);
        assert_eq!(m.family_name(FamilyId::GENERIC), "generic");
        assert_eq!(m.family_name(FamilyId::numeric(79)), "79xx");
        assert_eq!(m.family_name(FamilyId::numeric(0)), "00xx");
        assert_eq!(m.family_id("88XX"), Some(FamilyId::numeric(88)));
        assert_eq!(m.family_id("Spa"), Some(FamilyId::SPA));
        assert_eq!(m.family_id("7xx"), None);
        assert_eq!(m.family_id("acme"), None);
        for (id, name) in m.families() {
            assert_eq!(m.family_id(name), Some(id));
        }
        assert_eq!(m.family_name(FamilyId(9999)), "generic");
    }

    fn pat(re: &str, family: &str) -> UserPattern {
        UserPattern {
            regex: Regex::new(re).unwrap(),
            family: family.into(),
        }
    }

    #[test]
    fn user_patterns_first_and_families() {
        let m = Matcher::new::<&str>(
            &[
                pat(r"^Acme Phone (?P<model>\S+)", "acme"),
                pat(r"(?i)^cisco systems, inc\. ip phone cp-7941", "lab"),
                pat(r"^Other", "79XX"),
            ],
            &[],
        )
        .unwrap();
        let acme = m.family_id("acme").unwrap();
        assert_eq!(acme.index(), BUILTIN_FAMILY_COUNT);
        assert_eq!(m.family_name(acme), "acme");
        assert_eq!(m.family_count(), BUILTIN_FAMILY_COUNT + 2);
        assert_eq!(
            m.classify(b"Acme Phone X100\0"),
            Match::Phone(Phone {
                kind: Kind::Custom,
                model: Some("X100"),
                family: acme
            })
        );
        // Overrides the catalogue for 7941 only.
        let lab = m.family_id("lab").unwrap();
        assert_eq!(
            m.classify(b"Cisco Systems, Inc. IP Phone CP-7941G"),
            Match::Phone(Phone {
                kind: Kind::Custom,
                model: None,
                family: lab
            })
        );
        assert_eq!(
            phone(b"Cisco Systems, Inc. IP Phone CP-7961G").kind,
            Kind::IpPhone
        );
        // A built-in family name reuses the built-in id.
        assert_eq!(
            m.classify(b"Other"),
            Match::Phone(Phone {
                kind: Kind::Custom,
                model: None,
                family: FamilyId::numeric(79)
            })
        );
        // A model capture that starts with non-ASCII: no model.
        assert_eq!(
            m.classify(b"Acme Phone \xc3\xa91"),
            Match::Phone(Phone {
                kind: Kind::Custom,
                model: None,
                family: acme
            })
        );
        let names: Vec<_> = m.patterns().collect();
        assert_eq!(names[2], ("^Other", "79xx"));
    }

    #[test]
    fn disabled_families() {
        let m = Matcher::new(&[pat("^Acme", "acme")], &["spa", "ATA", "79xx", "acme"]).unwrap();
        let p = phone(b"CISCO SPA122");
        assert_eq!(m.classify(b"CISCO SPA122"), Match::Disabled(p));
        assert!(matches!(m.classify(b"CISCO ATA190"), Match::Disabled(_)));
        assert!(matches!(m.classify(b"Acme"), Match::Disabled(_)));
        assert!(matches!(
            m.classify(b"Cisco Systems, Inc. IP Phone CP-7941G"),
            Match::Disabled(Phone {
                model: Some("7941G"),
                ..
            })
        ));
        assert!(matches!(
            m.classify(b"Cisco Systems, Inc. IP Phone CP-8841"),
            Match::Phone(_)
        ));
        assert_eq!(m.classify(b"MSFT 5.0"), Match::NotCisco);
        let d: Vec<_> = m.disabled_families().collect();
        assert_eq!(d, ["spa", "ata", "79xx", "acme"]);
        assert_eq!(Matcher::new(&[], &["nope"]).unwrap_err(), "nope");
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..=255)) {
            let m = Matcher::new(&[pat(r"(?P<model>.+)x", "acme")], &["spa"]).unwrap();
            let _ = m.classify(&bytes);
            let _ = Matcher::builtin().classify(&bytes);
        }

        #[test]
        fn not_cisco_unless_prefix(bytes in proptest::collection::vec(any::<u8>(), 0..=255)) {
            let starts = bytes.len() >= 5 && bytes[..5].eq_ignore_ascii_case(b"cisco");
            if !starts {
                prop_assert_eq!(Matcher::builtin().classify(&bytes), Match::NotCisco);
            }
        }

        /// Near misses built from the catalogue's own letters, which random bytes rarely hit.
        #[test]
        fn near_misses_need_the_cisco_prefix(s in "[CcIiSsOo ,.]{0,8}[A-Za-z0-9 ,.-]{0,24}") {
            let b = s.as_bytes();
            let starts = b.len() >= 5 && b[..5].eq_ignore_ascii_case(b"cisco");
            if !starts {
                prop_assert_eq!(Matcher::builtin().classify(b), Match::NotCisco);
            }
        }

        #[test]
        fn cisco_prefix_with_random_tail(tail in proptest::collection::vec(any::<u8>(), 0..=200)) {
            let m = Matcher::builtin();
            let vc = [b"Cisco Systems, Inc. IP Phone CP-".as_slice(), &tail].concat();
            match m.classify(&vc) {
                Match::Phone(p) => {
                    prop_assert_eq!(p.kind, Kind::IpPhone);
                    if let Some(model) = p.model {
                        prop_assert!(model.bytes().all(is_token_byte));
                        prop_assert!(tail.starts_with(model.as_bytes()));
                    }
                }
                other => prop_assert!(false, "{:?}", other),
            }
        }

        /// The fast path for the phones' own spelling answers as the grammar does.
        #[test]
        fn fast_path_agrees_with_the_grammar(
            spaces in "[ \t]{0,3}",
            tail in proptest::collection::vec(any::<u8>(), 0..=40),
            text in "(CP-|cp-|Cp|CP)?[0-9A-Za-z .\t-]{0,12}\0?",
        ) {
            for t in [&tail[..], text.as_bytes()] {
                let vc = [IP_PHONE_PREFIX, spaces.as_bytes(), t].concat();
                let vc = trim_end(&vc);
                prop_assert_eq!(builtin(vc), grammar(vc));
            }
        }

        #[test]
        fn any_numeric_model_gets_its_family(a in 0u8..10, b in 0u8..10, rest in "[A-Z0-9-]{0,6}") {
            let vc = format!("Cisco Systems, Inc. IP Phone CP-{a}{b}{rest}\0");
            let m = Matcher::builtin();
            let p = phone(vc.as_bytes());
            prop_assert_eq!(m.family_name(p.family), format!("{a}{b}xx"));
        }
    }
}
