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
mod tests {
    use std::collections::BTreeMap;
    use std::rc::Rc;

    use super::*;
    use crate::bpf::{Counters, Source};
    use crate::ledger::bill::{InstanceKey, Seen, Who};
    use crate::ledger::query::{groups, Field, Period};

    struct Temp(std::path::PathBuf);
    impl Drop for Temp {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
            }
        }
    }

    fn temp(name: &str) -> Temp {
        let t = Temp(std::env::temp_dir().join(format!("netattr-unit-{name}-{}.db", std::process::id())));
        drop(Temp(t.0.clone()));
        t
    }

    /// Bills `n` workloads at `at`, each sending `step(i)` more bytes than before.
    fn bill(l: &mut Ledger, inst: &InstanceKey, sent: &mut [u64], at: i64, step: impl Fn(usize) -> u64) {
        let seen: Vec<Seen> = (0..sent.len())
            .map(|i| {
                sent[i] += step(i);
                Seen {
                    source: Source::Socket,
                    cgroup_id: 100 + i as u64,
                    class: String::new(),
                    counters: Counters {
                        tx_bytes: sent[i],
                        tx_packets: sent[i] / 100,
                        ..Counters::default()
                    },
                    who: Rc::new(Who { identity: format!("unit:w{i}.service"), ..Who::default() }),
                    at,
                    last: false,
                }
            })
            .collect();
        l.bill(inst, &seen, at, true).unwrap();
    }

    /// What each workload sent in [since, until), from the 5-minute rows alone.
    fn truth(l: &Ledger, since: i64, until: i64) -> BTreeMap<String, u64> {
        let mut q = l
            .conn
            .prepare(
                "SELECT w.identity, sum(u.tx_bytes) FROM usage u JOIN workloads w ON w.id = u.workload
                 WHERE u.resolution = '5m' AND u.bucket >= ?1 AND u.bucket < ?2 GROUP BY 1",
            )
            .unwrap();
        let rows = q.query_map([since, until], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))).unwrap();
        rows.map(Result::unwrap).collect()
    }

    fn report(l: &Ledger, since: i64, until: i64) -> BTreeMap<String, u64> {
        let (_, gs) = groups(l, Period { since, until }, &[Field::Identity], "socket", until, false).unwrap();
        gs.into_iter().map(|g| (g.group["identity"].clone().unwrap(), g.tx_bytes)).collect()
    }

    /// Periods of every shape around `t0` (a month's start): whole months, days, hours,
    /// unaligned ends, across the month boundary.
    fn periods(t0: i64) -> Vec<(i64, i64)> {
        let m0 = Resolution::Month.bucket(t0 - 1);
        vec![
            (m0, t0),
            (t0, next(Resolution::Month, t0)),
            (m0, next(Resolution::Month, t0)),
            (t0 - 86_400, t0 + 86_400),
            (t0 - 3 * 3600, t0 + 5 * 3600),
            (t0 + 3600, t0 + 2 * 3600),
            (t0 - 1234, t0 + 86_400 + 777),
            (t0 + 600, t0 + 86_400),
            (0, t0 + 40 * 86_400),
        ]
    }

    fn check(l: &Ledger, t0: i64, stage: &str) {
        for (since, until) in periods(t0) {
            let (got, want) = (report(l, since, until), truth(l, since, until));
            let sum = |m: &BTreeMap<String, u64>| m.values().sum::<u64>();
            assert!(
                got == want,
                "{stage}: [{}, {}): {} groups, {} B reported against {} groups, {} B in the 5-minute rows; marks {:?}",
                since - t0,
                until - t0,
                got.len(),
                sum(&got),
                want.len(),
                sum(&want),
                Marks::read(&l.conn).unwrap()
            );
        }
    }

    #[test]
    fn reports_equal_the_five_minute_rows_before_during_and_after_every_rollup() {
        let t = temp("rollup");
        let mut l = Ledger::open_rw(&t.0).unwrap();
        let inst =
            InstanceKey { key: "b/1/1".into(), boot_id: "b".into(), loaded_at: 1, pin_dir: "/p".into() };
        // 2026-11-01T00:00Z, a month's start; 300 workloads (more than a slice), billed
        // every 20 minutes from 3 hours before it to 26 hours after.
        let t0 = crate::ledger::days_from_civil(2026, 11, 1) * 86_400;
        let mut sent = vec![0u64; 300];
        let mut at = t0 - 3 * 3600;
        let mut rolled_some = false;
        while at < t0 + 26 * 3600 {
            bill(&mut l, &inst, &mut sent, at, |i| (i as u64 % 7 + 1) * 1000 + (at as u64 % 13));
            // One slice a bill: hours, days and the month roll up behind the bills.
            rolled_some |= l.roll(at, Duration::ZERO).unwrap().slices > 0;
            if (at / 1200) % 3 == 0 {
                check(&l, t0, "rolling behind the bills");
            }
            at += 1200;
        }
        assert!(rolled_some);
        let marks = Marks::read(&l.conn).unwrap();
        assert!(marks.get(Resolution::Hour).done_until > t0, "{marks:?}");
        // The clock moved back into rolled-up periods: their coarse rows take the bill too.
        bill(&mut l, &inst, &mut sent, t0 - 2 * 3600 + 60, |_| 555);
        check(&l, t0, "after a bill in rolled-up periods");
        // And into a bucket rolled up for some of its workloads only.
        let mut half = None;
        for _ in 0..50 {
            l.roll(at, Duration::ZERO).unwrap();
            let m = Marks::read(&l.conn).unwrap();
            half = COARSE.into_iter().map(|r| m.get(r)).find(|m| m.next_workload > 0);
            if half.is_some() {
                break;
            }
        }
        let half = half.expect("a bucket rolled up in part");
        bill(&mut l, &inst, &mut sent, half.done_until + 60, |i| 10 + i as u64);
        check(&l, t0, "after a bill in a bucket rolled up in part");
        // Everything over rolls up; the reports still equal the 5-minute rows, and the
        // month's row is whole.
        while l.roll(t0 + 40 * 86_400, Duration::from_secs(10)).unwrap().slices > 0 {}
        check(&l, t0, "rolled up");
        let marks = Marks::read(&l.conn).unwrap();
        assert_eq!(marks.get(Resolution::Month).done_until, next(Resolution::Month, t0), "{marks:?}");
        let month: i64 = l
            .conn
            .query_row(
                "SELECT sum(tx_bytes) FROM usage WHERE resolution = 'month' AND bucket = ?1",
                [t0],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(month as u64, truth(&l, t0, next(Resolution::Month, t0)).values().sum::<u64>());
        // Pruning with no retention at all keeps the months, and every finer row not rolled
        // up yet: a later bill's 5-minute rows.
        let month = (t0, next(Resolution::Month, t0));
        let before = report(&l, month.0, month.1);
        let t1 = t0 + 45 * 86_400;
        bill(&mut l, &inst, &mut sent, t1, |_| 1);
        l.prune(crate::ledger::bill::Retention { five_minutes: 0, hour: 0, day: 0 }, t1 + 3600).unwrap();
        assert_eq!(report(&l, month.0, month.1), before);
        assert_eq!(report(&l, t1 - 3600, t1 + 3600).values().sum::<u64>(), 300);
    }

    #[test]
    fn a_schema_2_ledger_is_migrated_with_its_coarse_rows_whole() {
        let t = temp("rollup-v2");
        let t0 = crate::ledger::days_from_civil(2026, 11, 1) * 86_400;
        {
            // A schema 2 ledger as netattr wrote it: every bill in all four resolutions.
            let c = Connection::open(&t.0).unwrap();
            for step in &super::super::schema::MIGRATIONS[..2] {
                c.execute_batch(step).unwrap();
            }
            c.pragma_update(None, "user_version", 2).unwrap();
            c.execute("INSERT INTO workloads (id, identity, first_seen, last_seen) VALUES (1, 'unit:old.service', 0, 0)", [])
                .unwrap();
            // An instance and its cursor: workload w0's socket counters billed up to 5,000 B.
            c.execute("INSERT INTO instances VALUES ('b/1/1', 'b', 1, '/p', 0, 0)", []).unwrap();
            c.execute("INSERT INTO cursors VALUES ('b/1/1', 'socket', 100, '', 0, 5000, 0, 50)", []).unwrap();
            for (i, at) in [t0 - 86_400 - 600, t0 - 3600, t0 + 600, t0 + 5000].into_iter().enumerate() {
                for r in Resolution::ALL {
                    c.execute(
                        "INSERT INTO usage VALUES (?1, ?2, 1, 'socket', '', 0, ?3, 0, 0)
                         ON CONFLICT DO UPDATE SET tx_bytes = tx_bytes + excluded.tx_bytes",
                        params![r.name(), r.bucket(at), 1000 * (i as i64 + 1)],
                    )
                    .unwrap();
                }
            }
        }
        let mut l = Ledger::open_rw(&t.0).unwrap();
        let marks = Marks::read(&l.conn).unwrap();
        // Whole up to the bucket of the latest finer row, which is rolled up again.
        assert_eq!(
            [Resolution::Hour, Resolution::Day, Resolution::Month].map(|r| marks.get(r).done_until),
            [t0 + 3600, t0, t0]
        );
        check(&l, t0, "migrated");
        let inst =
            InstanceKey { key: "b/1/1".into(), boot_id: "b".into(), loaded_at: 1, pin_dir: "/p".into() };
        // The cursor came through: w0 is billed from 5,000 B on.
        let cursors = crate::ledger::bill::cursors(&l, "b/1/1").unwrap();
        assert_eq!(cursors[&(Source::Socket, 100, String::new())].tx_bytes, 5000);
        let mut sent = vec![5000, 0, 0];
        bill(&mut l, &inst, &mut sent, t0 + 5100, |_| 70_000);
        while l.roll(t0 + 40 * 86_400, Duration::from_secs(10)).unwrap().slices > 0 {}
        check(&l, t0, "migrated and rolled up");
        assert_eq!(
            report(&l, t0, next(Resolution::Month, t0)).values().sum::<u64>(),
            3000 + 4000 + 3 * 70_000
        );
    }
}
