//! The deploy/ files: they parse, every netattr command in them is a valid invocation, and
//! the capabilities, host paths, ports and metric names they name are the ones the code uses.
use std::collections::BTreeSet;
use std::path::Path;

use clap::Parser;
use netattr::cli::{Cli, DEFAULT_PIN_DIR};
use netattr::core::metrics::{LABELS, NAMES};
use netattr::sys::NEEDED_CAPS;
use serde::Deserialize;
use serde_json::Value;

fn file(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

fn needed_caps() -> BTreeSet<String> {
    NEEDED_CAPS.iter().map(|(_, n)| n.trim_start_matches("CAP_").to_string()).collect()
}

/// The command line parses as netattr's, with the pin dir under bpffs.
fn valid(args: &[String]) -> Cli {
    let mut argv = vec!["netattr".to_string()];
    argv.extend(args.iter().cloned());
    Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?} is not a netattr command: {e}"))
}

#[test]
fn the_daemonset_asks_for_what_netattr_uses_and_no_more() {
    let docs: Vec<Value> = serde_norway::Deserializer::from_str(&file("deploy/kubernetes/netattr.yaml"))
        .map(|d| Value::deserialize(d).unwrap())
        .collect();
    let ds = docs.iter().find(|d| d["kind"] == "DaemonSet").expect("a DaemonSet");
    let pod = &ds["spec"]["template"]["spec"];
    for forbidden in ["hostNetwork", "hostPID", "hostIPC"] {
        assert!(pod.get(forbidden).is_none_or(|v| v == false), "{forbidden} is not needed");
    }
    let all: Vec<&Value> = pod["initContainers"]
        .as_array()
        .unwrap()
        .iter()
        .chain(pod["containers"].as_array().unwrap())
        .collect();
    let mut commands = Vec::new();
    for c in &all {
        let sc = &c["securityContext"];
        assert_ne!(sc["privileged"], true, "{}", c["name"]);
        assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
        let added: BTreeSet<String> = sc["capabilities"]["add"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(added, needed_caps(), "{}: the capabilities netattr checks for", c["name"]);
        let env = c["env"].as_array().unwrap();
        let pin = env.iter().find(|e| e["name"] == "NETATTR_PIN_DIR").unwrap()["value"].as_str().unwrap();
        assert_eq!(pin, DEFAULT_PIN_DIR);
        let args: Vec<String> =
            c["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
        valid(&args);
        commands.push(args[0].clone());
        let mounts: BTreeSet<&str> =
            c["volumeMounts"].as_array().unwrap().iter().map(|m| m["mountPath"].as_str().unwrap()).collect();
        // bpffs for the pins, cgroup2 for ids and attachment, the kubelet's pod logs for names;
        // the ledger's directory for the recorder (serve --record) only; the runtimes' records
        // for pod labels for serve only.
        let defaults = Cli::try_parse_from(["netattr", "status"]).unwrap().global;
        let mut used: BTreeSet<&str> = [
            Path::new(DEFAULT_PIN_DIR).parent().unwrap().to_str().unwrap(),
            "/sys/fs/cgroup",
            defaults.pods_dir.to_str().unwrap(),
        ]
        .into();
        if args.iter().any(|a| a == "--record") {
            used.insert(Path::new(netattr::ledger::DEFAULT_PATH).parent().unwrap().to_str().unwrap());
        }
        // Pod labels, for the container that names what it serves and records.
        if args[0] == "serve" {
            used.insert(defaults.containerd_socket.parent().unwrap().to_str().unwrap());
            used.insert(defaults.crio_dir.to_str().unwrap());
        }
        assert_eq!(mounts, used, "{}", c["name"]);
    }
    assert_eq!(commands, ["load", "attach", "serve"]);
    let pre_stop = &pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"];
    assert_eq!(pre_stop, &serde_json::json!(["netattr", "cleanup"]));
    // Volumes are exactly the mounted host paths.
    let host: BTreeSet<&str> =
        pod["volumes"].as_array().unwrap().iter().map(|v| v["hostPath"]["path"].as_str().unwrap()).collect();
    let labels = ["/run/containerd", "/var/lib/containers/storage/overlay-containers"];
    assert_eq!(
        host,
        [&["/sys/fs/bpf", "/sys/fs/cgroup", "/var/log/pods", "/var/lib/netattr"][..], &labels]
            .concat()
            .into_iter()
            .collect()
    );
    assert!(
        pod["containers"][0]["args"].as_array().unwrap().iter().any(|a| a == "--record"),
        "the DaemonSet records"
    );
    // Prometheus finds the port serve listens on; the probes use /healthz.
    let serve = &pod["containers"][0];
    let listen = serve["args"][2].as_str().unwrap();
    let annotations = &ds["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert_eq!(listen, format!("0.0.0.0:{}", annotations["prometheus.io/port"].as_str().unwrap()));
    assert_eq!(
        serve["ports"][0]["containerPort"].as_u64().unwrap().to_string(),
        listen.rsplit(':').next().unwrap()
    );
    assert_eq!(serve["livenessProbe"]["httpGet"]["path"], "/healthz");
}

#[test]
fn the_systemd_unit_runs_valid_commands_with_the_needed_capabilities() {
    let unit = file("deploy/systemd/netattr.service");
    let mut verbs = Vec::new();
    for line in unit.lines() {
        if let Some((key, value)) = line.split_once('=') {
            if key.starts_with("Exec") {
                let mut words = value.split_whitespace();
                // A bare name: systemd finds it in /usr/bin (the .deb) or /usr/local/bin (by hand).
                assert_eq!(words.next(), Some("netattr"));
                let args: Vec<String> = words.map(String::from).collect();
                valid(&args);
                verbs.push((key.to_string(), args[0].clone()));
            }
            if key == "CapabilityBoundingSet" {
                let caps: BTreeSet<String> =
                    value.split_whitespace().map(|c| c.trim_start_matches("CAP_").to_string()).collect();
                assert_eq!(caps, needed_caps());
            }
            if key == "Environment" {
                assert_eq!(value, format!("NETATTR_PIN_DIR={DEFAULT_PIN_DIR}"));
            }
        }
    }
    let verbs: Vec<(&str, &str)> = verbs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        verbs,
        [
            ("ExecStartPre", "load"),
            ("ExecStartPre", "attach"),
            ("ExecStart", "serve"),
            ("ExecStopPost", "cleanup")
        ]
    );
    assert!(unit.contains("serve --listen 127.0.0.1:"), "loopback unless told otherwise");
    assert!(
        unit.contains("--record") && unit.contains("StateDirectory=netattr"),
        "the unit records into /var/lib/netattr"
    );
    // systemd's own check, where systemd-analyze exists, on the unit with this build's binary.
    if std::process::Command::new("systemd-analyze").arg("--version").output().is_ok() {
        let dir = std::env::temp_dir().join(format!("netattr-test-{}-unit", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let copy = dir.join("netattr.service");
        std::fs::write(&copy, unit.replace("=netattr ", &format!("={} ", env!("CARGO_BIN_EXE_netattr"))))
            .unwrap();
        let out = std::process::Command::new("systemd-analyze").arg("verify").arg(&copy).output().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(out.status.success(), "systemd-analyze verify: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn the_dashboard_queries_metrics_netattr_exports() {
    let d: Value = serde_json::from_str(&file("deploy/grafana/netattr-dashboard.json")).unwrap();
    let panels = d["panels"].as_array().unwrap();
    assert!(panels.iter().any(|p| p["title"].as_str().unwrap().contains("Top pods by transmit")));
    assert!(panels.iter().any(|p| p["title"].as_str().unwrap().contains("Top pods by receive")));
    let mut exprs: Vec<String> = panels
        .iter()
        .flat_map(|p| {
            p["targets"].as_array().unwrap().iter().map(|t| t["expr"].as_str().unwrap().to_string())
        })
        .collect();
    exprs.push(d["templating"]["list"][1]["definition"].as_str().unwrap().to_string());
    for e in &exprs {
        for word in
            e.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("netattr_"))
        {
            assert!(NAMES.contains(&word), "{word} in '{e}' is not a metric netattr exports");
        }
        // Labels grouped by are netattr's (or Prometheus's own `instance`).
        for group in e.split("by (").skip(1) {
            for label in group.split(')').next().unwrap().split(',').map(str::trim) {
                assert!(label == "instance" || LABELS.contains(&label), "{label} in '{e}'");
            }
        }
    }
}
