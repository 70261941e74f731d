//! NAT fixtures (nftables tables, forward rules, host links) and the reading of
//! `stats --by peer --format json` documents.
use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use super::*;

/// Rows of `stats --by peer`: (cgroup id, class, peer) -> [rx, tx, rx_packets, tx_packets],
/// where the peer is the row's address, or its label where it has none ("(other peers)",
/// a class).
pub type PeerCells = BTreeMap<(u64, String, String), [u64; 4]>;

/// The peer rows of `source`, read now (unnamed: addresses as addresses).
pub fn peer_cells(na: &Netattr, source: &str) -> PeerCells {
    let st = na
        .run(&["stats", "--by", "peer", "--source", source, "--no-resolve", "--format", "json"])
        .ok()
        .json();
    let mut out = PeerCells::new();
    for r in st["cgroups"].as_array().unwrap() {
        let id = r["cgroup_id"].as_u64().unwrap_or(u64::MAX);
        let c = ["rx_bytes", "tx_bytes", "rx_packets", "tx_packets"].map(|k| r[k].as_u64().unwrap());
        let peer = r["peer_address"].as_str().or(r["peer"].as_str()).unwrap().to_string();
        let prev = out.insert((id, r["class"].as_str().unwrap().to_string(), peer), c);
        assert!(prev.is_none(), "two rows for one peer in {r}");
    }
    out
}

/// Invariant 1 of the peer breakdown: within a source, a cgroup's peer rows of a class add up
/// to its class row, exactly. Separate reads of live maps: a comparison counts when the
/// class rows read before and after the peers are the same.
pub fn peers_add_up(na: &Netattr, source: &str, ids: &[u64]) {
    let mut last = String::new();
    for _ in 0..20 {
        let before = class_cells(na, source);
        let peers = peer_cells(na, source);
        if class_cells(na, source) != before {
            continue;
        }
        let mut sums: BTreeMap<(u64, String), [u64; 4]> = BTreeMap::new();
        for ((id, class, _), c) in &peers {
            let s = sums.entry((*id, class.clone())).or_default();
            for i in 0..4 {
                s[i] += c[i];
            }
        }
        let bad: Vec<String> = before
            .iter()
            .filter(|((id, _), _)| ids.contains(id))
            .filter(|(k, c)| sums.get(*k) != Some(*c))
            .map(|(k, c)| format!("{k:?}: class {c:?}, peers {:?}", sums.get(k)))
            .collect();
        if bad.is_empty() {
            return;
        }
        last = format!("{bad:?}");
    }
    panic!("{source}: peers do not add up to the class rows: {last}");
}

/// An nftables table of a test (family inet); Drop deletes it.
pub struct NftTable(pub String);

impl NftTable {
    pub fn new() -> NftTable {
        let t = NftTable(format!("netattr_test_{}_{}", pid(), uniq()));
        sh(&["nft", "add", "table", "inet", &t.0]);
        t
    }

    /// `nft add <what> inet <table> <rest>`.
    pub fn add(&self, what: &str, rest: &str) {
        sh(&["sh", "-c", &format!("nft add {what} inet {} {rest}", self.0)]);
    }
}

impl Drop for NftTable {
    fn drop(&mut self) {
        let _ = Command::new("nft").args(["delete", "table", "inet", &self.0]).status();
    }
}

/// `ip netns exec <ns> <args>`.
pub fn in_ns(n: &Netns, args: &[&str]) {
    let mut v = vec!["ip", "netns", "exec", &n.name];
    v.extend(args);
    sh(&v);
}

/// The row fields a `stats --by peer --format json` row names its peer with.
pub fn peer_fields(row: &Value) -> (String, String, Option<String>) {
    (
        row["peer"].as_str().unwrap_or_default().to_string(),
        row["peer_kind"].as_str().unwrap_or_default().to_string(),
        row["peer_path"].as_str().map(str::to_string),
    )
}

/// Rules a test inserted into the FORWARD chains where a firewall (Docker's) drops forwarded
/// packets by policy; Drop deletes exactly those rules.
pub struct ForwardAccept(Vec<(&'static str, Vec<String>)>);

impl ForwardAccept {
    pub fn for_ifaces(ifaces: &[&str]) -> ForwardAccept {
        let mut rules = Vec::new();
        for tool in ["iptables", "ip6tables"] {
            let listed = Command::new(tool).args(["-S", "FORWARD"]).output();
            let drops = listed.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("-P FORWARD DROP"));
            if !drops {
                continue;
            }
            for iface in ifaces {
                for dir in ["-i", "-o"] {
                    let rule = vec![
                        "FORWARD".to_string(),
                        dir.to_string(),
                        iface.to_string(),
                        "-j".into(),
                        "ACCEPT".into(),
                    ];
                    let mut args = vec!["-I".to_string()];
                    args.extend(rule.iter().cloned());
                    sh(&std::iter::once(tool).chain(args.iter().map(String::as_str)).collect::<Vec<_>>());
                    rules.push((tool, rule));
                }
            }
        }
        ForwardAccept(rules)
    }
}

impl Drop for ForwardAccept {
    fn drop(&mut self) {
        for (tool, rule) in &self.0 {
            let _ = Command::new(tool).arg("-D").args(rule).status();
        }
    }
}

/// A link of a test in the host namespace; Drop deletes it (and its routes with it).
pub struct HostLink(pub String);

impl Drop for HostLink {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).status();
    }
}

/// The identity the ledger bills a stand-in container's cgroup `id` under (`container:<id>`,
/// its path's container id), as `stats` reads it now.
pub fn identity(na: &Netattr, id: u64) -> String {
    let st = na.run(&["stats", "--source", "socket", "--format", "json"]).ok().json();
    format!("container:{}", row(&st, id)["container_id"].as_str().unwrap())
}
