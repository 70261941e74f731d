//! Rates: `stats --interval` streams one report per interval while traffic flows.
use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::harness::*;

#[test]
fn interval_reports_stream_rates_of_known_traffic() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    let tree_root = format!("/{}", s.tree.root.strip_prefix(cgroup2()).unwrap().display());
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", &tree_root]).ok();
    let h = s.tree.cgroup("host.slice/receiver.service");
    const RATE: u64 = 2_000_000; // bytes per second, for 6 seconds
    let r = Peer::spawn(&h, None, &format!("tcp-recv {}:7800", c.host_ip)).ready();
    let sender = c.peer(&format!("tcp-rate {}:7800 {RATE} 6", c.host_ip));
    let mut stats = na
        .cmd(&["stats", "--interval", "1", "--count", "4", "--format", "ndjson"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines: Vec<serde_json::Value> = BufReader::new(stats.stdout.take().unwrap())
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).expect("one JSON object per line"))
        .collect();
    assert!(stats.wait().unwrap().success());
    sender.finish();
    r.finish();
    assert_eq!(lines.len(), 4, "--count 4 gives four reports");
    let tx_rate = |v: &serde_json::Value| {
        v["cgroups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["cgroup_id"] == c.cgroup.id)
            .map(|r| r["tx_bytes_per_s"].as_f64().unwrap())
    };
    for v in &lines {
        assert_eq!(v["schema"], 1);
        assert!(v["interval_s"].as_f64().unwrap() > 0.5, "{v}");
        for row in v["cgroups"].as_array().unwrap() {
            assert!(
                row["rx_bytes_per_s"].as_f64().unwrap() >= 0.0
                    && row["tx_bytes_per_s"].as_f64().unwrap() >= 0.0
            );
        }
    }
    // The middle reports lie wholly inside the 6 s of traffic.
    for v in &lines[1..3] {
        let got = tx_rate(v).unwrap_or_else(|| panic!("no row for the sender: {v}"));
        assert!(
            (got - RATE as f64).abs() <= 0.2 * RATE as f64,
            "sender tx {got:.0} B/s, sent at {RATE} B/s: {v}"
        );
    }
}
