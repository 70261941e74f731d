//! Workload a workload is, and what was read of it.
use std::rc::Rc;

use super::counters::{Counters, Source};

/// A workload: the identity its rows are billed to (it outlives cgroup ids), and what is
/// known of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workload {
    /// `container:<id>`, `pod:<uid>`, `unit:<name>`, `path:<cgroup path>`,
    /// `cgroup:<id>` (nothing else known) or `bucket:unresolved|overflow`.
    pub identity: String,
    pub kind: Option<String>,
    pub runtime: Option<String>,
    pub name: Option<String>,
    pub pod_namespace: Option<String>,
    pub pod_name: Option<String>,
    pub container_id: Option<String>,
    pub pod_uid: Option<String>,
    pub path: Option<String>,
    /// Docker labels as a JSON object.
    pub labels: Option<String>,
}

/// One counter row read from the kernel.
#[derive(Debug, Clone)]
pub struct Reading {
    pub source: Source,
    pub cgroup_id: u64,
    /// The destination class, or "" for the cgroup's total.
    pub class: String,
    pub counters: Counters,
    /// Shared by the rows of one cgroup.
    pub who: Rc<Workload>,
    /// When it was read (unix seconds): the buckets it is billed in.
    pub at: i64,
    /// The cgroup's counters were removed from the maps (a gone workload, collected): its
    /// cursor goes with this bill.
    pub last: bool,
}
