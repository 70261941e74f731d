//! Hour, day and month rows are rolled up from the finer rows once their period is over,
//! instead of being added to at every bill: a bill writes a row's 5-minute bucket only, and
//! an hour's row is written once, from its twelve 5-minute rows (a day's from its hours, a
//! month's from its days). On a busy node that is a quarter of the writes a bill made when
//! it wrote all four.
//!
//! The table `rollups` says, for each coarse resolution, up to where its rows are whole
//! (`done_until`, a bucket boundary): every bucket before it holds the sum of its finer
//! rows. A bucket is rolled up in slices of workloads (`next_workload`: the workloads below
//! it are done in the bucket at `done_until`), each slice one transaction that replaces
//! the bucket's rows of those workloads by the sums of their finer rows, so a recorder
//! killed between slices goes on where it was. A bill that lands in a bucket already rolled
//! up (the wall clock moved back) adds to the coarse rows too: every row stays the sum of
//! its finer ones. Reports read each part of a period from the coarsest rows that are whole
//! there (`pieces`), and pruning never removes finer rows not rolled up yet.
use std::time::Duration;

use anyhow::Result;
use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};

use super::marks::{finer, next, set_mark, Mark, Marks, COARSE};
use super::{peer_days, series, Ledger, Resolution};

/// Workloads a slice rolls up: a few milliseconds of work at most.
const SLICE_WORKLOADS: i64 = 250;
/// Workloads a day's slice rolls up: it also reads their 288 five-minute rows for the day's
/// series (250 took up to 108 ms of CPU, 50 about a fifth of it: scripts/bench/report-cost.sh).
const DAY_SLICE_WORKLOADS: i64 = 50;

/// What a roll did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rolled {
    /// Coarse rows written.
    pub rows: usize,
    pub slices: usize,
}

impl Ledger {
    /// Rolls up the coarse buckets that are over: an hour once every 5-minute bucket of it
    /// is before `horizon` (the bucket of the oldest read not billed yet), a day once its
    /// hours are whole, a month once its days are. Slices go on while this thread has spent
    /// less than `budget` of CPU here (at least one slice when one is due).
    pub fn roll(&mut self, horizon: i64, budget: Duration) -> Result<Rolled> {
        let started = crate::ffi::thread_cpu_time();
        let mut done = Rolled::default();
        while done.slices == 0 || crate::ffi::thread_cpu_time().saturating_sub(started) < budget {
            match self.roll_slice(horizon)? {
                Some(rows) => {
                    done.rows += rows;
                    done.slices += 1;
                }
                None => break,
            }
        }
        Ok(done)
    }

    /// One slice of the first coarse bucket due, in one transaction; None when none is due.
    fn roll_slice(&mut self, horizon: i64) -> Result<Option<usize>> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let marks = Marks::read(&tx)?;
        for r in COARSE {
            let f = finer(r);
            let m = marks.get(r);
            // Finer rows are final before the finer resolution's mark, or before the
            // horizon for 5-minute rows.
            let final_until = if f == Resolution::FiveMinutes {
                Resolution::FiveMinutes.bucket(horizon)
            } else {
                marks.get(f).done_until
            };
            if final_until == i64::MIN {
                continue; // nothing finer is whole yet
            }
            let b = match to_roll(&tx, r, m, final_until)? {
                ToRoll::Nothing => continue,
                ToRoll::Bucket(b) => b,
                ToRoll::Empty(whole) => {
                    set_mark(&tx, r, Mark { done_until: whole, next_workload: 0 })?;
                    tx.commit()?;
                    return Ok(Some(0));
                }
            };
            let end = next(r, b);
            let lo = m.next_workload;
            let hi: Option<i64> = tx
                .query_row(
                    "SELECT id FROM workloads WHERE id >= ?1 ORDER BY id LIMIT 1 OFFSET ?2",
                    params![lo, if r == Resolution::Day { DAY_SLICE_WORKLOADS } else { SLICE_WORKLOADS }],
                    |row| row.get(0),
                )
                .optional()?;
            let rows = roll_rows(&tx, r, b, lo, hi.unwrap_or(i64::MAX))?;
            if r == Resolution::Day {
                // The day's 5-minute profiles beside its rows; whole with its last slice.
                let version = super::bill::next_version(&tx, crate::model::unix_now())?;
                // And its peer rows' day rows.
                let whole = series::write_day(&tx, b, lo, hi.unwrap_or(i64::MAX), version)?;
                if whole {
                    peer_days::roll(&tx, b, lo, hi.unwrap_or(i64::MAX), version)?;
                }
                if hi.is_none() && whole {
                    series::set_day(&tx, b, series::WHOLE | series::PEERS_WHOLE, version)?;
                }
            }
            let mark = match hi {
                Some(hi) => Mark { done_until: b, next_workload: hi },
                None => Mark { done_until: end, next_workload: 0 },
            };
            set_mark(&tx, r, mark)?;
            tx.commit()?;
            return Ok(Some(rows));
        }
        Ok(None)
    }
}

/// What a coarse resolution rolls next.
enum ToRoll {
    /// Nothing is whole yet.
    Nothing,
    /// This bucket.
    Bucket(i64),
    /// The buckets up to this one have no finer rows: whole as they are (empty).
    Empty(i64),
}

/// The bucket of `r` to roll: the one at the mark, else the next one with finer rows if it
/// is over (finer rows are final before `final_until`). Buckets with no finer rows are whole
/// as they are (empty): the mark moves past them.
fn to_roll(tx: &Transaction<'_>, r: Resolution, m: Mark, final_until: i64) -> Result<ToRoll> {
    if m.next_workload > 0 {
        return Ok(ToRoll::Bucket(m.done_until));
    }
    let first: Option<i64> = tx
        .query_row(
            "SELECT min(bucket) FROM usage WHERE resolution = ?1 AND bucket >= ?2",
            params![finer(r).name(), m.done_until],
            |row| row.get(0),
        )
        .optional()?
        .flatten();
    Ok(match first.map(|first| r.bucket(first).max(m.done_until)) {
        Some(b) if next(r, b) <= final_until => ToRoll::Bucket(b),
        _ => {
            let whole = r.bucket(final_until);
            if whole <= m.done_until {
                ToRoll::Nothing
            } else {
                ToRoll::Empty(whole)
            }
        }
    })
}

/// Rolls the finer rows of bucket `b` of `r` up into it, for the workloads `lo..hi`; returns
/// how many rows it wrote.
fn roll_rows(tx: &Transaction<'_>, r: Resolution, b: i64, lo: i64, hi: i64) -> Result<usize> {
    let f = finer(r);
    let end = next(r, b);
    // The finer buckets of `b`, as literals: each is one seek of the primary key.
    let mut buckets = Vec::new();
    let mut fb = b;
    while fb < end {
        buckets.push(fb.to_string());
        fb = next(f, fb);
    }
    Ok(tx.execute(
        &format!(
            "INSERT INTO usage (resolution, bucket, workload, source, class, rx_bytes, tx_bytes, rx_packets, tx_packets)
             SELECT ?1, ?2, workload, source, class, sum(rx_bytes), sum(tx_bytes), sum(rx_packets), sum(tx_packets)
             FROM usage WHERE resolution = ?3 AND bucket IN ({}) AND workload >= ?4 AND workload < ?5
             GROUP BY workload, source, class
             ON CONFLICT (resolution, bucket, workload, source, class) DO UPDATE SET
               rx_bytes = excluded.rx_bytes, tx_bytes = excluded.tx_bytes,
               rx_packets = excluded.rx_packets, tx_packets = excluded.tx_packets",
            buckets.join(", ")
        ),
        params![r.name(), b, f.name(), lo, hi],
    )?)
}

#[cfg(test)]
mod tests;
