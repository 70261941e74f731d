//! `netattr detach`: remove netattr's filters, and the clsact qdisc where netattr added it
//! and nothing else uses it.
use std::process::ExitCode;

use anyhow::Result;
use libbpf_rs::MapHandle;

use crate::bpf::layout::{ATTACH_EGRESS, ATTACH_INGRESS, ATTACH_QDISC_CREATED};
use crate::bpf::Pins;
use crate::cli::{DetachArgs, Direction, Global};
use crate::cmd::attach::{hook_bit, hooks, HookRow, HooksReport};
use crate::netlink::{self, Link};
use crate::output;
use crate::tc::{self, Hook};
use crate::{iface, sys};

pub fn execute(g: &Global, a: &DetachArgs) -> Result<ExitCode> {
    sys::require_privileges("detach")?;
    let inst = Pins::new(&g.pin_dir).open()?;
    let ids = inst.prog_ids();
    let links = if a.select.all {
        everywhere(&ids, Some(&inst.attachments))?
    } else {
        iface::select(a.select.all_veth, &a.select.ifaces)?
    };
    let mut rows = Vec::new();
    for link in &links {
        detach_one(&ids, Some(&inst.attachments), link, a.direction, &mut rows)?;
    }
    output::emit(g.format, &HooksReport { schema: output::SCHEMA, hooks: rows })?;
    Ok(ExitCode::SUCCESS)
}

/// Every interface that carries one of `ids` or that netattr recorded. Records of
/// interfaces that no longer exist are dropped.
pub fn everywhere(ids: &[u32], records: Option<&MapHandle>) -> Result<Vec<Link>> {
    let links = netlink::links()?;
    let mut out = Vec::new();
    for l in &links {
        let carries =
            Hook::BOTH.iter().any(|h| matches!(tc::query(l.index, *h), Ok(Some(id)) if ids.contains(&id)));
        if carries {
            out.push(l.clone());
        }
    }
    if let Some(map) = records {
        for (idx, _) in iface::records(map)? {
            match links.iter().find(|l| l.index == idx) {
                Some(l) if !out.contains(l) => out.push(l.clone()),
                Some(_) => {}
                None => iface::forget(map, idx)?,
            }
        }
    }
    Ok(out)
}

/// Removes this instance's filters (`ids`) from one interface, then its clsact qdisc if
/// netattr added it and no filter is left on it.
pub fn detach_one(
    ids: &[u32],
    records: Option<&MapHandle>,
    link: &Link,
    d: Direction,
    rows: &mut Vec<HookRow>,
) -> Result<()> {
    let mut rec = match records {
        Some(m) => iface::record(m, link.index)?,
        None => None,
    };
    for h in hooks(d) {
        let removed = tc::detach(link.index, h, ids).map_err(|e| {
            anyhow::anyhow!(e).context(format!("cannot detach from {} {}", link.name, h.name()))
        })?;
        if let Some(r) = rec.as_mut() {
            r.flags &= !hook_bit(h);
        }
        let result = if removed { "detached" } else { "not attached" };
        rows.push(HookRow { iface: link.name.clone(), ifindex: link.index, hook: h, result });
    }
    let (Some(map), Some(rec)) = (records, rec) else { return Ok(()) };
    if rec.flags & (ATTACH_INGRESS | ATTACH_EGRESS) != 0 {
        return iface::save(map, link.index, &rec);
    }
    if rec.flags & ATTACH_QDISC_CREATED != 0 {
        tc::remove_clsact_if_empty(link.index)?;
    }
    iface::forget(map, link.index)
}
