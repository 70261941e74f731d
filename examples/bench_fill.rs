//! Benchmark helper: fills a pinned netattr counter map with N synthetic cgroup ids (or the
//! ids listed in a file, one per line: real cgroups), each with a value on every CPU, as a
//! host with N workloads would. ROUND scales the values, so that a later fill with a larger
//! ROUND looks like traffic on every workload.
//! Usage: bench_fill PIN_DIR N|IDS_FILE [MAP] [ROUND]   (MAP defaults to stats_map)
// Tests and benchmarks fail loudly: unwrap and expect are how they say what broke.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use anyhow::{Context, Result};
use libbpf_rs::{MapCore, MapFlags, MapHandle};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).context("PIN_DIR")?;
    let what = args.get(2).context("N or IDS_FILE")?;
    let ids: Vec<u64> = match what.parse::<u64>() {
        Ok(n) => (0..n).map(|i| (1 << 40) + i).collect(),
        Err(_) => std::fs::read_to_string(what)?.lines().filter_map(|l| l.trim().parse().ok()).collect(),
    };
    let map =
        MapHandle::from_pinned_path(format!("{dir}/{}", args.get(3).map_or("stats_map", |s| s.as_str())))?;
    let round: u64 = args.get(4).map_or(Ok(1), |r| r.parse())?;
    let ncpu = libbpf_rs::num_possible_cpus()?;
    for (i, id) in ids.iter().enumerate() {
        let i = i as u64;
        let values: Vec<Vec<u8>> = (0..ncpu)
            .map(|cpu| {
                [i * round, 2 * i * round, cpu as u64 * round, round]
                    .iter()
                    .flat_map(|x| x.to_ne_bytes())
                    .collect()
            })
            .collect();
        map.update_percpu(&id.to_ne_bytes(), &values, MapFlags::ANY)
            .with_context(|| format!("inserting key {i}"))?;
    }
    Ok(())
}
