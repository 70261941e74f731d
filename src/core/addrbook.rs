//! The address book: which workload of this node holds each address now. Every network
//! namespace some process is in is visited once (its addresses asked of the kernel from a
//! thread that enters it), and named by the cgroups of its processes; the host's own
//! namespace is the host. A peer address no namespace holds stays an address.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::net::IpAddr;
use std::os::fd::AsFd;

use anyhow::{Context, Result};

use super::namer::Namer;
use super::peername::{PeerKind, PeerName};

pub use crate::model::{Holder, Holding};

/// Address -> who holds it.
#[derive(Debug, Default, Clone)]
pub struct AddrBook {
    by_addr: HashMap<IpAddr, Holding>,
}

impl AddrBook {
    /// A book of the given holdings (what a scan would have found).
    pub fn of(entries: impl IntoIterator<Item = (IpAddr, Holding)>) -> AddrBook {
        AddrBook { by_addr: entries.into_iter().collect() }
    }

    pub fn get(&self, ip: &IpAddr) -> Option<&Holding> {
        self.by_addr.get(ip)
    }

    /// Names a peer's address by who holds it here.
    pub fn name(&self, p: &mut PeerName) {
        let Some(ip) = p.address else { return };
        match self.get(&ip) {
            Some(Holding::Host) => {
                p.peer = "host".into();
                p.kind = PeerKind::Host;
            }
            Some(Holding::Workload(h)) => {
                // Unnamed, a workload is known by its cgroup's own name (the path is in
                // peer_path).
                p.peer = h
                    .name
                    .clone()
                    .unwrap_or_else(|| h.path.rsplit('/').next().unwrap_or(&h.path).to_string());
                p.kind = PeerKind::Workload;
                p.path = Some(h.path.clone());
                p.namespace = h.pod_namespace.clone();
            }
            None => {}
        }
    }

    pub fn entries(&self) -> impl Iterator<Item = (&IpAddr, &Holding)> {
        self.by_addr.iter()
    }

    /// Reads who holds each address now: the host's own, and those of the namespaces whose
    /// processes are in cgroups below `under` (all namespaces without it).
    pub fn scan(namer: &mut Namer<'_>, under: Option<&str>) -> Result<AddrBook> {
        let host = netns_inode("self").context("reading netattr's network namespace")?;
        let mut book = AddrBook::default();
        for ip in crate::netlink::addresses()? {
            if !ip.is_loopback() {
                book.by_addr.insert(ip, Holding::Host);
            }
        }
        for (inode, pids) in namespaces()? {
            if inode == host {
                continue;
            }
            let Some(holder) = holder(namer, &pids) else { continue };
            if let Some(u) = under.filter(|u| *u != "/") {
                if holder.path != u && !holder.path.starts_with(&format!("{}/", u.trim_end_matches('/'))) {
                    continue;
                }
            }
            // A process may exit between the listing and the visit: try the next one.
            let Some(addrs) = pids.iter().find_map(|pid| addresses_in(*pid).ok()) else { continue };
            for ip in addrs.into_iter().filter(|ip| !ip.is_loopback()) {
                // An address held by the host and a namespace (an anycast or a mistake)
                // stays the host's; two namespaces: the first by inode, deterministically.
                book.by_addr.entry(ip).or_insert_with(|| Holding::Workload(holder.clone()));
            }
        }
        Ok(book)
    }
}

/// A fingerprint of the network namespaces processes are in now (their inodes): it changes
/// when one comes or goes, which is when an address can change hands. One stat a process,
/// no namespace entered.
pub fn namespaces_fingerprint() -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    if let Ok(ns) = namespaces() {
        ns.keys().collect::<Vec<_>>().hash(&mut h);
    }
    h.finish()
}

/// The inode of /proc/<pid>/ns/net.
fn netns_inode(pid: &str) -> Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(fs::metadata(format!("/proc/{pid}/ns/net"))?.ino())
}

/// Every network namespace a process is in, with its processes (inode order).
fn namespaces() -> Result<BTreeMap<u64, Vec<u32>>> {
    let mut out: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
    for e in fs::read_dir("/proc").context("listing /proc")?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        if let Ok(ino) = netns_inode(&pid.to_string()) {
            out.entry(ino).or_default().push(pid);
        }
    }
    Ok(out)
}

/// Who a namespace's processes are: the named cgroup among theirs (a pod's containers
/// share its name), else the first path.
fn holder(namer: &mut Namer<'_>, pids: &[u32]) -> Option<Holder> {
    let paths: BTreeSet<String> = pids.iter().filter_map(|p| cgroup_of(*p)).collect();
    let mut first = None;
    for path in &paths {
        let who = namer.who_at(path);
        let mut row =
            super::row::Row::bare(1, crate::bpf::Source::Socket, super::row::Extra::None, Default::default());
        row.path = Some(path.clone());
        row.who = who.clone();
        let h = Holder {
            path: path.clone(),
            identity: super::row::identity_of(&row),
            name: who.name.clone(),
            pod_namespace: who.pod_namespace.clone(),
        };
        if h.name.is_some() {
            return Some(h);
        }
        first.get_or_insert(h);
    }
    first
}

/// A process's cgroup2 path ("0::/path" in /proc/<pid>/cgroup).
fn cgroup_of(pid: u32) -> Option<String> {
    let s = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    s.lines().find_map(|l| l.strip_prefix("0::")).map(str::to_string)
}

/// The addresses of the network namespace of `pid`, asked from a thread that enters it
/// (setns changes the calling thread's namespace only, and the thread ends with it).
fn addresses_in(pid: u32) -> Result<Vec<IpAddr>> {
    let ns = fs::File::open(format!("/proc/{pid}/ns/net"))?;
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                .context("entering the namespace")?;
            crate::netlink::addresses()
        })
        .join()
        .unwrap_or_else(|_| anyhow::bail!("the namespace reader stopped"))
    })
}
