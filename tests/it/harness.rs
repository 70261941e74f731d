//! Test fixtures on the real kernel. Every fixture is uniquely named, owned by the test
//! that made it, and removed by its Drop on every exit path (panics included).
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_netattr");

/// Tests that act host-wide (every veth, the cgroup2 root) take this exclusively; all
/// others share it.
static HOST_WIDE: RwLock<()> = RwLock::new(());

pub fn shared() -> RwLockReadGuard<'static, ()> {
    HOST_WIDE.read().unwrap_or_else(|e| e.into_inner())
}

pub fn exclusive() -> RwLockWriteGuard<'static, ()> {
    HOST_WIDE.write().unwrap_or_else(|e| e.into_inner())
}

/// True when this process may touch the kernel. Skipping is an error when CI is set.
pub fn privileged() -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        if std::env::var_os("CI").is_some() {
            panic!("privileged test skipped in CI: run the tests as root");
        }
        eprintln!("skipped: needs root");
        note_skipped();
    } else {
        static SWEEP: std::sync::Once = std::sync::Once::new();
        SWEEP.call_once(sweep_dead_runs);
    }
    root
}

/// The test process that made `name` ("netattr-test-<pid>-..."), if that process is gone.
fn dead_owner(name: &str) -> bool {
    let Some(pid) = name
        .strip_prefix("netattr-test-")
        .and_then(|r| r.split('-').next())
        .and_then(|p| p.parse::<u32>().ok())
    else {
        return false;
    };
    pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
}

/// Guards cannot run when a test process is killed (SIGKILL, SIGPIPE): before the first
/// test, remove what earlier runs of this suite left behind. Only objects named with this
/// suite's prefix and the pid of a process that no longer exists are touched.
fn sweep_dead_runs() {
    ensure_bpffs();
    if let Ok(rd) = fs::read_dir("/sys/fs/bpf") {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if dead_owner(&name) {
                quiet(&[BIN, "cleanup", "--pin-dir", &e.path().to_string_lossy()]);
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    for line in sh(&["ip", "netns", "list"]).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if dead_owner(name) {
            quiet(&["ip", "netns", "del", name]);
        }
    }
    if let Ok(rd) = fs::read_dir("/sys/class/net") {
        for e in rd.flatten() {
            let alias = fs::read_to_string(e.path().join("ifalias")).unwrap_or_default();
            if dead_owner(alias.trim()) {
                quiet(&["ip", "link", "del", &e.file_name().to_string_lossy()]);
            }
        }
    }
    if let Ok(rd) = fs::read_dir(cgroup2()) {
        for e in rd.flatten() {
            if dead_owner(&e.file_name().to_string_lossy()) {
                drop(CgroupTree { root: e.path() });
            }
        }
    }
    if docker_up() {
        let names = sh(&["docker", "ps", "-a", "--format", "{{.Names}}"]);
        for n in names.lines().filter(|n| dead_owner(n)) {
            quiet(&["docker", "rm", "-f", n]);
        }
    }
    let mut names: Vec<String> = sh(&["ip", "netns", "list"])
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect();
    for dir in [cgroup2(), PathBuf::from("/sys/fs/bpf")] {
        names.extend(
            fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned()),
        );
    }
    if let Ok(out) = Command::new("docker").args(["ps", "-a", "--format", "{{.Names}}"]).output() {
        names.extend(String::from_utf8_lossy(&out.stdout).lines().map(String::from));
    }
    sweep_dead_demos(names);
}

/// Demos started by a test are named "nt<pid>-<n>" (12 characters at most); `demo --clean`
/// removes what one left when its test process died.
fn sweep_dead_demos(names: impl IntoIterator<Item = String>) {
    let mut prefixes = std::collections::BTreeSet::new();
    for name in names {
        let Some(rest) = name.strip_prefix("nt") else { continue };
        let mut parts = rest.splitn(3, ['-', '.']);
        let (Some(pid), Some(n)) = (parts.next(), parts.next()) else { continue };
        if pid.parse::<u32>().is_ok() && n.len() == 1 && n.parse::<u8>().is_ok() {
            prefixes.insert(format!("nt{pid}-{n}"));
        }
    }
    for p in prefixes.into_iter().filter(|p| dead_owner(&format!("netattr-test-{}", &p[2..]))) {
        quiet(&[BIN, "demo", "--clean", "--prefix", &p, "--pin-dir", &format!("/sys/fs/bpf/{p}")]);
    }
}

/// Marks a link this test process made, so that a later run can remove it if we die.
pub fn mark_link(name: &str) {
    quiet(&["ip", "link", "set", "dev", name, "alias", &format!("netattr-test-{}", pid())]);
}

/// A number unique within this test process.
pub fn uniq() -> u32 {
    static N: AtomicU32 = AtomicU32::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

fn pid() -> u32 {
    std::process::id()
}

/// Runs a setup command, panicking with its stderr if it fails.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn quiet(args: &[&str]) {
    let _ = Command::new(args[0]).args(&args[1..]).stdout(Stdio::null()).stderr(Stdio::null()).status();
}

/// The outcome of one netattr invocation.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "netattr failed: stdout={} stderr={}", self.stdout, self.stderr);
        self
    }

    /// Exit code 1, one line on stderr containing `text`, nothing on stdout.
    pub fn fails_with(self, text: &str) -> Self {
        assert_eq!(self.code, 1, "expected exit 1: {self:?}");
        assert!(self.stderr.contains(text), "stderr lacks {text:?}: {}", self.stderr);
        assert_eq!(self.stderr.trim_end().lines().count(), 1, "want one line: {}", self.stderr);
        assert!(self.stderr.starts_with("netattr: "), "{}", self.stderr);
        assert!(self.stdout.is_empty(), "stdout must stay clean on error: {}", self.stdout);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

pub fn run_cmd(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("running netattr");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A netattr instance in its own pin directory; Drop runs `cleanup` and removes the pins.
pub struct Netattr {
    pub pin_dir: PathBuf,
}

impl Netattr {
    pub fn new() -> Self {
        ensure_bpffs();
        let pin_dir = PathBuf::from(format!("/sys/fs/bpf/netattr-test-{}-{}", pid(), uniq()));
        let n = Netattr { pin_dir };
        n.purge();
        n
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args).arg("--pin-dir").arg(&self.pin_dir).env_remove("NETATTR_PIN_DIR");
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        run_cmd(&mut self.cmd(args))
    }

    pub fn pin(&self, name: &str) -> PathBuf {
        self.pin_dir.join(name)
    }

    fn purge(&self) {
        let _ = self.run(&["cleanup"]);
        if let Ok(entries) = fs::read_dir(&self.pin_dir) {
            for e in entries.flatten() {
                let _ = fs::remove_file(e.path());
            }
        }
        let _ = fs::remove_dir(&self.pin_dir);
    }
}

impl Drop for Netattr {
    fn drop(&mut self) {
        self.purge();
    }
}

pub fn ensure_bpffs() {
    let out = sh(&["stat", "-f", "-c", "%T", "/sys/fs/bpf"]);
    if out.trim() != "bpf_fs" {
        quiet(&["mount", "-t", "bpf", "bpf", "/sys/fs/bpf"]);
    }
}

/// A network namespace.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new() -> Self {
        let name = format!("netattr-test-{}-{}", pid(), uniq());
        quiet(&["ip", "netns", "del", &name]);
        sh(&["ip", "netns", "add", &name]);
        sh(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        Netns { name }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        quiet(&["ip", "netns", "del", &self.name]);
    }
}

/// The cgroup2 mount, as netattr finds it.
pub fn cgroup2() -> PathBuf {
    netattr::cgroup::mount_point().expect("a cgroup2 mount")
}

/// A test-owned cgroup subtree: <cgroup2>/netattr-test-PID-N. Drop kills what runs in it
/// and removes it.
pub struct CgroupTree {
    pub root: PathBuf,
}

impl CgroupTree {
    pub fn new() -> Self {
        let root = cgroup2().join(format!("netattr-test-{}-{}", pid(), uniq()));
        let t = CgroupTree { root };
        t.remove();
        fs::create_dir_all(&t.root).expect("creating the test cgroup tree");
        t
    }

    /// A cgroup at `rel` below the tree root (parents made as needed).
    pub fn cgroup(&self, rel: &str) -> Cgroup {
        let path = self.root.join(rel);
        fs::create_dir_all(&path).expect("creating a test cgroup");
        let id = netattr::cgroup::id_of(&path).expect("cgroup id");
        let rel_to_mount = format!("/{}", path.strip_prefix(cgroup2()).unwrap().display());
        Cgroup { path, id, rel: rel_to_mount }
    }

    /// The tree's path relative to the cgroup2 mount ("/netattr-test-…"), for `--cgroup`.
    pub fn rel(&self) -> String {
        format!("/{}", self.root.strip_prefix(cgroup2()).unwrap().display())
    }

    /// A cgroup named like a Docker container's under the systemd driver.
    pub fn docker_like(&self) -> Cgroup {
        let hex: String =
            (0..4).map(|i| format!("{:016x}", (pid() as u64) << 32 | (uniq() as u64) << 8 | i)).collect();
        self.cgroup(&format!("system.slice/docker-{hex}.scope"))
    }

    fn remove(&self) {
        if !self.root.exists() {
            return;
        }
        let mut dirs = vec![];
        collect_dirs(&self.root, &mut dirs);
        for d in dirs.iter().rev() {
            let _ = fs::write(d.join("cgroup.kill"), "1");
        }
        for d in dirs.iter().rev() {
            for _ in 0..50 {
                if fs::remove_dir(d).is_ok() || !d.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

fn collect_dirs(d: &Path, out: &mut Vec<PathBuf>) {
    out.push(d.to_path_buf());
    if let Ok(rd) = fs::read_dir(d) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                collect_dirs(&e.path(), out);
            }
        }
    }
}

impl Drop for CgroupTree {
    fn drop(&mut self) {
        self.remove();
    }
}

#[derive(Debug, Clone)]
pub struct Cgroup {
    pub path: PathBuf,
    pub id: u64,
    /// Path relative to the cgroup2 mount, as netattr prints it.
    pub rel: String,
}

/// A stand-in for a container: a network namespace joined to the host by a veth pair,
/// and a cgroup for its processes.
pub struct Container {
    pub host_if: String,
    pub host_ip: String,
    pub ip: String,
    pub cgroup: Cgroup,
    pub ns: Netns,
}

/// A /24 inside 10.231.0.0/16, distinct within this test process: "10.231.N".
fn subnet() -> String {
    format!("10.231.{}", ((pid() % 50) * 5 + uniq()) % 250)
}

impl Container {
    /// A container on its own point-to-point link to the host.
    pub fn new(tree: &CgroupTree) -> Self {
        let net = subnet();
        let mut c = Self::plug(tree, &format!("{net}.2"));
        sh(&["ip", "addr", "add", &format!("{net}.1/24"), "dev", &c.host_if]);
        c.host_ip = format!("{net}.1");
        c
    }

    /// A container whose host-side veth is a port of `bridge`.
    pub fn on_bridge(tree: &CgroupTree, bridge: &Bridge) -> Self {
        let ip = format!("{}.{}", bridge.net, bridge.next_host());
        let mut c = Self::plug(tree, &ip);
        sh(&["ip", "link", "set", &c.host_if, "master", &bridge.name]);
        c.host_ip.clone_from(&bridge.ip);
        c
    }

    fn plug(tree: &CgroupTree, ip: &str) -> Self {
        let ns = Netns::new();
        let host_if = format!("nat{}x{}", pid() % 10000, uniq());
        quiet(&["ip", "link", "del", &host_if]);
        sh(&["ip", "link", "add", &host_if, "type", "veth", "peer", "name", "eth0", "netns", &ns.name]);
        mark_link(&host_if);
        sh(&["ip", "link", "set", &host_if, "up"]);
        sh(&["ip", "-n", &ns.name, "addr", "add", &format!("{ip}/24"), "dev", "eth0"]);
        sh(&["ip", "-n", &ns.name, "link", "set", "eth0", "up"]);
        Container { host_if, host_ip: String::new(), ip: ip.to_string(), cgroup: tree.docker_like(), ns }
    }

    pub fn peer(&self, spec: &str) -> Peer {
        Peer::spawn(&self.cgroup, Some(&self.ns.name), spec)
    }

    /// A peer in this container's network namespace, in another cgroup than its own.
    pub fn peer_in(&self, cgroup: &Cgroup, spec: &str) -> Peer {
        Peer::spawn(cgroup, Some(&self.ns.name), spec)
    }

    /// A short-lived workload, like `docker run --rm`: its own cgroup sends `bytes` to host
    /// cgroup `to` from this container's namespace, exits, and its cgroup is removed.
    pub fn run_exited(&self, tree: &CgroupTree, to: &Cgroup, port: u16, bytes: u64) -> Cgroup {
        let short = tree.docker_like();
        self.send(&short, to, port, bytes);
        fs::remove_dir(&short.path).expect("removing the short-lived cgroup");
        short
    }

    /// `bytes` over TCP from a process in cgroup `from`, inside this container's network
    /// namespace, to a process in host cgroup `to`; returns once both are done, with what
    /// the sender reported (its retransmissions are wire bytes beyond the payload).
    pub fn send(&self, from: &Cgroup, to: &Cgroup, port: u16, bytes: u64) -> Done {
        let dst = format!("{}:{port}", self.host_ip);
        let r = Peer::spawn(to, None, &format!("tcp-recv {dst}")).ready();
        let done = Peer::spawn(from, Some(&self.ns.name), &format!("tcp-send {dst} {bytes}")).finish();
        assert_eq!(r.finish().bytes, bytes);
        done
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        quiet(&["ip", "link", "del", &self.host_if]);
    }
}

/// The most a retransmitted TCP segment adds beyond the payload it repeats: a retransmission
/// is real traffic, counted, on top of the per-packet allowance of the bounds.
pub const PER_RETRANSMISSION: u64 = 1500;

/// A Linux bridge on the host with an address (the host's, for the containers on it).
pub struct Bridge {
    pub name: String,
    /// "10.231.N"
    pub net: String,
    pub ip: String,
    hosts: AtomicU32,
}

impl Bridge {
    /// `name` defaults to a unique one; tests may pick a misleading one (a bridge called veth*).
    pub fn new(name: Option<String>) -> Self {
        let name = name.unwrap_or_else(|| format!("natbr{}x{}", pid() % 10000, uniq()));
        let net = subnet();
        quiet(&["ip", "link", "del", &name]);
        sh(&["ip", "link", "add", &name, "type", "bridge"]);
        mark_link(&name);
        let ip = format!("{net}.1");
        sh(&["ip", "addr", "add", &format!("{ip}/24"), "dev", &name]);
        sh(&["ip", "link", "set", &name, "up"]);
        Bridge { name, net, ip, hosts: AtomicU32::new(2) }
    }

    fn next_host(&self) -> u32 {
        self.hosts.fetch_add(1, Ordering::Relaxed)
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        quiet(&["ip", "link", "del", &self.name]);
    }
}

/// What a finished peer reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Done {
    pub bytes: u64,
    /// Segments its socket sent (tcpi_segs_out), or datagrams for UDP.
    pub segments: u64,
    /// Of those, retransmissions (tcpi_total_retrans; 0 for UDP).
    pub retrans: u64,
}

/// A running traffic peer (see peer.rs).
pub struct Peer {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Peer {
    /// Starts the peer in `cgroup`, inside network namespace `netns` if given.
    pub fn spawn(cgroup: &Cgroup, netns: Option<&str>, spec: &str) -> Peer {
        let exe = std::env::current_exe().unwrap();
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        cmd.args(["--exact", "peer::peer", "--ignored", "--nocapture", "--test-threads=1"])
            .env(crate::peer::ENV, spec)
            .stdout(Stdio::piped());
        in_cgroup(&mut cmd, cgroup);
        let mut child = cmd.spawn().expect("spawning a traffic peer");
        let out = BufReader::new(child.stdout.take().unwrap());
        Peer { child, out }
    }

    fn line(&mut self, prefix: &str) -> String {
        let mut l = String::new();
        loop {
            l.clear();
            if self.out.read_line(&mut l).unwrap_or(0) == 0 {
                panic!("traffic peer ended without '{prefix}'");
            }
            // libtest prints `test peer::peer ... ` before the peer's own output.
            if let Some(at) = l.find(prefix) {
                return l[at + prefix.len()..].trim().to_string();
            }
        }
    }

    /// The peer's process id (for moving it to another cgroup).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until a receiver is bound.
    pub fn ready(mut self) -> Self {
        self.line("PEER ready");
        self
    }

    /// Waits for the peer to finish; returns the bytes it moved.
    pub fn done(self) -> u64 {
        self.finish().bytes
    }

    /// Waits for the peer to finish; returns what it moved and how many segments it sent.
    pub fn finish(mut self) -> Done {
        let l = self.line("PEER done");
        let mut w = l.split_whitespace().map(|x| x.parse::<u64>().expect("a number"));
        let done = Done {
            bytes: w.next().unwrap_or(0),
            segments: w.next().unwrap_or(0),
            retrans: w.next().unwrap_or(0),
        };
        let status = self.child.wait().expect("waiting for a peer");
        assert!(status.success(), "peer failed: {status}");
        done
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Makes `cmd` start in `cgroup` (its child joins the cgroup before it execs).
pub fn in_cgroup(cmd: &mut Command, cgroup: &Cgroup) {
    let procs =
        std::ffi::CString::new(cgroup.path.join("cgroup.procs").into_os_string().into_encoded_bytes())
            .unwrap();
    // SAFETY: the closure runs between fork and exec and makes only async-signal-safe
    // calls (open, write, close) on memory it owns.
    unsafe {
        cmd.pre_exec(move || {
            // Only async-signal-safe calls between fork and exec.
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let ok = libc::write(fd, b"0\n".as_ptr().cast(), 2) == 2;
            libc::close(fd);
            if ok {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

/// A tc filter listing of one hook, as `tc filter show` prints it.
pub fn tc_filters(iface: &str, hook: &str) -> String {
    let out = Command::new("tc").args(["filter", "show", "dev", iface, hook]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn has_clsact(iface: &str) -> bool {
    sh(&["tc", "qdisc", "show", "dev", iface]).contains("clsact")
}

/// Waits for a `Container`'s host-side interface to carry the stack's own early packets
/// (IPv6 neighbour discovery) so that a test's counts are not disturbed by them later.
pub fn settle() {
    std::thread::sleep(Duration::from_millis(200));
}

enum Lock {
    Shared(#[allow(dead_code)] RwLockReadGuard<'static, ()>),
    Exclusive(#[allow(dead_code)] RwLockWriteGuard<'static, ()>),
}

/// What most tests start from: a netattr instance, a cgroup tree and `n` containers.
/// Fields drop in order: containers, then their cgroups, the instance, the lock.
pub struct Scene {
    pub c: Vec<Container>,
    pub tree: CgroupTree,
    pub na: Netattr,
    _lock: Lock,
}

/// None when the test must skip (not root, and CI unset). `host_wide` tests run alone.
pub fn scene(containers: usize, host_wide: bool) -> Option<Scene> {
    if !privileged() {
        return None;
    }
    let _lock = if host_wide { Lock::Exclusive(exclusive()) } else { Lock::Shared(shared()) };
    let na = Netattr::new();
    let tree = CgroupTree::new();
    let c = (0..containers).map(|_| Container::new(&tree)).collect();
    Some(Scene { c, tree, na, _lock })
}

pub const IMAGE: &str = "netattr-busybox:latest";

/// True when a Docker engine answers (and the test image exists). Skipping is an error
/// when CI is set.
pub fn docker() -> bool {
    if !docker_up() {
        if std::env::var_os("CI").is_some() {
            panic!("Docker test skipped in CI: no Docker engine answers (.ci/run starts dockerd)");
        }
        eprintln!("skipped: no Docker engine");
        return false;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/docker-image.sh");
    sh(&[script, IMAGE]);
    true
}

/// True when a Docker engine answers.
pub fn docker_up() -> bool {
    Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A Docker container this test started; Drop removes it.
pub struct DockerContainer {
    pub name: String,
    pub id: String,
}

impl DockerContainer {
    /// `docker run -d --name <unique>-<role> IMAGE sh -c <script>`.
    pub fn start(role: &str, script: &str) -> Self {
        DockerContainer::start_with(role, &[], script)
    }

    /// `start`, with `args` given to `docker run` too.
    pub fn start_with(role: &str, args: &[&str], script: &str) -> Self {
        let name = format!("netattr-test-{}-{}-{role}", pid(), uniq());
        quiet(&["docker", "rm", "-f", &name]);
        let run =
            [&["docker", "run", "-d", "--name", &name][..], args, &[IMAGE, "sh", "-c", script]].concat();
        let id = sh(&run).trim().to_string();
        DockerContainer { name, id }
    }

    pub fn inspect(&self, format: &str) -> String {
        sh(&["docker", "inspect", "-f", format, &self.name]).trim().to_string()
    }

    /// Waits (15 s at most) until the container has printed `text`.
    pub fn wait_for_log(&self, text: &str) {
        for _ in 0..150 {
            let out = Command::new("docker").args(["logs", &self.name]).output().unwrap();
            if String::from_utf8_lossy(&out.stdout).contains(text) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{} did not print {text:?} within 15 s", self.name);
    }

    pub fn ip(&self) -> String {
        self.inspect("{{.NetworkSettings.IPAddress}}")
    }

    /// The container's cgroup directory, from its init process.
    pub fn cgroup_dir(&self) -> PathBuf {
        let pid = self.inspect("{{.State.Pid}}");
        let line = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        let rel = line.lines().find_map(|l| l.strip_prefix("0::")).unwrap().to_string();
        cgroup2().join(rel.trim_start_matches('/'))
    }
}

impl Drop for DockerContainer {
    fn drop(&mut self) {
        quiet(&["docker", "rm", "-f", &self.name]);
    }
}

/// `docker run --rm` in the foreground; returns once the container is gone.
pub fn docker_run_rm(role: &str, script: &str) -> String {
    let name = format!("netattr-test-{}-{}-{role}", pid(), uniq());
    sh(&["docker", "run", "--rm", "--name", &name, IMAGE, "sh", "-c", script]);
    name
}

/// A free TCP port on loopback (bound, then released for the caller).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// GET `path` from a loopback server: (status code, body). 0 when nothing answers.
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    http_get_at("127.0.0.1", port, path)
}

/// GET `path` from `ip:port`: (status code, body). 0 when nothing answers.
pub fn http_get_at(ip: &str, port: u16, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect((ip, port)) else { return (0, String::new()) };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    if write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return (0, String::new());
    }
    let mut raw = String::new();
    if s.read_to_string(&mut raw).is_err() {
        return (0, String::new());
    }
    let code = raw.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (code, body)
}

/// `netattr serve` on a free loopback port; Drop kills it if the test did not stop it.
pub struct Serve {
    pub child: Child,
    pub port: u16,
}

impl Serve {
    pub fn start(na: &Netattr, extra: &[&str]) -> Serve {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec!["serve", "--listen", &listen];
        args.extend(extra);
        let child = na.cmd(&args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let s = Serve { child, port };
        for _ in 0..100 {
            if s.get("/healthz").0 == 200 {
                return s;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("netattr serve did not answer /healthz on {listen}");
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(self.port, path)
    }

    /// SIGTERM; returns the exit code and stderr.
    pub fn stop(mut self) -> (i32, String) {
        use std::io::Read;
        signal(self.child.id(), libc::SIGTERM);
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        (status.code().unwrap_or(-1), err)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The samples of `metric` in Prometheus exposition text: (labels text, value).
pub fn samples<'a>(text: &'a str, metric: &str) -> Vec<(&'a str, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(metric)?;
            let (labels, value) = rest.rsplit_once(' ')?;
            (labels.is_empty() || labels.starts_with('{')).then_some((labels, value.parse().ok()?))
        })
        .collect()
}

/// The row of a `stats --format json` document whose `field` is `value`.
pub fn row_where<'a, T>(stats: &'a serde_json::Value, field: &str, value: T) -> &'a serde_json::Value
where
    serde_json::Value: PartialEq<T>,
    T: std::fmt::Display + Copy,
{
    stats["cgroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[field] == value)
        .unwrap_or_else(|| panic!("no row with {field} {value} in {stats}"))
}

/// The row of cgroup `id` in a `stats --format json` document.
pub fn row(stats: &serde_json::Value, id: u64) -> &serde_json::Value {
    row_where(stats, "cgroup_id", id)
}

/// A host sysctl set for the test and put back as it was on every exit path.
pub struct Sysctl {
    key: &'static str,
    old: String,
}

impl Sysctl {
    pub fn set(key: &'static str, value: &str) -> Sysctl {
        let old = sh(&["sysctl", "-n", key]).trim().to_string();
        sh(&["sysctl", "-qw", &format!("{key}={value}")]);
        Sysctl { key, old }
    }
}

impl Drop for Sysctl {
    fn drop(&mut self) {
        let _ = Command::new("sysctl").args(["-qw", &format!("{}={}", self.key, self.old)]).status();
    }
}

/// A temporary directory of this test process (`<tmp>/netattr-test-PID-N`); Drop removes it.
/// Waits until `ok()` holds, asking every 50 ms, for at most `timeout`; fails the test
/// naming `what` when it does not.
pub fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let begun = std::time::Instant::now();
    while !ok() {
        assert!(begun.elapsed() < timeout, "waited {timeout:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let d = std::env::temp_dir().join(format!("netattr-test-{}-{}", pid(), uniq()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("creating a temporary directory");
        TempDir(d)
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A recorder running in the background, its stderr in a file the test reads as it goes.
pub struct Background {
    child: std::process::Child,
    log: std::path::PathBuf,
}

impl Background {
    pub fn record(na: &Netattr, ledger: &Path, log: std::path::PathBuf) -> Background {
        Background::record_with(na, ledger, log, &[])
    }

    /// `record` with `args` too.
    pub fn record_with(na: &Netattr, ledger: &Path, log: std::path::PathBuf, args: &[&str]) -> Background {
        let base = ["record", "--ledger", ledger.to_str().unwrap(), "--interval", "0.2"];
        let mut cmd = na.cmd(&[&base[..], args].concat());
        cmd.stdout(std::process::Stdio::null()).stderr(std::fs::File::create(&log).unwrap());
        Background { child: cmd.spawn().unwrap(), log }
    }

    pub fn said(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        signal(self.child.id(), libc::SIGTERM);
        let _ = self.child.wait();
    }
}

/// Sends signal `sig` to process `pid` (a child of the test's, or one it started).
pub fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    unsafe { libc::kill(pid as i32, sig) };
}

/// The cycles the recorder writing the ledger at `ledger` has noted (0 before its first).
pub fn recorder_cycles(ledger: &Path) -> i64 {
    let c = rusqlite::Connection::open_with_flags(ledger, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY);
    c.and_then(|c| c.query_row("SELECT cycles FROM recorder WHERE id = 1", [], |r| r.get(0))).unwrap_or(0)
}

/// Waits (20 s at most) until the ledger's recorder has noted `more` cycles than now.
pub fn wait_for_cycles(ledger: &Path, more: i64) {
    let want = recorder_cycles(ledger) + more;
    wait_until(&format!("{more} recorder cycles in {}", ledger.display()), Duration::from_secs(20), || {
        recorder_cycles(ledger) >= want
    });
}

/// Reads `read` until it gives the same value twice, 100 ms apart (5 s at most): the last
/// packets of a flow (its acks and FINs) are counted. Returns that value.
pub fn settled<T: PartialEq + std::fmt::Debug>(mut read: impl FnMut() -> T) -> T {
    let begun = std::time::Instant::now();
    let mut last = read();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = read();
        if now == last {
            return now;
        }
        assert!(begun.elapsed() < Duration::from_secs(5), "still moving after 5 s: {now:?}");
        last = now;
    }
}

/// Where skipped privileged tests are counted (one line each): the test command reports the
/// count at its end (scripts/test.sh), so that a skip is never a silent pass.
pub const SKIPPED: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/skipped-privileged-tests");

fn note_skipped() {
    use std::io::Write;
    let name = std::thread::current().name().unwrap_or("a test").to_string();
    if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(SKIPPED) {
        let _ = writeln!(f, "{name}");
    }
}
