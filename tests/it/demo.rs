//! `netattr demo`: three workloads with the rates they are built for, the bulk sender on top
//! by tx, exit 0, and nothing left behind, at the end of its duration and after SIGTERM.
use std::io::{BufRead, BufReader};
use std::process::Stdio;

use serde_json::Value;

use crate::harness::*;

/// A demo with a unique prefix and pin dir; Drop removes whatever it left.
struct Demo {
    prefix: String,
    pin_dir: String,
}

impl Demo {
    fn new() -> Self {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
        // At most 12 characters: "nt" and a pid of up to 7 digits, '-', one digit.
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let prefix = format!("nt{}-{n}", std::process::id());
        let d = Demo { pin_dir: format!("/sys/fs/bpf/{prefix}"), prefix };
        d.clean();
        d
    }

    fn clean(&self) {
        let _ = std::process::Command::new(BIN)
            .args(["demo", "--clean", "--prefix", &self.prefix, "--pin-dir", &self.pin_dir])
            .output();
    }

    /// Runs the demo with stdout a pipe, reading NDJSON reports; after `stop_after`
    /// reports it sends SIGTERM. Returns the exit code and the reports.
    fn run(&self, runtime: &str, stop_after: Option<usize>) -> (i32, Vec<Value>, String) {
        let mut child = std::process::Command::new(BIN)
            .args(["demo", "--duration", "20", "--runtime", runtime, "--format", "ndjson"])
            .args(["--prefix", &self.prefix, "--pin-dir", &self.pin_dir])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut reports = Vec::new();
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            reports.push(serde_json::from_str(&line.unwrap()).expect("one JSON report per line"));
            if Some(reports.len()) == stop_after {
                // SAFETY: a plain kill(2) of our own child.
                assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
            }
        }
        let out = child.wait_with_output().unwrap();
        (out.status.code().unwrap_or(-1), reports, String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// Nothing of the demo is left: namespaces, links, cgroups, containers, pins, its
    /// nftables table, the forwarding setting it kept.
    fn assert_gone(&self) {
        let p = &self.prefix;
        let table = format!("{}_demo", p.replace('-', "_"));
        assert!(!sh(&["nft", "list", "tables"]).contains(&table), "the nftables table of {p} is left");
        assert!(!std::path::Path::new(&format!("/run/netattr-demo-{p}.ip_forward")).exists());
        assert!(
            !std::path::Path::new(&format!("/run/netattr-demo-{p}.db")).exists(),
            "the demo's ledger is left"
        );
        assert!(!sh(&["ip", "netns", "list"]).contains(p.as_str()), "a namespace of {p} is left");
        assert!(!sh(&["ip", "-o", "link"]).contains(p.as_str()), "a link of {p} is left");
        assert!(!cgroup2().join(format!("{p}.slice")).exists(), "the cgroups of {p} are left");
        assert!(!std::path::Path::new(&self.pin_dir).exists(), "the pins of {p} are left");
        if docker_up() {
            let left = sh(&["docker", "ps", "-a", "--filter", &format!("label=netattr.demo={p}"), "-q"]);
            assert!(left.trim().is_empty(), "containers of {p} are left: {left}");
        }
    }

    /// The tx and rx rates of each workload in one report, by role.
    fn rates(&self, report: &Value) -> Vec<(String, f64, f64)> {
        report["cgroups"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| {
                let name = r["name"].as_str()?.trim_end_matches(".service");
                let role = name.strip_prefix(&format!("{}-", self.prefix))?;
                Some((role.to_string(), r["tx_bytes_per_s"].as_f64()?, r["rx_bytes_per_s"].as_f64()?))
            })
            .collect()
    }

    /// From the third report on (the first ones cover the start): three workloads, each
    /// sending and receiving in every report, and the bulk sender on top by tx at about
    /// 90 Mbit/s on average (50 to the host, 40 to the demo's internet). A one-second report can catch the bulk sender between two
    /// downloads on a busy machine, so its place on top is judged on the average rates and
    /// on most reports, not on every one.
    fn assert_shown(&self, reports: &[Value]) {
        assert!(reports.len() >= 4, "too few reports: {reports:?}");
        let considered = &reports[2..];
        let mut mean_tx: std::collections::BTreeMap<String, f64> = Default::default();
        let mut bulk_first = 0;
        for r in considered {
            let rates = self.rates(r);
            assert_eq!(rates.len(), 3, "three named workloads: {r}");
            for (role, tx, rx) in &rates {
                assert!(*tx > 0.0 && *rx > 0.0, "{role} has a zero rate: {r}");
                *mean_tx.entry(role.clone()).or_default() += tx / considered.len() as f64;
            }
            bulk_first += usize::from(rates[0].0 == "bulk");
        }
        assert!(
            bulk_first * 5 >= considered.len() * 4,
            "bulk on top in {bulk_first} of {} reports",
            considered.len()
        );
        let bulk = mean_tx["bulk"];
        assert!(mean_tx.iter().all(|(role, tx)| role == "bulk" || *tx < bulk), "mean tx rates: {mean_tx:?}");
        let target = 90e6 / 8.0;
        assert!((bulk - target).abs() <= 0.2 * target, "bulk sends {bulk:.0} B/s on average, not ~{target}");
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.clean();
    }
}

#[test]
fn demo_with_docker_runs_its_duration_and_leaves_nothing() {
    if !privileged() || !docker() {
        return;
    }
    // Alone: the demo's traffic (about 10 MB/s and 120 connections a second) would disturb
    // the rate checks of tests beside it, and theirs its own.
    let _alone = exclusive();
    let d = Demo::new();
    let (code, reports, stderr) = d.run("docker", None);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("as Docker containers"), "{stderr}");
    assert!((18..=21).contains(&reports.len()), "about one report a second for 20 s: {}", reports.len());
    d.assert_shown(&reports);
    d.assert_gone();
}

#[test]
fn demo_in_namespaces_stops_on_sigterm_and_leaves_nothing() {
    if !privileged() {
        return;
    }
    // Alone: the demo's traffic (about 10 MB/s and 120 connections a second) would disturb
    // the rate checks of tests beside it, and theirs its own.
    let _alone = exclusive();
    let d = Demo::new();
    // Forwarding off, as on a host without containers: the demo turns it on for its uplink
    // and puts it back (the guard restores the host's own setting after the test).
    let _forward = Sysctl::set("net.ipv4.ip_forward", "0");
    let (code, reports, stderr) = d.run("netns", Some(8));
    let now = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    assert_eq!(now.trim(), "0", "the demo puts IPv4 forwarding back as it was");
    assert_eq!(code, 0, "SIGTERM ends the demo cleanly: {stderr}");
    // It recorded while it ran and reports what the ledger billed each workload.
    assert!(stderr.contains("what the ledger billed"), "{stderr}");
    assert!(stderr.contains(&format!("{}-bulk", d.prefix)), "the report names the workloads: {stderr}");
    assert_eq!(reports.len(), 8, "no report after SIGTERM");
    d.assert_shown(&reports);
    d.assert_gone();
}

#[test]
fn demo_with_docker_stops_on_sigterm_and_leaves_nothing() {
    if !privileged() || !docker() {
        return;
    }
    // Alone: the demo's traffic (about 10 MB/s and 120 connections a second) would disturb
    // the rate checks of tests beside it, and theirs its own.
    let _alone = exclusive();
    let d = Demo::new();
    let (code, _, stderr) = d.run("docker", Some(2));
    assert_eq!(code, 0, "SIGTERM ends the demo cleanly: {stderr}");
    // It recorded while it ran and reports what the ledger billed each workload.
    assert!(stderr.contains("what the ledger billed"), "{stderr}");
    assert!(stderr.contains(&format!("{}-bulk", d.prefix)), "the report names the workloads: {stderr}");
    d.assert_gone();
}
