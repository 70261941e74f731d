//! What netattr ships, run the way a node runs it. The artifacts are scripts/package.sh's
//! (scripts/test.sh builds them before the tests): the self-contained binary, the .deb, and
//! the image deploy/kubernetes/Dockerfile makes from a Debian base built here
//! (scripts/base-image.sh: debootstrap + docker import). Here: the .deb installed with apt
//! in a container of the clean Debian base (no Rust, no clang), then check, load, attach,
//! stats and cleanup against this kernel, then the installed unit's commands as systemd runs
//! them. The DaemonSet's run is daemonset.rs.
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;

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
    let answered = || get("/healthz").starts_with("HTTP/1.0 200");
    if !poll_until(Duration::from_secs(30), Duration::from_millis(200), answered) {
        panic!("the unit's serve never answered: {}", ok("cat /run/unit.err"));
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
