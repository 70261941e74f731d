//! Who talks to whom across nodes: two instances standing for two nodes (each attached to its
//! own cgroup subtree, each with its ledger, `--node a`/`--node b` and a zone each; their
//! workloads' namespaces behind two routers) export to one ClickHouse; the fleet's pair table names each end by the node that held its address
//! and counts each byte between them once per direction: A's bytes to B are B's received
//! bytes from A.
use crate::harness::*;

#[test]
fn two_nodes_one_store_each_pair_byte_once() {
    let Some(a) = Node::with("a", "peer") else { return };
    let Some(b) = Node::with("b", "peer") else { return };
    let Some(ch) = ClickHouse::start() else { return };
    let url = ch.url("pairs");
    // A on node a behind router RA, B on node b behind router RB, the routers linked: each
    // a namespace of the test's (forwarding is a setting of the routers' namespaces, not
    // the host's). A's and B's processes are in their nodes' cgroup trees.
    let (na_, ra, rb, nb_) = (Netns::new(), Netns::new(), Netns::new(), Netns::new());
    let net = subnet(); // 10.231.N: .1.x behind RA, .3.x behind RB, .2.x between them
    let (ip_a, ip_b) = (format!("{net}.18"), format!("{net}.50"));
    let link = |a: &Netns, a_if: &str, b: &Netns, b_if: &str| {
        in_ns(a, &["ip", "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", &b.name]);
        in_ns(a, &["ip", "link", "set", a_if, "up"]);
        in_ns(b, &["ip", "link", "set", b_if, "up"]);
    };
    link(&na_, "eth0", &ra, "a0");
    link(&ra, "r0", &rb, "r0");
    link(&rb, "b0", &nb_, "eth0");
    for (n, dev, addr) in [
        (&na_, "eth0", format!("{ip_a}/28")),
        (&ra, "a0", format!("{net}.17/28")),
        (&ra, "r0", format!("{net}.33/28")),
        (&rb, "r0", format!("{net}.34/28")),
        (&rb, "b0", format!("{net}.49/28")),
        (&nb_, "eth0", format!("{ip_b}/28")),
    ] {
        in_ns(n, &["ip", "addr", "add", &addr, "dev", dev]);
    }
    in_ns(&na_, &["ip", "route", "add", "default", "via", &format!("{net}.17")]);
    in_ns(&nb_, &["ip", "route", "add", "default", "via", &format!("{net}.49")]);
    in_ns(&ra, &["ip", "route", "add", &format!("{net}.48/28"), "via", &format!("{net}.34")]);
    in_ns(&rb, &["ip", "route", "add", &format!("{net}.16/28"), "via", &format!("{net}.33")]);
    for r in [&ra, &rb] {
        in_ns(r, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    }
    let (ca, cb) = (a.s.tree.docker_like(), b.s.tree.docker_like());
    let holds = [
        Peer::spawn(&ca, Some(&na_.name), "sleep").ready(),
        Peer::spawn(&cb, Some(&nb_.name), "sleep").ready(),
    ];
    let port = 23000 + (uniq() as u16 % 1000) * 2;
    let send = |from: (&Cgroup, &Netns), to: (&Cgroup, &Netns, &str), port: u16, bytes: u64| {
        let r = Peer::spawn(to.0, Some(&to.1.name), &format!("tcp-recv {}:{port}", to.2)).ready();
        let s =
            Peer::spawn(from.0, Some(&from.1.name), &format!("tcp-send {}:{port} {bytes}", to.2)).finish();
        assert_eq!((r.finish().bytes, s.bytes), (bytes, bytes));
    };
    send((&ca, &na_), (&cb, &nb_, &ip_b), port, 250_000);
    send((&cb, &nb_), (&ca, &na_, &ip_a), port + 1, 120_000);
    let t = (unix_now() / 300 + 10) * 300;
    a.record_at(t);
    b.record_at(t);
    a.export(&ch, &url, &["--init", "--zone", "zone-a"]).ok();
    b.export(&ch, &url, &["--zone", "zone-b"]).ok();
    let (ka, kb) = (identity(&a.s.na, ca.id), identity(&b.s.na, cb.id));
    let (since, until) = (t.to_string(), (t + 600).to_string());
    let by = |fields: &'static str| {
        vec!["--since", since.as_str(), "--until", until.as_str(), "--by", fields, "--source", "socket"]
    };
    let fleet = groups_of(&fleet_report(&ch, &url, &by("name,peer")), &["name", "peer"]);
    eprintln!("{fleet:#?}");
    let pair = |w: &str, p: &str| fleet.get(&vec![w.to_string(), p.to_string()]).copied().unwrap_or_default();
    // Each node alone sees the other end as an address (it holds no namespace of the other's).
    let own = |n: &Node, k: &str, peer: &str| {
        let g = groups_of(&node_report(n, &by("name,peer")), &["name", "peer"]);
        g.get(&vec![k.to_string(), format!("via {peer}")]).copied().unwrap_or_default()
    };
    let (a_view, b_view) = (own(&a, &ka, &ip_b), own(&b, &kb, &ip_a));
    assert!(a_view[1] >= 250_000 && b_view[0] >= 250_000, "{a_view:?} {b_view:?}");
    // The fleet names both ends, and A's bytes to B are B's bytes from A, once each way.
    let (ab, ba) = (pair(&ka, &kb), pair(&kb, &ka));
    assert_eq!((ab[1], ab[3]), (b_view[0], b_view[2]), "A to B is what B received from A");
    assert_eq!((ab[0], ab[2]), (b_view[1], b_view[3]), "B to A is what B sent to A");
    assert_eq!(ba, [ab[1], ab[0], ab[3], ab[2]], "B's row is A's seen from B");
    assert!(!fleet.keys().any(|k| k[1].starts_with("via ")), "every byte named: {fleet:?}");
    // By zone and node: A's row is node a's, zone a's.
    let z =
        groups_of(&fleet_report(&ch, &url, &by("node,zone,name,peer")), &["node", "zone", "name", "peer"]);
    assert_eq!(z.get(&vec!["a".into(), "zone-a".into(), ka.clone(), kb.clone()]), Some(&ab), "{z:?}");
    drop(holds);
}
