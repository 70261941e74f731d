//! The per-cgroup fast path (bpf/netattr.h, COUNTER_SLOTS): two cgroups with the same home
//! slot are each counted once and exactly, one in the slot and the other in the hash, and
//! `reap` gives a gone cgroup's slot back, emptied.
use std::collections::HashMap;

use netattr::bpf::slots::home_slot;
use serde_json::Value;

use crate::harness::*;

/// The class lanes word of a socket slot (one class id a byte; 0xff: free).
fn lanes_in_kernel(na: &Netattr, slot: u32) -> u64 {
    na.map_u64("sock_class_lanes", slot)
}

/// bpftool's view of one slot: (owner cgroup id, per-CPU tx bytes summed).
fn slot_in_kernel(na: &Netattr, slot: u32) -> (u64, u64) {
    let dump = |name: &str| -> Value {
        let pin = na.pin(name).to_string_lossy().into_owned();
        let key: Vec<String> = slot.to_ne_bytes().iter().map(u8::to_string).collect();
        let mut args = vec!["bpftool", "-j", "map", "lookup", "pinned", &pin, "key"];
        args.extend(key.iter().map(String::as_str));
        serde_json::from_str(&sh(&args)).unwrap()
    };
    let owner = dump("sock_slot_owner")["formatted"]["value"].as_u64().unwrap();
    let tx = dump("sock_slots")["formatted"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"]["tx_bytes"].as_u64().unwrap())
        .sum();
    (owner, tx)
}

#[test]
fn cgroups_sharing_a_slot_are_each_counted_once_and_reap_frees_the_slot() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    // With the class breakdown: the slot's holder counts its classes in the slot's lanes.
    na.run(&["load", "--breakdown", "class"]).ok();
    assert_eq!(na.run(&["status", "--format", "json"]).ok().json()["fast_path"], true, "on Linux 5.12+");
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    // Among 300 cgroups two share a home slot of 4,096, but with a chance of 2 in 100,000.
    let mut by_slot: HashMap<u32, Cgroup> = HashMap::new();
    let (first, second) = (0..300)
        .find_map(|i| {
            let cg = s.tree.cgroup(&format!("pool/c{i}.scope"));
            match by_slot.remove(&home_slot(cg.id)) {
                Some(earlier) => Some((earlier, cg)),
                None => {
                    by_slot.insert(home_slot(cg.id), cg);
                    None
                }
            }
        })
        .expect("two of 300 cgroups share a home slot");
    let slot = home_slot(first.id);
    let h = s.tree.cgroup("host.slice/receiver.service");
    let r1 = c.send(&first, &h, 7610, 300_000).retrans;
    let r2 = c.send(&second, &h, 7611, 200_000).retrans;

    // The first holds the slot (and counted all but its first packet there); the second,
    // sent later, is counted in the hash; each row within its truth-table bounds.
    let (owner, slot_tx) = slot_in_kernel(na, slot);
    assert_eq!(owner, first.id, "slot {slot} belongs to the cgroup first counted");
    assert!(slot_tx > 0, "the slot counts its owner's packets");
    let st = na.run(&["stats", "--source", "socket", "--format", "json"]).ok().json();
    let row = |id: u64| row(&st, id).clone();
    for (cg, payload, resent) in [(&first, 300_000u64, r1), (&second, 200_000, r2)] {
        let r = row(cg.id);
        let (tx, pk) = (r["tx_bytes"].as_u64().unwrap(), r["tx_packets"].as_u64().unwrap());
        assert!(
            tx >= payload && tx <= payload + 100 * pk + PER_RETRANSMISSION * resent,
            "cgroup {} tx {tx} for {payload} in {pk} packets",
            cg.id
        );
    }
    assert!(row(first.id)["tx_bytes"].as_u64().unwrap() > slot_tx, "its first packet is in the hash");
    // Their classes (lanes for the holder, the class hash for the other) add up to the rows.
    let classes = na.run(&["stats", "--by", "class", "--source", "socket", "--format", "json"]).ok().json();
    for cg in [&first, &second] {
        let sum: u64 = classes["cgroups"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["cgroup_id"] == cg.id)
            .map(|r| r["tx_bytes"].as_u64().unwrap())
            .sum();
        assert_eq!(sum, row(cg.id)["tx_bytes"].as_u64().unwrap(), "classes of {}: {classes}", cg.id);
    }
    assert_ne!(lanes_in_kernel(na, slot), u64::MAX, "the holder's class is in a lane");
    eprintln!(
        "measured: slot {slot}: holder {} tx {} B ({slot_tx} B in the slot), other {} tx {} B (hash)",
        first.id,
        row(first.id)["tx_bytes"],
        second.id,
        row(second.id)["tx_bytes"]
    );

    // Both exit; reap reports their final counters, then frees and empties the slot.
    for cg in [&first, &second] {
        std::fs::remove_dir(&cg.path).unwrap();
    }
    let reaped = na.run(&["reap", "--format", "json"]).ok().json();
    let final_tx = |id: u64| {
        reaped["cgroups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["cgroup_id"] == id && r["source"] == "socket")
            .unwrap()["tx_bytes"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(
        final_tx(first.id),
        row(first.id)["tx_bytes"].as_u64().unwrap(),
        "slot and hash in the final row"
    );
    assert_eq!(final_tx(second.id), row(second.id)["tx_bytes"].as_u64().unwrap());
    assert_eq!(slot_in_kernel(na, slot), (0, 0), "the slot is free and empty");
    assert_eq!(lanes_in_kernel(na, slot), u64::MAX, "its class lanes are free for the next holder");
    let st = na.run(&["stats", "--source", "socket", "--format", "json"]).ok().json();
    assert!(st["cgroups"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["cgroup_id"] != first.id && r["cgroup_id"] != second.id));
}

#[test]
fn without_the_fast_path_every_cgroup_is_counted_in_its_hash_as_exactly() {
    // What kernels before 5.12 (no BPF compare-and-swap) run; forced here with the flag.
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    na.run(&["load", "--no-fast-path"]).ok();
    na.run(&["attach", "--iface", &c.host_if, "--cgroup", &s.tree.rel()]).ok();
    let h = s.tree.cgroup("host.slice/receiver.service");
    let resent = c.send(&c.cgroup, &h, 7620, 400_000).retrans;
    for source in ["socket", "tc"] {
        let st = na.run(&["stats", "--source", source, "--format", "json"]).ok().json();
        let r = row(&st, c.cgroup.id);
        let (tx, pk) = (r["tx_bytes"].as_u64().unwrap(), r["tx_packets"].as_u64().unwrap());
        let allowed = 100 * pk + PER_RETRANSMISSION * resent;
        assert!(
            tx >= 400_000 && tx <= 400_000 + allowed,
            "{source}: tx {tx} in {pk} packets, {resent} resent"
        );
    }
    let status = na.run(&["status", "--format", "json"]).ok().json();
    assert_eq!(status["fast_path"], false);
    for owners in ["tc_slot_owner", "sock_slot_owner"] {
        let m = status["maps"].as_array().unwrap().iter().find(|m| m["name"] == owners).cloned().unwrap();
        assert_eq!(m["entries"], 0, "no slot is claimed without the fast path: {m}");
    }
    assert!(na.run(&["status"]).ok().stdout.contains("per-cgroup fast path off"));
}
