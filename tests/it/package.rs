//! What netattr ships, run the way a node runs it. The artifacts are scripts/package.sh's
//! (scripts/test.sh builds them before the tests): the self-contained binary, the .deb, and
//! the image deploy/kubernetes/Dockerfile makes from a Debian base built here
//! (scripts/base-image.sh: debootstrap + docker import).
//! - The DaemonSet, without a cluster: its image started by containerd (the runtime the
//!   kubelet drives; Docker's own engine runs it) with exactly the capabilities, mounts,
//!   seccomp profile, environment and commands deploy/kubernetes/netattr.yaml states, in a
//!   pod network namespace of its own. Only the host paths are the test's own (its pin
//!   directory, pods directory and ledger directory), and the cgroup2 root is the host's.
//!   Not Docker: Debian's docker.io 20.10 refuses `--cap-add BPF` ("unknown capability").
//! - The .deb installed with apt in a container of the clean Debian base (no Rust, no clang),
//!   then check, load, attach, stats and cleanup against this kernel.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use crate::harness::*;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BASE: &str = "netattr-base:bookworm";

/// Every capability of the kernel's list, as a runtime names them: "drop ALL" drops these.
const ALL_CAPS: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// The newest modification time of the files under `dir` (recursively).
fn newest(dir: &Path) -> std::time::SystemTime {
    let mut t = std::time::UNIX_EPOCH;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let m = if e.path().is_dir() {
            newest(&e.path())
        } else {
            e.metadata().and_then(|m| m.modified()).unwrap_or(t)
        };
        t = t.max(m);
    }
    t
}

/// The packaged binary and .deb, or None (a failure under CI) when they were not built, or
/// were built before the sources last changed.
fn artifacts() -> Option<(PathBuf, PathBuf)> {
    let dir = Path::new(ROOT).join("target/package");
    let bin = dir.join("netattr");
    let deb = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"));
    let built = bin.metadata().and_then(|m| m.modified()).ok();
    let sources = ["src", "bpf"].iter().map(|d| newest(&Path::new(ROOT).join(d))).max().unwrap();
    let why = match (&deb, built) {
        (Some(_), Some(t)) if t >= sources => None,
        (Some(_), Some(_)) => Some("are older than the sources"),
        _ => Some("are missing"),
    };
    match (why, deb) {
        (None, Some(deb)) => Some((bin, deb)),
        (Some(why), _) if std::env::var_os("CI").is_some() => {
            panic!("the packages in {} {why}: run scripts/package.sh (scripts/test.sh does)", dir.display())
        }
        (why, _) => {
            eprintln!(
                "skipped: the packages in {} {} (run scripts/package.sh)",
                dir.display(),
                why.unwrap_or("")
            );
            None
        }
    }
}

fn base_image() {
    sh(&[&format!("{ROOT}/scripts/base-image.sh"), BASE]);
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A containerd namespace of this test's, on the engine's containerd; Drop removes every
/// task, container and image in it, then the namespace.
struct Ctr {
    address: String,
    ns: String,
}

impl Ctr {
    fn new() -> Ctr {
        let address = ["/run/docker/containerd/containerd.sock", "/run/containerd/containerd.sock"]
            .into_iter()
            .find(|a| {
                Command::new("ctr")
                    .args(["--address", a, "--timeout", "3s", "version"])
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
            .expect("a containerd answers (Docker's engine runs one)")
            .to_string();
        let ctr = Ctr { address, ns: format!("netattr-test-{}-{}", std::process::id(), uniq()) };
        ctr.clear();
        ctr
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ctr");
        c.args(["--address", &self.address, "--namespace", &self.ns]).args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("running ctr")
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(o.status.success(), "ctr {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Imports a Docker image; returns its containerd reference.
    fn import(&self, image: &str) -> String {
        let saved = Command::new("docker").args(["save", image]).output().unwrap();
        assert!(saved.status.success(), "docker save {image}: {}", text(&saved));
        let mut child =
            self.cmd(&["images", "import", "-"]).stdin(std::process::Stdio::piped()).spawn().unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), &saved.stdout).unwrap();
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success(), "ctr images import {image}");
        let name = if image.contains('/') { image.to_string() } else { format!("docker.io/library/{image}") };
        assert!(self.ok(&["images", "ls", "-q"]).lines().any(|l| l == name), "{name} imported");
        name
    }

    fn clear(&self) {
        let listed = self.run(&["containers", "ls", "-q"]);
        for id in String::from_utf8_lossy(&listed.stdout).lines() {
            let _ = self.run(&["tasks", "kill", "-s", "SIGKILL", id]);
            let _ = self.run(&["tasks", "rm", "-f", id]);
            let _ = self.run(&["containers", "rm", id]);
        }
        let images = self.run(&["images", "ls", "-q"]);
        for i in String::from_utf8_lossy(&images.stdout).lines() {
            let _ = self.run(&["images", "rm", i]);
        }
        // The namespace goes once containerd's garbage collector has taken the snapshots and
        // content of the removed images (asynchronously): a few tries, bounded.
        for _ in 0..50 {
            let rm =
                Command::new("ctr").args(["--address", &self.address, "namespaces", "rm", &self.ns]).output();
            let listed =
                Command::new("ctr").args(["--address", &self.address, "namespaces", "ls", "-q"]).output();
            if rm.is_err()
                || listed.map_or(true, |l| !String::from_utf8_lossy(&l.stdout).lines().any(|n| n == self.ns))
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        self.clear();
    }
}

/// A Docker image of this test's; Drop removes it.
struct Image(String);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
    }
}

/// A cgroup path made by the runtime (runc makes it in every mounted hierarchy, v1 ones
/// included); Drop removes it everywhere, deepest first.
struct RuntimeCgroups(String);

impl Drop for RuntimeCgroups {
    fn drop(&mut self) {
        let mut roots: Vec<PathBuf> =
            std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten().map(|e| e.path()).collect();
        roots.push(PathBuf::from("/sys/fs/cgroup"));
        for root in roots {
            let top = root.join(self.0.trim_start_matches('/'));
            remove_tree(&top);
        }
    }
}

fn remove_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// One container of the pod spec, as `ctr run` options: Kubernetes' securityContext,
/// volumeMounts (through `host`, volume name -> host path) and env, with the pin directory
/// replaced by this test's.
fn run_options(c: &Value, host: &BTreeMap<String, String>, pin_dir: &Path, pod: &Value) -> Vec<String> {
    let sc = &c["securityContext"];
    assert_eq!(sc["runAsUser"], 0, "containerd runs as the image's user, root");
    assert_eq!(sc["privileged"], false);
    assert_eq!(sc["allowPrivilegeEscalation"], false, "ctr sets no_new_privs, as this asks");
    let mut o = Vec::new();
    let add: Vec<String> = sc["capabilities"]["add"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    // Kubernetes drops ALL, then adds; ctr adds, then drops: drop what is not added.
    for cap in ALL_CAPS.iter().filter(|c| !add.iter().any(|a| a == *c)) {
        o.extend(["--cap-drop".to_string(), format!("CAP_{cap}")]);
    }
    for cap in &add {
        o.extend(["--cap-add".to_string(), format!("CAP_{cap}")]);
    }
    if sc["readOnlyRootFilesystem"] == true {
        o.push("--read-only".into());
    }
    let seccomp = &pod["securityContext"]["seccompProfile"]["type"];
    assert_eq!(seccomp, "RuntimeDefault", "the pod asks for the runtime's default seccomp profile");
    o.push("--seccomp".into());
    for e in c["env"].as_array().unwrap() {
        let (k, v) = (e["name"].as_str().unwrap(), e["value"].as_str().unwrap());
        let v = if k == "NETATTR_PIN_DIR" { pin_dir.to_str().unwrap() } else { v };
        o.extend(["--env".to_string(), format!("{k}={v}")]);
    }
    for m in c["volumeMounts"].as_array().unwrap() {
        let src = &host[m["name"].as_str().unwrap()];
        let mode = if m["readOnly"] == true { "ro" } else { "rw" };
        o.extend([
            "--mount".to_string(),
            format!("type=bind,src={src},dst={},options=rbind:{mode}", m["mountPath"].as_str().unwrap()),
        ]);
    }
    o
}

fn args_of(c: &Value) -> Vec<String> {
    c["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect()
}

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
    let host: BTreeMap<String, String> = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let path = v["hostPath"]["path"].as_str().unwrap();
            let mine = match path {
                "/var/log/pods" => pods_dir.to_str().unwrap().to_string(),
                "/var/lib/netattr" => ledger_dir.to_str().unwrap().to_string(),
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
    let out = run("serve", serve, &opts(serve), true);
    assert!(out.status.success(), "serve: {}", text(&out));
    let serve_id = format!("{}-serve", ctr.ns);
    let port: u16 = serve["ports"][0]["containerPort"].as_u64().unwrap() as u16;
    let health = serve["readinessProbe"]["httpGet"]["path"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http_get_at(&pod_net.ip, port, health).0 != 200 {
        assert!(Instant::now() < deadline, "{health} on the pod's {}:{port} never said 200", pod_net.ip);
        std::thread::sleep(Duration::from_millis(200));
    }

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
    assert_eq!((of("netattr_rx_packets_total"), of("netattr_rx_bytes_total")), (5.0, 5000.0));
    assert!(ledger_dir.join("ledger.db").exists(), "serve --record writes the ledger's hostPath");

    // The host cleans up: the probes turn to 503.
    na.run(&["cleanup"]).ok();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http_get_at(&pod_net.ip, port, health).0 != 503 {
        assert!(Instant::now() < deadline, "{health} still not 503 after 'netattr cleanup'");
        std::thread::sleep(Duration::from_millis(200));
    }
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

/// A Docker container of this test's; Drop removes it.
struct Running(String);

impl Running {
    /// `script` run by sh in the container, with one environment variable (KEY=VALUE).
    fn exec(&self, env: &str, script: &str) -> Output {
        Command::new("docker").args(["exec", "-e", env, &self.0, "sh", "-c", script]).output().unwrap()
    }

    /// The same, in the background.
    fn detached(&self, env: &str, script: &str) {
        sh(&["docker", "exec", "-d", "-e", env, &self.0, "sh", "-c", script]);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

#[test]
fn the_deb_installs_on_a_clean_debian_and_counts() {
    let Some(s) = scene(0, true) else { return }; // the unit attaches at the cgroup2 root
    if !docker() {
        return;
    }
    let Some((_bin, deb)) = artifacts() else { return };
    let started = Instant::now();
    base_image();
    let name = format!("netattr-test-{}-{}-install", std::process::id(), uniq());
    // CAP_BPF is not a capability Debian's docker.io 20.10 can grant: CAP_SYS_ADMIN stands in.
    let pkg = deb.parent().unwrap().to_str().unwrap();
    sh(&[
        "docker",
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "none",
        "--cap-add",
        "NET_ADMIN",
        "--cap-add",
        "SYS_ADMIN",
        "--cap-add",
        "DAC_READ_SEARCH",
        "--cap-add",
        "SYS_PTRACE",
        "-v",
        &format!("{pkg}:/pkg:ro"),
        "-v",
        "/sys/fs/bpf:/sys/fs/bpf",
        "-v",
        "/sys/fs/cgroup:/sys/fs/cgroup:ro",
        BASE,
        "sleep",
        "600",
    ]);
    let c = Running(name);
    let pin_env = format!("NETATTR_PIN_DIR={}", s.na.pin_dir.display());
    let ok = |script: &str| -> String {
        let out = c.exec(&pin_env, script);
        assert!(out.status.success(), "{script}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(ok("for t in cargo rustc clang gcc; do command -v $t; done; true"), "", "a clean base");
    let file = deb.file_name().unwrap().to_str().unwrap();
    ok(&format!("apt-get install -y -q /pkg/{file}"));
    assert_eq!(
        ok("ldd /usr/bin/netattr | awk '{print $1}' | sort | tr '\\n' ' '").trim(),
        "/lib64/ld-linux-x86-64.so.2 libc.so.6 libm.so.6 linux-vdso.so.1"
    );
    ok("test -d /var/lib/netattr && test -f /usr/share/man/man1/netattr.1.gz \
        && test -f /usr/share/bash-completion/completions/netattr \
        && test -L /etc/systemd/system/multi-user.target.wants/netattr.service");
    ok("netattr check");
    ok("netattr load");
    ok(&format!("netattr attach --cgroup {}", s.tree.rel()));
    // 40 datagrams of 1,000 bytes over loopback from a cgroup of the test's tree.
    let (from, to) = (s.tree.cgroup("a"), s.tree.cgroup("b"));
    let port = free_port();
    let r = Peer::spawn(&to, None, &format!("udp-recv 127.0.0.1:{port} 40000")).ready();
    Peer::spawn(&from, None, &format!("udp-send 127.0.0.1:{port} 40 1000")).finish();
    r.finish();
    let st: Value = serde_json::from_str(&ok("netattr stats --format json")).unwrap();
    let row = row_where(&st, "cgroup_id", from.id);
    assert_eq!((row["tx_packets"].as_u64(), row["tx_bytes"].as_u64()), (Some(40), Some(40 * 1028)), "{row}");
    ok("netattr cleanup");
    assert!(!s.na.pin_dir.exists(), "cleanup inside the container removed the pins");

    // The unit the package installed, its commands run in order as systemd would (this
    // machine has no systemd to start it): the node loads, attaches, serves and records.
    let unit = ok("cat /usr/lib/systemd/system/netattr.service");
    let exec = |key: &str| -> Vec<String> {
        unit.lines().filter_map(|l| l.strip_prefix(&format!("{key}="))).map(String::from).collect()
    };
    assert_eq!(exec("StateDirectory"), ["netattr"]);
    for pre in exec("ExecStartPre") {
        ok(&pre);
    }
    let [start] = &exec("ExecStart")[..] else { panic!("one ExecStart in {unit}") };
    let listen = start.split_whitespace().skip_while(|w| *w != "--listen").nth(1).unwrap();
    let (ip, port) = listen.rsplit_once(':').unwrap();
    c.detached(&pin_env, &format!("echo $$ > /run/unit.pid; exec {start} 2>/run/unit.err"));
    // The base has bash but no HTTP client: bash's /dev/tcp, from inside the container.
    let get = |path: &str| -> String {
        let script = format!(
            "exec 3<>/dev/tcp/{ip}/{port} && printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3"
        );
        String::from_utf8_lossy(&c.exec(&pin_env, &format!("bash -c \"{script}\" 2>/dev/null")).stdout)
            .into_owned()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !get("/healthz").starts_with("HTTP/1.0 200") {
        assert!(Instant::now() < deadline, "the unit's serve never answered: {}", ok("cat /run/unit.err"));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(get("/metrics").contains("netattr_map_capacity"), "serve serves the metrics");
    ok("test -s /var/lib/netattr/ledger.db");
    // systemd's stop: SIGTERM (serve records a last cycle and exits), then ExecStopPost.
    ok("kill -TERM $(cat /run/unit.pid); for i in $(seq 100); do kill -0 $(cat /run/unit.pid) 2>/dev/null || exit 0; sleep 0.1; done; exit 1");
    assert!(ok("cat /run/unit.err").contains("serving /metrics"));
    for post in exec("ExecStopPost") {
        ok(&post);
    }
    assert!(!s.na.pin_dir.exists(), "the unit's stop removed the pins");
    // The ledger the unit wrote is the one `netattr report` reads by default.
    let report: Value = serde_json::from_str(&ok("netattr report --format json")).unwrap();
    assert!(report["groups"].is_array(), "{report}");
    eprintln!("the install test took {:.1} s", started.elapsed().as_secs_f64());
}
