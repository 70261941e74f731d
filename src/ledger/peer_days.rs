//! Each rolled-up day's peer rows (`peer_days`): a workload's bytes per remote address over
//! a UTC day, with the first and last 5-minute buckets that had any (so that a reader who
//! names addresses by their holder at a time knows whether one holder held the address over
//! all of them). Written with the day's rollup, slice by slice, from the day's 5-minute
//! `peers` rows; a peer bill that lands in a day rolled up already (a clock moved back) adds
//! to its row too, so a row stays the sum of its 5-minute rows. `series_days.whole` has bit
//! `series::PEERS_WHOLE` for the days whose peer rows were all rolled up this way.
use anyhow::Result;
use rusqlite::{params, Transaction};

use super::series::{BUCKETS, DAY};
use crate::model::Counters;

/// Rolls `day`'s 5-minute peer rows of the workloads `lo..hi` up into their day rows, with
/// `version`; returns the rows written.
pub(super) fn roll(tx: &Transaction<'_>, day: i64, lo: i64, hi: i64, version: i64) -> Result<usize> {
    // The day's buckets, as literals: each is one seek of the primary key.
    let buckets: Vec<String> = (0..BUCKETS as i64).map(|i| (day + i * 300).to_string()).collect();
    Ok(tx.execute(
        &format!(
            "INSERT INTO peer_days (day, workload, source, class, peer, rx_bytes, tx_bytes, rx_packets, tx_packets,
                                    first_bucket, last_bucket, version)
             SELECT ?1, workload, source, class, peer, sum(rx_bytes), sum(tx_bytes), sum(rx_packets), sum(tx_packets),
                    min(bucket), max(bucket), ?4
             FROM peers WHERE bucket IN ({}) AND workload >= ?2 AND workload < ?3
             GROUP BY workload, source, class, peer
             ON CONFLICT (day, workload, source, class, peer) DO UPDATE SET
               rx_bytes = excluded.rx_bytes, tx_bytes = excluded.tx_bytes, rx_packets = excluded.rx_packets,
               tx_packets = excluded.tx_packets, first_bucket = excluded.first_bucket,
               last_bucket = excluded.last_bucket, version = excluded.version",
            buckets.join(", ")
        ),
        params![day, lo, hi, version],
    )?)
}

/// One late peer bill's row: the day row of `bucket`'s day grows by `d`.
pub(super) struct Late<'a> {
    pub bucket: i64,
    pub workload: i64,
    pub source: &'a str,
    pub class: &'a str,
    pub peer: &'a str,
}

/// Adds `d` to the day row of a peer bill that landed in a day rolled up already.
pub(super) fn add_late(tx: &Transaction<'_>, l: &Late<'_>, d: &Counters, version: i64) -> Result<()> {
    let day = l.bucket - l.bucket.rem_euclid(DAY);
    tx.prepare_cached(
        "INSERT INTO peer_days (day, workload, source, class, peer, rx_bytes, tx_bytes, rx_packets, tx_packets,
                                first_bucket, last_bucket, version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)
         ON CONFLICT (day, workload, source, class, peer) DO UPDATE SET
           rx_bytes = rx_bytes + excluded.rx_bytes, tx_bytes = tx_bytes + excluded.tx_bytes,
           rx_packets = rx_packets + excluded.rx_packets, tx_packets = tx_packets + excluded.tx_packets,
           first_bucket = min(first_bucket, excluded.first_bucket),
           last_bucket = max(last_bucket, excluded.last_bucket), version = excluded.version",
    )?
    .execute(params![
        day,
        l.workload,
        l.source,
        l.class,
        l.peer,
        d.rx_bytes as i64,
        d.tx_bytes as i64,
        d.rx_packets as i64,
        d.tx_packets as i64,
        l.bucket,
        version
    ])?;
    Ok(())
}
