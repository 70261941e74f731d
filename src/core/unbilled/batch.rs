//! What a cycle bills of the reads that wait: all of them while they are few, else the
//! closed buckets' reads in slices, and a collected workload's reads.
use std::collections::BTreeSet;
use std::rc::Rc;

use super::{order, Batch, ReadKey, Unbilled};
use crate::ledger::Resolution;
use crate::model::{Reading, Workload};

impl Unbilled {
    /// What the cycle at `at` bills: everything when `all` (a stop, `--once`, a replaced
    /// instance) or when it is at most the batch; else the reads of closed buckets, at
    /// least a batch of them and enough that they are all billed before the current bucket
    /// closes in turn.
    pub fn batch(&mut self, at: i64, all: bool) -> Batch {
        self.advance(at);
        if all || self.count <= self.batch {
            return self.batch_of(|_| true);
        }
        // The due reads, at most (entries collected or collapsed since are skipped below).
        let waiting = self.due.len();
        let end = Resolution::FiveMinutes.bucket(at) + 300;
        // This cycle and those after it before `end`.
        let cycles_left = ((end - at + self.every - 1) / self.every).max(1) as usize;
        let n = self.batch.max(waiting.div_ceil(cycles_left));
        let keys: Vec<(u64, ReadKey)> =
            self.due.iter().filter(|(e, r)| self.holds(*e, r)).take(n).copied().collect();
        self.seen_of(keys)
    }

    /// When the oldest read still waiting was read (`now` when none waits): no bill will
    /// land before its bucket but a clock moved back.
    pub fn oldest(&self, now: i64) -> i64 {
        let due = self.due.iter().find(|(e, r)| self.holds(*e, r));
        let read = due.and_then(|(e, r)| self.rows.get(r)?.reads.iter().find(|x| x.epoch == *e));
        match read {
            Some(r) => r.at.min(now),
            None if self.count > 0 => self.bucket.unwrap_or(now).min(now),
            None => now,
        }
    }

    /// Every waiting read of the cgroups in `ids`, in the order they were read (billed with
    /// the final counters of collected workloads).
    pub fn of(&self, ids: &BTreeSet<u64>) -> Batch {
        self.batch_of(|row| ids.contains(&row.1))
    }

    /// Every waiting read of the rows `which` takes, by epoch then row.
    fn batch_of(&self, which: impl Fn(&ReadKey) -> bool) -> Batch {
        let mut keys: Vec<(u64, ReadKey)> = self
            .rows
            .iter()
            .filter(|(row, s)| !s.reads.is_empty() && which(row))
            .flat_map(|(row, s)| s.reads.iter().map(|r| (r.epoch, *row)))
            .collect();
        keys.sort_unstable_by_key(|(e, r)| (*e, order(r)));
        self.seen_of(keys)
    }

    fn seen_of(&self, keys: Vec<(u64, ReadKey)>) -> Batch {
        let seen = keys
            .iter()
            .filter_map(|(epoch, row)| {
                let r = self.rows.get(row)?.reads.iter().find(|r| r.epoch == *epoch)?;
                Some(Reading {
                    source: row.0,
                    cgroup_id: row.1,
                    class: self.class_names.name(row.2).to_string(),
                    counters: r.counters,
                    // Every row kept was named first; `cgroup:<id>` all the same if not.
                    who: self.whos.get(&row.1).map_or_else(
                        || Rc::new(Workload { identity: format!("cgroup:{}", row.1), ..Workload::default() }),
                        |(_, w)| w.clone(),
                    ),
                    at: r.at,
                    last: false,
                })
            })
            .collect();
        Batch { seen, keys }
    }
}
