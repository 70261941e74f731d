//! Benchmark helper: fills a pinned netattr counter map with N synthetic cgroup ids (or the
//! ids listed in a file, one per line: real cgroups), each with a value on every CPU, as a
//! host with N workloads would. ROUND scales the values, so that a later fill with a larger
//! ROUND looks like traffic on every workload.
//! With MAP peer_stats, PEERS peer rows of each id and source (class `private`, addresses
//! 10.x.y.z), as `load --breakdown peer` counts them.
//! Usage: bench_fill PIN_DIR N|IDS_FILE [MAP] [ROUND] [PEERS]   (MAP defaults to stats_map)
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
    if args.get(3).is_some_and(|m| m == "peer_stats") {
        let peers: u64 = args.get(5).map_or(Ok(5), |r| r.parse())?;
        let values: Vec<Vec<u8>> = (0..ncpu)
            .map(|cpu| {
                [round * 1000, round * 2000, round + cpu as u64, round]
                    .iter()
                    .flat_map(|x| x.to_ne_bytes())
                    .collect()
            })
            .collect();
        for (i, id) in ids.iter().enumerate() {
            for k in 0..peers {
                for source in [1u8, 2] {
                    let mut addr = [0u8; 16];
                    addr[10] = 0xff;
                    addr[11] = 0xff;
                    addr[12..].copy_from_slice(&[10, (i >> 8) as u8, i as u8, k as u8 + 1]);
                    let key = netattr::bpf::layout::PeerKey { cgroup_id: *id, addr, class_id: 5, source };
                    map.update_percpu(&key.to_bytes(), &values, MapFlags::ANY)
                        .with_context(|| format!("inserting peer {k} of key {i}"))?;
                }
            }
        }
        return Ok(());
    }
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
