//! `netattr attach`: put the pinned tc programs on interfaces (recording each host veth's
//! owner cgroup), and the socket programs on a cgroup.
use std::process::ExitCode;

use anyhow::Result;

use crate::bpf::Pins;
use crate::cli::{AttachArgs, Global};
use crate::core::attach::{attach_cgroup, attach_one, watch};
use crate::core::hooks::HooksReport;
use crate::output;
use crate::owner;
use crate::tc;
use crate::{cgroup, iface, signals, sys};

pub fn execute(g: &Global, a: &AttachArgs) -> Result<ExitCode> {
    sys::require_privileges("attach")?;
    let pins = Pins::new(&g.pin_dir);
    let _lock = pins.lock()?;
    let inst = pins.open()?;
    let sel = &a.select;
    let links = iface::select(sel.all_veth, &sel.ifaces)?;
    let mount = cgroup::mount_point()?;
    let cgroup_dir = sel.cgroup.as_deref().map(|c| cgroup::dir_of(&mount, c)).transpose()?;
    if sel.all_veth && links.is_empty() {
        eprintln!("netattr: no veth interface in this network namespace; no tc filter attached");
    }
    let owners = owner::find(&links, &mount)?;
    let mut rows = Vec::new();
    for link in &links {
        match attach_one(&inst, link, a.direction, owners.get(&link.index), &mut rows) {
            // Every veth: one held by another instance is skipped, the others still attached.
            Err(e) if sel.all_veth && e.chain().any(|c| c.is::<tc::Foreign>()) => {
                eprintln!("netattr: skipped {}: {}", link.name, e.root_cause());
            }
            r => r?,
        }
    }
    if let Some(dir) = cgroup_dir {
        rows.extend(attach_cgroup(&inst, &mount, &dir)?);
    }
    output::emit(g.format, &HooksReport { schema: output::SCHEMA, hooks: rows })?;
    if a.watch {
        let pending = links.iter().filter(|l| !owners.contains_key(&l.index)).cloned().collect();
        drop(_lock); // the watch takes the lock per batch of events, never for long
        signals::catch();
        let mut emit = |hooks| output::emit(g.format, &HooksReport { schema: output::SCHEMA, hooks });
        watch(&pins, &inst, a.direction, &mount, pending, &signals::stopped, &mut emit)?;
    }
    Ok(ExitCode::SUCCESS)
}
