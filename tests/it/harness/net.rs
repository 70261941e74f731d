//! Network fixtures: namespaces, stand-in containers joined by veths, bridges, tc listings.
use std::fs;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;

/// A network namespace.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new() -> Self {
        let name = format!("netattr-test-{}-{}", pid(), uniq());
        quiet(&["ip", "netns", "del", &name]);
        sh(&["ip", "netns", "add", &name]);
        sh(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        Netns { name }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        quiet(&["ip", "netns", "del", &self.name]);
    }
}

/// A stand-in for a container: a network namespace joined to the host by a veth pair,
/// and a cgroup for its processes.
pub struct Container {
    pub host_if: String,
    pub host_ip: String,
    pub ip: String,
    pub cgroup: Cgroup,
    pub ns: Netns,
}

/// A /24 inside 10.231.0.0/16, distinct within this test process: "10.231.N".
pub(crate) fn subnet() -> String {
    format!("10.231.{}", ((pid() % 50) * 5 + uniq()) % 250)
}

impl Container {
    /// A container on its own point-to-point link to the host.
    pub fn new(tree: &CgroupTree) -> Self {
        let net = subnet();
        let mut c = Self::plug(tree, &format!("{net}.2"));
        sh(&["ip", "addr", "add", &format!("{net}.1/24"), "dev", &c.host_if]);
        c.host_ip = format!("{net}.1");
        c
    }

    /// A container whose host-side veth is a port of `bridge`.
    pub fn on_bridge(tree: &CgroupTree, bridge: &Bridge) -> Self {
        Self::on_bridge_at(tree, bridge, &format!("{}.{}", bridge.net, bridge.next_host()))
    }

    /// A container on `bridge` at address `ip` (of the bridge's /24): one that takes the
    /// address of a container removed before it.
    pub fn on_bridge_at(tree: &CgroupTree, bridge: &Bridge, ip: &str) -> Self {
        let mut c = Self::plug(tree, ip);
        sh(&["ip", "link", "set", &c.host_if, "master", &bridge.name]);
        c.host_ip.clone_from(&bridge.ip);
        c
    }

    fn plug(tree: &CgroupTree, ip: &str) -> Self {
        let ns = Netns::new();
        let host_if = format!("nat{}x{}", pid() % 10000, uniq());
        quiet(&["ip", "link", "del", &host_if]);
        sh(&["ip", "link", "add", &host_if, "type", "veth", "peer", "name", "eth0", "netns", &ns.name]);
        mark_link(&host_if);
        sh(&["ip", "link", "set", &host_if, "up"]);
        sh(&["ip", "-n", &ns.name, "addr", "add", &format!("{ip}/24"), "dev", "eth0"]);
        sh(&["ip", "-n", &ns.name, "link", "set", "eth0", "up"]);
        Container { host_if, host_ip: String::new(), ip: ip.to_string(), cgroup: tree.docker_like(), ns }
    }

    pub fn peer(&self, spec: &str) -> Peer {
        Peer::spawn(&self.cgroup, Some(&self.ns.name), spec)
    }

    /// A peer in this container's network namespace, in another cgroup than its own.
    pub fn peer_in(&self, cgroup: &Cgroup, spec: &str) -> Peer {
        Peer::spawn(cgroup, Some(&self.ns.name), spec)
    }

    /// A short-lived workload, like `docker run --rm`: its own cgroup sends `bytes` to host
    /// cgroup `to` from this container's namespace, exits, and its cgroup is removed.
    pub fn run_exited(&self, tree: &CgroupTree, to: &Cgroup, port: u16, bytes: u64) -> Cgroup {
        let short = tree.docker_like();
        self.send(&short, to, port, bytes);
        fs::remove_dir(&short.path).expect("removing the short-lived cgroup");
        short
    }

    /// `bytes` over TCP from a process in cgroup `from`, inside this container's network
    /// namespace, to a process in host cgroup `to`; returns once both are done, with what
    /// the sender reported (its retransmissions are wire bytes beyond the payload).
    pub fn send(&self, from: &Cgroup, to: &Cgroup, port: u16, bytes: u64) -> Done {
        let dst = format!("{}:{port}", self.host_ip);
        let r = Peer::spawn(to, None, &format!("tcp-recv {dst}")).ready();
        let done = Peer::spawn(from, Some(&self.ns.name), &format!("tcp-send {dst} {bytes}")).finish();
        assert_eq!(r.finish().bytes, bytes);
        done
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        quiet(&["ip", "link", "del", &self.host_if]);
    }
}

/// The most a retransmitted TCP segment adds beyond the payload it repeats: a retransmission
/// is real traffic, counted, on top of the per-packet allowance of the bounds.
pub const PER_RETRANSMISSION: u64 = 1500;

/// A Linux bridge on the host with an address (the host's, for the containers on it).
pub struct Bridge {
    pub name: String,
    /// "10.231.N"
    pub net: String,
    pub ip: String,
    hosts: AtomicU32,
}

impl Bridge {
    /// `name` defaults to a unique one; tests may pick a misleading one (a bridge called veth*).
    pub fn new(name: Option<String>) -> Self {
        let name = name.unwrap_or_else(|| format!("natbr{}x{}", pid() % 10000, uniq()));
        let net = subnet();
        quiet(&["ip", "link", "del", &name]);
        sh(&["ip", "link", "add", &name, "type", "bridge"]);
        mark_link(&name);
        let ip = format!("{net}.1");
        sh(&["ip", "addr", "add", &format!("{ip}/24"), "dev", &name]);
        sh(&["ip", "link", "set", &name, "up"]);
        Bridge { name, net, ip, hosts: AtomicU32::new(2) }
    }

    fn next_host(&self) -> u32 {
        self.hosts.fetch_add(1, Ordering::Relaxed)
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        quiet(&["ip", "link", "del", &self.name]);
    }
}

/// A tc filter listing of one hook, as `tc filter show` prints it.
pub fn tc_filters(iface: &str, hook: &str) -> String {
    let out = Command::new("tc").args(["filter", "show", "dev", iface, hook]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn has_clsact(iface: &str) -> bool {
    sh(&["tc", "qdisc", "show", "dev", iface]).contains("clsact")
}

/// Waits until the interfaces `ifaces` are quiet (their packet counters the same twice, 100 ms
/// apart): the stack's own early packets (IPv6 neighbour discovery) are then behind them, and
/// a test's counts are not disturbed by them later.
pub fn settle(ifaces: &[&str]) {
    settled(|| {
        ifaces
            .iter()
            .map(|i| {
                let read = |what: &str| {
                    fs::read_to_string(format!("/sys/class/net/{i}/statistics/{what}")).unwrap_or_default()
                };
                (read("rx_packets"), read("tx_packets"))
            })
            .collect::<Vec<_>>()
    });
}
