use super::*;
use crate::model::Source;

fn seen(id: u64, tx: u64, last: bool, at: i64) -> Reading {
    Reading {
        source: Source::Socket,
        cgroup_id: id,
        class: String::new(),
        counters: Counters { tx_bytes: tx, tx_packets: tx / 100, ..Default::default() },
        who: Rc::new(Workload { identity: format!("unit:w{id}.service"), ..Default::default() }),
        at,
        last,
    }
}

fn total(l: &Ledger, res: &str) -> i64 {
    l.conn
        .query_row("SELECT coalesce(sum(tx_bytes), 0) FROM usage WHERE resolution = ?1", [res], |r| r.get(0))
        .unwrap()
}

#[test]
fn deltas_resets_last_bills_and_pruning() {
    let t = crate::ledger::TempFile::new("bill");
    let path = &t.0;
    let mut l = Ledger::open_rw(path).unwrap();
    let inst = InstanceKey { key: "b/1/7".into(), boot_id: "b".into(), loaded_at: 1, pin_dir: "/p".into() };
    let day = 86_400 * 20_000;
    assert_eq!(l.bill(&inst, &[seen(5, 1000, false, day)], day, true).unwrap().bytes, 1000);
    assert_eq!(l.bill(&inst, &[seen(5, 1500, false, day + 400)], day + 400, true).unwrap().bytes, 500);
    // Lower than its cursor without a new instance: said, not billed.
    let b = l.bill(&inst, &[seen(5, 1200, false, day + 800)], day + 800, true).unwrap();
    assert_eq!((b.bytes, b.resets.len()), (0, 1));
    // The last bill of a collected workload drops its cursor.
    l.bill(&inst, &[seen(5, 1300, true, day + 900)], day + 900, true).unwrap();
    let cursors: i64 = l.conn.query_row("SELECT count(*) FROM cursors", [], |r| r.get(0)).unwrap();
    assert_eq!((total(&l, "month"), total(&l, "5m"), cursors), (0, 1600, 0), "coarse rows wait");
    // Once the month is over, its hours, days and the month are rolled up.
    let rolled = l.roll(day + 86_400 * 40, std::time::Duration::from_secs(10)).unwrap();
    assert_eq!((rolled.rows, total(&l, "hour"), total(&l, "month")), (3, 1600, 1600));
    // A new instance starts from zero; the old one's cursors go. Its bill lands in
    // periods rolled up already (a clock moved back): their rows take it too.
    let next = InstanceKey { key: "b/2/8".into(), loaded_at: 2, ..inst.clone() };
    l.bill(&next, &[seen(6, 700, false, day + 1000)], day + 1000, true).unwrap();
    assert_eq!(
        (total(&l, "5m"), total(&l, "hour"), total(&l, "day"), total(&l, "month")),
        (2300, 2300, 2300, 2300)
    );
    let kept = Retention { five_minutes: 86_400, hour: 86_400 * 2, day: 86_400 * 30 };
    l.prune(kept, day + 86_400 * 3).unwrap();
    assert_eq!(
        (total(&l, "5m"), total(&l, "hour"), total(&l, "day"), total(&l, "month")),
        (0, 0, 2300, 2300)
    );
}

#[test]
fn a_bill_after_another_writer_reads_the_cursors_again() {
    let t = crate::ledger::TempFile::new("known");
    let path = &t.0;
    let (mut a, mut b) = (Ledger::open_rw(path).unwrap(), Ledger::open_rw(path).unwrap());
    let inst = InstanceKey { key: "b/1/7".into(), boot_id: "b".into(), loaded_at: 1, pin_dir: "/p".into() };
    let day = 86_400 * 20_000;
    assert_eq!(a.bill(&inst, &[seen(5, 1000, false, day)], day, true).unwrap().bytes, 1000);
    // Another connection bills the same row on: `a` must not bill that part again.
    assert_eq!(b.bill(&inst, &[seen(5, 1700, false, day + 60)], day + 60, true).unwrap().bytes, 700);
    assert_eq!(a.bill(&inst, &[seen(5, 1900, false, day + 120)], day + 120, true).unwrap().bytes, 200);
    // And `a`'s own bills need no reading back: the next delta is from its last bill.
    assert_eq!(a.bill(&inst, &[seen(5, 2000, false, day + 180)], day + 180, true).unwrap().bytes, 100);
    assert_eq!(total(&a, "5m"), 2000);
    // A workload's description written by `a` and unchanged is not written again, and
    // its last_seen moves once an hour.
    let last = |l: &Ledger| -> i64 {
        l.conn.query_row("SELECT last_seen FROM workloads", [], |r| r.get(0)).unwrap()
    };
    assert_eq!(last(&a), day);
    a.bill(&inst, &[seen(5, 2100, false, day + 3700)], day + 3700, true).unwrap();
    assert_eq!(last(&a), day + 3700);
}

#[test]
fn an_exports_acknowledgement_does_not_make_the_recorder_read_the_file_again() {
    let t = crate::ledger::TempFile::new("known-export");
    let path = &t.0;
    let (mut a, b) = (Ledger::open_rw(path).unwrap(), Ledger::open_rw(path).unwrap());
    let inst = InstanceKey { key: "b/1/8".into(), boot_id: "b".into(), loaded_at: 1, pin_dir: "/p".into() };
    let day = 86_400 * 20_000;
    a.bill(&inst, &[seen(5, 1000, false, day)], day, true).unwrap();
    assert_eq!(a.known.reads, 1);
    // Another connection exports and moves its cursor.
    b.begin_export("clickhouse://h:8123/db", "n").unwrap();
    let batch = b.pending("clickhouse://h:8123/db", 100).unwrap();
    assert_eq!(batch.usage.len(), 1);
    assert!(b.acknowledge("clickhouse://h:8123/db", &batch, day).unwrap());
    assert_eq!(a.bill(&inst, &[seen(5, 1500, false, day + 60)], day + 60, true).unwrap().bytes, 500);
    assert_eq!(a.known.reads, 1, "no reading back after an export");
    // Its own bills neither; another connection's bill does.
    let mut c = Ledger::open_rw(path).unwrap();
    c.bill(&inst, &[seen(5, 1600, false, day + 90)], day + 90, true).unwrap();
    assert_eq!(a.bill(&inst, &[seen(5, 1700, false, day + 120)], day + 120, true).unwrap().bytes, 100);
    assert_eq!(a.known.reads, 2);
}

#[test]
fn one_bill_holding_two_reads_of_a_row_bills_each_delta_once() {
    // A collected workload, or a last cycle, bills every waiting read of a row in one bill:
    // the read of a closed bucket and the read of the open one.
    let t = crate::ledger::TempFile::new("two-reads");
    let path = &t.0;
    let mut l = Ledger::open_rw(path).unwrap();
    let inst = InstanceKey { key: "b/1/7".into(), boot_id: "b".into(), loaded_at: 1, pin_dir: "/p".into() };
    let day = 86_400 * 20_000;
    l.bill(&inst, &[seen(5, 1000, false, day)], day, true).unwrap();
    let mut tc = seen(5, 40, false, day + 300);
    tc.source = Source::Tc;
    let reads = [seen(5, 1500, false, day + 300), tc, seen(5, 2100, true, day + 600)];
    let b = l.bill(&inst, &reads, day + 600, true).unwrap();
    assert_eq!(b.bytes, 500 + 40 + 600);
    let by_bucket: Vec<(i64, i64)> = l
        .conn
        .prepare("SELECT bucket - ?1, sum(tx_bytes) FROM usage WHERE resolution = '5m' AND source = 'socket' GROUP BY bucket")
        .unwrap()
        .query_map([day], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(by_bucket, [(0, 1000), (300, 500), (600, 600)]);
    // The collected cgroup's cursor went with its last read; its tc row is still there.
    let left: i64 = l.conn.query_row("SELECT count(*) FROM cursors", [], |r| r.get(0)).unwrap();
    assert_eq!(left, 1);
}

/// Each cursor row names the workload its cgroup was last billed to, which a connection
/// that opens the file again (a recorder that starts again) reads back with its
/// description; a row that did not move keeps the workload it had.
#[test]
fn cursors_remember_who_each_cgroup_was_billed_to() {
    let t = crate::ledger::TempFile::new("billed-to");
    let inst = InstanceKey { key: "b/1/7".into(), boot_id: "b".into(), loaded_at: 1, pin_dir: "/p".into() };
    let day = 86_400 * 20_000;
    {
        let mut l = Ledger::open_rw(&t.0).unwrap();
        l.bill(&inst, &[seen(5, 1000, false, day), seen(6, 10, false, day)], day, true).unwrap();
        // The same counters again under another name: nothing billed, the cursor keeps
        // the workload it was billed to.
        let mut again = seen(5, 1000, false, day + 60);
        again.who = Rc::new(Workload { identity: "cgroup:5".into(), ..Default::default() });
        l.bill(&inst, &[again], day + 60, false).unwrap();
    }
    let mut l = Ledger::open_rw(&t.0).unwrap();
    let mut got: Vec<(u64, String)> =
        l.billed_to(&inst.key).unwrap().into_iter().map(|(id, w)| (id, w.identity.clone())).collect();
    got.sort();
    assert_eq!(got, [(5, "unit:w5.service".to_string()), (6, "unit:w6.service".to_string())]);
    assert!(l.billed_to("b/2/8").unwrap().is_empty(), "another instance's cgroups are not these");
}
