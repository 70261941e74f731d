//! Attachments: what `attach`, `detach` and `cleanup` report, and how netattr's filters and
//! socket links are found and removed (the one place that knows which links carry them).
use std::io::{self, Write};

use anyhow::Result;
use libbpf_rs::MapHandle;
use serde::Serialize;

use crate::bpf::attachments::{self, Owners};
use crate::bpf::layout::{ATTACH_EGRESS, ATTACH_INGRESS, ATTACH_QDISC_CREATED, ATTACH_QDISC_INTENT};
use crate::bpf::Pins;
use crate::netlink::{self, Link};
use crate::output::{self, Report};
use crate::owner::Owner;
use crate::sock;
use crate::tc::{self, Attached, Hook};

/// Which hooks of an interface: ingress, egress or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Direction {
    Ingress,
    Egress,
    Both,
}

impl Direction {
    pub fn ingress(self) -> bool {
        matches!(self, Direction::Ingress | Direction::Both)
    }
    pub fn egress(self) -> bool {
        matches!(self, Direction::Egress | Direction::Both)
    }
}

/// What an attachment is made on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A clsact hook of an interface (tc source).
    Tc,
    /// A cgroup (socket source).
    Cgroup,
}

#[derive(Debug, Serialize)]
pub struct HookRow {
    pub kind: Kind,
    /// The interface name, or the cgroup path relative to the cgroup2 mount.
    pub target: String,
    /// The interface index; null for a cgroup.
    pub ifindex: Option<u32>,
    pub hook: Hook,
    /// "attached", "already attached", "detached" or "not attached"
    pub result: HookResult,
    /// For a host-side veth: the cgroup behind it, whose rx and tx it counts.
    pub owner: Option<Owner>,
}

impl HookRow {
    pub fn tc(link: &Link, hook: Hook, result: HookResult, owner: Option<Owner>) -> Self {
        HookRow { kind: Kind::Tc, target: link.name.clone(), ifindex: Some(link.index), hook, result, owner }
    }
}

#[derive(Debug, Serialize)]
pub struct HooksReport {
    pub schema: u32,
    pub hooks: Vec<HookRow>,
}

impl Report for HooksReport {
    const ROWS: Option<&'static str> = Some("hooks");

    fn render_table(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut t = output::table(["KIND", "TARGET", "IFINDEX", "HOOK", "RESULT", "OWNER"]);
        for r in &self.hooks {
            output::add_row(
                &mut t,
                [
                    output::label(&r.kind),
                    r.target.clone(),
                    r.ifindex.map(|i| i.to_string()).unwrap_or_else(|| "-".into()),
                    r.hook.name().to_string(),
                    output::label(&r.result),
                    r.owner.as_ref().map(|o| o.path.clone()).unwrap_or_else(|| "-".into()),
                ],
            );
        }
        output::write_table(out, &t)
    }
}

pub fn hooks(d: Direction) -> Vec<Hook> {
    Hook::BOTH.into_iter().filter(|h| if *h == Hook::Ingress { d.ingress() } else { d.egress() }).collect()
}

pub fn hook_bit(h: Hook) -> u32 {
    match h {
        Hook::Ingress => ATTACH_INGRESS,
        Hook::Egress => ATTACH_EGRESS,
    }
}

/// What an attach or detach did on one hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HookResult {
    #[serde(rename = "attached")]
    Attached,
    #[serde(rename = "already attached")]
    AlreadyAttached,
    #[serde(rename = "detached")]
    Detached,
    #[serde(rename = "not attached")]
    NotAttached,
}

impl HookResult {
    pub fn of_attach(a: Attached) -> Self {
        if a == Attached::New {
            HookResult::Attached
        } else {
            HookResult::AlreadyAttached
        }
    }

    pub fn of_detach(removed: bool) -> Self {
        if removed {
            HookResult::Detached
        } else {
            HookResult::NotAttached
        }
    }
}

/// Removes the socket programs' links; each row names the cgroup its link was on (its path,
/// as `attach` prints it), "-" where none was attached.
pub fn detach_cgroup(pins: &Pins) -> Result<Vec<HookRow>> {
    let mut resolver = crate::cgroup::mount_point().and_then(crate::cgroup::Resolver::new).ok();
    let targets: Vec<(Hook, String)> = Hook::BOTH
        .iter()
        .map(|h| {
            let path = sock::attached_to(pins, *h).and_then(|id| match resolver.as_mut()?.lookup(id) {
                crate::cgroup::Lookup::Path(p) => Some(p),
                _ => Some(format!("cgroup:{id}")),
            });
            (*h, path.unwrap_or_else(|| "-".into()))
        })
        .collect();
    let target_of =
        |h: Hook| targets.iter().find(|(x, _)| *x == h).map(|(_, t)| t.clone()).unwrap_or_default();
    Ok(sock::detach(pins)?
        .into_iter()
        .map(|(hook, removed)| HookRow {
            kind: Kind::Cgroup,
            target: target_of(hook),
            ifindex: None,
            hook,
            result: HookResult::of_detach(removed),
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
        for (idx, _) in attachments::records(map)? {
            match links.iter().find(|l| l.index == idx) {
                Some(l) if !out.contains(l) => out.push(l.clone()),
                Some(_) => {}
                None => attachments::forget(map, idx)?,
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
        Some((records, _)) => attachments::record(records, link.index)?,
        None => None,
    };
    for h in hooks(d) {
        let removed = tc::detach(link.index, h, ids).map_err(|e| {
            anyhow::anyhow!(e).context(format!("cannot detach from {} {}", link.name, h.name()))
        })?;
        if let Some(r) = rec.as_mut() {
            r.flags &= !hook_bit(h);
        }
        rows.push(HookRow::tc(link, h, HookResult::of_detach(removed), None));
    }
    let Some((records, owners)) = maps else { return Ok(()) };
    let Some(rec) = rec else { return Ok(()) };
    if rec.flags & (ATTACH_INGRESS | ATTACH_EGRESS) != 0 {
        return attachments::save(records, link.index, &rec);
    }
    if rec.flags & (ATTACH_QDISC_CREATED | ATTACH_QDISC_INTENT) != 0 {
        tc::remove_clsact_if_empty(link.index)?;
    }
    owners.set(link.index, None)?;
    attachments::forget(records, link.index)
}
