//! Bounded classification of requested file names, used as a metrics label.

/// What kind of file a phone asked for. Keeps metric label sets small and fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileClass {
    /// `.loads`, `.sbn`, `.bin`, `.zz`, `.sgn`, `.img`, `.tar`, `.jar` images.
    Firmware,
    /// `SEP<MAC>.cnf.xml`, `XMLDefault.cnf.xml`, `SEPDefault.cnf`, other `.cnf`/`.xml`.
    Config,
    /// `CTLSEP<MAC>.tlv`, `ITLSEP<MAC>.tlv`, `ITLFile.tlv`: absent is normal.
    TrustList,
    Other,
}

impl FileClass {
    pub const ALL: [FileClass; 4] = [
        FileClass::Firmware,
        FileClass::Config,
        FileClass::TrustList,
        FileClass::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FileClass::Firmware => "firmware",
            FileClass::Config => "config",
            FileClass::TrustList => "trust_list",
            FileClass::Other => "other",
        }
    }

    /// Classify by the (already validated) file name; case-insensitive on extensions.
    pub fn of(name: &str) -> FileClass {
        let base = name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
        let ext = |e: &str| base.ends_with(e);
        if ext(".tlv") {
            FileClass::TrustList
        } else if ext(".cnf.xml") || ext(".cnf") || ext(".xml") {
            FileClass::Config
        } else if [
            ".loads", ".sbn", ".bin", ".zz", ".sgn", ".img", ".tar", ".jar", ".sbin",
        ]
        .iter()
        .any(|e| ext(e))
        {
            FileClass::Firmware
        } else {
            FileClass::Other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FileClass::*;
    use super::*;

    #[test]
    fn classifies_phone_boot_files() {
        assert_eq!(FileClass::of("CTLSEP001122334455.tlv"), TrustList);
        assert_eq!(FileClass::of("ITLFile.tlv"), TrustList);
        assert_eq!(FileClass::of("SEP001122334455.cnf.xml"), Config);
        assert_eq!(FileClass::of("SEPDefault.cnf"), Config);
        assert_eq!(FileClass::of("term41.default.loads"), Firmware);
        assert_eq!(FileClass::of("apps41.9-4-2ES26.sbn"), Firmware);
        assert_eq!(FileClass::of("Jar41sip.9-4-2ES26.SBN"), Firmware);
        assert_eq!(FileClass::of("ringer1.raw"), Other);
    }
}
