//! Naming workloads: live cgroups, and cgroups that are gone by the time anyone asks.
use crate::harness::*;

#[test]
fn a_workload_that_is_gone_is_still_named_with_its_bytes() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    let tree_root = s.tree.rel();
    na.run(&["load"]).ok();
    na.run(&["attach", "--iface", &c.host_if, "--cgroup", &tree_root]).ok();
    let h = s.tree.cgroup("host.slice/receiver.service");
    // A short-lived "container": its own cgroup, 5 MB sent, then the process exits and the
    // cgroup is removed, as a runtime does with `docker run --rm`.
    let payload = 5_000_000;
    let short = c.run_exited(&s.tree, &h, 7400, payload);

    for source in ["socket", "tc"] {
        let st = na.run(&["stats", "--source", source, "--format", "json"]).ok().json();
        let row = st["cgroups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["cgroup_id"] == short.id)
            .unwrap_or_else(|| panic!("{st}"));
        assert_eq!(row["gone"], true, "{row}");
        assert_eq!(row["path"], short.rel.as_str(), "named by the kernel's record: {row}");
        assert_eq!(row["kind"], "container");
        assert!(short.rel.contains(row["container_id"].as_str().unwrap()), "{row}");
        assert!(row["tx_bytes"].as_u64().unwrap() >= payload, "{row}");
    }

    let res =
        na.run(&["resolve", &short.id.to_string(), &c.cgroup.id.to_string(), "--format", "json"]).ok().json();
    let rows = res["cgroups"].as_array().unwrap();
    assert_eq!(rows[0]["state"], "gone", "{res}");
    assert_eq!(rows[0]["path"], short.rel.as_str());
    assert_eq!(rows[0]["runtime"], "docker");
    assert_eq!(rows[1]["state"], "live");
    assert_eq!(rows[1]["path"], c.cgroup.rel.as_str());

    // Without ids: every id counted, the buckets left out.
    let all = na.run(&["resolve", "--format", "json"]).ok().json();
    let ids: Vec<u64> =
        all["cgroups"].as_array().unwrap().iter().map(|r| r["cgroup_id"].as_u64().unwrap()).collect();
    assert!(ids.contains(&short.id) && ids.contains(&h.id) && !ids.contains(&0), "{ids:?}");
}

#[test]
fn resolve_says_unknown_for_ids_it_never_saw_and_refuses_non_numbers() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    // Live cgroups resolve without a load.
    let cg = s.tree.cgroup("system.slice/nginx.service");
    let r = na.run(&["resolve", &cg.id.to_string(), "999999999", "--format", "json"]).ok().json();
    assert_eq!(r["cgroups"][0]["state"], "live");
    assert_eq!(r["cgroups"][0]["kind"], "service");
    assert_eq!(r["cgroups"][1]["state"], "unknown");
    assert!(r["cgroups"][1]["path"].is_null());
    let bad = na.run(&["resolve", "abc"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    na.run(&["resolve"]).fails_with("netattr is not loaded");
}

#[test]
fn events_stream_first_sightings_with_their_identity() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    let tree_root = s.tree.rel();
    na.run(&["load"]).ok();
    na.run(&["attach", "--iface", &c.host_if, "--cgroup", &tree_root]).ok();
    let h = s.tree.cgroup("host.slice/receiver.service");
    let short = c.run_exited(&s.tree, &h, 7500, 1_000_000);

    // --count ends the stream by itself.
    let one = na.run(&["events", "--count", "1", "--format", "ndjson"]).ok();
    assert_eq!(one.stdout.lines().count(), 1, "{}", one.stdout);

    // The rest of the backlog: every first sighting since load, the gone cgroup named.
    let mut child = na.cmd(&["events", "--format", "ndjson"]).stdout(Stdio::piped()).spawn().unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut events: Vec<serde_json::Value> =
        serde_json::from_str::<serde_json::Value>(&one.stdout).into_iter().collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    let has = |ev: &[serde_json::Value], id: u64| ev.iter().any(|e| e["cgroup_id"] == id);
    while !(has(&events, short.id) && has(&events, h.id)) && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            events.push(serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let ev = events.iter().find(|e| e["cgroup_id"] == short.id).unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(ev["schema"], 1);
    assert_eq!(ev["state"], "gone");
    assert_eq!(ev["path"], short.rel.as_str());
    assert_eq!(ev["kind"], "container");
    assert!(["tc_ingress", "socket_egress"].contains(&ev["hook"].as_str().unwrap()), "{ev}");
    assert!(ev["ts_ns"].as_u64().unwrap() > 0);
    assert!(has(&events, h.id), "{events:?}");
}

#[test]
fn kubernetes_pods_are_named_from_the_kubelet_log_directory() {
    // No API server: the kubelet's cgroup layout (both drivers) and its pod log directory,
    // made by the test, are all netattr reads.
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    let tree_root = s.tree.rel();
    let hex =
        |n: u32| format!("{:064x}", (std::process::id() as u128) << 64 | (uniq() as u128) << 8 | n as u128);
    let uid1 = format!("0a1b2c3d-1111-2222-3333-{:012x}", uniq());
    let uid2 = format!("0a1b2c3d-4444-5555-6666-{:012x}", uniq());
    let systemd = s.tree.cgroup(&format!(
        "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{}.slice/cri-containerd-{}.scope",
        uid1.replace('-', "_"),
        hex(1)
    ));
    let cgroupfs = s.tree.cgroup(&format!("kubepods/besteffort/pod{uid2}/{}", hex(2)));
    let pods = std::env::temp_dir().join(format!("netattr-test-pods-{}-{}", std::process::id(), uniq()));
    for d in [format!("shop_web-7d9f_{uid1}"), format!("kube-system_coredns-55x_{uid2}")] {
        std::fs::create_dir_all(pods.join(d)).unwrap();
    }
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", &tree_root]).ok();
    let h = s.tree.cgroup("host.slice/h.service");
    for (i, cg) in [&systemd, &cgroupfs].into_iter().enumerate() {
        let port = 7700 + i;
        c.send(cg, &h, port as u16, 200000);
    }
    let st = na.run(&["stats", "--format", "json", "--pods-dir", pods.to_str().unwrap()]).ok().json();
    let row = |id: u64| row(&st, id).clone();
    let r1 = row(systemd.id);
    assert_eq!(
        (r1["pod_namespace"].as_str(), r1["pod_name"].as_str()),
        (Some("shop"), Some("web-7d9f")),
        "{r1}"
    );
    assert_eq!(r1["pod_uid"], uid1.as_str());
    assert_eq!(r1["runtime"], "containerd");
    assert_eq!(r1["name"], "shop/web-7d9f");
    assert!(r1["tx_bytes"].as_u64().unwrap() >= 200_000);
    let r2 = row(cgroupfs.id);
    assert_eq!(
        (r2["pod_namespace"].as_str(), r2["pod_name"].as_str()),
        (Some("kube-system"), Some("coredns-55x")),
        "{r2}"
    );
    assert_eq!(r2["kind"], "container");
    // Without the directory, the rows keep their identity but have no pod name.
    let bare = na.run(&["stats", "--format", "json", "--pods-dir", "/nonexistent"]).ok();
    assert!(bare.stderr.is_empty(), "{}", bare.stderr);
    let b1 = bare.json()["cgroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["cgroup_id"] == systemd.id)
        .unwrap()
        .clone();
    assert!(b1["pod_name"].is_null() && b1["pod_uid"] == uid1.as_str(), "{b1}");
    let _ = std::fs::remove_dir_all(&pods);
}

#[test]
fn the_resolver_caches_live_paths_and_forgets_removed_cgroups() {
    use netattr::cgroup::{Lookup, Resolver};
    use std::time::Duration;
    let Some(s) = scene(0, false) else { return };
    let cg = s.tree.docker_like();
    let mut cached = Resolver::new(cgroup2()).unwrap();
    let mut fresh = Resolver::new(cgroup2()).unwrap().with_ttl(Duration::ZERO);
    assert_eq!(cached.lookup(cg.id), Lookup::Path(cg.rel.clone()));
    assert_eq!(fresh.lookup(cg.id), Lookup::Path(cg.rel.clone()));
    assert_eq!((cached.cached(), fresh.cached()), (1, 0));
    std::fs::remove_dir(&cg.path).unwrap();
    // Within its lifetime the cached path is trusted; asked again, the kernel says gone
    // (ESTALE) and the entry leaves the cache.
    assert_eq!(cached.lookup(cg.id), Lookup::Path(cg.rel.clone()));
    assert_eq!(fresh.lookup(cg.id), Lookup::Gone);
    let mut expiring = Resolver::new(cgroup2()).unwrap().with_ttl(Duration::from_millis(50));
    let other = s.tree.docker_like();
    assert_eq!(expiring.lookup(other.id), Lookup::Path(other.rel.clone()));
    std::fs::remove_dir(&other.path).unwrap();
    // Trusted until its 50 ms are over, then asked again: gone.
    wait_until("the cached path to expire", Duration::from_secs(5), || {
        expiring.lookup(other.id) == Lookup::Gone
    });
    assert_eq!(expiring.cached(), 0);
}

/// Deleting billing data rests on the kernel's word only: a cgroup a walk of the mount does
/// not list (as in a cgroup namespace, where the mount is not the host's root) is unknown,
/// not gone; the kernel's own answer (a file handle's ESTALE) is asked afresh.
#[test]
fn only_the_kernel_says_a_cgroup_is_gone() {
    use netattr::cgroup::{Lookup, Resolver};
    let Some(s) = scene(0, false) else { return };
    let live = s.tree.docker_like();
    let dead = s.tree.docker_like();
    std::fs::remove_dir(&dead.path).unwrap();
    let mut r = Resolver::new(cgroup2()).unwrap();
    // A walk of a subtree (standing in for a namespaced mount) lists neither of them.
    let mut sub = Resolver::new(s.tree.cgroup("host.slice").path).unwrap();
    assert_eq!(sub.by_walk(live.id), Lookup::Unknown, "not listed is not gone");
    assert_eq!(sub.by_walk(dead.id), Lookup::Unknown);
    assert!(!r.kernel_says_gone(live.id));
    assert!(r.kernel_says_gone(dead.id));
    assert_eq!(r.lookup(dead.id), Lookup::Gone);
}

#[test]
fn exited_workloads_are_kept_until_reaped_then_removed_everywhere() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    na.run(&["load", "--breakdown", "iface,port"]).ok();
    na.run(&["attach", "--iface", &c.host_if, "--cgroup", &s.tree.rel()]).ok();
    let h = s.tree.cgroup("host.slice/receiver.service");
    let mut gone = Vec::new();
    for i in 0..3u16 {
        gone.push(c.run_exited(&s.tree, &h, 8100 + i, 100_000).id);
    }
    let status = na.run(&["status", "--format", "json"]).ok().json();
    assert_eq!(status["gone_cgroups"], 3, "{status}");
    let reaped = na.run(&["reap", "--format", "json"]).ok();
    assert!(reaped.stderr.contains("reaped 3 gone cgroup(s)"), "{}", reaped.stderr);
    let rows = reaped.json()["cgroups"].as_array().unwrap().clone();
    for id in &gone {
        for source in ["tc", "socket"] {
            let r = rows
                .iter()
                .find(|r| r["cgroup_id"] == *id && r["source"] == source)
                .unwrap_or_else(|| panic!("{rows:?}"));
            assert!(r["tx_bytes"].as_u64().unwrap() >= 100_000 && r["gone"] == true, "{r}");
        }
    }
    // Gone from every map; the live receiver keeps its counters.
    for args in
        [vec!["stats"], vec!["stats", "--by", "iface", "--source", "tc"], vec!["stats", "--by", "port"]]
    {
        let mut a = args.clone();
        a.extend(["--format", "json"]);
        let st = na.run(&a).ok().json();
        let ids: Vec<u64> =
            st["cgroups"].as_array().unwrap().iter().filter_map(|r| r["cgroup_id"].as_u64()).collect();
        assert!(gone.iter().all(|g| !ids.contains(g)), "{args:?} still lists a reaped cgroup: {ids:?}");
    }
    let st = na.run(&["stats", "--format", "json"]).ok().json();
    assert!(
        st["cgroups"].as_array().unwrap().iter().any(|r| r["cgroup_id"] == h.id),
        "the live cgroup stays"
    );
    assert_eq!(na.run(&["status", "--format", "json"]).ok().json()["gone_cgroups"], 0);
    // The kernel's record of a reaped cgroup stays while its counters may come back (a
    // socket keeps its cgroup), so a re-counted cgroup keeps its name; the next reap that
    // finds no counter of it drops the record.
    let named = na.run(&["resolve", &gone[0].to_string(), "--format", "json"]).ok().json();
    assert_eq!(named["cgroups"][0]["state"], "gone", "{named}");
    assert!(named["cgroups"][0]["path"].as_str().is_some(), "{named}");
    na.run(&["reap"]).ok();
    assert!(
        na.run(&["resolve", &gone[0].to_string(), "--format", "json"]).ok().json()["cgroups"][0]["state"]
            == "unknown"
    );
}

#[test]
fn the_kernel_walk_of_the_tree_names_every_cgroup_as_file_handles_do() {
    use netattr::bpf::{tree, Pins};
    use netattr::cgroup::{id_of, Lookup, Resolver};
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    na.run(&["load"]).ok();
    assert!(na.pin("cgroup_tree").exists(), "load pins the cgroup_tree iterator on this kernel (6.1+)");
    let pins = Pins::new(&na.pin(""));
    let root = id_of(&cgroup2()).unwrap();
    // Nested cgroups, some with names that are legal but hostile: spaces, a tab, an escape;
    // and more of them than the kernel returns from one read of an iterator that prints
    // (32 KB): the walk leaves them in a map instead.
    let mut made = vec![s.tree.cgroup("kubepods.slice/kubepods-pod1.slice/cri-containerd-ab.scope")];
    made.push(s.tree.cgroup("with space/and\ttab/esc\u{1b}[31m"));
    made.push(s.tree.cgroup(&"n".repeat(255)));
    made.extend((0..1500).map(|i| s.tree.cgroup(&format!("pool/docker-{i:064x}.scope"))));
    let walked = tree::read(&pins, root).unwrap();
    for cg in &made {
        assert_eq!(walked.get(&cg.id), Some(&cg.rel), "cgroup {} in the kernel's walk", cg.id);
    }
    // Every cgroup of the host: the walk and file handles agree.
    let mut by_handle = Resolver::new(cgroup2()).unwrap();
    for (id, path) in &walked {
        if let Lookup::Path(p) = by_handle.lookup(*id) {
            assert_eq!(&p, path, "cgroup {id}");
        }
    }
    // A removed cgroup leaves the next walk, and its entry leaves the map.
    let last = made.pop().unwrap();
    std::fs::remove_dir(&last.path).unwrap();
    let walked = tree::read(&pins, root).unwrap();
    assert!(!walked.contains_key(&last.id));
    // The ids-only walk (what record and reap use to spare a question per live cgroup) finds
    // the same cgroups, the removed one not among them.
    assert!(na.pin("cgroup_ids").exists(), "load pins the cgroup_ids iterator too");
    let live = tree::live_ids(&pins).unwrap().expect("a cgroup_ids iterator");
    // (Only this test's cgroups: tests beside it make and remove theirs meanwhile.)
    assert!(
        made.iter().all(|c| live.contains(&c.id)) && live.contains(&root),
        "every live cgroup of the test"
    );
    assert!(!live.contains(&last.id), "the removed cgroup is not in the ids walk");
    let asked: std::collections::BTreeSet<u64> = made.iter().map(|c| c.id).chain([last.id]).collect();
    let alive = Resolver::new(cgroup2()).unwrap().with_tree(&pins).alive_in_walk(&asked);
    assert_eq!(alive, made.iter().map(|c| c.id).collect(), "alive: all made but the removed one");
    let left: serde_json::Value = serde_json::from_str(&sh(&[
        "bpftool",
        "-j",
        "map",
        "dump",
        "pinned",
        na.pin("cgroup_tree_nodes").to_str().unwrap(),
    ]))
    .unwrap();
    let keys: Vec<u64> =
        left.as_array().unwrap().iter().filter_map(|e| e["formatted"]["key"].as_u64()).collect();
    assert!(keys.contains(&made[0].id), "bpftool shows the walk's entries by id: {keys:?}");
    assert!(!keys.contains(&last.id), "the removed cgroup's entry is deleted");
    // A resolver given the iterator names many ids from one walk, the same as without.
    let mut with_tree = Resolver::new(cgroup2()).unwrap().with_tree(&pins);
    let ids: Vec<u64> = made.iter().map(|c| c.id).chain([last.id]).collect();
    with_tree.prefetch(&ids);
    assert_eq!(with_tree.cached(), made.len(), "the live ones are cached from the walk");
    for cg in made.iter().step_by(50) {
        assert_eq!(with_tree.lookup(cg.id), Lookup::Path(cg.rel.clone()));
    }
    assert_eq!(with_tree.lookup(last.id), Lookup::Gone);
    na.run(&["cleanup"]).ok();
    assert!(!na.pin("").exists(), "cleanup removes the iterator's pin with the rest");
}
