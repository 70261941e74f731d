//! Benchmark helper: makes N empty cgroups under the cgroup2 mount, resolves every id to its
//! path three ways, prints µs per id, and removes the cgroups.
//!   handle:    open_by_handle_at(FILEID_KERNFS) per id (netattr's way)
//!   one walk:  one walk of the tree for all ids (netattr's fallback), per id
//!   walk each: a walk of the tree per id, as a poller without file handles does (sampled)
//!   kernel:    one read of the cgroup_tree iterator of the instance at PIN_DIR, for all ids
//!   resolver:  netattr's resolver given that iterator: prefetch, then a lookup per id
//! Usage: bench_resolve N PIN_DIR
// Tests and benchmarks fail loudly: unwrap and expect are how they say what broke.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::time::Instant;

use anyhow::{Context, Result};
use netattr::cgroup::{self, Lookup, Resolver};

fn main() -> Result<()> {
    let n: usize = std::env::args().nth(1).context("usage: bench_resolve N PIN_DIR")?.parse()?;
    let mount = cgroup::mount_point()?;
    let root = mount.join(format!("netattr-bench-resolve-{}", std::process::id()));
    std::fs::create_dir(&root)?;
    let result = run(&mount, &root, n);
    for i in 0..n {
        let _ = std::fs::remove_dir(root.join(format!("c{i}")));
    }
    std::fs::remove_dir(&root)?;
    result
}

fn run(mount: &std::path::Path, root: &std::path::Path, n: usize) -> Result<()> {
    let pins = netattr::bpf::Pins::new(std::path::Path::new(&std::env::args().nth(2).context("PIN_DIR")?));
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let d = root.join(format!("c{i}"));
        std::fs::create_dir(&d)?;
        ids.push(cgroup::id_of(&d)?);
    }
    let mut r = Resolver::new(mount.to_path_buf())?.with_ttl(std::time::Duration::ZERO);
    let t = Instant::now();
    for id in &ids {
        assert!(matches!(r.lookup(*id), Lookup::Path(_)));
    }
    let handle = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let mut w = Resolver::new(mount.to_path_buf())?;
    let t = Instant::now();
    for id in &ids {
        assert!(matches!(w.by_walk(*id), Lookup::Path(_)));
    }
    let one_walk = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let sample = ids.len().min(20);
    let t = Instant::now();
    for id in &ids[..sample] {
        let mut fresh = Resolver::new(mount.to_path_buf())?;
        assert!(matches!(fresh.by_walk(*id), Lookup::Path(_)));
    }
    let walk_each = t.elapsed().as_secs_f64() * 1e6 / sample as f64;
    let mount_id = cgroup::id_of(mount)?;
    let t = Instant::now();
    let tree = netattr::bpf::tree::read(&pins, mount_id)?;
    let kernel = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    assert!(ids.iter().all(|id| tree.contains_key(id)), "the kernel's walk has every cgroup");
    let mut r = Resolver::new(mount.to_path_buf())?.with_tree(&pins);
    let t = Instant::now();
    r.prefetch(&ids);
    for id in &ids {
        assert!(matches!(r.lookup(*id), Lookup::Path(_)));
    }
    let resolver = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!("{n} {handle:.2} {one_walk:.2} {walk_each:.0} {kernel:.3} {resolver:.3}");
    Ok(())
}
