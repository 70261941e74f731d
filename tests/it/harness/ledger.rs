//! Recording into a test's ledger: `netattr record` in the background or once, what the
//! ledger billed against what the kernel counted, and recorders killed at random instants.
use super::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `netattr record`; Drop kills it.
pub struct Recorder(pub Child);

impl Recorder {
    pub fn start(na: &Netattr, ledger: &Path, interval: &str, env: &[(&str, &str)]) -> Recorder {
        Recorder::start_with(na, ledger, interval, env, &[])
    }

    pub fn start_with(
        na: &Netattr,
        ledger: &Path,
        interval: &str,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Recorder {
        // Gone workloads are looked for every cycle here (60 s by default).
        let mut cmd = na.cmd(
            &[
                &[
                    "record",
                    "--ledger",
                    ledger.to_str().unwrap(),
                    "--interval",
                    interval,
                    "--collect-every",
                    interval,
                ],
                args,
            ]
            .concat(),
        );
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Recorder(cmd.spawn().unwrap())
    }

    pub fn kill9(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// SIGTERM: a last cycle, then exit 0.
    pub fn stop(mut self) -> String {
        signal(self.0.id(), libc::SIGTERM);
        let out =
            std::mem::replace(&mut self.0, Command::new("true").spawn().unwrap()).wait_with_output().unwrap();
        assert!(out.status.success(), "record: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn once(na: &Netattr, ledger: &Path, env: &[(&str, &str)]) {
    let mut cmd = na.cmd(&["record", "--once", "--ledger", ledger.to_str().unwrap()]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_cmd(&mut cmd).ok();
}

/// What the ledger billed to the workload with cgroup path `path`, socket source, totals.
pub fn billed(ledger: &Path, path: &str, since: &str, until: Option<&str>) -> [u64; 4] {
    let mut args = vec!["report", "--ledger", ledger.to_str().unwrap(), "--by", "identity", "--since", since];
    if let Some(u) = until {
        args.extend(["--until", u]);
    }
    args.extend(["--source", "socket", "--format", "json"]);
    let out = run_cmd(Command::new(BIN).args(&args)).ok().json();
    let conn =
        rusqlite::Connection::open_with_flags(ledger, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let identity: Option<String> =
        conn.query_row("SELECT identity FROM workloads WHERE path = ?1", [path], |r| r.get(0)).ok();
    let Some(identity) = identity else { return [0; 4] };
    out["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"]["identity"] == identity.as_str())
        .map(|g| ["rx_bytes", "tx_bytes", "rx_packets", "tx_packets"].map(|k| g[k].as_u64().unwrap()))
        .unwrap_or_default()
}

/// The kernel's counters of a cgroup now, socket source.
pub fn counted(na: &Netattr, id: u64) -> [u64; 4] {
    let st = na.run(&["stats", "--source", "socket", "--no-resolve", "--format", "json"]).ok().json();
    st["cgroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["cgroup_id"] == id)
        .map(|r| ["rx_bytes", "tx_bytes", "rx_packets", "tx_packets"].map(|k| r[k].as_u64().unwrap()))
        .unwrap_or_default()
}

/// A ledger in a directory of the test's, netattr loaded and attached to the test's
/// cgroups, and a receiver's cgroup on the host.
pub fn recording(s: &Scene) -> (TempDir, PathBuf, Cgroup) {
    recording_with(s, &[])
}

/// `recording`, loaded with `load_args` too.
pub fn recording_with(s: &Scene, load_args: &[&str]) -> (TempDir, PathBuf, Cgroup) {
    let dir = TempDir::new();
    let ledger = dir.0.join("ledger.db");
    s.na.run(&[&["load"][..], load_args].concat()).ok();
    s.na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    (dir, ledger, s.tree.cgroup("host.slice/receiver.service"))
}

pub fn add(a: [u64; 4], b: [u64; 4]) -> [u64; 4] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]]
}

/// Recorders started by `start(k)` (the k-th) and killed with SIGKILL `life.0` ms plus up
/// to `life.1` ms later (a random point of their cycles), at least `min` of them and for at
/// least `secs` seconds; returns how many.
pub fn kill_loop(min: u32, secs: u64, life: (u64, u64), start: impl Fn(u32) -> Recorder) -> u32 {
    let mut seed = u64::from(std::process::id());
    let (begun, mut kills) = (Instant::now(), 0);
    while kills < min || begun.elapsed() < Duration::from_secs(secs) {
        let rec = start(kills);
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(life.0 + (seed >> 33) % life.1));
        rec.kill9();
        kills += 1;
    }
    kills
}

/// Billed == counted, exactly, for both ends (each having counted more than `least`
/// bytes): nothing lost, nothing twice.
pub fn exactly_once(
    na: &Netattr,
    ledger: &Path,
    ends: [(&Cgroup, &str); 2],
    least: u64,
    until: Option<&str>,
    kills: u32,
) {
    for (cg, what) in ends {
        let want = counted(na, cg.id);
        assert!(want[0] + want[1] > least, "{what} counted {want:?}");
        assert_eq!(
            billed(ledger, &cg.rel, "0", until),
            want,
            "{what}: billed against counted after {kills} kills"
        );
    }
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// `netattr export --to URL --ledger LEDGER --node NODE`, to be given more and run.
pub fn export_cmd(url: &str, ledger: &Path, node: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["export", "--to", url, "--ledger", ledger.to_str().unwrap(), "--node", node]);
    cmd
}
