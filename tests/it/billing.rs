//! Billing-grade: what an operator's trial of the ledger broke, each held on the real
//! kernel and a real SQLite file.
use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::harness::*;

fn add(a: [u64; 4], b: [u64; 4]) -> [u64; 4] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]]
}

/// The ledger's rows of the workload at cgroup path `rel`, all time, one source: class (""
/// for the total) -> counters.
fn ledger_rows(ledger: &Path, rel: &str, source: &str) -> BTreeMap<String, [u64; 4]> {
    read_ledger_rows(ledger, rel, source).unwrap()
}

/// `ledger_rows`, or the error of a ledger not made yet (a recorder makes the file, then its
/// tables): for a test that waits for rows to appear.
fn read_ledger_rows(ledger: &Path, rel: &str, source: &str) -> rusqlite::Result<BTreeMap<String, [u64; 4]>> {
    let conn = rusqlite::Connection::open_with_flags(ledger, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut q = conn.prepare(
        "SELECT u.class, sum(u.rx_bytes), sum(u.tx_bytes), sum(u.rx_packets), sum(u.tx_packets)
         FROM usage u JOIN workloads w ON w.id = u.workload
         WHERE w.path = ?1 AND u.resolution = '5m' AND u.source = ?2 GROUP BY u.class",
    )?;
    let rows = q.query_map([rel, source], |r| {
        Ok((r.get(0)?, [r.get::<_, i64>(1)?, r.get(2)?, r.get(3)?, r.get(4)?].map(|v| v as u64)))
    })?;
    rows.collect()
}

/// The invariant of the ledger: for every workload and source with class rows (a load with
/// `--breakdown class` gives every counted workload some), over all its 5-minute rows, the
/// class rows add up exactly to the total rows. Returns the workloads
/// that break it, with their (class sums, totals).
pub fn class_rows_off_totals(ledger: &Path) -> Vec<(String, [i64; 4], [i64; 4])> {
    let conn =
        rusqlite::Connection::open_with_flags(ledger, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut q = conn
        .prepare(
            "SELECT w.identity || ' ' || u.source,
               sum(CASE WHEN u.class <> '' THEN u.rx_bytes END), sum(CASE WHEN u.class <> '' THEN u.tx_bytes END),
               sum(CASE WHEN u.class <> '' THEN u.rx_packets END), sum(CASE WHEN u.class <> '' THEN u.tx_packets END),
               sum(CASE WHEN u.class = '' THEN u.rx_bytes END), sum(CASE WHEN u.class = '' THEN u.tx_bytes END),
               sum(CASE WHEN u.class = '' THEN u.rx_packets END), sum(CASE WHEN u.class = '' THEN u.tx_packets END)
             FROM usage u JOIN workloads w ON w.id = u.workload WHERE u.resolution = '5m'
             GROUP BY u.workload, u.source HAVING count(CASE WHEN u.class <> '' THEN 1 END) > 0",
        )
        .unwrap();
    let rows: Vec<(String, [i64; 4], [i64; 4])> = q
        .query_map([], |r| {
            let v = |i| r.get::<_, Option<i64>>(i).map(|v| v.unwrap_or(0));
            Ok((r.get(0)?, [v(1)?, v(2)?, v(3)?, v(4)?], [v(5)?, v(6)?, v(7)?, v(8)?]))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows.into_iter().filter(|(_, classes, totals)| classes != totals).collect()
}

/// Gone workloads' class rows are collected with their cgroup's row, exactly (the class
/// hash's and the slot lanes' both), billed once, and leave the maps: before, they stayed
/// in `class_stats` for ever and every later recorder billed them again.
#[test]
fn gone_workloads_class_rows_are_collected_with_them_and_billed_once() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    let dir = TempDir::new();
    // Six classes on loopback: a cgroup's first four classes take its slot's lanes, the
    // others the class hash.
    let base = 100 + (uniq() % 20) * 6;
    let classes = dir.join("classes.toml");
    let mut text = String::from("[classes]\n");
    for k in 0..6 {
        text.push_str(&format!("lo{k} = [\"127.{}.0.0/16\"]\n", base + k));
    }
    std::fs::write(&classes, text).unwrap();
    na.run(&["load", "--breakdown", "class", "--classes", classes.to_str().unwrap()]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let ledger = dir.join("ledger.db");
    let port = 27000 + (uniq() as u16 % 1000);
    let mut gone = Vec::new();
    for i in 0..12u64 {
        let cg = s.tree.docker_like();
        for k in 0..6 {
            Peer::spawn(&cg, None, &format!("udp-send 127.{}.0.1:{port} 2 {}", base + k, 100 + i)).finish();
        }
        gone.push(cg);
    }
    // The kernel's figures while the cgroups live, then they go.
    let (totals, cells) = (rows(na, "socket"), class_cells(na, "socket"));
    for cg in &gone {
        std::fs::remove_dir(&cg.path).unwrap();
    }
    let of = |id: u64| -> BTreeMap<String, [u64; 4]> {
        cells.iter().filter(|((c, _), _)| *c == id).map(|((_, class), v)| (class.clone(), *v)).collect()
    };
    for cg in &gone {
        let mine = of(cg.id);
        assert_eq!(mine.len(), 6, "{}: six classes counted: {mine:?}", cg.rel);
        assert_eq!(
            mine.values().fold([0; 4], |a, b| add(a, *b)),
            totals[&cg.id],
            "{}: the classes add up to the row in the kernel",
            cg.rel
        );
    }
    let record = || {
        na.run(&["record", "--ledger", ledger.to_str().unwrap(), "--once", "--collect-every", "0.1"]).ok();
    };
    record();
    // Out of the maps, every class row with them: the breakdown adds up to the rows again.
    let (after, after_cells) = (rows(na, "socket"), class_cells(na, "socket"));
    for cg in &gone {
        assert!(!after.contains_key(&cg.id), "{} collected", cg.rel);
        assert!(!after_cells.keys().any(|(id, _)| *id == cg.id), "{}: its class rows collected too", cg.rel);
    }
    // Billed exactly: each class as counted, the classes adding up to the total.
    let billed_of = |cg: &Cgroup| ledger_rows(&ledger, &cg.rel, "socket");
    // What the kernel counted of a workload: its classes, and its total under "".
    let counted_of = |cg: &Cgroup| {
        let mut want = of(cg.id);
        want.insert(String::new(), totals[&cg.id]);
        want
    };
    for cg in &gone {
        assert_eq!(billed_of(cg), counted_of(cg), "{}: billed per class and in total", cg.rel);
    }
    // A second recorder bills none of it again.
    record();
    for cg in &gone {
        assert_eq!(billed_of(cg), counted_of(cg), "{}: billed once", cg.rel);
    }
    assert_eq!(class_rows_off_totals(&ledger), vec![], "class rows add up to totals in the ledger");
    // report --class picks classes' rows.
    let r = run_cmd(std::process::Command::new(BIN).args([
        "report",
        "--ledger",
        ledger.to_str().unwrap(),
        "--since",
        "0",
        "--by",
        "identity",
        "--class",
        "lo0,lo1",
        "--format",
        "json",
    ]))
    .ok()
    .json();
    let picked: u64 = r["groups"].as_array().unwrap().iter().map(|g| g["tx_bytes"].as_u64().unwrap()).sum();
    let want: u64 = gone.iter().map(|cg| of(cg.id)["lo0"][1] + of(cg.id)["lo1"][1]).sum();
    assert!(want > 0, "{want}");
    assert_eq!(picked, want, "lo0 and lo1 of the gone workloads");
    // And no counter is left of them for reap.
    let st = na.run(&["status", "--format", "json"]).ok().json();
    assert_eq!(st["gone_cgroups"], 0, "{st}");
}

/// `reap` takes a gone cgroup's class rows with its row: none is left for a recorder to
/// bill as a new anonymous workload, and `status` counts a cgroup with class rows only.
#[test]
fn reap_takes_the_class_rows_of_what_it_reaps() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    na.run(&["load", "--breakdown", "class"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let port = 28000 + (uniq() as u16 % 1000);
    let cg = s.tree.docker_like();
    Peer::spawn(&cg, None, &format!("udp-send 127.0.0.1:{port} 3 200")).finish();
    std::fs::remove_dir(&cg.path).unwrap();
    let st = na.run(&["status", "--format", "json"]).ok().json();
    assert_eq!(st["gone_cgroups"], 1, "{st}");
    let reap = na.run(&["reap", "--format", "json"]).ok();
    let rows = reap.json()["cgroups"].as_array().unwrap().clone();
    assert!(rows.iter().all(|r| r["class"].is_null()), "one row a cgroup and source: {rows:?}");
    assert!(rows.iter().any(|r| r["cgroup_id"] == cg.id), "{rows:?}");
    assert!(!class_cells(na, "socket").keys().any(|(id, _)| *id == cg.id), "class rows reaped");
    let st = na.run(&["status", "--format", "json"]).ok().json();
    assert_eq!(st["gone_cgroups"], 0, "{st}");
}

/// One instance has one ledger: a second recorder on another file (`record --once` from
/// cron, a continuous one, `serve --record`) is refused with one line and collects nothing,
/// so the gone workload is billed to the first ledger; `reap` is refused too. `--rebind`
/// moves the instance to a ledger the operator moved.
#[test]
fn a_second_ledger_is_refused_and_takes_nothing_away() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let dir = TempDir::new();
    let (main, other) = (dir.join("l.db"), dir.join("other.db"));
    let (main_s, other_s) = (main.to_str().unwrap(), other.to_str().unwrap());
    na.run(&["record", "--ledger", main_s, "--once"]).ok();
    let port = 29000 + (uniq() as u16 % 1000);
    let cg = s.tree.docker_like();
    Peer::spawn(&cg, None, &format!("udp-send 127.0.0.1:{port} 5 1000")).finish();
    std::fs::remove_dir(&cg.path).unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    for args in [
        &["record", "--ledger", other_s, "--once"][..],
        &["record", "--ledger", other_s, "--interval", "0.2", "--count", "3"],
        &["serve", "--listen", &listen, "--record", "--ledger", other_s],
    ] {
        na.run(args).fails_with(&format!(
            "is recorded into ledger {}",
            std::fs::canonicalize(&main).unwrap().display()
        ));
    }
    na.run(&["reap"]).fails_with("is recorded into ledger");
    assert!(!other.exists(), "no second ledger was made");
    // The first ledger bills the gone workload, all of it.
    na.run(&["record", "--ledger", main_s, "--once"]).ok();
    let billed = ledger_rows(&main, &cg.rel, "socket");
    assert_eq!(billed[""][1], 5 * (1000 + 28), "{billed:?}");
    // The operator moves the ledger: --rebind follows it.
    let moved = dir.join("moved.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::rename(format!("{main_s}{suffix}"), format!("{}{suffix}", moved.display()));
    }
    let moved_s = moved.to_str().unwrap();
    na.run(&["record", "--ledger", moved_s, "--once"]).fails_with("pass --rebind");
    na.run(&["record", "--ledger", moved_s, "--once", "--rebind"]).ok();
    na.run(&["record", "--ledger", moved_s, "--once"]).ok();
    assert_eq!(ledger_rows(&moved, &cg.rel, "socket"), billed, "billed once, in the moved ledger");
}

const SENT: u64 = 5 * (1000 + 28);

/// A ledger deleted under a running recorder is noticed at the next bill, written back
/// from the copy the recorder holds open, and recorded on; one replaced by another file
/// (an old backup) is written into by no one until the operator moves it aside. Nothing
/// lost, nothing billed twice: before, the recorder went on writing the deleted inode.
#[test]
fn a_deleted_or_replaced_ledger_is_noticed_and_loses_nothing() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let dir = TempDir::new();
    let ledger = dir.join("l.db");
    let l = ledger.to_str().unwrap().to_string();
    let rec = Background::record(na, &ledger, dir.join("record.log"));
    let cg = s.tree.docker_like();
    let port = 30000 + (uniq() as u16 % 1000);
    let send = || Peer::spawn(&cg, None, &format!("udp-send 127.0.0.1:{port} 5 1000")).finish();
    // 0 while there is no ledger with tables at `p` yet.
    let tx = |p: &Path| {
        read_ledger_rows(p, &cg.rel, "socket").ok().and_then(|r| r.get("").map(|v| v[1])).unwrap_or(0)
    };
    let secs = std::time::Duration::from_secs;
    send();
    wait_until("the first send billed", secs(20), || tx(&ledger) == SENT);
    for suffix in ["", "-wal", "-shm"] {
        std::fs::remove_file(format!("{l}{suffix}")).unwrap();
    }
    send();
    wait_until("the ledger written back", secs(20), || rec.said().contains("back from the copy"));
    wait_until("the second send billed in it", secs(20), || tx(&ledger) == 2 * SENT);
    assert!(rec.said().contains(&format!("ledger {l} was deleted under the recorder")), "{}", rec.said());
    // A backup now; later, put in the ledger's place while the recorder runs.
    let backup = dir.join("backup.db");
    sh(&["sqlite3", &l, &format!(".backup {}", backup.display())]);
    send();
    wait_until("the third send billed", secs(20), || tx(&ledger) == 3 * SENT);
    // Restored as an operator restores a backup: the ledger's files removed, the backup
    // put in its place.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{l}{suffix}"));
    }
    std::fs::rename(&backup, &ledger).unwrap();
    send();
    wait_until("the replacement noticed", secs(20), || {
        rec.said().contains("was replaced under the recorder")
    });
    assert_eq!(tx(&ledger), 2 * SENT, "nothing billed into the replacement");
    // Moved aside: the recorder's own copy comes back, with everything.
    std::fs::rename(&ledger, dir.join("aside.db")).unwrap();
    wait_until("the ledger written back again", secs(20), || tx(&ledger) == 4 * SENT);
    drop(rec);
    assert_eq!(tx(&ledger), 4 * SENT, "each send billed once");
    assert_eq!(class_rows_off_totals(&ledger), vec![]);
}

/// A report says which source covers which part of its period (tc counted alone, then the
/// socket programs were attached: the socket report says what only tc has), up to when the
/// ledger is complete, and waits for it with --wait; an empty period is labelled with the
/// source the ledger records; CSV has a column a grouping field and a header when empty.
#[test]
fn a_report_says_which_source_covers_what_and_up_to_when_it_is_complete() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    na.run(&["load"]).ok();
    na.run(&["attach", "--iface", &c.host_if]).ok();
    let h = s.tree.cgroup("host.slice/receiver.service");
    let dir = TempDir::new();
    let ledger = dir.join("l.db");
    let l = ledger.to_str().unwrap();
    let port = 31000 + (uniq() as u16 % 1000) * 2;
    c.send(&c.cgroup, &h, port, 200_000);
    na.run(&["record", "--once", "--ledger", l]).ok();
    // The ledger notes reads to the second: the next one in a later second.
    let unix = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let read_at = unix();
    wait_until("the next second", std::time::Duration::from_secs(3), || unix() > read_at);
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    c.send(&c.cgroup, &h, port + 1, 300_000);
    na.run(&["record", "--once", "--ledger", l]).ok();
    let report = |args: &[&str]| {
        run_cmd(
            std::process::Command::new(BIN)
                .args([&["report", "--ledger", l, "--since", "0"][..], args].concat()),
        )
    };
    let r = report(&["--by", "identity", "--format", "json"]).ok();
    let v = r.json();
    assert_eq!(v["source"], "socket");
    let sources = v["sources"].as_array().unwrap();
    assert_eq!(sources.iter().map(|s| s["source"].as_str().unwrap()).collect::<Vec<_>>(), ["socket", "tc"]);
    assert!(sources[1]["first"].as_str() < sources[0]["first"].as_str(), "tc counted first: {sources:?}");
    assert!(r.stderr.contains("source tc covers") && r.stderr.contains("pass --source tc"), "{}", r.stderr);
    assert!(v["complete_until"].is_string(), "{v}");
    let tx = |v: &Value| {
        v["groups"].as_array().unwrap().iter().map(|g| g["tx_bytes"].as_u64().unwrap()).max().unwrap_or(0)
    };
    assert!((300_000..400_000).contains(&tx(&v)), "socket: the second send only: {v}");
    let tc = report(&["--by", "identity", "--source", "tc", "--format", "json"]).ok().json();
    assert!((500_000..600_000).contains(&tx(&tc)), "tc: both sends: {tc}");
    let table = report(&["--by", "name"]).ok();
    assert!(table.stdout.contains("note: source socket covers"), "{}", table.stdout);
    assert!(table.stdout.lines().next().unwrap().contains("complete up to"), "{}", table.stdout);
    // An empty period: the source the ledger records, no coverage, a CSV header.
    let empty = report(&["--until", "1", "--by", "name", "--format", "json"]).ok().json();
    assert_eq!((empty["source"].as_str(), empty["sources"].as_array().unwrap().len()), (Some("socket"), 0));
    let csv = report(&["--until", "1", "--by", "name,label:team", "--format", "csv"]).ok().stdout;
    assert_eq!(csv, "name,label:team,rx_bytes,tx_bytes,rx_packets,tx_packets,p95_bytes_per_s\n");
    let csv = report(&["--by", "identity", "--format", "csv"]).ok().stdout;
    let identity = c.cgroup.rel.rsplit('-').next().unwrap().trim_end_matches(".scope").to_string();
    assert!(
        csv.lines().any(|line| line.starts_with("container:") && line.contains(&identity[..12])),
        "{csv}"
    );
    report(&["--until", "0"]).fails_with("the period is empty");
    // --wait: complete up to now only once a recorder's cycle has read past it.
    let read_at = unix();
    wait_until("the next second", std::time::Duration::from_secs(3), || unix() > read_at);
    report(&["--wait", "0.5"]).fails_with("is its recorder running?");
    let rec = Background::record(na, &ledger, dir.join("record.log"));
    report(&["--wait", "20"]).ok();
    drop(rec);
}

/// The class map's fill read from `status`.
fn class_map_fill(na: &Netattr) -> u64 {
    let st = na.run(&["status", "--format", "json"]).ok().json();
    let m = st["maps"].as_array().unwrap().iter().find(|m| m["name"] == "class_stats").cloned().unwrap();
    m["entries"].as_u64().unwrap()
}

/// 2,000 workloads come and go under a recorder with the class breakdown, each sending to
/// six classes (four in its slot's lanes, two in the class map): the class map's fill stays
/// flat, the kernel's class rows add up to its rows, and the ledger bills each workload's
/// classes exactly as its total, and its datagrams once.
#[test]
fn two_thousand_workloads_of_churn_leave_the_class_map_flat_and_add_up() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    let dir = TempDir::new();
    let base = 100 + (uniq() % 20) * 6;
    let classes = dir.join("classes.toml");
    let text: String = (0..6).map(|k| format!("lo{k} = [\"127.{}.0.0/16\"]\n", base + k)).collect();
    std::fs::write(&classes, format!("[classes]\n{text}")).unwrap();
    na.run(&["load", "--breakdown", "class", "--classes", classes.to_str().unwrap()]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let ledger = dir.join("l.db");
    let rec = Background::record_with(na, &ledger, dir.join("record.log"), &["--collect-every", "0.2"]);
    let port = 32000 + (uniq() as u16 % 1000);
    let to: Vec<String> = (0..6).map(|k| format!("127.{}.0.1:{port}", base + k)).collect();
    let spec = format!("udp-spray {} 100", to.join(","));
    let (mut peak, mut rels) = (0, Vec::new());
    for batch in 0..20 {
        for _ in 0..100 {
            let cg = s.tree.docker_like();
            Peer::spawn(&cg, None, &spec).finish();
            std::fs::remove_dir(&cg.path).unwrap();
            rels.push(cg.rel.clone());
        }
        if batch % 4 == 3 {
            peak = peak.max(class_map_fill(na));
        }
    }
    drop(rec); // a last cycle, which collects every gone workload
    let after = class_map_fill(na);
    eprintln!("class map fill over 2,000 churned workloads: {peak} rows at most, {after} after");
    // Two class-map rows a workload while it lives: a flat fill holds a few batches' worth.
    assert!(peak <= 2 * 400, "the class map grew with the churn: {peak} rows at most");
    assert!(after <= 2, "only the overflow rows are left: {after}");
    let sum = |m: &std::collections::BTreeMap<u64, [u64; 4]>| m.values().fold([0; 4], |a, b| add(a, *b));
    let cells = class_cells(na, "socket");
    let class_sum = cells.values().fold([0; 4], |a, b| add(a, *b));
    assert_eq!(class_sum, sum(&rows(na, "socket")), "the kernel's class rows add up to its rows");
    assert_eq!(class_rows_off_totals(&ledger), vec![], "class rows add up to totals in the ledger");
    let conn =
        rusqlite::Connection::open_with_flags(&ledger, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut q = conn
        .prepare(
            "SELECT w.path, sum(u.tx_bytes), sum(u.tx_packets) FROM usage u JOIN workloads w ON w.id = u.workload
             WHERE u.resolution = '5m' AND u.source = 'socket' AND u.class = '' GROUP BY w.path",
        )
        .unwrap();
    let billed: std::collections::BTreeMap<String, (i64, i64)> = q
        .query_map([], |r| Ok((r.get::<_, Option<String>>(0)?.unwrap_or_default(), (r.get(1)?, r.get(2)?))))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for rel in &rels {
        assert_eq!(billed.get(rel), Some(&(6 * 128, 6)), "{rel}: six datagrams of 100 B, billed once");
    }
}

/// The ledger's invariant through a reload: with a recorder running, a class-breakdown
/// instance counts, is cleaned up and loaded again (its last counters billed through its
/// open maps), the new one counts and its workloads go; every workload's class rows still
/// add up exactly to its total rows, and each send is billed once.
#[test]
fn class_rows_add_up_to_totals_through_a_reload() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    let dir = TempDir::new();
    let ledger = dir.join("l.db");
    na.run(&["load", "--breakdown", "class"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let rec = Background::record_with(na, &ledger, dir.join("record.log"), &["--collect-every", "0.2"]);
    // The recorder records the first load before it is reloaded (a busy machine may start
    // it late).
    wait_for_cycles(&ledger, 1);
    let port = 33000 + (uniq() as u16 % 1000);
    let spec = format!("udp-spray 127.0.0.1:{port},127.0.0.2:{port} 100");
    let send = |cg: &Cgroup| Peer::spawn(cg, None, &spec).finish();
    let (a, b) = (s.tree.docker_like(), s.tree.docker_like());
    send(&a);
    send(&b);
    std::fs::remove_dir(&b.path).unwrap();
    // Reloaded under the recorder.
    na.run(&["cleanup"]).ok();
    na.run(&["load", "--breakdown", "class"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    // The old instance's last counters billed, and the new one recorded.
    let instances = || -> i64 {
        let c = rusqlite::Connection::open_with_flags(&ledger, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY);
        c.and_then(|c| c.query_row("SELECT count(*) FROM instances", [], |r| r.get(0))).unwrap_or(0)
    };
    let recorded = || rec.said().contains("was replaced") && instances() == 2;
    assert!(
        poll_until(std::time::Duration::from_secs(20), std::time::Duration::from_millis(50), recorded),
        "waited 20 s for the recorder to record the new load: {} instances; it said: {}",
        instances(),
        rec.said()
    );
    send(&a);
    let c = s.tree.docker_like();
    send(&c);
    std::fs::remove_dir(&c.path).unwrap();
    drop(rec);
    assert_eq!(class_rows_off_totals(&ledger), vec![], "class rows add up to totals in the ledger");
    for (cg, sends) in [(&a, 2), (&b, 1), (&c, 1)] {
        let billed = ledger_rows(&ledger, &cg.rel, "socket");
        assert_eq!(
            billed.get("").map(|v| (v[1], v[3])),
            Some((sends * 256, sends * 2)),
            "{}: {billed:?}",
            cg.rel
        );
    }
}
