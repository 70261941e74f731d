//! `stats` as Prometheus metrics: per-row byte and packet counters labelled with the
//! workload's identity, and the instance's health (map fill, insert failures, ring-buffer
//! drops). The unresolved and overflow buckets are rows like the others, told apart by the
//! `bucket` label, so an alert on `netattr_tx_bytes_total{bucket="overflow"}` needs nothing
//! else. Shared by `stats --format prometheus` and `serve`.
use anyhow::Result;

use super::inventory::HealthExport;
use super::row::{Bucket, Row};
use crate::output::prometheus::{Builder, Family, Text};

/// Every metric name netattr exports (`serve` adds its last two); the deploy/ dashboard is
/// checked against this list.
pub const NAMES: [&str; 20] = [
    "netattr_rx_bytes_total",
    "netattr_tx_bytes_total",
    "netattr_rx_packets_total",
    "netattr_tx_packets_total",
    "netattr_class_rx_bytes_total",
    "netattr_class_tx_bytes_total",
    "netattr_class_rx_packets_total",
    "netattr_class_tx_packets_total",
    "netattr_peer_rx_bytes_total",
    "netattr_peer_tx_bytes_total",
    "netattr_peer_rx_packets_total",
    "netattr_peer_tx_packets_total",
    "netattr_map_entries",
    "netattr_map_capacity",
    "netattr_map_fill_ratio",
    "netattr_insert_failures_total",
    "netattr_ringbuf_drops_total",
    "netattr_peer_spills_total",
    "netattr_retired_cgroups",
    "netattr_scrape_duration_seconds",
];

/// The labels of the counters (`map` is the health gauges' label).
pub const LABELS: [&str; 19] = [
    "cgroup_id",
    "bucket",
    "source",
    "path",
    "kind",
    "runtime",
    "container_id",
    "name",
    "pod_namespace",
    "pod_name",
    "iface",
    "protocol",
    "port",
    "class",
    "peer",
    "peer_kind",
    "peer_address",
    "peer_namespace",
    "map",
];

const COUNTERS: [(&str, &str); 4] = [
    ("netattr_rx_bytes_total", "Bytes received by the workload (the cgroup), as counted in the kernel"),
    ("netattr_tx_bytes_total", "Bytes sent by the workload (the cgroup), as counted in the kernel"),
    ("netattr_rx_packets_total", "Packets received by the workload (GSO segments counted one by one)"),
    ("netattr_tx_packets_total", "Packets sent by the workload (GSO segments counted one by one)"),
];

/// The labels of one row: the identity fields of `stats`, empty ones left out, then the
/// workload's labels of the keys `named` lists, each as (its series label, the key).
fn labels<'a>(r: &Row, named: &'a [(String, &String)]) -> Vec<(&'a str, Option<String>)> {
    let id = match r.bucket {
        Bucket::Overflow => None,
        _ => Some(r.cgroup_id.to_string()),
    };
    let who = &r.who;
    let mut out = vec![
        ("cgroup_id", id),
        ("bucket", Some(crate::output::label(&r.bucket))),
        ("source", Some(crate::output::label(&r.source))),
        ("path", r.path.clone()),
        ("kind", who.kind.map(|k| crate::output::label(&k))),
        ("runtime", who.runtime.map(String::from)),
        ("container_id", who.container_id.clone()),
        ("name", who.name.clone()),
        ("pod_namespace", who.pod_namespace.clone()),
        ("pod_name", who.pod_name.clone()),
        ("iface", r.iface.clone().flatten().or_else(|| r.ifindex.map(|i| format!("#{i}")))),
        ("protocol", r.protocol.clone()),
        ("port", r.port.map(|p| p.to_string())),
        ("class", r.class.clone()),
    ];
    if let Some(p) = &r.peer {
        out.extend([
            ("peer", Some(p.peer.clone())),
            ("peer_kind", Some(p.kind.as_str().to_string())),
            ("peer_address", p.address.map(|a| a.to_string())),
            ("peer_namespace", p.namespace.clone()),
        ]);
    }
    let mine = |k: &String| who.labels.as_ref().and_then(|l| l.get(k).cloned());
    out.extend(named.iter().map(|(s, k)| (s.as_str(), mine(k))));
    out
}

/// A report's rows and health as exposition text, then `extra` families.
pub fn exposition(
    rows: &[Row],
    keys: &[String],
    health: Option<&HealthExport>,
    extra: Vec<Family>,
) -> Result<String> {
    let mut text = Text::default();
    for f in counter_families(rows, keys) {
        text.push(f)?;
    }
    for f in health.into_iter().flat_map(health_families).chain(extra) {
        text.push(f)?;
    }
    text.finish()
}

/// The four counter families of `rows`. Rows of the class breakdown are their own families,
/// `netattr_class_*` with a `class` label, so that summing a per-cgroup family never adds a
/// cgroup's classes to its total. `keys`: the workload labels each series carries.
pub fn counter_families(rows: &[Row], keys: &[String]) -> Vec<Family> {
    let class = rows.first().is_some_and(|r| r.class.is_some());
    let peer = rows.first().is_some_and(|r| r.peer.is_some());
    let named: Vec<(String, &String)> = keys.iter().map(|k| (crate::model::series_label(k), k)).collect();
    COUNTERS
        .iter()
        .enumerate()
        .map(|(n, (name, help))| {
            let (name, help) = if peer {
                (name.replacen("netattr_", "netattr_peer_", 1), format!("{help}, per peer (remote address)"))
            } else if class {
                (name.replacen("netattr_", "netattr_class_", 1), format!("{help}, per destination class"))
            } else {
                (name.to_string(), help.to_string())
            };
            let mut b = Builder::counter(&name, &help);
            for r in rows {
                let c = &r.counters;
                b.sample(labels(r, &named), [c.rx_bytes, c.tx_bytes, c.rx_packets, c.tx_packets][n] as f64);
            }
            b.build()
        })
        .collect()
}

fn health_families(h: &HealthExport) -> Vec<Family> {
    let mut entries = Builder::gauge(
        "netattr_map_entries",
        "Keys in a pinned hash map, or slots held in a fast-path owner array",
    );
    let mut capacity = Builder::gauge("netattr_map_capacity", "Capacity of a pinned map in keys");
    let mut fill = Builder::gauge(
        "netattr_map_fill_ratio",
        "Keys over capacity: at 1 a counter map sends new cgroups to the overflow bucket",
    );
    // Maps whose entries were counted: hash maps and the fast-path owner arrays.
    for m in &h.maps {
        let Some((n, ratio)) = m.fill() else { continue };
        let l = || [("map", Some(m.name.clone()))];
        entries.sample(l(), n as f64);
        capacity.sample(l(), f64::from(m.max_entries));
        fill.sample(l(), ratio);
    }
    let mut failures = Builder::counter(
        "netattr_insert_failures_total",
        "Map inserts the kernel refused (the traffic went to the overflow bucket)",
    );
    failures.sample([], h.health.insert_failures as f64);
    let mut drops = Builder::counter(
        "netattr_ringbuf_drops_total",
        "First-seen events lost because the ring buffer was full (counters are not affected)",
    );
    drops.sample([], h.health.ringbuf_drops as f64);
    let mut spills = Builder::counter(
        "netattr_peer_spills_total",
        "New peers that found the peer map full (their bytes went to the other-peers row)",
    );
    spills.sample([], h.health.peer_spills as f64);
    vec![entries.build(), capacity.build(), fill.build(), failures.build(), drops.build(), spills.build()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::{Counters, Source};

    #[test]
    fn row_labels_are_the_listed_ones() {
        let peer = crate::core::row::Extra::Peer(5, "private".into(), crate::core::peers::Peer::Other);
        let r = Row::bare(5, Source::Tc, peer, Counters::default());
        let keys: Vec<&str> = labels(&r, &[]).iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, LABELS[..LABELS.len() - 1]);
        let r = Row::bare(5, Source::Tc, crate::core::row::Extra::None, Counters::default());
        assert_eq!(labels(&r, &[]).len(), LABELS.len() - 5, "peer labels only on peer rows");
    }
}
