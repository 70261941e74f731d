//! The fleet's pair table (`report --from ... --by pod_namespace,peer_namespace,class`): every
//! node's peer rows of the period, each address named by the workload that held it in the
//! row's bucket on whichever node held it (`netattr_addresses`), made into the pair table
//! (model::pairs: between two counted workloads, each direction's bytes once, from the end
//! that saw all of them) and grouped. Rows of an address that had one holder in all are read
//! summed over the period; only those of reused addresses bucket by bucket.
use std::collections::{BTreeSet, HashMap};

use anyhow::{Context, Result};

use super::store::{quote, Store};
use crate::ledger::pairs::{check, Views, Who};
use crate::ledger::query::{Ask, Group};
use crate::model::Counters;

/// One holder of an address from a time on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Held {
    since: i64,
    holder: String,
    name: Option<String>,
    pod_namespace: Option<String>,
}

/// The groups of the fleet's pair table of `ask` for `source`, largest first.
pub fn groups(store: &Store, ask: &Ask<'_>, source: &str) -> Result<Vec<Group>> {
    check(ask)?;
    let db = &store.database;
    let until = ask.period.until;
    // Who held each address, every node's ranges together (sorted by `since`).
    let mut held: HashMap<String, Vec<Held>> = HashMap::new();
    for r in store.rows(&addresses_sql(db, until))? {
        let s = |k: &str| r[k].as_str().map(str::to_string);
        held.entry(s("address").unwrap_or_default()).or_default().push(Held {
            since: r["since"].as_i64().unwrap_or(0),
            holder: s("holder").unwrap_or_default(),
            name: s("name"),
            pod_namespace: s("pod_namespace"),
        });
    }
    for v in held.values_mut() {
        v.sort_by_key(|h| h.since);
        v.dedup_by(|b, a| a.holder == b.holder && a.name == b.name);
    }
    let reused: Vec<String> = held.iter().filter(|(_, v)| v.len() > 1).map(|(a, _)| a.clone()).collect();
    let rows = store.rows(&peers_sql(db, ask, source, &reused))?;
    let identities: BTreeSet<String> =
        rows.iter().filter_map(|r| r["identity"].as_str().map(str::to_string)).collect();
    // Each workload's description, keyed by its name (else identity) as the pair table is.
    let mut key_of: HashMap<(String, String), String> = HashMap::new();
    let mut whos: HashMap<String, Who> = HashMap::new();
    if !identities.is_empty() {
        let list: Vec<String> = identities.into_iter().collect();
        for w in store.rows(&workloads_sql(db, &list))? {
            let s = |k: &str| w[k].as_str().map(str::to_string);
            let identity = s("identity").unwrap_or_default();
            let key = s("name").unwrap_or_else(|| identity.clone());
            key_of.insert((s("node").unwrap_or_default(), identity), key.clone());
            whos.entry(key).or_insert(Who {
                pod_namespace: s("ns"),
                pod: s("pod"),
                kind: s("kind"),
                runtime: s("runtime"),
                node: s("node"),
                zone: None,
            });
        }
    }
    let mut views = Views::default();
    for r in &rows {
        let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        let n = |k: &str| r[k].as_u64().with_context(|| format!("the fleet store answered {r} (no {k})"));
        let (node, identity) = (s("node"), s("identity"));
        let w = key_of.get(&(node, identity.clone())).cloned().unwrap_or(identity);
        if let Some(who) = whos.get_mut(&w) {
            who.zone = Some(s("zone")).filter(|z| !z.is_empty());
        }
        let (class, peer) = (s("class"), s("peer"));
        let at = r["b"].as_i64().filter(|b| *b > 0).unwrap_or(until - 1);
        let h = holder_at(&held, &peer, at);
        let c =
            Counters { rx_bytes: n("rx")?, tx_bytes: n("tx")?, rx_packets: n("rxp")?, tx_packets: n("txp")? };
        let ns = h.and_then(|h| h.pod_namespace.clone());
        views.add(w, class, &peer, h.map(|h| (h.holder.as_str(), h.name.as_deref())), ns, c);
    }
    Ok(views.grouped(ask, &whos))
}

/// Every holder of an address from before `until`: (address, since, holder, name,
/// pod_namespace), the latest version of each range.
pub fn addresses_sql(db: &str, until: i64) -> String {
    format!(
        "SELECT address, toUnixTimestamp(since) AS since, holder, name, pod_namespace
         FROM {db}.netattr_addresses FINAL WHERE since < toDateTime({until})"
    )
}

/// Every node's peer rows of the period for `source`, summed per (node, workload, class,
/// peer), and per bucket too (`b`, else 0) for the addresses of `reused` (those with more
/// than one holder).
pub fn peers_sql(db: &str, ask: &Ask<'_>, source: &str, reused: &[String]) -> String {
    let by_bucket = if reused.is_empty() {
        "0".to_string()
    } else {
        let list: Vec<String> = reused.iter().map(|a| quote(a)).collect();
        format!("if(peer IN ({}), toUnixTimestamp(bucket), 0)", list.join(", "))
    };
    format!(
        "SELECT node, any(zone) AS zone, identity, class, peer, {by_bucket} AS b,
                sum(rx_bytes) AS rx, sum(tx_bytes) AS tx, sum(rx_packets) AS rxp, sum(tx_packets) AS txp
         FROM {db}.netattr_peers FINAL
         WHERE bucket >= toDateTime({}) AND bucket < toDateTime({}) AND source = {}
         GROUP BY node, identity, class, peer, b",
        ask.period.since,
        ask.period.until,
        quote(source)
    )
}

/// The latest description of each of `identities` on each node.
pub fn workloads_sql(db: &str, identities: &[String]) -> String {
    let list: Vec<String> = identities.iter().map(|i| quote(i)).collect();
    format!(
        "SELECT node, identity, argMax(name, version) AS name, argMax(pod_namespace, version) AS ns,
                argMax(pod_name, version) AS pod, argMax(kind, version) AS kind, argMax(runtime, version) AS runtime
         FROM {db}.netattr_workloads WHERE identity IN ({}) GROUP BY node, identity",
        list.join(", ")
    )
}

/// Who held `address` in the bucket starting at `at` (the latest holder from before its end);
/// None before anyone did.
fn holder_at<'a>(held: &'a HashMap<String, Vec<Held>>, address: &str, at: i64) -> Option<&'a Held> {
    held.get(address)?.iter().rev().find(|h| h.since < at + 300)
}
