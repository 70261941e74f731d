//! `netattr stats`: sum the per-CPU counters and print one row per cgroup.
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use crate::bpf::layout::{CGID_OVERFLOW, CGID_UNRESOLVED};
use crate::bpf::percpu::{self, key_u64};
use crate::bpf::{Counters, Pins};
use crate::cgroup::{self, Lookup, Resolver};
use crate::cli::{Global, SortKey, StatsArgs};
use crate::output::{self, Report};
use crate::sys;

/// What a row stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    /// A real cgroup.
    Cgroup,
    /// Traffic whose owner could not be told (cgroup id 0).
    Unresolved,
    /// Traffic of cgroups that did not fit in the map.
    Overflow,
}

#[derive(Debug, Serialize)]
pub struct Row {
    /// The cgroup v2 id; 0 for the unresolved bucket, null for the overflow bucket (its
    /// map key, 2^64-1, does not survive JSON readers that use doubles, such as jq).
    #[serde(serialize_with = "id_or_null")]
    pub cgroup_id: u64,
    pub bucket: Bucket,
    /// Path relative to the cgroup2 mount; null for the buckets and for removed cgroups.
    pub path: Option<String>,
    /// The cgroup has been removed since it was counted.
    pub gone: bool,
    #[serde(flatten)]
    pub counters: Counters,
}

#[derive(Debug, Serialize)]
pub struct StatsReport {
    pub schema: u32,
    /// Which hooks the counters come from.
    pub source: &'static str,
    pub pin_dir: PathBuf,
    pub cgroup2_mount: PathBuf,
    pub cgroups: Vec<Row>,
    pub totals: Counters,
}

impl Report for StatsReport {
    fn render_table(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut t = output::table(["CGROUP_ID", "PATH", "RX", "TX", "RX_PKTS", "TX_PKTS"]);
        for r in &self.cgroups {
            let label = match (r.bucket, &r.path) {
                (Bucket::Unresolved, _) => "(unresolved)".to_string(),
                (Bucket::Overflow, _) => "(overflow: map full)".to_string(),
                (Bucket::Cgroup, Some(p)) => p.clone(),
                (Bucket::Cgroup, None) => "(gone)".to_string(),
            };
            let id = if r.bucket == Bucket::Overflow { "-".to_string() } else { r.cgroup_id.to_string() };
            t.add_row([
                id,
                label,
                output::bytes(r.counters.rx_bytes),
                output::bytes(r.counters.tx_bytes),
                output::count(r.counters.rx_packets),
                output::count(r.counters.tx_packets),
            ]);
        }
        output::align_right(&mut t, &[0, 2, 3, 4, 5]);
        output::write_table(out, &t)
    }
}

pub fn execute(g: &Global, a: &StatsArgs) -> Result<ExitCode> {
    sys::require_privileges("stats")?;
    let inst = Pins::new(&g.pin_dir).open()?;
    let mount = cgroup::mount_point()?;
    let mut resolver = Resolver::new(mount.clone())?;
    let mut rows = Vec::new();
    let mut totals = Counters::default();
    for e in percpu::read_all(&inst.stats)? {
        let Some(id) = key_u64(&e.key) else { continue };
        let mut c = Counters::default();
        for v in &e.values {
            if let Some(x) = Counters::from_bytes(v) {
                c.add(&x);
            }
        }
        totals.add(&c);
        rows.push(row(id, c, &mut resolver));
    }
    sort_and_cut(&mut rows, a.sort, a.top);
    let report = StatsReport {
        schema: output::SCHEMA,
        source: "tc",
        pin_dir: g.pin_dir.clone(),
        cgroup2_mount: mount,
        cgroups: rows,
        totals,
    };
    output::emit(g.format, &report)?;
    Ok(ExitCode::SUCCESS)
}

fn id_or_null<S: serde::Serializer>(id: &u64, s: S) -> Result<S::Ok, S::Error> {
    if *id == CGID_OVERFLOW {
        s.serialize_none()
    } else {
        s.serialize_u64(*id)
    }
}

fn row(id: u64, counters: Counters, resolver: &mut Resolver) -> Row {
    let (bucket, path, gone) = match id {
        CGID_UNRESOLVED => (Bucket::Unresolved, None, false),
        CGID_OVERFLOW => (Bucket::Overflow, None, false),
        _ => match resolver.lookup(id) {
            Lookup::Path(p) => (Bucket::Cgroup, Some(p), false),
            Lookup::Gone => (Bucket::Cgroup, None, true),
        },
    };
    Row { cgroup_id: id, bucket, path, gone, counters }
}

/// Cgroups by the sort key (largest first, then by id), cut to `top`; the unresolved and
/// overflow buckets always follow, so that no traffic is hidden by the cut.
fn sort_and_cut(rows: &mut Vec<Row>, key: SortKey, top: Option<usize>) {
    let k = |r: &Row| match key {
        SortKey::Rx => r.counters.rx_bytes,
        SortKey::Tx => r.counters.tx_bytes,
        SortKey::Total => r.counters.total_bytes(),
    };
    let (mut cgroups, buckets): (Vec<Row>, Vec<Row>) =
        rows.drain(..).partition(|r| r.bucket == Bucket::Cgroup);
    cgroups.sort_by(|a, b| k(b).cmp(&k(a)).then(a.cgroup_id.cmp(&b.cgroup_id)));
    if let Some(n) = top {
        cgroups.truncate(n);
    }
    rows.extend(cgroups);
    rows.extend(buckets);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(id: u64, rx: u64, tx: u64) -> Row {
        let bucket = match id {
            0 => Bucket::Unresolved,
            u64::MAX => Bucket::Overflow,
            _ => Bucket::Cgroup,
        };
        Row {
            cgroup_id: id,
            bucket,
            path: None,
            gone: false,
            counters: Counters { rx_bytes: rx, tx_bytes: tx, ..Default::default() },
        }
    }

    #[test]
    fn sorts_cuts_and_keeps_buckets() {
        let mut rows = vec![r(0, 5, 5), r(10, 1, 100), r(11, 50, 0), r(u64::MAX, 0, 0), r(12, 50, 1)];
        sort_and_cut(&mut rows, SortKey::Total, Some(2));
        let ids: Vec<u64> = rows.iter().map(|r| r.cgroup_id).collect();
        assert_eq!(ids, vec![10, 12, 0, u64::MAX]);
        let mut rows = vec![r(10, 1, 100), r(11, 50, 0), r(12, 50, 1)];
        sort_and_cut(&mut rows, SortKey::Rx, None);
        let ids: Vec<u64> = rows.iter().map(|r| r.cgroup_id).collect();
        assert_eq!(ids, vec![11, 12, 10]);
    }
}
