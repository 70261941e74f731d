//! The ledger on the real kernel and a real SQLite file: every byte billed exactly once
//! across SIGKILLs, `cleanup` + `load`, a reboot and the collection of gone workloads;
//! reports that split a period add up to the whole; bad files are refused and left as
//! they were.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;

/// A running `netattr record`; Drop kills it.
struct Recorder(Child);

impl Recorder {
    fn start(na: &Netattr, ledger: &Path, interval: &str, env: &[(&str, &str)]) -> Recorder {
        Recorder::start_with(na, ledger, interval, env, &[])
    }

    fn start_with(
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

    fn kill9(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// SIGTERM: a last cycle, then exit 0.
    fn stop(mut self) -> String {
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

fn once(na: &Netattr, ledger: &Path, env: &[(&str, &str)]) {
    let mut cmd = na.cmd(&["record", "--once", "--ledger", ledger.to_str().unwrap()]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_cmd(&mut cmd).ok();
}

/// What the ledger billed to the workload with cgroup path `path`, socket source, totals.
fn billed(ledger: &Path, path: &str, since: &str, until: Option<&str>) -> [u64; 4] {
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
fn counted(na: &Netattr, id: u64) -> [u64; 4] {
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
fn recording(s: &Scene) -> (TempDir, PathBuf, Cgroup) {
    recording_with(s, &[])
}

/// `recording`, loaded with `load_args` too.
fn recording_with(s: &Scene, load_args: &[&str]) -> (TempDir, PathBuf, Cgroup) {
    let dir = TempDir::new();
    let ledger = dir.0.join("ledger.db");
    s.na.run(&[&["load"][..], load_args].concat()).ok();
    s.na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    (dir, ledger, s.tree.cgroup("host.slice/receiver.service"))
}

fn add(a: [u64; 4], b: [u64; 4]) -> [u64; 4] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]]
}

/// Recorders started by `start(k)` (the k-th) and killed with SIGKILL `life.0` ms plus up
/// to `life.1` ms later (a random point of their cycles), at least `min` of them and for at
/// least `secs` seconds; returns how many.
fn kill_loop(min: u32, secs: u64, life: (u64, u64), start: impl Fn(u32) -> Recorder) -> u32 {
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
fn exactly_once(
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

#[test]
fn sigkill_at_any_instant_bills_every_byte_exactly_once() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    let (_dir, ledger, h) = recording(&s);
    let port = 23000 + (uniq() as u16 % 1000);
    let dst = format!("{}:{port}", c.host_ip);
    let r = Peer::spawn(&h, None, &format!("tcp-recv {dst}")).ready();
    // 3 MB/s for 4 s while recorders cycling every 20 ms are killed with SIGKILL.
    let sender = c.peer(&format!("tcp-rate {dst} 3000000 4"));
    let kills = kill_loop(20, 4, (20, 130), |_| Recorder::start(na, &ledger, "0.02", &[]));
    sender.finish();
    r.finish();
    std::thread::sleep(Duration::from_millis(100));
    once(na, &ledger, &[]);
    // The killed recorders did record (and so were killed at all points of their cycles).
    let conn = rusqlite::Connection::open(&ledger).unwrap();
    let cycles: i64 = conn.query_row("SELECT cycles FROM recorder", [], |r| r.get(0)).unwrap();
    eprintln!("{kills} kills, {cycles} cycles recorded");
    assert!(cycles > i64::from(kills), "{cycles} cycles over {kills} recorders");
    exactly_once(na, &ledger, [(&c.cgroup, "sender"), (&h, "receiver")], 12_000_000 / 2, None, kills);
}

/// Unix seconds now.
fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[test]
fn a_busy_node_bills_closed_buckets_in_slices_in_their_bucket_and_exactly_once() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    let (_dir, ledger, h) = recording(&s);
    let port = 23500 + (uniq() as u16 % 1000) * 2;
    // `--bill-batch 1`: the sender's and the receiver's rows are more than a batch, so their
    // reads wait for their 5-minute bucket to close, then are billed a row a cycle. The
    // recorder's clock is put 3 s before a boundary.
    let boundary = (unix_now() / 300 + 2) * 300;
    let shift = boundary - 3 - unix_now();
    let started = Instant::now();
    let env = [("NETATTR_CLOCK_SHIFT", shift.to_string())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let rec = Recorder::start_with(na, &ledger, "0.1", &env, &["--bill-batch", "1"]);
    c.send(&c.cgroup, &h, port, 300_000);
    // Past the boundary and a few cycles: the closed bucket's reads were billed in slices
    // while the recorder runs, in the bucket they were read in.
    std::thread::sleep(Duration::from_secs(5).saturating_sub(started.elapsed()));
    let (sent, received) = (counted(na, c.cgroup.id), counted(na, h.id));
    // (A report's period ends now unless told: the recorder's clock is ahead.)
    let (until, later) = (boundary.to_string(), (boundary + 86_400).to_string());
    assert_eq!(billed(&ledger, &c.cgroup.rel, "0", Some(&until)), sent, "sender, closed bucket");
    assert_eq!(billed(&ledger, &h.rel, "0", Some(&until)), received, "receiver, closed bucket");
    let conn = rusqlite::Connection::open(&ledger).unwrap();
    let first_billed: i64 = conn
        .query_row("SELECT first_seen FROM workloads WHERE path = ?1", [&c.cgroup.rel], |r| r.get(0))
        .unwrap();
    assert!(first_billed >= boundary, "billed at {first_billed}, after the bucket closed at {boundary}");
    // Reads in the open bucket wait (`status` says how many); a stop bills them.
    c.send(&c.cgroup, &h, port + 1, 200_000);
    wait_for_cycles(&ledger, 2);
    let status = na.run(&["status", "--ledger", ledger.to_str().unwrap(), "--format", "json"]).ok().json();
    assert!(status["recorder"]["waiting"].as_u64().unwrap() >= 1, "{}", status["recorder"]);
    rec.stop();
    assert_eq!(billed(&ledger, &c.cgroup.rel, "0", Some(&until)), sent, "the closed bucket, after the stop");
    assert_eq!(billed(&ledger, &c.cgroup.rel, "0", Some(&later)), counted(na, c.cgroup.id), "sender, all");

    // SIGKILLs at random points while slices are billed: each recorder's clock starts 1 s
    // before a later boundary and it lives 0.6 to 1.5 s, cycling every 20 ms.
    let dst = format!("{}:{port}", c.host_ip);
    let r = Peer::spawn(&h, None, &format!("tcp-recv {dst}")).ready();
    let sender = c.peer(&format!("tcp-rate {dst} 1000000 13"));
    let kills = kill_loop(12, 13, (600, 900), |k| {
        let shift = (boundary + 300 * (i64::from(k) + 1) - 1 - unix_now()).to_string();
        let env = [("NETATTR_CLOCK_SHIFT", shift.as_str())];
        Recorder::start_with(na, &ledger, "0.02", &env, &["--bill-batch", "1"])
    });
    sender.finish();
    r.finish();
    // Recorders that were killed had billed closed buckets of their own.
    let buckets: i64 = conn
        .query_row(
            "SELECT count(DISTINCT bucket) FROM usage WHERE resolution = '5m' AND bucket > ?1",
            [boundary],
            |r| r.get(0),
        )
        .unwrap();
    eprintln!("{kills} kills; {buckets} closed buckets billed by recorders later killed");
    assert!(buckets >= 6, "{buckets} buckets billed in slices by {kills} recorders");
    std::thread::sleep(Duration::from_millis(100));
    let shift = (boundary + 300 * (i64::from(kills) + 2) - unix_now()).to_string();
    once(na, &ledger, &[("NETATTR_CLOCK_SHIFT", &shift)]);
    exactly_once(na, &ledger, [(&c.cgroup, "sender"), (&h, "receiver")], 13_000_000 / 2, Some(&later), kills);
}

#[test]
fn an_hour_that_is_over_is_rolled_up_and_reports_read_it() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    let (_dir, ledger, h) = recording(&s);
    let port = 24500 + (uniq() as u16 % 1000) * 2;
    // The recorder's clock 3 s before an hour's end: traffic before it and after it.
    let hour = (unix_now() / 3600 + 2) * 3600;
    let started = Instant::now();
    let shift = (hour - 3 - unix_now()).to_string();
    let rec = Recorder::start(na, &ledger, "0.2", &[("NETATTR_CLOCK_SHIFT", &shift)]);
    c.send(&c.cgroup, &h, port, 300_000);
    let before = counted(na, c.cgroup.id);
    std::thread::sleep(Duration::from_secs(5).saturating_sub(started.elapsed()));
    c.send(&c.cgroup, &h, port + 1, 200_000);
    wait_for_cycles(&ledger, 2);
    rec.stop();
    let all = counted(na, c.cgroup.id);
    // The hour before is rolled up: its row is whole, and the report of an hour-aligned
    // period reads it (then the 5-minute rows of the hour after, not rolled up).
    let conn = rusqlite::Connection::open(&ledger).unwrap();
    let done: i64 =
        conn.query_row("SELECT done_until FROM rollups WHERE resolution = 'hour'", [], |r| r.get(0)).unwrap();
    assert!(done >= hour, "hours whole up to {done}, the hour ending at {hour} is over");
    let row = |res: &str| -> i64 {
        conn.query_row(
            "SELECT coalesce(sum(u.tx_bytes), 0) FROM usage u JOIN workloads w ON w.id = u.workload
             WHERE w.path = ?1 AND u.resolution = ?2 AND u.bucket >= ?3 AND u.bucket < ?4 AND u.source = 'socket' AND u.class = ''",
            rusqlite::params![c.cgroup.rel, res, hour - 3600, hour],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(row("hour"), row("5m"), "the hour's row is the sum of its 5-minute rows");
    assert_eq!(row("hour") as u64, before[1], "the hour's row holds what was sent before its end");
    let (h0, h1, h2) = ((hour - 3600).to_string(), hour.to_string(), (hour + 3600).to_string());
    let report = na
        .run(&[
            "report",
            "--ledger",
            ledger.to_str().unwrap(),
            "--since",
            &h0,
            "--until",
            &h2,
            "--format",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(report["resolution"], "hour", "{report}");
    assert_eq!(billed(&ledger, &c.cgroup.rel, &h0, Some(&h2)), all, "the two hours");
    assert_eq!(billed(&ledger, &c.cgroup.rel, &h0, Some(&h1)), before, "the hour rolled up");
    assert_eq!(
        billed(&ledger, &c.cgroup.rel, &h1, Some(&h2)),
        [all[0] - before[0], all[1] - before[1], all[2] - before[2], all[3] - before[3]],
        "the hour after"
    );
}

#[test]
fn cleanup_and_load_under_a_running_recorder_and_a_reboot_lose_nothing() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    let dir = TempDir::new();
    let ledger = dir.0.join("ledger.db");
    let boot = dir.0.join("boot_id");
    std::fs::write(&boot, "boot-one\n").unwrap();
    let env = [("NETATTR_BOOT_ID_FILE", boot.to_str().unwrap())];
    let attach = || {
        na.run(&["load"]).ok();
        na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    };
    attach();
    let h = s.tree.cgroup("host.slice/receiver.service");
    let port = 24000 + (uniq() as u16 % 1000) * 4;
    let rec = Recorder::start(na, &ledger, "0.1", &env);
    c.send(&c.cgroup, &h, port, 1_000_000);
    wait_for_cycles(&ledger, 2);
    let first = counted(na, c.cgroup.id);
    // cleanup + load between two cycles: the old instance's last counters are still billed.
    na.run(&["cleanup"]).ok();
    attach();
    c.send(&c.cgroup, &h, port + 1, 500_000);
    wait_for_cycles(&ledger, 2);
    let second = counted(na, c.cgroup.id);
    rec.stop();
    assert_eq!(billed(&ledger, &c.cgroup.rel, "0", None), add(first, second), "across cleanup + load");

    // A reboot: a new boot id and a new load, the recorder started afresh (counters from zero).
    once(na, &ledger, &env);
    std::fs::write(&boot, "boot-two\n").unwrap();
    na.run(&["cleanup"]).ok();
    attach();
    c.send(&c.cgroup, &h, port + 2, 300_000);
    let third = settled(|| counted(na, c.cgroup.id));
    once(na, &ledger, &env);
    assert_eq!(billed(&ledger, &c.cgroup.rel, "0", None), add(add(first, second), third), "across a reboot");
    let conn = rusqlite::Connection::open(&ledger).unwrap();
    let stale: i64 = conn
        .query_row(
            "SELECT count(*) FROM cursors c JOIN instances i ON i.id = c.instance WHERE i.instance NOT LIKE 'boot-two/%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stale, 0, "the cursors of earlier instances are gone");
}

#[test]
fn gone_workloads_are_collected_and_billed_once() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    let (_dir, ledger, h) = recording(&s);
    let port = 25000 + (uniq() as u16 % 1000) * 12;
    let rec = Recorder::start(na, &ledger, "0.3", &[]);
    let mut short = Vec::new();
    for i in 0..10u16 {
        // Each lives less than one interval.
        let payload = 100_000 + u64::from(i) * 10_000;
        short.push((c.run_exited(&s.tree, &h, port + i, payload), payload));
    }
    // Collected by running cycles, not only by the stop's.
    wait_for_cycles(&ledger, 2);
    rec.stop();
    let st = na.run(&["stats", "--source", "socket", "--format", "json"]).ok().json();
    for (cg, payload) in &short {
        assert!(
            st["cgroups"].as_array().unwrap().iter().all(|r| r["cgroup_id"] != cg.id),
            "{} was collected from the maps",
            cg.rel
        );
        let [_, tx, _, txp] = billed(&ledger, &cg.rel, "0", None);
        assert!(
            (*payload..=payload + 100 * txp + PER_RETRANSMISSION * 4).contains(&tx),
            "{}: billed {tx} B in {txp} packets for {payload}",
            cg.rel
        );
    }
    // Nothing left for reap (which the recorder's instance refuses: it collects them).
    let st = na.run(&["status", "--format", "json"]).ok().json();
    assert_eq!(st["gone_cgroups"], 0, "nothing left for reap: {st}");
    na.run(&["reap"]).fails_with("is recorded into ledger");
}

#[test]
fn a_report_split_in_two_periods_adds_up_and_a_clock_moved_back_bills_nothing_twice() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    let (_dir, ledger, h) = recording(&s);
    let port = 26000 + (uniq() as u16 % 1000) * 3;
    // Three cycles: two hours ago, now, and an hour ago (the clock moved back).
    c.send(&c.cgroup, &h, port, 400_000);
    once(na, &ledger, &[("NETATTR_CLOCK_SHIFT", "-7200")]);
    c.send(&c.cgroup, &h, port + 1, 300_000);
    once(na, &ledger, &[]);
    c.send(&c.cgroup, &h, port + 2, 200_000);
    once(na, &ledger, &[("NETATTR_CLOCK_SHIFT", "-3600")]);
    let whole = billed(&ledger, &c.cgroup.rel, "0", None);
    assert_eq!(whole, counted(na, c.cgroup.id), "billed once, whatever the clock said");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let split = ((now - 5400) / 300 * 300).to_string();
    let (a, b) =
        (billed(&ledger, &c.cgroup.rel, "0", Some(&split)), billed(&ledger, &c.cgroup.rel, &split, None));
    assert_eq!(add(a, b), whole, "the two halves add up to the whole");
    assert!(a[1] >= 400_000 && b[1] >= 500_000, "the halves hold what was read in them: {a:?} {b:?}");
    // The report's own document: its groups, p95 and alert mode.
    let r = run_cmd(Command::new(BIN).args([
        "report",
        "--ledger",
        ledger.to_str().unwrap(),
        "--since",
        "0",
        "--by",
        "name",
        "--limit",
        "100KB",
        "--p95",
        "--format",
        "json",
    ]));
    assert_eq!(r.code, 3, "a group over the limit: exit 3, apart from errors ({})", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(
        v["groups"].as_array().unwrap().iter().all(|g| g["p95_bytes_per_s"].as_f64().is_some()),
        "--p95 gives each group its 95th percentile: {v}"
    );
    assert!(v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g["rx_bytes"].as_u64().unwrap() + g["tx_bytes"].as_u64().unwrap() > 100_000));
}

#[test]
fn bad_ledger_files_are_refused_and_left_as_they_were() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    na.run(&["load"]).ok();
    let dir = TempDir::new();
    let corrupt = dir.0.join("corrupt.db");
    std::fs::write(&corrupt, vec![0x5a; 8192]).unwrap();
    na.run(&["record", "--once", "--ledger", corrupt.to_str().unwrap()])
        .fails_with("is not a netattr ledger or is damaged");
    assert_eq!(std::fs::read(&corrupt).unwrap(), vec![0x5a; 8192], "the corrupt file is left as it was");
    let newer = dir.0.join("newer.db");
    na.run(&["record", "--once", "--ledger", newer.to_str().unwrap()]).ok();
    rusqlite::Connection::open(&newer).unwrap().pragma_update(None, "user_version", 99).unwrap();
    na.run(&["record", "--once", "--ledger", newer.to_str().unwrap()])
        .fails_with("newer than this netattr's");
    run_cmd(Command::new(BIN).args(["report", "--ledger", newer.to_str().unwrap()]))
        .fails_with("newer than this netattr's");
    // Another writer holds the database: the recorder says so (after waiting 5 s).
    let locked = dir.0.join("locked.db");
    // A ledger of its own for this part (the instance moves to it: one instance, one ledger).
    na.run(&["record", "--once", "--rebind", "--ledger", locked.to_str().unwrap()]).ok();
    let other = rusqlite::Connection::open(&locked).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    na.run(&["record", "--once", "--ledger", locked.to_str().unwrap()])
        .fails_with("locked by another writer");
    other.execute_batch("ROLLBACK").unwrap();
    run_cmd(Command::new(BIN).args(["report", "--ledger", dir.0.join("absent.db").to_str().unwrap()]))
        .fails_with("no ledger at");
}

/// A small tmpfs of this test, mounted on a directory of its own; Drop unmounts it (the
/// directory goes after).
struct Tmpfs(TempDir);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0 .0).status();
    }
}

#[test]
fn a_full_or_read_only_filesystem_is_said_and_loses_nothing() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    let fs = Tmpfs(TempDir::new());
    sh(&["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", fs.0 .0.to_str().unwrap()]);
    let ledger = fs.0.join("ledger.db");
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let h = s.tree.cgroup("host.slice/receiver.service");
    let port = 27000 + (uniq() as u16 % 1000) * 3;
    c.send(&c.cgroup, &h, port, 200_000);
    once(na, &ledger, &[]);
    // The disk fills up: said in one line, exit 1; the counters wait in the kernel.
    c.send(&c.cgroup, &h, port + 1, 100_000);
    let fill = fs.0.join("fill");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", &format!("of={}", fill.display()), "bs=64k"])
        .stderr(Stdio::null())
        .status();
    na.run(&["record", "--once", "--ledger", ledger.to_str().unwrap()])
        .fails_with("cannot be written: the disk is full or failing");
    std::fs::remove_file(&fill).unwrap();
    once(na, &ledger, &[]);
    assert_eq!(
        billed(&ledger, &c.cgroup.rel, "0", None),
        counted(na, c.cgroup.id),
        "nothing lost to the full disk"
    );
    // A read-only filesystem: said, and the file left as it was.
    c.send(&c.cgroup, &h, port + 2, 50_000);
    sh(&["mount", "-o", "remount,ro", fs.0 .0.to_str().unwrap()]);
    let before = std::fs::read(&ledger).unwrap();
    na.run(&["record", "--once", "--ledger", ledger.to_str().unwrap()]).fails_with("cannot be written");
    assert!(std::fs::read(&ledger).unwrap() == before, "the read-only ledger is unchanged");
    sh(&["mount", "-o", "remount,rw", fs.0 .0.to_str().unwrap()]);
    once(na, &ledger, &[]);
    assert_eq!(
        billed(&ledger, &c.cgroup.rel, "0", None),
        counted(na, c.cgroup.id),
        "nothing lost to the read-only time"
    );
}

#[test]
fn serve_records_too_and_status_shows_the_recorder() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    let dir = TempDir::new();
    let ledger = dir.0.join("ledger.db");
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let serve =
        Serve::start(na, &["--record", "--record-interval", "0.2", "--ledger", ledger.to_str().unwrap()]);
    let h = s.tree.cgroup("host.slice/receiver.service");
    c.send(&c.cgroup, &h, 28000 + (uniq() as u16 % 1000), 300_000);
    wait_for_cycles(&ledger, 1);
    let status = na.run(&["status", "--ledger", ledger.to_str().unwrap(), "--format", "json"]).ok().json();
    assert!(status["recorder"]["cycles"].as_u64().unwrap() >= 1, "{}", status["recorder"]);
    assert!(status["recorder"]["last_error"].is_null(), "{}", status["recorder"]);
    // SIGTERM: the recorder's last cycle, then exit 0; everything counted is billed.
    let (code, stderr) = serve.stop();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(billed(&ledger, &c.cgroup.rel, "0", None), counted(na, c.cgroup.id));
    let none = na
        .run(&["status", "--ledger", dir.0.join("none.db").to_str().unwrap(), "--format", "json"])
        .ok()
        .json();
    assert!(none["recorder"].is_null());
}

/// Containers of this test left by a failure; Drop removes them.
struct Labelled(String);

impl Drop for Labelled {
    fn drop(&mut self) {
        let ids = Command::new("docker")
            .args(["ps", "-aq", "--filter", &format!("label=netattr.test={}", self.0)])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for id in ids.split_whitespace() {
            let _ = Command::new("docker").args(["rm", "-f", id]).stdout(Stdio::null()).status();
        }
    }
}

#[test]
fn two_hundred_short_lived_containers_are_each_billed_once() {
    // Alone: 200 container starts load a 2-CPU machine enough to make the UDP of tests
    // beside it drop datagrams.
    let Some(s) = scene(0, true) else { return };
    if !docker() {
        return;
    }
    let na = &s.na;
    let dir = TempDir::new();
    let ledger = dir.0.join("ledger.db");
    let label = Labelled(format!("{}-{}", std::process::id(), uniq()));
    // A web server with a 20,000-byte file; 200 `docker run --rm` clients fetch it once each.
    let server = DockerContainer::start(
        "sink",
        "mkdir -p /www && dd if=/dev/zero of=/www/f bs=1000 count=20 2>/dev/null && echo ready && httpd -f -p 80 -h /www",
    );
    server.wait_for_log("ready");
    let ip = server.ip();
    let parent = server.cgroup_dir().parent().unwrap().to_path_buf();
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", parent.to_str().unwrap()]).ok();
    // Each client lives well under one recording interval (2 s).
    let rec = Recorder::start(na, &ledger, "2", &[]);
    let ids: Vec<String> = std::thread::scope(|sc| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let (ip, label) = (&ip, &label.0);
                sc.spawn(move || {
                    (0..50)
                        .map(|_| {
                            // Not --rm: each client's exit status is read below (a failed
                            // download is told apart from a lost bill); its cgroup goes
                            // when it exits all the same.
                            sh(&[
                                "docker",
                                "run",
                                "-d",
                                "--label",
                                &format!("netattr.test={label}"),
                                IMAGE,
                                "sh",
                                "-c",
                                &format!("wget -q -O /dev/null http://{ip}/f"),
                            ])
                            .trim()
                            .to_string()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    assert_eq!(ids.len(), 200);
    let filter = format!("label=netattr.test={}", label.0);
    wait_until("the clients to exit", Duration::from_secs(90), || {
        sh(&["docker", "ps", "-q", "--filter", &filter]).trim().is_empty()
    });
    // Each client's exit status, then the clients go.
    let failed: Vec<String> = ids
        .iter()
        .filter(|id| sh(&["docker", "inspect", "-f", "{{.State.ExitCode}}", id]).trim() != "0")
        .cloned()
        .collect();
    let all = sh(&["docker", "ps", "-aq", "--filter", &filter]);
    sh(&[&["docker", "rm", "-f"][..], &all.split_whitespace().collect::<Vec<_>>()].concat());
    assert_eq!(failed, Vec::<String>::new(), "clients whose download failed (not a bill): {failed:?}");
    rec.stop(); // a last cycle, which also collects what is gone
    let conn =
        rusqlite::Connection::open_with_flags(&ledger, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut q = conn
        .prepare(
            "SELECT coalesce(sum(u.rx_bytes), 0), coalesce(sum(u.rx_packets), 0) FROM usage u
             JOIN workloads w ON w.id = u.workload
             WHERE w.identity = ?1 AND u.resolution = '5m' AND u.source = 'socket' AND u.class = ''",
        )
        .unwrap();
    let st = na.run(&["stats", "--source", "socket", "--format", "json"]).ok().json();
    // Workloads billed without a name: where a client's bytes went if its name was lost.
    let anonymous: Vec<(String, i64)> = conn
        .prepare(
            "SELECT w.identity, sum(u.rx_bytes) FROM usage u JOIN workloads w ON w.id = u.workload
             WHERE w.identity LIKE 'cgroup:%' AND u.resolution = '5m' AND u.source = 'socket' AND u.class = ''
             GROUP BY w.identity",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for id in &ids {
        let (rx, pk): (i64, i64) =
            q.query_row([format!("container:{id}")], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        // The 20,000-byte file and an HTTP response header, 100 bytes a packet at most.
        assert!(
            (20_000..=20_000 + 100 * pk + 1000 + PER_RETRANSMISSION as i64 * 2).contains(&rx),
            "container {id} (its download succeeded): billed {rx} B in {pk} packets for 20,000; \
             billed without a name: {anonymous:?}"
        );
        assert!(
            st["cgroups"].as_array().unwrap().iter().all(|r| r["container_id"] != id.as_str()),
            "container {id} was collected from the maps"
        );
    }
}

/// With the class breakdown the ledger bills each class of a workload: after a recorder
/// ran over the traffic (cycles a third of a second apart, each finding its rows by their
/// place in the last read) and stopped, the ledger's per-class rows of the sender and the
/// receiver are the kernel's class cells exactly, and add up to their totals.
#[test]
fn the_class_breakdown_is_billed_per_class_and_adds_up() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    let (_dir, ledger, h) = recording_with(&s, &["--breakdown", "class"]);
    let port = 26000 + (uniq() as u16 % 1000);
    let dst = format!("{}:{port}", c.host_ip);
    let rec = Recorder::start(na, &ledger, "0.3", &[]);
    let r = Peer::spawn(&h, None, &format!("tcp-recv {dst}")).ready();
    c.peer(&format!("tcp-rate {dst} 1000000 2")).finish();
    r.finish();
    wait_for_cycles(&ledger, 2);
    rec.stop();
    let kernel = crate::classes::class_cells(na, "socket");
    let conn =
        rusqlite::Connection::open_with_flags(&ledger, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    for (cg, what) in [(&c.cgroup, "sender"), (&h, "receiver")] {
        let mut q = conn
            .prepare(
                "SELECT u.class, sum(u.rx_bytes), sum(u.tx_bytes), sum(u.rx_packets), sum(u.tx_packets)
                 FROM usage u JOIN workloads w ON w.id = u.workload
                 WHERE w.path = ?1 AND u.resolution = '5m' AND u.source = 'socket' GROUP BY u.class",
            )
            .unwrap();
        let billed: std::collections::BTreeMap<String, [u64; 4]> = q
            .query_map([&cg.rel], |r| {
                Ok((r.get(0)?, [r.get::<_, i64>(1)?, r.get(2)?, r.get(3)?, r.get(4)?].map(|v| v as u64)))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let want: std::collections::BTreeMap<String, [u64; 4]> = kernel
            .iter()
            .filter(|((id, _), _)| *id == cg.id)
            .map(|((_, class), v)| (class.clone(), *v))
            .filter(|(_, v)| *v != [0; 4])
            .collect();
        assert!(want.values().map(|v| v[0] + v[1]).sum::<u64>() >= 1_000_000, "{what}: counted {want:?}");
        let totals = billed.get("").copied().unwrap_or_default();
        let classes: std::collections::BTreeMap<String, [u64; 4]> =
            billed.into_iter().filter(|(class, _)| !class.is_empty()).collect();
        assert_eq!(classes, want, "{what}: billed per class against the kernel's cells");
        let sum = classes.values().fold([0; 4], |a, b| add(a, *b));
        assert_eq!(sum, totals, "{what}: the classes add up to the totals");
        assert_eq!(totals, counted(na, cg.id), "{what}: totals against the kernel's row");
    }
}
