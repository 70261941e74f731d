//! The recorder in operation: bad ledger files refused and left as they were, a full or
//! read-only filesystem, `serve --record`, short-lived containers and the class breakdown
//! billed exactly.
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::*;

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
    let kernel = class_cells(na, "socket");
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
