//! Fleet fixtures: a node (an instance with the class or peer breakdown, its ledger, its traffic and
//! recording cycles at chosen times), and reports over a ledger or a fleet store as JSON.
use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use super::*;

/// A node: an instance with the class breakdown attached to its cgroup tree, and its ledger.
pub struct Node {
    pub s: Scene,
    pub ledger: PathBuf,
    pub name: String,
    pub _dir: TempDir,
}

impl Node {
    pub fn new(name: &str) -> Option<Node> {
        Node::with(name, "class")
    }

    /// A node whose instance counts `breakdown` (`class`, `peer`).
    pub fn with(name: &str, breakdown: &str) -> Option<Node> {
        let s = scene(0, false)?;
        s.na.run(&["load", "--breakdown", breakdown]).ok();
        s.na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
        let dir = TempDir::new();
        Some(Node { ledger: dir.join("ledger.db"), s, name: name.to_string(), _dir: dir })
    }

    /// `bytes` over TCP on loopback from the node's workload `from` to its workload `to`.
    pub fn traffic(&self, from: &str, to: &str, bytes: u64) {
        let (from, to) = (self.s.tree.cgroup(from), self.s.tree.cgroup(to));
        let dst = format!("127.0.0.1:{}", free_port());
        let r = Peer::spawn(&to, None, &format!("tcp-recv {dst}")).ready();
        Peer::spawn(&from, None, &format!("tcp-send {dst} {bytes}")).finish();
        assert_eq!(r.finish().bytes, bytes);
    }

    /// One recording cycle with the recorder's clock at `at` (unix seconds), after the
    /// counters settled.
    pub fn record_at(&self, at: i64) {
        let na = &self.s.na;
        settled(|| na.run(&["stats", "--source", "socket", "--format", "json"]).ok().stdout);
        let shift = (at - unix_now()).to_string();
        let mut cmd = na.cmd(&["record", "--once", "--ledger", self.ledger.to_str().unwrap()]);
        cmd.env("NETATTR_CLOCK_SHIFT", &shift);
        run_cmd(&mut cmd).ok();
    }

    /// `export` of this node's ledger to `url` with `extra` options.
    pub fn export(&self, ch: &ClickHouse, url: &str, extra: &[&str]) -> Run {
        let mut args =
            vec!["export", "--to", url, "--ledger", self.ledger.to_str().unwrap(), "--node", &self.name];
        args.extend(["--password-file", ch.password_file.to_str().unwrap()]);
        args.extend(extra);
        run_cmd(std::process::Command::new(BIN).args(&args))
    }
}

/// Groups of a `report --format json` document: group values in `keys` order -> [rx, tx,
/// rx_packets, tx_packets].
pub fn groups_of(doc: &Value, keys: &[&str]) -> BTreeMap<Vec<String>, [u64; 4]> {
    doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let key = keys.iter().map(|k| g["group"][*k].as_str().unwrap_or("(null)").to_string()).collect();
            (key, ["rx_bytes", "tx_bytes", "rx_packets", "tx_packets"].map(|k| g[k].as_u64().unwrap()))
        })
        .collect()
}

/// `report` with `args` over the fleet store at `url` (as user netattr).
pub fn fleet_report(ch: &ClickHouse, url: &str, args: &[&str]) -> Value {
    let mut all = vec!["report", "--from", url, "--password-file", ch.password_file.to_str().unwrap()];
    all.extend(args);
    all.extend(["--format", "json"]);
    run_cmd(std::process::Command::new(BIN).args(&all)).ok().json()
}

/// `report` with `args` over a node's ledger.
pub fn node_report(n: &Node, args: &[&str]) -> Value {
    let mut all = vec!["report", "--ledger", n.ledger.to_str().unwrap()];
    all.extend(args);
    all.extend(["--format", "json"]);
    run_cmd(std::process::Command::new(BIN).args(&all)).ok().json()
}

/// The fleet report by node, name and class equals each node's report by name and class,
/// and the fleet's by name and class their sum, over `period`.
pub fn fleet_equals_nodes(ch: &ClickHouse, url: &str, nodes: &[&Node], period: &[&str]) {
    let by = [period, &["--by", "node,name,class"]].concat();
    let fleet = groups_of(&fleet_report(ch, url, &by), &["node", "name", "class"]);
    let mut sum: BTreeMap<Vec<String>, [u64; 4]> = BTreeMap::new();
    for n in nodes {
        let mine =
            groups_of(&node_report(n, &[period, &["--by", "name,class"]].concat()), &["name", "class"]);
        assert!(!mine.is_empty(), "node {} billed nothing in {period:?}", n.name);
        let theirs: BTreeMap<Vec<String>, [u64; 4]> =
            fleet.iter().filter(|(k, _)| k[0] == n.name).map(|(k, v)| (k[1..].to_vec(), *v)).collect();
        assert_eq!(theirs, mine, "node {}: the fleet's rows against the node's, {period:?}", n.name);
        for (k, v) in mine {
            let s = sum.entry(k).or_default();
            *s = add(*s, v);
        }
    }
    let whole =
        groups_of(&fleet_report(ch, url, &[period, &["--by", "name,class"]].concat()), &["name", "class"]);
    assert_eq!(whole, sum, "the fleet by name and class against the sum of the nodes, {period:?}");
}
