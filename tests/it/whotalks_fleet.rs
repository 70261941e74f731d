//! Who talks to whom across nodes: two instances standing for two nodes (each attached to its
//! own cgroup subtree, each with its ledger, `--node a`/`--node b` and a zone each; their
//! workloads' namespaces behind two routers) export to one ClickHouse; the fleet's pair table names each end by the node that held its address
//! and counts each byte between them once per direction: A's bytes to B are B's received
//! bytes from A. A day both nodes rolled up is read from its day rows (`netattr_peer_days`),
//! whole hours from the hour rows the export has the store keep (`netattr_peer_hours`), with
//! the same answer.
use std::collections::BTreeMap;

use crate::harness::*;

/// Two nodes' workloads A and B, each in its own namespace behind its own router, the
/// routers linked, and one ClickHouse.
struct TwoNodes {
    a: Node,
    b: Node,
    ch: ClickHouse,
    ca: Cgroup,
    cb: Cgroup,
    na: Netns,
    nb: Netns,
    ip_a: String,
    ip_b: String,
    _routers: [Netns; 2],
    _holds: Vec<Peer>,
}

impl TwoNodes {
    fn new() -> Option<TwoNodes> {
        let a = Node::with("a", "peer")?;
        let b = Node::with("b", "peer")?;
        let ch = ClickHouse::start()?;
        // A on node a behind router RA, B on node b behind router RB, the routers linked:
        // each a namespace of the test's (forwarding is a setting of the routers'
        // namespaces, not the host's). A's and B's processes are in their nodes' cgroup trees.
        let (na, ra, rb, nb) = (Netns::new(), Netns::new(), Netns::new(), Netns::new());
        let net = subnet(); // 10.231.N: .1.x behind RA, .3.x behind RB, .2.x between them
        let (ip_a, ip_b) = (format!("{net}.18"), format!("{net}.50"));
        let link = |a: &Netns, a_if: &str, b: &Netns, b_if: &str| {
            in_ns(a, &["ip", "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", &b.name]);
            in_ns(a, &["ip", "link", "set", a_if, "up"]);
            in_ns(b, &["ip", "link", "set", b_if, "up"]);
        };
        link(&na, "eth0", &ra, "a0");
        link(&ra, "r0", &rb, "r0");
        link(&rb, "b0", &nb, "eth0");
        for (n, dev, addr) in [
            (&na, "eth0", format!("{ip_a}/28")),
            (&ra, "a0", format!("{net}.17/28")),
            (&ra, "r0", format!("{net}.33/28")),
            (&rb, "r0", format!("{net}.34/28")),
            (&rb, "b0", format!("{net}.49/28")),
            (&nb, "eth0", format!("{ip_b}/28")),
        ] {
            in_ns(n, &["ip", "addr", "add", &addr, "dev", dev]);
        }
        in_ns(&na, &["ip", "route", "add", "default", "via", &format!("{net}.17")]);
        in_ns(&nb, &["ip", "route", "add", "default", "via", &format!("{net}.49")]);
        in_ns(&ra, &["ip", "route", "add", &format!("{net}.48/28"), "via", &format!("{net}.34")]);
        in_ns(&rb, &["ip", "route", "add", &format!("{net}.16/28"), "via", &format!("{net}.33")]);
        for r in [&ra, &rb] {
            in_ns(r, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        }
        let (ca, cb) = (a.s.tree.docker_like(), b.s.tree.docker_like());
        let holds = vec![
            Peer::spawn(&ca, Some(&na.name), "sleep").ready(),
            Peer::spawn(&cb, Some(&nb.name), "sleep").ready(),
        ];
        Some(TwoNodes { a, b, ch, ca, cb, na, nb, ip_a, ip_b, _routers: [ra, rb], _holds: holds })
    }

    /// A sends `to_b` bytes to B over TCP, then B `to_a` to A.
    fn traffic(&self, to_b: u64, to_a: u64) {
        let port = 23000 + (uniq() as u16 % 1000) * 2;
        let send = |from: (&Cgroup, &Netns), to: (&Cgroup, &Netns, &str), port: u16, bytes: u64| {
            let r = Peer::spawn(to.0, Some(&to.1.name), &format!("tcp-recv {}:{port}", to.2)).ready();
            let s = Peer::spawn(from.0, Some(&from.1.name), &format!("tcp-send {}:{port} {bytes}", to.2))
                .finish();
            assert_eq!((r.finish().bytes, s.bytes), (bytes, bytes));
        };
        send((&self.ca, &self.na), (&self.cb, &self.nb, &self.ip_b), port, to_b);
        send((&self.cb, &self.nb), (&self.ca, &self.na, &self.ip_a), port + 1, to_a);
    }

    /// The fleet's pair table over `period` by name and peer, and A's and B's identities.
    fn fleet_pairs(
        &self,
        url: &str,
        since: i64,
        until: i64,
    ) -> (BTreeMap<Vec<String>, [u64; 4]>, String, String) {
        let (since, until) = (since.to_string(), until.to_string());
        let args = ["--since", &since, "--until", &until, "--by", "name,peer", "--source", "socket"];
        let fleet = groups_of(&fleet_report(&self.ch, url, &args), &["name", "peer"]);
        (fleet, identity(&self.a.s.na, self.ca.id), identity(&self.b.s.na, self.cb.id))
    }

    /// B's own view (its ledger) of A over `period`: [rx, tx, rx packets, tx packets].
    fn b_view(&self, since: i64, until: i64) -> [u64; 4] {
        let (since, until) = (since.to_string(), until.to_string());
        let args = ["--since", &since, "--until", &until, "--by", "name,peer", "--source", "socket"];
        let g = groups_of(&node_report(&self.b, &args), &["name", "peer"]);
        let kb = identity(&self.b.s.na, self.cb.id);
        g.get(&vec![kb, format!("via {}", self.ip_a)]).copied().unwrap_or_default()
    }
}

/// A's bytes to B in `fleet` are B's own view of A (`b_view`), once each way, every byte named.
fn each_pair_byte_once(
    fleet: &BTreeMap<Vec<String>, [u64; 4]>,
    ka: &str,
    kb: &str,
    b_view: [u64; 4],
) -> [u64; 4] {
    let pair = |w: &str, p: &str| fleet.get(&vec![w.to_string(), p.to_string()]).copied().unwrap_or_default();
    let (ab, ba) = (pair(ka, kb), pair(kb, ka));
    assert_eq!((ab[1], ab[3]), (b_view[0], b_view[2]), "A to B is what B received from A");
    assert_eq!((ab[0], ab[2]), (b_view[1], b_view[3]), "B to A is what B sent to A");
    assert_eq!(ba, [ab[1], ab[0], ab[3], ab[2]], "B's row is A's seen from B");
    assert!(!fleet.keys().any(|k| k[1].starts_with("via ")), "every byte named: {fleet:?}");
    ab
}

#[test]
fn two_nodes_one_store_each_pair_byte_once() {
    let Some(t2) = TwoNodes::new() else { return };
    let (a, b, ch) = (&t2.a, &t2.b, &t2.ch);
    let url = ch.url("pairs");
    t2.traffic(250_000, 120_000);
    let t = (unix_now() / 300 + 10) * 300;
    a.record_at(t);
    b.record_at(t);
    a.export(ch, &url, &["--init", "--zone", "zone-a"]).ok();
    b.export(ch, &url, &["--zone", "zone-b"]).ok();
    let (fleet, ka, kb) = t2.fleet_pairs(&url, t, t + 600);
    eprintln!("{fleet:#?}");
    // Each node alone sees the other end as an address (it holds no namespace of the other's).
    let (since, until) = (t.to_string(), (t + 600).to_string());
    let by =
        ["--since", since.as_str(), "--until", until.as_str(), "--by", "name,peer", "--source", "socket"];
    let a_own = groups_of(&node_report(a, &by), &["name", "peer"]);
    let a_view = a_own.get(&vec![ka.clone(), format!("via {}", t2.ip_b)]).copied().unwrap_or_default();
    let b_view = t2.b_view(t, t + 600);
    assert!(a_view[1] >= 250_000 && b_view[0] >= 250_000, "{a_view:?} {b_view:?}");
    // The fleet names both ends, and A's bytes to B are B's bytes from A, once each way.
    let ab = each_pair_byte_once(&fleet, &ka, &kb, b_view);
    // By zone and node: A's row is node a's, zone a's.
    let args = ["--since", &since, "--until", &until, "--by", "node,zone,name,peer", "--source", "socket"];
    let z = groups_of(&fleet_report(ch, &url, &args), &["node", "zone", "name", "peer"]);
    assert_eq!(z.get(&vec!["a".into(), "zone-a".into(), ka.clone(), kb.clone()]), Some(&ab), "{z:?}");
    // The hour of t: the export had the store sum it (`netattr_peer_hours`, each node's from
    // two days before its first export on), and its rows are the 5-minute rows' sums.
    let h = t / 3600 * 3600;
    let since = ch.query("SELECT node, toUnixTimestamp(since) FROM pairs.netattr_peer_hours_since FINAL ORDER BY node FORMAT TSV");
    let day = (unix_now() - 2 * 86_400) / 86_400 * 86_400;
    assert_eq!(since.trim(), format!("a\t{day}\nb\t{day}"), "both nodes' hours kept from two days before");
    let sums = |table: &str, time: &str| {
        ch.query(&format!(
            "SELECT node, identity, peer, sum(rx_bytes), sum(tx_bytes), sum(rx_packets), sum(tx_packets)
             FROM pairs.{table} FINAL WHERE {time} >= toDateTime({h}) AND {time} < toDateTime({})
             GROUP BY node, identity, peer ORDER BY node, identity, peer FORMAT TSV",
            h + 3600
        ))
    };
    let five = sums("netattr_peers", "bucket");
    assert!(five.lines().count() >= 2, "{five}");
    assert_eq!(sums("netattr_peer_hours", "hour"), five, "the hour rows are their 5-minute rows' sums");
    // A period of whole hours reads them: the same pair table with or without the 5-minute
    // rows in the store.
    let (fleet, ..) = t2.fleet_pairs(&url, h - 3600, h + 7200);
    assert_eq!(each_pair_byte_once(&fleet, &ka, &kb, b_view), ab, "whole hours");
    ch.query("TRUNCATE TABLE pairs.netattr_peers");
    let (fleet, ..) = t2.fleet_pairs(&url, h - 3600, h + 7200);
    assert_eq!(each_pair_byte_once(&fleet, &ka, &kb, b_view), ab, "from the hour rows alone");
}

#[test]
fn a_day_both_nodes_rolled_up_is_read_from_its_peer_days() {
    let Some(t2) = TwoNodes::new() else { return };
    let (a, b, ch) = (&t2.a, &t2.b, &t2.ch);
    let url = ch.url("pairdays");
    // Day d, in the future (the recorders' clocks shifted there): both nodes bill in it, then
    // go on into the next day until d is rolled up, its peer rows too.
    let d = (unix_now() / 86_400 + 5) * 86_400;
    t2.traffic(180_000, 90_000);
    for n in [a, b] {
        n.record_at(d + 3600);
    }
    t2.traffic(60_000, 30_000);
    for n in [a, b] {
        n.record_at(d + 7 * 3600 + 100);
    }
    let whole = |n: &Node| -> i64 {
        let c = rusqlite::Connection::open(&n.ledger).unwrap();
        c.query_row("SELECT coalesce(max(whole), 0) FROM series_days WHERE day = ?1", [d], |r| r.get(0))
            .unwrap()
    };
    for n in [a, b] {
        for k in 0..40 {
            n.record_at(d + 86_400 + 3600 + k * 60);
            if whole(n) == 3 {
                break;
            }
        }
        assert_eq!(whole(n), 3, "node {}'s day d rolled up, usage and peers", n.name);
    }
    a.export(ch, &url, &["--init", "--zone", "zone-a"]).ok();
    let sent = b.export(ch, &url, &["--zone", "zone-b"]).ok();
    assert!(sent.stderr.contains("peer rows"), "{}", sent.stderr);
    let marked =
        ch.query(&format!("SELECT node, whole FROM pairdays.netattr_days_whole FINAL WHERE day = toDateTime({d}) ORDER BY node FORMAT TSV"));
    assert_eq!(marked.trim(), "a\t3\nb\t3", "both nodes' day d whole in the store, peers too");
    let days: u64 = ch.query("SELECT count() FROM pairdays.netattr_peer_days FINAL").trim().parse().unwrap();
    assert!(days >= 2, "the day rows of A's and B's peer rows: {days}");
    // The day from its day rows: A's bytes to B are B's received bytes from A, once.
    let b_view = t2.b_view(d, d + 86_400);
    assert!(b_view[0] >= 240_000 && b_view[1] >= 120_000, "{b_view:?}");
    let (fleet, ka, kb) = t2.fleet_pairs(&url, d, d + 86_400);
    let ab = each_pair_byte_once(&fleet, &ka, &kb, b_view);
    // And the same once the 5-minute peer rows are gone from the store: the day was read from
    // its day rows. A period with ragged ends reads the same day rows (and no 5-minute row).
    ch.query("TRUNCATE TABLE pairdays.netattr_peers");
    let (fleet, ..) = t2.fleet_pairs(&url, d, d + 86_400);
    assert_eq!(each_pair_byte_once(&fleet, &ka, &kb, b_view), ab, "from the day rows alone");
    let (fleet, ..) = t2.fleet_pairs(&url, d - 3600, d + 86_400 + 1800);
    assert_eq!(each_pair_byte_once(&fleet, &ka, &kb, b_view), ab, "whole day and ragged ends");
}
