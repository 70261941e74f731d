//! The committed completions and man pages match the clap definition, and the JSON examples
//! of docs/json.md match what netattr prints.
use std::path::Path;

use crate::harness::shape_diff;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn completions_and_man_pages_are_fresh() {
    let root = Path::new(ROOT);
    if std::env::var_os("NETATTR_BLESS").is_some() {
        netattr::docs::write_all(root).unwrap();
    }
    for (rel, want) in netattr::docs::generate().unwrap() {
        let have = std::fs::read(root.join(&rel)).unwrap_or_default();
        assert!(have == want, "{rel} is stale: regenerate with 'NETATTR_BLESS=1 cargo test --test it docs'");
    }
}

#[test]
fn the_schema_check_catches_type_and_emptiness_mismatches() {
    use serde_json::json;
    let ok = |d, r| shape_diff("x", &d, &r).is_ok();
    assert!(ok(json!({"a": 1, "b": "s", "c": null}), json!({"a": 2, "b": null, "c": "t"})));
    assert!(!ok(json!({"a": {"b": 1}}), json!({"a": null})), "documented object, printed null");
    assert!(!ok(json!({"a": 1}), json!({"a": "1"})), "number against string");
    assert!(!ok(json!({"a": [1]}), json!({"a": []})), "documented elements, none printed");
    assert!(!ok(json!({"a": []}), json!({"a": [{"b": 1}]})), "undocumented elements");
    assert!(!ok(json!({"a": [{"b": 1}]}), json!({"a": [{"c": 1}]})), "element keys");
    assert!(!ok(json!({"a": 1}), json!({"a": 1, "b": 2})), "extra key");
    assert!(!ok(json!([]), json!({})), "array against object");
}

#[test]
fn readme_json_schema_matches_real_output() {
    use crate::harness::*;
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    let load = na.run(&["load", "--format", "json"]).ok().json();
    same_shape("load", &readme_example("load"), &load);
    // A process in the container, so that its veth has an owner, and traffic to count.
    let port = 9300 + (uniq() % 500) as u16;
    let receiver = c.peer(&format!("tcp-recv {}:{port}", c.ip)).ready();
    let hooks = na.run(&["attach", "--iface", &c.host_if, "--format", "json"]).ok().json();
    same_shape("hooks", &readme_example("hooks"), &hooks);
    let h = s.tree.cgroup("host.slice/sender.service");
    Peer::spawn(&h, None, &format!("tcp-send {}:{port} 20000", c.ip)).finish();
    receiver.finish();
    let stats = na.run(&["stats", "--format", "json"]).ok().json();
    same_shape("stats", &readme_example("stats"), &stats);
    let interval = na.run(&["stats", "--interval", "0.1", "--count", "1", "--format", "json"]).ok().json();
    same_shape("stats-interval", &readme_example("stats-interval"), &interval);
    let resolve = na.run(&["resolve", "--format", "json"]).ok().json();
    same_shape("resolve", &readme_example("resolve"), &resolve);
    let check = run_cmd(std::process::Command::new(BIN).args(["check", "--format", "json"])).json();
    same_shape("check", &readme_example("check"), &check);
    let event = na.run(&["events", "--count", "1", "--format", "ndjson"]).ok().json();
    same_shape("events", &readme_example("events"), &event);
    // A cgroup that is gone, counted by the socket source, for reap to collect.
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let gone = c.run_exited(&s.tree, &h, port + 1, 10_000);
    let reap = na.run(&["reap", "--format", "json"]).ok().json();
    assert!(reap["cgroups"].as_array().unwrap().iter().any(|r| r["cgroup_id"] == gone.id), "{reap}");
    same_shape("reap", &readme_example("reap"), &reap);
    // A ledger that exports to a store (one that does not answer: its backlog waits).
    let dir = TempDir::new();
    let ledger = dir.join("ledger.db");
    na.run(&["record", "--once", "--ledger", ledger.to_str().unwrap()]).ok();
    let nowhere = format!("clickhouse://127.0.0.1:{}/fleet", free_port());
    run_cmd(&mut export_cmd(&nowhere, &ledger, "n")).fails_with("nothing listens there");
    let status = na.run(&["status", "--ledger", ledger.to_str().unwrap(), "--format", "json"]).ok().json();
    same_shape("status", &readme_example("status"), &status);
}

#[test]
fn class_documents_match_the_docs() {
    use crate::harness::*;
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    na.run(&["load", "--breakdown", "class"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let (h, r) = (s.tree.cgroup("host.slice/sender.service"), s.tree.cgroup("host.slice/recv.service"));
    let port = 9800 + (uniq() % 100) as u16;
    let recv = Peer::spawn(&r, None, &format!("udp-recv 127.0.0.1:{port} 5000")).ready();
    Peer::spawn(&h, None, &format!("udp-send 127.0.0.1:{port} 10 500")).finish();
    recv.finish();
    let stats = na.run(&["stats", "--by", "class", "--format", "json"]).ok().json();
    same_shape("stats-class", &readme_example("stats-class"), &stats);
    let grouped = na.run(&["stats", "--by", "class", "--group", "class", "--format", "json"]).ok().json();
    let mut doc = readme_example("stats-group");
    doc["group_by"] = serde_json::json!(["class"]);
    doc["groups"][0]["group"] = serde_json::json!({ "class": "loopback" });
    same_shape("stats-group", &doc, &grouped);
    let classes = na.run(&["classes", "--format", "json"]).ok().json();
    same_shape("classes", &readme_example("classes"), &classes);
}

#[test]
fn the_report_document_matches_the_docs() {
    use crate::harness::*;
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let dir = TempDir::new();
    let ledger = dir.join("ledger.db");
    let (h, r) = (s.tree.cgroup("host.slice/sender.service"), s.tree.cgroup("host.slice/recv.service"));
    let port = 9900 + (uniq() % 90) as u16;
    let recv = Peer::spawn(&r, None, &format!("udp-recv 127.0.0.1:{port} 5000")).ready();
    Peer::spawn(&h, None, &format!("udp-send 127.0.0.1:{port} 10 500")).finish();
    recv.finish();
    na.run(&["record", "--once", "--ledger", ledger.to_str().unwrap()]).ok();
    let report = run_cmd(std::process::Command::new(BIN).args([
        "report",
        "--ledger",
        ledger.to_str().unwrap(),
        "--by",
        "name",
        "--format",
        "json",
    ]))
    .ok()
    .json();
    same_shape("report", &readme_example("report"), &report);
}

/// Every option of every subcommand is in docs/commands.md, in the row of its subcommand
/// (global options in the paragraph about them): an option cannot be added without its doc.
#[test]
fn every_option_of_every_subcommand_is_in_commands_md() {
    use clap::CommandFactory;
    let doc = std::fs::read_to_string(Path::new(ROOT).join("docs/commands.md")).unwrap();
    let cli = netattr::Cli::command();
    let global: Vec<String> =
        cli.get_arguments().filter_map(|a| a.get_long().map(|l| format!("--{l}"))).collect();
    let mut missing = Vec::new();
    for g in &global {
        if !doc.contains(&format!("`{g}")) {
            missing.push(format!("global {g}"));
        }
    }
    let mut check = |path: String, cmd: &clap::Command| {
        // The rows that document this subcommand: lines starting with "| `netattr <path>".
        // (A nested subcommand, such as `classes set`, shares its parent's rows.)
        let top = path.split(' ').next().unwrap_or_default();
        let rows: Vec<&str> = doc.lines().filter(|l| l.starts_with(&format!("| `netattr {top}"))).collect();
        if rows.is_empty() {
            missing.push(format!("netattr {path}: no row"));
            return;
        }
        for a in cmd.get_arguments() {
            let Some(long) = a.get_long() else { continue };
            let long = format!("--{long}");
            if a.is_global_set() || global.contains(&long) || long == "--help" {
                continue;
            }
            if !rows.iter().any(|r| r.contains(&long)) {
                missing.push(format!("netattr {path} {long}"));
            }
        }
    };
    for sub in cli.get_subcommands() {
        let name = sub.get_name().to_string();
        if name == "help" || sub.is_hide_set() {
            continue;
        }
        check(name.clone(), sub);
        for s2 in sub.get_subcommands().filter(|s| s.get_name() != "help") {
            check(format!("{name} {}", s2.get_name()), s2);
        }
    }
    assert!(missing.is_empty(), "docs/commands.md lacks (add each to its subcommand's row): {missing:#?}");
}

/// docs/walkthrough.md is real output (scripts/walkthrough.sh regenerates it): the figures in
/// it that a change of netattr would make stale are what netattr prints now: the capabilities
/// `check` asks for, the map layout and the number of maps `status` lists, and the pins
/// `cleanup` removes.
#[test]
fn the_walkthrough_shows_what_netattr_prints_now() {
    use crate::harness::*;
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    let doc = std::fs::read_to_string(Path::new(ROOT).join("docs/walkthrough.md")).unwrap();
    let stale = |what: &str, want: &str| {
        format!("docs/walkthrough.md shows {what} that netattr no longer prints ({want}): regenerate it with 'sudo scripts/walkthrough.sh'")
    };
    let check = run_cmd(std::process::Command::new(BIN).args(["check", "--format", "json"])).json();
    let caps = check["checks"].as_array().unwrap().iter().find(|c| c["name"] == "privileges").unwrap()
        ["detail"]
        .as_str()
        .unwrap()
        .to_string();
    let line = doc.lines().find(|l| l.starts_with("privileges")).expect("the walkthrough's check");
    assert!(line.ends_with(&caps), "{}", stale("other capabilities", &caps));
    na.run(&["load", "--breakdown", "iface,port"]).ok();
    let st = na.run(&["status", "--format", "json"]).ok().json();
    let layout = format!("map layout {}", st["layout_version"]);
    assert!(doc.contains(&layout), "{}", stale("another map layout", &layout));
    let maps = st["maps"].as_array().unwrap().len();
    let table = doc.split("\nMAP ").nth(1).expect("the walkthrough's status");
    let shown = table.lines().skip(1).take_while(|l| !l.trim().is_empty()).count();
    assert_eq!(shown, maps, "{}", stale(&format!("{shown} maps"), &format!("{maps} maps")));
    let cleanup = na.run(&["cleanup"]).ok();
    let removed =
        cleanup.stderr.split("removed ").nth(1).and_then(|r| r.split(' ').next()).unwrap_or("?").to_string();
    let want = format!("removed {removed} pin(s)");
    assert!(doc.contains(&want), "{}", stale("another pin count", &want));
}

/// A walkthrough session's shape: each command (its subcommand words) and its first output
/// line with numbers, paths of the test's own and spacing normalized.
fn session_shape(text: &str, pin: &str, tree: &str) -> Vec<(String, String)> {
    let norm = |l: &str| -> String {
        let l = l.replace(pin, "PIN").replace(tree, "").replace("/sys/fs/bpf/netattr-walkthrough", "PIN");
        let digits: String = l.chars().map(|c| if c.is_ascii_digit() { '#' } else { c }).collect();
        digits.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(l) = lines.next() {
        let Some(cmd) = l.strip_prefix("$ sudo netattr ") else { continue };
        let words: Vec<&str> = cmd.split_whitespace().take_while(|w| !w.starts_with("--")).collect();
        let first = lines.next().map(norm).unwrap_or_default();
        out.push((words.join(" "), first));
    }
    out
}

/// The walkthrough script run here (the test's own names, pin directory and cgroup tree; it
/// attaches to every veth, so it runs alone) prints the session docs/walkthrough.md shows: the
/// same commands in the same order, each answering with the same first line (numbers, ids
/// and times apart).
#[test]
fn the_walkthrough_script_prints_the_session_the_doc_shows() {
    use crate::harness::*;
    let Some(s) = scene(0, true) else { return };
    for tool in ["iperf3", "jq"] {
        if std::process::Command::new(tool).arg("--version").output().is_err() {
            skip(
                &format!("no {tool} (apt-get install {tool})"),
                &format!("{tool} missing (.ci/run installs it)"),
            );
            return;
        }
    }
    let pin = s.na.pin_dir.display().to_string();
    let ns = format!("w{}x{}", std::process::id() % 10000, uniq());
    let out = std::process::Command::new(Path::new(ROOT).join("scripts/walkthrough.sh"))
        .env("WALK_NETATTR", BIN)
        .env("WALK_PIN", &pin)
        .env("WALK_NS", &ns)
        .env("WALK_CGROUP", &s.tree.root)
        .env("WALK_CGROUP_REL", s.tree.rel())
        .env("WALK_NET", "10.229.1")
        .env("WALK_DOC", "-")
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "walkthrough.sh: {}{}", printed, String::from_utf8_lossy(&out.stderr));
    let doc = std::fs::read_to_string(Path::new(ROOT).join("docs/walkthrough.md")).unwrap();
    let tree = s.tree.rel();
    assert_eq!(
        session_shape(&printed, &pin, &tree),
        session_shape(&doc, &pin, &tree),
        "docs/walkthrough.md is not what scripts/walkthrough.sh prints now: regenerate it with 'sudo scripts/walkthrough.sh'"
    );
}
