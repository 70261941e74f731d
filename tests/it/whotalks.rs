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

/// The ledger's pair table by (name, peer), socket source.
fn ledger_pairs(na: &Netattr, ledger: &std::path::Path) -> BTreeMap<Vec<String>, [u64; 4]> {
    let l = ledger.to_str().unwrap();
    let rep =
        na.run(&["report", "--ledger", l, "--by", "name,peer", "--source", "socket", "--format", "json"]);
    groups_of(&rep.ok().json(), &["name", "peer"])
}

fn cell(c: &PeerCells, id: u64, class: &str, peer: &str) -> [u64; 4] {
    c.get(&(id, class.to_string(), peer.to_string())).copied().unwrap_or_default()
}

/// The scene's instance counts peers (the built-in peer classes), attached to its tree.
fn count_peers(s: &Scene) {
    s.na.run(&["load", "--breakdown", "peer"]).ok();
    s.na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
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
    count_peers(&s);
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

    // The ledger's pair table: each byte between two workloads once per direction, from the
    // view that saw all of it (the backends' for the service's requests, B1's for its
    // masqueraded flow), nothing left on A's service-address or host rows.
    let dir = TempDir::new();
    let ledger = dir.join("ledger.db");
    once(na, &ledger, &[]);
    let (ka, kb, kb1, kb2) = (identity(na, ai), identity(na, bi), identity(na, b1i), identity(na, b2i));
    let pairs = ledger_pairs(na, &ledger);
    eprintln!("{pairs:#?}");
    let pair = |w: &str, p: &str| pairs.get(&vec![w.to_string(), p.to_string()]).copied().unwrap_or_default();
    within("pair A to B", pair(&ka, &kb), true, direct, rt);
    within("pair A to B1 (through the service)", pair(&ka, &kb1), true, via, rt);
    within("pair A to B2 (through the service)", pair(&ka, &kb2), true, via, rt);
    within("pair A from B1 (masqueraded)", pair(&ka, &kb1), false, snat, rt);
    within("pair A to the internet", pair(&ka, "internet"), true, out, rt);
    for (w, p) in [(&ka, &kb), (&ka, &kb1), (&ka, &kb2)] {
        let (there, back) = (pair(w, p), pair(p, w));
        assert_eq!((there[1], there[3]), (back[0], back[2]), "{w} to {p} is {p} from {w}");
        assert_eq!((there[0], there[2]), (back[1], back[3]), "{p} to {w} is {w} from {p}");
    }
    let left: Vec<_> =
        pairs.keys().filter(|k| k[0] == ka && (k[1] == "host" || k[1].starts_with("via "))).collect();
    assert!(left.is_empty(), "A's unnamed rows are all explained: {left:?}");
    // A's pair rows add up to what A counted.
    let a_rows = pairs.iter().filter(|(k, _)| k[0] == ka).fold([0u64; 4], |mut s, (_, c)| {
        (0..4).for_each(|i| s[i] += c[i]);
        s
    });
    let a_total = sock.iter().filter(|((id, ..), _)| *id == ai).fold([0u64; 4], |mut s, (_, c)| {
        (0..4).for_each(|i| s[i] += c[i]);
        s
    });
    assert_eq!(a_rows, a_total, "A's pairs are A's bytes, each once");
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
    // The pool's peer lanes the cgroup took (the fast path: past its share of 64 while the
    // pool had fewer than half its 16,384 lanes claimed, so 8,192) and the map's capacity.
    let held = cap + netattr::bpf::layout::PEER_POOL_OPEN;
    assert_eq!(addrs, held, "the peer lanes and the peer map hold their capacity");
    let other = cell(&peers, id, "internet", "(other peers)");
    assert_eq!(other, [0, (count - held) * wire, 0, count - held], "what did not fit is in other peers");
    let classes = class_cells(na, "socket");
    assert_eq!(classes[&(id, "internet".to_string())], [0, count * wire, 0, count]);
    peers_add_up(na, "socket", &[id]);
    let st = na.run(&["status", "--format", "json"]).ok().json();
    assert_eq!(st["health"]["peer_spills"], count - held, "{}", st["health"]);
    // The pool's count is the lanes claimed; once the cgroup is gone, reap frees its lanes
    // and writes the count again from its scan of the pool.
    let pool = netattr::bpf::layout::PEER_POOL_COUNT;
    assert_eq!(na.map_u64("sock_peer_claims", pool), netattr::bpf::layout::PEER_POOL_OPEN);
    let gone = || std::fs::remove_dir(&a.cgroup.path).is_ok() || !a.cgroup.path.exists();
    let (limit, step) = (std::time::Duration::from_secs(5), std::time::Duration::from_millis(20));
    assert!(poll_until(limit, step, gone), "A's cgroup removed");
    na.run(&["reap"]).ok();
    assert_eq!(na.map_u64("sock_peer_claims", pool), 0, "the pool's lanes all free again");
}

#[test]
fn a_reused_address_names_each_holder_for_its_own_time() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    let br = Bridge::new(None);
    let a = Container::on_bridge(&s.tree, &br);
    let b = Container::on_bridge(&s.tree, &br);
    let hold_a = a.peer("sleep").ready();
    let hold_b = b.peer("sleep").ready();
    count_peers(&s);
    let dir = TempDir::new();
    let ledger = dir.join("ledger.db");
    let port = 22000 + (uniq() as u16 % 1000) * 4;
    let (first, second) = (100_000u64, 70_000u64);
    let send = |to: &Container, bytes: u64| {
        flow(
            (&a.cgroup, Some(&a.ns.name), format!("tcp-send {}:{port} {bytes}", to.ip)),
            (&to.cgroup, Some(&to.ns.name), format!("tcp-recv {}:{port}", to.ip)),
        )
    };
    let mut rt = send(&b, first);
    once(na, &ledger, &[]);
    let (ka, kb) = (identity(na, a.cgroup.id), identity(na, b.cgroup.id));
    // B goes; B' comes at B's address, ten minutes later (another 5-minute bucket).
    let address = b.ip.clone();
    let b_cgroup = b.cgroup.clone();
    drop(hold_b);
    drop(b);
    // B's cgroup goes too: the next record collects its rows, its peer rows with them.
    std::fs::remove_dir(&b_cgroup.path).unwrap();
    let b2 = Container::on_bridge_at(&s.tree, &br, &address);
    let _hold_b2 = b2.peer("sleep").ready();
    in_ns(&a.ns, &["ip", "neigh", "flush", "all"]);
    rt += send(&b2, second);
    once(na, &ledger, &[("NETATTR_CLOCK_SHIFT", "600")]);
    let kb2 = identity(na, b2.cgroup.id);
    let pairs = ledger_pairs(na, &ledger);
    let pair = |w: &str, p: &str| pairs.get(&vec![w.to_string(), p.to_string()]).copied().unwrap_or_default();
    within("A to B, before", pair(&ka, &kb), true, first, rt);
    within("A to B', after", pair(&ka, &kb2), true, second, rt);
    assert!(!pairs.keys().any(|k| k[1].starts_with("via ")), "every byte named: {pairs:?}");
    // B's own view, collected with it: what it received from A, once.
    let (ab, ba) = (pair(&ka, &kb), pair(&kb, &ka));
    assert_eq!(ba, [ab[1], ab[0], ab[3], ab[2]], "B's row is A's row seen from B");
    let left = peer_cells(na, "socket");
    assert!(
        !left.keys().any(|(id, ..)| *id == b_cgroup.id),
        "B's peer rows were taken out of the maps: {left:?}"
    );
    drop(hold_a);
}

#[test]
fn a_shared_workloads_traffic_is_reallocated_to_those_it_served_exactly() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    let br = Bridge::new(None);
    // The ingress I serves C1 and C2; it talks to X, whose cgroup is outside what the
    // instance counts (an address nobody counted holds: "via X").
    let (i, c1, c2) = (
        Container::on_bridge(&s.tree, &br),
        Container::on_bridge(&s.tree, &br),
        Container::on_bridge(&s.tree, &br),
    );
    let outside = CgroupTree::new();
    let x = Container::on_bridge(&outside, &br);
    let holds: Vec<Peer> = [&i, &c1, &c2, &x].iter().map(|c| c.peer("sleep").ready()).collect();
    count_peers(&s);
    let port = 24000 + (uniq() as u16 % 1000) * 4;
    for (from, to, p, bytes) in
        [(&c1, &i, port, 200_000u64), (&c2, &i, port + 1, 100_000), (&i, &x, port + 2, 90_000)]
    {
        flow(
            (&from.cgroup, Some(&from.ns.name), format!("tcp-send {}:{p} {bytes}", to.ip)),
            (&to.cgroup, Some(&to.ns.name), format!("tcp-recv {}:{p}", to.ip)),
        );
    }
    let dir = TempDir::new();
    let ledger = dir.join("ledger.db");
    once(na, &ledger, &[]);
    let (ki, k1, k2) = (identity(na, i.cgroup.id), identity(na, c1.cgroup.id), identity(na, c2.cgroup.id));
    let via = format!("via {}", x.ip);
    let plain = ledger_pairs(na, &ledger);
    let whole = plain[&vec![ki.clone(), via.clone()]];
    let l = ledger.to_str().unwrap();
    let args = [
        "report",
        "--ledger",
        l,
        "--by",
        "name,peer",
        "--source",
        "socket",
        "--reallocate",
        &ki,
        "--format",
        "json",
    ];
    let rep = na.run(&args).ok().json();
    let split = groups_of(&rep, &["name", "peer", "allocated_from"]);
    eprintln!("{split:#?}");
    let got = |k: &str| split.get(&vec![k.to_string(), via.clone(), ki.clone()]).copied().unwrap_or_default();
    let (s1, s2) = (got(&k1), got(&k2));
    // The shares add up to I's row exactly, and I keeps none of it.
    for f in 0..4 {
        assert_eq!(s1[f] + s2[f], whole[f], "field {f}: {s1:?} + {s2:?} = {whole:?}");
    }
    assert!(!split.keys().any(|k| k[0] == ki && k[1] == via), "I's row went to its clients");
    // Selected by a label instead of its name, the same split. (The label is written into the
    // ledger as the namer records a labelled pod's: these namespaces have no Kubernetes.)
    let c = rusqlite::Connection::open(&ledger).unwrap();
    let labelled = c
        .execute("UPDATE workloads SET labels = '{\"app.kubernetes.io/component\":\"ingress\"}' WHERE identity = ?1", [&ki])
        .unwrap();
    assert!(labelled >= 1);
    let mut by_label = args;
    by_label[8] = "app.kubernetes.io/component=ingress";
    let rep = na.run(&by_label).ok().json();
    assert_eq!(groups_of(&rep, &["name", "peer", "allocated_from"]), split, "by label as by name");
    // In proportion to each client's bytes with I, by largest remainder.
    let w = |k: &str| plain[&vec![k.to_string(), ki.clone()]].iter().take(2).sum::<u64>() as u128;
    let (w1, w2) = (w(&k1), w(&k2));
    for f in 0..4 {
        let exact = u128::from(whole[f]) * w1 / (w1 + w2);
        assert!(
            u128::from(s1[f]) == exact || u128::from(s1[f]) == exact + 1,
            "field {f}: {} of {}",
            s1[f],
            whole[f]
        );
    }
    // The same in a FOCUS bill: the split lines name the method and the shared workload.
    let prices = dir.join("prices.toml");
    std::fs::write(&prices, "version = \"t\"\ncurrency = \"EUR\"\n[[price]]\nclass = \"*\"\ndirection = \"egress\"\nper_gib = 1\n[[price]]\nclass = \"*\"\ndirection = \"ingress\"\nper_gib = 0\n").unwrap();
    let bill = na
        .run(&[
            "report",
            "--ledger",
            l,
            "--by",
            "name",
            "--source",
            "socket",
            "--reallocate",
            &ki,
            "--prices",
            prices.to_str().unwrap(),
            "--format",
            "focus",
        ])
        .ok()
        .stdout;
    let mut r = csv::Reader::from_reader(bill.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let col =
        |row: &csv::StringRecord, name: &str| row[header.iter().position(|h| h == name).unwrap()].to_string();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let allocated: Vec<&csv::StringRecord> =
        rows.iter().filter(|r| col(r, "AllocatedResourceId") == ki).collect();
    assert!(!allocated.is_empty(), "{bill}");
    assert!(allocated.iter().all(|r| col(r, "AllocatedMethodId") == "netattr-peer-bytes"));
    assert!(
        rows.iter().any(|r| col(r, "AllocatedMethodId").is_empty()),
        "lines not reallocated leave the columns empty"
    );
    drop(holds);
}

#[test]
fn a_running_recorder_bills_each_peer_byte_once_across_its_cycles() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    let br = Bridge::new(None);
    let (a, b) = (Container::on_bridge(&s.tree, &br), Container::on_bridge(&s.tree, &br));
    let holds = [a.peer("sleep").ready(), b.peer("sleep").ready()];
    count_peers(&s);
    let dir = TempDir::new();
    let ledger = dir.join("ledger.db");
    let rec = Recorder::start(na, &ledger, "0.3", &[]);
    let cycles = || {
        let st = na.run(&["status", "--ledger", ledger.to_str().unwrap(), "--format", "json"]).ok().json();
        st["recorder"]["cycles"].as_u64().unwrap_or(0)
    };
    let port = 25000 + (uniq() as u16 % 1000) * 4;
    // Three rounds, each billed in cycles of its own; rows that did not move in between are
    // skipped by the recorder, rows that did are billed their delta.
    for (k, bytes) in [(0u16, 120_000u64), (1, 80_000), (2, 40_000)] {
        flow(
            (&a.cgroup, Some(&a.ns.name), format!("tcp-send {}:{} {bytes}", b.ip, port + k)),
            (&b.cgroup, Some(&b.ns.name), format!("tcp-recv {}:{}", b.ip, port + k)),
        );
        let seen = cycles();
        wait_until("two more recorder cycles", std::time::Duration::from_secs(20), || cycles() >= seen + 2);
    }
    rec.stop();
    // The kernel's counters of A's peer B, and the ledger's: the same, to the byte.
    let kernel = cell(&settled(|| peer_cells(na, "socket")), a.cgroup.id, "private", &b.ip);
    let (ka, kb) = (identity(na, a.cgroup.id), identity(na, b.cgroup.id));
    let billed = ledger_pairs(na, &ledger)[&vec![ka, kb]];
    assert_eq!(billed, kernel, "the ledger's A-to-B row is the kernel's, billed once across cycles");
    drop(holds);
}
