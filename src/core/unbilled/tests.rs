use super::*;

fn who(id: u64) -> Workload {
    Workload { identity: format!("unit:w{id}.service"), ..Workload::default() }
}

fn c(tx: u64) -> Counters {
    Counters { tx_bytes: tx, tx_packets: 1, ..Counters::default() }
}

fn note(u: &mut Unbilled, at: i64, source: Source, id: u64, c: Counters) {
    if !u.named(at, id) {
        u.name(id, who(id));
    }
    u.note(at, (source, id, 0), c);
}

#[test]
fn small_reads_are_billed_at_once_and_large_ones_by_closed_bucket_in_slices() {
    let t0 = 1_764_000_000; // a bucket's start (a multiple of 300)
    let mut u = Unbilled::new(2, std::time::Duration::from_secs(60));
    note(&mut u, t0, Source::Socket, 1, c(10));
    note(&mut u, t0 + 60, Source::Socket, 1, c(20));
    let b = u.batch(t0 + 60, false);
    assert_eq!((b.seen.len(), b.seen[0].counters.tx_bytes, b.seen[0].at), (1, 20, t0 + 60));
    u.billed(&b);
    assert!(u.is_empty());
    // The same row moves again in the bucket: kept without naming, billed to the same
    // workload (its cgroup's who outlives the bill).
    assert_eq!(u.moved(t0 + 90, (Source::Socket, 1, 0), c(20)), Moved::No);
    assert_eq!(u.moved(t0 + 90, (Source::Socket, 1, 0), c(30)), Moved::Kept);
    let b = u.batch(t0 + 90, false);
    assert_eq!((b.seen.len(), b.seen[0].who.identity.as_str()), (1, "unit:w1.service"));
    u.billed(&b);

    // Twelve rows move in one bucket: above the batch, they wait for the bucket to close.
    for id in 0..12 {
        note(&mut u, t0 + 120, Source::Tc, id, c(id));
    }
    assert!(u.batch(t0 + 180, false).seen.is_empty());
    // The bucket closes with nothing read since: its reads are due all the same.
    assert_eq!(u.batch(t0 + 300, false).seen.len(), 3);
    // The next bucket: its first cycle (of 5 before it closes in turn) bills 3 of the 12
    // (more than the batch of 2), oldest first; the new reads wait.
    for id in 0..12 {
        note(&mut u, t0 + 300, Source::Tc, id, c(100 + id));
    }
    let b = u.batch(t0 + 300, false);
    let got: Vec<(u64, u64, i64)> = b.seen.iter().map(|s| (s.cgroup_id, s.counters.tx_bytes, s.at)).collect();
    assert_eq!(got, [(0, 0, t0 + 120), (1, 1, t0 + 120), (2, 2, t0 + 120)]);
    u.billed(&b);
    assert_eq!(u.len(), 21);
    // A collected workload's waiting reads, in the order they were read.
    let b = u.of(&BTreeSet::from([5]));
    let got: Vec<(u64, i64)> = b.seen.iter().map(|s| (s.counters.tx_bytes, s.at)).collect();
    assert_eq!(got, [(5, t0 + 120), (105, t0 + 300)]);
    assert_eq!(&*b.seen[1].who, &who(5));
    assert!(u.named(t0 + 400, 6), "named in this bucket");
    u.billed(&b);
    // The last cycle of the bucket bills all that is due; a stop bills everything.
    assert_eq!(u.batch(t0 + 590, false).seen.len(), 8);
    let all = u.batch(t0 + 590, true);
    assert_eq!(all.seen.len(), 19);
    assert!(all.seen.windows(2).all(|w| w[0].at <= w[1].at), "in the order read");
    u.billed(&all);
    assert!(u.is_empty());
    // A failing ledger: one read a row is kept, the latest.
    for t in [t0 + 600, t0 + 900, t0 + 1200] {
        for id in 0..3 {
            note(&mut u, t, Source::Tc, id, c(t as u64 + id));
        }
    }
    u.collapse();
    let kept: Vec<(u64, u64)> =
        u.batch(t0 + 1200, true).seen.iter().map(|s| (s.cgroup_id, s.counters.tx_bytes)).collect();
    let t = (t0 + 1200) as u64;
    assert_eq!(kept, [(0, t), (1, t + 1), (2, t + 2)]);
    let all = u.batch(t0 + 1200, true);
    u.billed(&all);
    // Named once a bucket: named again in the next one.
    note(&mut u, t0 + 600, Source::Tc, 6, c(300));
    assert!(u.named(t0 + 700, 6) && !u.named(t0 + 900, 6));
    // A read in a later bucket is kept under the earlier name at once, and its cgroup
    // is among those to name again (once, for all its rows).
    assert_eq!(u.moved(t0 + 900, (Source::Tc, 6, 0), c(400)), Moved::Kept);
    assert_eq!(u.moved(t0 + 900, (Source::Socket, 6, 0), c(1)), Moved::Kept);
    assert_eq!(u.moved(t0 + 900, (Source::Tc, 99, 0), c(1)), Moved::Unnamed);
    assert_eq!(u.to_rename(t0 + 900, false), [6]);
    u.name(6, who(6));
    assert!(u.to_rename(t0 + 960, false).is_empty() && u.named(t0 + 960, 6));
}

/// A recorder that starts again knows who its cgroups were billed to (the ledger's cursors):
/// their reads are kept under those names at once, and the cgroups are named again a share
/// a cycle, all of them in a last cycle.
#[test]
fn names_from_before_a_start_are_kept_and_renamed_a_share_a_cycle() {
    let t0 = 1_764_000_000;
    let mut u = Unbilled::new(2, std::time::Duration::from_secs(60));
    for id in 1..=5 {
        u.seed(id, Rc::new(who(id)));
    }
    // A name known already is not replaced by the ledger's.
    note(&mut u, t0, Source::Socket, 9, c(1));
    u.seed(9, Rc::new(Workload { identity: "cgroup:9".into(), ..Workload::default() }));
    for id in [1, 2, 3, 4, 5, 9] {
        assert_eq!(u.moved(t0, (Source::Tc, id, 0), c(id)), Moved::Kept);
    }
    assert_eq!(u.moved(t0, (Source::Tc, 6, 0), c(6)), Moved::Unnamed);
    let b = u.batch(t0, true);
    let billed: BTreeSet<(u64, &str)> =
        b.seen.iter().map(|s| (s.cgroup_id, s.who.identity.as_str())).collect();
    let want: BTreeSet<(u64, String)> = [1, 2, 3, 4, 5, 9].map(|id| (id, who(id).identity)).into();
    assert_eq!(billed, want.iter().map(|(id, w)| (*id, w.as_str())).collect());
    assert_eq!(b.seen.len(), 7);
    u.billed(&b);
    // Five to name again over the bucket's five cycles (more than the batch of 2): one a cycle.
    assert_eq!(u.to_rename(t0, false), [1]);
    u.name(1, who(1));
    assert_eq!(u.to_rename(t0 + 60, false), [2]);
    // A last cycle names every one left.
    assert_eq!(u.to_rename(t0 + 120, true), [3, 4, 5]);
}
