//! Churn and hot-plug: `attach --all-veth --watch` attaches veths as containers come and
//! go; every short-lived container is counted, named after it is gone, and nothing is lost.
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::*;

const CONTAINERS: u64 = 200;

#[test]
fn two_hundred_short_lived_containers_are_each_counted_and_named() {
    let Some(s) = scene(0, true) else { return };
    let na = &s.na;
    na.run(&["load"]).ok();
    let mut watch = na
        .cmd(&["attach", "--all-veth", "--watch", "--format", "ndjson"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(watch.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("watching") {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "the watch ended before it started");
    }
    let h = s.tree.cgroup("host.slice/receiver.service");
    let mut sent = Vec::new();
    let mut slowest = Duration::ZERO;
    for i in 0..CONTAINERS {
        let c = Container::new(&s.tree);
        // The watch attaches the new veth on its link event.
        let t = Instant::now();
        let attached = || tc_filters(&c.host_if, "ingress").contains("tc_ingress");
        assert!(
            poll_until(Duration::from_secs(10), Duration::from_millis(5), attached),
            "{} was not attached",
            c.host_if
        );
        slowest = slowest.max(t.elapsed());
        let bytes = 20_000 + 100 * i;
        let retrans = c.send(&c.cgroup, &h, 8000, bytes).retrans;
        let cg = c.cgroup.clone();
        drop(c); // the container goes: its namespace and veth, then its cgroup
        std::fs::remove_dir(&cg.path).unwrap();
        sent.push((cg, bytes, retrans));
    }
    let _ = std::process::Command::new("kill").args(["-TERM", &watch.id().to_string()]).status();
    assert!(watch.wait().unwrap().success(), "the watch ends cleanly on SIGTERM");
    eprintln!("measured: slowest attach after a veth appeared: {slowest:?}");

    let st = na.run(&["stats", "--source", "tc", "--format", "json"]).ok().json();
    let rows = st["cgroups"].as_array().unwrap();
    let (mut payload, mut counted, mut packets, mut resent) = (0, 0, 0, 0);
    for (cg, bytes, retrans) in &sent {
        let r = rows
            .iter()
            .find(|r| r["cgroup_id"] == cg.id)
            .unwrap_or_else(|| panic!("{} was not counted", cg.rel));
        let (tx, pk) = (r["tx_bytes"].as_u64().unwrap(), r["tx_packets"].as_u64().unwrap());
        let allowed = 100 * pk + PER_RETRANSMISSION * retrans;
        assert!(
            tx >= *bytes && tx <= bytes + allowed,
            "{}: {tx} B / {pk} pkts for {bytes} B ({retrans} segments retransmitted)",
            cg.rel
        );
        assert_eq!(r["gone"], true);
        assert_eq!(r["path"], cg.rel.as_str(), "named by the kernel's record after it was gone");
        assert_eq!(r["kind"], "container");
        payload += bytes;
        counted += tx;
        packets += pk;
        resent += retrans;
    }
    assert!(
        counted >= payload && counted <= payload + 100 * packets + PER_RETRANSMISSION * resent,
        "{counted} B counted for {payload} B sent"
    );
    // The removed interfaces were forgotten: no record or owner is left for them.
    let status = na.run(&["status", "--format", "json"]).ok().json();
    let attachments =
        status["maps"].as_array().unwrap().iter().find(|m| m["name"] == "attachments").unwrap().clone();
    assert!(
        attachments["entries"].as_u64().unwrap() < 10,
        "records of removed veths are dropped: {attachments}"
    );
}
