//! Whole days in the fleet store: a node whose recorder rolled a day up (its sums and its
//! 288 five-minute figures, `series`) exports the day's rows and marks the day whole; the
//! fleet report reads that day from them and the rest of the period from the 5-minute rows.
//! Beside a node whose day is not rolled up (all from its 5-minute rows), the fleet's totals
//! and 95th percentiles equal each node's own report, to the byte, over periods of whole
//! days, ragged ends and both.
use crate::harness::*;

/// The `--p95` figures of a report by the grouping `keys`.
fn p95_of(doc: &serde_json::Value, keys: &[&str]) -> Vec<(Vec<String>, f64)> {
    let mut out: Vec<(Vec<String>, f64)> = doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let key = keys.iter().map(|k| g["group"][*k].as_str().unwrap_or("(null)").to_string()).collect();
            (key, g["p95_bytes_per_s"].as_f64().unwrap())
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn a_nodes_whole_days_come_from_their_rows_and_the_fleet_equals_the_nodes() {
    let Some(a) = Node::new("a") else { return };
    let Some(b) = Node::new("b") else { return };
    let Some(ch) = ClickHouse::start() else { return };
    let url = ch.url("fleet");
    // Day d, in the future (the recorders' clocks shifted there): both nodes bill in it.
    let d = (unix_now() / 86_400 + 3) * 86_400;
    for (i, n) in [&a, &b].into_iter().enumerate() {
        let k = i as u64 + 1;
        n.traffic("shop.slice/web.service", "shop.slice/db.service", 100_000 * k);
        n.record_at(d + 3600);
        n.traffic("blog.slice/app.service", "shop.slice/db.service", 40_000 * k);
        n.record_at(d + 5 * 3600 + 100);
    }
    // Node a exports what it has; its recorder goes on into the next day: its day d rolls
    // up, series and all, and waits in its backlog.
    a.export(&ch, &url, &["--init"]).ok();
    a.traffic("shop.slice/web.service", "blog.slice/app.service", 20_000);
    let whole = |n: &Node| -> i64 {
        let c = rusqlite::Connection::open(&n.ledger).unwrap();
        c.query_row("SELECT count(*) FROM series_days WHERE day = ?1 AND whole & 1 = 1", [d], |r| r.get(0))
            .unwrap()
    };
    for k in 0..40 {
        a.record_at(d + 86_400 + 3600 + k * 60);
        if whole(&a) == 1 {
            break;
        }
    }
    assert_eq!((whole(&a), whole(&b)), (1, 0), "a's day d rolled up, b's not");
    let days_waiting = || {
        let st =
            a.s.na.run(&["status", "--ledger", a.ledger.to_str().unwrap(), "--format", "json"]).ok().json();
        st["exports"][0]["days"].as_u64().unwrap()
    };
    assert!(days_waiting() >= 3, "a's workload days wait for the store: {}", days_waiting());
    // And serve --record says so on /metrics.
    let ledger = a.ledger.to_str().unwrap();
    let serve = Serve::start(&a.s.na, &["--record", "--ledger", ledger, "--record-interval", "3600"]);
    let (_, body) = serve.get("/metrics");
    let waiting = samples(&body, "netattr_export_backlog_days");
    assert!(waiting.len() == 1 && waiting[0].0.contains("node=\"a\"") && waiting[0].1 >= 3.0, "{waiting:?}");
    for m in
        ["netattr_export_backlog_rows", "netattr_export_backlog_age_seconds", "netattr_export_pruned_rows"]
    {
        assert_eq!(samples(&body, m).len(), 1, "{m}: {body}");
    }
    assert_eq!(serve.stop().0, 0);
    a.export(&ch, &url, &[]).ok();
    assert_eq!(days_waiting(), 0, "and are acknowledged");
    let sent = b.export(&ch, &url, &[]).ok();
    assert!(sent.stderr.contains("and 0 workload days"), "{}", sent.stderr);
    let marked = ch.query(&format!(
        "SELECT node, whole FROM fleet.netattr_days_whole FINAL WHERE day = toDateTime({d}) FORMAT TSV"
    ));
    assert_eq!(marked.trim(), "a\t3", "the store has a's day d whole, its usage and its peer rows");
    let periods =
        [(d - 3600, d + 86_400 + 7200), (d, d + 86_400), (d + 3000, d + 86_400 + 7200), (d, d + 2 * 86_400)];
    fleet_equals_nodes_over(&ch, &url, &a, &b, &periods);
    // A late bill into a's day d (its clock moved back): the day is not whole any more, in
    // the ledger and, once exported, in the store, which reads it from the 5-minute rows.
    a.traffic("blog.slice/app.service", "shop.slice/db.service", 7_000);
    a.record_at(d + 7200);
    assert_eq!(whole(&a), 0, "a's day d spoiled by the late bill");
    a.export(&ch, &url, &[]).ok();
    let marked = ch.query(&format!(
        "SELECT node, whole FROM fleet.netattr_days_whole FINAL WHERE day = toDateTime({d}) FORMAT TSV"
    ));
    assert_eq!(marked.trim(), "a\t0", "the store has a's day d not whole");
    fleet_equals_nodes_over(&ch, &url, &a, &b, &periods);
}

/// Over each period, the fleet's totals and 95th percentiles equal each node's.
fn fleet_equals_nodes_over(ch: &ClickHouse, url: &str, a: &Node, b: &Node, periods: &[(i64, i64)]) {
    for &(since, until) in periods {
        let (s, e) = (since.to_string(), until.to_string());
        let period = ["--since", s.as_str(), "--until", e.as_str()];
        fleet_equals_nodes(ch, url, &[a, b], &period);
        let fleet = fleet_report(ch, url, &[&period[..], &["--by", "node,name", "--p95"]].concat());
        for n in [a, b] {
            let mine =
                p95_of(&node_report(n, &[&period[..], &["--by", "name", "--p95"]].concat()), &["name"]);
            let theirs: Vec<(Vec<String>, f64)> = p95_of(&fleet, &["node", "name"])
                .into_iter()
                .filter(|(k, _)| k[0] == n.name)
                .map(|(k, v)| (k[1..].to_vec(), v))
                .collect();
            assert_eq!(theirs, mine, "node {}: the fleet's 95th percentiles, {period:?}", n.name);
        }
    }
}
