use std::collections::BTreeMap;
use std::rc::Rc;

use super::*;
use crate::bpf::{Counters, Source};
use crate::ledger::bill::InstanceKey;
use crate::ledger::known::Cursor;
use crate::ledger::query::{groups, Ask, Field, Period};
use crate::ledger::TempFile;
use crate::model::{Reading, Workload};
use rusqlite::Connection;

/// Bills `n` workloads at `at`, each sending `step(i)` more bytes than before.
fn bill(l: &mut Ledger, inst: &InstanceKey, sent: &mut [u64], at: i64, step: impl Fn(usize) -> u64) {
    let seen: Vec<Reading> = (0..sent.len())
        .map(|i| {
            sent[i] += step(i);
            Reading {
                source: Source::Socket,
                cgroup_id: 100 + i as u64,
                class: String::new(),
                counters: Counters { tx_bytes: sent[i], tx_packets: sent[i] / 100, ..Counters::default() },
                who: Rc::new(Workload { identity: format!("unit:w{i}.service"), ..Workload::default() }),
                at,
                last: false,
            }
        })
        .collect();
    l.bill(inst, &seen, at, true).unwrap();
}

/// Bills the peer rows of the first 20 workloads (two peers each) at `at`, each peer's
/// counters `step` more than before.
fn bill_peers(l: &mut Ledger, inst: &InstanceKey, sent: &mut [u64], at: i64, step: u64) {
    let rows: Vec<crate::ledger::peers::PeerReading> = (0..sent.len())
        .map(|i| {
            sent[i] += step + i as u64;
            crate::ledger::peers::PeerReading {
                source: Source::Socket,
                cgroup_id: 100 + i as u64 / 2,
                class: "private".into(),
                peer: format!("10.0.0.{}", i % 2 + 1),
                counters: Counters {
                    tx_bytes: sent[i],
                    tx_packets: 1 + sent[i] / 100,
                    ..Counters::default()
                },
            }
        })
        .collect();
    let (n, waiting) = l.bill_peers(&inst.key, at, &rows, &[]).unwrap();
    assert_eq!((n, waiting.len()), (rows.len(), 0));
}

/// The rolled-up days where their peer rows' day rows differ from the sums of their 5-minute
/// rows (bytes, packets, first and last bucket); and how many days are rolled up (with
/// their peer rows whole, and in all).
fn peer_days_wrong(l: &Ledger) -> (Vec<(i64, i64, String)>, i64, i64) {
    let wrong = l
        .conn
        .prepare(
            "WITH sums AS (SELECT bucket - bucket % 86400 AS day, workload, source, class, peer,
                    sum(tx_bytes) AS tx, sum(tx_packets) AS txp, min(bucket) AS f, max(bucket) AS la
                  FROM peers GROUP BY 1, 2, 3, 4, 5)
             SELECT s.day, s.workload, s.peer FROM sums s JOIN series_days d ON d.day = s.day
             LEFT JOIN peer_days p USING (day, workload, source, class, peer)
             WHERE p.tx_bytes IS NOT s.tx OR p.tx_packets IS NOT s.txp OR p.first_bucket IS NOT s.f
               OR p.last_bucket IS NOT s.la",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let (whole, days) = l
        .conn
        .query_row("SELECT sum(whole & 2 = 2), count(*) FROM series_days", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    (wrong, whole, days)
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
    let ask = Ask {
        period: Period { since, until },
        by: &[Field::Identity],
        classes: &[],
        p95: false,
        reallocate: &[],
    };
    let (_, gs) = groups(l, ask, "socket", until).unwrap();
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

/// Each workload's 95th percentile, from the 5-minute rows alone.
fn truth_p95(l: &Ledger, since: i64, until: i64) -> BTreeMap<String, f64> {
    let mut q = l
        .conn
        .prepare(
            "SELECT w.identity, u.rx_bytes + u.tx_bytes FROM usage u JOIN workloads w ON w.id = u.workload
             WHERE u.resolution = '5m' AND u.bucket >= ?1 AND u.bucket < ?2",
        )
        .unwrap();
    let mut by: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in q.query_map([since, until], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).unwrap() {
        let (w, b) = r.unwrap();
        by.entry(w).or_default().push(b as f64 / 300.0);
    }
    let n = crate::ledger::query::intervals(Period { since, until }, until);
    by.into_iter().map(|(w, s)| (w, crate::ledger::query::p95(s, n))).collect()
}

/// Each workload's 95th percentile as `report --p95` gives it (whole days from their series).
fn report_p95(l: &Ledger, since: i64, until: i64) -> BTreeMap<String, f64> {
    let ask = Ask {
        period: Period { since, until },
        by: &[Field::Identity],
        classes: &[],
        p95: true,
        reallocate: &[],
    };
    let (_, gs) = groups(l, ask, "socket", until).unwrap();
    gs.into_iter().map(|g| (g.group["identity"].clone().unwrap(), g.p95_bytes_per_s.unwrap())).collect()
}

/// The 95th percentiles of every period equal those of the 5-minute rows alone.
fn check_p95(l: &Ledger, t0: i64, stage: &str) {
    for (since, until) in periods(t0) {
        let (got, want) = (report_p95(l, since, until), truth_p95(l, since, until));
        let wrong: Vec<_> = got.iter().filter(|(w, v)| want.get(*w) != Some(v)).take(3).collect();
        assert!(
            got.len() == want.len() && wrong.is_empty(),
            "{stage}: p95 of [{since}, {until}): {wrong:?} of {}",
            got.len()
        );
    }
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
    let t = TempFile::new("rollup");
    let mut l = Ledger::open_rw(&t.0).unwrap();
    let inst = InstanceKey { key: "b/1/1".into(), boot_id: "b".into(), loaded_at: 1, pin_dir: "/p".into() };
    // 2026-11-01T00:00Z, a month's start; 300 workloads (more than a slice), billed
    // every 20 minutes from 3 hours before it to 26 hours after.
    let t0 = crate::model::days_from_civil(2026, 11, 1) * 86_400;
    let mut sent = vec![0u64; 300];
    let mut peers = vec![0u64; 40];
    let mut at = t0 - 3 * 3600;
    let mut rolled_some = false;
    while at < t0 + 26 * 3600 {
        bill(&mut l, &inst, &mut sent, at, |i| (i as u64 % 7 + 1) * 1000 + (at as u64 % 13));
        bill_peers(&mut l, &inst, &mut peers, at, 100 + (at as u64 % 17));
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
    check_p95(&l, t0, "rolling behind the bills");
    bill(&mut l, &inst, &mut sent, t0 - 2 * 3600 + 60, |_| 555);
    bill_peers(&mut l, &inst, &mut peers, t0 - 2 * 3600 + 60, 7);
    check(&l, t0, "after a bill in rolled-up periods");
    check_p95(&l, t0, "after a bill in rolled-up periods");
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
    bill_peers(&mut l, &inst, &mut peers, half.done_until + 60, 3);
    check(&l, t0, "after a bill in a bucket rolled up in part");
    // Everything over rolls up; the reports still equal the 5-minute rows, and the
    // month's row is whole.
    while l.roll(t0 + 40 * 86_400, Duration::from_secs(10)).unwrap().slices > 0 {}
    check(&l, t0, "rolled up");
    check_p95(&l, t0, "rolled up");
    let marks = Marks::read(&l.conn).unwrap();
    assert_eq!(marks.get(Resolution::Month).done_until, next(Resolution::Month, t0), "{marks:?}");
    // The days rolled up have their series; the one a late bill landed in is not whole.
    let days: Vec<(i64, i64)> = l
        .conn
        .prepare("SELECT day, whole FROM series_days ORDER BY day")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(days.contains(&(t0 - 86_400, 0)) && days.contains(&(t0, 3)), "{days:?}");
    // Each rolled-up day's peer rows are the sums of its 5-minute peer rows, late bills and
    // all (the day the late bill spoiled too); t0's and t0 + 1's whole.
    assert_eq!(peer_days_wrong(&l), (vec![], 2, 3), "the days' peer rows");
    let month: i64 = l
        .conn
        .query_row("SELECT sum(tx_bytes) FROM usage WHERE resolution = 'month' AND bucket = ?1", [t0], |r| {
            r.get(0)
        })
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
    let t = TempFile::new("rollup-v2");
    let t0 = crate::model::days_from_civil(2026, 11, 1) * 86_400;
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
    let inst = InstanceKey { key: "b/1/1".into(), boot_id: "b".into(), loaded_at: 1, pin_dir: "/p".into() };
    // The cursor came through: w0 is billed from 5,000 B on.
    let cursors = l.cursors("b/1/1").unwrap();
    assert_eq!(
        cursors,
        [Cursor {
            source: Source::Socket,
            cgroup_id: 100,
            class: String::new(),
            counters: Counters { tx_bytes: 5000, tx_packets: 50, ..Counters::default() }
        }]
    );
    let mut sent = vec![5000, 0, 0];
    bill(&mut l, &inst, &mut sent, t0 + 5100, |_| 70_000);
    while l.roll(t0 + 40 * 86_400, Duration::from_secs(10)).unwrap().slices > 0 {}
    check(&l, t0, "migrated and rolled up");
    assert_eq!(report(&l, t0, next(Resolution::Month, t0)).values().sum::<u64>(), 3000 + 4000 + 3 * 70_000);
}
