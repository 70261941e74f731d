//! `netattr resolve`: cgroup ids to paths and identities, for live cgroups and for those
//! that are gone (named by what the kernel recorded at their first packet).
use std::collections::BTreeSet;
use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use crate::bpf::layout::RESERVED_KEYS;
use crate::bpf::{Instance, PinState, Pins, Source};
use crate::cli::{Global, ResolveArgs};
use crate::core::namer::{Named, Namer};
use crate::core::reader;
use crate::output::{self, Report};
use crate::sys;

#[derive(Debug, Serialize)]
pub struct ResolveReport {
    pub schema: u32,
    pub cgroups: Vec<Named>,
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
    sys::require_reader_privileges("resolve")?;
    let pins = Pins::new(&g.pin_dir);
    // Without a load, live cgroups still resolve; ids from the maps need one.
    let inst = if a.ids.is_empty() || pins.state() == PinState::Loaded { Some(pins.open()?) } else { None };
    let ids: Vec<u64> = if a.ids.is_empty() { counted_ids(inst.as_ref())? } else { a.ids.clone() };
    let mut namer = Namer::new(&g.place(), inst.as_ref())?;
    namer.prefetch(&ids);
    let cgroups = ids.into_iter().map(|id| namer.name(id)).collect();
    output::emit(g.format, &ResolveReport { schema: output::SCHEMA, cgroups })?;
    Ok(ExitCode::SUCCESS)
}

/// Every cgroup id either source has counted, the buckets left out.
fn counted_ids(inst: Option<&Instance>) -> Result<Vec<u64>> {
    let mut ids = BTreeSet::new();
    if let Some(inst) = inst {
        for source in [Source::Tc, Source::Socket] {
            ids.extend(reader::per_cgroup(inst, source)?.into_iter().map(|(id, _)| id));
        }
    }
    Ok(ids.into_iter().filter(|id| !RESERVED_KEYS.contains(id)).collect())
}
