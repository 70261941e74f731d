//! The namer: a cgroup id to its identity, from every source netattr has, with the caches in
//! one place:
//! - the kernel: a file handle per id, or one walk of the tree in the kernel for many ids
//!   (`cgroup::Resolver`);
//! - the kernel's record of each cgroup at its first packet (`cgroup_names`), for cgroups
//!   that are gone;
//! - Docker's names and labels, and the kubelet's pod directories (`names::Names`).
use std::collections::HashMap;

use anyhow::Result;
use serde::Serialize;

use super::Place;
use crate::bpf::layout::RESERVED_KEYS;
use crate::bpf::Instance;
use crate::cgroup::{self, Lookup, Resolver};
use crate::identity::Summary;
use crate::names::Names;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// The cgroup exists.
    Live,
    /// The cgroup was removed; `path` is what the kernel recorded at its first packet.
    Gone,
    /// No such cgroup that netattr can see, and no record of it.
    Unknown,
}

/// A named cgroup: what `resolve` and `events` print.
#[derive(Debug, Clone, Serialize)]
pub struct Named {
    pub cgroup_id: u64,
    pub state: State,
    pub path: Option<String>,
    #[serde(flatten)]
    pub who: Summary,
    /// The kernel said the cgroup is gone (whether or not netattr has a record of it).
    #[serde(skip)]
    pub gone: bool,
}

/// From this many ids up, the kernel's records are read in one batch.
const BATCH_MIN: usize = 16;

pub struct Namer<'a> {
    inst: Option<&'a Instance>,
    resolver: Resolver,
    names: Names,
    /// The kernel's first-sight records, read in one batch by `prefetch`.
    captured: Option<HashMap<u64, String>>,
}

impl<'a> Namer<'a> {
    /// A namer for the cgroups of `inst` (or of no instance: live cgroups only).
    pub fn new(g: &Place, inst: Option<&'a Instance>) -> Result<Self> {
        Ok(Namer { inst, resolver: resolver(inst)?, names: names_for(g, inst), captured: None })
    }

    /// Makes the following lookups of `ids` cheap: one walk of the tree in the kernel and
    /// one batch read of the kernel's records, instead of syscalls per id.
    pub fn prefetch(&mut self, ids: &[u64]) {
        self.resolver.prefetch(ids);
        // A batch's snapshot of the kernel's records serves that batch only: a cgroup first
        // counted after it was read would not be in it (a short-lived one, gone before it
        // is named, was billed as an anonymous cgroup:<id>). Fewer ids: one lookup each.
        self.captured =
            if ids.len() >= BATCH_MIN { self.inst.and_then(|i| i.captured_paths().ok()) } else { None };
    }

    /// From now on, a name missing from the container and pod tables fetched until now is
    /// fetched again (once): call it per record or per report in long-running consumers.
    pub fn refresh_on_miss(&mut self) {
        self.names.refresh_on_miss();
    }

    /// Forgets every cached path and name, so that the next lookups ask again.
    pub fn forget(&mut self) -> Result<()> {
        self.resolver = resolver(self.inst)?;
        self.names.forget();
        self.captured = None;
        Ok(())
    }

    /// The path the kernel recorded for `id` at its first packet.
    fn captured(&self, id: u64) -> Option<String> {
        match &self.captured {
            Some(all) => all.get(&id).cloned(),
            None => self.inst.and_then(|i| i.captured_path(id)),
        }
    }

    /// Path and state of `id` without the names people use: live with its path; gone with
    /// the kernel's record of it; unknown (with the record, if any) when netattr cannot tell.
    pub fn locate(&mut self, id: u64) -> (State, Option<String>) {
        let (state, path, _) = self.find(id);
        (state, path)
    }

    /// (state, path, whether the kernel said it is gone).
    fn find(&mut self, id: u64) -> (State, Option<String>, bool) {
        if RESERVED_KEYS.contains(&id) {
            return (State::Unknown, None, false);
        }
        match self.resolver.lookup(id) {
            Lookup::Path(p) => (State::Live, Some(p), false),
            Lookup::Gone => match self.captured(id) {
                Some(p) => (State::Gone, Some(p), true),
                None => (State::Unknown, None, true),
            },
            Lookup::Unknown => (State::Unknown, self.captured(id), false),
        }
    }

    /// Everything netattr knows of `id`.
    pub fn name(&mut self, id: u64) -> Named {
        let (state, path, gone) = self.find(id);
        let mut who = Summary::of(path.as_deref());
        self.names.enrich(&mut who);
        Named { cgroup_id: id, state, path, who, gone }
    }

    /// The names of a cgroup whose path is known (a cgroup keeps its path): from the path
    /// and the container and pod tables only, no kernel lookup.
    pub fn who_at(&mut self, path: &str) -> Summary {
        let mut who = Summary::of(Some(path));
        self.names.enrich(&mut who);
        who
    }

    /// Those of `ids` one walk of the tree in the kernel finds alive (`Resolver::alive_in_walk`).
    pub fn alive_in_walk(&self, ids: &std::collections::BTreeSet<u64>) -> std::collections::HashSet<u64> {
        self.resolver.alive_in_walk(ids)
    }

    /// What the kernel says of `id` now (no cache, no tree walk): only its `Gone` is ground
    /// for deleting counters.
    pub fn kernel_lookup(&mut self, id: u64) -> Lookup {
        if RESERVED_KEYS.contains(&id) {
            return Lookup::Unknown;
        }
        self.resolver.kernel_lookup(id)
    }

    /// Whether the kernel says `id` is gone.
    pub fn certainly_gone(&mut self, id: u64) -> bool {
        self.kernel_lookup(id) == Lookup::Gone
    }

    /// The path of a cgroup for a label: its path, "(gone)" or "(unknown)".
    pub fn path_label(&mut self, id: u64) -> String {
        match self.locate(id) {
            (State::Live, Some(p)) => p,
            (State::Gone, _) => "(gone)".into(),
            _ => format!("(cgroup {id})"),
        }
    }
}

/// A resolver of the cgroup2 mount, walking the tree in the kernel through `inst` if given.
fn resolver(inst: Option<&Instance>) -> Result<Resolver> {
    let r = Resolver::new(cgroup::mount_point()?)?;
    Ok(match inst {
        Some(i) => r.with_tree(&i.pins),
        None => r,
    })
}

/// The name sources, searching Docker's history since the load (or the last hour).
fn names_for(g: &Place, inst: Option<&Instance>) -> Names {
    let since = inst.map(|i| i.meta.loaded_at_unix).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            .saturating_sub(3600)
    });
    Names::new(&g.names, since)
}
