//! Bad parameters are refused by the real Kea with the hook's message; the control commands
//! answer over Kea's control socket. Needs root and `cargo build -p kea-hook`.

use cisco_tftp_tests::config::{relay_subnet_id, Dhcp4Config};
use cisco_tftp_tests::kea::{
    check_config, check_config_with_hooks, hook_library_path, install, result_code, KeaServer,
};
use cisco_tftp_tests::netns::Topology;
use serde_json::{json, Value};

fn config(topo: &Topology, params: Value) -> Value {
    Dhcp4Config::for_topology(topo)
        .hook(&hook_library_path(), params)
        .build()
}

fn sixty_four_servers() -> Value {
    Value::Array((1..=64).map(|i| json!(format!("10.9.0.{i}"))).collect())
}

#[test]
fn each_kind_of_bad_parameter_is_rejected_with_its_message() {
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"servers": ["10.0.0.300"]}),
            r#"parameter 'servers[0]': not an IPv4 address: "10.0.0.300""#,
        ),
        (
            json!({"servers": []}),
            "parameter 'servers': empty server list",
        ),
        (
            json!({"servers": sixty_four_servers()}),
            "parameter 'servers'",
        ),
        (
            json!({"servers": ["10.0.0.1"], "serverz": ["10.0.0.2"]}),
            "parameter 'serverz': unknown parameter",
        ),
        (
            json!({"servers": ["10.0.0.1"], "patterns": [{"regex": "(abc", "family": "x"}]}),
            r#"parameter 'patterns[0].regex': invalid regex: "(abc""#,
        ),
        (
            json!({"servers": ["10.0.0.1"], "sites": [{"name": "a", "prefixes": ["10.0.0.0/33"], "servers": ["10.0.0.2"]}]}),
            "parameter 'sites[0].prefixes[0]'",
        ),
        (
            json!({"servers": ["10.0.0.1"], "sites": [{"name": "a", "relays": ["10.0.0.1/24"], "servers": ["10.0.0.2"]}]}),
            "parameter 'sites[0].relays[0]'",
        ),
        (json!({}), "parameters:"),
    ];
    let topo = Topology::new(1).unwrap();
    for (params, expected) in cases {
        let err = match KeaServer::start(&topo.server, config(&topo, params.clone())) {
            Ok(kea) => panic!("Kea accepted {params}\n{}", kea.log()),
            Err(e) => e,
        };
        assert!(
            err.contains("CISCO_TFTP_CONFIG_REJECTED configuration rejected: ")
                && err.contains(expected),
            "for {params}: expected {expected:?} in Kea's output:\n{err}"
        );
    }
}

#[test]
fn more_than_63_servers_names_the_limit() {
    let topo = Topology::new(1).unwrap();
    let err = KeaServer::start(
        &topo.server,
        config(&topo, json!({"servers": sixty_four_servers()})),
    )
    .err()
    .expect("64 servers must be refused");
    assert!(err.contains("63"), "{err}");
}

#[test]
fn config_get_returns_effective_configuration_and_counters() {
    let topo = Topology::new(1).unwrap();
    let params = json!({
        "servers": ["10.201.1.10"],
        "sites": [{"name": "hq", "subnet-ids": [relay_subnet_id(1)], "servers": ["10.211.1.5"]}],
        "option-66": {"enabled": true, "name": "tftp.example.com"}
    });
    let kea = KeaServer::start(&topo.server, config(&topo, params)).unwrap();
    let answer = kea.command("cisco-tftp-config-get", None).unwrap();
    assert_eq!(result_code(&answer), Some(0), "{answer}");
    let args = &answer["arguments"];
    assert_eq!(args["config"]["servers"], json!(["10.201.1.10"]));
    assert_eq!(args["config"]["sites"][0]["name"], json!("hq"));
    assert_eq!(
        args["config"]["option-66"]["name"],
        json!("tftp.example.com")
    );
    assert_eq!(args["counters"]["cisco-tftp.option-150-sent"], json!(0));
    assert_eq!(args["multi-threading-compatible"], json!(true));

    let list = kea.command("list-commands", None).unwrap();
    let names = list["arguments"].to_string();
    assert!(
        names.contains("cisco-tftp-config-get") && names.contains("cisco-tftp-dry-run"),
        "{names}"
    );
}

#[test]
fn dry_run_answers_with_the_bytes_a_client_would_get() {
    let topo = Topology::new(1).unwrap();
    let params = json!({
        "servers": ["10.201.1.10", "10.201.1.11"],
        "sites": [
            {"name": "branch", "relays": ["10.211.1.1"], "servers": ["10.211.1.5"]},
            {"name": "hq", "subnet-ids": [7], "servers": ["10.7.0.5"]}
        ]
    });
    let kea = KeaServer::start(&topo.server, config(&topo, params)).unwrap();
    let run = |args: Value| kea.command("cisco-tftp-dry-run", Some(args)).unwrap();

    let a = run(json!({"vendor-class": "Cisco Systems, Inc. IP Phone CP-7941G"}));
    assert_eq!(result_code(&a), Some(0), "{a}");
    assert_eq!(a["arguments"]["option-150-hex"], json!("0ac9010a0ac9010b"));
    assert_eq!(a["arguments"]["model"], json!("7941G"));
    assert_eq!(a["arguments"]["family"], json!("79xx"));

    let a =
        run(json!({"vendor-class": "Cisco Systems, Inc. IP Phone CP-8841", "relay": "10.211.1.1"}));
    assert_eq!(a["arguments"]["option-150-hex"], json!("0ad30105"), "{a}");
    let a = run(json!({"vendor-class": "Cisco Systems, Inc. IP Phone CP-8841", "subnet-id": 7}));
    assert_eq!(a["arguments"]["servers"], json!(["10.7.0.5"]), "{a}");

    let a = run(json!({"vendor-class": "MSFT 5.0"}));
    assert_eq!(a["arguments"]["matched"], json!(false), "{a}");

    // Bad arguments: an error naming the argument, and Kea keeps serving commands.
    let a = run(json!({"relay": "10.211.1.1"}));
    assert_eq!(result_code(&a), Some(1), "{a}");
    assert!(a["text"].as_str().unwrap().contains("vendor-class"), "{a}");
    let a = run(json!({"vendor-class": "Cisco Systems, Inc.", "relay": "not-an-address"}));
    assert_eq!(result_code(&a), Some(1), "{a}");
    assert!(a["text"].as_str().unwrap().contains("relay"), "{a}");
    assert!(kea.is_running());
}

/// `cisco-tftp-check` (built next to the hook) finds the hook's entry in a Kea config file and
/// gives the same verdict and message as the hook's load() in the real Kea.
#[test]
fn cisco_tftp_check_agrees_with_kea() {
    let kea_install = install();
    let topo = Topology::new(1).unwrap();
    let scratch = kea_install.scratch_dir().unwrap();
    let dir = scratch.path();
    for (params, valid) in [
        (json!({"servers": ["10.201.1.10"]}), true),
        (
            json!({"servers": ["10.201.1.10"], "families": {"77yy": ["10.0.0.1"]}}),
            false,
        ),
    ] {
        let cfg = json!({"Dhcp4": config(&topo, params.clone())});
        let file = dir.join("kea-dhcp4.conf");
        // Kea's files may carry comments; the checker must read them as Kea does.
        std::fs::write(&file, format!("// candidate\n{cfg:#}\n")).unwrap();
        let out = kea_install
            .checker()
            .arg(kea_install.inside_path(&file))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert_eq!(out.status.success(), valid, "{params}: {text}");
        let kea = KeaServer::start(&topo.server, config(&topo, params.clone()));
        assert_eq!(kea.is_ok(), valid, "{params}");
        if let Err(log) = kea {
            let message = text.split("invalid: ").nth(1).unwrap().trim();
            assert!(log.contains(message), "Kea's log lacks {message:?}:\n{log}");
        }
    }
}

/// `kea-dhcp4 -t` never runs a hook's load() (2.2, 2.6, 3.0 alike), so it accepts bad hook
/// parameters; `-T` (2.6 and 3.0 only) does, and refuses them with the hook's message. This is
/// why the checker exists for 2.2 and why the Ansible role uses `-T` where Kea has it.
#[test]
fn config_check_flags_per_series() {
    let topo = Topology::new(1).unwrap();
    let bad = config(&topo, json!({"servers": ["10.0.0.300"]}));
    let good = config(&topo, json!({"servers": ["10.0.0.3"]}));
    let (ok, out) = check_config(&topo.server, &bad);
    assert!(
        ok,
        "-t ran the hook's load() on Kea {}:\n{out}",
        install().version()
    );
    match check_config_with_hooks(&topo.server, &bad) {
        None => assert!(!install().version().at_least(2, 6, 0)),
        Some((ok, out)) => {
            assert!(!ok, "-T accepted bad hook parameters:\n{out}");
            assert!(
                out.contains(concat!(
                    "CISCO_TFTP_CONFIG_REJECTED configuration rejected: ",
                    r#"parameter 'servers[0]': not an IPv4 address: "10.0.0.300""#
                )),
                "{out}"
            );
            let (ok, out) = check_config_with_hooks(&topo.server, &good).unwrap();
            assert!(ok, "-T refused a good configuration:\n{out}");
        }
    }
}

/// `cisco-tftp-check --same-parameters A B` compares the hook parameters of a Kea HA pair's
/// two configuration files: the same (defaults written out or not) passes, a drifted server
/// list fails naming the parameter.
#[test]
fn cisco_tftp_check_compares_the_parameters_of_two_servers() {
    let kea_install = install();
    let topo = Topology::new(1).unwrap();
    let scratch = kea_install.scratch_dir().unwrap();
    let write = |name: &str, params: Value| {
        let file = scratch.path().join(name);
        std::fs::write(&file, json!({"Dhcp4": config(&topo, params)}).to_string()).unwrap();
        kea_install.inside_path(&file)
    };
    let a = write("a.conf", json!({"servers": ["10.201.1.10"]}));
    let a2 = write(
        "a2.conf",
        json!({"servers": ["10.201.1.10"], "option-66": {"enabled": false}}),
    );
    let b = write("b.conf", json!({"servers": ["10.201.1.11"]}));
    let run = |x: &std::path::Path, y: &std::path::Path| {
        let out = kea_install
            .checker()
            .arg("--same-parameters")
            .arg(x)
            .arg(y)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (code, text) = run(&a, &a2);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("the same hook parameters"), "{text}");
    let (code, text) = run(&a, &b);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("differ in: servers"), "{text}");
}
