//! The SQL of the fleet's pair table (pairs.rs): each node's 5-minute peer rows, its rolled-up
//! days and hours, the rows read again where a reused address's holder changed inside a day
//! or an hour, who held each address, and the workloads' descriptions.
use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::store::quote;
use super::whole::{at, pairs_of, range, ranges, Spans, Whole};
use crate::ledger::query::Ask;

/// A row of the peer queries: a workload's bytes with a peer, summed over its period, or over
/// a bucket (`b`) or a day (`b`, with its `first` and `last` buckets with bytes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PeerSum {
    pub node: String,
    pub zone: String,
    pub identity: String,
    pub class: String,
    pub peer: String,
    pub b: i64,
    pub rx: u64,
    pub tx: u64,
    pub rxp: u64,
    pub txp: u64,
    pub first: i64,
    pub last: i64,
}

/// Every holder of an address from before `until`: (address, since, holder, name,
/// pod_namespace), the latest version of each range.
pub fn addresses_sql(db: &str, until: i64) -> String {
    format!(
        "SELECT address, toUnixTimestamp(since) AS since, holder, name, pod_namespace
         FROM {db}.netattr_addresses FINAL WHERE since < toDateTime({until})"
    )
}

/// `peer` of `reused` (those with more than one holder) per bucket (`b`, else 0).
fn by_bucket(reused: &[String], time: &str) -> String {
    if reused.is_empty() {
        return "0".to_string();
    }
    let list: Vec<String> = reused.iter().map(|a| quote(a)).collect();
    format!("if(peer IN ({}), toUnixTimestamp({time}), 0)", list.join(", "))
}

/// The sums a peer query selects (rx, tx, rxp, txp).
pub(super) const SUMS: &str =
    "sum(rx_bytes) AS rx, sum(tx_bytes) AS tx, sum(rx_packets) AS rxp, sum(tx_packets) AS txp";

/// The condition on `col` (and `node`) of each node's spans of `pick` (`0` for none).
fn spans_sql(spans: &[Spans], col: &str, pick: fn(&Spans) -> &[(i64, i64)]) -> String {
    let parts: Vec<String> = spans
        .iter()
        .filter(|s| !pick(s).is_empty())
        .map(|s| match &s.node {
            Some(n) => format!("(node = {} AND ({}))", quote(n), ranges(col, pick(s))),
            None => format!("({})", ranges(col, pick(s))),
        })
        .collect();
    if parts.is_empty() {
        "0".to_string()
    } else {
        parts.join(" OR ")
    }
}

/// The 5-minute peer rows for `source` of each node's `buckets` spans, summed per (node,
/// workload, class, peer), and per bucket too (`b`, else 0) for the addresses of `reused`.
pub fn peers_sql(db: &str, source: &str, reused: &[String], spans: &[Spans]) -> String {
    format!(
        "SELECT node, any(zone) AS zone, identity, class, peer, {} AS b, {SUMS}
         FROM {db}.netattr_peers FINAL WHERE source = {} AND ({})
         GROUP BY node, identity, class, peer, b",
        by_bucket(reused, "bucket"),
        quote(source),
        spans_sql(spans, "bucket", |s| &s.buckets)
    )
}

/// Rolled-up peer rows (`table`, its time `col`) for `source` where `cond`, summed like
/// `peers_sql`'s rows (per day or hour, `b`, for the addresses of `reused`), with the first
/// and last 5-minute buckets that had bytes (`first`, `last`: 0 for the others).
fn rolled_sql(db: &str, table: &str, col: &str, source: &str, reused: &[String], cond: &str) -> String {
    format!(
        "SELECT node, any(zone) AS zone, identity, class, peer, {} AS b, {SUMS},
                if(b = 0, 0, toUnixTimestamp(min(first_bucket))) AS first, if(b = 0, 0, toUnixTimestamp(max(last_bucket))) AS last
         FROM {db}.{table} FINAL WHERE source = {} AND ({cond})
         GROUP BY node, identity, class, peer, b",
        by_bucket(reused, col),
        quote(source)
    )
}

/// The rolled-up peer days of the period's days `whole` has them of (`rolled_sql`); None
/// when there is no such day.
pub fn peer_days_sql(
    db: &str,
    ask: &Ask<'_>,
    source: &str,
    reused: &[String],
    whole: &Whole,
) -> Option<String> {
    let pairs = pairs_of(&whole.peer_days)?;
    let (since, until) = (at(ask.period.since), at(ask.period.until));
    // The nodes too: the first column of the table's key (18.16 finds no rows by the pairs).
    let nodes: Vec<String> =
        whole.peer_days.iter().filter(|(_, d)| !d.is_empty()).map(|(n, _)| quote(n)).collect();
    let cond = format!(
        "node IN ({}) AND day >= {since} AND day < {until} AND (node, toUnixTimestamp(day)) IN ({pairs})",
        nodes.join(", ")
    );
    Some(rolled_sql(db, "netattr_peer_days", "day", source, reused, &cond))
}

/// The peer hours of each node's `hours` spans (`rolled_sql`); None when there is none.
pub fn peer_hours_sql(db: &str, source: &str, reused: &[String], spans: &[Spans]) -> Option<String> {
    spans.iter().any(|s| !s.hours.is_empty()).then(|| {
        let cond = spans_sql(spans, "hour", |s| &s.hours);
        rolled_sql(db, "netattr_peer_hours", "hour", source, reused, &cond)
    })
}

/// What `again_sql` reads a span's rows again from: its 5-minute rows, or (a day's) its hour
/// rows, with their first and last buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Again {
    Buckets,
    Hours,
}

/// The rows, per bucket (or hour), of the day (`span` 86,400) or hour (3,600) rows in `rows`
/// (rows of `peer_days_sql`, `peer_hours_sql`, or of this with `Again::Hours`), a statement
/// for each thousand of them, each span's rows found by the store's key (day, node, workload).
pub fn again_sql(db: &str, source: &str, rows: &[PeerSum], span: i64, from: Again) -> Vec<String> {
    let (table, col, extra) = match from {
        Again::Buckets => ("netattr_peers", "bucket", ""),
        Again::Hours => (
            "netattr_peer_hours",
            "hour",
            ", toUnixTimestamp(min(first_bucket)) AS first, toUnixTimestamp(max(last_bucket)) AS last",
        ),
    };
    rows.chunks(1000)
        .map(|chunk| {
            let mut by_span: BTreeMap<i64, [BTreeSet<String>; 2]> = BTreeMap::new();
            for r in chunk {
                let [nodes, ids] = by_span.entry(r.b).or_default();
                nodes.insert(quote(&r.node));
                ids.insert(quote(&r.identity));
            }
            let found: Vec<String> = by_span
                .iter()
                .map(|(d, [nodes, ids])| {
                    let join = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(", ");
                    format!("({} AND node IN ({}) AND identity IN ({}))", range(col, *d, d + span), join(nodes), join(ids))
                })
                .collect();
            let keys: Vec<String> = chunk
                .iter()
                .map(|r| format!("({}, {}, {}, {}, {})", quote(&r.node), quote(&r.identity), quote(&r.class), quote(&r.peer), r.b))
                .collect();
            // PREWHERE on the address (a column of the key: every version of a row has it) keeps
            // FINAL from merging the other rows it reads (1,353 ms to 183 ms on 18.16).
            let peers: BTreeSet<String> = chunk.iter().map(|r| quote(&r.peer)).collect();
            format!(
                "SELECT node, any(zone) AS zone, identity, class, peer, toUnixTimestamp({col}) AS b, {SUMS}{extra}
                 FROM {db}.{table} FINAL PREWHERE peer IN ({})
                 WHERE source = {} AND ({})
                   AND (node, identity, class, peer, toUnixTimestamp({col}) - toUnixTimestamp({col}) % {span}) IN ({})
                 GROUP BY node, identity, class, peer, b",
                peers.into_iter().collect::<Vec<_>>().join(", "),
                quote(source),
                found.join(" OR "),
                keys.join(", ")
            )
        })
        .collect()
}

/// The latest description of each of `identities` on each node.
pub fn workloads_sql(db: &str, identities: &[String]) -> String {
    let list: Vec<String> = identities.iter().map(|i| quote(i)).collect();
    format!(
        "SELECT node, identity, argMax(name, version) AS name, argMax(pod_namespace, version) AS ns,
                argMax(pod_name, version) AS pod, argMax(kind, version) AS kind, argMax(runtime, version) AS runtime,
                argMax(labels, version) AS labels
         FROM {db}.netattr_workloads WHERE identity IN ({}) GROUP BY node, identity",
        list.join(", ")
    )
}
