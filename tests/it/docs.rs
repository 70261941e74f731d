//! The committed completions and man pages match the clap definition, and the README's
//! JSON examples match what netattr prints.
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

/// The JSON example after `<!-- schema:NAME -->` in the README.
fn readme_example(name: &str) -> serde_json::Value {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let marker = format!("<!-- schema:{name} -->\n```json\n");
    let start = readme.find(&marker).unwrap_or_else(|| panic!("README has no {marker}")) + marker.len();
    let end = start + readme[start..].find("```").unwrap();
    serde_json::from_str(&readme[start..end]).unwrap_or_else(|e| panic!("README's {name} example: {e}"))
}

/// Every object in `real` has exactly the keys of the matching object in `doc`, recursing
/// into the first element of arrays.
fn same_shape(path: &str, doc: &serde_json::Value, real: &serde_json::Value) {
    use serde_json::Value::*;
    match (doc, real) {
        (Object(d), Object(r)) => {
            let dk: Vec<&std::string::String> = d.keys().collect();
            let rk: Vec<&std::string::String> = r.keys().collect();
            assert_eq!(dk, rk, "{path}: README documents {dk:?}, netattr prints {rk:?}");
            for (k, v) in d {
                same_shape(&format!("{path}.{k}"), v, &r[k]);
            }
        }
        (Array(d), Array(r)) => {
            if let (Some(d0), Some(r0)) = (d.first(), r.first()) {
                same_shape(&format!("{path}[]"), d0, r0);
            }
        }
        _ => {}
    }
}

#[test]
fn readme_json_schema_matches_real_output() {
    use crate::harness::*;
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    let load = na.run(&["load", "--format", "json"]).ok().json();
    same_shape("load", &readme_example("load"), &load);
    let hooks = na.run(&["attach", "--iface", &c.host_if, "--format", "json"]).ok().json();
    same_shape("hooks", &readme_example("hooks"), &hooks);
    let stats = na.run(&["stats", "--format", "json"]).ok().json();
    same_shape("stats", &readme_example("stats"), &stats);
    let interval = na.run(&["stats", "--interval", "0.1", "--count", "1", "--format", "json"]).ok().json();
    same_shape("stats-interval", &readme_example("stats-interval"), &interval);
    let status = na.run(&["status", "--format", "json"]).ok().json();
    same_shape("status", &readme_example("status"), &status);
    let resolve = na.run(&["resolve", "--format", "json"]).ok().json();
    same_shape("resolve", &readme_example("resolve"), &resolve);
    let check = run_cmd(std::process::Command::new(BIN).args(["check", "--format", "json"])).json();
    same_shape("check", &readme_example("check"), &check);
}
