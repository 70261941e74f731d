//! Which days of each node the fleet store holds whole (`netattr_days_whole`): those are read
//! from the days' rows (`netattr_days`, `netattr_peer_days`), the rest of a period from the
//! 5-minute rows. Shared by the usage reports (query) and the pair table (pairs).
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
}

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
        Ok(w)
    }

    /// `(node, day)` of every whole day, as a ClickHouse tuple list; None when there is none.
    pub fn pairs(&self) -> Option<String> {
        pairs_of(&self.days)
    }

    /// The span of the period the 5-minute rows must cover (the parts of any node outside
    /// its whole days); None when every node's period is whole days.
    pub fn rest(&self, since: i64, until: i64) -> Option<(i64, i64)> {
        rest_of(&self.days, since, until)
    }
}

/// `(node, day)` of every day of `days`, as a ClickHouse tuple list; None when there is none.
pub fn pairs_of(days: &BTreeMap<String, Vec<i64>>) -> Option<String> {
    let p: Vec<String> =
        days.iter().flat_map(|(n, ds)| ds.iter().map(move |d| format!("({}, {d})", quote(n)))).collect();
    (!p.is_empty()).then(|| p.join(", "))
}

/// The span of `since..until` outside each node's `days` (every node listed, with its
/// days); None when every node's period is whole days.
pub fn rest_of(days: &BTreeMap<String, Vec<i64>>, since: i64, until: i64) -> Option<(i64, i64)> {
    if days.is_empty() {
        return Some((since, until));
    }
    let parts: Vec<(i64, i64)> =
        days.values().flat_map(|ds| crate::ledger::series::outside(since, until, ds)).collect();
    Some((parts.iter().map(|p| p.0).min()?, parts.iter().map(|p| p.1).max()?))
}
