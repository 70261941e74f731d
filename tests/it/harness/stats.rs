//! Reading `stats --format json` documents: rows by field, by cgroup, and class cells.
use std::collections::BTreeMap;

use serde_json::Value;

use super::*;

/// The row of a `stats --format json` document whose `field` is `value`.
pub fn row_where<'a, T>(stats: &'a serde_json::Value, field: &str, value: T) -> &'a serde_json::Value
where
    serde_json::Value: PartialEq<T>,
    T: std::fmt::Display + Copy,
{
    stats["cgroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[field] == value)
        .unwrap_or_else(|| panic!("no row with {field} {value} in {stats}"))
}

/// The row of cgroup `id` in a `stats --format json` document.
pub fn row(stats: &serde_json::Value, id: u64) -> &serde_json::Value {
    row_where(stats, "cgroup_id", id)
}

/// Rows of `stats --by class`: (cgroup id, class) -> [rx, tx, rx_packets, tx_packets].
pub type Cells = BTreeMap<(u64, String), [u64; 4]>;

/// The class rows of `source`, read now.
pub fn class_cells(na: &Netattr, source: &str) -> Cells {
    let st = na
        .run(&["stats", "--by", "class", "--source", source, "--no-resolve", "--format", "json"])
        .ok()
        .json();
    cells(&st)
}

/// The class rows of a `stats --by class --format json` document.
pub fn cells(st: &Value) -> Cells {
    let mut out = Cells::new();
    for r in st["cgroups"].as_array().unwrap() {
        let id = r["cgroup_id"].as_u64().unwrap_or(u64::MAX);
        let c = ["rx_bytes", "tx_bytes", "rx_packets", "tx_packets"].map(|k| r[k].as_u64().unwrap());
        out.insert((id, r["class"].as_str().unwrap().to_string()), c);
    }
    out
}

/// The totals of `source` by cgroup id, read now.
pub fn rows(na: &Netattr, source: &str) -> BTreeMap<u64, [u64; 4]> {
    let st = na.run(&["stats", "--source", source, "--no-resolve", "--format", "json"]).ok().json();
    st["cgroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let id = r["cgroup_id"].as_u64().unwrap_or(u64::MAX);
            (id, ["rx_bytes", "tx_bytes", "rx_packets", "tx_packets"].map(|k| r[k].as_u64().unwrap()))
        })
        .collect()
}
