//! Billing questions asked of the ledger alone: totals per group over a period, and the
//! 95th percentile of 5-minute rates per group (the transit-billing figure).
use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

pub use super::ask::{Ask, Group};
use super::marks::{self, Marks};
use super::samples::Samples;
pub use super::samples::{intervals, p95};
use super::select::{Sql, FILTER};
use super::{Ledger, Resolution};
pub use crate::model::{parse_bytes, parse_time, Field, Period};

/// The groups of `ask.by` over `ask.period` for `source`, largest first; with `ask.p95`, each
/// group's 95th percentile of 5-minute rates (a scan of every 5-minute row of the period).
pub fn groups(l: &Ledger, ask: Ask<'_>, source: &str, now: i64) -> Result<(Resolution, Vec<Group>)> {
    if ask.by.iter().any(Field::of_peers) || !ask.reallocate.is_empty() {
        return Ok((Resolution::FiveMinutes, super::pairs::groups(l, &ask, source)?));
    }
    let marks = Marks::read(&l.conn)?;
    let pieces = marks::pieces(ask.period.since, ask.period.until, &marks);
    let q = Sql::new(ask.by, ask.classes, source)?;
    let keys = &q.keys;
    // Each piece of the period from its own resolution's rows.
    let pieces_sql = vec![format!("(u.resolution = ? AND {FILTER})"); pieces.len().max(1)].join(" OR ");
    let sql = format!(
        "SELECT {keys}, sum(u.rx_bytes), sum(u.tx_bytes), sum(u.rx_packets), sum(u.tx_packets)
         FROM usage u JOIN workloads w ON w.id = u.workload
         WHERE {pieces_sql}
         GROUP BY {keys} ORDER BY sum(u.rx_bytes) + sum(u.tx_bytes) DESC"
    );
    let mut filters = Vec::new();
    if pieces.is_empty() {
        filters.extend(q.filter(Resolution::FiveMinutes, ask.period.since, ask.period.until));
    }
    for (res, since, until) in &pieces {
        filters.extend(q.filter(*res, *since, *until));
    }
    let n = ask.by.len().max(1);
    let mut stmt = l.conn.prepare(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(q.around(filters)))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut group = BTreeMap::new();
        for (i, f) in ask.by.iter().enumerate() {
            group.insert(f.label(), r.get::<_, Option<String>>(i)?);
        }
        out.push(Group {
            group,
            rx_bytes: r.get::<_, i64>(n)? as u64,
            tx_bytes: r.get::<_, i64>(n + 1)? as u64,
            rx_packets: r.get::<_, i64>(n + 2)? as u64,
            tx_packets: r.get::<_, i64>(n + 3)? as u64,
            p95_bytes_per_s: None,
        });
    }
    if ask.p95 {
        add_p95(l, &ask, &q, now, &mut out)?;
    }
    // The coarsest rows read.
    let res = pieces.iter().map(|p| p.0).max_by_key(|r| *r as u8).unwrap_or(Resolution::FiveMinutes);
    Ok((res, out))
}

/// 95th percentiles from the 5-minute figures: the whole days' series (`series`) and the
/// 5-minute rows of the rest, unless some of the period's rows were pruned: hourly rows older
/// than the oldest 5-minute row, outside whole series days, say so.
fn add_p95(l: &Ledger, ask: &Ask<'_>, q: &Sql<'_>, now: i64, out: &mut [Group]) -> Result<()> {
    let period = ask.period;
    let oldest: Option<i64> =
        l.conn.query_row("SELECT min(bucket) FROM usage WHERE resolution = '5m'", [], |r| r.get(0))?;
    let days = super::series::whole_days(&l.conn, period.since, period.until)?;
    let pruned: bool = l.conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM usage WHERE resolution = 'hour' AND bucket >= ?1 AND bucket < ?2
           AND bucket - bucket % 86400 NOT IN (SELECT day FROM series_days WHERE whole & 1 = 1))",
        rusqlite::params![
            period.since,
            oldest.map_or(period.until, |o| o.saturating_sub(3600).min(period.until))
        ],
        |r| r.get(0),
    )?;
    if pruned || (oldest.is_none() && days.is_empty()) {
        return Ok(());
    }
    let mut samples = Samples::new(l, ask.by)?;
    samples.add_series(l, q, &days)?;
    for (since, until) in super::series::outside(period.since, period.until, &days) {
        samples.add_rows(l, q, since, until)?;
    }
    let mut samples = samples.finish();
    let intervals = intervals(period, now);
    for g in out {
        let key: Vec<Option<String>> = ask.by.iter().map(|f| g.group[&f.label()].clone()).collect();
        g.p95_bytes_per_s = Some(p95(samples.remove(&key).unwrap_or_default(), intervals));
    }
    Ok(())
}

/// The recorder's last cycle, for `status`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RecorderState {
    pub at: i64,
    pub cycles: i64,
    pub duration_ms: f64,
    /// CPU time of the cycle (the recorder's thread).
    pub cpu_ms: f64,
    pub rows: i64,
    pub collected: i64,
    pub resets: i64,
    /// Reads waiting for their 5-minute bucket to close (a busy node's), not billed yet.
    pub waiting: i64,
    pub last_error: Option<String>,
    /// Unix seconds: the ledger holds everything the recorder read before it (null before
    /// schema 6's first cycle).
    pub complete_until: Option<i64>,
}

pub fn recorder(l: &Ledger) -> Result<Option<RecorderState>> {
    use rusqlite::OptionalExtension;
    // A version 1 file (read as it is, not migrated) has no `waiting`: none waited.
    let v = super::schema::version(&l.conn)?;
    let waiting = if v >= 2 { "waiting" } else { "0" };
    let complete = if v >= 6 { "complete_until" } else { "NULL" };
    Ok(l.conn
        .query_row(
            &format!(
                "SELECT at, cycles, duration_ms, cpu_ms, rows, collected, resets, last_error, {waiting}, {complete} FROM recorder WHERE id = 1"
            ),
            [],
            |r| {
                Ok(RecorderState {
                    at: r.get(0)?,
                    cycles: r.get(1)?,
                    duration_ms: r.get(2)?,
                    cpu_ms: r.get(3)?,
                    rows: r.get(4)?,
                    collected: r.get(5)?,
                    resets: r.get(6)?,
                    last_error: r.get(7)?,
                    waiting: r.get(8)?,
                    complete_until: r.get(9)?,
                })
            },
        )
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_and_times() {
        let t = parse_time("2026-11-29T13:45:00Z").unwrap();
        assert_eq!(t, parse_time("2026-11-29").unwrap() + 13 * 3600 + 45 * 60);
        assert_eq!(Period::named("today", t, 1).unwrap().since, parse_time("2026-11-29").unwrap());
        let m = Period::named("this-month", t, 1).unwrap();
        assert_eq!(
            (m.since, m.until),
            (parse_time("2026-11-01").unwrap(), parse_time("2026-12-01").unwrap())
        );
        let l = Period::named("last-month", parse_time("2026-01-10").unwrap(), 15).unwrap();
        assert_eq!(
            (l.since, l.until),
            (parse_time("2025-11-15").unwrap(), parse_time("2025-12-15").unwrap())
        );
        assert_eq!(Resolution::Month.bucket(t), parse_time("2026-11-01").unwrap());
        assert!(parse_time("2026-13-01").is_err() && parse_time("yesterday").is_err());
        assert!(parse_time("2026-02-30").unwrap_err().to_string().contains("2026-02 has 28 days"));
        assert_eq!(parse_time("2024-02-29").unwrap(), parse_time("2024-03-01").unwrap() - 86_400);
        assert_eq!(parse_time("2026-11-29T14:45:00+01:00").unwrap(), t);
        assert_eq!(parse_time("2026-11-29T13:15-00:30").unwrap(), t);
        assert_eq!(parse_time("2026-11-29T13:45").unwrap(), t, "UTC when no zone is given");
        assert!(parse_time("2026-11-29T13:45+1").is_err() && parse_time("2026-11-29T13:45+24:00").is_err());
        for huge in ["-9223372036854775808", "9223372036854775807", "99999999999-01-01", "0-01-01"] {
            assert!(parse_time(huge).is_err(), "{huge}");
        }
        assert_eq!(parse_bytes("500GiB").unwrap(), 500 << 30);
        assert_eq!(parse_bytes("2 TB").unwrap(), 2_000_000_000_000);
        assert!(parse_bytes("5 parsecs").is_err());
        assert_eq!(parse_bytes("18446744073709551615").unwrap(), u64::MAX, "exact to the last byte");
        assert!(parse_bytes("18446744073709551616").is_err() && parse_bytes("16777216TiB").is_err());
        assert_eq!(parse_bytes("1.5KiB").unwrap(), 1536);
        assert!(parse_bytes("").is_err() && parse_bytes(".").is_err() && parse_bytes("1e400").is_err());
        assert_eq!(p95(vec![10.0; 5], 100), 0.0, "idle intervals count");
        assert_eq!(p95((1..=100).map(f64::from).collect(), 100), 95.0);
    }
}
