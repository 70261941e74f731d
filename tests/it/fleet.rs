//! The fleet store on a real ClickHouse server (Debian's 18.16, started by the test on ports
//! of its own): three nodes (netattr instances in their own pin directories, real traffic
//! from their own cgroups and a real Docker container, their own ledgers) export to one
//! database, and the fleet report
//! equals the sum of the node reports to the byte and packet, for the whole test and for a
//! period that splits it.
use crate::harness::*;

#[test]
fn three_nodes_export_to_one_store_and_the_fleet_report_is_their_sum() {
    let Some(a) = Node::new("a") else { return };
    let (Some(b), Some(c)) = (Node::new("b"), Node::new("c")) else { return };
    let Some(ch) = ClickHouse::start() else { return };
    let url = ch.url("fleet");
    if !docker() {
        return;
    }
    // Two 5-minute buckets in the future, the recorders' clocks set in them.
    let b1 = (unix_now() / 300 + 10) * 300;
    let nodes = [&a, &b, &c];
    // A real Docker container on node a (its veth attached: the tc source), with a tenant's
    // label: it sends 200,000 bytes to a workload of the node over Docker's bridge once told to.
    let port = free_port();
    let gateway = docker_gateway();
    let gateway = gateway.as_str();
    let receiver =
        Peer::spawn(&a.s.tree.cgroup("shop.slice/db.service"), None, &format!("tcp-recv {gateway}:{port}"))
            .ready();
    let script = format!("while [ ! -e /tmp/go ]; do sleep 0.1; done; head -c 200000 /dev/zero | nc {gateway} {port}; exec sleep 600");
    let container = DockerContainer::start_with("fleet", &["--label", "team=shop"], &script);
    let iflink = sh(&["docker", "exec", &container.name, "cat", "/sys/class/net/eth0/iflink"]);
    let links = sh(&["ip", "-o", "link"]);
    let line =
        links.lines().find(|l| l.starts_with(&format!("{}: ", iflink.trim()))).expect("the container's veth");
    let veth = line.split(": ").nth(1).unwrap().split('@').next().unwrap();
    a.s.na.run(&["attach", "--iface", veth]).ok();
    sh(&["docker", "exec", &container.name, "touch", "/tmp/go"]);
    assert_eq!(receiver.finish().bytes, 200_000);
    for (i, n) in nodes.iter().enumerate() {
        let k = i as u64 + 1;
        n.traffic("shop.slice/web.service", "shop.slice/db.service", 100_000 * k);
        n.traffic("blog.slice/app.service", "shop.slice/db.service", 30_000 * k);
        n.record_at(b1 + 100);
        n.traffic("shop.slice/web.service", "blog.slice/app.service", 50_000 * k);
        n.record_at(b1 + 400);
    }
    a.export(&ch, &url, &["--init"]).ok();
    b.export(&ch, &url, &[]).ok();
    c.export(&ch, &url, &[]).ok();
    let (s, m, e) = (b1.to_string(), (b1 + 300).to_string(), (b1 + 600).to_string());
    fleet_equals_nodes(&ch, &url, &nodes, &["--since", &s, "--until", &e]);
    fleet_equals_nodes(&ch, &url, &nodes, &["--since", &s, "--until", &m]);
    fleet_equals_nodes(&ch, &url, &nodes, &["--since", &m, "--until", &e]);
    // The container (tc source, node a's only) is in both, by its Docker name and its label.
    let tc = ["--since", s.as_str(), "--until", e.as_str(), "--source", "tc"];
    fleet_equals_nodes(&ch, &url, &[&a], &tc);
    let team = [&tc[..], &["--by", "label:team"]].concat();
    let by_team = groups_of(&fleet_report(&ch, &url, &team), &["label:team"]);
    let mine = groups_of(&node_report(&a, &team), &["label:team"]);
    assert_eq!(by_team.get(&vec!["shop".to_string()]), mine.get(&vec!["shop".to_string()]), "{by_team:?}");
    assert!(
        mine.get(&vec!["shop".to_string()]).is_some_and(|c| c[1] >= 200_000),
        "the container's bytes: {mine:?}"
    );
    // A second export sends nothing again; a node's name is kept.
    let again = a.export(&ch, &url, &[]).ok();
    assert!(again.stderr.contains("0 usage rows, 0 workloads and 0 workload days"), "{}", again.stderr);
    let renamed = run_cmd(std::process::Command::new(BIN).args([
        "export",
        "--to",
        &url,
        "--ledger",
        a.ledger.to_str().unwrap(),
        "--node",
        "z",
        "--password-file",
        ch.password_file.to_str().unwrap(),
    ]));
    renamed.fails_with("as node 'a', not 'z'");
    // Grouped by node: each node's total.
    let by_node =
        groups_of(&fleet_report(&ch, &url, &["--since", &s, "--until", &e, "--by", "node"]), &["node"]);
    for n in nodes {
        let total = groups_of(&node_report(n, &["--since", &s, "--until", &e]), &[]);
        assert_eq!(by_node.get(&vec![n.name.clone()]), total.get(&vec![]), "node {}", n.name);
    }
    // A ledger knows no nodes.
    run_cmd(std::process::Command::new(BIN).args([
        "report",
        "--ledger",
        a.ledger.to_str().unwrap(),
        "--by",
        "node",
    ]))
    .fails_with("--by node groups the fleet store's rows");
}

/// The store's rows of `table`, every version (before merges), and those FINAL keeps.
fn store_rows(ch: &ClickHouse, table: &str) -> (u64, u64) {
    let n = |sql: String| ch.query(&sql).trim().parse::<u64>().unwrap();
    (n(format!("SELECT count() FROM fleet.{table}")), n(format!("SELECT count() FROM fleet.{table} FINAL")))
}

#[test]
fn an_export_survives_a_store_down_killed_replayed_or_refusing_and_counts_each_byte_once() {
    let Some(a) = Node::new("a") else { return };
    let Some(ch) = ClickHouse::start() else { return };
    let url = ch.url("fleet");
    let b1 = (unix_now() / 300 + 20) * 300;
    let (s, e) = (b1.to_string(), (b1 + 3000).to_string());
    let period = ["--since", s.as_str(), "--until", e.as_str()];
    a.traffic("shop.slice/web.service", "shop.slice/db.service", 70_000);
    a.record_at(b1 + 10);
    a.export(&ch, &url, &["--init"]).ok();
    fleet_equals_nodes(&ch, &url, &[&a], &period);

    // The store stopped: one line, exit 1, the backlog kept in the ledger and said by status;
    // a follower retries until it answers again, then drains it.
    ch.halt(libc::SIGTERM);
    a.traffic("shop.slice/web.service", "blog.slice/app.service", 40_000);
    a.record_at(b1 + 310);
    a.export(&ch, &url, &[]).fails_with("cannot reach the fleet store clickhouse://127.0.0.1");
    // status says what waits and why.
    let st = a.s.na.run(&["status", "--ledger", a.ledger.to_str().unwrap(), "--format", "json"]).ok().json();
    let export = &st["exports"][0];
    assert_eq!(export["destination"], url.replace("netattr@", ""), "{st}");
    assert!(export["rows"].as_u64().unwrap() > 0, "{st}");
    assert!(export["error"].as_str().unwrap().contains("nothing listens there"), "{st}");
    let dir = TempDir::new();
    let mut follow = std::process::Command::new(BIN);
    follow.args([
        "export",
        "--follow",
        "--interval",
        "0.2",
        "--to",
        &url,
        "--ledger",
        a.ledger.to_str().unwrap(),
    ]);
    follow.args(["--node", "a", "--password-file", ch.password_file.to_str().unwrap()]);
    let follower = Background::spawn(follow, dir.join("follow"));
    follower.wait_said("the backlog is kept in the ledger and retried");
    ch.resume();
    follower.wait_said("answers again");
    wait_until("the backlog drained", std::time::Duration::from_secs(30), || {
        groups_of(&fleet_report(&ch, &url, &period), &[]) == groups_of(&node_report(&a, &period), &[])
    });
    let (_, said) = follower.stop();
    assert_eq!(said.matches("cannot reach").count(), 1, "each failure said once: {said}");
    fleet_equals_nodes(&ch, &url, &[&a], &period);

    // Killed (SIGKILL) after the store acknowledged a batch and before the cursor moved, 20
    // times: each batch is sent again by the next export, and is one row in the store.
    for i in 0..20 {
        a.traffic("blog.slice/app.service", "shop.slice/db.service", 1000 + i);
        a.record_at(b1 + 610 + 100 * i as i64);
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(["export", "--to", &url, "--ledger", a.ledger.to_str().unwrap(), "--node", "a"]);
        cmd.args(["--password-file", ch.password_file.to_str().unwrap()]);
        cmd.env("NETATTR_TEST_STALL_BEFORE_ACK", "1");
        let stalled = Background::spawn(cmd, dir.join(&format!("stall{i}")));
        stalled.wait_said("stalling before the cursor moves");
        stalled.kill9();
    }
    a.export(&ch, &url, &[]).ok();
    let (all, kept) = store_rows(&ch, "netattr_usage");
    assert!(all > kept, "batches were sent twice ({all} rows sent, {kept} kept)");
    fleet_equals_nodes(&ch, &url, &[&a], &period);

    // A replay of everything (the cursor put back by hand): nothing doubles.
    let conn = rusqlite::Connection::open(&a.ledger).unwrap();
    conn.execute("UPDATE exports SET usage_after = 'null', workloads_after = 'null'", []).unwrap();
    drop(conn);
    a.export(&ch, &url, &[]).ok();
    fleet_equals_nodes(&ch, &url, &[&a], &period);

    // The store killed with SIGKILL, then back: what was acknowledged is there.
    ch.halt(libc::SIGKILL);
    ch.resume();
    fleet_equals_nodes(&ch, &url, &[&a], &period);

    // Refusals: one line each, exit 1, the backlog kept.
    a.traffic("shop.slice/web.service", "shop.slice/db.service", 5000);
    a.record_at(b1 + 2900);
    let pending = groups_of(&node_report(&a, &period), &[]);
    let mut wrong = export_cmd(&url, &a.ledger, "a");
    wrong.env("NETATTR_CLICKHOUSE_PASSWORD", "not-it");
    run_cmd(&mut wrong).fails_with("check the user in the URL and the password");
    let nowhere = format!("clickhouse://127.0.0.1:{}/fleet", free_port());
    run_cmd(&mut export_cmd(&nowhere, &a.ledger, "a")).fails_with("nothing listens there");
    run_cmd(std::process::Command::new(BIN).args([
        "export",
        "--to",
        "http://127.0.0.1/fleet",
        "--ledger",
        a.ledger.to_str().unwrap(),
    ]))
    .fails_with("use clickhouse://[USER@]HOST[:PORT]/DATABASE");
    run_cmd(std::process::Command::new(BIN).args([
        "export",
        "--to",
        "clickhouse://u:pw@127.0.0.1/fleet",
        "--ledger",
        a.ledger.to_str().unwrap(),
    ]))
    .fails_with("never on the command line");
    // A server that accepts and never answers: the request times out.
    let stall = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stalled_url = format!("clickhouse://127.0.0.1:{}/fleet", stall.local_addr().unwrap().port());
    run_cmd(std::process::Command::new(BIN).args([
        "export",
        "--to",
        &stalled_url,
        "--timeout",
        "1",
        "--ledger",
        a.ledger.to_str().unwrap(),
        "--node",
        "a",
    ]))
    .fails_with("did not answer in time");
    // A server that answers 500.
    let failing = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let failing_url = format!("clickhouse://127.0.0.1:{}/fleet", failing.local_addr().unwrap().port());
    let answer = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut c, _) = failing.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = c.read(&mut buf);
        let _ = c.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 13\r\nConnection: close\r\n\r\nsomething bad");
    });
    run_cmd(std::process::Command::new(BIN).args([
        "export",
        "--to",
        &failing_url,
        "--ledger",
        a.ledger.to_str().unwrap(),
        "--node",
        "a",
    ]))
    .fails_with("HTTP 500: something bad");
    answer.join().unwrap();
    // A table altered by hand: refused before anything is sent.
    ch.query("ALTER TABLE fleet.netattr_usage MODIFY COLUMN rx_bytes Int64");
    a.export(&ch, &url, &[]).fails_with("has column rx_bytes of type Int64, netattr writes UInt64");
    ch.query("ALTER TABLE fleet.netattr_usage MODIFY COLUMN rx_bytes UInt64");
    // Nothing was lost meanwhile: the backlog drains.
    a.export(&ch, &url, &[]).ok();
    assert_eq!(groups_of(&fleet_report(&ch, &url, &period), &[]), pending);
    fleet_equals_nodes(&ch, &url, &[&a], &period);
}

#[test]
fn record_exports_beside_the_recorder_and_once() {
    let Some(a) = Node::new("a") else { return };
    let Some(ch) = ClickHouse::start() else { return };
    let url = ch.url("fleet");
    a.export(&ch, &url, &["--init"]).ok();
    let pw = ch.password_file.to_str().unwrap();
    let ledger = a.ledger.to_str().unwrap();
    // record --once --export: a cycle, then everything exported.
    a.traffic("shop.slice/web.service", "shop.slice/db.service", 60_000);
    a.s.na
        .run(&[
            "record",
            "--once",
            "--ledger",
            ledger,
            "--export",
            &url,
            "--node",
            "a",
            "--export-password-file",
            pw,
        ])
        .ok();
    let all = ["--since", "0"];
    assert_eq!(groups_of(&fleet_report(&ch, &url, &all), &[]), groups_of(&node_report(&a, &all), &[]));
    // record --export: the export follows the recorder in its process.
    let dir = TempDir::new();
    let rec = Background::spawn(
        a.s.na.cmd(&[
            "record",
            "--ledger",
            ledger,
            "--interval",
            "0.2",
            "--export",
            &url,
            "--node",
            "a",
            "--export-interval",
            "0.2",
            "--export-password-file",
            pw,
        ]),
        dir.join("record"),
    );
    rec.wait_said("exporting");
    a.traffic("shop.slice/web.service", "blog.slice/app.service", 90_000);
    wait_until("the recorder's export to catch up", std::time::Duration::from_secs(30), || {
        let node = groups_of(&node_report(&a, &all), &[]);
        node.values().any(|v| v[1] >= 150_000) && groups_of(&fleet_report(&ch, &url, &all), &[]) == node
    });
    rec.stop();
    fleet_equals_nodes(&ch, &url, &[&a], &all);
}
