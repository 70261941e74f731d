//! The DaemonSet, run as Kubernetes would run it, without a cluster: its image (the one
//! scripts/package.sh makes) started by containerd (the runtime the kubelet drives; Docker's
//! own engine runs it) with exactly the capabilities, mounts, seccomp profile, environment
//! and commands deploy/kubernetes/netattr.yaml states, in a pod network namespace of its own.
//! Only the host paths are the test's own (its pin directory, pods directory and ledger
//! directory), and the cgroup2 root is the host's. Not Docker: Debian's docker.io 20.10
//! refuses `--cap-add BPF` ("unknown capability").
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use crate::harness::*;

#[test]
fn the_daemonset_runs_as_kubernetes_would_run_it() {
    let _alone = exclusive(); // attach --cgroup is the cgroup2 root: host-wide
    if !privileged() || !docker() {
        return;
    }
    let Some((_bin, _deb)) = artifacts() else { return };
    let started = Instant::now();
    base_image();
    let tag = format!("netattr-test-{}-{}:0.1.0", std::process::id(), uniq());
    let _image = Image(tag.clone());
    sh(&[
        "docker",
        "build",
        "-q",
        "-f",
        &format!("{ROOT}/deploy/kubernetes/Dockerfile"),
        "--build-arg",
        &format!("BASE={BASE}"),
        "-t",
        &tag,
        &format!("{ROOT}/target/package"),
    ]);
    let entrypoint: Vec<String> =
        serde_json::from_str(&sh(&["docker", "image", "inspect", "-f", "{{json .Config.Entrypoint}}", &tag]))
            .unwrap();

    let yaml = std::fs::read_to_string(format!("{ROOT}/deploy/kubernetes/netattr.yaml")).unwrap();
    let docs: Vec<Value> =
        serde_norway::Deserializer::from_str(&yaml).map(|d| Value::deserialize(d).unwrap()).collect();
    let pod = &docs.iter().find(|d| d["kind"] == "DaemonSet").unwrap()["spec"]["template"]["spec"];
    let inits = pod["initContainers"].as_array().unwrap();
    let serve = &pod["containers"][0];

    let na = Netattr::new();
    let tree = CgroupTree::new();
    let runtime_cgroups = RuntimeCgroups(tree.rel());
    let pod_net = Container::new(&tree);
    let workload_net = Container::new(&tree);
    // Made after what it runs in: dropped first, its containers gone before their cgroups
    // and namespaces are removed.
    let ctr = Ctr::new();
    let image = ctr.import(&tag);
    let busybox = ctr.import(IMAGE);
    let dirs = TempDir::new();
    let (pods_dir, ledger_dir) = (dirs.0.join("pods"), dirs.0.join("ledger"));
    let uid = "6f0e8d2c-3b1a-4c5d-9e7f-0123456789ab";
    let (pod_ns, pod_name) = ("shop", "checkout-7d9f6b5c4-x2x8q");
    std::fs::create_dir_all(pods_dir.join(format!("{pod_ns}_{pod_name}_{uid}"))).unwrap();
    std::fs::create_dir_all(&ledger_dir).unwrap();
    let crio_dir = dirs.0.join("crio");
    std::fs::create_dir_all(&crio_dir).unwrap();
    // The pod's sandbox as containerd's CRI plugin records it: the pod's labels.
    let sandbox_labels = [
        "io.cri-containerd.kind=sandbox".to_string(),
        format!("io.kubernetes.pod.uid={uid}"),
        "team=payments".into(),
    ];
    let mut create = vec!["containers".to_string(), "create".into()];
    create.extend(sandbox_labels.iter().flat_map(|l| ["--label".to_string(), l.clone()]));
    create.extend([busybox.clone(), format!("{}-sandbox", ctr.ns)]);
    ctr.ok(&create.iter().map(String::as_str).collect::<Vec<_>>());
    let host: BTreeMap<String, String> = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let path = v["hostPath"]["path"].as_str().unwrap();
            let mine = match path {
                "/var/log/pods" => pods_dir.to_str().unwrap().to_string(),
                "/var/lib/netattr" => ledger_dir.to_str().unwrap().to_string(),
                // The containerd that runs the pods here (Docker's), and no CRI-O.
                "/run/containerd" => Path::new(ctr.address()).parent().unwrap().to_str().unwrap().to_string(),
                "/var/lib/containers/storage/overlay-containers" => crio_dir.to_str().unwrap().to_string(),
                shared => shared.to_string(), // bpffs and the cgroup tree are the host's
            };
            (v["name"].as_str().unwrap().to_string(), mine)
        })
        .collect();
    let netns = format!("network:/run/netns/{}", pod_net.ns.name);
    let run = |name: &str, c: &Value, opts: &[String], detach: bool| -> Output {
        let id = format!("{}-{name}", ctr.ns);
        let cgroup = format!("{}/netattr/{id}", tree.rel());
        let mut args: Vec<String> = vec!["run".into()];
        if detach {
            args.push("-d".into());
        } else {
            args.push("--rm".into());
        }
        args.extend(opts.iter().cloned());
        args.extend(["--with-ns".into(), netns.clone(), "--cgroup".into(), cgroup, image.clone(), id]);
        args.extend(entrypoint.iter().cloned());
        args.extend(args_of(c));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        ctr.run(&a)
    };
    let load = &inits[0];
    assert_eq!(args_of(load)[0], "load");
    let opts = |c: &Value| run_options(c, &host, &na.pin_dir, pod);

    // A bad deployment: each capability missing in turn (but BPF, which CAP_SYS_ADMIN
    // stands in for as the kernel lets it) stops the init container with one line naming it
    // and how to grant it, and pins nothing.
    let added: Vec<String> = load["securityContext"]["capabilities"]["add"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    for missing in added.iter().filter(|c| *c != "BPF") {
        let mut c = load.clone();
        let rest: Vec<&String> = added.iter().filter(|c| *c != missing).collect();
        c["securityContext"]["capabilities"]["add"] = serde_json::json!(rest);
        let out = run("no-cap", &c, &opts(&c), false);
        let said = text(&out);
        assert!(!out.status.success(), "load without {missing}: {said}");
        assert!(
            said.contains(&format!("needs CAP_{missing} (running as root, but without it): grant it"))
                && said.contains(&format!("add: [\"{missing}\"]")),
            "load without {missing}: {said}"
        );
        assert_eq!(said.trim().lines().count(), 1, "{said}");
        assert!(!na.pin_dir.exists());
    }
    // The same for a bpffs mounted read-only.
    let mut ro = load.clone();
    for m in ro["volumeMounts"].as_array_mut().unwrap() {
        if m["mountPath"] == "/sys/fs/bpf" {
            m["readOnly"] = true.into();
        }
    }
    let out = run("ro-bpffs", &ro, &opts(&ro), false);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("bpffs at /sys/fs/bpf is mounted read-only") && said.contains("no readOnly"),
        "{said}"
    );
    assert!(!na.pin_dir.exists());

    // The pod as written: its init containers in order, each to completion, then serve.
    for (i, c) in inits.iter().enumerate() {
        let out = run(&format!("init{i}"), c, &opts(c), false);
        assert!(out.status.success(), "init container {}: {}", c["name"], text(&out));
    }
    assert!(na.pin_dir.exists());
    // The ConfigMap netattr-export's NETATTR_LABELS, and containerd's namespace of this
    // test's pods (k8s.io on a node).
    let mut serve_opts = opts(serve);
    for e in ["NETATTR_LABELS=team".to_string(), format!("NETATTR_CONTAINERD_NAMESPACE={}", ctr.ns)] {
        serve_opts.extend(["--env".to_string(), e]);
    }
    let out = run("serve", serve, &serve_opts, true);
    assert!(out.status.success(), "serve: {}", text(&out));
    let serve_id = format!("{}-serve", ctr.ns);
    let port: u16 = serve["ports"][0]["containerPort"].as_u64().unwrap() as u16;
    let health = serve["readinessProbe"]["httpGet"]["path"].as_str().unwrap();
    wait_until(
        &format!("{health} on the pod's {}:{port} to say 200", pod_net.ip),
        Duration::from_secs(30),
        || http_get_at(&pod_net.ip, port, health).0 == 200,
    );

    // A real container of a pod (the kubelet's cgroupfs layout), in its own network
    // namespace: 5 pings of 1,000-byte IP packets to its gateway.
    let cid = format!("{:064x}", u128::from(std::process::id()) << 32 | u128::from(uniq()));
    let cgroup = format!("{}/kubepods/besteffort/pod{uid}/{cid}", tree.rel());
    let work_ns = format!("network:/run/netns/{}", workload_net.ns.name);
    let out = ctr.run(&[
        "run",
        "--rm",
        "--with-ns",
        &work_ns,
        "--cgroup",
        &cgroup,
        &busybox,
        &format!("{}-work", ctr.ns),
        "ping",
        "-c",
        "5",
        "-s",
        "972",
        "-W",
        "5",
        &workload_net.host_ip,
    ]);
    assert!(out.status.success(), "the workload's ping: {}", text(&out));

    // The host scrapes the pod's /metrics and sees the workload by its pod's name.
    let (code, body) = http_get_at(&pod_net.ip, port, "/metrics");
    assert_eq!(code, 200, "{body}");
    let label = format!("pod_namespace=\"{pod_ns}\"");
    let of = |metric: &str| -> f64 {
        let found: Vec<f64> = samples(&body, metric)
            .into_iter()
            .filter(|(l, _)| l.contains(&label) && l.contains(&format!("pod_name=\"{pod_name}\"")))
            .map(|(_, v)| v)
            .collect();
        assert_eq!(found.len(), 1, "{metric} of {pod_ns}/{pod_name}: {found:?}\n{body}");
        found[0]
    };
    assert_eq!((of("netattr_tx_packets_total"), of("netattr_tx_bytes_total")), (5.0, 5000.0));
    assert!(body.contains("label_team=\"payments\""), "the pod's label, from its sandbox: {body}");
    assert_eq!((of("netattr_rx_packets_total"), of("netattr_rx_bytes_total")), (5.0, 5000.0));
    assert!(ledger_dir.join("ledger.db").exists(), "serve --record writes the ledger's hostPath");

    // The host cleans up: the probes turn to 503.
    na.run(&["cleanup"]).ok();
    wait_until(&format!("{health} to say 503 after 'netattr cleanup'"), Duration::from_secs(30), || {
        http_get_at(&pod_net.ip, port, health).0 == 503
    });
    // The preStop hook runs in the serve container, with its capabilities and mounts.
    let hook: Vec<String> = serve["lifecycle"]["preStop"]["exec"]["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let mut exec = vec!["tasks", "exec", "--exec-id", "prestop", serve_id.as_str()];
    exec.extend(hook.iter().map(String::as_str));
    let out = ctr.run(&exec);
    assert!(out.status.success(), "preStop {hook:?}: {}", text(&out));
    let _ = ctr.run(&["tasks", "kill", "-s", "SIGTERM", &serve_id]);
    drop(ctr);
    drop(runtime_cgroups);
    eprintln!("the DaemonSet test took {:.1} s", started.elapsed().as_secs_f64());
}
