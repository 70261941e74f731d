//! The fleet's pair table (`report --from ... --by pod_namespace,peer_namespace,class`): every
//! node's peer rows of the period, each address named by the workload that held it in the
//! row's bucket on whichever node held it (`netattr_addresses`), made into the pair table
//! (model::pairs: between two counted workloads, each direction's bytes once, from the end
//! that saw all of them) and grouped. Rows of an address that had one holder in all are read
//! summed over the period; only those of reused addresses bucket by bucket. The days whose
//! peer rows a node rolled up (`netattr_peer_days`, whole by `netattr_days_whole`) are read
//! from those rows: a reused address's day by day, and from its 5-minute rows only where its
//! holder changed between its first and last bucket with bytes.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::Result;
use serde::Deserialize;

use super::store::{quote, Store};
use super::whole::{at, pairs_of, rest_of, Whole};
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
    let whole = Whole::read(store, ask.period.since, ask.period.until)?;
    let mut rows = rest_rows(store, ask, source, &reused, &whole)?;
    // Whole days from their rows: a reused address's day whose bytes had one holder over all
    // of them (from its first bucket with bytes to its last) is named by that holder, the
    // others are read again from their 5-minute rows.
    let mut again = Vec::new();
    if let Some(sql) = peer_days_sql(db, ask, source, &reused, &whole) {
        for r in store.rows_as::<PeerSum>(&sql)? {
            if r.b > 0 && !one_holder(&held, &r.peer, r.first, r.last) {
                again.push(r)
            } else {
                rows.push(r)
            }
        }
    }
    for sql in again_sql(db, source, &again) {
        rows.extend(store.rows_as::<PeerSum>(&sql)?);
    }
    let identities: BTreeSet<&str> = rows.iter().map(|r| r.identity.as_str()).collect();
    // Each workload's description, keyed by its name (else identity) as the pair table is.
    let mut key_of: HashMap<(String, String), String> = HashMap::new();
    let mut whos: HashMap<String, Who> = HashMap::new();
    if !identities.is_empty() {
        let list: Vec<String> = identities.into_iter().map(str::to_string).collect();
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
    for r in rows {
        let w = key_of.get(&(r.node, r.identity.clone())).cloned().unwrap_or(r.identity);
        if let Some(who) = whos.get_mut(&w) {
            who.zone = Some(r.zone).filter(|z| !z.is_empty());
        }
        // A bucket's holder; a day row's (one holder over its buckets): its last bucket's.
        let at = [r.last, r.b].into_iter().find(|b| *b > 0).unwrap_or(until - 1);
        let h = holder_at(&held, &r.peer, at);
        let c = Counters { rx_bytes: r.rx, tx_bytes: r.tx, rx_packets: r.rxp, tx_packets: r.txp };
        let ns = h.and_then(|h| h.pod_namespace.clone());
        views.add(w, r.class, &r.peer, h.map(|h| (h.holder.as_str(), h.name.as_deref())), ns, c);
    }
    Ok(views.grouped(ask, &whos))
}

/// Queries reading the 5-minute rows at once, each for a share of the nodes: ClickHouse 18.16
/// reads a FINAL query on one thread (2 queries: 586 ms against 780 ms on 2 CPUs).
const READERS: usize = 4;

/// The rows of `peers_sql`, read by up to READERS queries at once. The nodes are those with
/// workloads in the store (`Whole::read`): a node's export sends its workloads before any of
/// its peer rows, so no node's peer rows are left out.
fn rest_rows(
    store: &Store,
    ask: &Ask<'_>,
    source: &str,
    reused: &[String],
    whole: &Whole,
) -> Result<Vec<PeerSum>> {
    let nodes: Vec<String> = whole.peer_days.keys().cloned().collect();
    let parts = READERS.min(nodes.len()).max(1);
    let shares: Vec<Vec<String>> =
        (0..parts).map(|k| nodes.iter().skip(k).step_by(parts).cloned().collect()).collect();
    let db = &store.database;
    std::thread::scope(|scope| {
        let readers: Vec<_> = shares
            .iter()
            .map(|share| {
                let sql = peers_sql(db, ask, source, reused, whole, share);
                scope.spawn(move || store.rows_as::<PeerSum>(&sql))
            })
            .collect();
        let mut rows = Vec::new();
        for r in readers {
            rows.extend(r.join().map_err(|_| anyhow::anyhow!("a thread reading the fleet store failed"))??);
        }
        Ok(rows)
    })
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

/// The condition on `netattr_peers.bucket` of `since..until`, with its day (the first
/// column of the table's key: ClickHouse 18.16 finds rows by a condition on `toDate(bucket)`,
/// not by one on `bucket` alone).
fn buckets(since: i64, until: i64) -> String {
    let date = |t: i64| {
        let (y, m, d) = crate::model::civil(t.clamp(0, i64::from(u32::MAX)).div_euclid(86_400));
        format!("toDate('{y:04}-{m:02}-{d:02}')")
    };
    format!(
        "toDate(bucket) >= {} AND toDate(bucket) <= {} AND bucket >= {} AND bucket < {}",
        date(since),
        date(until - 1),
        at(since),
        at(until)
    )
}

const SUMS: &str = "sum(rx_bytes) AS rx, sum(tx_bytes) AS tx, sum(rx_packets) AS rxp, sum(tx_packets) AS txp";

/// Every node's 5-minute peer rows of the period for `source` outside the days `whole` has
/// their peer rows of, summed per (node, workload, class, peer), and per bucket too (`b`,
/// else 0) for the addresses of `reused`; of the nodes `nodes` only, unless it is empty.
pub fn peers_sql(
    db: &str,
    ask: &Ask<'_>,
    source: &str,
    reused: &[String],
    whole: &Whole,
    nodes: &[String],
) -> String {
    let (since, until) = rest_of(&whole.peer_days, ask.period.since, ask.period.until).unwrap_or((0, 0));
    let mut filter = format!("{} AND source = {}", buckets(since, until), quote(source));
    if !nodes.is_empty() {
        let list: Vec<String> = nodes.iter().map(|n| quote(n)).collect();
        filter.push_str(&format!(" AND node IN ({})", list.join(", ")));
    }
    if let Some(pairs) = pairs_of(&whole.peer_days) {
        filter.push_str(&format!(
            " AND (node, toUnixTimestamp(bucket) - toUnixTimestamp(bucket) % 86400) NOT IN ({pairs})"
        ));
    }
    format!(
        "SELECT node, any(zone) AS zone, identity, class, peer, {} AS b, {SUMS}
         FROM {db}.netattr_peers FINAL WHERE {filter} GROUP BY node, identity, class, peer, b",
        by_bucket(reused, "bucket")
    )
}

/// The rolled-up peer days of the period's days `whole` has them of, summed like
/// `peers_sql`'s rows (per day, `b`, for the addresses of `reused`), with the first and last
/// 5-minute buckets that had bytes (`first`, `last`: 0 for the others); None when there is
/// no such day.
pub fn peer_days_sql(
    db: &str,
    ask: &Ask<'_>,
    source: &str,
    reused: &[String],
    whole: &Whole,
) -> Option<String> {
    let pairs = pairs_of(&whole.peer_days)?;
    let b = by_bucket(reused, "day");
    Some(format!(
        "SELECT node, any(zone) AS zone, identity, class, peer, {b} AS b, {SUMS},
                if(b = 0, 0, toUnixTimestamp(min(first_bucket))) AS first, if(b = 0, 0, toUnixTimestamp(max(last_bucket))) AS last
         FROM {db}.netattr_peer_days FINAL
         WHERE day >= {} AND day < {} AND source = {} AND (node, toUnixTimestamp(day)) IN ({pairs})
         GROUP BY node, identity, class, peer, b",
        at(ask.period.since),
        at(ask.period.until),
        quote(source)
    ))
}

/// The 5-minute rows, per bucket, of the day rows in `days` (rows of `peer_days_sql`), a
/// statement for each thousand of them, each day's rows found by the store's key (day, node,
/// workload).
pub fn again_sql(db: &str, source: &str, days: &[PeerSum]) -> Vec<String> {
    let day = |r: &PeerSum| r.b;
    days.chunks(1000)
        .map(|chunk| {
            let mut by_day: BTreeMap<i64, [BTreeSet<String>; 2]> = BTreeMap::new();
            for r in chunk {
                let [nodes, ids] = by_day.entry(day(r)).or_default();
                nodes.insert(quote(&r.node));
                ids.insert(quote(&r.identity));
            }
            let found: Vec<String> = by_day
                .iter()
                .map(|(d, [nodes, ids])| {
                    let join = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(", ");
                    format!(
                        "({} AND node IN ({}) AND identity IN ({}))",
                        buckets(*d, d + 86_400),
                        join(nodes),
                        join(ids)
                    )
                })
                .collect();
            let keys: Vec<String> = chunk
                .iter()
                .map(|r| {
                    format!("({}, {}, {}, {}, {})", quote(&r.node), quote(&r.identity), quote(&r.class), quote(&r.peer), day(r))
                })
                .collect();
            // PREWHERE on the address (a column of the key: every version of a row has it) keeps
            // FINAL from merging the other rows it reads (1,353 ms to 183 ms on 18.16).
            let peers: BTreeSet<String> = chunk.iter().map(|r| quote(&r.peer)).collect();
            format!(
                "SELECT node, any(zone) AS zone, identity, class, peer, toUnixTimestamp(bucket) AS b, {SUMS}
                 FROM {db}.netattr_peers FINAL PREWHERE peer IN ({})
                 WHERE source = {} AND ({})
                   AND (node, identity, class, peer, toUnixTimestamp(bucket) - toUnixTimestamp(bucket) % 86400) IN ({})
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

/// Whether one holder (or none) held `address` in every bucket from `first` to `last`.
fn one_holder(held: &HashMap<String, Vec<Held>>, address: &str, first: i64, last: i64) -> bool {
    let Some(ranges) = held.get(address) else { return true };
    !ranges.iter().any(|h| h.since >= first + 300 && h.since < last + 300)
}
