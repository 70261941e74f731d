//! The recorder's reads not yet billed. A cycle bills all it read while that is at most
//! `batch` rows (a node with a few dozen workloads has its ledger up to date every cycle).
//! Above that, each row's last read in a 5-minute bucket waits in memory until the bucket
//! closes, and the closed buckets are billed in slices spread over the next bucket's cycles,
//! oldest reads first: the 5-minute, hour, day and month rows of a busy workload are then
//! written once a bucket instead of once a cycle, and no cycle writes them all at once.
//! Nothing is lost meanwhile: what waits is still in the kernel's counters, above the
//! ledger's cursors, so a recorder killed before billing it bills it at its next start (in
//! the bucket of that start).
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use crate::bpf::{Counters, Source};
use crate::ledger::bill::{Seen, Who};
use crate::ledger::Resolution;

/// (epoch, source, cgroup id, class): an epoch is a run of reads in one 5-minute bucket,
/// numbered in the order they were read, so that the map's order is the order of reads.
type Key = (u64, u8, u64, String);

#[derive(Debug, Clone, Copy)]
struct Read {
    at: i64,
    source: Source,
    counters: Counters,
}

#[derive(Debug)]
pub struct Unbilled {
    batch: usize,
    every: i64,
    epoch: u64,
    bucket: Option<i64>,
    reads: BTreeMap<Key, Read>,
    /// Who each cgroup with a waiting read is billed to, one copy per cgroup, and the epoch
    /// it was named in (a cgroup is named again in each bucket).
    whos: HashMap<u64, (u64, Rc<Who>)>,
}

/// What a cycle bills: the rows, in the order they were read, and their keys.
#[derive(Debug, Default)]
pub struct Batch {
    pub seen: Vec<Seen>,
    keys: Vec<Key>,
}

fn source_key(s: Source) -> u8 {
    match s {
        Source::Tc => 0,
        Source::Socket => 1,
    }
}

impl Unbilled {
    /// `batch`: rows billed every cycle before reads wait for their bucket; `every`: the
    /// seconds between cycles (how many cycles a closed bucket's slices are spread over).
    pub fn new(batch: usize, every: std::time::Duration) -> Self {
        Unbilled {
            batch: batch.max(1),
            every: (every.as_secs() as i64).max(1),
            epoch: 0,
            bucket: None,
            reads: BTreeMap::new(),
            whos: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.reads.len()
    }

    pub fn is_empty(&self) -> bool {
        self.reads.is_empty()
    }

    /// Whether a cgroup was named in the bucket of `at` (its reads then need no naming).
    pub fn named(&mut self, at: i64, cgroup_id: u64) -> bool {
        self.advance(at);
        self.whos.get(&cgroup_id).is_some_and(|(e, _)| *e == self.epoch)
    }

    /// Keeps who a cgroup is billed to, as named now (one copy while it stays the same).
    pub fn name(&mut self, cgroup_id: u64, who: Who) {
        let epoch = self.epoch;
        match self.whos.get_mut(&cgroup_id) {
            Some((e, w)) if **w == who => *e = epoch,
            _ => {
                self.whos.insert(cgroup_id, (epoch, Rc::new(who)));
            }
        }
    }

    /// Keeps the read at `at` of a row that moved (a later read in the same bucket replaces
    /// it); its cgroup was named (`name`) first.
    pub fn note(&mut self, at: i64, source: Source, cgroup_id: u64, class: String, counters: Counters) {
        self.advance(at);
        self.reads.insert((self.epoch, source_key(source), cgroup_id, class), Read { at, source, counters });
    }

    /// What the cycle at `at` bills: everything when `all` (a stop, `--once`, a replaced
    /// instance) or when it is at most the batch; else the reads of closed buckets, at
    /// least a batch of them and enough that they are all billed before the current bucket
    /// closes in turn.
    pub fn batch(&mut self, at: i64, all: bool) -> Batch {
        self.advance(at);
        let take: Vec<&Key> = if all || self.reads.len() <= self.batch {
            self.reads.keys().collect()
        } else {
            let due: Vec<&Key> = self.reads.keys().take_while(|k| k.0 < self.epoch).collect();
            let end = Resolution::FiveMinutes.bucket(at) + 300;
            let cycles_left = ((end - at) / self.every).max(1) as usize;
            let n = self.batch.max(due.len().div_ceil(cycles_left));
            due.into_iter().take(n).collect()
        };
        self.batch_of(take)
    }

    /// A new epoch when `at` is in another bucket than the last read or cycle.
    fn advance(&mut self, at: i64) {
        let bucket = Resolution::FiveMinutes.bucket(at);
        if self.bucket != Some(bucket) {
            self.bucket = Some(bucket);
            self.epoch += 1;
        }
    }

    /// Every waiting read of the cgroups in `ids`, in the order they were read (billed with
    /// the final counters of collected workloads).
    pub fn of(&self, ids: &BTreeSet<u64>) -> Batch {
        self.batch_of(self.reads.keys().filter(|k| ids.contains(&k.2)).collect())
    }

    fn batch_of(&self, keys: Vec<&Key>) -> Batch {
        let seen = keys
            .iter()
            .map(|k| {
                let r = &self.reads[*k];
                Seen {
                    source: r.source,
                    cgroup_id: k.2,
                    class: k.3.clone(),
                    counters: r.counters,
                    who: self.whos.get(&k.2).map(|(_, w)| w.clone()).unwrap_or_default(),
                    at: r.at,
                    last: false,
                }
            })
            .collect();
        Batch { seen, keys: keys.into_iter().cloned().collect() }
    }

    /// Keeps only each row's latest read (after a bill failed: while the ledger cannot be
    /// written, memory holds one read a row, not one a bucket). Billing the latest read
    /// bills everything since the ledger's cursor, in the latest read's bucket.
    pub fn collapse(&mut self) {
        let mut latest = std::collections::HashSet::new();
        let older: Vec<Key> =
            self.reads.keys().rev().filter(|k| !latest.insert((k.1, k.2, k.3.clone()))).cloned().collect();
        for k in older {
            self.reads.remove(&k);
        }
    }

    /// Forgets what `b` billed.
    pub fn billed(&mut self, b: &Batch) {
        if b.keys.is_empty() {
            return; // a busy node's cycles between bucket closes: nothing to forget
        }
        for k in &b.keys {
            self.reads.remove(k);
        }
        let waiting: std::collections::HashSet<u64> = self.reads.keys().map(|k| k.2).collect();
        self.whos.retain(|id, _| waiting.contains(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(id: u64) -> Who {
        Who { identity: format!("unit:w{id}.service"), ..Who::default() }
    }

    fn c(tx: u64) -> Counters {
        Counters { tx_bytes: tx, tx_packets: 1, ..Counters::default() }
    }

    fn note(u: &mut Unbilled, at: i64, source: Source, id: u64, c: Counters) {
        if !u.named(at, id) {
            u.name(id, who(id));
        }
        u.note(at, source, id, String::new(), c);
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
        assert!(u.is_empty() && u.whos.is_empty());

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
        let got: Vec<(u64, u64, i64)> =
            b.seen.iter().map(|s| (s.cgroup_id, s.counters.tx_bytes, s.at)).collect();
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
        assert!(u.is_empty() && u.whos.is_empty());
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
    }
}
