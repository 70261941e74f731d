//! Which days of each node the fleet store holds whole (`netattr_days_whole`): those are read
//! from the days' rows (`netattr_days`, `netattr_peer_days`), the rest of a period from the
//! 5-minute rows (peer rows: their whole hours from the hour rows, `netattr_peer_hours`, of
//! the nodes whose export keeps them, `netattr_peer_hours_since`). Shared by the usage
//! reports (query) and the pair table (pairs).
use std::collections::BTreeMap;

use anyhow::Result;

use super::store::{quote, Store};
use crate::ledger::series::{PEERS_WHOLE, WHOLE};

/// A unix time as ClickHouse's DateTime (which holds 1970 to 2106).
pub fn at(t: i64) -> String {
    format!("toDateTime({})", t.clamp(0, i64::from(u32::MAX)))
}

/// Which days of each node the store holds whole (`netattr_days_whole`): those are read from
/// the days' rows, the rest of a period from the 5-minute rows. Every node is listed (none of
/// its days whole: all from the 5-minute rows), in both maps.
#[derive(Debug, Clone, Default)]
pub struct Whole {
    /// node -> its whole days inside the period (sorted day starts).
    pub days: BTreeMap<String, Vec<i64>>,
    /// node -> those of them whose peer rows are whole in `netattr_peer_days` too.
    pub peer_days: BTreeMap<String, Vec<i64>>,
    /// node -> the first hour from which the store has its peer rows' hours
    /// (`netattr_peer_hours`); a node not listed has none.
    pub hours: BTreeMap<String, i64>,
}

/// Where a node's peer rows of a period outside its whole days are read from: its whole hours
/// (since the store has them) from the hour rows, the rest (ragged ends, hours before) from
/// the 5-minute rows; `node` None: every node's (a store with none listed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spans {
    pub node: Option<String>,
    /// (since, until) of the hour rows: whole hours.
    pub hours: Vec<(i64, i64)>,
    /// (since, until) of the 5-minute rows.
    pub buckets: Vec<(i64, i64)>,
}

/// An hour in seconds.
pub const HOUR: i64 = 3600;

impl Whole {
    /// What the store has whole of `period`.
    pub fn read(store: &Store, since: i64, until: i64) -> Result<Whole> {
        let db = &store.database;
        let mut w = Whole::default();
        for r in store.rows(&format!("SELECT DISTINCT node FROM {db}.netattr_workloads"))? {
            let node = r["node"].as_str().unwrap_or_default().to_string();
            w.days.entry(node.clone()).or_default();
            w.peer_days.entry(node).or_default();
        }
        // `whole` is filtered after FINAL: before it, a day's earlier whole = 1 would pass
        // where its later whole = 0 replaces it.
        let sql = format!(
            "SELECT node, d, whole FROM (SELECT node, toUnixTimestamp(day) AS d, whole FROM {db}.netattr_days_whole FINAL
             WHERE day >= {} AND day < {}) WHERE whole != 0 ORDER BY d",
            at(since),
            at(until)
        );
        for r in store.rows(&sql)? {
            let d = r["d"].as_i64().unwrap_or(i64::MIN);
            let (node, bits) = (r["node"].as_str().unwrap_or_default(), r["whole"].as_i64().unwrap_or(0));
            if d >= since && d + 86_400 <= until {
                for (days, bit) in [(&mut w.days, WHOLE), (&mut w.peer_days, PEERS_WHOLE)] {
                    if bits & bit != 0 {
                        days.entry(node.to_string()).or_default().push(d);
                    }
                }
            }
        }
        let sql =
            format!("SELECT node, toUnixTimestamp(since) AS s FROM {db}.netattr_peer_hours_since FINAL");
        for r in store.rows(&sql)? {
            let node = r["node"].as_str().unwrap_or_default().to_string();
            w.hours.insert(node, r["s"].as_i64().unwrap_or(i64::MAX));
        }
        Ok(w)
    }

    /// Where each node's peer rows of `since..until` outside its whole peer days are read from
    /// (every node listed; with none, one `Spans` for all: the whole period from the 5-minute
    /// rows).
    pub fn peer_spans(&self, since: i64, until: i64) -> Vec<Spans> {
        if self.peer_days.is_empty() {
            return vec![Spans { node: None, hours: Vec::new(), buckets: vec![(since, until)] }];
        }
        let mut out = Vec::new();
        for (node, days) in &self.peer_days {
            let mut s = Spans { node: Some(node.clone()), ..Default::default() };
            let days: Vec<i64> =
                days.iter().copied().filter(|d| *d >= since && d + 86_400 <= until).collect();
            for (a, b) in crate::ledger::series::outside(since, until, &days) {
                let Some(&first) = self.hours.get(node) else {
                    s.buckets.push((a, b));
                    continue;
                };
                let start = a.max(first).min(b);
                let hs = start.div_euclid(HOUR) * HOUR + if start.rem_euclid(HOUR) > 0 { HOUR } else { 0 };
                let he = b.div_euclid(HOUR) * HOUR;
                if hs >= he {
                    s.buckets.push((a, b));
                    continue;
                }
                s.buckets.extend([(a, hs), (he, b)].into_iter().filter(|(x, y)| x < y));
                s.hours.push((hs, he));
            }
            out.push(s);
        }
        out
    }

    /// `(node, day)` of every whole day, as a ClickHouse tuple list; None when there is none.
    pub fn pairs(&self) -> Option<String> {
        pairs_of(&self.days)
    }

    /// The span of the period the 5-minute rows must cover (the parts of any node outside
    /// its whole days); None when every node's period is whole days.
    pub fn rest(&self, since: i64, until: i64) -> Option<(i64, i64)> {
        if self.days.is_empty() {
            return Some((since, until));
        }
        let parts: Vec<(i64, i64)> =
            self.days.values().flat_map(|ds| crate::ledger::series::outside(since, until, ds)).collect();
        Some((parts.iter().map(|p| p.0).min()?, parts.iter().map(|p| p.1).max()?))
    }
}

/// The condition on the time column `col` (of a table keyed by its day first) of
/// `since..until`, with its day: ClickHouse 18.16 finds rows by a condition on
/// `toDate(col)`, not by one on `col` alone.
pub fn range(col: &str, since: i64, until: i64) -> String {
    let date = |t: i64| {
        let (y, m, d) = crate::model::civil(t.clamp(0, i64::from(u32::MAX)).div_euclid(86_400));
        format!("toDate('{y:04}-{m:02}-{d:02}')")
    };
    format!(
        "toDate({col}) >= {} AND toDate({col}) <= {} AND {col} >= {} AND {col} < {}",
        date(since),
        date(until - 1),
        at(since),
        at(until)
    )
}

/// `range` of each of `spans`, or'ed (`0` for none).
pub fn ranges(col: &str, spans: &[(i64, i64)]) -> String {
    if spans.is_empty() {
        return "0".to_string();
    }
    spans.iter().map(|(a, b)| format!("({})", range(col, *a, *b))).collect::<Vec<_>>().join(" OR ")
}

/// `(node, day)` of every day of `days`, as a ClickHouse tuple list; None when there is none.
pub fn pairs_of(days: &BTreeMap<String, Vec<i64>>) -> Option<String> {
    let p: Vec<String> =
        days.iter().flat_map(|(n, ds)| ds.iter().map(move |d| format!("({}, {d})", quote(n)))).collect();
    (!p.is_empty()).then(|| p.join(", "))
}

#[cfg(test)]
mod tests;
