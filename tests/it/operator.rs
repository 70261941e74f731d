//! What a skeptical operator broke (issue 13) and the review's defects (issue 12): each test
//! here failed before its fix.
use std::os::unix::fs::FileTypeExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::*;

/// A scratch directory of this test, removed on drop.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new() -> Self {
        let d = std::env::temp_dir().join(format!("netattr-test-{}-{}-op", std::process::id(), uniq()));
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `netattr ARGS` through `sh -c`, with a redirection such as `>&-` or `>/dev/full`.
fn shell(na: &Netattr, args: &str, redirect: &str) -> Run {
    let cmd = format!("exec {BIN} --pin-dir {} {args} {redirect}", na.pin_dir.display());
    run_cmd(Command::new("sh").args(["-c", &cmd]).env_remove("NETATTR_PIN_DIR"))
}

#[test]
fn output_replaces_only_regular_files_and_follows_links() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    na.run(&["load"]).ok();
    let dir = Scratch::new();
    let dev = dir.path("null-device");
    sh(&["mknod", &dev, "c", "1", "3"]);
    let fifo = dir.path("fifo");
    sh(&["mkfifo", &fifo]);
    let sock = dir.path("socket");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let sub = dir.path("a-directory");
    std::fs::create_dir(&sub).unwrap();
    for (p, what) in
        [(&dev, "is a device"), (&fifo, "is a FIFO"), (&sock, "is a socket"), (&sub, "is a directory")]
    {
        let before = std::fs::symlink_metadata(p).unwrap().file_type();
        na.run(&["stats", "--output", p]).fails_with(what);
        let after = std::fs::symlink_metadata(p).unwrap().file_type();
        assert_eq!(before, after, "{p} was replaced");
    }
    assert!(std::fs::metadata(&dev).unwrap().file_type().is_char_device());
    // A link is followed: its target is replaced, the link stays a link.
    let target = dir.path("target.prom");
    std::fs::write(&target, "old").unwrap();
    let link = dir.path("link.prom");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    na.run(&["stats", "--format", "prometheus", "--output", &link]).ok();
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert!(std::fs::read_to_string(&target).unwrap().contains("netattr_rx_bytes_total"));
    let dangling = dir.path("dangling");
    std::os::unix::fs::symlink(dir.path("nothing-here"), &dangling).unwrap();
    na.run(&["stats", "--output", &dangling]).fails_with("a symbolic link to nothing");
}

/// Sends `bytes` at `rate` from cgroup `from` to a receiver in `to` over loopback; after
/// `move_after`, moves the sender out of `from` and removes `from`: its socket keeps it.
#[test]
fn reap_returns_exactly_what_a_gone_cgroup_still_sends() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let from = s.tree.docker_like();
    let parked = s.tree.cgroup("parked.slice/holder.service");
    let to = s.tree.cgroup("host.slice/receiver.service");
    let port = 9100 + (uniq() % 500) as u16;
    let dst = format!("127.0.0.1:{port}");
    let receiver = Peer::spawn(&to, None, &format!("tcp-recv {dst}")).ready();
    // 4 MB/s for 5 s.
    let sender = Peer::spawn(&from, None, &format!("tcp-rate {dst} 4000000 5"));
    // Moved once it is sending from its first cgroup.
    wait_until("the sender's first bytes", Duration::from_secs(10), || {
        let st = na.run(&["stats", "--source", "socket", "--no-resolve", "--format", "json"]).ok().json();
        st["cgroups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["cgroup_id"] == from.id && r["tx_bytes"].as_u64() > Some(0))
    });
    std::fs::write(parked.path.join("cgroup.procs"), sender.pid().to_string()).unwrap();
    std::fs::remove_dir(&from.path).expect("the sender's cgroup, now empty, is removed");
    let (mut bytes, mut packets, mut reaps) = (0u64, 0u64, 0);
    let mut named = 0;
    let mut collect = |na: &Netattr| {
        let r = na.run(&["reap", "--format", "json"]).ok().json();
        for row in r["cgroups"].as_array().unwrap() {
            if row["cgroup_id"] == from.id && row["source"] == "socket" {
                bytes += row["tx_bytes"].as_u64().unwrap();
                packets += row["tx_packets"].as_u64().unwrap();
                reaps += 1;
                // A row collected again after an earlier reap keeps its identity.
                if row["path"] == from.rel.as_str() && row["kind"] == "container" {
                    named += 1;
                }
            }
        }
    };
    let end = Instant::now() + Duration::from_secs(8);
    let mut sender = Some(sender);
    while Instant::now() < end {
        collect(na);
        std::thread::sleep(Duration::from_millis(500));
        if sender.as_mut().is_some_and(|_| Instant::now() > end - Duration::from_secs(2)) {
            break;
        }
    }
    let done = sender.take().unwrap().finish();
    receiver.finish();
    // The flow's last packets (acks, FINs) counted before the last reap.
    settled(|| {
        na.run(&["stats", "--source", "socket", "--no-resolve", "--format", "json"]).ok().json()["cgroups"]
            .clone()
    });
    collect(na);
    assert!(reaps >= 3, "the sender was reaped {reaps} times");
    let allowance = 100 * packets + PER_RETRANSMISSION * done.retrans;
    assert!(
        bytes >= done.bytes && bytes <= done.bytes + allowance,
        "reaped {bytes} B in {packets} packets over {reaps} reaps for {} B sent ({} retransmitted)",
        done.bytes,
        done.retrans
    );
    assert_eq!(named, reaps, "every reaped row kept its path and kind");
}

#[test]
fn reap_removes_nothing_it_could_not_print() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    na.run(&["load"]).ok();
    na.run(&["attach", "--iface", &c.host_if, "--cgroup", &s.tree.rel()]).ok();
    let h = s.tree.cgroup("host.slice/receiver.service");
    let gone = c.run_exited(&s.tree, &h, 8400 + (uniq() % 100) as u16, 50_000).id;
    let rows = |na: &Netattr| {
        let st = na.run(&["stats", "--source", "socket", "--format", "json"]).ok().json();
        st["cgroups"].as_array().unwrap().iter().find(|r| r["cgroup_id"] == gone).cloned()
    };
    let before = rows(na).expect("the gone cgroup is counted");
    // stdout closed: refused before anything is removed.
    let r = shell(na, "reap --format json", ">&-");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("stdout is closed"), "{}", r.stderr);
    assert_eq!(rows(na).as_ref(), Some(&before), "closed stdout: counters must stay");
    // A write that fails: the collected counters are put back.
    let r = shell(na, "reap --format json", ">/dev/full");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("put back"), "{}", r.stderr);
    let after = rows(na).expect("put back");
    assert_eq!(after["tx_bytes"], before["tx_bytes"]);
    assert_eq!(after["rx_bytes"], before["rx_bytes"]);
    // And a reap that can print removes them.
    let reaped = na.run(&["reap", "--format", "json"]).ok().json();
    assert!(reaped["cgroups"].as_array().unwrap().iter().any(|r| r["cgroup_id"] == gone));
    assert!(rows(na).is_none());
}

#[test]
fn a_closed_or_full_stdout_is_one_line_and_exit_1_for_every_printing_command() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    let started = Instant::now();
    let r = shell(na, "stats --interval 0.1", ">&-");
    assert!(started.elapsed() < Duration::from_secs(10), "a stream to a closed stdout ends");
    assert_eq!(r.code, 1, "not loaded yet, or stdout closed: {r:?}");
    na.run(&["load"]).ok();
    let r = shell(na, "stats --interval 0.1", ">&-");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("stdout is closed"), "{}", r.stderr);
    for args in [
        "completions bash".to_string(),
        "completions zsh".to_string(),
        "completions fish".to_string(),
        "check".to_string(),
        format!("attach --iface {}", c.host_if),
        "stats".to_string(),
        "stats --format json".to_string(),
        "stats --format prometheus".to_string(),
        "stats --interval 0.1 --count 1".to_string(),
        "status".to_string(),
        "resolve".to_string(),
        "resolve 1".to_string(),
        "reap".to_string(),
        "load --reuse".to_string(),
        format!("detach --iface {}", c.host_if),
    ] {
        for redirect in [">/dev/full", ">&-"] {
            let r = shell(na, &args, redirect);
            assert_eq!(r.code, 1, "{args} {redirect}: {r:?}");
            assert!(!r.stderr.contains("panicked"), "{args} {redirect}: {}", r.stderr);
            assert_eq!(r.stderr.trim_end().lines().count(), 1, "{args} {redirect}: {}", r.stderr);
            assert!(r.stderr.starts_with("netattr: "), "{args} {redirect}: {}", r.stderr);
        }
    }
}

#[test]
fn streams_follow_cleanup_and_a_new_load() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let dir = TempDir::new();
    let stream =
        Background::spawn(na.cmd(&["stats", "--interval", "0.2", "--format", "ndjson"]), dir.join("stats"));
    let events = Background::spawn(na.cmd(&["events", "--format", "ndjson"]), dir.join("events"));
    wait_until("a first report", Duration::from_secs(20), || !stream.printed().is_empty());
    events.wait_open();
    na.run(&["cleanup"]).ok();
    stream.wait_said("is no longer loaded");
    events.wait_said("was removed");
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    stream.wait_said("a new instance was loaded");
    events.wait_said("a new instance was loaded");
    // Traffic counted only by the new instance.
    let h = s.tree.cgroup("host.slice/receiver.service");
    let sender = s.tree.cgroup("host.slice/sender.service");
    let port = 9700 + (uniq() % 200) as u16;
    let dst = format!("{}:{port}", c.host_ip);
    let r = Peer::spawn(&h, None, &format!("tcp-recv {dst}")).ready();
    Peer::spawn(&sender, None, &format!("tcp-send {dst} 300000")).finish();
    r.finish();
    // The stream's rates add up to the bytes sent (its reports come every 0.2 s), and the
    // events name the sender.
    wait_until("the stream's rates to cover the transfer", Duration::from_secs(20), || {
        rates_of(&stream.printed(), sender.id) >= 250_000.0
    });
    wait_until("the sender's events", Duration::from_secs(20), || {
        events.printed().contains(&format!("\"cgroup_id\":{}", sender.id))
    });
    let out = stream.stop();
    let ev = events.stop();
    assert!(out.1.contains("a new instance was loaded"), "stats: {}", out.1);
    assert!(!out.0.is_empty(), "stats printed no report");
    assert!(ev.1.contains("a new instance was loaded"), "events: {}", ev.1);
    // The stream saw the sender's new bytes as rates from the new instance.
    let tx = rates_of(&out.0, sender.id);
    assert!(tx >= 250_000.0, "rates after the reload add up to {tx} B of 300,000 sent");
    assert!(
        ev.0.lines()
            .any(|l| l.contains(&format!("\"cgroup_id\":{}", sender.id))
                && l.contains("\"source\":\"socket\"")),
        "events after the reload: {}",
        ev.0
    );
}

/// The bytes a `stats --interval --format ndjson` stream's rates of cgroup `id` add up to.
fn rates_of(ndjson: &str, id: u64) -> f64 {
    ndjson
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .flat_map(|r| {
            let seconds = r["interval_s"].as_f64().unwrap_or(0.0);
            let rows = r["cgroups"].as_array().cloned().unwrap_or_default();
            rows.into_iter()
                .filter(|row| row["cgroup_id"] == id)
                .map(move |row| row["tx_bytes_per_s"].as_f64().unwrap_or(0.0) * seconds)
        })
        .sum()
}

#[test]
fn serve_says_503_on_healthz_when_scrapes_fail_and_prints_the_port_it_got() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    na.run(&["load"]).ok();
    let mut child = na
        .cmd(&["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut err, &mut line).unwrap();
    let port: u16 = line
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    assert_ne!(port, 0, "{line}");
    assert_eq!(http_get(port, "/metrics").0, 200);
    assert_eq!(http_get(port, "/healthz").0, 200);
    // A pinned map the scrape reads goes missing: scrapes fail, and so must the probe.
    std::fs::remove_file(na.pin("health")).unwrap();
    assert_eq!(http_get(port, "/metrics").0, 503);
    let (code, body) = http_get(port, "/healthz");
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("cannot serve scrapes"), "{body}");
    signal(child.id(), libc::SIGTERM);
    assert!(child.wait().unwrap().success());
}

#[test]
fn attach_keeps_a_veth_owner_found_earlier() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    na.run(&["load"]).ok();
    let port = 9500 + (uniq() % 200) as u16;
    let holder = c.peer(&format!("tcp-recv {}:{port}", c.ip)).ready();
    let first = na.run(&["attach", "--iface", &c.host_if, "--format", "json"]).ok().json();
    assert_eq!(first["hooks"][0]["owner"]["cgroup_id"], c.cgroup.id, "{first}");
    // The namespace's last process exits; attaching again keeps the owner.
    let h = s.tree.cgroup("host.slice/sender.service");
    Peer::spawn(&h, None, &format!("tcp-send {}:{port} 1000", c.ip)).finish();
    holder.finish();
    let again = na.run(&["attach", "--iface", &c.host_if, "--format", "json"]).ok().json();
    assert_eq!(again["hooks"][0]["owner"]["cgroup_id"], c.cgroup.id, "{again}");
    let status = na.run(&["status", "--format", "json"]).ok().json();
    assert_eq!(status["interfaces"][0]["owner"]["cgroup_id"], c.cgroup.id, "{status}");
}

#[test]
fn readers_need_no_ptrace_and_check_names_every_capability() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    na.run(&["load"]).ok();
    let without_ptrace = |args: &[&str]| {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--inh-caps=-sys_ptrace", "--bounding-set=-sys_ptrace", BIN])
            .args(args)
            .arg("--pin-dir")
            .arg(&na.pin_dir);
        run_cmd(&mut cmd)
    };
    for args in [&["stats"][..], &["status"], &["resolve"], &["reap"]] {
        without_ptrace(args).ok();
    }
    let r = without_ptrace(&["attach", "--cgroup"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("CAP_SYS_PTRACE"), "{}", r.stderr);
    let check = run_cmd(Command::new(BIN).args(["check", "--format", "json"])).json();
    let privileges = check["checks"].as_array().unwrap().iter().find(|c| c["name"] == "privileges").cloned();
    let detail = privileges.map(|p| p["detail"].to_string()).unwrap_or_default();
    for cap in ["CAP_BPF", "CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE"] {
        assert!(detail.contains(cap), "check's ok line lacks {cap}: {detail}");
    }
}

/// `stats --format json` writes per-cgroup reports row by row; the same report through the
/// general path (`--output`) is the same document, byte for byte.
#[test]
fn the_streamed_json_report_is_the_general_one() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    na.run(&["load"]).ok();
    na.run(&["attach", "--iface", &c.host_if, "--cgroup", &s.tree.rel()]).ok();
    let h = s.tree.cgroup("host.slice/receiver.service");
    for i in 0..3u16 {
        c.run_exited(&s.tree, &h, 8700 + (uniq() % 100) as u16 + i, 20_000 + u64::from(i));
    }
    // Frozen counters: nothing may count between the two reads compared.
    na.run(&["detach", "--all"]).ok();
    let dir = Scratch::new();
    for args in [&["stats"][..], &["stats", "--top", "1"], &["stats", "--no-resolve", "--sort", "rx"]] {
        for source in ["tc", "socket"] {
            let mut a = args.to_vec();
            a.extend(["--source", source, "--format", "json"]);
            let streamed = na.run(&a).ok().stdout;
            let file = dir.path("report.json");
            let mut b = a.clone();
            b.extend(["--output", &file]);
            na.run(&b).ok();
            assert_eq!(streamed, std::fs::read_to_string(&file).unwrap(), "{a:?}");
        }
    }
}
