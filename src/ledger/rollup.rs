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
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{Ledger, Resolution};

/// The coarse resolutions, in the order they are rolled up.
pub const COARSE: [Resolution; 3] = [Resolution::Hour, Resolution::Day, Resolution::Month];

/// Workloads a slice rolls up: a few milliseconds of work at most.
const SLICE_WORKLOADS: i64 = 250;

/// Where one coarse resolution's rows are whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// Every bucket before this holds the sum of its finer rows (i64::MIN: none yet).
    pub done_until: i64,
    /// In the bucket at `done_until`, the workloads below this are rolled up (0: none).
    pub next_workload: i64,
}

/// The marks of the three coarse resolutions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marks([Mark; 3]);

impl Marks {
    /// Everything whole: a ledger from before rollups (schema 2 and older, read as it is),
    /// whose bills wrote every resolution.
    pub const ALL_DONE: Marks = Marks([Mark { done_until: i64::MAX, next_workload: 0 }; 3]);

    pub fn read(conn: &Connection) -> Result<Marks> {
        if super::schema::version(conn)? < 3 {
            return Ok(Marks::ALL_DONE);
        }
        let mut m = Marks([Mark { done_until: i64::MIN, next_workload: 0 }; 3]);
        let mut q = conn.prepare_cached("SELECT resolution, done_until, next_workload FROM rollups")?;
        let mut rows = q.query([])?;
        while let Some(r) = rows.next()? {
            let name: String = r.get(0)?;
            if let Some(i) = COARSE.iter().position(|c| c.name() == name) {
                m.0[i] = Mark { done_until: r.get(1)?, next_workload: r.get(2)? };
            }
        }
        Ok(m)
    }

    pub fn get(&self, r: Resolution) -> Mark {
        match r {
            Resolution::FiveMinutes => Mark { done_until: i64::MAX, next_workload: 0 },
            Resolution::Hour => self.0[0],
            Resolution::Day => self.0[1],
            Resolution::Month => self.0[2],
        }
    }

    /// Whether resolution `r`'s row of `workload` in the bucket holding `t` is rolled up
    /// already: a bill at `t` must then add to it as well.
    pub fn rolled(&self, r: Resolution, t: i64, workload: i64) -> bool {
        let m = self.get(r);
        let b = r.bucket(t);
        b < m.done_until || (b == m.done_until && workload < m.next_workload)
    }
}

/// The resolution a coarse one is rolled up from.
pub fn finer(r: Resolution) -> Resolution {
    match r {
        Resolution::Month => Resolution::Day,
        Resolution::Day => Resolution::Hour,
        _ => Resolution::FiveMinutes,
    }
}

/// The start of the bucket after the one starting at `b`.
pub fn next(r: Resolution, b: i64) -> i64 {
    match r {
        Resolution::FiveMinutes => b + 300,
        Resolution::Hour => b + 3600,
        Resolution::Day => b + 86_400,
        // A month is at most 31 days: the next month's first day.
        Resolution::Month => Resolution::Month.bucket(b + 32 * 86_400),
    }
}

/// The parts of [since, until) and the resolution each is read from: the coarsest whose
/// buckets tile the part and are whole there, finer rows for the rest (5-minute rows for
/// what no coarser one covers). In time order.
pub fn pieces(since: i64, until: i64, marks: &Marks) -> Vec<(Resolution, i64, i64)> {
    let mut out = Vec::new();
    let mut t = since;
    for r in [Resolution::Month, Resolution::Day, Resolution::Hour] {
        if r.bucket(t) != t {
            continue;
        }
        let whole = until.min(marks.get(r).done_until);
        if whole <= t {
            continue;
        }
        let end = r.bucket(whole);
        if end > t {
            out.push((r, t, end));
            t = end;
        }
    }
    if t < until {
        out.push((Resolution::FiveMinutes, t, until));
    }
    out
}

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
            // The bucket to roll: the one at the mark, else the next one with finer rows
            // if it is over. Buckets with no finer rows are whole as they are (empty): the
            // mark moves past them.
            let b = if m.next_workload > 0 {
                m.done_until
            } else {
                let first: Option<i64> = tx
                    .query_row(
                        "SELECT min(bucket) FROM usage WHERE resolution = ?1 AND bucket >= ?2",
                        params![f.name(), m.done_until],
                        |row| row.get(0),
                    )
                    .optional()?
                    .flatten();
                match first.map(|first| r.bucket(first).max(m.done_until)) {
                    Some(b) if next(r, b) <= final_until => b,
                    _ => {
                        let whole = r.bucket(final_until);
                        if whole <= m.done_until {
                            continue;
                        }
                        set_mark(&tx, r, Mark { done_until: whole, next_workload: 0 })?;
                        tx.commit()?;
                        return Ok(Some(0));
                    }
                }
            };
            let end = next(r, b);
            let lo = m.next_workload;
            let hi: Option<i64> = tx
                .query_row(
                    "SELECT id FROM workloads WHERE id >= ?1 ORDER BY id LIMIT 1 OFFSET ?2",
                    params![lo, SLICE_WORKLOADS],
                    |row| row.get(0),
                )
                .optional()?;
            // The finer buckets of `b`, as literals: each is one seek of the primary key.
            let mut buckets = Vec::new();
            let mut fb = b;
            while fb < end {
                buckets.push(fb.to_string());
                fb = next(f, fb);
            }
            let rows = tx.execute(
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
                params![r.name(), b, f.name(), lo, hi.unwrap_or(i64::MAX)],
            )?;
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

fn set_mark(conn: &Connection, r: Resolution, m: Mark) -> Result<()> {
    conn.execute(
        "INSERT INTO rollups (resolution, done_until, next_workload) VALUES (?1, ?2, ?3)
         ON CONFLICT (resolution) DO UPDATE SET done_until = excluded.done_until, next_workload = excluded.next_workload",
        params![r.name(), m.done_until, m.next_workload],
    )?;
    Ok(())
}

/// Schema 3's marks for a ledger whose bills wrote every resolution: each coarse
/// resolution is whole up to the bucket of the latest finer row (that bucket is rolled up
/// again from its finer rows, which are all there), or past its own latest row where the
/// finer rows are all pruned.
pub fn mark_migrated(conn: &Connection) -> Result<()> {
    for r in COARSE {
        let latest = |res: Resolution| -> Result<Option<i64>> {
            Ok(conn.query_row(
                "SELECT max(bucket) FROM usage WHERE resolution = ?1",
                [res.name()],
                |row| row.get(0),
            )?)
        };
        let done_until = match (latest(finer(r))?, latest(r)?) {
            (Some(f), _) => r.bucket(f),
            (None, Some(own)) => next(r, own),
            (None, None) => continue,
        };
        set_mark(conn, r, Mark { done_until, next_workload: 0 })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
