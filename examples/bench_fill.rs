//! Benchmark helper: fills a pinned netattr counter map with N synthetic cgroup ids, each
//! with a value on every CPU, as a host with N workloads would.
//! Usage: bench_fill PIN_DIR N [MAP]   (MAP defaults to stats_map)
use anyhow::{Context, Result};
use libbpf_rs::{MapCore, MapFlags, MapHandle};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (dir, n) = (args.get(1).context("PIN_DIR")?, args.get(2).context("N")?.parse::<u64>()?);
    let map =
        MapHandle::from_pinned_path(format!("{dir}/{}", args.get(3).map_or("stats_map", |s| s.as_str())))?;
    let ncpu = libbpf_rs::num_possible_cpus()?;
    for i in 0..n {
        let id: u64 = (1 << 40) + i;
        let values: Vec<Vec<u8>> = (0..ncpu)
            .map(|cpu| [i, 2 * i, cpu as u64, 1].iter().flat_map(|x| x.to_ne_bytes()).collect())
            .collect();
        map.update_percpu(&id.to_ne_bytes(), &values, MapFlags::ANY)
            .with_context(|| format!("inserting key {i}"))?;
    }
    Ok(())
}
