//! Reports over the fleet store: the same questions `report` asks of a ledger, asked in
//! ClickHouse of every node's 5-minute rows (the latest version of each: FINAL), with the
//! workloads' descriptions joined, plus grouping by node and zone.
use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde_json::Value;

use super::store::{quote, Store};
use crate::ledger::query::{self, Ask, Field, Group};

/// The ClickHouse expression of a grouping field over the joined rows.
fn expr(f: &Field) -> String {
    match f {
        Field::Name => "ifNull(name, identity)".into(),
        Field::PodNamespace => "pod_namespace".into(),
        Field::Pod => "pod_name".into(),
        Field::Kind => "kind".into(),
        Field::Runtime => "runtime".into(),
        Field::Identity => "identity".into(),
        Field::Class => "class".into(),
        Field::Label(k) => format!("nullIf(visitParamExtractString(labels, {}), '')", quote(k)),
        Field::Node => "node".into(),
        Field::Zone => "zone".into(),
    }
}

/// A unix time as ClickHouse's DateTime (which holds 1970 to 2106).
fn at(t: i64) -> String {
    format!("toDateTime({})", t.clamp(0, i64::from(u32::MAX)))
}

/// The joined rows of `ask`'s period, source and classes in `db`.
fn rows_sql(db: &str, ask: &Ask<'_>, source: &str) -> String {
    let classes = ask.by.contains(&Field::Class) || !ask.classes.is_empty();
    let mut filter = format!(
        "bucket >= {} AND bucket < {} AND source = {} AND (class != '') = {}",
        at(ask.period.since),
        at(ask.period.until),
        quote(source),
        u8::from(classes)
    );
    if !ask.classes.is_empty() {
        let list: Vec<String> = ask.classes.iter().map(|c| quote(c)).collect();
        filter.push_str(&format!(" AND class IN ({})", list.join(", ")));
    }
    // Aliased subqueries: current ClickHouse requires them in a join, 18.16 takes them.
    format!(
        "(SELECT node, zone, identity, bucket, class, rx_bytes, tx_bytes, rx_packets, tx_packets
          FROM {db}.netattr_usage FINAL WHERE {filter}) AS u
         ANY LEFT JOIN
         (SELECT node, identity, name, pod_namespace, pod_name, kind, runtime, labels
          FROM {db}.netattr_workloads FINAL) AS w
         USING (node, identity)"
    )
}

/// The source a fleet report reads by default: socket where the period has its rows, else tc.
pub fn default_source(store: &Store, since: i64, until: i64) -> Result<String> {
    let rows = store.rows(&format!(
        "SELECT source, count() AS n FROM {}.netattr_usage WHERE bucket >= {} AND bucket < {} GROUP BY source",
        store.database,
        at(since),
        at(until)
    ))?;
    let has = |s: &str| rows.iter().any(|r| r["source"] == s);
    Ok(if has("socket") || !has("tc") { "socket" } else { "tc" }.to_string())
}

/// The groups of `ask.by` over `ask.period` for `source` across the fleet, largest first;
/// with `ask.p95`, each group's 95th percentile of 5-minute rates.
pub fn groups(store: &Store, ask: Ask<'_>, source: &str, now: i64) -> Result<Vec<Group>> {
    let mut out = Vec::new();
    let grouped = !ask.by.is_empty();
    for r in store.rows(&groups_sql(&store.database, &ask, source))? {
        let n = |k: &str| r[k].as_u64().with_context(|| format!("the fleet store answered {r} (no {k})"));
        // An empty period sums to one row of zeros when nothing is grouped: no group.
        if !grouped && n("rx")? + n("tx")? + n("rxp")? + n("txp")? == 0 {
            continue;
        }
        out.push(Group {
            group: group_of(&ask, &r),
            rx_bytes: n("rx")?,
            tx_bytes: n("tx")?,
            rx_packets: n("rxp")?,
            tx_packets: n("txp")?,
            p95_bytes_per_s: None,
        });
    }
    if ask.p95 {
        add_p95(store, &ask, source, now, &mut out)?;
    }
    Ok(out)
}

/// The grouping keys of `ask` as `expr AS kN`, and their names.
fn keys(ask: &Ask<'_>) -> (Vec<String>, Vec<String>) {
    let keys = ask.by.iter().enumerate().map(|(i, f)| format!("{} AS k{i}", expr(f))).collect();
    (keys, (0..ask.by.len()).map(|i| format!("k{i}")).collect())
}

/// The totals query of `ask` over database `db`: one row per group (`k0`, `k1`, ... then
/// `rx`, `tx`, `rxp`, `txp`), largest first.
pub fn groups_sql(db: &str, ask: &Ask<'_>, source: &str) -> String {
    let (keys, names) = keys(ask);
    let (select, group_by) = if keys.is_empty() {
        (String::new(), String::new())
    } else {
        (format!("{}, ", keys.join(", ")), format!("GROUP BY {}", names.join(", ")))
    };
    format!(
        "SELECT {select}sum(rx_bytes) AS rx, sum(tx_bytes) AS tx, sum(rx_packets) AS rxp, sum(tx_packets) AS txp
         FROM {} {group_by} ORDER BY rx + tx DESC",
        rows_sql(db, ask, source)
    )
}

/// The 95th percentile's query of `ask` over database `db`: each group's bytes (rx + tx) in
/// each 5-minute bucket `b`.
pub fn p95_sql(db: &str, ask: &Ask<'_>, source: &str) -> String {
    let (keys, names) = keys(ask);
    let select = keys.iter().map(|k| format!("{k}, ")).collect::<String>();
    let group_by = names.iter().map(|k| format!("{k}, ")).collect::<String>();
    format!(
        "SELECT {select}toUnixTimestamp(bucket) AS b, sum(rx_bytes + tx_bytes) AS bytes
         FROM {} GROUP BY {group_by}b",
        rows_sql(db, ask, source)
    )
}

/// A row's group: field label -> value.
fn group_of(ask: &Ask<'_>, r: &Value) -> BTreeMap<String, Option<String>> {
    ask.by
        .iter()
        .enumerate()
        .map(|(i, f)| (f.label(), r[format!("k{i}")].as_str().map(String::from)))
        .collect()
}

/// Each group's 95th percentile of its 5-minute rates (rx + tx), idle intervals zero.
fn add_p95(store: &Store, ask: &Ask<'_>, source: &str, now: i64, out: &mut [Group]) -> Result<()> {
    let sql = p95_sql(&store.database, ask, source);
    let mut samples: BTreeMap<BTreeMap<String, Option<String>>, Vec<f64>> = BTreeMap::new();
    for r in store.rows(&sql)? {
        let bytes = r["bytes"].as_u64().unwrap_or(0);
        samples.entry(group_of(ask, &r)).or_default().push(bytes as f64 / 300.0);
    }
    let intervals = query::intervals(ask.period, now);
    for g in out {
        g.p95_bytes_per_s = Some(query::p95(samples.remove(&g.group).unwrap_or_default(), intervals));
    }
    Ok(())
}
