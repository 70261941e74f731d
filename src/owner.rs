//! Workload is behind a host-side veth: the cgroup of the workload in its peer's network
//! namespace (accounting.md, tc rule 1).
//!
//! For each network namespace that has processes (other than netattr's own), netattr enters
//! it from a short-lived thread and lists its interfaces. A veth there whose peer is host
//! veth V (each names the other's ifindex in IFLA_LINK) means the namespace owns V; the
//! owner cgroup is the deepest cgroup common to the namespace's processes, so that a
//! Kubernetes pod's containers, which share one namespace, give the pod's cgroup.
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use nix::sched::{setns, CloneFlags};

use crate::cgroup;
use crate::netlink::{self, Link};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Owner {
    pub cgroup_id: u64,
    /// Relative to the cgroup2 mount.
    pub path: String,
}

/// Owners of the given host interfaces, by host ifindex. Interfaces whose peer namespace has
/// no process (yet), or whose processes share no cgroup below the root, have none.
pub fn find(host: &[Link], cgroup2: &Path) -> Result<HashMap<u32, Owner>> {
    let mut owners = HashMap::new();
    if !host.iter().any(Link::is_veth) {
        return Ok(owners);
    }
    for pids in namespaces()?.into_values() {
        let Some(&pid) = pids.first() else { continue };
        let Ok(inside) = links_in(pid) else { continue }; // the namespace went away
        for p in inside.iter().filter(|l| l.is_veth()) {
            let Some(h) =
                host.iter().find(|h| h.is_veth() && h.peer == Some(p.index) && p.peer == Some(h.index))
            else {
                continue;
            };
            let Some(path) = common_cgroup(&pids) else { continue };
            if path == "/" {
                continue;
            }
            if let Ok(id) = cgroup::id_of(&cgroup2.join(path.trim_start_matches('/'))) {
                owners.insert(h.index, Owner { cgroup_id: id, path: path.clone() });
            }
        }
    }
    Ok(owners)
}

/// The path of an owner cgroup recorded earlier: live, or "(gone)".
pub fn path_of(id: u64) -> String {
    match cgroup::mount_point().and_then(cgroup::Resolver::new).map(|mut r| r.lookup(id)) {
        Ok(cgroup::Lookup::Path(p)) => p,
        _ => "(gone)".into(),
    }
}

/// Processes grouped by network namespace, netattr's own namespace left out.
fn namespaces() -> Result<HashMap<PathBuf, Vec<u32>>> {
    let me = fs::read_link("/proc/self/ns/net").context("reading /proc/self/ns/net")?;
    let mut by_ns: HashMap<PathBuf, Vec<u32>> = HashMap::new();
    for e in fs::read_dir("/proc").context("listing /proc")?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        // Processes may exit while we look: skip them.
        let Ok(ns) = fs::read_link(format!("/proc/{pid}/ns/net")) else { continue };
        if ns != me {
            by_ns.entry(ns).or_default().push(pid);
        }
    }
    Ok(by_ns)
}

/// The interfaces of `pid`'s network namespace, listed from a thread that joins it.
fn links_in(pid: u32) -> Result<Vec<Link>> {
    let ns = fs::File::open(format!("/proc/{pid}/ns/net"))?;
    std::thread::scope(|s| {
        s.spawn(|| {
            setns(&ns, CloneFlags::CLONE_NEWNET).context("entering a network namespace")?;
            netlink::links()
        })
        .join()
        .unwrap_or_else(|_| Err(anyhow::anyhow!("namespace scan thread failed")))
    })
}

/// The cgroup v2 path of a process ("0::/path" in /proc/PID/cgroup).
fn cgroup_of(pid: u32) -> Option<String> {
    let s = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    s.lines().find_map(|l| l.strip_prefix("0::")).map(|p| p.trim().to_string())
}

/// The deepest cgroup that contains every one of `pids`.
fn common_cgroup(pids: &[u32]) -> Option<String> {
    common_ancestor(pids.iter().filter_map(|p| cgroup_of(*p)))
}

fn common_ancestor<I: IntoIterator<Item = String>>(paths: I) -> Option<String> {
    let mut common: Option<Vec<String>> = None;
    for p in paths {
        let parts: Vec<String> = p.split('/').filter(|c| !c.is_empty()).map(String::from).collect();
        common = Some(match common {
            None => parts,
            Some(c) => c.into_iter().zip(parts).take_while(|(a, b)| a == b).map(|(a, _)| a).collect(),
        });
    }
    common.map(|c| format!("/{}", c.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deepest_common_cgroup() {
        let s = |v: &[&str]| common_ancestor(v.iter().map(|x| x.to_string()));
        assert_eq!(s(&["/docker/abc"]), Some("/docker/abc".into()));
        assert_eq!(
            s(&["/kubepods/burstable/pod1/c1", "/kubepods/burstable/pod1/c2", "/kubepods/burstable/pod1"]),
            Some("/kubepods/burstable/pod1".into())
        );
        assert_eq!(s(&["/a/b", "/c"]), Some("/".into()));
        assert_eq!(s(&[]), None);
    }
}
