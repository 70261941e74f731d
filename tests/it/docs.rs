//! The committed completions and man pages match the clap definition, and the JSON examples
//! of docs/json.md match what netattr prints.
use std::path::Path;

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

/// The JSON example after `<!-- schema:NAME -->` in docs/json.md.
fn readme_example(name: &str) -> serde_json::Value {
    let doc = std::fs::read_to_string(Path::new(ROOT).join("docs/json.md")).unwrap();
    let marker = format!("<!-- schema:{name} -->\n```json\n");
    let start = doc.find(&marker).unwrap_or_else(|| panic!("docs/json.md has no {marker}")) + marker.len();
    let end = start + doc[start..].find("```").unwrap();
    serde_json::from_str(&doc[start..end]).unwrap_or_else(|e| panic!("docs/json.md's {name} example: {e}"))
}

/// Every object in `real` has exactly the keys of the matching object in `doc`, every value
/// the documented JSON type (null stands in for any scalar on either side, never for an
/// object or an array), recursing into the first element of arrays. An array documented with
/// elements must have some in the real output (else its elements were never compared), and
/// one documented empty must be empty.
fn shape_diff(path: &str, doc: &serde_json::Value, real: &serde_json::Value) -> Result<(), String> {
    use serde_json::Value::*;
    let kind = |v: &serde_json::Value| match v {
        Null => "null",
        Bool(_) => "boolean",
        Number(_) => "number",
        String(_) => "string",
        Array(_) => "array",
        Object(_) => "object",
    };
    match (doc, real) {
        (Object(d), Object(r)) => {
            let dk: Vec<&std::string::String> = d.keys().collect();
            let rk: Vec<&std::string::String> = r.keys().collect();
            if dk != rk {
                return Err(format!("{path}: docs/json.md documents {dk:?}, netattr prints {rk:?}"));
            }
            for (k, v) in d {
                shape_diff(&format!("{path}.{k}"), v, &r[k])?;
            }
            Ok(())
        }
        (Array(d), Array(r)) => match (d.first(), r.first()) {
            (Some(d0), Some(r0)) => shape_diff(&format!("{path}[]"), d0, r0),
            (None, None) => Ok(()),
            (Some(_), None) => Err(format!(
                "{path}: docs/json.md shows elements, netattr printed none (the test must make some)"
            )),
            (None, Some(r0)) => Err(format!("{path}: docs/json.md shows no element, netattr printed {r0}")),
        },
        (Null, Bool(_) | Number(_) | String(_)) | (Bool(_) | Number(_) | String(_), Null) => Ok(()),
        (d, r) if kind(d) == kind(r) => Ok(()),
        (d, r) => {
            Err(format!("{path}: docs/json.md documents {} ({d}), netattr prints {} ({r})", kind(d), kind(r)))
        }
    }
}

fn same_shape(path: &str, doc: &serde_json::Value, real: &serde_json::Value) {
    if let Err(e) = shape_diff(path, doc, real) {
        panic!("{e}");
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
