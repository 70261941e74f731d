//! `netattr resolve`: cgroup ids to paths and identities, for live cgroups and for those
//! that are gone (named by what the kernel recorded at their first packet).
use std::collections::BTreeSet;
use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use crate::bpf::layout::RESERVED_KEYS;
use crate::bpf::percpu::{self, key_u64};
use crate::bpf::{Instance, PinState, Pins};
use crate::cgroup::{self, Lookup, Resolver};
use crate::cli::{Global, ResolveArgs};
use crate::identity::Summary;
use crate::names::Names;
use crate::output::{self, Report};
use crate::sys;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// The cgroup exists.
    Live,
    /// The cgroup was removed; `path` is what the kernel recorded at its first packet.
    Gone,
    /// No such cgroup, and netattr never recorded it.
    Unknown,
}

#[derive(Debug, Serialize)]
pub struct ResolveRow {
    pub cgroup_id: u64,
    pub state: State,
    pub path: Option<String>,
    #[serde(flatten)]
    pub who: Summary,
}

#[derive(Debug, Serialize)]
pub struct ResolveReport {
    pub schema: u32,
    pub cgroups: Vec<ResolveRow>,
}

impl Report for ResolveReport {
    const ROWS: Option<&'static str> = Some("cgroups");

    fn render_table(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut t = output::table(["CGROUP_ID", "STATE", "KIND", "NAME", "PATH"]);
        for r in &self.cgroups {
            output::add_row(
                &mut t,
                [
                    r.cgroup_id.to_string(),
                    output::label(&r.state),
                    output::label(&r.who.kind),
                    r.who.name.clone().unwrap_or_else(|| "-".into()),
                    r.path.clone().unwrap_or_else(|| "-".into()),
                ],
            );
        }
        output::align_right(&mut t, &[0]);
        output::write_table(out, &t)
    }
}

pub fn execute(g: &Global, a: &ResolveArgs) -> Result<ExitCode> {
    sys::require_privileges("resolve")?;
    let mut resolver = Resolver::new(cgroup::mount_point()?)?;
    let pins = Pins::new(&g.pin_dir);
    // Without a load, live cgroups still resolve; ids from the maps need one.
    let inst = if a.ids.is_empty() || pins.state() == PinState::Loaded { Some(pins.open()?) } else { None };
    let ids: Vec<u64> = if a.ids.is_empty() { counted_ids(inst.as_ref())? } else { a.ids.clone() };
    if inst.is_some() {
        resolver = resolver.with_tree(&pins);
        resolver.prefetch(&ids);
    }
    let mut names = names_for(g, inst.as_ref());
    let cgroups = ids.into_iter().map(|id| resolve(id, &mut resolver, inst.as_ref(), &mut names)).collect();
    output::emit(g.format, &ResolveReport { schema: output::SCHEMA, cgroups })?;
    Ok(ExitCode::SUCCESS)
}

/// The name sources, searching Docker's history since the load (or the last hour).
pub fn names_for(g: &Global, inst: Option<&Instance>) -> Names {
    let since = inst.map(|i| i.meta.loaded_at_unix).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            .saturating_sub(3600)
    });
    Names::new(&g.docker_socket, &g.pods_dir, since)
}

/// Every cgroup id either source has counted, the buckets left out.
fn counted_ids(inst: Option<&Instance>) -> Result<Vec<u64>> {
    let mut ids = BTreeSet::new();
    if let Some(inst) = inst {
        for map in [&inst.stats, &inst.sock_stats] {
            ids.extend(percpu::read_all(map)?.iter().filter_map(|e| key_u64(&e.key)));
        }
    }
    Ok(ids.into_iter().filter(|id| !RESERVED_KEYS.contains(id)).collect())
}

pub fn resolve(id: u64, resolver: &mut Resolver, inst: Option<&Instance>, names: &mut Names) -> ResolveRow {
    let (state, path) = match resolver.lookup(id) {
        Lookup::Path(p) => (State::Live, Some(p)),
        Lookup::Gone => match inst.and_then(|i| i.captured_path(id)) {
            Some(p) => (State::Gone, Some(p)),
            None => (State::Unknown, None),
        },
    };
    let mut who = Summary::of(path.as_deref());
    names.enrich(&mut who);
    ResolveRow { cgroup_id: id, state, who, path }
}
