//! `tftp-sidecar check ROOT`: does a TFTP root hold what phones need to boot?
//!
//! Per phone model: does `termXX.default.loads` exist; for every `.loads` file: does every
//! image it names exist and is it non-empty; for every `SEP*.cnf.xml` (and
//! `XMLDefault.cnf.xml`): does each `<loadInformation>` resolve to a `.loads` file whose
//! images are all there. Missing or zero-size files are the classic cause of phones stuck on
//! "Upgrading".
//!
//! The `.loads` format is not public. Names are read from a load file's bytes as a phone
//! would need them: every maximal run of file-name characters (`A-Z a-z 0-9 . _ - +`) that
//! ends in `.sbn`, `.bin`, `.zz`, `.sgn`, `.img`, `.tar` or `.loads` (any case), except the
//! file's own name. That reads signed binary load files and our placeholder text
//! (`image NAME SIZE` lines) alike. See `docs/firmware-check.md`.
//!
//! Parsing is pure (`parse.rs`: `load_names`, `load_information`, `term_file_for`);
//! `listing.rs` walks a directory once; `check.rs` decides from a listing and file bytes;
//! every finding is a typed [`Problem`] (`problem.rs`), whose text is for people and whose
//! kind is for code; `report.rs` prints tables and JSON.

mod check;
mod listing;
mod parse;
mod problem;
mod report;

use std::path::Path;

pub use check::{
    check, check_root, CheckOptions, ConfigCheck, ConfigLoadCheck, FileStatus, ImageCheck,
    LoadCheck, ModelCheck, Report,
};
pub use listing::Listing;
pub use parse::{
    load_information, load_names, model_of_term_file, normalize_model, term_file_for, LoadInfo,
    IMAGE_EXTENSIONS,
};
pub use problem::Problem;

/// `tftp-sidecar check` entry point: prints the report, returns the exit status
/// (0 no problems, 1 problems, 2 the root cannot be read).
pub fn run(root: &Path, json: bool, opts: &CheckOptions) -> u8 {
    match check_root(root, opts) {
        Ok(r) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&r.to_json()).expect("json")
                );
            } else {
                print!("{}", r.to_table());
            }
            if r.ok {
                0
            } else {
                1
            }
        }
        Err(e) => {
            eprintln!("tftp-sidecar check: {}: {e}", root.display());
            2
        }
    }
}
