//! `netattr reap`: collect the counters of cgroups that no longer exist, then remove them
//! from every map. The policy (README): counters of exited workloads stay readable, by any
//! `stats`, until the operator collects them here; `status` shows how many there are. Cgroup
//! ids are never reused, so a removed id cannot take a live workload's counters with it.
use std::collections::BTreeSet;
use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Result;
use libbpf_rs::{MapCore, MapHandle};
use serde::Serialize;

use crate::bpf::layout::{IfaceKey, PortKey, RESERVED_KEYS};
use crate::bpf::percpu::key_u64;
use crate::bpf::{Pins, Source};
use crate::cgroup::{self, Lookup, Resolver};
use crate::cli::Global;
use crate::cmd::stats::{gone_row, Row};
use crate::output::{self, Report};
use crate::sys;

#[derive(Debug, Serialize)]
pub struct ReapReport {
    pub schema: u32,
    /// The final counters of every gone cgroup removed, as `stats` rows (one per source).
    pub cgroups: Vec<Row>,
}

impl Report for ReapReport {
    const ROWS: Option<&'static str> = Some("cgroups");

    fn render_table(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut t = output::table(["CGROUP_ID", "SOURCE", "PATH", "RX", "TX"]);
        for r in &self.cgroups {
            output::add_row(
                &mut t,
                [
                    r.cgroup_id.to_string(),
                    output::label(&r.source),
                    r.path.clone().unwrap_or_else(|| "(unknown)".into()),
                    output::bytes(r.counters.rx_bytes),
                    output::bytes(r.counters.tx_bytes),
                ],
            );
        }
        output::write_table(out, &t)
    }
}

/// Of `ids` (keys of the per-cgroup counter maps), those whose cgroup no longer exists.
pub fn gone_ids<'a>(ids: impl IntoIterator<Item = &'a [u8]>, resolver: &mut Resolver) -> BTreeSet<u64> {
    ids.into_iter()
        .filter_map(key_u64)
        .filter(|id| !RESERVED_KEYS.contains(id))
        .filter(|id| resolver.lookup(*id) == Lookup::Gone)
        .collect()
}

pub fn execute(g: &Global) -> Result<ExitCode> {
    sys::require_privileges("reap")?;
    let pins = Pins::new(&g.pin_dir);
    let _lock = pins.lock()?;
    let inst = pins.open()?;
    let mut resolver = Resolver::new(cgroup::mount_point()?)?.with_ttl(std::time::Duration::ZERO);
    let counted =
        [(Source::Tc, inst.per_cgroup(Source::Tc)?), (Source::Socket, inst.per_cgroup(Source::Socket)?)];
    let gone = gone_ids(counted.iter().flat_map(|(_, e)| e.iter().map(|(k, _)| k.as_slice())), &mut resolver);
    let mut rows = Vec::new();
    for (source, entries) in counted {
        for (k, c) in entries {
            if let Some(id) = key_u64(&k).filter(|id| gone.contains(id)) {
                rows.push(gone_row(&inst, id, source, c));
            }
        }
    }
    // Collected first: if printing fails (a closed pipe), nothing is removed.
    output::emit(g.format, &ReapReport { schema: output::SCHEMA, cgroups: rows })?;
    // The slots first: a gone cgroup's stray packet then finds no slot and its hash entry.
    let mut removed = inst.tc_slots.release(&gone)? + inst.sock_slots.release(&gone)?;
    for map in [&inst.stats, &inst.sock_stats, &inst.cgroup_names] {
        removed += delete_where(map, |k| key_u64(k).is_some_and(|id| gone.contains(&id)))?;
    }
    removed += delete_where(&inst.iface_stats, |k| {
        IfaceKey::from_bytes(k).is_some_and(|k| gone.contains(&k.cgroup_id))
    })?;
    removed += delete_where(&inst.port_stats, |k| {
        PortKey::from_bytes(k).is_some_and(|k| gone.contains(&k.cgroup_id))
    })?;
    eprintln!("netattr: reaped {} gone cgroup(s), {removed} map entries", gone.len());
    Ok(ExitCode::SUCCESS)
}

fn delete_where(map: &MapHandle, gone: impl Fn(&[u8]) -> bool) -> Result<usize> {
    let keys: Vec<Vec<u8>> = map.keys().filter(|k| gone(k)).collect();
    for k in &keys {
        // Already gone (an LRU eviction) is fine.
        let _ = map.delete(k);
    }
    Ok(keys.len())
}
