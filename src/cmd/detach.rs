//! `netattr detach`: remove netattr's filters (and the clsact qdisc where netattr added it
//! and nothing else uses it), and the socket programs from their cgroup.
use std::process::ExitCode;

use anyhow::Result;
use libbpf_rs::MapHandle;

use crate::bpf::layout::{ATTACH_EGRESS, ATTACH_INGRESS, ATTACH_QDISC_CREATED, ATTACH_QDISC_INTENT};
use crate::bpf::Pins;
use crate::cli::{DetachArgs, Direction, Global};
use crate::cmd::attach::{hook_bit, hooks, HookRow, HooksReport, Kind};
use crate::iface::Owners;
use crate::netlink::{self, Link};
use crate::output;
use crate::tc::{self, Hook};
use crate::{iface, sock, sys};

pub fn execute(g: &Global, a: &DetachArgs) -> Result<ExitCode> {
    sys::require_privileges("detach")?;
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

/// Removes the socket programs' links.
pub fn detach_cgroup(pins: &Pins) -> Result<Vec<HookRow>> {
    Ok(sock::detach(pins)?
        .into_iter()
        .map(|(hook, removed)| HookRow {
            kind: Kind::Cgroup,
            target: "-".into(),
            ifindex: None,
            hook,
            result: if removed { "detached" } else { "not attached" },
            owner: None,
        })
        .collect())
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

/// Removes this instance's filters (`ids`) from one interface, then, once none is left, its
/// owner record and the clsact qdisc if netattr added it and no filter is left on it.
/// `maps` are the attachment records and the owner map, when the instance has them.
pub fn detach_one(
    ids: &[u32],
    maps: Option<(&MapHandle, &Owners)>,
    link: &Link,
    d: Direction,
    rows: &mut Vec<HookRow>,
) -> Result<()> {
    let mut rec = match maps {
        Some((records, _)) => iface::record(records, link.index)?,
        None => None,
    };
    for h in hooks(d) {
        let removed = tc::detach(link.index, h, ids).map_err(|e| {
            anyhow::anyhow!(e).context(format!("cannot detach from {} {}", link.name, h.name()))
        })?;
        if let Some(r) = rec.as_mut() {
            r.flags &= !hook_bit(h);
        }
        rows.push(HookRow::tc(link, h, if removed { "detached" } else { "not attached" }, None));
    }
    let Some((records, owners)) = maps else { return Ok(()) };
    let Some(rec) = rec else { return Ok(()) };
    if rec.flags & (ATTACH_INGRESS | ATTACH_EGRESS) != 0 {
        return iface::save(records, link.index, &rec);
    }
    if rec.flags & (ATTACH_QDISC_CREATED | ATTACH_QDISC_INTENT) != 0 {
        tc::remove_clsact_if_empty(link.index)?;
    }
    owners.set(link.index, None)?;
    iface::forget(records, link.index)
}
