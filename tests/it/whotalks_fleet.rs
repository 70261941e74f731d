//! Who talks to whom across nodes: two instances standing for two nodes (each attached to its
//! own cgroup subtree, each with its ledger, `--node a`/`--node b` and a zone each) export to
//! one ClickHouse; the fleet's pair table names each end by the node that held its address
//! and counts each byte between them once per direction: A's bytes to B are B's received
//! bytes from A.
use crate::harness::*;

/// A flow from `from` in its container to `to` in its, `bytes` of payload.
fn send(from: &Container, to: &Container, port: u16, bytes: u64) {
    let r = to.peer(&format!("tcp-recv {}:{port}", to.ip)).ready();
    let s = from.peer(&format!("tcp-send {}:{port} {bytes}", to.ip)).finish();
    assert_eq!(r.finish().bytes, bytes);
    assert_eq!(s.bytes, bytes);
}

#[test]
fn two_nodes_one_store_each_pair_byte_once() {
    let Some(a) = Node::with("a", "peer") else { return };
    let Some(b) = Node::with("b", "peer") else { return };
    let Some(ch) = ClickHouse::start() else { return };
    let url = ch.url("pairs");
    // A on node a, B on node b, one bridge between them.
    let br = Bridge::new(None);
    let (wa, wb) = (Container::on_bridge(&a.s.tree, &br), Container::on_bridge(&b.s.tree, &br));
    let holds = [wa.peer("sleep").ready(), wb.peer("sleep").ready()];
    let port = 23000 + (uniq() as u16 % 1000) * 2;
    send(&wa, &wb, port, 250_000);
    send(&wb, &wa, port + 1, 120_000);
    let t = (unix_now() / 300 + 10) * 300;
    a.record_at(t);
    b.record_at(t);
    a.export(&ch, &url, &["--init", "--zone", "zone-a"]).ok();
    b.export(&ch, &url, &["--zone", "zone-b"]).ok();
    let (ka, kb) = (identity(&a.s.na, wa.cgroup.id), identity(&b.s.na, wb.cgroup.id));
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
    let (a_view, b_view) = (own(&a, &ka, &wb.ip), own(&b, &kb, &wa.ip));
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
