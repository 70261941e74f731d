//! A period's peer rows in a node's ledger, each with who held its address: the days whose
//! peer rows are rolled up (`series_days.whole` has `PEERS_WHOLE`) from their day rows
//! (`peer_days`), named by the holder over the day's buckets with bytes; the rest of the
//! period, and a day row whose address changed holder between its first and last bucket with
//! bytes, from the 5-minute rows (`peers`), each named by the holder in its bucket (once
//! those are pruned, such a day row is named by its last holder: its bytes stay counted).
use anyhow::Result;
use rusqlite::{params_from_iter, types::Value};

use super::series::{days_with, outside, BUCKETS, PEERS_WHOLE};
use super::Ledger;
use crate::model::{Counters, Period};

/// A workload's bytes with a peer, and who held the peer's address then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairRow {
    pub workload: i64,
    pub class: String,
    pub peer: String,
    pub holder: Option<String>,
    pub name: Option<String>,
    pub pod_namespace: Option<String>,
    pub counters: Counters,
}

/// The holder of `p.peer` at the end of the bucket `{at}` (an SQL expression over `p`).
fn held_at(at: &str) -> String {
    format!(
        "LEFT JOIN addresses h ON h.address = p.peer AND h.since = (
           SELECT max(a.since) FROM addresses a WHERE a.address = p.peer AND a.since < {at} + 300)"
    )
}

/// The 5-minute rows `filter` picks (over `p`, with `?1` the source), summed per holder.
fn five_minute_sql(filter: &str) -> String {
    format!(
        "SELECT p.workload, p.class, p.peer, sum(p.rx_bytes), sum(p.tx_bytes), sum(p.rx_packets), sum(p.tx_packets),
                h.holder, h.name, h.pod_namespace
         FROM peers p {}
         WHERE p.source = ?1 AND {filter}
         GROUP BY p.workload, p.class, p.peer, h.holder, h.name, h.pod_namespace",
        held_at("p.bucket")
    )
}

/// Every peer row of `period` for `source`.
pub fn rows(l: &Ledger, period: Period, source: &str) -> Result<Vec<PairRow>> {
    let days = days_with(&l.conn, PEERS_WHOLE, period.since, period.until)?;
    let mut out = Vec::new();
    for (since, until) in outside(period.since, period.until, &days) {
        let args = [Value::from(source.to_string()), since.into(), until.into()];
        read(l, &five_minute_sql("p.bucket >= ?2 AND p.bucket < ?3"), &args, &mut out)?;
    }
    let day_sql = format!(
        "SELECT p.workload, p.class, p.peer, p.rx_bytes, p.tx_bytes, p.rx_packets, p.tx_packets,
                h.holder, h.name, h.pod_namespace,
                EXISTS (SELECT 1 FROM addresses a WHERE a.address = p.peer
                          AND a.since >= p.first_bucket + 300 AND a.since < p.last_bucket + 300)
         FROM peer_days p {}
         WHERE p.source = ?1 AND p.day = ?2",
        held_at("p.last_bucket")
    );
    // Days whose 5-minute rows are pruned already (kept as long as the hourly rows, the days'
    // as long as the daily ones): a reused address's day is named by its last holder there.
    let oldest: Option<i64> = l.conn.query_row("SELECT min(bucket) FROM peers", [], |r| r.get(0))?;
    for d in days {
        let pruned = oldest.is_none_or(|o| o > d);
        let mut again = Vec::new();
        let mut q = l.conn.prepare_cached(&day_sql)?;
        let mut rows = q.query(rusqlite::params![source, d])?;
        while let Some(r) = rows.next()? {
            let row = pair_row(r)?;
            if r.get::<_, bool>(10)? && !pruned {
                again.push(row);
            } else {
                out.push(row);
            }
        }
        if again.is_empty() {
            continue;
        }
        // The day's 5-minute rows of one workload, class and peer: a seek of the key a
        // bucket, one statement for the day.
        let buckets: Vec<String> = (0..BUCKETS as i64).map(|i| (d + i * 300).to_string()).collect();
        let sql = five_minute_sql(&format!(
            "p.bucket IN ({}) AND p.workload = ?2 AND p.class = ?3 AND p.peer = ?4",
            buckets.join(", ")
        ));
        for row in again {
            let args = [source.to_string().into(), row.workload.into(), row.class.into(), row.peer.into()];
            read(l, &sql, &args, &mut out)?;
        }
    }
    Ok(out)
}

/// The rows of `sql` with `args`, onto `out`.
fn read(l: &Ledger, sql: &str, args: &[Value], out: &mut Vec<PairRow>) -> Result<()> {
    let mut q = l.conn.prepare_cached(sql)?;
    let mut rows = q.query(params_from_iter(args.iter()))?;
    while let Some(r) = rows.next()? {
        out.push(pair_row(r)?);
    }
    Ok(())
}

/// A row of (workload, class, peer, rx, tx bytes, rx, tx packets, holder, name, pod namespace).
fn pair_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PairRow> {
    let n = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)?.max(0) as u64) };
    Ok(PairRow {
        workload: r.get(0)?,
        class: r.get(1)?,
        peer: r.get(2)?,
        counters: Counters { rx_bytes: n(3)?, tx_bytes: n(4)?, rx_packets: n(5)?, tx_packets: n(6)? },
        holder: r.get(7)?,
        name: r.get(8)?,
        pod_namespace: r.get(9)?,
    })
}

#[cfg(test)]
mod tests;
