//! The fleet's pair table (`report --from ... --by pod_namespace,peer_namespace,class`): every
//! node's peer rows of the period, each address named by the workload that held it in the
//! row's bucket on whichever node held it (`netattr_addresses`), made into the pair table
//! (model::pairs: between two counted workloads, each direction's bytes once, from the end
//! that saw all of them) and grouped. Rows of an address that had one holder in all are read
//! summed over the period; only those of reused addresses bucket by bucket. The days whose
//! peer rows a node rolled up (`netattr_peer_days`, whole by `netattr_days_whole`) are read
//! from those rows, and the whole hours of the rest from the hour rows the export keeps
//! (`netattr_peer_hours`, hours.rs): a reused address's day (hour) by day (hour), and where
//! its holder changed between its first and last bucket with bytes, read again finer: a day
//! from its hour rows (where the store keeps the node's), an hour from its 5-minute rows.
//! Each kind of rows is read in shares of the nodes, up to READERS queries at once (pair_sql.rs
//! has the SQL).
use std::collections::{BTreeSet, HashMap};

use anyhow::Result;

use super::pair_sql::{
    addresses_sql, again_sql, peer_days_sql, peer_hours_sql, peers_sql, workloads_sql, Again, PeerSum,
};
use super::store::Store;
use super::whole::{Spans, Whole, HOUR};
use crate::ledger::pairs::{check, Views, Who};
use crate::ledger::query::{Ask, Group};
use crate::model::Counters;

const DAY: i64 = 86_400;

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
    let whole = Whole::read(store, ask.period.since, ask.period.until)?;
    let spans = whole.peer_spans(ask.period.since, ask.period.until);
    // The 5-minute rows of the rest, whole days and hours from their rows, all read at once.
    // A reused address's day (hour) whose bytes had one holder over all of them (from its
    // first bucket with bytes to its last) is named by that holder, the others are read again
    // finer, until every row has one holder.
    let mut batch = parts(db, ask, source, &reused, &whole, &spans);
    let mut rows = Vec::new();
    while !batch.is_empty() {
        let sqls: Vec<String> = batch.iter().map(|p| p.0.clone()).collect();
        let mut next = Vec::new();
        for ((_, span), got) in batch.iter().zip(read_all(store, &sqls)?) {
            let Some(span) = *span else {
                rows.extend(got);
                continue;
            };
            let (redo, keep): (Vec<PeerSum>, Vec<PeerSum>) =
                got.into_iter().partition(|r| r.b > 0 && !one_holder(&held, &r.peer, r.first, r.last));
            rows.extend(keep);
            // A day again from its hour rows where the store has the node's (they are read
            // as such, and an hour whose holder changed inside it again), else from its
            // 5-minute rows.
            let hours = |r: &PeerSum| span == DAY && whole.hours.get(&r.node).is_some_and(|h| *h <= r.b);
            let (by_hour, by_bucket): (Vec<PeerSum>, Vec<PeerSum>) = redo.into_iter().partition(hours);
            next.extend(
                again_sql(db, source, &by_hour, DAY, Again::Hours).into_iter().map(|s| (s, Some(HOUR))),
            );
            next.extend(
                again_sql(db, source, &by_bucket, span, Again::Buckets).into_iter().map(|s| (s, None)),
            );
        }
        batch = next;
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
                labels: s("labels"),
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

/// Queries the store reads at once: ClickHouse 18.16 reads a FINAL query on one thread (2
/// queries: 586 ms against 780 ms on 2 CPUs), so each kind of rows is read in shares of the
/// nodes.
const READERS: usize = 4;

/// The queries of the pair table's rows, each with the span of the rolled-up rows it reads
/// (a day, an hour; None: 5-minute rows), each kind in up to READERS shares of the nodes.
/// `spans` lists every node with workloads in the store (`Whole::read`: a node's export
/// sends its workloads before any of its peer rows, so no node's peer rows are left out).
fn parts(
    db: &str,
    ask: &Ask<'_>,
    source: &str,
    reused: &[String],
    whole: &Whole,
    spans: &[Spans],
) -> Vec<(String, Option<i64>)> {
    let mut out = Vec::new();
    let of = |pick: fn(&Spans) -> &[(i64, i64)]| -> Vec<Spans> {
        spans.iter().filter(|s| !pick(s).is_empty()).cloned().collect()
    };
    for share in shares(&of(|s| &s.buckets)) {
        out.push((peers_sql(db, source, reused, &share), None));
    }
    let days: Vec<(String, Vec<i64>)> =
        whole.peer_days.iter().filter(|(_, d)| !d.is_empty()).map(|(n, d)| (n.clone(), d.clone())).collect();
    for share in shares(&days) {
        let w = Whole { peer_days: share.into_iter().collect(), ..Default::default() };
        out.extend(peer_days_sql(db, ask, source, reused, &w).map(|sql| (sql, Some(DAY))));
    }
    for share in shares(&of(|s| &s.hours)) {
        out.extend(peer_hours_sql(db, source, reused, &share).map(|sql| (sql, Some(HOUR))));
    }
    out
}

/// `items` dealt into up to READERS shares.
fn shares<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    let n = READERS.min(items.len());
    (0..n).map(|k| items.iter().skip(k).step_by(n).cloned().collect()).collect()
}

/// The rows of each of `sqls`, READERS queries at a time.
fn read_all(store: &Store, sqls: &[String]) -> Result<Vec<Vec<PeerSum>>> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut out = vec![Vec::new(); sqls.len()];
    std::thread::scope(|scope| {
        // Each worker takes the next query until none is left, and returns what it read.
        let workers: Vec<_> = (0..READERS.min(sqls.len()))
            .map(|_| {
                scope.spawn(|| -> Result<Vec<(usize, Vec<PeerSum>)>> {
                    let mut read = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(sql) = sqls.get(i) else { return Ok(read) };
                        read.push((i, store.rows_as::<PeerSum>(sql)?));
                    }
                })
            })
            .collect();
        for w in workers {
            for (i, rows) in
                w.join().map_err(|_| anyhow::anyhow!("a thread reading the fleet store failed"))??
            {
                out[i] = rows;
            }
        }
        Ok(out)
    })
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
