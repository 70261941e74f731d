//! Containers as the kubelet runs them, for the DaemonSet's test: a containerd namespace of
//! the test's (`ctr`, on the containerd Docker's engine runs), the cgroups runc makes, and a
//! pod spec's container turned into `ctr run` options.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use super::*;

/// Every capability of the kernel's list, as a runtime names them: "drop ALL" drops these.
pub const ALL_CAPS: [&str; 41] = [
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

/// A containerd namespace of this test's, on the engine's containerd; Drop removes every
/// task, container and image in it, then the namespace.
pub struct Ctr {
    address: String,
    pub ns: String,
}

impl Ctr {
    pub fn new() -> Ctr {
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

    /// The socket of the containerd it talks to.
    pub fn address(&self) -> &str {
        &self.address
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ctr");
        c.args(["--address", &self.address, "--namespace", &self.ns]).args(args);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("running ctr")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(o.status.success(), "ctr {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Imports a Docker image; returns its containerd reference.
    pub fn import(&self, image: &str) -> String {
        let saved = Command::new("docker").args(["save", image]).output().unwrap();
        assert!(saved.status.success(), "docker save {image}: {}", text(&saved));
        let mut child = self
            .cmd(&["images", "import", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
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
            let _ = self.run(&["images", "rm", "--sync", i]);
        }
        // The namespace goes once containerd's garbage collector has taken the snapshots and
        // content of the removed images (--sync waits for it; a busy machine may still lag):
        // tries for up to 30 s.
        poll_until(Duration::from_secs(30), Duration::from_millis(200), || {
            let rm =
                Command::new("ctr").args(["--address", &self.address, "namespaces", "rm", &self.ns]).output();
            let listed =
                Command::new("ctr").args(["--address", &self.address, "namespaces", "ls", "-q"]).output();
            rm.is_err()
                || listed.map_or(true, |l| !String::from_utf8_lossy(&l.stdout).lines().any(|n| n == self.ns))
        });
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        self.clear();
    }
}

/// A Docker image of this test's; Drop removes it, and the Dockerfile's glibc stage that
/// the build left untagged.
pub struct Image(pub String);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
        let _ = Command::new("docker")
            .args(["image", "prune", "-f", "--filter", "label=org.netattr.stage=glibc"])
            .output();
    }
}

/// A cgroup path made by the runtime (runc makes it in every mounted hierarchy, v1 ones
/// included); Drop removes it everywhere, deepest first.
pub struct RuntimeCgroups(pub String);

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
pub fn run_options(c: &Value, host: &BTreeMap<String, String>, pin_dir: &Path, pod: &Value) -> Vec<String> {
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
        let k = e["name"].as_str().unwrap();
        // The kubelet's downward API: the node's name.
        let v = match e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
            Some("spec.nodeName") => "test-node",
            Some(other) => panic!("env {k}: no stand-in for fieldRef {other}"),
            None => e["value"].as_str().unwrap(),
        };
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

pub fn args_of(c: &Value) -> Vec<String> {
    c["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect()
}
