//! Pruning: each resolution's rows dropped once older than its retention, but never what a
//! coarser resolution is not rolled up from yet or what a fleet store still waits for.
use anyhow::Result;
use rusqlite::params;

use super::marks::Marks;
use super::{Ledger, Resolution};

/// How long each resolution's rows are kept, in seconds (monthly rows are kept for ever).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub five_minutes: i64,
    pub hour: i64,
    pub day: i64,
}

impl Ledger {
    /// Drops the rows older than their resolution's retention, but none that a coarser
    /// resolution is not rolled up from yet, and no 5-minute row a fleet store has not
    /// acknowledged yet (`exports`) unless it is older than `EXPORT_BACKLOG` (those are
    /// counted in `exports.pruned`); returns how many went.
    pub fn prune(&self, r: Retention, now: i64) -> Result<usize> {
        let marks = Marks::read(&self.conn)?;
        let tx = self.conn.unchecked_transaction()?;
        let mut n = 0;
        for (res, keep, coarser) in [
            (Resolution::FiveMinutes, r.five_minutes, Resolution::Hour),
            (Resolution::Hour, r.hour, Resolution::Day),
            (Resolution::Day, r.day, Resolution::Month),
        ] {
            let before = res.bucket(now - keep).min(marks.get(coarser).done_until);
            if res != Resolution::FiveMinutes {
                if res == Resolution::Day {
                    // The peer rows' days go with the usage rows' days.
                    tx.execute("DELETE FROM peer_days WHERE day < ?1", params![before])?;
                }
                n += tx.execute(
                    "DELETE FROM usage WHERE resolution = ?1 AND bucket < ?2",
                    params![res.name(), before],
                )?;
                if res == Resolution::Hour {
                    // The days' 5-minute profiles go with the hours, and who talked to whom.
                    let day = Resolution::Day.bucket(before);
                    for (table, at) in [("series", day), ("series_days", day), ("peers", before)] {
                        let key = if table == "peers" { "bucket" } else { "day" };
                        tx.execute(&format!("DELETE FROM {table} WHERE {key} < ?1"), params![at])?;
                    }
                }
                continue;
            }
            // Unacknowledged rows: kept up to the backlog's limit; past it, counted and dropped.
            let limit = before.min(res.bucket(now - EXPORT_BACKLOG));
            tx.execute(
                "UPDATE exports SET pruned = pruned + (SELECT count(*) FROM usage
                   WHERE resolution = '5m' AND bucket < ?1 AND version >= json_extract(exports.usage_after, '$[0]'))",
                params![limit],
            )?;
            n += tx.execute(
                "DELETE FROM usage WHERE resolution = '5m' AND bucket < ?1
                   AND (bucket < ?2 OR version < (SELECT coalesce(min(json_extract(usage_after, '$[0]')), 9223372036854775807) FROM exports))",
                params![before, limit],
            )?;
        }
        tx.commit()?;
        Ok(n)
    }
}

/// How long 5-minute rows a fleet store has not acknowledged are kept beyond their
/// retention: a store down for longer loses them (counted), the node ledger keeps its hour
/// rows.
pub const EXPORT_BACKLOG: i64 = 31 * 86_400;
