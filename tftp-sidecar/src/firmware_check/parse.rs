//! Pure readers of phone files: the names a `.loads` file lists, a config's
//! `<loadInformation>`, and which `termXX.default.loads` a model asks for.

use serde::Serialize;

/// Extensions of names a `.loads` file refers to (lower case).
pub const IMAGE_EXTENSIONS: [&str; 7] = [".sbn", ".bin", ".zz", ".sgn", ".img", ".tar", ".loads"];

/// The file names a `.loads` file names, in order of first appearance, without repeats and
/// without `own_name` (compared case-insensitively).
pub fn load_names(bytes: &[u8], own_name: &str) -> Vec<String> {
    let own = own_name.rsplit('/').next().unwrap_or(own_name);
    let is_name = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+');
    let mut out: Vec<String> = Vec::new();
    for tok in bytes.split(|b| !is_name(*b)) {
        if tok.len() < 5 || tok.len() > 128 || tok[0] == b'.' {
            continue;
        }
        // Only ASCII bytes reach here, so this is lossless.
        let s = String::from_utf8_lossy(tok).into_owned();
        let lower = s.to_ascii_lowercase();
        if !IMAGE_EXTENSIONS
            .iter()
            .any(|e| lower.ends_with(e) && lower.len() > e.len())
        {
            continue;
        }
        if s.eq_ignore_ascii_case(own) || out.contains(&s) {
            continue;
        }
        out.push(s);
    }
    out
}

/// One `<loadInformation>` of a phone config.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoadInfo {
    /// The `model` attribute (`Cisco 7941`), if any.
    pub model: Option<String>,
    /// The load name, without `.loads`.
    pub load: String,
}

/// Every non-empty `<loadInformation>` (or CUCM's numbered `<loadInformation434 ...>`)
/// element of a config, in order.
pub fn load_information(xml: &str) -> Vec<LoadInfo> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find("<loadInformation") {
        rest = &rest[i + 1..];
        let Some(end_tag) = rest.find('>') else { break };
        let tag = &rest[..end_tag];
        let name_len = tag
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(tag.len());
        let elem = &tag[..name_len];
        if !elem["loadInformation".len()..]
            .bytes()
            .all(|b| b.is_ascii_digit())
            || tag.ends_with('/')
        {
            continue;
        }
        let body = &rest[end_tag + 1..];
        let close = format!("</{elem}>");
        let Some(len) = body.find(&close) else {
            continue;
        };
        let load = body[..len].trim();
        if load.is_empty() {
            continue;
        }
        out.push(LoadInfo {
            model: attr(tag, "model"),
            load: load.to_string(),
        });
    }
    out
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let pat = format!("{name}=\"");
    let i = tag.find(&pat)? + pat.len();
    let j = tag[i..].find('"')?;
    Some(tag[i..i + j].trim().to_string())
}

/// The term file a factory-reset phone of `model` asks for: `termNN.default.loads` for 79xx
/// (`7941` -> `term41`), `term<model>.default.loads` for others (our convention: unverified
/// for models other than 79xx).
pub fn term_file_for(model: &str) -> String {
    let m = normalize_model(model);
    if m.len() == 4 && m.starts_with("79") && m.bytes().all(|b| b.is_ascii_digit()) {
        format!("term{}.default.loads", &m[2..])
    } else {
        format!("term{m}.default.loads")
    }
}

/// The model a term file belongs to (`term41.default.loads` -> `7941`).
pub fn model_of_term_file(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let mid = lower.strip_prefix("term")?.strip_suffix(".default.loads")?;
    if mid.is_empty() {
        return None;
    }
    let orig = &name[4..4 + mid.len()];
    if mid.len() == 2 && mid.bytes().all(|b| b.is_ascii_digit()) {
        Some(format!("79{mid}"))
    } else {
        Some(orig.to_string())
    }
}

/// `Cisco 7941`, `CP-7941G`, `7941G` -> `7941`.
pub fn normalize_model(model: &str) -> String {
    let mut m = model.trim();
    for p in ["Cisco ", "cisco ", "CP-", "cp-"] {
        m = m.strip_prefix(p).unwrap_or(m);
    }
    let m = m.trim();
    let m = m
        .strip_suffix('G')
        .filter(|r| r.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or(m);
    m.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_placeholder_text_and_binary() {
        let t = b"# placeholder\nload SIP41.9-4-2SR3-1S\nimage apps41.9-4-2ES26.sbn 100\nimage dsp41.9-4-2ES26.sbn\n";
        assert_eq!(
            load_names(t, "SIP41.9-4-2SR3-1S.loads"),
            vec!["apps41.9-4-2ES26.sbn", "dsp41.9-4-2ES26.sbn"]
        );
        let mut bin = vec![0x30, 0x82, 0x04, 0x10, 0x00, 0xff];
        bin.extend_from_slice(b"\x14jar41sip.9-4-2ES26.sbn\x00\x00CNU41.9-4-2ES26.SBN\x00");
        bin.extend_from_slice(b"term41.default.loads\x00.sbn\x00jar41sip.9-4-2ES26.sbn\x00");
        bin.extend_from_slice(b"other.loads\x00kern.img\x00x.tar.gz\x00");
        assert_eq!(
            load_names(&bin, "dir/term41.default.loads"),
            vec![
                "jar41sip.9-4-2ES26.sbn",
                "CNU41.9-4-2ES26.SBN",
                "other.loads",
                "kern.img"
            ]
        );
    }

    #[test]
    fn load_information_variants() {
        let xml = r#"<device><loadInformation model="Cisco 7941">SIP41.a</loadInformation>
            <loadInformation434 model="Cisco 7961"> SIP41.b </loadInformation434>
            <loadInformation></loadInformation><loadInformation/>
            <loadInformationX>no</loadInformationX><loadInformation>bare</loadInformation></device>"#;
        assert_eq!(
            load_information(xml),
            vec![
                LoadInfo {
                    model: Some("Cisco 7941".into()),
                    load: "SIP41.a".into()
                },
                LoadInfo {
                    model: Some("Cisco 7961".into()),
                    load: "SIP41.b".into()
                },
                LoadInfo {
                    model: None,
                    load: "bare".into()
                },
            ]
        );
        assert!(load_information("<loadInformation>unterminated").is_empty());
    }

    #[test]
    fn term_files_and_models() {
        assert_eq!(term_file_for("7941"), "term41.default.loads");
        assert_eq!(term_file_for("Cisco 7961"), "term61.default.loads");
        assert_eq!(term_file_for("CP-7962G"), "term62.default.loads");
        assert_eq!(term_file_for("8841"), "term8841.default.loads");
        assert_eq!(
            model_of_term_file("term41.default.loads").as_deref(),
            Some("7941")
        );
        assert_eq!(
            model_of_term_file("TERM70.DEFAULT.LOADS").as_deref(),
            Some("7970")
        );
        assert_eq!(
            model_of_term_file("term8841.default.loads").as_deref(),
            Some("8841")
        );
        assert_eq!(model_of_term_file("term.default.loads"), None);
        assert_eq!(model_of_term_file("SIP41.loads"), None);
        assert_eq!(normalize_model("Cisco 8841"), "8841");
    }
}
