//! Compiles the C++ shim against Kea's headers and generates Rust bindings for its C header.
//! Fails early, with the package to install, when Kea's headers, Boost or libclang are missing.

use std::env;
use std::path::{Path, PathBuf};

// The Markdown renderer is for the docs test, not the build.
#[allow(dead_code)]
#[path = "src/mes.rs"]
mod mes;

/// Kea's libraries the shim calls into. `kea-dhcp++` is the 2.x name of the DHCP library; Kea
/// 3.0 renamed it `kea-dhcp` (see [`dhcp_library`]).
const KEA_LIBS: &[&str] = &[
    "kea-dhcpsrv",
    "kea-hooks",
    "kea-stats",
    "kea-cc",
    "kea-log",
    "kea-process",
    "kea-asiolink",
    "kea-exceptions",
];

fn main() {
    println!("cargo:rerun-if-changed=shim/shim.h");
    println!("cargo:rerun-if-changed=shim/shim.cc");
    println!("cargo:rerun-if-changed=shim/compat");
    println!("cargo:rerun-if-changed=shim/{MESSAGE_FILE}");
    println!("cargo:rerun-if-changed=src/mes.rs");
    println!("cargo:rerun-if-env-changed=KEA_INCLUDE_DIR");
    println!("cargo:rerun-if-env-changed=KEA_LIB_DIR");

    let include = PathBuf::from(
        env::var("KEA_INCLUDE_DIR").unwrap_or_else(|_| "/usr/include/kea".to_string()),
    );
    if !include.join("hooks/hooks.h").is_file() {
        fail(&format!(
            "Kea's headers were not found: {} has no hooks/hooks.h.\n\
             Install them (Debian: apt-get install kea-dev libboost-dev) or set KEA_INCLUDE_DIR.",
            include.display()
        ));
    }
    if !Path::new("/usr/include/boost/shared_ptr.hpp").is_file()
        && env::var_os("BOOST_INCLUDE_DIR").is_none()
    {
        fail(
            "Boost headers were not found (Kea's headers include boost).\n\
             Install them (Debian: apt-get install libboost-dev) or set BOOST_INCLUDE_DIR.",
        );
    }
    let lib_dir = kea_lib_dir();
    let hooks_version = hooks_version(&include.join("hooks/hooks.h"));
    // The series this build is bound to, for the hook's messages and for tests.
    println!("cargo:rustc-env=KEA_HOOKS_VERSION={hooks_version}");
    println!(
        "cargo:rerun-if-changed={}",
        include.join("hooks/hooks.h").display()
    );

    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    compile_messages(&out_dir);

    let mut build = cc::Build::new();
    build
        .cpp(true)
        .file("shim/shim.cc")
        .include("shim")
        // The generated message table (cisco_tftp_messages.inc).
        .include(&out_dir)
        .include(&include)
        // After Kea's own headers: fills in what Debian's kea-dev 2.2.0 leaves out.
        .include("shim/compat")
        .flag_if_supported("-std=c++17")
        .flag_if_supported("-Wno-deprecated-declarations")
        .flag_if_supported("-Wno-unused-parameter")
        // Kea calls handlers as int(*)(CalloutHandle&); ck_callout_fn is the same ABI.
        .flag_if_supported("-Wno-cast-function-type");
    if let Some(boost) = env::var_os("BOOST_INCLUDE_DIR") {
        build.include(boost);
    }
    build.compile("kea_hook_shim");

    println!("cargo:rustc-link-search=native={}", lib_dir.display());
    println!("cargo:rustc-link-lib=dylib={}", dhcp_library(&lib_dir));
    for lib in KEA_LIBS {
        println!("cargo:rustc-link-lib=dylib={lib}");
    }

    let out = out_dir.join("bindings.rs");
    // bindgen panics when it cannot load libclang; turn that into an actionable message.
    let generated = std::panic::catch_unwind(|| {
        bindgen::Builder::default()
            .header("shim/shim.h")
            .allowlist_function("ck_.*")
            .allowlist_type("ck_.*")
            .allowlist_var("CK_.*")
            .prepend_enum_name(false)
            .layout_tests(false)
            .generate()
    });
    match generated {
        Ok(Ok(bindings)) => bindings.write_to_file(&out).expect("write bindings.rs"),
        Ok(Err(e)) => fail(&format!("bindgen could not parse shim/shim.h: {e}")),
        Err(_) => fail(
            "bindgen could not load libclang.\n\
             Install it (Debian: apt-get install libclang-dev clang) or set LIBCLANG_PATH.",
        ),
    }
}

const MESSAGE_FILE: &str = "cisco_tftp_messages.mes";

/// The hook's message file, as the shim's C++ table and as Rust constants (what Kea's
/// kea-msg-compiler, which Debian does not ship, would make of it).
fn compile_messages(out_dir: &Path) {
    let path = Path::new("shim").join(MESSAGE_FILE);
    let source = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())));
    let messages =
        mes::parse(&source).unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())));
    let write = |name: &str, text: String| {
        std::fs::write(out_dir.join(name), text)
            .unwrap_or_else(|e| fail(&format!("cannot write {name}: {e}")))
    };
    write("cisco_tftp_messages.inc", mes::cpp_table(&messages));
    write("messages.rs", mes::rust_consts(&messages));
}

/// `KEA_HOOKS_VERSION` from hooks.h (`const int KEA_HOOKS_VERSION = 20603;`): the exact Kea
/// release the headers belong to. The shim reads the same constant at compile time; this copy
/// is for the Rust side and the build's own checks.
fn hooks_version(hooks_h: &Path) -> u32 {
    let text = std::fs::read_to_string(hooks_h)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", hooks_h.display())));
    text.lines()
        .find_map(|line| {
            let rest = line.trim().strip_prefix("const int KEA_HOOKS_VERSION")?;
            rest.trim_start_matches([' ', '='])
                .trim_end_matches(';')
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or_else(|| {
            fail(&format!(
                "{} does not define KEA_HOOKS_VERSION: is this Kea's hooks.h?",
                hooks_h.display()
            ))
        })
}

/// The DHCP library's name as installed: `kea-dhcp++` (Kea 2.x) or `kea-dhcp` (3.0 on).
fn dhcp_library(lib_dir: &Path) -> &'static str {
    if lib_dir.join("libkea-dhcp++.so").exists() {
        "kea-dhcp++"
    } else if lib_dir.join("libkea-dhcp.so").exists() {
        "kea-dhcp"
    } else {
        fail(&format!(
            "neither libkea-dhcp++.so (Kea 2.x) nor libkea-dhcp.so (Kea 3.x) is in {}",
            lib_dir.display()
        ))
    }
}

fn kea_lib_dir() -> PathBuf {
    if let Ok(dir) = env::var("KEA_LIB_DIR") {
        return PathBuf::from(dir);
    }
    let candidates = [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/usr/local/lib",
    ];
    for dir in candidates {
        if Path::new(dir).join("libkea-hooks.so").exists() {
            return PathBuf::from(dir);
        }
    }
    fail(
        "Kea's libraries were not found (no libkea-hooks.so in the usual directories).\n\
         Install them (Debian: apt-get install kea-dev) or set KEA_LIB_DIR.",
    );
}

fn fail(msg: &str) -> ! {
    eprintln!("\nkea-hook-sys: {msg}\n");
    panic!("kea-hook-sys: {msg}");
}
