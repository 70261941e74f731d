//! Tenants' labels on a Kubernetes node, without an API server: real containerd containers
//! (Docker's containerd, through `ctr`, in a namespace of the test's standing for `k8s.io`)
//! carry the labels containerd's CRI plugin writes for a pod: its sandbox holds the pod's
//! labels and the kubelet's `io.kubernetes.pod.*` ones, and the pod's container runs in the
//! pod's cgroup (the kubelet's cgroupfs layout). netattr labels the pod's traffic with them in
//! the ledger (`report --by label:team`), the fleet store (`report --from ... --by label:team`)
//! and serve's series (`--labels team`: `label_team`, and no other pod label).
use std::time::Duration;

use crate::harness::*;

#[test]
fn a_pods_labels_come_from_the_sandbox_containerd_keeps() {
    let Some(s) = scene(1, false) else { return };
    if !docker() {
        return;
    }
    let Some(ch) = ClickHouse::start() else { return };
    let c = &s.c[0];
    let runtime_cgroups = RuntimeCgroups(format!("{}/kubepods", s.tree.rel()));
    // Made after what it runs in: dropped first, its containers gone before their cgroups.
    let ctr = Ctr::new();
    let busybox = ctr.import(IMAGE);
    let uid = format!("{:08x}-0000-4000-8000-{:012x}", std::process::id(), uniq());
    // The sandbox as the CRI plugin records it (its pause process is not what is measured).
    let sandbox = format!("{}-sandbox", ctr.ns);
    let mut create = vec!["containers".to_string(), "create".into()];
    for l in [
        "io.cri-containerd.kind=sandbox".to_string(),
        format!("io.kubernetes.pod.uid={uid}"),
        "io.kubernetes.pod.name=web-1".into(),
        "io.kubernetes.pod.namespace=shop".into(),
        "team=shop".into(),
        "pod-template-hash=5d8f7c".into(),
    ] {
        create.extend(["--label".to_string(), l]);
    }
    create.extend([busybox.clone(), sandbox]);
    ctr.ok(&create.iter().map(String::as_str).collect::<Vec<_>>());

    let na = &s.na;
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let env = [
        ("NETATTR_CONTAINERD_SOCKET", ctr.address().to_string()),
        ("NETATTR_CONTAINERD_NAMESPACE", ctr.ns.clone()),
    ];

    // The pod's container: 5 pings of 1,000-byte IP packets to its gateway, from the pod's
    // cgroup in the container's network namespace; it stays up (serve shows live pods).
    let cid = format!("{:064x}", u128::from(std::process::id()) << 32 | u128::from(uniq()));
    let cgroup = format!("{}/kubepods/besteffort/pod{uid}/{cid}", s.tree.rel());
    let netns = format!("network:/run/netns/{}", c.ns.name);
    let work = format!("{}-work", ctr.ns);
    let script = format!("ping -c 5 -s 972 -W 5 {} && exec sleep 600", c.host_ip);
    let label = "io.cri-containerd.kind=container";
    ctr.ok(&[
        "run",
        "-d",
        "--label",
        label,
        "--with-ns",
        &netns,
        "--cgroup",
        &cgroup,
        &busybox,
        &work,
        "sh",
        "-c",
        &script,
    ]);
    let want = [5000, 5000, 5, 5];
    let pods_row = || {
        let doc = na.run(&["stats", "--format", "json"]).ok().json();
        let row = doc["cgroups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["path"].as_str().is_some_and(|p| p.contains(&cid)))
            .cloned();
        row.map(|r| ["rx_bytes", "tx_bytes", "rx_packets", "tx_packets"].map(|k| r[k].as_u64().unwrap()))
    };
    wait_until("the pod's 5 pings counted", Duration::from_secs(30), || pods_row() == Some(want));

    // The ledger: its workload carries the pod's labels (every key: --labels is * by default).
    let dir = TempDir::new();
    let ledger = dir.join("ledger.db");
    let mut record = na.cmd(&["record", "--once", "--ledger", ledger.to_str().unwrap()]);
    run_cmd(record.envs(env.clone())).ok();
    let by_team = |doc: serde_json::Value| groups_of(&doc, &["label:team"]);
    let report = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["report", "--ledger", ledger.to_str().unwrap(), "--format", "json"];
        all.extend(args);
        run_cmd(std::process::Command::new(BIN).args(&all)).ok().json()
    };
    let node = by_team(report(&["--by", "label:team"]));
    assert_eq!(node.get(&vec!["shop".to_string()]), Some(&want), "{node:?}");
    let hash = groups_of(&report(&["--by", "label:pod-template-hash"]), &["label:pod-template-hash"]);
    assert_eq!(hash.get(&vec!["5d8f7c".to_string()]), Some(&want), "{hash:?}");

    // The fleet store: the same group, from the workloads' labels exported with the rows.
    let url = ch.url("labels");
    let export = |extra: &[&str]| {
        let mut args =
            vec!["export", "--to", &url, "--ledger", ledger.to_str().unwrap(), "--node", "k8s-node"];
        args.extend(["--password-file", ch.password_file.to_str().unwrap()]);
        args.extend(extra);
        run_cmd(std::process::Command::new(BIN).args(&args)).ok()
    };
    export(&["--init"]);
    let fleet = by_team(fleet_report(&ch, &url, &["--by", "label:team"]));
    assert_eq!(fleet.get(&vec!["shop".to_string()]), Some(&want), "{fleet:?}");

    // serve --labels team: the pod's series carry label_team, and no other pod label.
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = na.cmd(&["serve", "--listen", &listen, "--labels", "team"]);
    let log = dir.join("serve.log");
    cmd.envs(env.clone());
    let serve = Background::spawn(cmd, log);
    wait_until("serve answers", Duration::from_secs(10), || http_get(port, "/healthz").0 == 200);
    let (_, body) = http_get(port, "/metrics");
    let pod: Vec<(&str, f64)> =
        samples(&body, "netattr_tx_bytes_total").into_iter().filter(|(l, _)| l.contains(&cid)).collect();
    assert_eq!(pod.len(), 1, "{body}");
    assert!(pod[0].0.contains("label_team=\"shop\"") && !pod[0].0.contains("pod_template_hash"), "{pod:?}");
    assert_eq!(pod[0].1, 5000.0);
    serve.stop();
    drop(ctr);
    drop(runtime_cgroups);
}
