//! Each rolled-up day's 5-minute profile of a workload: rx + tx bytes of each of its 288
//! buckets, one row per workload, source, class and day (`series`), written when the day is
//! rolled up, from its 5-minute rows. A 95th percentile over whole days reads one row per
//! workload and day instead of 288 (a month of 1,000 workloads: 31,000 rows, not 8.9
//! million). `series_days` says which days are whole in it: a bill that lands in a day rolled
//! up already (a clock moved back) marks its day not whole, and reports read that day's
//! 5-minute rows instead. Kept as long as the hourly rows.
use std::collections::{BTreeSet, HashMap};

use anyhow::Result;
use rusqlite::{params, Connection, Transaction};

/// The 5-minute buckets of a day.
pub const BUCKETS: usize = 288;
pub const DAY: i64 = 86_400;
/// Bits of `series_days.whole` (and of the fleet's `netattr_days_whole.whole`): the day's
/// series and usage rows are whole; its peer rows are whole in `peer_days` too.
pub const WHOLE: i64 = 1;
pub const PEERS_WHOLE: i64 = 2;

/// Writes the series of `day` for the workloads `lo..hi` from the day's 5-minute rows (one
/// seek of the primary key per bucket), with `version`. False, and nothing written, when some
/// of the day's 5-minute rows are pruned already (hourly rows of the day before the oldest
/// 5-minute row): its profiles could not be whole.
pub(super) fn write_day(tx: &Transaction<'_>, day: i64, lo: i64, hi: i64, version: i64) -> Result<bool> {
    let pruned: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM usage WHERE resolution = 'hour' AND bucket >= ?1
           AND bucket < min(?2, coalesce((SELECT min(bucket) FROM usage WHERE resolution = '5m'), ?2)))",
        params![day, day + DAY],
        |r| r.get(0),
    )?;
    if pruned {
        return Ok(false);
    }
    let buckets: Vec<String> = (0..BUCKETS as i64).map(|i| (day + i * 300).to_string()).collect();
    // Not cached: the statement names the day's buckets.
    let mut stmt = tx.prepare(&format!(
        "SELECT workload, source, class, bucket, rx_bytes + tx_bytes FROM usage
         WHERE resolution = '5m' AND bucket IN ({}) AND workload >= ?1 AND workload < ?2",
        buckets.join(", ")
    ))?;
    let mut by: HashMap<(i64, String, String), Vec<u64>> = HashMap::new();
    let mut rows = stmt.query(params![lo, hi])?;
    while let Some(r) = rows.next()? {
        let slot = ((r.get::<_, i64>(3)? - day) / 300) as usize;
        let v = by.entry((r.get(0)?, r.get(1)?, r.get(2)?)).or_insert_with(|| vec![0; BUCKETS]);
        v[slot.min(BUCKETS - 1)] += r.get::<_, i64>(4)?.max(0) as u64;
    }
    let mut put = tx.prepare_cached(
        "INSERT OR REPLACE INTO series (day, workload, source, class, bytes, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for ((w, s, c), v) in &by {
        put.execute(params![day, w, s, c, pack(v), version])?;
    }
    Ok(true)
}

/// Says what of `day` is whole (WHOLE, PEERS_WHOLE), as of `version`.
pub(super) fn set_day(tx: &Connection, day: i64, whole: i64, version: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO series_days (day, whole, version) VALUES (?1, ?2, ?3)
         ON CONFLICT (day) DO UPDATE SET whole = excluded.whole, version = excluded.version",
        params![day, whole, version],
    )?;
    Ok(())
}

/// A bill landed in these rolled-up days: their series are not whole any more (nor, to
/// readers who read a day from one kind of row, its peer rows).
pub(super) fn spoil(tx: &Connection, days: &BTreeSet<i64>, version: i64) -> Result<()> {
    for d in days {
        tx.execute(
            "UPDATE series_days SET whole = 0, version = ?2 WHERE day = ?1 AND whole != 0",
            params![d, version],
        )?;
    }
    Ok(())
}

/// The whole days of `since..until` (each inside it entirely) whose series are whole.
pub fn whole_days(conn: &Connection, since: i64, until: i64) -> Result<Vec<i64>> {
    days_with(conn, WHOLE, since, until)
}

/// The whole days of `since..until` (each inside it entirely) with every bit of `what`
/// (WHOLE, PEERS_WHOLE).
pub fn days_with(conn: &Connection, what: i64, since: i64, until: i64) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT day FROM series_days WHERE whole & ?3 = ?3 AND day >= ?1 AND day + 86400 <= ?2 ORDER BY day",
    )?;
    let days = stmt.query_map(params![since, until, what], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    Ok(days)
}

/// The parts of `since..until` outside `days` (sorted whole days inside it).
pub fn outside(since: i64, until: i64, days: &[i64]) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut at = since;
    for &d in days {
        if d > at {
            out.push((at, d));
        }
        at = at.max(d + DAY);
    }
    if at < until {
        out.push((at, until));
    }
    out
}

pub fn pack(v: &[u64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn unpack(b: &[u8]) -> impl Iterator<Item = u64> + '_ {
    b.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rest_of_a_period_is_what_whole_days_leave() {
        assert_eq!(outside(0, 3 * DAY, &[DAY]), [(0, DAY), (2 * DAY, 3 * DAY)]);
        assert_eq!(outside(100, 3 * DAY, &[DAY, 2 * DAY]), [(100, DAY)]);
        assert_eq!(outside(0, DAY, &[0]), []);
        assert_eq!(outside(5, 10, &[]), [(5, 10)]);
        let v = vec![1, u64::MAX, 0];
        assert_eq!(unpack(&pack(&v)).collect::<Vec<_>>(), v);
    }
}
