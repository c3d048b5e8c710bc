//! cisco-tftp-check: checks the cisco-tftp hook's parameters in a Kea DHCPv4 configuration
//! file with the same code the hook's `load()` runs, without starting Kea.
//!
//! Kea 2.2's `kea-dhcp4 -t` does not run a hook's `load()`, and a reconfiguration that a hook
//! refuses leaves Kea 2.2 not serving: check a candidate file with this before applying it.

use std::io::Read;
use std::process::ExitCode;

use dhcp_cisco_tftp::kea_config::{
    check_config, parameter_differences, parse_config, read_include, EntryReport, LIBRARY_FILE,
};

const USAGE: &str =
    "usage: cisco-tftp-check [--syntax-only] KEA_DHCP4_CONFIG_FILE   (or - for standard input)
       cisco-tftp-check --same-parameters FILE_A FILE_B

Reads the file as kea-dhcp4 does (comments, extra commas, <?include \"FILE\"?> opened relative
to the working directory as Kea does: run it from Kea's, / for the service), then finds every
Dhcp4.hooks-libraries entry that loads libdhcp_cisco_tftp.so and checks its parameters exactly
as the hook's load() would. Prints one line per entry. Kea's keyword schema (which parameters
exist, their types) is left to `kea-dhcp4 -t`.
  --syntax-only   only read the file: exit 0 if Kea's parser accepts its syntax.
  --same-parameters  check both files (the two servers of a Kea HA pair), then compare the
                  hook's parameters, defaults filled in: exit 1 naming the parameters that
                  differ (the servers would send phones different option 150 lists).
Exit status: 0 all entries valid, 1 the file is not accepted, an entry is invalid or none was
found, 2 usage or I/O error.";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--same-parameters") {
        return match &args[1..] {
            [a, b] => same_parameters(a, b),
            _ => usage(),
        };
    }
    let syntax_only = args.first().map(String::as_str) == Some("--syntax-only");
    if syntax_only {
        args.remove(0);
    }
    let [path] = args.as_slice() else {
        return usage();
    };
    if path == "-h" || path == "--help" {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match check_file(path, syntax_only) {
        Ok(_) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}

/// Reads and checks one file, printing a line per hook entry; the entries when all are valid
/// (none when `syntax_only`), else the exit code.
fn check_file(path: &str, syntax_only: bool) -> Result<Vec<EntryReport>, ExitCode> {
    let (text, name) = if path == "-" {
        let mut s = Vec::new();
        if let Err(e) = std::io::stdin().read_to_end(&mut s) {
            eprintln!("cisco-tftp-check: reading standard input: {e}");
            return Err(ExitCode::from(2));
        }
        (s, "<stdin>")
    } else {
        match std::fs::read(path) {
            Ok(s) => (s, path),
            Err(e) => {
                eprintln!("cisco-tftp-check: {path}: {e}");
                return Err(ExitCode::from(2));
            }
        }
    };
    let config = match parse_config(&text, name, &mut read_include) {
        Ok(c) => c,
        Err(e) => {
            println!("{path}: not accepted by Kea's parser: {e}");
            return Err(ExitCode::from(1));
        }
    };
    if syntax_only {
        println!("{path}: syntax ok");
        return Ok(Vec::new());
    }
    let reports = match check_config(&config) {
        Ok(r) => r,
        Err(e) => {
            println!("{path}: {e}");
            return Err(ExitCode::from(1));
        }
    };
    if reports.is_empty() {
        println!("{path}: no Dhcp4.hooks-libraries entry loads {LIBRARY_FILE}");
        return Err(ExitCode::from(1));
    }
    let mut ok = true;
    for r in &reports {
        match &r.result {
            Ok(summary) => println!("{path}: {}: ok: {summary}", r.path),
            Err(e) => {
                ok = false;
                println!("{path}: {}: invalid: {e}", r.path);
            }
        }
    }
    if ok {
        Ok(reports)
    } else {
        Err(ExitCode::from(1))
    }
}

/// `--same-parameters A B`: both valid, one hook entry each, the same normalised parameters.
fn same_parameters(a: &str, b: &str) -> ExitCode {
    let (ra, rb) = match (check_file(a, false), check_file(b, false)) {
        (Ok(ra), Ok(rb)) => (ra, rb),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let (Some(ea), Some(eb)) = (single(a, &ra), single(b, &rb)) else {
        return ExitCode::from(1);
    };
    let differ = parameter_differences(ea, eb);
    if differ.is_empty() {
        println!("{a} and {b}: the same hook parameters");
        ExitCode::SUCCESS
    } else {
        println!(
            "{a} and {b}: hook parameters differ in: {} (the servers would send phones different \
             option 150 lists)",
            differ.join(", ")
        );
        ExitCode::from(1)
    }
}

/// The effective parameters of a file's only hook entry (several are ambiguous to compare).
fn single<'r>(path: &str, reports: &'r [EntryReport]) -> Option<&'r serde_json::Value> {
    match reports {
        [r] => r.effective.as_ref(),
        _ => {
            println!(
                "{path}: {} entries load {LIBRARY_FILE}: cannot tell which to compare",
                reports.len()
            );
            None
        }
    }
}
