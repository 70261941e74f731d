//! Each hour's sums of a node's peer rows in the fleet store (`netattr_peer_hours`), made by
//! the store from its own 5-minute rows (`netattr_peers`, FINAL) as the export sends them: once
//! a batch of peer rows is in, and before the node's cursor moves past it, the hours it
//! touched are summed again. So an hour row is the sums of the 5-minute rows the store had of
//! its hour then, versioned by the latest of them; a batch sent again sums its hours again,
//! and a later bill into an old bucket (a higher version) writes its hour again.
//!
//! `netattr_peer_hours_since` says from which hour a node's hour rows are kept: the first
//! time an export sends peer rows to a store, it sums the node's hours from the start of the
//! day two days before (what an earlier netattr sent), then marks that hour. A report reads a
//! node's whole hours from then on from the hour rows (whole.rs: `Whole::peer_spans`), which
//! is what keeps the part of a period not rolled up into days (today) cheap to read.
use std::collections::BTreeSet;

use anyhow::Result;
use serde_json::json;

use super::pair_sql::SUMS;
use super::store::{quote, Store};
use super::whole::{ranges, HOUR};

/// How far back the first export to a store sums a node's hours (from that day's start).
const BACKFILL: i64 = 2 * 86_400;

/// The columns of `netattr_peer_hours`, in the order `hour_rows_sql` selects them.
const COLUMNS: &str = "node, zone, identity, hour, source, class, peer, rx_bytes, tx_bytes, rx_packets, tx_packets, first_bucket, last_bucket, version";

/// The hour rows of `node`'s 5-minute peer rows in `spans` (since, until): each hour's sums per
/// (workload, source, class, peer), its first and last buckets, and the latest version.
pub fn hour_rows_sql(db: &str, node: &str, spans: &[(i64, i64)]) -> String {
    format!(
        "SELECT node, any(zone) AS z, identity, toStartOfHour(bucket) AS h, source, class, peer, {SUMS},
                min(bucket) AS fb, max(bucket) AS lb, max(version) AS v
         FROM {db}.netattr_peers FINAL WHERE node = {} AND ({})
         GROUP BY node, identity, h, source, class, peer",
        quote(node),
        ranges("bucket", spans)
    )
}

/// The hours of `buckets` as spans (since, until), adjacent hours joined.
pub fn hours_of(buckets: impl IntoIterator<Item = i64>) -> Vec<(i64, i64)> {
    let hours: BTreeSet<i64> = buckets.into_iter().map(|b| b.div_euclid(HOUR) * HOUR).collect();
    let mut spans: Vec<(i64, i64)> = Vec::new();
    for h in hours {
        match spans.last_mut() {
            Some(last) if last.1 == h => last.1 = h + HOUR,
            _ => spans.push((h, h + HOUR)),
        }
    }
    spans
}

/// Sums again the hours of `node` that `buckets` (of a batch the store took) are in.
pub fn roll(store: &Store, node: &str, buckets: impl IntoIterator<Item = i64>) -> Result<()> {
    let spans = hours_of(buckets);
    if spans.is_empty() {
        return Ok(());
    }
    let db = &store.database;
    store.run(
        &format!("INSERT INTO {db}.netattr_peer_hours ({COLUMNS}) {}", hour_rows_sql(db, node, &spans)),
        None,
    )?;
    Ok(())
}

/// The first time `node` sends peer rows to the store: sums its hours from the start of the
/// day `BACKFILL` before `now`, then marks that the store keeps them from there on.
pub fn begin(store: &Store, node: &str, now: i64) -> Result<()> {
    let db = &store.database;
    let sql = format!("SELECT count() AS n FROM {db}.netattr_peer_hours_since WHERE node = {}", quote(node));
    if store.rows(&sql)?.first().and_then(|r| r["n"].as_u64()).unwrap_or(0) > 0 {
        return Ok(());
    }
    let since = (now - BACKFILL).div_euclid(86_400) * 86_400;
    let all = [(since, i64::from(u32::MAX))];
    store.run(
        &format!("INSERT INTO {db}.netattr_peer_hours ({COLUMNS}) {}", hour_rows_sql(db, node, &all)),
        None,
    )?;
    let mark = json!({"node": node, "since": since.max(0), "version": 1}).to_string();
    store.run(&format!("INSERT INTO {db}.netattr_peer_hours_since FORMAT JSONEachRow"), Some(&mark))?;
    Ok(())
}

#[cfg(test)]
mod tests;
