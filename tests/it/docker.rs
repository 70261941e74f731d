//! Real Docker containers (Debian's docker.io; a local busybox image): names, ids and
//! bytes per container, including a `--rm` container that is gone before `stats` runs.
use serde_json::Value;

use crate::harness::*;

fn bytes(r: &Value, f: &str) -> u64 {
    r[f].as_u64().unwrap()
}

#[test]
fn docker_containers_are_named_with_their_bytes_even_after_rm() {
    let Some(s) = scene(0, false) else { return };
    if !docker() {
        return;
    }
    let na = &s.na;
    // A web server with files of known sizes, and two named clients that download them.
    let files = "mkdir -p /www && for kb in 2000 3000 5000; do dd if=/dev/zero of=/www/f$kb bs=1000 count=$kb 2>/dev/null; done";
    let server =
        DockerContainer::start("server", &format!("{files} && echo ready && httpd -f -p 80 -h /www"));
    server.wait_for_log("ready");
    let ip = server.ip();
    let parent = server.cgroup_dir().parent().unwrap().to_path_buf();
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", parent.to_str().unwrap()]).ok();

    let fetch = |kb: u64| format!("wget -q -O /dev/null http://{ip}/f{kb}");
    let a = DockerContainer::start("client-a", &format!("{} && echo done; sleep 300", fetch(3000)));
    let b = DockerContainer::start("client-b", &format!("{} && echo done; sleep 300", fetch(2000)));
    for c in [&a, &b] {
        c.wait_for_log("done");
    }
    // A --rm container: downloads 5 MB and is gone when this returns.
    let short = docker_run_rm("short", &fetch(5000));
    assert!(!sh(&["docker", "ps", "-a", "--format", "{{.Names}}"]).contains(&short));

    let st = na.run(&["stats", "--format", "json"]).ok().json();
    assert_eq!(st["source"], "socket");
    // Each cell: at least the payload, at most payload + 100 per packet + the HTTP headers,
    // plus what the server's TCP retransmitted (wire bytes, counted on both ends; on a busy
    // test machine a veth can drop a segment), read from the server's own namespace.
    let resent = retransmitted_bytes(&server);
    let within = |r: &Value, dir: &str, payload: u64| {
        let (b, p) = (bytes(r, &format!("{dir}_bytes")), bytes(r, &format!("{dir}_packets")));
        assert!(
            b >= payload && b <= payload + 100 * p + 1000 + resent,
            "{dir} {b} B / {p} pkts for {payload} B ({resent} B retransmitted by the server): {r}"
        );
    };
    for (c, kb) in [(&a, 3000u64), (&b, 2000)] {
        let r = row_where(&st, "name", c.name.as_str());
        assert_eq!(r["container_id"], c.id.as_str(), "{r}");
        assert_eq!(r["runtime"], "docker");
        assert_eq!(r["kind"], "container");
        within(r, "rx", kb * 1000);
    }
    within(row_where(&st, "name", server.name.as_str()), "tx", 10_000_000);
    let gone = row_where(&st, "name", short.as_str());
    assert_eq!(gone["gone"], true, "{gone}");
    assert_eq!(gone["container_id"].as_str().map(str::len), Some(64));
    within(gone, "rx", 5_000_000);

    // The table names them too.
    let table = na.run(&["stats"]).ok().stdout;
    assert!(table.contains(&a.name) && table.contains(&short), "{table}");
    // resolve adds Docker's labels.
    let r = na.run(&["resolve", "--format", "json"]).ok().json();
    let ra = r["cgroups"].as_array().unwrap().iter().find(|x| x["name"] == a.name.as_str()).unwrap();
    assert!(ra["labels"].is_object(), "{ra}");
}

#[test]
fn a_docker_socket_that_answers_garbage_costs_one_warning() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    // A "Docker socket" that answers nonsense, and a path with no socket at all.
    let dir = std::env::temp_dir().join(format!("netattr-test-sock-{}-{}", std::process::id(), uniq()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("docker.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut conn in listener.incoming().flatten().take(4) {
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\ngarbage");
        }
    });
    na.run(&["load"]).ok();
    na.run(&["attach", "--iface", &c.host_if]).ok();
    let h = s.tree.cgroup("host.slice/h.service");
    let r = Peer::spawn(&h, None, &format!("tcp-recv {}:7600", c.host_ip)).ready();
    c.peer(&format!("tcp-send {}:7600 100000", c.host_ip)).finish();
    r.finish();
    let out = na.run(&["stats", "--format", "json", "--docker-socket", sock.to_str().unwrap()]).ok();
    assert_eq!(out.stderr.lines().count(), 1, "one warning: {}", out.stderr);
    assert!(out.stderr.contains("no container names from"), "{}", out.stderr);
    assert!(out.json()["cgroups"].as_array().unwrap().iter().any(|r| r["cgroup_id"] == c.cgroup.id));
    let quiet = na.run(&["stats", "--docker-socket", dir.join("none.sock").to_str().unwrap()]).ok();
    assert!(quiet.stderr.is_empty(), "a missing socket is not an error: {}", quiet.stderr);
    // A socket that accepts and never answers: one warning after the bounded wait, once.
    let hang = dir.join("hang.sock");
    let l = std::os::unix::net::UnixListener::bind(&hang).unwrap();
    let held = std::thread::spawn(move || l.incoming().take(2).flatten().collect::<Vec<_>>());
    let out = na.run(&["stats", "--docker-socket", hang.to_str().unwrap()]).ok();
    assert!(out.stderr.contains("no complete reply within 3 s"), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    drop(held);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Bytes a container's TCP retransmitted, at most: its RetransSegs (from /proc/net/snmp of
/// its network namespace) times a full Ethernet frame's payload.
fn retransmitted_bytes(c: &DockerContainer) -> u64 {
    let snmp = sh(&["docker", "exec", &c.name, "cat", "/proc/net/snmp"]);
    let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
    let (names, values) = (tcp.next().unwrap_or_default(), tcp.next().unwrap_or_default());
    let at =
        names.split_whitespace().position(|n| n == "RetransSegs").expect("RetransSegs in /proc/net/snmp");
    values.split_whitespace().nth(at).and_then(|v| v.parse::<u64>().ok()).expect("a RetransSegs value") * 1500
}

/// `events` keeps naming containers that start after its first lookups (its Docker names
/// refresh on a miss), and says which source each record comes from.
#[test]
fn events_name_containers_that_start_after_the_first_lookup() {
    let Some(s) = scene(0, false) else { return };
    if !docker() {
        return;
    }
    let na = &s.na;
    let server = DockerContainer::start("ev-server", "echo ready && httpd -f -p 80 -h /");
    server.wait_for_log("ready");
    let ip = server.ip();
    let parent = server.cgroup_dir().parent().unwrap().to_path_buf();
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", parent.to_str().unwrap()]).ok();
    let mut events = na
        .cmd(&["events", "--format", "ndjson"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(events.stdout.take().unwrap());
    let mut named = |c: &DockerContainer| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut line = String::new();
        while std::time::Instant::now() < deadline {
            line.clear();
            if std::io::BufRead::read_line(&mut lines, &mut line).unwrap_or(0) == 0 {
                break;
            }
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["container_id"] == c.id.as_str() {
                assert_eq!(v["name"], c.name.as_str(), "{v}");
                assert_eq!(v["source"], "socket", "{v}");
                return;
            }
        }
        panic!("no event for {}", c.name);
    };
    let fetch = format!("wget -q -O /dev/null http://{ip}/ ; echo done; sleep 300");
    let first = DockerContainer::start("ev-first", &fetch);
    first.wait_for_log("done");
    named(&first);
    // Started after the events stream looked its first names up (and, for the third, after
    // Docker's history was read for the second).
    for role in ["ev-second", "ev-third"] {
        let later = DockerContainer::start(role, &fetch);
        later.wait_for_log("done");
        named(&later);
    }
    let _ = events.kill();
    let _ = events.wait();
}

/// The cgroup parent a test gives `docker run --cgroup-parent`: removed from every cgroup
/// hierarchy Docker made it in when dropped (after the containers under it).
struct CgroupParent(String);

impl Drop for CgroupParent {
    fn drop(&mut self) {
        for root in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
            let _ = std::fs::remove_dir(root.path().join(&self.0));
        }
        let _ = std::fs::remove_dir(cgroup2().join(&self.0));
    }
}

/// A container under a cgroup parent of the operator's (`--cgroup-parent`, the cgroupfs
/// driver: `/<parent>/<id>`) is named from Docker, which knows the id: before, it was an
/// anonymous path.
#[test]
fn docker_containers_under_a_cgroup_parent_are_named() {
    let Some(s) = scene(0, false) else { return };
    if !docker() {
        return;
    }
    let na = &s.na;
    let parent = CgroupParent(format!("netattr-test-{}-{}-parent", std::process::id(), uniq()));
    let c = DockerContainer::start_with(
        "parented",
        &["--cgroup-parent", &format!("/{}", parent.0)],
        "echo ready; sleep 60",
    );
    c.wait_for_log("ready");
    let dir = c.cgroup_dir();
    assert!(dir.ends_with(format!("{}/{}", parent.0, c.id)), "{}", dir.display());
    na.run(&["load"]).ok();
    let id = std::fs::metadata(&dir).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).unwrap();
    let r = na.run(&["resolve", "--format", "json", &id.to_string()]).ok().json();
    let row = &r["cgroups"][0];
    assert_eq!(
        (row["kind"].as_str(), row["runtime"].as_str(), row["name"].as_str()),
        (Some("container"), Some("docker"), Some(c.name.as_str())),
        "{row}"
    );
    assert_eq!(row["container_id"], c.id.as_str());
}
