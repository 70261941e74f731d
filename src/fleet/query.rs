//! Reports over the fleet store: the same questions `report` asks of a ledger, asked in
//! ClickHouse, with the workloads' descriptions joined, plus grouping by node and zone. The
//! days each node has whole in the store are read from their rows (a day's sums, and its 288
//! five-minute figures for a 95th percentile), the rest of the period from the 5-minute rows
//! (the latest version of each).
use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde_json::Value;

use super::store::{quote, Store};
use super::whole::{at, Whole};
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
        // The pair table's: its own query.
        Field::Peer | Field::PeerNamespace => "NULL".into(),
    }
}

/// The filter of source and classes, over a table's `class` and `source`.
fn picked(ask: &Ask<'_>, source: &str) -> String {
    let classes = ask.by.contains(&Field::Class) || !ask.classes.is_empty();
    let mut filter = format!("source = {} AND (class != '') = {}", quote(source), u8::from(classes));
    if !ask.classes.is_empty() {
        let list: Vec<String> = ask.classes.iter().map(|c| quote(c)).collect();
        filter.push_str(&format!(" AND class IN ({})", list.join(", ")));
    }
    filter
}

/// The 5-minute rows of the period outside the whole days (the latest version of each, by
/// argMax: only the rows of the span are read, where FINAL would merge the whole table).
fn usage_part(db: &str, ask: &Ask<'_>, source: &str, whole: &Whole) -> Option<String> {
    let (since, until) = whole.rest(ask.period.since, ask.period.until)?;
    let mut filter =
        format!("bucket >= {} AND bucket < {} AND {}", at(since), at(until), picked(ask, source));
    if let Some(pairs) = whole.pairs() {
        filter.push_str(&format!(
            " AND (node, toUnixTimestamp(bucket) - toUnixTimestamp(bucket) % 86400) NOT IN ({pairs})"
        ));
    }
    Some(format!(
        "SELECT node, argMax(zone, version) AS zone, identity, bucket, class,
                argMax(rx_bytes, version) AS rx_bytes, argMax(tx_bytes, version) AS tx_bytes,
                argMax(rx_packets, version) AS rx_packets, argMax(tx_packets, version) AS tx_packets
         FROM {db}.netattr_usage WHERE {filter} GROUP BY node, identity, bucket, source, class"
    ))
}

/// The whole days' rows of the period (sums and 5-minute profiles).
fn days_part(db: &str, ask: &Ask<'_>, source: &str, whole: &Whole) -> Option<String> {
    let pairs = whole.pairs()?;
    Some(format!(
        "SELECT node, zone, identity, day, class, rx_bytes, tx_bytes, rx_packets, tx_packets, series
         FROM {db}.netattr_days FINAL
         WHERE day >= {} AND day < {} AND {} AND (node, toUnixTimestamp(day)) IN ({pairs})",
        at(ask.period.since),
        at(ask.period.until),
        picked(ask, source)
    ))
}

/// `rows` (with `node` and `identity`) joined with the workloads' descriptions. Aliased
/// subqueries: current ClickHouse requires them in a join, 18.16 takes them.
fn joined(db: &str, rows: &str) -> String {
    format!(
        "({rows}) AS u
         ANY LEFT JOIN
         (SELECT node, identity, name, pod_namespace, pod_name, kind, runtime, labels
          FROM {db}.netattr_workloads FINAL) AS w
         USING (node, identity)"
    )
}

/// The period's rows (whole days from their rows, the rest from the 5-minute rows), joined.
fn rows_sql(db: &str, ask: &Ask<'_>, source: &str, whole: &Whole) -> String {
    const COLUMNS: &str = "node, zone, identity, class, rx_bytes, tx_bytes, rx_packets, tx_packets";
    let parts: Vec<String> = [usage_part(db, ask, source, whole), days_part(db, ask, source, whole)]
        .into_iter()
        .flatten()
        .map(|p| format!("SELECT {COLUMNS} FROM ({p})"))
        .collect();
    let rows = if parts.is_empty() {
        format!("SELECT {COLUMNS} FROM {db}.netattr_usage WHERE 0")
    } else {
        parts.join(" UNION ALL ")
    };
    joined(db, &rows)
}

/// The source a fleet report reads by default: socket where the period has its rows, else tc.
pub fn default_source(store: &Store, since: i64, until: i64) -> Result<String> {
    let db = &store.database;
    let has = |src: &str| -> Result<bool> {
        for (table, time) in [("netattr_days", "day"), ("netattr_usage", "bucket")] {
            let sql = format!(
                "SELECT count() AS n FROM (SELECT 1 FROM {db}.{table} WHERE {time} >= {} AND {time} < {} AND source = {} LIMIT 1)",
                at(since.saturating_sub(86_399)),
                at(until),
                quote(src)
            );
            if store.rows(&sql)?.iter().any(|r| r["n"].as_u64().unwrap_or(0) > 0) {
                return Ok(true);
            }
        }
        Ok(false)
    };
    Ok(if has("socket")? || !has("tc")? { "socket" } else { "tc" }.to_string())
}

/// The groups of `ask.by` over `ask.period` for `source` across the fleet, largest first;
/// with `ask.p95`, each group's 95th percentile of 5-minute rates.
pub fn groups(store: &Store, ask: Ask<'_>, source: &str, now: i64) -> Result<Vec<Group>> {
    if ask.by.iter().any(Field::of_peers) || !ask.reallocate.is_empty() {
        return super::pairs::groups(store, &ask, source);
    }
    let mut out = Vec::new();
    let grouped = !ask.by.is_empty();
    let whole = Whole::read(store, ask.period.since, ask.period.until)?;
    for r in store.rows(&groups_sql(&store.database, &ask, source, &whole))? {
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
        add_p95(store, &ask, source, &whole, now, &mut out)?;
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
pub fn groups_sql(db: &str, ask: &Ask<'_>, source: &str, whole: &Whole) -> String {
    let (keys, names) = keys(ask);
    let (select, group_by) = if keys.is_empty() {
        (String::new(), String::new())
    } else {
        (format!("{}, ", keys.join(", ")), format!("GROUP BY {}", names.join(", ")))
    };
    format!(
        "SELECT {select}sum(rx_bytes) AS rx, sum(tx_bytes) AS tx, sum(rx_packets) AS rxp, sum(tx_packets) AS txp
         FROM {} {group_by} ORDER BY rx + tx DESC",
        rows_sql(db, ask, source, whole)
    )
}

/// The 95th percentile's queries of `ask` over database `db`: each group's bytes (rx + tx)
/// in each 5-minute bucket `b` outside the whole days (`bytes`), and in each whole day `b`
/// (`series`: the day's 288 buckets), either missing when the period has none of it.
pub fn p95_sql(db: &str, ask: &Ask<'_>, source: &str, whole: &Whole) -> Vec<String> {
    let (keys, names) = keys(ask);
    let select = keys.iter().map(|k| format!("{k}, ")).collect::<String>();
    let group_by = names.iter().map(|k| format!("{k}, ")).collect::<String>();
    let mut out = Vec::new();
    if let Some(rows) = usage_part(db, ask, source, whole) {
        out.push(format!(
            "SELECT {select}toUnixTimestamp(bucket) AS b, sum(rx_bytes + tx_bytes) AS bytes
             FROM {} GROUP BY {group_by}b",
            joined(db, &rows)
        ));
    }
    if let Some(rows) = days_part(db, ask, source, whole) {
        out.push(format!(
            "SELECT {select}toUnixTimestamp(day) AS b, sumForEach(series) AS series
             FROM {} GROUP BY {group_by}b",
            joined(db, &rows)
        ));
    }
    out
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
fn add_p95(
    store: &Store,
    ask: &Ask<'_>,
    source: &str,
    whole: &Whole,
    now: i64,
    out: &mut [Group],
) -> Result<()> {
    let mut samples: BTreeMap<BTreeMap<String, Option<String>>, Vec<f64>> = BTreeMap::new();
    for sql in p95_sql(&store.database, ask, source, whole) {
        for r in store.rows(&sql)? {
            let s = samples.entry(group_of(ask, &r)).or_default();
            match r["series"].as_array() {
                // A whole day's buckets; the idle ones are the zeros p95 adds.
                Some(day) => s.extend(
                    day.iter().filter_map(Value::as_u64).filter(|v| *v > 0).map(|v| v as f64 / 300.0),
                ),
                None => s.push(r["bytes"].as_u64().unwrap_or(0) as f64 / 300.0),
            }
        }
    }
    let intervals = query::intervals(ask.period, now);
    for g in out {
        g.p95_bytes_per_s = Some(query::p95(samples.remove(&g.group).unwrap_or_default(), intervals));
    }
    Ok(())
}
