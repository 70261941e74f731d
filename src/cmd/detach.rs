//! `netattr detach`: remove netattr's filters (and the clsact qdisc where netattr added it
//! and nothing else uses it), and the socket programs from their cgroup.
use std::process::ExitCode;

use anyhow::Result;

use crate::bpf::Pins;
use crate::cli::{DetachArgs, Global};
use crate::core::hooks::{detach_cgroup, detach_one, everywhere, HooksReport};
use crate::{iface, output, sys};

pub fn execute(g: &Global, a: &DetachArgs) -> Result<ExitCode> {
    sys::require_reader_privileges("detach")?;
    let pins = Pins::new(&g.pin_dir);
    let _lock = pins.lock()?;
    let inst = pins.open()?;
    let ids = inst.prog_ids();
    let sel = &a.select;
    let links = if sel.all {
        everywhere(&ids, Some(&inst.attachments))?
    } else {
        iface::select(sel.all_veth, &sel.ifaces)?
    };
    let mut rows = Vec::new();
    for link in &links {
        detach_one(&ids, Some((&inst.attachments, &inst.owners)), link, a.direction, &mut rows)?;
    }
    if sel.all || sel.cgroup {
        rows.extend(detach_cgroup(&inst.pins)?);
    }
    output::emit(g.format, &HooksReport { schema: output::SCHEMA, hooks: rows })?;
    Ok(ExitCode::SUCCESS)
}
