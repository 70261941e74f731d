//! The kernel's walk of the cgroup tree (`cgroup_tree` in bpf/netattr.bpf.c). A read of the
//! pinned iterator link walks every cgroup under the cgroup2 mount in the kernel and leaves
//! each one's parent and name in `cgroup_tree_nodes`, stamped with the read's session; one
//! batch lookup then gives every path. Many ids cost one read and one batch instead of
//! syscalls per id (BENCHMARKS.md, "Naming cgroups").
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::os::fd::AsFd;

use anyhow::{bail, Context, Result};
use libbpf_rs::{MapCore, MapHandle};

use super::layout::TreeNode;
use super::percpu::{self, key_u64};
use super::pins::{Pins, IDS, TREE};

/// Walks the tree: the path (relative to the cgroup2 mount, "/" for `root`, the mount's own
/// cgroup id) of every cgroup alive during the walk. A cgroup missing from the result (the
/// map was full, or a concurrent reader removed its fresh entry) is left to other means.
pub fn read(pins: &Pins, root: u64) -> Result<HashMap<u64, String>> {
    Ok(walk(pins, root)?.paths)
}

/// One walk of the tree.
pub struct Walk {
    /// Every path found, by cgroup id.
    pub paths: HashMap<u64, String>,
    /// The walk's map did not fill up: a cgroup absent from `paths` was very likely gone
    /// during the walk (good enough to name it from the kernel's record; not a ground for
    /// deleting counters).
    pub complete: bool,
}

/// The id of every cgroup alive during one walk of the tree (the `cgroup_ids` iterator: no
/// names, no hash updates), but those a concurrent walk overwrote or beyond the map's
/// elements; None where the kernel has no cgroup iterators.
pub fn live_ids(pins: &Pins) -> Result<Option<HashSet<u64>>> {
    let path = pins.path(IDS);
    let mut line = String::new();
    match std::fs::File::open(&path) {
        Ok(mut f) => f.read_to_string(&mut line),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => Err(e),
    }
    .with_context(|| format!("walking the cgroup tree through {}", path.display()))?;
    let mut words = line.split_whitespace().map(str::parse::<u64>);
    let (Some(Ok(session)), Some(Ok(objects))) = (words.next(), words.next()) else {
        bail!("unexpected output of {}: {line:?}", path.display());
    };
    let live = MapHandle::from_pinned_path(pins.path("cgroup_live")).context("opening cgroup_live")?;
    let elements = live.max_entries() as usize;
    // Two u64s an element: the session that wrote it, the cgroup id.
    let mapped = crate::ffi::MappedU64s::map(live.as_fd(), 2 * elements).context("mapping cgroup_live")?;
    let v = mapped.values();
    let at = |i: usize| v[i].load(std::sync::atomic::Ordering::Relaxed);
    Ok(Some(
        (0..elements.min(objects as usize)).filter(|i| at(2 * i) == session).map(|i| at(2 * i + 1)).collect(),
    ))
}

/// Walks the tree, saying whether the walk was complete.
pub fn walk(pins: &Pins, root: u64) -> Result<Walk> {
    let mut line = String::new();
    std::fs::File::open(pins.path(TREE))
        .and_then(|mut f| f.read_to_string(&mut line))
        .with_context(|| format!("walking the cgroup tree through {}", pins.path(TREE).display()))?;
    let Some(session) = line.split_whitespace().next().and_then(|s| s.parse::<u64>().ok()) else {
        bail!("unexpected output of {}: {line:?}", pins.path(TREE).display());
    };
    let nodes =
        MapHandle::from_pinned_path(pins.path("cgroup_tree_nodes")).context("opening cgroup_tree_nodes")?;
    let mut fresh = HashMap::with_capacity(nodes.max_entries().min(16384) as usize);
    let mut stale = Vec::new();
    percpu::for_each(&nodes, |k, v| match (key_u64(k), TreeNode::from_bytes(v)) {
        (Some(id), Some(n)) if n.session >= session => {
            fresh.insert(id, n);
        }
        _ => stale.push(k.to_vec()),
    })?;
    // Entries of earlier walks that this one did not renew: cgroups removed since.
    for k in stale {
        let _ = nodes.delete(&k);
    }
    let complete = (fresh.len() as u64) < u64::from(nodes.max_entries());
    Ok(Walk { paths: paths(&fresh, root), complete })
}

/// Every path that leads up to `root`, from each cgroup's parent and name.
pub fn paths(nodes: &HashMap<u64, TreeNode>, root: u64) -> HashMap<u64, String> {
    let mut out: HashMap<u64, String> = HashMap::with_capacity(nodes.len());
    out.insert(root, "/".to_string());
    for &id in nodes.keys() {
        let mut chain = Vec::new();
        let mut at = id;
        let base = loop {
            if let Some(p) = out.get(&at) {
                break Some(p.clone());
            }
            match nodes.get(&at) {
                Some(n) if chain.len() < nodes.len() => {
                    chain.push(at);
                    at = n.parent;
                }
                _ => break None, // an unknown parent, or a loop: not under root
            }
        };
        let Some(mut path) = base else { continue };
        for c in chain.into_iter().rev() {
            let name = &nodes[&c].name;
            path = if path == "/" { format!("/{name}") } else { format!("{path}/{name}") };
            out.insert(c, path.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_lead_up_to_the_mount_root_only() {
        let n = |parent: u64, name: &str| TreeNode { session: 1, parent, name: name.into() };
        let nodes: HashMap<u64, TreeNode> = [
            (1, n(0, "")),
            (7, n(1, "system.slice")),
            (9, n(7, "docker-ab.scope")),
            (12, n(1, "with space\tand tab")),
            (15, n(99, "orphan")),
            (20, n(21, "loop")),
            (21, n(20, "loop")),
        ]
        .into();
        let p = paths(&nodes, 1);
        assert_eq!(p[&1], "/");
        assert_eq!(p[&9], "/system.slice/docker-ab.scope");
        assert_eq!(p[&12], "/with space\tand tab");
        assert_eq!(p.len(), 4, "{p:?}");
        // A mount of a subtree: paths are relative to the mount's own cgroup.
        assert_eq!(paths(&nodes, 7)[&9], "/docker-ab.scope");
    }
}
