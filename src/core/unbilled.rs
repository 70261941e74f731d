//! The recorder's reads not yet billed. A cycle bills all it read while that is at most
//! `batch` rows (a node with a few dozen workloads has its ledger up to date every cycle).
//! Above that, each row's last read in a 5-minute bucket waits in memory until the bucket
//! closes, and the closed buckets are billed in slices spread over the next bucket's cycles,
//! oldest reads first: the 5-minute row of a busy workload is then written once a bucket
//! instead of once a cycle, and no cycle writes them all at once.
//! Nothing is lost meanwhile: what waits is still in the kernel's counters, above the
//! ledger's cursors, so a recorder killed before billing it bills it at its next start (in
//! the bucket of that start).
use std::collections::{BTreeSet, VecDeque};
use std::rc::Rc;

use foldhash::HashMap;

use crate::bpf::{Counters, Source};
use crate::ledger::Resolution;
use crate::model::{Reading, Workload};

mod batch;
mod class_names;
mod table;
pub use class_names::ClassNames;
use table::{Order, Table};

pub use table::ReadKey;

/// The epoch of the names `seed` gives: before any of this recorder's.
const BEFORE_START: u64 = u64::MAX;

/// A read kept to be billed: the epoch it was read in (a run of reads in one 5-minute
/// bucket, numbered in the order they were read), when, and the counters.
#[derive(Debug, Clone, Copy)]
struct Read {
    epoch: u64,
    at: i64,
    counters: Counters,
}

/// What the recorder keeps of a row: its last read, the epoch its cgroup was last named in
/// for it, and its reads not billed yet, oldest first, at most one an epoch (the latest).
#[derive(Debug, Default)]
struct State {
    last: Option<Counters>,
    named: Option<u64>,
    reads: Vec<Read>,
}

/// What `moved` found of a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    /// The same counters as the last read: nothing to bill.
    No,
    /// Kept to be billed.
    Kept,
    /// Its cgroup was never named: name it, then `note` the read.
    Unnamed,
}

#[derive(Debug)]
pub struct Unbilled {
    batch: usize,
    every: i64,
    epoch: u64,
    bucket: Option<i64>,
    /// Every row read (its last counters), with what waits of it: found a cycle by its
    /// position in its stream's read (`table`).
    rows: Table<State>,
    /// The streams of reads (`begin_read`), and the one under way.
    orders: Vec<Order>,
    stream: usize,
    count: usize,
    /// The reads of closed epochs in the order they are billed (by epoch, then row): made
    /// once as each epoch ends; entries already billed or collapsed are skipped.
    due: VecDeque<(u64, ReadKey)>,
    /// Workload each cgroup read is billed to, one copy per cgroup, and the epoch it was named in
    /// (a cgroup is named again in each bucket); kept until the cgroup is collected.
    whos: HashMap<u64, (u64, Rc<Workload>)>,
    /// Cgroups read in this bucket under an earlier bucket's name, to name again.
    stale: Vec<u64>,
    pub class_names: ClassNames,
}

/// What a cycle bills: the rows, in the order they were read, and their reads.
#[derive(Debug, Default)]
pub struct Batch {
    pub seen: Vec<Reading>,
    keys: Vec<(u64, ReadKey)>,
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
            rows: Table::default(),
            orders: Vec::new(),
            stream: 0,
            count: 0,
            due: VecDeque::new(),
            whos: HashMap::default(),
            stale: Vec::new(),
            class_names: ClassNames::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether a cgroup was named in the bucket of `at`.
    #[cfg(test)]
    fn named(&mut self, at: i64, cgroup_id: u64) -> bool {
        self.advance(at);
        self.whos.get(&cgroup_id).is_some_and(|(e, _)| *e == self.epoch)
    }

    /// The cgroups to name again in the cycle at `at`: those read in this bucket under a
    /// name from an earlier one (or from before this recorder started, `seed`), all of them
    /// while they are at most a batch or when `all` (a last cycle bills everything), else a
    /// share that names them all before the bucket closes (naming 10,000 cgroups at once is
    /// a cycle's whole budget).
    pub fn to_rename(&mut self, at: i64, all: bool) -> Vec<u64> {
        self.advance(at);
        let epoch = self.epoch;
        let whos = &self.whos;
        self.stale.retain(|id| whos.get(id).is_some_and(|(e, _)| *e != epoch));
        self.stale.sort_unstable();
        self.stale.dedup();
        let n = if all || self.stale.len() <= self.batch {
            self.stale.len()
        } else {
            let end = Resolution::FiveMinutes.bucket(at) + 300;
            let cycles_left = ((end - at + self.every - 1) / self.every).max(1) as usize;
            self.stale.len().div_ceil(cycles_left)
        };
        self.stale.drain(..n).collect()
    }

    /// The path a cgroup was named at, if any.
    pub fn path(&self, cgroup_id: u64) -> Option<&str> {
        self.whos.get(&cgroup_id)?.1.path.as_deref()
    }

    /// Workload a cgroup was billed to before this recorder started (the ledger's last bill of
    /// it): its reads are kept under that name, as under a name from an earlier bucket, and
    /// it is named again a share a cycle (`to_rename`) instead of all in the first cycle.
    pub fn seed(&mut self, cgroup_id: u64, who: Rc<Workload>) {
        self.whos.entry(cgroup_id).or_insert((BEFORE_START, who));
    }

    /// Keeps who a cgroup is billed to, as named now (one copy while it stays the same).
    pub fn name(&mut self, cgroup_id: u64, who: Workload) {
        let epoch = self.epoch;
        match self.whos.get_mut(&cgroup_id) {
            Some((e, w)) if **w == who => *e = epoch,
            _ => {
                self.whos.insert(cgroup_id, (epoch, Rc::new(who)));
            }
        }
    }

    /// The counters a row was last read with (at first, what the ledger billed of it).
    pub fn set_last(&mut self, row: ReadKey, counters: Counters) {
        self.rows.entry(row).last = Some(counters);
    }

    /// A new read of stream `stream` (a source's map, read in the kernel's order): the
    /// following `moved` rows are its rows, in order.
    pub fn begin_read(&mut self, stream: usize) {
        if self.orders.len() <= stream {
            self.orders.resize_with(stream + 1, Order::default);
        }
        self.orders[stream].begin();
        self.stream = stream;
    }

    /// The reads of this cycle are over: the rows are put in their order if they were not.
    pub fn settle(&mut self) {
        self.rows.settle(&mut self.orders);
    }

    /// Takes the read at `at` of a row (the next of the read under way): kept to be billed
    /// when it moved and its cgroup was named in this bucket (a later read in the same
    /// bucket replaces it).
    pub fn moved(&mut self, at: i64, row: ReadKey, counters: Counters) -> Moved {
        self.advance(at);
        let epoch = self.epoch;
        let state = match self.orders.get_mut(self.stream) {
            Some(order) => self.rows.entry_in(order, row),
            None => self.rows.entry(row), // no read begun (the unit tests)
        };
        if state.last == Some(counters) {
            return Moved::No;
        }
        if state.named != Some(epoch) {
            // Named in an earlier bucket: kept under that name, and named again in one of
            // this bucket's cycles (`to_rename`), before its read is billed.
            match self.whos.get(&row.1) {
                Some((e, _)) => {
                    if *e != epoch {
                        self.stale.push(row.1);
                    }
                    state.named = Some(epoch);
                }
                None => return Moved::Unnamed,
            }
        }
        state.last = Some(counters);
        self.count += keep(state, Read { epoch, at, counters });
        Moved::Kept
    }

    /// Keeps the read at `at` of a row that moved, its cgroup named (`name`) first.
    pub fn note(&mut self, at: i64, row: ReadKey, counters: Counters) {
        self.advance(at);
        let epoch = self.epoch;
        let state = self.rows.entry(row);
        state.last = Some(counters);
        state.named = Some(epoch);
        self.count += keep(state, Read { epoch, at, counters });
    }

    /// Forgets every row of the cgroups in `ids` and who they were (collected: their reads
    /// billed).
    pub fn forget(&mut self, ids: &BTreeSet<u64>) {
        self.whos.retain(|id, _| !ids.contains(id));
        let count = &mut self.count;
        self.rows.retain(|row, s| {
            let gone = ids.contains(&row.1);
            if gone {
                *count -= s.reads.len();
            }
            !gone
        });
        self.drop_billed_due();
    }

    /// The class rows of the cgroups in `ids`, with their last read.
    pub fn class_rows(&self, ids: &BTreeSet<u64>) -> Vec<(ReadKey, Counters)> {
        self.rows
            .iter()
            .filter(|(r, _)| r.2 != 0 && ids.contains(&r.1))
            .filter_map(|(r, s)| Some((*r, s.last?)))
            .collect()
    }

    /// Whether the read of `row` in `epoch` still waits.
    fn holds(&self, epoch: u64, row: &ReadKey) -> bool {
        self.rows.get(row).is_some_and(|s| s.reads.iter().any(|r| r.epoch == epoch))
    }

    /// A new epoch when `at` is in another bucket than the last read or cycle; the reads of
    /// the epoch that ends are due, in row order.
    fn advance(&mut self, at: i64) {
        let bucket = Resolution::FiveMinutes.bucket(at);
        if self.bucket != Some(bucket) {
            self.bucket = Some(bucket);
            let ended = self.epoch;
            let mut rows: Vec<ReadKey> = self
                .rows
                .iter()
                .filter(|(_, s)| s.reads.iter().any(|r| r.epoch == ended))
                .map(|(row, _)| *row)
                .collect();
            rows.sort_unstable_by_key(order);
            self.due.extend(rows.into_iter().map(|r| (ended, r)));
            self.stale.clear();
            self.epoch += 1;
        }
    }

    /// Keeps only each row's latest read (after a bill failed: while the ledger cannot be
    /// written, memory holds one read a row, not one a bucket). Billing the latest read
    /// bills everything since the ledger's cursor, in the latest read's bucket.
    pub fn collapse(&mut self) {
        for s in self.rows.values_mut() {
            if s.reads.len() > 1 {
                self.count -= s.reads.len() - 1;
                s.reads.drain(..s.reads.len() - 1);
            }
        }
        self.drop_billed_due();
    }

    /// Forgets what `b` billed.
    pub fn billed(&mut self, b: &Batch) {
        if b.keys.is_empty() {
            return; // a busy node's cycles between bucket closes: nothing to forget
        }
        for (epoch, row) in &b.keys {
            if let Some(s) = self.rows.get_mut(row) {
                let before = s.reads.len();
                s.reads.retain(|r| r.epoch != *epoch);
                self.count -= before - s.reads.len();
            }
        }
        self.drop_billed_due();
    }

    /// Drops the due reads at the front that no longer wait.
    fn drop_billed_due(&mut self) {
        while let Some((e, r)) = self.due.front() {
            if self.holds(*e, r) {
                break;
            }
            self.due.pop_front();
        }
        if self.count == 0 {
            self.due.clear();
        }
    }
}

/// Keeps `read` as the row's read of its epoch; returns 1 when that is a new read.
fn keep(state: &mut State, read: Read) -> usize {
    match state.reads.last_mut() {
        Some(last) if last.epoch == read.epoch => {
            *last = read;
            0
        }
        _ => {
            state.reads.push(read);
            1
        }
    }
}

/// Rows of an epoch by cgroup (a slice bills its rows and cursor together), source, class.
fn order(r: &ReadKey) -> (u64, u8, u16) {
    (r.1, matches!(r.0, Source::Socket) as u8, r.2)
}

#[cfg(test)]
mod tests;
