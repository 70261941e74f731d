//! Destination classes on the real kernel: the contract's NAT topology ("which container
//! burns the uplink"), IPv4 and IPv6, both sources; the IPv6 and ICMP cells of the truth
//! table; classes changed while traffic flows; bad classes files; the host class following
//! the host's addresses.
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;

/// Per-packet header allowance of the bounds (docs/accounting.md).
const PER_PACKET: u64 = 100;

/// Invariant 1: within a source, a cgroup's classes add up to its row, exactly. The two are
/// separate reads of live maps (a neighbour solicitation may arrive between them): a
/// comparison counts when the rows read before and after the classes are the same.
fn classes_add_up(na: &Netattr, source: &str, ids: &[u64]) {
    let mut last = String::new();
    for _ in 0..20 {
        let before = rows(na, source);
        let classes = class_cells(na, source);
        if rows(na, source) != before {
            continue;
        }
        let mut bad = Vec::new();
        for id in ids {
            let mut sum = [0u64; 4];
            for (_, c) in classes.range((*id, String::new())..(*id + 1, String::new())) {
                for i in 0..4 {
                    sum[i] += c[i];
                }
            }
            if Some(&sum) != before.get(id) {
                bad.push(format!("cgroup {id}: classes {sum:?}, row {:?}", before.get(id)));
            }
        }
        if bad.is_empty() {
            return;
        }
        last = format!("{bad:?} in {classes:?}");
    }
    panic!("{source}: classes do not add up to the rows: {last}");
}

/// payload <= bytes <= payload + 100 per packet counted (+ a segment per retransmission).
fn within(what: &str, bytes: u64, packets: u64, payload: u64, retrans: u64) {
    let most = payload + PER_PACKET * packets + PER_RETRANSMISSION * retrans;
    assert!(
        (payload..=most).contains(&bytes),
        "{what}: {bytes} B in {packets} packets, expected {payload}..={most} (retransmissions {retrans})"
    );
}

fn cell(c: &Cells, id: u64, class: &str) -> [u64; 4] {
    c.get(&(id, class.to_string())).copied().unwrap_or_default()
}

fn uplink_bytes(iface: &str) -> (u64, u64) {
    let v: Value = serde_json::from_str(&sh(&["ip", "-s", "-j", "link", "show", iface])).unwrap();
    let s = &v[0]["stats64"];
    (s["rx"]["bytes"].as_u64().unwrap(), s["tx"]["bytes"].as_u64().unwrap())
}

#[test]
fn the_nat_topology_counts_each_class_exactly_ipv4_and_ipv6() {
    // Host-wide: forwarding sysctls and routes to the documentation ranges.
    let Some(s) = scene(0, true) else { return };
    let na = &s.na;
    let _fwd4 = Sysctl::set("net.ipv4.ip_forward", "1");
    let _fwd6 = Sysctl::set("net.ipv6.conf.all.forwarding", "1");
    let br = Bridge::new(None);
    let octet = br.net.rsplit('.').next().unwrap().to_string();
    let v6net = format!("fd77:{octet}::");
    sh(&["ip", "addr", "add", &format!("{v6net}1/64"), "dev", &br.name, "nodad"]);
    let a = Container::on_bridge(&s.tree, &br);
    let b = Container::on_bridge(&s.tree, &br);
    for (c, host) in [(&a, "a"), (&b, "b")] {
        sh(&["ip", "-n", &c.ns.name, "addr", "add", &format!("{v6net}{host}/64"), "dev", "eth0", "nodad"]);
        sh(&["ip", "-n", &c.ns.name, "route", "add", "default", "via", &br.ip]);
        sh(&["ip", "-n", &c.ns.name, "-6", "route", "add", "default", "via", &format!("{v6net}1")]);
    }
    // The uplink: host -- wan -- inet (a pretend internet at documentation addresses).
    let (wan, inet) = (Netns::new(), Netns::new());
    let upl = HostLink(format!("naup{}x{}", std::process::id() % 10000, uniq()));
    sh(&["ip", "link", "add", &upl.0, "type", "veth", "peer", "name", "eth0", "netns", &wan.name]);
    mark_link(&upl.0);
    sh(&["ip", "addr", "add", "203.0.113.1/24", "dev", &upl.0]);
    sh(&["ip", "addr", "add", "2001:db8:ffff::1/64", "dev", &upl.0, "nodad"]);
    sh(&["ip", "link", "set", &upl.0, "up"]);
    in_ns(&wan, &["ip", "addr", "add", "203.0.113.2/24", "dev", "eth0"]);
    in_ns(&wan, &["ip", "addr", "add", "2001:db8:ffff::2/64", "dev", "eth0", "nodad"]);
    in_ns(&wan, &["ip", "link", "set", "eth0", "up"]);
    in_ns(&wan, &["ip", "link", "add", "inet0", "type", "veth", "peer", "name", "eth0", "netns", &inet.name]);
    in_ns(&wan, &["ip", "addr", "add", "198.51.100.1/24", "dev", "inet0"]);
    in_ns(&wan, &["ip", "addr", "add", "2001:db8:100::1/64", "dev", "inet0", "nodad"]);
    in_ns(&wan, &["ip", "link", "set", "inet0", "up"]);
    in_ns(&wan, &["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]);
    in_ns(&inet, &["ip", "addr", "add", "198.51.100.10/24", "dev", "eth0"]);
    in_ns(&inet, &["ip", "addr", "add", "2001:db8:100::10/64", "dev", "eth0", "nodad"]);
    in_ns(&inet, &["ip", "link", "set", "eth0", "up"]);
    in_ns(&inet, &["ip", "route", "add", "default", "via", "198.51.100.1"]);
    in_ns(&inet, &["ip", "-6", "route", "add", "default", "via", "2001:db8:100::1"]);
    sh(&["ip", "route", "add", "198.51.100.0/24", "via", "203.0.113.2", "dev", &upl.0]);
    sh(&["ip", "-6", "route", "add", "2001:db8:100::/64", "via", "2001:db8:ffff::2", "dev", &upl.0]);
    // The host masquerades the containers' traffic out of the uplink.
    let nft = NftTable(format!("netattr_test_{}_{}", std::process::id(), uniq()));
    sh(&["nft", "add", "table", "inet", &nft.0]);
    sh(&["nft", "add", "chain", "inet", &nft.0, "post", "{ type nat hook postrouting priority 100; }"]);
    sh(&["nft", "add", "rule", "inet", &nft.0, "post", "oifname", &upl.0, "masquerade"]);
    let _accept = ForwardAccept::for_ifaces(&[&br.name]);

    // A's IPv4 flows in one cgroup, its IPv6 flows in another (both in A's namespace).
    let a4 = a.cgroup.clone();
    let a6 = s.tree.docker_like();
    let hproc = s.tree.cgroup("host.slice/h.service");
    let iproc = s.tree.cgroup("inet.slice/server.service");
    let _hold = a.peer("sleep").ready(); // A's owner for tc: a process in its namespace
    let _hold_b = b.peer("sleep").ready();
    na.run(&["load", "--breakdown", "class"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    na.run(&["attach", "--iface", &a.host_if, "--iface", &b.host_if]).ok();
    let before = uplink_bytes(&upl.0);

    let port = 20000 + (uniq() as u16 % 1000) * 8;
    let (up, down, private, host) = (2_000_000u64, 1_000_000u64, 500_000u64, 400_000u64);
    let mut retrans = BTreeMap::<(u64, &str), u64>::new();
    // A flow: the listening side first (it says when it is ready), then the client.
    type Side<'a> = (&'a Cgroup, Option<&'a str>, String);
    let mut flow = |who: &Cgroup, class: &'static str, client: Side, listener: Side| {
        let l = Peer::spawn(listener.0, listener.1, &listener.2).ready();
        let c = Peer::spawn(client.0, client.1, &client.2).finish();
        let l = l.finish();
        assert_eq!(c.bytes, l.bytes, "{} / {}", client.2, listener.2);
        *retrans.entry((who.id, class)).or_default() += c.retrans + l.retrans;
    };
    let inet_ns = Some(inet.name.as_str());
    let a_ns = Some(a.ns.name.as_str());
    for (cg, dst, p) in
        [(&a4, "198.51.100.10".to_string(), port), (&a6, "[2001:db8:100::10]".to_string(), port + 1)]
    {
        flow(
            cg,
            "internet",
            (cg, a_ns, format!("tcp-send {dst}:{p} {up}")),
            (&iproc, inet_ns, format!("tcp-recv {dst}:{p}")),
        );
        let p = p + 2;
        flow(
            cg,
            "internet",
            (cg, a_ns, format!("tcp-fetch {dst}:{p}")),
            (&iproc, inet_ns, format!("tcp-serve {dst}:{p} {down}")),
        );
    }
    let b_ns = Some(b.ns.name.as_str());
    for (cg, bdst, hdst, p) in [
        (&a4, b.ip.clone(), br.ip.clone(), port + 4),
        (&a6, format!("[{v6net}b]"), format!("[{v6net}1]"), port + 6),
    ] {
        flow(
            cg,
            "private",
            (cg, a_ns, format!("tcp-send {bdst}:{p} {private}")),
            (&b.cgroup, b_ns, format!("tcp-recv {bdst}:{p}")),
        );
        let p = p + 1;
        flow(
            cg,
            "host",
            (cg, a_ns, format!("tcp-send {hdst}:{p} {host}")),
            (&hproc, None, format!("tcp-recv {hdst}:{p}")),
        );
    }
    let after = settled(|| uplink_bytes(&upl.0));

    // Socket source: each of A's flows in its class, per family.
    let sock = class_cells(na, "socket");
    for cg in [&a4, &a6] {
        let rt = |class: &str| retrans.get(&(cg.id, class)).copied().unwrap_or(0);
        let [rx, tx, rxp, txp] = cell(&sock, cg.id, "internet");
        within("socket internet tx", tx, txp, up, rt("internet"));
        within("socket internet rx", rx, rxp, down, rt("internet"));
        let [rx, tx, rxp, txp] = cell(&sock, cg.id, "private");
        within("socket private tx", tx, txp, private, rt("private"));
        within("socket private rx", rx, rxp, 0, rt("private"));
        let [rx, tx, rxp, txp] = cell(&sock, cg.id, "host");
        within("socket host tx", tx, txp, host, rt("host"));
        within("socket host rx", rx, rxp, 0, rt("host"));
        let classes: Vec<&str> =
            sock.keys().filter(|(id, _)| *id == cg.id).map(|(_, c)| c.as_str()).collect();
        assert_eq!(classes, ["host", "internet", "private"], "socket classes of {}", cg.rel);
    }
    // B received A's private payloads; the host process, A's host payloads.
    within(
        "socket B private rx",
        cell(&sock, b.cgroup.id, "private")[0],
        cell(&sock, b.cgroup.id, "private")[2],
        2 * private,
        2,
    );
    within(
        "socket H private rx",
        cell(&sock, hproc.id, "private")[0],
        cell(&sock, hproc.id, "private")[2],
        2 * host,
        2,
    );
    let ids = [a4.id, a6.id, b.cgroup.id, hproc.id, iproc.id];
    classes_add_up(na, "socket", &ids);

    // tc source: A's veth carries both families, counted to A (its owner).
    let tc = class_cells(na, "tc");
    let all = |class: &str| retrans.iter().filter(|((_, c), _)| *c == class).map(|(_, n)| n).sum::<u64>();
    let [rx, tx, rxp, txp] = cell(&tc, a4.id, "internet");
    within("tc internet tx", tx, txp, 2 * up, all("internet"));
    within("tc internet rx", rx, rxp, 2 * down, all("internet"));
    let [_, tx, _, txp] = cell(&tc, a4.id, "private");
    within("tc private tx", tx, txp, 2 * private, all("private"));
    let [_, tx, _, txp] = cell(&tc, a4.id, "host");
    within("tc host tx", tx, txp, 2 * host, all("host"));
    classes_add_up(na, "tc", &[a4.id, b.cgroup.id]);

    // The uplink's own counters agree with A's internet bytes within the header allowance.
    let [rx4, tx4, rxp4, txp4] = cell(&sock, a4.id, "internet");
    let [rx6, tx6, rxp6, txp6] = cell(&sock, a6.id, "internet");
    let (up_rx, up_tx) = (after.0 - before.0, after.1 - before.1);
    within("uplink tx against A's internet tx", up_tx, txp4 + txp6, tx4 + tx6, 0);
    within("uplink rx against A's internet rx", up_rx, rxp4 + rxp6, rx4 + rx6, 0);
    eprintln!(
        "socket: A4 internet tx {tx4} rx {rx4}, A6 internet tx {tx6} rx {rx6}; uplink tx {up_tx} rx {up_rx}; \
         cells {sock:?}"
    );

    // Workload sends the most to the internet: one command (its table is the README's example).
    let table =
        na.run(&["stats", "--by", "class", "--class", "internet", "--sort", "tx", "--source", "socket"]).ok();
    eprintln!("{}", table.stdout);
    let st = na
        .run(&[
            "stats", "--by", "class", "--class", "internet", "--sort", "tx", "--source", "socket",
            "--format", "json",
        ])
        .ok()
        .json();
    let first = &st["cgroups"][0];
    assert_eq!(first["class"], "internet");
    assert!(first["cgroup_id"] == a4.id || first["cgroup_id"] == a6.id, "{first}");
    assert!(st["cgroups"].as_array().unwrap().iter().all(|r| r["class"] == "internet"));
}

#[test]
fn ipv6_and_icmp_cells_of_the_truth_table() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    let octet = c.host_ip.split('.').nth(2).unwrap().to_string();
    let (host6, ctr6) = (format!("fd78:{octet}::1"), format!("fd78:{octet}::2"));
    sh(&["ip", "addr", "add", &format!("{host6}/64"), "dev", &c.host_if, "nodad"]);
    sh(&["ip", "-n", &c.ns.name, "addr", "add", &format!("{ctr6}/64"), "dev", "eth0", "nodad"]);
    na.run(&["load", "--breakdown", "class"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let icmp4 = s.tree.docker_like();
    let icmp6 = s.tree.docker_like();
    let udp6 = s.tree.docker_like();
    let tcp6 = s.tree.docker_like();
    let recv = s.tree.cgroup("host.slice/recv.service");
    for (cg, dst) in [(&icmp4, c.host_ip.as_str()), (&icmp6, host6.as_str())] {
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns", "exec", &c.ns.name, "ping", "-q", "-n", "-c", "10", "-i", "0.01", "-s", "1000", "-W",
            "2", dst,
        ]);
        in_cgroup(&mut cmd, cg);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "ping {dst}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let port = 21000 + (uniq() as u16 % 1000) * 2;
    let r = Peer::spawn(&recv, None, &format!("udp-recv [{host6}]:{port} 10000")).ready();
    c.peer_in(&udp6, &format!("udp-send [{host6}]:{port} 20 500")).finish();
    assert_eq!(r.finish().bytes, 10_000);
    let r = Peer::spawn(&recv, None, &format!("tcp-recv [{host6}]:{}", port + 1)).ready();
    let sent = c.peer_in(&tcp6, &format!("tcp-send [{host6}]:{} 1000000", port + 1)).finish();
    r.finish();
    let sock = settled(|| class_cells(na, "socket"));
    // Echo request and reply: 10 x (IPv4 20 + ICMP 8 + 1000) and 10 x (IPv6 40 + 8 + 1000),
    // exactly: the socket source counts the ping socket's packets and nothing else.
    assert_eq!(cell(&sock, icmp4.id, "host"), [10_280, 10_280, 10, 10], "{sock:?}");
    assert_eq!(cell(&sock, icmp6.id, "host"), [10_480, 10_480, 10, 10], "{sock:?}");
    // UDP over IPv6: 20 x (40 + 8 + 500), exactly.
    assert_eq!(cell(&sock, udp6.id, "host"), [0, 10_960, 0, 20], "{sock:?}");
    let [rx, tx, rxp, txp] = cell(&sock, tcp6.id, "host");
    within("tcp over ipv6 tx", tx, txp, 1_000_000, sent.retrans);
    within("tcp over ipv6 rx", rx, rxp, 0, 0);
    // The receiving side sees the sender's address: the container's, a private one.
    let [rx, _, rxp, _] = cell(&sock, recv.id, "private");
    within("receiver rx (udp and tcp over ipv6)", rx, rxp, 1_010_000, sent.retrans);
    classes_add_up(na, "socket", &[icmp4.id, icmp6.id, udp6.id, tcp6.id, recv.id]);
    eprintln!("ipv6/icmp cells: {sock:?}");
}

#[test]
fn classes_change_while_traffic_flows_without_losing_or_doubling_a_packet() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    na.run(&["load", "--breakdown", "class"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let net = c.ip.rsplit_once('.').unwrap().0.to_string();
    let dir = TempDir::new();
    let (fa, fb) = (dir.join("a.toml"), dir.join("b.toml"));
    std::fs::write(&fa, format!("[classes]\nlan-a = [\"{net}.0/24\"]\n")).unwrap();
    std::fs::write(&fb, format!("[classes]\nlan-b = [\"{net}.0/24\"]\n")).unwrap();
    let recv = s.tree.cgroup("host.slice/recv.service");
    let sender = c.cgroup.clone();
    let port = 22000 + (uniq() as u16 % 1000);
    let dst = format!("{}:{port}", c.host_ip);
    let r = Peer::spawn(&recv, None, &format!("tcp-recv {dst}")).ready();
    // 4 MB/s for 2 s, while the classes are swapped back and forth.
    let p = c.peer(&format!("tcp-rate {dst} 4000000 2"));
    let start = Instant::now();
    let mut swaps = 0;
    while start.elapsed() < Duration::from_millis(1800) {
        let f = if swaps % 2 == 0 { &fa } else { &fb };
        na.run(&["classes", "set", f.to_str().unwrap()]).ok();
        swaps += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = p.finish();
    assert_eq!(r.finish().bytes, sent.bytes);
    let sock = settled(|| class_cells(na, "socket"));
    let (a, b) = (cell(&sock, recv.id, "lan-a"), cell(&sock, recv.id, "lan-b"));
    assert!(a[0] > 0 && b[0] > 0, "both tables classified some of the flow ({swaps} swaps): {sock:?}");
    // Every received byte is in exactly one class (the handshake, before the first swap, in
    // `private`): the classes add up to the row.
    classes_add_up(na, "socket", &[recv.id, sender.id]);
    let row = rows(na, "socket")[&recv.id];
    within("receiver rx", row[0], row[2], sent.bytes, 0);
    // The classes left out keep their counters and ids.
    let shown = na.run(&["classes", "--format", "json"]).ok().json();
    let names: Vec<&str> =
        shown["classes"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["internet", "loopback", "host", "link-local", "multicast", "private", "non-ip", "lan-a", "lan-b"]
    );
}

#[test]
fn the_host_class_follows_the_host_addresses_while_serve_runs() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    na.run(&["load", "--breakdown", "class"]).ok();
    let serve = Serve::start(na, &[]);
    let link = HostLink(format!("nadm{}x{}", std::process::id() % 10000, uniq()));
    sh(&["ip", "link", "add", &link.0, "type", "veth", "peer", "name", &format!("{}p", link.0)]);
    mark_link(&link.0);
    let addr = format!("203.0.113.{}", 100 + uniq() % 100);
    sh(&["ip", "addr", "add", &format!("{addr}/32"), "dev", &link.0]);
    let host_prefixes = || -> Vec<String> {
        let v = na.run(&["classes", "--format", "json"]).ok().json();
        v["classes"][2]["prefixes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect()
    };
    let want = format!("{addr}/32");
    let wait = |present: bool| {
        if !poll_until(Duration::from_secs(5), Duration::from_millis(100), || {
            host_prefixes().contains(&want) == present
        }) {
            panic!("host class {:?}: {want} should be present={present}", host_prefixes());
        }
    };
    wait(true);
    drop(link);
    wait(false);
    let (code, _) = serve.stop();
    assert_eq!(code, 0);
}
