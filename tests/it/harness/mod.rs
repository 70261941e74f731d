//! Test fixtures on the real kernel. Every fixture is uniquely named, owned by the test
//! that made it, and removed by its Drop on every exit path (panics included).
use serde_json::Value;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

mod cgroups;
mod clickhouse;
mod containerd;
mod docker;
mod docrun;
mod fleet;
mod http;
mod instance;
mod ledger;
mod nat;
mod net;
mod package;
mod recorder;
mod schema;
mod stats;
mod sweep;
mod traffic;

pub use cgroups::*;
pub use clickhouse::*;
pub use containerd::*;
pub use docker::*;
pub use docrun::*;
pub use fleet::*;
pub use http::*;
pub use instance::*;
pub use ledger::*;
pub use nat::*;
pub use net::*;
pub use package::*;
pub use recorder::*;
pub use schema::*;
pub use stats::*;
pub use sweep::*;
pub use traffic::*;

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
        skip("needs root", "run the tests as root");
    } else {
        static SWEEP: std::sync::Once = std::sync::Once::new();
        SWEEP.call_once(sweep_dead_runs);
    }
    root
}

/// A number unique within this test process.
pub fn uniq() -> u32 {
    static N: AtomicU32 = AtomicU32::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

pub(crate) fn pid() -> u32 {
    std::process::id()
}

/// Runs a setup command, panicking with its stderr if it fails.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn quiet(args: &[&str]) {
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

/// Waits until `ok()` holds, asking every 50 ms, for at most `timeout`; fails the test
/// naming `what` when it does not.
pub fn wait_until(what: &str, timeout: Duration, ok: impl FnMut() -> bool) {
    assert!(poll_until(timeout, Duration::from_millis(50), ok), "waited {timeout:?} for {what}");
}

/// Asks `ok()` every `every` until it holds or `timeout` has passed; whether it held. The
/// one place a test waits on a condition (Drop guards use it too: they must not panic).
pub fn poll_until(timeout: Duration, every: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let begun = std::time::Instant::now();
    loop {
        if ok() {
            return true;
        }
        if begun.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(every);
    }
}

/// A temporary directory of this test process (`<tmp>/netattr-test-PID-N`); Drop removes it.
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

/// Sends signal `sig` to process `pid` (a child of the test's, or one it started).
pub fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    unsafe { libc::kill(pid as i32, sig) };
}

/// Sends signal `sig` to the process group led by `pid`.
pub fn signal_group(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    unsafe { libc::kill(-(pid as i32), sig) };
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

/// A test that cannot run here: a failure when CI is set (`in_ci` says what CI lacks);
/// otherwise it says "skipped: `why`" and is counted for the test command's report.
pub fn skip(why: &str, in_ci: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("test skipped in CI: {in_ci}");
    }
    eprintln!("skipped: {why}");
    use std::io::Write;
    let name = std::thread::current().name().unwrap_or("a test").to_string();
    if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(SKIPPED) {
        let _ = writeln!(f, "{name}");
    }
}
