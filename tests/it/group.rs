//! `stats --group`: rows summed live by the fields `report` groups the ledger by; a pod's
//! containers under its name, a namespace's pods under the namespace, exactly.
use serde_json::Value;

use crate::harness::*;

fn group<'a>(doc: &'a Value, field: &str, value: &str) -> &'a Value {
    doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"][field] == value)
        .unwrap_or_else(|| panic!("no group {field}={value} in {doc}"))
}

#[test]
fn stats_group_sums_a_pods_containers_and_a_namespaces_pods() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let pods_dir = TempDir::new();
    let pods = [
        ("shop", "web-1", "11111111-2222-4333-8444-555555555501"),
        ("shop", "cart-1", "11111111-2222-4333-8444-555555555502"),
        ("ops", "agent-1", "11111111-2222-4333-8444-555555555503"),
    ];
    for (ns, pod, uid) in pods {
        std::fs::create_dir_all(pods_dir.join(&format!("{ns}_{pod}_{uid}"))).unwrap();
    }
    // (pod, container, datagrams of 1,000 bytes): web-1 has two containers.
    let sends = [(0, 1, 10u64), (0, 2, 20), (1, 3, 5), (2, 4, 7)];
    let recv_cg = s.tree.cgroup("host.slice/recv.service");
    let port = free_port();
    let total: u64 = sends.iter().map(|(.., n)| n * 1000).sum();
    let recv = Peer::spawn(&recv_cg, None, &format!("udp-recv 127.0.0.1:{port} {total}")).ready();
    for (pod, c, n) in sends {
        let cg = s.tree.cgroup(&format!("kubepods/besteffort/pod{}/{c:064x}", pods[pod].2));
        Peer::spawn(&cg, None, &format!("udp-send 127.0.0.1:{port} {n} 1000")).finish();
    }
    recv.finish();
    let pods_arg = pods_dir.0.to_str().unwrap();
    let stats = |extra: &[&str]| {
        let mut a = vec!["stats", "--pods-dir", pods_arg];
        a.extend(extra);
        na.run(&a)
    };

    let by_name = stats(&["--group", "name", "--format", "json"]).ok().json();
    assert_eq!(by_name["group_by"], serde_json::json!(["name"]));
    let web = group(&by_name, "name", "shop/web-1");
    assert_eq!((web["rows"].as_u64(), web["tx_packets"].as_u64()), (Some(2), Some(30)), "{web}");
    assert_eq!(web["tx_bytes"], 30 * 1028, "{web}");
    assert_eq!(group(&by_name, "name", "shop/cart-1")["tx_bytes"], 5 * 1028);
    assert_eq!(group(&by_name, "name", "ops/agent-1")["tx_bytes"], 7 * 1028);

    let by_ns = stats(&["--group", "pod_namespace", "--format", "json"]).ok().json();
    let shop = group(&by_ns, "pod_namespace", "shop");
    assert_eq!((shop["rows"].as_u64(), shop["tx_bytes"].as_u64()), (Some(3), Some(35 * 1028)), "{shop}");
    assert_eq!(group(&by_ns, "pod_namespace", "ops")["tx_bytes"], 7 * 1028);
    // Rows without a namespace (the receiver, the buckets) are one group, null, as in
    // `report`. Largest first by the sort key, and --top cuts groups, not the rows summed.
    let null = by_ns["groups"].as_array().unwrap().iter().find(|g| g["group"]["pod_namespace"].is_null());
    assert!(null.is_some_and(|g| g["rx_bytes"].as_u64() >= Some(42 * 1028)), "{by_ns}");
    let top =
        stats(&["--group", "pod_namespace", "--sort", "tx", "--top", "1", "--format", "json"]).ok().json();
    assert_eq!(top["groups"].as_array().unwrap().len(), 1);
    assert_eq!(top["groups"][0]["tx_bytes"], 35 * 1028);

    let two = stats(&["--group", "pod_namespace,pod", "--sort", "tx", "--format", "json"]).ok().json();
    let g = &two["groups"][0]["group"];
    assert_eq!((g["pod_namespace"].as_str(), g["pod"].as_str()), (Some("shop"), Some("web-1")), "{two}");

    let table = stats(&["--group", "pod_namespace"]).ok().stdout;
    assert!(table.contains("POD_NAMESPACE") && table.contains("shop") && table.contains("ROWS"), "{table}");
    let csv = stats(&["--group", "pod_namespace", "--format", "csv"]).ok().stdout;
    assert!(csv.lines().next().unwrap().contains("rx_bytes"), "{csv}");

    // Live: one grouped document per interval, with rates.
    let live =
        stats(&["--group", "name", "--interval", "0.2", "--count", "2", "--format", "ndjson"]).ok().stdout;
    let docs: Vec<Value> = live.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(docs.len(), 2);
    for d in &docs {
        assert!(d["interval_s"].is_number() && d["groups"][0]["tx_bytes_per_s"].is_number(), "{d}");
    }

    // Refused with one line, nothing printed on stdout.
    for (args, says) in [
        (vec!["--group", "class"], "--group class sums rows of the class breakdown: add '--by class'"),
        (vec!["--group", "name", "--format", "prometheus"], "--group has no --format prometheus form"),
        (vec!["--group", "name", "--no-resolve"], "--group needs names"),
    ] {
        let r = stats(&args);
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
        r.fails_with(says);
    }
    let usage = stats(&["--group", "colour"]);
    assert_eq!(usage.code, 2, "a usage error: {usage:?}");
    assert!(usage.stderr.contains("cannot group by 'colour': use name, pod_namespace"), "{}", usage.stderr);
}
