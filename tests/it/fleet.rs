//! The fleet store on a real ClickHouse server (Debian's 18.16, started by the test on ports
//! of its own): three nodes (netattr instances in their own pin directories, real traffic
//! from their own cgroups, their own ledgers) export to one database, and the fleet report
//! equals the sum of the node reports to the byte and packet, for the whole test and for a
//! period that splits it.
use std::collections::BTreeMap;

use serde_json::Value;

use crate::harness::*;

#[test]
fn three_nodes_export_to_one_store_and_the_fleet_report_is_their_sum() {
    let Some(a) = Node::new("a") else { return };
    let (Some(b), Some(c)) = (Node::new("b"), Node::new("c")) else { return };
    let Some(ch) = ClickHouse::start() else { return };
    let url = ch.url("fleet");
    // Two 5-minute buckets in the future, the recorders' clocks set in them.
    let b1 = (unix_now() / 300 + 10) * 300;
    let nodes = [&a, &b, &c];
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

/// A query's rows with numbers as numbers (ClickHouse may quote 64-bit integers), in a
/// stable order.
fn normalized(rows: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = rows
        .iter()
        .map(|r| {
            let obj: BTreeMap<String, Value> = r
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    let v = match v.as_str().and_then(|s| s.parse::<u64>().ok()) {
                        Some(n) => Value::from(n),
                        None => v.clone(),
                    };
                    (k.clone(), v)
                })
                .collect();
            serde_json::to_string(&obj).unwrap()
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_fleet_sql_gives_the_same_rows_on_clickhouse_18_and_a_current_engine() {
    use netattr::fleet::{query, schema};
    use netattr::ledger::query::{Ask, Field, Period};
    if !privileged() {
        return;
    }
    let chdb = std::process::Command::new("python3").args(["-c", "import chdb"]).output();
    if !chdb.is_ok_and(|o| o.status.success()) {
        skip("no chdb (python3 -m pip install chdb)", "chdb missing (.ci/run installs it)");
        return;
    }
    let Some(ch) = ClickHouse::start() else { return };
    let ddl = schema::ddl("fleet");
    // Two nodes in two zones; a row billed twice (the later version wins); a workload without
    // a name; labels; a class row; a tc row; a row outside the period.
    let t = 1_796_600_000 / 300 * 300;
    let usage = [
        ("a", "z1", "container:web", t, "socket", "", [100, 200, 1, 2], 1),
        ("a", "z1", "container:web", t, "socket", "", [150, 250, 2, 3], 2),
        ("a", "z1", "container:web", t + 300, "socket", "", [10, 20, 1, 1], 3),
        ("a", "z1", "container:web", t, "socket", "internet", [50, 60, 1, 1], 2),
        ("a", "z1", "unit:cron.service", t, "socket", "", [7, 8, 1, 1], 2),
        ("b", "z2", "container:web", t, "socket", "", [1000, 2000, 10, 20], 5),
        ("b", "z2", "pod:p1", t + 600, "socket", "", [30, 40, 3, 4], 6),
        ("b", "z2", "pod:p1", t + 600, "tc", "", [31, 41, 3, 4], 6),
        ("b", "z2", "pod:p1", t + 9000, "socket", "", [99, 99, 9, 9], 7),
    ];
    let usage_rows: Vec<String> = usage
        .iter()
        .map(|(node, zone, id, b, src, class, [rx, tx, rp, tp], v)| {
            serde_json::json!({"node": node, "zone": zone, "identity": id, "bucket": b, "source": src, "class": class,
                "rx_bytes": rx, "tx_bytes": tx, "rx_packets": rp, "tx_packets": tp, "version": v})
            .to_string()
        })
        .collect();
    let workloads = [
        serde_json::json!({"node": "a", "identity": "container:web", "kind": "container", "runtime": "docker", "name": "web",
            "pod_namespace": null, "pod_name": null, "container_id": "web", "pod_uid": null, "path": "/docker/web",
            "labels": "{\"team\":\"shop\"}", "first_seen": t, "last_seen": t, "version": 1}),
        serde_json::json!({"node": "a", "identity": "unit:cron.service", "kind": "service", "runtime": null, "name": null,
            "pod_namespace": null, "pod_name": null, "container_id": null, "pod_uid": null, "path": "/system.slice/cron.service",
            "labels": "{}", "first_seen": t, "last_seen": t, "version": 2}),
        serde_json::json!({"node": "b", "identity": "container:web", "kind": "container", "runtime": "docker", "name": "web",
            "pod_namespace": null, "pod_name": null, "container_id": "web", "pod_uid": null, "path": "/docker/web",
            "labels": "{\"team\":\"blog\"}", "first_seen": t, "last_seen": t, "version": 5}),
        serde_json::json!({"node": "b", "identity": "pod:p1", "kind": "pod", "runtime": "containerd", "name": "api",
            "pod_namespace": "shop", "pod_name": "api-1", "container_id": null, "pod_uid": "p1", "path": "/kubepods/p1",
            "labels": "{\"team\":\"shop\"}", "first_seen": t, "last_seen": t, "version": 6}),
    ];
    let workload_rows: Vec<String> = workloads.iter().map(|w| w.to_string()).collect();
    // A day node a has whole in the store: its rows (a later version over an earlier one,
    // a class row) and 288 five-minute figures; a 5-minute row inside it (left to the day's
    // row) and node b's 5-minute rows of the same day.
    let day = t - t % 86_400 + 2 * 86_400;
    let mut series = vec![0u64; 288];
    series[3] = 700;
    series[10] = 400;
    let days = [
        ("a", "container:web", "", [500, 600, 5, 6], series.clone(), 9),
        ("a", "container:web", "", [1, 1, 1, 1], vec![2; 288], 8),
        ("a", "container:web", "internet", [50, 50, 1, 1], vec![0; 288], 9),
    ];
    let day_rows: Vec<String> = days
        .iter()
        .map(|(node, id, class, [rx, tx, rp, tp], series, v)| {
            serde_json::json!({"node": node, "zone": "z1", "identity": id, "day": day, "source": "socket", "class": class,
                "rx_bytes": rx, "tx_bytes": tx, "rx_packets": rp, "tx_packets": tp, "series": series, "version": v})
            .to_string()
        })
        .collect();
    let whole_rows = [serde_json::json!({"node": "a", "day": day, "whole": 1, "version": 9}).to_string()];
    let in_day = [
        ("a", "z1", "container:web", day + 600, [1, 1, 1, 1], 9),
        ("b", "z2", "pod:p1", day + 300, [5, 6, 1, 1], 9),
    ];
    let usage_rows: Vec<String> = usage_rows
        .into_iter()
        .chain(in_day.iter().map(|(node, zone, id, b, [rx, tx, rp, tp], v)| {
            serde_json::json!({"node": node, "zone": zone, "identity": id, "bucket": b, "source": "socket", "class": "",
                "rx_bytes": rx, "tx_bytes": tx, "rx_packets": rp, "tx_packets": tp, "version": v})
            .to_string()
        }))
        .collect();
    let mut whole = query::Whole::default();
    whole.days.insert("a".into(), vec![day]);
    whole.days.insert("b".into(), vec![]);
    let none = query::Whole::default();
    let period = Period { since: t, until: t + 3600 };
    let bys: Vec<Vec<Field>> = vec![
        vec![],
        vec![Field::Name],
        vec![Field::PodNamespace, Field::Pod],
        vec![Field::Kind, Field::Runtime],
        vec![Field::Identity],
        vec![Field::Class],
        vec![Field::Label("team".into())],
        vec![Field::Node, Field::Zone],
    ];
    let internet = ["internet".to_string()];
    let mut queries = Vec::new();
    for by in &bys {
        let ask = Ask { period, by, classes: &[], p95: false };
        queries.push(query::groups_sql("fleet", &ask, "socket", &none));
        queries.extend(query::p95_sql("fleet", &ask, "socket", &none));
    }
    let ask = Ask { period, by: &bys[1], classes: &internet, p95: false };
    queries.push(query::groups_sql("fleet", &ask, "socket", &none));
    queries.push(query::groups_sql(
        "fleet",
        &Ask { period, by: &bys[7], classes: &[], p95: false },
        "tc",
        &none,
    ));
    // The period around the whole day: its rows from the day's, the rest from 5-minute rows.
    let around = Period { since: day - 3600, until: day + 86_400 + 3600 };
    let first_whole = queries.len();
    for by in [&bys[0], &bys[7], &bys[5]] {
        let ask = Ask { period: around, by, classes: &[], p95: false };
        queries.push(query::groups_sql("fleet", &ask, "socket", &whole));
        queries.extend(query::p95_sql("fleet", &ask, "socket", &whole));
    }
    // Debian's 18.16.
    let mut on_18 = Vec::new();
    for sql in &ddl {
        ch.query(sql);
    }
    ch.query(&format!("INSERT INTO fleet.netattr_usage FORMAT JSONEachRow\n{}", usage_rows.join("\n")));
    ch.query(&format!(
        "INSERT INTO fleet.netattr_workloads FORMAT JSONEachRow\n{}",
        workload_rows.join("\n")
    ));
    ch.query(&format!("INSERT INTO fleet.netattr_days FORMAT JSONEachRow\n{}", day_rows.join("\n")));
    ch.query(&format!("INSERT INTO fleet.netattr_days_whole FORMAT JSONEachRow\n{}", whole_rows.join("\n")));
    for sql in &queries {
        // 64-bit integers as numbers, as netattr asks (arrays of them are quoted otherwise).
        let path = "/?output_format_json_quote_64bit_integers=0";
        let (code, text) =
            http_request("127.0.0.1", ch.http_port, "POST", path, &format!("{sql} FORMAT JSONEachRow"));
        assert_eq!(code, 200, "{sql}: {text}");
        let rows: Vec<Value> =
            text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
        on_18.push(rows);
    }
    // A current engine, in-process.
    let dir = TempDir::new();
    let spec = dir.join("spec.json");
    let inserts = [
        ("fleet.netattr_usage", usage_rows.join("\n")),
        ("fleet.netattr_workloads", workload_rows.join("\n")),
        ("fleet.netattr_days", day_rows.join("\n")),
        ("fleet.netattr_days_whole", whole_rows.join("\n")),
    ];
    std::fs::write(
        &spec,
        serde_json::json!({"ddl": ddl, "inserts": inserts, "queries": queries}).to_string(),
    )
    .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/fleet-sql-check.py");
    let out = std::process::Command::new("python3").arg(script).arg(&spec).output().unwrap();
    assert!(out.status.success(), "chdb: {}", String::from_utf8_lossy(&out.stderr));
    let current: Vec<Vec<Value>> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(current.len(), queries.len());
    for (i, sql) in queries.iter().enumerate() {
        assert_eq!(
            normalized(&current[i]),
            normalized(&on_18[i]),
            "18.16 and a current engine differ on {sql}"
        );
    }
    // And the figures are the ones meant: the later version of a row, the period's rows only.
    let all = normalized(&on_18[0]);
    let want = serde_json::json!({"rx": 150 + 10 + 7 + 1000 + 30, "rxp": 2 + 1 + 1 + 10 + 3, "tx": 250 + 20 + 8 + 2000 + 40, "txp": 3 + 1 + 1 + 20 + 4});
    assert_eq!(all, normalized(&[want]));
    let by_label = normalized(&on_18[12]);
    assert_eq!(by_label.len(), 3, "shop, blog and no team: {by_label:?}");
    // Around the whole day: node a's day from its latest day row (not the 5-minute row in
    // it), node b's 5-minute row; a's p95 figures from the day's series.
    let around_all = normalized(&on_18[first_whole]);
    let want = serde_json::json!({"rx": 500 + 5, "rxp": 5 + 1, "tx": 600 + 6, "txp": 6 + 1});
    assert_eq!(around_all, normalized(&[want]));
    let day_p95 = &on_18[first_whole + 2];
    assert!(day_p95.iter().any(|r| r["series"][3] == 700 && r["series"][10] == 400), "{day_p95:?}");
    // An answer over 10 MB (a month's p95 rows of many groups) is read whole.
    let url = format!("clickhouse://127.0.0.1:{}/default", ch.http_port);
    let store = netattr::fleet::store::Store::new(&url, None, std::time::Duration::from_secs(60)).unwrap();
    let big = store
        .rows("SELECT number, concat('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', toString(number)) AS s FROM system.numbers LIMIT 300000")
        .unwrap();
    assert_eq!(big.len(), 300_000);
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
