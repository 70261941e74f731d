//! The fleet store's SQL on two engines: the DDL and every query netattr sends (totals and
//! 95th percentiles, every grouping, whole days and 5-minute rows) run on Debian's ClickHouse
//! 18.16 (a server of the test's own) and on a current engine in-process (chdb), with the
//! same rows, and give the same answers, which are the figures meant.
use std::collections::BTreeMap;

use serde_json::Value;

use crate::harness::*;

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
    use netattr::fleet::pair_sql::Again;
    use netattr::fleet::whole::Spans;
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
    let whole_rows = [serde_json::json!({"node": "a", "day": day, "whole": 3, "version": 9}).to_string()];
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
    let mut whole = netattr::fleet::whole::Whole::default();
    whole.days.insert("a".into(), vec![day]);
    whole.days.insert("b".into(), vec![]);
    let none = netattr::fleet::whole::Whole::default();
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
        let ask = Ask { period, by, classes: &[], p95: false, reallocate: &[] };
        queries.push(query::groups_sql("fleet", &ask, "socket", &none));
        queries.extend(query::p95_sql("fleet", &ask, "socket", &none));
    }
    let ask = Ask { period, by: &bys[1], classes: &internet, p95: false, reallocate: &[] };
    queries.push(query::groups_sql("fleet", &ask, "socket", &none));
    queries.push(query::groups_sql(
        "fleet",
        &Ask { period, by: &bys[7], classes: &[], p95: false, reallocate: &[] },
        "tc",
        &none,
    ));
    // The period around the whole day: its rows from the day's, the rest from 5-minute rows.
    let around = Period { since: day - 3600, until: day + 86_400 + 3600 };
    let first_whole = queries.len();
    for by in [&bys[0], &bys[7], &bys[5]] {
        let ask = Ask { period: around, by, classes: &[], p95: false, reallocate: &[] };
        queries.push(query::groups_sql("fleet", &ask, "socket", &whole));
        queries.extend(query::p95_sql("fleet", &ask, "socket", &whole));
    }
    // Who talks to whom: a peer row billed twice (the later version wins), a reused address
    // (two holders), the pair queries.
    let peer_rows: Vec<String> = [
        ("a", "container:web", t, "private", "10.0.0.2", [5, 900, 1, 9], 1),
        ("a", "container:web", t, "private", "10.0.0.2", [6, 1000, 1, 10], 2),
        ("a", "container:web", t + 600, "private", "10.0.0.2", [1, 70, 1, 1], 3),
        ("b", "pod:p1", t, "private", "10.0.0.1", [1000, 6, 10, 1], 4),
        ("b", "pod:p1", t + 300, "internet", "", [0, 40, 0, 1], 4),
    ]
    .iter()
    .map(|(node, id, b, class, peer, [rx, tx, rp, tp], v)| {
        serde_json::json!({"node": node, "zone": "z", "identity": id, "bucket": b, "source": "socket", "class": class,
            "peer": peer, "rx_bytes": rx, "tx_bytes": tx, "rx_packets": rp, "tx_packets": tp, "version": v})
        .to_string()
    })
    .collect();
    // Node a's whole day of peer rows (its 5-minute row in the day not read), rolled up twice
    // (the later version wins); node b's 5-minute row in the same day.
    let peer_day_rows: Vec<String> = [
        ("10.0.0.9", [10, 20, 1, 2], day + 300, day + 900, 1),
        ("10.0.0.9", [11, 21, 1, 2], day + 300, day + 1200, 2),
        ("10.0.0.2", [3, 4, 1, 1], day + 600, day + 600, 2),
    ]
    .iter()
    .map(|(peer, [rx, tx, rp, tp], first, last, v)| {
        serde_json::json!({"node": "a", "zone": "z", "identity": "container:web", "day": day, "source": "socket",
            "class": "private", "peer": peer, "rx_bytes": rx, "tx_bytes": tx, "rx_packets": rp, "tx_packets": tp,
            "first_bucket": first, "last_bucket": last, "version": v})
        .to_string()
    })
    .collect();
    let peer_rows: Vec<String> = peer_rows
        .into_iter()
        .chain([("a", "10.0.0.9", [99, 99, 9, 9]), ("b", "10.0.0.1", [7, 8, 1, 1]), ("a", "10.0.0.2", [3, 4, 1, 1])].iter().map(
            |(node, peer, [rx, tx, rp, tp])| {
                let id = if *node == "a" { "container:web" } else { "pod:p1" };
                serde_json::json!({"node": node, "zone": "z", "identity": id, "bucket": day + 600, "source": "socket",
                    "class": "private", "peer": peer, "rx_bytes": rx, "tx_bytes": tx, "rx_packets": rp,
                    "tx_packets": tp, "version": 5})
                .to_string()
            },
        ))
        .collect();
    let address_rows: Vec<String> = [
        ("b", "10.0.0.2", t - 60, "pod:p1", Some("api"), 1),
        ("b", "10.0.0.2", t + 500, "pod:p2", None, 2),
        ("a", "10.0.0.1", t - 60, "container:web", Some("web"), 3),
    ]
    .iter()
    .map(|(node, a, since, holder, name, v)| {
        serde_json::json!({"node": node, "address": a, "since": since, "until": since + 60, "holder": holder,
            "name": name, "pod_namespace": null, "version": v})
        .to_string()
    })
    .collect();
    let first_pairs = queries.len();
    queries.push(netattr::fleet::pair_sql::addresses_sql("fleet", t + 3600));
    let ask = Ask { period, by: &bys[1], classes: &[], p95: false, reallocate: &[] };
    let reused = ["10.0.0.2".to_string()];
    let spans = none.peer_spans(ask.period.since, ask.period.until);
    queries.push(netattr::fleet::pair_sql::peers_sql("fleet", "socket", &reused, &spans));
    let (a, b) = (Some("a".to_string()), Some("b".to_string()));
    let both: Vec<Spans> = [&a, &b]
        .iter()
        .map(|n| Spans { node: (*n).clone(), hours: vec![], buckets: vec![(period.since, period.until)] })
        .collect();
    queries.push(netattr::fleet::pair_sql::peers_sql("fleet", "socket", &[], &both));
    queries
        .push(netattr::fleet::pair_sql::workloads_sql("fleet", &["container:web".into(), "pod:p1".into()]));
    // Around the whole day: node a's peer rows of it from its day rows, b's from 5-minute rows.
    let mut whole_peers = netattr::fleet::whole::Whole::default();
    whole_peers.peer_days.insert("a".into(), vec![day]);
    whole_peers.peer_days.insert("b".into(), vec![]);
    let ask = Ask { period: around, by: &bys[1], classes: &[], p95: false, reallocate: &[] };
    let spans = whole_peers.peer_spans(around.since, around.until);
    queries.push(netattr::fleet::pair_sql::peers_sql("fleet", "socket", &reused, &spans));
    queries.push(
        netattr::fleet::pair_sql::peer_days_sql("fleet", &ask, "socket", &reused, &whole_peers).unwrap(),
    );
    // A row of 10.0.0.2 (private) of `node`'s `id` to read again, its span starting at `b`.
    let again_row = |node: &str, id: &str, b: i64| {
        [netattr::fleet::pair_sql::PeerSum {
            node: node.into(),
            identity: id.into(),
            class: "private".into(),
            peer: "10.0.0.2".into(),
            b,
            ..Default::default()
        }]
    };
    let again = again_row("a", "container:web", day);
    queries.extend(netattr::fleet::pair_sql::again_sql("fleet", "socket", &again, 86_400, Again::Buckets));
    // The hour rows: node a's hour of t summed by the store from its 5-minute rows (what the
    // export inserts), node b's hour rows read for its whole hours, a reused address's hour
    // read again from its 5-minute rows.
    let h0 = t / 3600 * 3600;
    let first_hours = queries.len();
    queries.push(netattr::fleet::hours::hour_rows_sql("fleet", "a", &[(h0, h0 + 3600)]));
    let hour_spans = [
        Spans { node: a.clone(), hours: vec![], buckets: vec![(h0, h0 + 3600)] },
        Spans { node: b.clone(), hours: vec![(h0, h0 + 7200)], buckets: vec![] },
    ];
    queries.push(netattr::fleet::pair_sql::peer_hours_sql("fleet", "socket", &reused, &hour_spans).unwrap());
    queries.push(netattr::fleet::pair_sql::peers_sql("fleet", "socket", &reused, &hour_spans));
    let again_hour = again_row("a", "container:web", h0);
    queries.extend(netattr::fleet::pair_sql::again_sql("fleet", "socket", &again_hour, 3600, Again::Buckets));
    // A day of node b's (that of h0 + 1h, midnight) read again from its hour rows.
    let again_day = again_row("b", "pod:p1", (h0 + 3600) / 86_400 * 86_400);
    queries.extend(netattr::fleet::pair_sql::again_sql("fleet", "socket", &again_day, 86_400, Again::Hours));
    let peer_hour_rows: Vec<String> = [
        ("10.0.0.1", h0, [1000, 6, 10, 1], t, t, 4),
        ("10.0.0.1", h0, [999, 5, 9, 1], t, t, 3),
        ("10.0.0.2", h0 + 3600, [8, 9, 1, 1], h0 + 3900, h0 + 4200, 5),
        ("10.0.0.3", h0 + 7200, [1, 1, 1, 1], h0 + 7200, h0 + 7200, 5),
    ]
    .iter()
    .map(|(peer, hour, [rx, tx, rp, tp], first, last, v)| {
        serde_json::json!({"node": "b", "zone": "z", "identity": "pod:p1", "hour": hour, "source": "socket",
            "class": "private", "peer": peer, "rx_bytes": rx, "tx_bytes": tx, "rx_packets": rp, "tx_packets": tp,
            "first_bucket": first, "last_bucket": last, "version": v})
        .to_string()
    })
    .collect();
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
    ch.query(&format!("INSERT INTO fleet.netattr_peers FORMAT JSONEachRow\n{}", peer_rows.join("\n")));
    ch.query(&format!("INSERT INTO fleet.netattr_addresses FORMAT JSONEachRow\n{}", address_rows.join("\n")));
    ch.query(&format!(
        "INSERT INTO fleet.netattr_peer_days FORMAT JSONEachRow\n{}",
        peer_day_rows.join("\n")
    ));
    ch.query(&format!(
        "INSERT INTO fleet.netattr_peer_hours FORMAT JSONEachRow\n{}",
        peer_hour_rows.join("\n")
    ));
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
        ("fleet.netattr_peers", peer_rows.join("\n")),
        ("fleet.netattr_addresses", address_rows.join("\n")),
        ("fleet.netattr_peer_days", peer_day_rows.join("\n")),
        ("fleet.netattr_peer_hours", peer_hour_rows.join("\n")),
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
    // The pair queries: the reused address bucket by bucket, its rows' later versions.
    let by_bucket = normalized(&on_18[first_pairs + 1]);
    let want = [
        serde_json::json!({"node": "a", "zone": "z", "identity": "container:web", "class": "private", "peer": "10.0.0.2", "b": t, "rx": 6, "tx": 1000, "rxp": 1, "txp": 10}),
        serde_json::json!({"node": "a", "zone": "z", "identity": "container:web", "class": "private", "peer": "10.0.0.2", "b": t + 600, "rx": 1, "tx": 70, "rxp": 1, "txp": 1}),
        serde_json::json!({"node": "b", "zone": "z", "identity": "pod:p1", "class": "private", "peer": "10.0.0.1", "b": 0, "rx": 1000, "tx": 6, "rxp": 10, "txp": 1}),
        serde_json::json!({"node": "b", "zone": "z", "identity": "pod:p1", "class": "internet", "peer": "", "b": 0, "rx": 0, "tx": 40, "rxp": 0, "txp": 1}),
    ];
    assert_eq!(by_bucket, normalized(&want));
    assert_eq!(on_18[first_pairs].len(), 3, "every address range: {:?}", on_18[first_pairs]);
    // Around the whole day: b's 5-minute row of it, none of a's; a's from its day rows (the
    // later version), the reused address's with its first and last buckets.
    let rest = normalized(&on_18[first_pairs + 4]);
    assert!(
        rest.iter().any(|r| r.contains("\"rx\":7")) && !rest.iter().any(|r| r.contains("\"rx\":99")),
        "{rest:?}"
    );
    let days = normalized(&on_18[first_pairs + 5]);
    let want = [
        serde_json::json!({"node": "a", "zone": "z", "identity": "container:web", "class": "private", "peer": "10.0.0.9", "b": 0, "rx": 11, "tx": 21, "rxp": 1, "txp": 2, "first": 0, "last": 0}),
        serde_json::json!({"node": "a", "zone": "z", "identity": "container:web", "class": "private", "peer": "10.0.0.2", "b": day, "rx": 3, "tx": 4, "rxp": 1, "txp": 1, "first": day + 600, "last": day + 600}),
    ];
    assert_eq!(days, normalized(&want));
    let again = normalized(&on_18[first_pairs + 6]);
    let want = [
        serde_json::json!({"node": "a", "zone": "z", "identity": "container:web", "class": "private", "peer": "10.0.0.2", "b": day + 600, "rx": 3, "tx": 4, "rxp": 1, "txp": 1}),
    ];
    assert_eq!(again, normalized(&want));
    // The hour rows: node a's hour of t is its 5-minute rows' sums (the later version of the
    // row billed twice), first and last buckets, latest version.
    let pr = |node: &str, id: &str, peer: &str, b: i64, [rx, tx, rxp, txp]: [u64; 4]| {
        serde_json::json!({"node": node, "zone": "z", "identity": id, "class": "private", "peer": peer, "b": b,
            "rx": rx, "tx": tx, "rxp": rxp, "txp": txp})
    };
    let time = |t: i64| netattr::model::utc(t).replace('T', " ").replace('Z', "");
    let want = serde_json::json!({"node": "a", "z": "z", "identity": "container:web", "h": time(h0), "source": "socket",
        "class": "private", "peer": "10.0.0.2", "rx": 7, "tx": 1070, "rxp": 2, "txp": 11, "fb": time(t), "lb": time(t + 600), "v": 3});
    assert_eq!(normalized(&on_18[first_hours]), normalized(&[want]));
    // Node b's two whole hours from its hour rows (the later version; the reused address's
    // hour by hour, with its buckets; the hour after them not read), node a's from its rows.
    let mut hours_b = [
        pr("b", "pod:p1", "10.0.0.1", 0, [1000, 6, 10, 1]),
        pr("b", "pod:p1", "10.0.0.2", h0 + 3600, [8, 9, 1, 1]),
    ];
    hours_b[0]["first"] = 0.into();
    hours_b[0]["last"] = 0.into();
    hours_b[1]["first"] = (h0 + 3900).into();
    hours_b[1]["last"] = (h0 + 4200).into();
    assert_eq!(normalized(&on_18[first_hours + 1]), normalized(&hours_b));
    let rest = normalized(&on_18[first_hours + 2]);
    assert!(rest.iter().all(|r| r.contains("\"node\":\"a\"")) && rest.len() == 2, "{rest:?}");
    let again = [
        pr("a", "container:web", "10.0.0.2", t, [6, 1000, 1, 10]),
        pr("a", "container:web", "10.0.0.2", t + 600, [1, 70, 1, 1]),
    ];
    assert_eq!(normalized(&on_18[first_hours + 3]), normalized(&again));
    let mut by_hour = pr("b", "pod:p1", "10.0.0.2", h0 + 3600, [8, 9, 1, 1]);
    by_hour["first"] = (h0 + 3900).into();
    by_hour["last"] = (h0 + 4200).into();
    assert_eq!(normalized(&on_18[first_hours + 4]), normalized(&[by_hour]), "a day again from its hour rows");
    // An answer over 10 MB (a month's p95 rows of many groups) is read whole.
    let url = format!("clickhouse://127.0.0.1:{}/default", ch.http_port);
    let store = netattr::fleet::store::Store::new(&url, None, std::time::Duration::from_secs(60)).unwrap();
    let big = store
        .rows("SELECT number, concat('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', toString(number)) AS s FROM system.numbers LIMIT 300000")
        .unwrap();
    assert_eq!(big.len(), 300_000);
}
