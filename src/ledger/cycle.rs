//! What the recorder notes of its cycles beside the bills: the last cycle (for `status`)
//! and when each instance's reads had rows of each source (for reports' coverage).
use anyhow::Result;
use rusqlite::params;

use super::bill::{Billed, InstanceKey};
use super::Ledger;
use crate::bpf::Source;

/// How long a cycle took: wall time and the recorder thread's CPU time, in milliseconds.
#[derive(Debug, Default, Clone, Copy)]
pub struct Took {
    pub wall_ms: f64,
    pub cpu_ms: f64,
}

/// What a cycle did, for `status`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Cycle<'a> {
    pub took: Took,
    pub collected: usize,
    /// Reads kept for their bucket to close, not billed yet.
    pub waiting: usize,
    /// Every read before this time (unix seconds) is billed; None: as before (a failed
    /// cycle).
    pub complete_until: Option<i64>,
    pub error: Option<&'a str>,
}

/// Records that the reads of `inst` at `at` had rows of `sources` (for reports: which
/// source covers which part of a period).
pub fn note_coverage(l: &Ledger, inst: &InstanceKey, at: i64, sources: &[Source]) -> Result<()> {
    let mut q = l.conn.prepare_cached(
        "INSERT INTO coverage (instance, source, first, last)
         SELECT id, ?2, ?3, ?3 FROM instances WHERE instance = ?1
         ON CONFLICT (instance, source) DO UPDATE SET last = max(last, excluded.last), first = min(first, excluded.first)",
    )?;
    for s in sources {
        q.execute(params![inst.key, s.name(), at])?;
    }
    Ok(())
}

/// Records the last cycle for `status`.
pub fn note_cycle(l: &Ledger, now: i64, billed: &Billed, c: Cycle<'_>) -> Result<()> {
    l.conn.execute(
        "INSERT INTO recorder (id, at, cycles, duration_ms, cpu_ms, rows, collected, resets, waiting, last_error, complete_until)
         VALUES (1, ?1, 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (id) DO UPDATE SET at = excluded.at, cycles = cycles + 1, duration_ms = excluded.duration_ms,
           cpu_ms = excluded.cpu_ms, rows = excluded.rows, collected = collected + excluded.collected,
           resets = resets + excluded.resets, waiting = excluded.waiting, last_error = excluded.last_error,
           complete_until = coalesce(excluded.complete_until, complete_until)",
        params![
            now,
            c.took.wall_ms,
            c.took.cpu_ms,
            billed.rows as i64,
            c.collected as i64,
            billed.resets.len() as i64,
            c.waiting as i64,
            c.error,
            c.complete_until
        ],
    )?;
    Ok(())
}
