//! The port breakdown where the packet's layout is not the common one, and the kernel's
//! record of cgroups whose names it cannot hold whole.
use std::time::Duration;

use crate::harness::*;

/// A tun device of this test (layer 3: no Ethernet header); Drop removes it.
struct Tun(String);

impl Drop for Tun {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip").args(["link", "del", &self.0]).status();
    }
}

fn port_rows(na: &Netattr, source: &str) -> Vec<serde_json::Value> {
    let st = na.run(&["stats", "--by", "port", "--source", source, "--format", "json"]).ok().json();
    st["cgroups"].as_array().unwrap().clone()
}

#[test]
fn the_port_breakdown_reads_a_layer_3_device_from_its_network_header() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    let n = uniq() % 200 + 20;
    let tun = Tun(format!("natun{}x{n}", std::process::id() % 10000));
    sh(&["ip", "tuntap", "add", "dev", &tun.0, "mode", "tun"]);
    mark_link(&tun.0);
    // A pretend internet behind the tun (documentation ranges).
    sh(&["ip", "addr", "add", "198.51.100.1/32", "dev", &tun.0]);
    sh(&["ip", "link", "set", &tun.0, "up"]);
    let dst_net = format!("203.0.113.{n}");
    sh(&["ip", "route", "add", &format!("{dst_net}/32"), "dev", &tun.0]);
    na.run(&["load", "--breakdown", "port,class"]).ok();
    na.run(&["attach", "--iface", &tun.0]).ok();
    let sender = s.tree.cgroup("host.slice/tunnel-user.service");
    let port = 5300 + n as u16;
    // 20 datagrams of 500 bytes into the tun (nobody reads it: tc egress still sees them).
    Peer::spawn(&sender, None, &format!("udp-send {dst_net}:{port} 20 500")).finish();
    let rows = settled(|| port_rows(na, "tc"));
    let row = rows
        .iter()
        .find(|r| r["cgroup_id"] == sender.id)
        .unwrap_or_else(|| panic!("no tc row for the sender: {rows:?}"));
    assert_eq!(row["protocol"], "udp", "{row}");
    assert_eq!(row["port"], port, "{row}");
    // 20 IPv4+UDP headers (28 bytes) on 500-byte payloads: no Ethernet header on a tun.
    assert_eq!(row["tx_bytes"], 20 * 528, "{row}");
    // The class comes from the destination read at the network header, here at offset 0.
    let st = na.run(&["stats", "--by", "class", "--source", "tc", "--format", "json"]).ok().json();
    let classes: Vec<_> =
        st["cgroups"].as_array().unwrap().iter().filter(|r| r["cgroup_id"] == sender.id).collect();
    assert_eq!(classes.len(), 1, "{classes:?}");
    assert_eq!(
        (classes[0]["class"].as_str(), classes[0]["tx_bytes"].as_u64()),
        (Some("internet"), Some(20 * 528))
    );
}

#[test]
fn ipv6_extension_headers_are_walked_to_the_transport() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    na.run(&["load", "--breakdown", "port"]).ok();
    na.run(&["attach", "--iface", &c.host_if]).ok();
    // A link coming up sends MLD reports: ICMPv6 behind a hop-by-hop header.
    sh(&["ip", "-n", &c.ns.name, "link", "set", "eth0", "down"]);
    sh(&["ip", "-n", &c.ns.name, "link", "set", "eth0", "up"]);
    let icmpv6 = || port_rows(na, "tc").into_iter().find(|r| r["protocol"] == "icmpv6");
    if !poll_until(Duration::from_secs(6), Duration::from_millis(100), || icmpv6().is_some()) {
        panic!("no icmpv6 row (MLD behind hop-by-hop): {:?}", port_rows(na, "tc"));
    }
    let r = icmpv6().unwrap();
    assert_eq!(r["port"], 0, "{r}");
}

#[test]
fn a_cgroup_name_longer_than_the_kernel_record_holds_is_marked_cut() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let long = format!("{}.scope", "n".repeat(200));
    let sender = s.tree.cgroup(&format!("system.slice/{long}"));
    let to = s.tree.cgroup("host.slice/receiver.service");
    let port = 9900 + (uniq() % 90) as u16;
    let r = Peer::spawn(&to, None, &format!("tcp-recv 127.0.0.1:{port}")).ready();
    Peer::spawn(&sender, None, &format!("tcp-send 127.0.0.1:{port} 10000")).finish();
    r.finish();
    std::fs::remove_dir(&sender.path).unwrap();
    let named = na.run(&["resolve", &sender.id.to_string(), "--format", "json"]).ok().json();
    let path = named["cgroups"][0]["path"].as_str().unwrap_or_else(|| panic!("{named}")).to_string();
    assert_eq!(named["cgroups"][0]["state"], "gone", "{named}");
    let kept = &long[..127];
    assert!(path.ends_with(&format!("/system.slice/{kept}…")), "{path}");
}
