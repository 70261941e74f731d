//! What a report asks of the ledger, and what it answers: one group's usage. Shared by the
//! usage query (super::query) and the pair table (super::pairs).
use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Field, Period};

/// One group's usage over the period.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Group {
    /// Field label -> value (null where the workloads have none).
    pub group: BTreeMap<String, Option<String>>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
    /// With `--p95`: the 95th percentile of the group's 5-minute rates (rx + tx, bytes per
    /// second) over the period's 5-minute intervals up to now, idle intervals counted as
    /// zero; null without `--p95` and where the 5-minute rows of the period are pruned.
    pub p95_bytes_per_s: Option<f64>,
}

/// What a report asks of the ledger.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub period: Period,
    pub by: &'a [Field],
    /// Only the rows of these destination classes (of the class breakdown); empty: all.
    pub classes: &'a [String],
    /// Each group's 95th percentile of 5-minute rates too.
    pub p95: bool,
    /// Shared workloads (by name) whose traffic with peers other than workloads is split
    /// across the workloads they served (`--reallocate`): the pair table's groups, with
    /// `allocated_from`.
    pub reallocate: &'a [String],
}
