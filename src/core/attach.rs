//! Attaching: the tc programs on an interface (its owner cgroup recorded first, the qdisc
//! added write-ahead so that cleanup can follow a netattr killed half-way), the socket
//! programs on a cgroup, and the watch that attaches new veths as they appear.
use std::collections::HashMap;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::classes::HostFollowing;
use super::hooks::{hook_bit, hooks, Direction, HookResult, HookRow, Kind};
use crate::bpf::attachments;
use crate::bpf::layout::{ATTACH_EGRESS, ATTACH_INGRESS, ATTACH_QDISC_CREATED, ATTACH_QDISC_INTENT};
use crate::bpf::{Attachment, Instance, PinState, Pins};
use crate::netlink::{self, Link, LinkEvent};
use crate::owner::{self, Owner};
use crate::sock;
use crate::tc::{self, Hook};

/// How long a new veth's owner is looked for (a container's process starts after its link).
const OWNER_PATIENCE: Duration = Duration::from_secs(60);

/// `attach --all-veth --watch`: follows link events until `stopped`, attaching new host-side
/// veths within the event's arrival, looking for their owners every second until found,
/// and forgetting removed interfaces.
pub fn watch(
    pins: &Pins,
    inst: &Instance,
    d: Direction,
    mount: &Path,
    mut no_owner: Vec<Link>,
    stopped: &dyn Fn() -> bool,
    emit: &mut dyn FnMut(Vec<HookRow>) -> Result<()>,
) -> Result<()> {
    let mut events = netlink::LinkWatcher::new()?;
    eprintln!("netattr: watching for veth interfaces; stop with Ctrl-C");
    let mut since: HashMap<u32, Instant> = no_owner.iter().map(|l| (l.index, Instant::now())).collect();
    let mut last_scan = Instant::now();
    // The host class kept current beside the watch, until it ends.
    let _host = HostFollowing::start(&pins.dir);
    while !stopped() {
        let batch = events.next(Duration::from_millis(250))?;
        let scan = !no_owner.is_empty() && last_scan.elapsed() >= Duration::from_secs(1);
        if batch.is_empty() && !scan {
            continue;
        }
        let _lock = pins.lock()?;
        if pins.state() != PinState::Loaded {
            eprintln!("netattr: {} was cleaned up; the watch stops", pins.dir.display());
            return Ok(());
        }
        let mut rows = Vec::new();
        for ev in batch {
            match ev {
                LinkEvent::New(link) if link.is_host_side_veth() => {
                    let owners = owner::find(std::slice::from_ref(&link), mount)?;
                    let mut new_rows = Vec::new();
                    match attach_one(inst, &link, d, owners.get(&link.index), &mut new_rows) {
                        Ok(()) => {}
                        // Gone again, or another instance's: not this watch's business.
                        Err(e) => eprintln!("netattr: skipped {}: {}", link.name, e.root_cause()),
                    }
                    // Link events repeat (up, rename, master): report only what changed.
                    rows.extend(new_rows.into_iter().filter(|r| r.result == HookResult::Attached));
                    if !owners.contains_key(&link.index) && !since.contains_key(&link.index) {
                        since.insert(link.index, Instant::now());
                        no_owner.push(link);
                    }
                }
                LinkEvent::Gone(index) => {
                    inst.owners.set(index, None)?;
                    attachments::forget(&inst.attachments, index)?;
                    no_owner.retain(|l| l.index != index);
                    since.remove(&index);
                }
                _ => {}
            }
        }
        if scan {
            last_scan = Instant::now();
            let found = owner::find(&no_owner, mount)?;
            for (index, o) in &found {
                inst.owners.set(*index, Some(o.cgroup_id))?;
            }
            no_owner.retain(|l| {
                !found.contains_key(&l.index)
                    && since.get(&l.index).is_some_and(|t| t.elapsed() < OWNER_PATIENCE)
            });
        }
        if !rows.is_empty() {
            emit(rows)?;
        }
    }
    eprintln!("netattr: watch stopped; the attachments stay (netattr detach --all-veth removes them)");
    Ok(())
}

/// Attaches the tc programs to `link` (its owner recorded first), adding a row per hook.
pub fn attach_one(
    inst: &Instance,
    link: &Link,
    d: Direction,
    owner: Option<&Owner>,
    rows: &mut Vec<HookRow>,
) -> Result<()> {
    let fail = || format!("cannot attach to {}", link.name);
    let mut rec = attachments::record(&inst.attachments, link.index)?
        .unwrap_or_else(|| Attachment { flags: 0, ifname: link.name.clone() });
    rec.ifname.clone_from(&link.name);
    // The owner first, so that the first packet counted is already the owner's. An owner
    // found earlier is kept when none is found now (its namespace has no process left).
    let kept = match owner {
        Some(_) => None,
        None => inst.owners.get(link.index).map(|id| Owner { cgroup_id: id, path: owner::path_of(id) }),
    };
    let owner = owner.or(kept.as_ref());
    inst.owners.set(link.index, owner.map(|o| o.cgroup_id))?;
    // Write-ahead: record the intent to add a qdisc before adding it, so that a netattr
    // killed in between leaves a record that cleanup follows.
    if rec.flags & ATTACH_QDISC_CREATED == 0 {
        attachments::save(
            &inst.attachments,
            link.index,
            &Attachment { flags: rec.flags | ATTACH_QDISC_INTENT, ..rec.clone() },
        )?;
    }
    let created = tc::ensure_clsact(link.index).with_context(fail)?;
    if created {
        rec.flags |= ATTACH_QDISC_CREATED;
    }
    let mut outcome = Ok(());
    for h in hooks(d) {
        let prog = if h == Hook::Ingress { &inst.tc_ingress } else { &inst.tc_egress };
        match tc::attach(link.index, h, prog.as_fd(), prog.id()) {
            Ok(r) => {
                rec.flags |= hook_bit(h);
                rows.push(HookRow::tc(link, h, HookResult::of_attach(r), owner.cloned()));
            }
            Err(e) => {
                outcome = Err(e.context(format!("{}: {} hook", fail(), h.name())));
                break;
            }
        }
    }
    if rec.flags & (ATTACH_INGRESS | ATTACH_EGRESS) == 0 {
        // Nothing of ours is on the interface: leave it exactly as it was.
        if created {
            let _ = tc::remove_clsact_if_empty(link.index);
        }
        inst.owners.set(link.index, None)?;
        attachments::forget(&inst.attachments, link.index)?;
        return outcome;
    }
    attachments::save(&inst.attachments, link.index, &rec)?;
    outcome
}

/// Attaches the socket programs to the cgroup directory `dir` (under `mount`).
pub fn attach_cgroup(inst: &Instance, mount: &Path, dir: &Path) -> Result<Vec<HookRow>> {
    let target = format!("/{}", dir.strip_prefix(mount).unwrap_or(dir).display());
    Ok(sock::attach(inst, dir)?
        .into_iter()
        .map(|(hook, r)| HookRow {
            kind: Kind::Cgroup,
            target: target.clone(),
            ifindex: None,
            hook,
            result: HookResult::of_attach(r),
            owner: None,
        })
        .collect())
}
