//! The ledger's bill alone, without the kernel: N workloads in both sources, each moving
//! every cycle, billed ROUNDS times into a fresh ledger; prints the median CPU of a bill
//! (this thread's CPU time), each round STEP seconds after the last (300: every bill
//! writes a new 5-minute row, as a slice does). With PEERS=K, each workload's K peer rows a
//! source billed after it (`bill_peers`, every row moving), its CPU printed apart.
//! `cargo run --release --example bench_bill [N] [ROUNDS] [STEP]`.
// Tests and benchmarks fail loudly: unwrap and expect are how they say what broke.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use netattr::bpf::{Counters, Source};
use netattr::ledger::bill::InstanceKey;
use netattr::ledger::peers::PeerReading;
use netattr::ledger::Ledger;
use netattr::model::{Reading, Workload};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let rounds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let step: i64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(300);
    let dir = std::env::temp_dir().join(format!("netattr-bench-bill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut l = Ledger::open_rw(&dir.join("ledger.db")).unwrap();
    let inst =
        InstanceKey { key: "boot/1/1".into(), boot_id: "boot".into(), loaded_at: 1, pin_dir: "/x".into() };
    let mut cpu = Vec::new();
    let mut peer_cpu = Vec::new();
    let peers: u64 = std::env::var("PEERS").ok().and_then(|p| p.parse().ok()).unwrap_or(0);
    for round in 1..=rounds + 1 {
        let seen: Vec<Reading> = (0..n)
            .flat_map(|i| {
                [Source::Tc, Source::Socket].map(|source| Reading {
                    source,
                    cgroup_id: 1000 + i,
                    class: String::new(),
                    counters: Counters {
                        rx_bytes: round * 1000,
                        tx_bytes: round * 2000,
                        rx_packets: round,
                        tx_packets: round * 2,
                    },
                    who: std::rc::Rc::new(Workload {
                        identity: format!("unit:w{i}.service"),
                        kind: Some("service".into()),
                        name: Some(format!("w{i}.service")),
                        path: Some(format!("/bench/w{i}.service")),
                        ..Workload::default()
                    }),
                    at: 1_764_000_000 + round as i64 * step,
                    last: false,
                })
            })
            .collect();
        let t = netattr::ffi::thread_cpu_time();
        l.bill(&inst, &seen, 1_764_000_000 + round as i64 * step, round == 1).unwrap();
        let took = netattr::ffi::thread_cpu_time().saturating_sub(t).as_secs_f64() * 1000.0;
        if round > 1 {
            cpu.push(took); // the first bill makes every workload and cursor
        }
        if peers > 0 {
            let rows: Vec<PeerReading> = (0..n)
                .flat_map(|i| {
                    (0..peers).flat_map(move |k| {
                        [Source::Tc, Source::Socket].map(|source| PeerReading {
                            source,
                            cgroup_id: 1000 + i,
                            class: "private".into(),
                            peer: format!("10.{}.{}.{}", i >> 8 & 255, i & 255, k + 1),
                            counters: Counters {
                                rx_bytes: round * 100,
                                tx_bytes: round * 200,
                                rx_packets: round,
                                tx_packets: round,
                            },
                        })
                    })
                })
                .collect();
            let t = netattr::ffi::thread_cpu_time();
            l.bill_peers(&inst.key, 1_764_000_000 + round as i64 * step, &rows, &[]).unwrap();
            if round > 1 {
                peer_cpu.push(netattr::ffi::thread_cpu_time().saturating_sub(t).as_secs_f64() * 1000.0);
            }
        }
    }
    cpu.sort_by(f64::total_cmp);
    println!(
        "bill of {} moved rows: median {:.1} ms CPU (min {:.1}) over {rounds} rounds",
        2 * n,
        cpu[cpu.len() / 2],
        cpu[0]
    );
    if peers > 0 {
        peer_cpu.sort_by(f64::total_cmp);
        println!(
            "bill of {} moved peer rows: median {:.1} ms CPU (min {:.1})",
            2 * n * peers,
            peer_cpu[peer_cpu.len() / 2],
            peer_cpu[0]
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
