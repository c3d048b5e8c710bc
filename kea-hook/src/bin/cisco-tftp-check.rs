//! cisco-tftp-check: checks the cisco-tftp hook's parameters in a Kea DHCPv4 configuration
//! file with the same code the hook's `load()` runs, without starting Kea.
//!
//! Kea 2.2's `kea-dhcp4 -t` does not run a hook's `load()`, and a reconfiguration that a hook
//! refuses leaves Kea 2.2 not serving: check a candidate file with this before applying it.

use std::io::Read;
use std::process::ExitCode;

use dhcp_cisco_tftp::kea_config::{check_config, parse_config, read_include, LIBRARY_FILE};

const USAGE: &str =
    "usage: cisco-tftp-check [--syntax-only] KEA_DHCP4_CONFIG_FILE   (or - for standard input)

Reads the file as kea-dhcp4 does (comments, extra commas, <?include \"FILE\"?> opened relative
to the working directory as Kea does: run it from Kea's, / for the service), then finds every
Dhcp4.hooks-libraries entry that loads libdhcp_cisco_tftp.so and checks its parameters exactly
as the hook's load() would. Prints one line per entry. Kea's keyword schema (which parameters
exist, their types) is left to `kea-dhcp4 -t`.
  --syntax-only   only read the file: exit 0 if Kea's parser accepts its syntax.
Exit status: 0 all entries valid, 1 the file is not accepted, an entry is invalid or none was
found, 2 usage or I/O error.";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let syntax_only = args.first().map(String::as_str) == Some("--syntax-only");
    if syntax_only {
        args.remove(0);
    }
    let [path] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if path == "-h" || path == "--help" {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let (text, name) = if path == "-" {
        let mut s = Vec::new();
        if let Err(e) = std::io::stdin().read_to_end(&mut s) {
            eprintln!("cisco-tftp-check: reading standard input: {e}");
            return ExitCode::from(2);
        }
        (s, "<stdin>")
    } else {
        match std::fs::read(path) {
            Ok(s) => (s, path.as_str()),
            Err(e) => {
                eprintln!("cisco-tftp-check: {path}: {e}");
                return ExitCode::from(2);
            }
        }
    };
    let config = match parse_config(&text, name, &mut read_include) {
        Ok(c) => c,
        Err(e) => {
            println!("{path}: not accepted by Kea's parser: {e}");
            return ExitCode::from(1);
        }
    };
    if syntax_only {
        println!("{path}: syntax ok");
        return ExitCode::SUCCESS;
    }
    let reports = match check_config(&config) {
        Ok(r) => r,
        Err(e) => {
            println!("{path}: {e}");
            return ExitCode::from(1);
        }
    };
    if reports.is_empty() {
        println!("{path}: no Dhcp4.hooks-libraries entry loads {LIBRARY_FILE}");
        return ExitCode::from(1);
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
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
