//! How far the hour, day and month rows are whole (the table `rollups`), and which rows a
//! period is read from: the pure state of the rollup, apart from the work (rollup.rs).
use anyhow::Result;
use rusqlite::{params, Connection};

use super::resolution::Resolution;

/// The coarse resolutions, in the order they are rolled up.
pub const COARSE: [Resolution; 3] = [Resolution::Hour, Resolution::Day, Resolution::Month];

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
        // A file before schema 3 (read as it is) has no marks.
        let has_marks: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rollups')",
            [],
            |r| r.get(0),
        )?;
        if !has_marks {
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

/// Writes the mark of resolution `r`.
pub fn set_mark(conn: &Connection, r: Resolution, m: Mark) -> Result<()> {
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
