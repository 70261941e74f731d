//! load / attach / stats / status / detach / cleanup on real traffic.
use std::collections::HashMap;
use std::process::Command;

use serde_json::Value;

use crate::harness::*;

/// Per-packet allowance of the truth table (headers, and the acks of the reverse flow).
const PER_PACKET: u64 = 100;

fn n(v: &Value, field: &str) -> u64 {
    v[field].as_u64().unwrap_or_else(|| panic!("{field} is not a number in {v}"))
}

/// bytes >= payload and bytes <= payload + 100 per packet counted in the cell.
fn assert_cell(what: &str, bytes: u64, packets: u64, payload: u64) {
    assert!(bytes >= payload, "{what}: {bytes} bytes < payload {payload}: packets lost");
    assert!(
        bytes <= payload + PER_PACKET * packets,
        "{what}: {bytes} bytes > payload {payload} + {PER_PACKET} x {packets} packets: counted twice"
    );
}

#[test]
fn tc_counts_each_sender_once_with_exact_bounds() {
    let Some(s) = scene(1, false) else { return };
    let na = &s.na;
    let c = &s.c[0];
    let h = s.tree.cgroup("host.slice/sender.service");
    na.run(&["load"]).ok();
    na.run(&["attach", "--iface", &c.host_if]).ok();
    settle(&[&c.host_if]);

    const C_TO_H_TCP: u64 = 3_000_000;
    const H_TO_C_TCP: u64 = 2_000_000;
    const UDP_COUNT: u64 = 300;
    const UDP_SIZE: u64 = 1000;
    let r = Peer::spawn(&h, None, &format!("tcp-recv {}:5001", c.host_ip)).ready();
    assert_eq!(c.peer(&format!("tcp-send {}:5001 {C_TO_H_TCP}", c.host_ip)).done(), C_TO_H_TCP);
    assert_eq!(r.done(), C_TO_H_TCP);
    let r = c.peer(&format!("tcp-recv {}:5002", c.ip)).ready();
    Peer::spawn(&h, None, &format!("tcp-send {}:5002 {H_TO_C_TCP}", c.ip)).done();
    assert_eq!(r.done(), H_TO_C_TCP);
    let r = Peer::spawn(&h, None, &format!("udp-recv {}:5003 {}", c.host_ip, UDP_COUNT * UDP_SIZE)).ready();
    c.peer(&format!("udp-send {}:5003 {UDP_COUNT} {UDP_SIZE}", c.host_ip)).done();
    r.done();

    let stats = na.run(&["stats", "--format", "json"]).ok().json();
    assert_eq!(stats["schema"], 1);
    assert_eq!(stats["source"], "tc");

    // At tc a packet belongs to the socket that sent it (accounting.md, rule 2).
    let cr = row(&stats, c.cgroup.id);
    assert_eq!(cr["bucket"], "cgroup");
    // The harness names the container's cgroup like Docker under systemd.
    assert_eq!(cr["kind"], "container");
    assert_eq!(cr["runtime"], "docker");
    assert_eq!(cr["container_id"].as_str().map(str::len), Some(64), "{cr}");
    assert!(c.cgroup.rel.contains(cr["container_id"].as_str().unwrap()));
    assert_eq!(cr["path"].as_str(), Some(c.cgroup.rel.as_str()));
    let c_payload = C_TO_H_TCP + UDP_COUNT * UDP_SIZE;
    assert_cell("container tx", n(cr, "tx_bytes"), n(cr, "tx_packets"), c_payload);
    // Wire packets: at least one per MSS-sized segment and one per datagram.
    assert!(n(cr, "tx_packets") >= C_TO_H_TCP.div_ceil(1448) + UDP_COUNT, "{cr}");
    assert_eq!(n(cr, "rx_bytes"), 0, "without an interface owner nothing is the container's rx: {cr}");

    let hr = row(&stats, h.id);
    assert_eq!(hr["kind"], "service");
    assert!(hr["container_id"].is_null());
    assert_eq!(hr["path"].as_str(), Some(h.rel.as_str()));
    assert_cell("host sender tx", n(hr, "tx_bytes"), n(hr, "tx_packets"), H_TO_C_TCP);
    assert!(n(hr, "tx_packets") >= H_TO_C_TCP.div_ceil(1448), "{hr}");
    assert_eq!(n(hr, "rx_bytes"), 0);

    eprintln!(
        "measured: container tx {} B / {} pkts for payload {c_payload} B; host tx {} B / {} pkts for payload {H_TO_C_TCP} B",
        n(cr, "tx_bytes"), n(cr, "tx_packets"), n(hr, "tx_bytes"), n(hr, "tx_packets")
    );
    // The reserved buckets are always listed.
    let buckets: Vec<&str> =
        stats["cgroups"].as_array().unwrap().iter().map(|r| r["bucket"].as_str().unwrap()).collect();
    assert!(buckets.contains(&"unresolved") && buckets.contains(&"overflow"), "{buckets:?}");
    let overflow = stats["cgroups"].as_array().unwrap().iter().find(|r| r["bucket"] == "overflow").unwrap();
    assert!(overflow["cgroup_id"].is_null(), "{overflow}");

    // bpftool reads the same pinned maps, per CPU: the hash plus the slot each cgroup holds
    // (bpf/netattr.h, COUNTER_SLOTS) equal netattr's sums.
    let mut dumped = bpftool_sums(&na.pin("stats_map"));
    let owners = bpftool_dump(&na.pin("tc_slot_owner"));
    for (slot, s) in bpftool_sums(&na.pin("tc_slots")) {
        let owner =
            owners.iter().find(|e| e["formatted"]["key"] == slot).unwrap()["formatted"]["value"].as_u64();
        if let Some(d) = owner.filter(|o| *o != 0 && *o != u64::MAX).and_then(|o| dumped.get_mut(&o)) {
            (0..4).for_each(|i| d[i] += s[i]);
        }
    }
    assert!(
        [c.cgroup.id, h.id].iter().any(|id| owners.iter().any(|e| e["formatted"]["value"] == *id)),
        "the fast path holds a slot for a counted cgroup"
    );
    for id in [c.cgroup.id, h.id] {
        let r = row(&stats, id);
        let d = &dumped[&id];
        for (i, f) in ["rx_bytes", "tx_bytes", "rx_packets", "tx_packets"].iter().enumerate() {
            assert_eq!(d[i], n(r, f), "{f} of cgroup {id}: bpftool {d:?} vs netattr {r}");
        }
    }

    // Each cgroup was announced once on the first-seen ring buffer, with the hook it came in on.
    let seen = first_seen(&na.pin("events"));
    for id in [c.cgroup.id, h.id] {
        assert_eq!(seen.iter().filter(|(i, _)| *i == id).count(), 1, "cgroup {id} in {seen:?}");
    }
    assert!(seen.iter().all(|(_, hook)| *hook == 1 || *hook == 2), "{seen:?}");

    // The table shows the same rows, with the path.
    let table = na.run(&["stats"]).ok().stdout;
    assert!(table.lines().next().unwrap().starts_with("CGROUP_ID"), "{table}");
    assert!(table.contains(&c.cgroup.rel), "{table}");
    assert!(table.contains("(unresolved)"), "{table}");
}

/// (cgroup id, hook) of every record waiting in the pinned `events` ring buffer.
fn first_seen(pin: &std::path::Path) -> Vec<(u64, u32)> {
    use std::sync::{Arc, Mutex};
    let map = libbpf_rs::MapHandle::from_pinned_path(pin).expect("the pinned events map");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let mut b = libbpf_rs::RingBufferBuilder::new();
    b.add(&map, move |d: &[u8]| {
        let id = u64::from_ne_bytes(d[0..8].try_into().unwrap());
        let hook = u32::from_ne_bytes(d[20..24].try_into().unwrap());
        sink.lock().unwrap().push((id, hook));
        0
    })
    .unwrap();
    b.build().unwrap().consume().unwrap();
    let v = seen.lock().unwrap().clone();
    v
}

/// cgroup id -> [rx_bytes, tx_bytes, rx_packets, tx_packets] summed over CPUs, from bpftool.
fn bpftool_dump(pin: &std::path::Path) -> Vec<Value> {
    let out =
        Command::new("bpftool").args(["-j", "map", "dump", "pinned"]).arg(pin).output().expect("bpftool");
    assert!(out.status.success(), "bpftool: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice::<Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

/// Per key, the per-CPU values of a counter map summed, as bpftool dumps them.
fn bpftool_sums(pin: &std::path::Path) -> HashMap<u64, [u64; 4]> {
    let mut sums = HashMap::new();
    for e in &bpftool_dump(pin) {
        let f = &e["formatted"];
        let key = f["key"].as_u64().unwrap_or_else(|| panic!("bpftool shows no BTF-formatted key: {e}"));
        let mut s = [0u64; 4];
        for cpu in f["values"].as_array().unwrap() {
            for (i, name) in ["rx_bytes", "tx_bytes", "rx_packets", "tx_packets"].iter().enumerate() {
                s[i] += cpu["value"][name]
                    .as_u64()
                    .unwrap_or_else(|| panic!("bpftool shows no field {name}: {cpu}"));
            }
        }
        sums.insert(key, s);
    }
    sums
}

#[test]
fn attach_is_idempotent_and_detach_spares_foreign_filters() {
    let Some(s) = scene(1, false) else { return };
    let na = &s.na;
    let c = &s.c[0];
    na.run(&["load"]).ok();
    // Someone else's qdisc and filter are already there.
    sh(&["tc", "qdisc", "add", "dev", &c.host_if, "clsact"]);
    sh(&[
        "tc", "filter", "add", "dev", &c.host_if, "ingress", "pref", "60000", "protocol", "all", "u32",
        "match", "u32", "0", "0", "classid", "1:1",
    ]);

    let first = na.run(&["attach", "--iface", &c.host_if, "--format", "json"]).ok().json();
    let results: Vec<&str> =
        first["hooks"].as_array().unwrap().iter().map(|h| h["result"].as_str().unwrap()).collect();
    assert_eq!(results, ["attached", "attached"]);
    let again = na.run(&["attach", "--iface", &c.host_if, "--format", "json"]).ok().json();
    let results: Vec<&str> =
        again["hooks"].as_array().unwrap().iter().map(|h| h["result"].as_str().unwrap()).collect();
    assert_eq!(results, ["already attached", "already attached"]);
    for hook in ["ingress", "egress"] {
        let f = tc_filters(&c.host_if, hook);
        assert_eq!(f.matches(&format!("tc_{hook}:[")).count(), 1, "one netattr filter on {hook}: {f}");
    }

    let status = na.run(&["status", "--format", "json"]).ok().json();
    let ifaces = status["interfaces"].as_array().unwrap();
    assert_eq!(ifaces.len(), 1, "{status}");
    assert_eq!(ifaces[0]["iface"], c.host_if.as_str());
    assert_eq!(ifaces[0]["qdisc_created"], false);

    na.run(&["detach", "--iface", &c.host_if]).ok();
    let f = tc_filters(&c.host_if, "ingress");
    assert!(!f.contains("tc_ingress"), "{f}");
    assert!(f.contains("u32") && f.contains("pref 60000"), "the foreign filter must stay: {f}");
    assert!(has_clsact(&c.host_if), "the pre-existing qdisc must stay");

    na.run(&["cleanup"]).ok();
    assert!(tc_filters(&c.host_if, "ingress").contains("u32"));
    assert!(!na.pin_dir.exists());
}

#[test]
fn cleanup_removes_only_what_netattr_created_and_is_idempotent() {
    let Some(s) = scene(2, false) else { return };
    let na = &s.na;
    let c = &s.c[0];
    let d = &s.c[1];
    // Nothing loaded yet: cleanup is a quiet no-op.
    na.run(&["cleanup"]).ok();
    na.run(&["load"]).ok();
    assert!(!has_clsact(&c.host_if));
    na.run(&["attach", "--iface", &c.host_if, "--iface", &d.host_if]).ok();
    assert!(has_clsact(&c.host_if) && has_clsact(&d.host_if));
    let status = na.run(&["status", "--format", "json"]).ok().json();
    assert_eq!(status["interfaces"].as_array().unwrap().len(), 2, "{status}");
    assert_eq!(status["interfaces"][0]["qdisc_created"], true, "{status}");

    // Detaching one direction keeps the qdisc, detaching the rest removes it.
    na.run(&["detach", "--iface", &d.host_if, "--direction", "egress"]).ok();
    assert!(has_clsact(&d.host_if));
    assert!(tc_filters(&d.host_if, "ingress").contains("tc_ingress"));
    na.run(&["detach", "--iface", &d.host_if, "--direction", "ingress"]).ok();
    assert!(!has_clsact(&d.host_if), "netattr's own empty qdisc goes with its last filter");

    let out = na.run(&["cleanup"]).ok();
    assert!(out.stdout.is_empty(), "cleanup prints diagnostics only: {}", out.stdout);
    assert!(!has_clsact(&c.host_if), "cleanup removes the qdisc netattr added");
    assert!(!na.pin_dir.exists(), "no pin left");
    na.run(&["cleanup"]).ok();
}

#[test]
fn all_veth_selects_by_link_kind_not_by_name() {
    let Some(s) = scene(2, true) else { return };
    let na = &s.na;
    let c = &s.c[0];
    let d = &s.c[1];
    // A bridge is not a veth, whatever it is called.
    let br = Bridge::new(Some(format!("veth{}b{}", std::process::id() % 10000, uniq())));
    na.run(&["load"]).ok();
    let out = na.run(&["attach", "--all-veth", "--format", "json"]).ok().json();
    let names: Vec<&str> =
        out["hooks"].as_array().unwrap().iter().map(|h| h["target"].as_str().unwrap()).collect();
    assert!(names.contains(&c.host_if.as_str()) && names.contains(&d.host_if.as_str()), "{names:?}");
    assert!(!names.contains(&br.name.as_str()), "{names:?}");
    assert!(!names.contains(&"lo"), "{names:?}");
    na.run(&["detach", "--all-veth"]).ok();
    for i in [&c.host_if, &d.host_if] {
        assert!(!tc_filters(i, "ingress").contains("tc_ingress"));
        assert!(!has_clsact(i));
    }
    na.run(&["attach", "--all-veth"]).ok();
    na.run(&["detach", "--all"]).ok();
    assert!(!tc_filters(&c.host_if, "egress").contains("tc_egress"));

    // Another instance holds one veth: --iface refuses it, --all-veth skips it with a
    // warning and attaches the rest.
    let other = Netattr::new();
    other.run(&["load"]).ok();
    other.run(&["attach", "--iface", &d.host_if]).ok();
    na.run(&["attach", "--iface", &d.host_if]).fails_with("not this netattr instance's");
    let all = na.run(&["attach", "--all-veth", "--format", "json"]).ok();
    assert!(all.stderr.contains(&format!("skipped {}", d.host_if)), "{}", all.stderr);
    let names: Vec<String> = all.json()["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["target"].as_str().unwrap().to_string())
        .collect();
    assert!(names.contains(&c.host_if) && !names.contains(&d.host_if), "{names:?}");
    na.run(&["detach", "--all"]).ok();
    assert!(tc_filters(&d.host_if, "ingress").contains("tc_ingress"), "the other instance's filter stays");
}

#[test]
fn second_load_keeps_counters_and_reuse_accepts_them() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    na.run(&["load", "--max-entries", "64"]).ok();
    let before = na.run(&["status", "--format", "json"]).ok().json();
    na.run(&["load"]).fails_with("already loaded");
    // --reuse keeps only an instance loaded as asked; it says what differs otherwise.
    na.run(&["load", "--reuse"]).fails_with("--max-entries 64 (asked 10240)");
    let kept = na.run(&["load", "--reuse", "--accept-existing", "--format", "json"]).ok();
    assert!(kept.stderr.contains("although it differs: --max-entries 64 (asked 10240)"), "{}", kept.stderr);
    let reused = na.run(&["load", "--reuse", "--max-entries", "64", "--format", "json"]).ok().json();
    assert_eq!(reused["reused"], true);
    assert_eq!(reused["max_entries"], 64);
    let after = na.run(&["status", "--format", "json"]).ok().json();
    assert_eq!(before["programs"], after["programs"], "programs were not replaced");
    assert_eq!(before["loaded_at"], after["loaded_at"]);
    let stats_map =
        &after["maps"].as_array().unwrap().iter().find(|m| m["name"] == "stats_map").unwrap().clone();
    assert_eq!(stats_map["max_entries"], 66, "64 + the two reserved buckets");
    // Pins are root-only.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&na.pin_dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}

#[test]
fn commands_that_change_state_run_one_at_a_time() {
    let Some(s) = scene(2, false) else { return };
    let (na, c, d) = (&s.na, &s.c[0], &s.c[1]);
    na.run(&["load"]).ok();
    // Two attaches at once: both land, and the records say so.
    let (x, y) = std::thread::scope(|t| {
        let x = t.spawn(|| run_cmd(&mut na.cmd(&["attach", "--iface", &c.host_if])));
        let y = t.spawn(|| run_cmd(&mut na.cmd(&["attach", "--iface", &d.host_if])));
        (x.join().unwrap(), y.join().unwrap())
    });
    x.ok();
    y.ok();
    let status = na.run(&["status", "--format", "json"]).ok().json();
    assert_eq!(status["interfaces"].as_array().unwrap().len(), 2, "{status}");
    na.run(&["cleanup"]).ok();
    // attach racing cleanup: either attached and loaded, or nothing left at all.
    for _ in 0..5 {
        na.run(&["load"]).ok();
        let (at, cl) = std::thread::scope(|t| {
            let at = t.spawn(|| run_cmd(&mut na.cmd(&["attach", "--iface", &c.host_if])));
            let cl = t.spawn(|| run_cmd(&mut na.cmd(&["cleanup"])));
            (at.join().unwrap(), cl.join().unwrap())
        });
        assert_eq!(cl.code, 0, "{cl:?}");
        let filter = tc_filters(&c.host_if, "ingress").contains("tc_ingress");
        if na.pin_dir.exists() {
            assert_eq!(at.code, 0, "attach after cleanup? {at:?}");
            assert!(filter, "loaded and attached");
            na.run(&["cleanup"]).ok();
        } else {
            assert!(!filter, "cleanup left a filter behind: attach {at:?}");
            assert!(!has_clsact(&c.host_if), "cleanup left netattr's qdisc behind");
            if at.code != 0 {
                assert!(at.stderr.contains("not loaded"), "{at:?}");
            }
        }
    }
}
