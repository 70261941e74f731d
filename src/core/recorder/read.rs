//! A cycle's reads: every counter map of the instance read once, the rows that moved kept
//! to be billed, and the cgroups named where their name may have changed.
use std::collections::{BTreeSet, HashSet};

use anyhow::Result;

use super::Recorder;
use crate::bpf::layout::META_CLASSES;
use crate::core::group::who_of;
use crate::core::reader::{self, Query};
use crate::core::row::{By, Extra, RawRow};
use crate::core::unbilled::Moved;
use crate::model::{Counters, Source};

/// What one cycle's reads saw.
#[derive(Default)]
pub(super) struct Reads {
    /// The cgroups counted (when the cycle looks for gone ones).
    pub(super) counted: BTreeSet<u64>,
    /// Those whose counters moved since the last read.
    pub(super) moving: HashSet<u64>,
    /// The sources whose reads had rows (counting since they were attached).
    pub(super) covered: Vec<Source>,
}

impl Recorder<'_> {
    /// Reads every counter map of the instance at `at`: the rows that moved are kept to be
    /// billed, and those of cgroups not named yet in this bucket are named. With
    /// `collecting`, says which cgroups were counted and which moved.
    pub(super) fn read(&mut self, at: i64, collecting: bool) -> Result<Reads> {
        let inst = self.inst;
        let mut reads = Reads::default();
        for (s, source) in [Source::Tc, Source::Socket].into_iter().enumerate() {
            let mut bys = vec![By::Cgroup];
            if inst.meta.has(META_CLASSES) {
                bys.push(By::Class);
            }
            for by in bys {
                let mut snap = reader::read(inst, Query { source, by })?;
                if by == By::Cgroup && snap.rows.iter().any(|r| r.counters != Counters::default()) {
                    reads.covered.push(source);
                }
                // Each map is read in the kernel's order, the same from one cycle to the next
                // while its buckets hold: its rows are found by their position.
                self.unbilled.begin_read(2 * s + usize::from(by == By::Class));
                let mut unnamed = Vec::new();
                if collecting {
                    // A class row's cgroup too (one left without its own row by an older
                    // netattr is collected all the same).
                    reads.counted.extend(snap.rows.iter().map(|r| r.key.0));
                }
                for r in std::mem::take(&mut snap.rows) {
                    let class = match &r.extra {
                        Extra::Class(_, n) => self.unbilled.class_names.id(n),
                        _ => 0,
                    };
                    let moved = self.unbilled.moved(at, (source, r.key.0, class), r.counters);
                    if collecting && moved != Moved::No {
                        reads.moving.insert(r.key.0);
                    }
                    if moved == Moved::Unnamed {
                        unnamed.push(r);
                    }
                }
                if unnamed.is_empty() {
                    continue;
                }
                snap.rows = unnamed;
                for r in self.reporter.report(snap, None).cgroups {
                    self.unbilled.name(r.cgroup_id, who_of(&r));
                    let class = self.unbilled.class_names.id(r.class.as_deref().unwrap_or_default());
                    self.unbilled.note(at, (source, r.cgroup_id, class), r.counters);
                }
            }
        }
        self.unbilled.settle();
        Ok(reads)
    }

    /// Cgroups read under an earlier bucket's name are named again, a share a cycle (all of
    /// them when `all`), from the path they were named at (a cgroup keeps its path) and the
    /// container and pod names: no walk of the cgroup tree.
    pub(super) fn rename(&mut self, at: i64, all: bool) {
        let mut pathless = Vec::new();
        for id in self.unbilled.to_rename(at, all) {
            match self.unbilled.path(id).map(str::to_string) {
                Some(path) => {
                    let r = self.reporter.row_at(id, Source::Tc, &path);
                    self.unbilled.name(id, who_of(&r));
                }
                None => pathless.push(RawRow {
                    key: (id, 0, 0, 0, 0),
                    extra: Extra::None,
                    counters: Counters::default(),
                }),
            }
        }
        if !pathless.is_empty() {
            let snap =
                reader::Snapshot { source: Source::Tc, by: By::Cgroup, rows: pathless, fill: Vec::new() };
            for r in self.reporter.report(snap, None).cgroups {
                self.unbilled.name(r.cgroup_id, who_of(&r));
            }
        }
    }
}
