//! Who talks to whom (`load --breakdown peer`) on the real kernel: the pair truth table on one
//! node (A and B on one bridge; A to a DNAT "service" address with two backends; a flow whose
//! sender is masqueraded; A to the internet through masquerade), peers named by the
//! workload holding the address, and the bounds (a full peer map sends new peers to the
//! other-peers row, and the rows still add up to the class rows exactly).
use std::collections::BTreeMap;

use serde_json::Value;

use crate::harness::*;

/// Per-packet header allowance of the bounds (docs/accounting.md).
const PER_PACKET: u64 = 100;

/// payload <= bytes <= payload + 100 per packet counted (+ a segment per retransmission).
fn within(what: &str, c: [u64; 4], tx: bool, payload: u64, retrans: u64) {
    let (bytes, packets) = if tx { (c[1], c[3]) } else { (c[0], c[2]) };
    let most = payload + PER_PACKET * packets + PER_RETRANSMISSION * retrans;
    assert!(
        (payload..=most).contains(&bytes),
        "{what}: {bytes} B in {packets} packets, expected {payload}..={most} (retransmissions {retrans})"
    );
}

fn cell(c: &PeerCells, id: u64, class: &str, peer: &str) -> [u64; 4] {
    c.get(&(id, class.to_string(), peer.to_string())).copied().unwrap_or_default()
}

/// A flow: the listener first (it says when it is ready), then the client; returns the
/// retransmissions of both.
fn flow(client: (&Cgroup, Option<&str>, String), listener: (&Cgroup, Option<&str>, String)) -> u64 {
    let l = Peer::spawn(listener.0, listener.1, &listener.2).ready();
    let c = Peer::spawn(client.0, client.1, &client.2).finish();
    let l = l.finish();
    assert_eq!(c.bytes, l.bytes, "{} / {}", client.2, listener.2);
    c.retrans + l.retrans
}

#[test]
fn the_pair_truth_table_on_one_node() {
    // Host-wide: forwarding sysctls, NAT rules in the host's namespace.
    let Some(s) = scene(0, true) else { return };
    let na = &s.na;
    let _fwd4 = Sysctl::set("net.ipv4.ip_forward", "1");
    let br = Bridge::new(None);
    let a = Container::on_bridge(&s.tree, &br);
    let b = Container::on_bridge(&s.tree, &br);
    // Two backends of a "service", each on its own link to the host.
    let (b1, b2) = (Container::new(&s.tree), Container::new(&s.tree));
    for c in [&a, &b, &b1, &b2] {
        sh(&["ip", "-n", &c.ns.name, "route", "add", "default", "via", &c.host_ip]);
    }
    // The pretend internet: a namespace behind an uplink, at a documentation address.
    let inet = Netns::new();
    let upl = format!("naup{}x{}", std::process::id() % 10000, uniq());
    let _upl = HostLink(upl.clone());
    sh(&["ip", "link", "add", &upl, "type", "veth", "peer", "name", "eth0", "netns", &inet.name]);
    mark_link(&upl);
    sh(&["ip", "addr", "add", "203.0.113.1/24", "dev", &upl]);
    sh(&["ip", "link", "set", &upl, "up"]);
    in_ns(&inet, &["ip", "addr", "add", "203.0.113.2/24", "dev", "eth0"]);
    in_ns(&inet, &["ip", "link", "set", "eth0", "up"]);
    // The service address (a ClusterIP): no interface holds it; the host DNATs it to B1 and B2
    // in turn. B1's new connections to the bridge are masqueraded (A sees the host), and
    // everything leaving by the uplink is.
    let vip = format!("{}.10", subnet());
    let port = 21000 + (uniq() as u16 % 1000) * 8;
    let nft = NftTable::new();
    nft.add("chain", "pre '{ type nat hook prerouting priority dstnat; }'");
    nft.add("chain", "post '{ type nat hook postrouting priority srcnat; }'");
    nft.add(
        "rule",
        &format!(
            "pre ip daddr {vip} tcp dport {port} dnat ip to numgen inc mod 2 map '{{ 0 : {}, 1 : {} }}'",
            b1.ip, b2.ip
        ),
    );
    nft.add("rule", &format!("post ip saddr {} oifname {} masquerade", b1.ip, br.name));
    nft.add("rule", &format!("post oifname {upl} masquerade"));
    let _accept = ForwardAccept::for_ifaces(&[&br.name, &b1.host_if, &b2.host_if, &upl]);

    let holds: Vec<Peer> = [&a, &b, &b1, &b2].iter().map(|c| c.peer("sleep").ready()).collect();
    na.run(&["load", "--breakdown", "peer"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    na.run(&[
        "attach",
        "--iface",
        &a.host_if,
        "--iface",
        &b.host_if,
        "--iface",
        &b1.host_if,
        "--iface",
        &b2.host_if,
    ])
    .ok();

    let (direct, via, snat, out) = (300_000u64, 200_000u64, 150_000u64, 100_000u64);
    let ns = |c: &Container| Some(c.ns.name.clone());
    let (a_ns, b_ns, b1_ns, b2_ns) = (ns(&a), ns(&b), ns(&b1), ns(&b2));
    let mut rt = 0;
    rt += flow(
        (&a.cgroup, a_ns.as_deref(), format!("tcp-send {}:{port} {direct}", b.ip)),
        (&b.cgroup, b_ns.as_deref(), format!("tcp-recv {}:{port}", b.ip)),
    );
    // Two connections to the service: numgen sends the first to B1, the second to B2.
    for (backend, bns) in [(&b1, &b1_ns), (&b2, &b2_ns)] {
        rt += flow(
            (&a.cgroup, a_ns.as_deref(), format!("tcp-send {vip}:{port} {via}")),
            (&backend.cgroup, bns.as_deref(), format!("tcp-recv {}:{port}", backend.ip)),
        );
    }
    rt += flow(
        (&b1.cgroup, b1_ns.as_deref(), format!("tcp-send {}:{} {snat}", a.ip, port + 1)),
        (&a.cgroup, a_ns.as_deref(), format!("tcp-recv {}:{}", a.ip, port + 1)),
    );
    let iproc = s.tree.cgroup("inet.slice/server.service");
    rt += flow(
        (&a.cgroup, a_ns.as_deref(), format!("tcp-send 203.0.113.2:{} {out}", port + 2)),
        (&iproc, Some(&inet.name), format!("tcp-recv 203.0.113.2:{}", port + 2)),
    );

    // Socket source: each workload's view, per peer address.
    let sock = settled(|| peer_cells(na, "socket"));
    let (ai, bi, b1i, b2i) = (a.cgroup.id, b.cgroup.id, b1.cgroup.id, b2.cgroup.id);
    within("A to B", cell(&sock, ai, "private", &b.ip), true, direct, rt);
    within("A to the service address", cell(&sock, ai, "private", &vip), true, 2 * via, rt);
    within("A from the host (B1 masqueraded)", cell(&sock, ai, "host", &br.ip), false, snat, rt);
    within("A to the internet", cell(&sock, ai, "internet", "internet"), true, out, rt);
    within("B from A", cell(&sock, bi, "private", &a.ip), false, direct, rt);
    within("B1 from A (after DNAT)", cell(&sock, b1i, "private", &a.ip), false, via, rt);
    within("B2 from A (after DNAT)", cell(&sock, b2i, "private", &a.ip), false, via, rt);
    within("B1 to A (its own view, before SNAT)", cell(&sock, b1i, "private", &a.ip), true, snat, rt);
    assert!(
        !sock.keys().any(|(id, _, p)| [b1i, b2i].contains(id) && *p == vip),
        "a backend saw the service address: {sock:?}"
    );
    peers_add_up(na, "socket", &[ai, bi, b1i, b2i, iproc.id]);

    // tc source: the host-side veths see the same addresses (the DNAT is after tc ingress
    // of A's veth, before tc egress of the backends').
    let tc = settled(|| peer_cells(na, "tc"));
    within("tc A to the service address", cell(&tc, ai, "private", &vip), true, 2 * via, rt);
    within("tc B1 from A", cell(&tc, b1i, "private", &a.ip), false, via, rt);
    within("tc B2 from A", cell(&tc, b2i, "private", &a.ip), false, via, rt);
    peers_add_up(na, "tc", &[ai, bi, b1i, b2i]);

    // Named: A's peers by the workload holding each address, the host, the bare address.
    let st = na.run(&["stats", "--by", "peer", "--source", "socket", "--format", "json"]).ok().json();
    let named: BTreeMap<(u64, String), (String, String, Option<String>)> = st["cgroups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["cgroup_id"] == ai)
        .map(|r: &Value| ((ai, r["peer_address"].as_str().unwrap_or("-").to_string()), peer_fields(r)))
        .collect();
    let of = |addr: &str| {
        named.get(&(ai, addr.to_string())).cloned().unwrap_or_else(|| panic!("no {addr} in {named:?}"))
    };
    assert_eq!(of(&b.ip).1, "workload");
    assert_eq!(of(&b.ip).2.as_deref(), Some(b.cgroup.rel.as_str()), "{:?}", of(&b.ip));
    assert_eq!(of(&br.ip).0, "host");
    assert_eq!((of(&vip).0, of(&vip).1), (vip.clone(), "address".to_string()));
    same_shape("stats-peer", &readme_example("stats-peer"), &st);
    for (what, id, class, peer) in [
        ("A to and from B", ai, "private", b.ip.as_str()),
        ("A to the service address", ai, "private", vip.as_str()),
        ("A from the host (B1 masqueraded)", ai, "host", br.ip.as_str()),
        ("A to the internet", ai, "internet", "internet"),
        ("B from A", bi, "private", a.ip.as_str()),
        ("B1 from and to A", b1i, "private", a.ip.as_str()),
        ("B2 from A", b2i, "private", a.ip.as_str()),
    ] {
        let [rx, tx, rxp, txp] = cell(&sock, id, class, peer);
        let [trx, ttx, trxp, ttxp] = cell(&tc, id, class, peer);
        eprintln!(
            "| {what} | {class} | {rx} B / {rxp} | {tx} B / {txp} | {trx} B / {trxp} | {ttx} B / {ttxp} |"
        );
    }
    let table = na.run(&["stats", "--by", "peer", "--source", "socket"]).ok().stdout;
    eprintln!("{table}");
    drop(holds);
}

#[test]
fn a_full_peer_map_sends_new_peers_to_other_peers_and_the_sums_still_hold() {
    let Some(s) = scene(1, false) else { return };
    let (na, a) = (&s.na, &s.c[0]);
    // 100,000 addresses of a /64 routed from A's namespace through a gateway that is a
    // permanent neighbour with a MAC nobody has: each datagram is counted on its way out,
    // then dropped by the host as not its own.
    in_ns(&a.ns, &["ip", "-6", "addr", "add", "2001:db8:76::2/64", "dev", "eth0", "nodad"]);
    in_ns(
        &a.ns,
        &[
            "ip",
            "-6",
            "neigh",
            "add",
            "2001:db8:76::1",
            "lladdr",
            "02:00:00:00:00:01",
            "dev",
            "eth0",
            "nud",
            "permanent",
        ],
    );
    in_ns(&a.ns, &["ip", "-6", "route", "add", "2001:db8:77::/64", "via", "2001:db8:76::1", "dev", "eth0"]);
    let cap = 16384u64;
    na.run(&[
        "load",
        "--breakdown",
        "peer",
        "--peer-classes",
        "internet",
        "--peer-entries",
        &cap.to_string(),
    ])
    .ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let (count, size) = (100_000u64, 16u64);
    let sent = a.peer(&format!("udp-sweep [2001:db8:77::]:9 {count} {size}")).finish();
    assert_eq!(sent.bytes, count * size);
    let id = a.cgroup.id;
    let wire = size + 48; // IPv6 and UDP headers
    let peers = settled(|| peer_cells(na, "socket"));
    let mine: Vec<_> = peers.iter().filter(|((i, c, _), _)| *i == id && c == "internet").collect();
    let addrs = mine.iter().filter(|((_, _, p), _)| p.starts_with("2001:db8:77::")).count() as u64;
    assert_eq!(addrs, cap, "the peer map holds its capacity");
    let other = cell(&peers, id, "internet", "(other peers)");
    assert_eq!(other, [0, (count - cap) * wire, 0, count - cap], "what did not fit is in other peers");
    let classes = class_cells(na, "socket");
    assert_eq!(classes[&(id, "internet".to_string())], [0, count * wire, 0, count]);
    peers_add_up(na, "socket", &[id]);
    let st = na.run(&["status", "--format", "json"]).ok().json();
    assert_eq!(st["health"]["peer_spills"], count - cap, "{}", st["health"]);
}
