//! The ledger on the real kernel and a real SQLite file: every byte billed exactly once
//! across SIGKILLs, `cleanup` + `load`, a reboot and the collection of gone workloads;
//! reports that split a period add up to the whole.
use std::process::Command;

use crate::harness::*;
use serde_json::Value;

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
    // The flow's last packets (acks, FINs) counted before the last bill.
    settled(|| (counted(na, c.cgroup.id), counted(na, h.id)));
    once(na, &ledger, &[]);
    // The killed recorders did record (and so were killed at all points of their cycles).
    let conn = rusqlite::Connection::open(&ledger).unwrap();
    let cycles: i64 = conn.query_row("SELECT cycles FROM recorder", [], |r| r.get(0)).unwrap();
    eprintln!("{kills} kills, {cycles} cycles recorded");
    assert!(cycles > i64::from(kills), "{cycles} cycles over {kills} recorders");
    exactly_once(na, &ledger, [(&c.cgroup, "sender"), (&h, "receiver")], 12_000_000 / 2, None, kills);
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
    let env = [("NETATTR_CLOCK_SHIFT", shift.to_string())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let rec = Recorder::start_with(na, &ledger, "0.1", &env, &["--bill-batch", "1"]);
    c.send(&c.cgroup, &h, port, 300_000);
    // Past the boundary: the closed bucket's reads were billed in slices while the recorder
    // runs, in the bucket they were read in.
    wait_for_complete_until(&ledger, boundary);
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
    settled(|| (counted(na, c.cgroup.id), counted(na, h.id)));
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
    let shift = (hour - 3 - unix_now()).to_string();
    let rec = Recorder::start(na, &ledger, "0.2", &[("NETATTR_CLOCK_SHIFT", &shift)]);
    c.send(&c.cgroup, &h, port, 300_000);
    let before = counted(na, c.cgroup.id);
    wait_for_recorder_clock(&ledger, hour);
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
