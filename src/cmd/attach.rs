//! `netattr attach`: put the pinned tc programs on interfaces.
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::bpf::layout::{ATTACH_EGRESS, ATTACH_INGRESS, ATTACH_QDISC_CREATED};
use crate::bpf::{Attachment, Instance, Pins};
use crate::cli::{AttachArgs, Direction, Global};
use crate::netlink::Link;
use crate::output::{self, Report};
use crate::tc::{self, Attached, Hook};
use crate::{iface, sys};

#[derive(Debug, Serialize)]
pub struct HookRow {
    pub iface: String,
    pub ifindex: u32,
    pub hook: Hook,
    /// "attached", "already attached"; for detach: "detached", "not attached"
    pub result: &'static str,
}

#[derive(Debug, Serialize)]
pub struct HooksReport {
    pub schema: u32,
    pub hooks: Vec<HookRow>,
}

impl Report for HooksReport {
    fn render_table(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut t = output::table(["IFACE", "IFINDEX", "HOOK", "RESULT"]);
        for r in &self.hooks {
            t.add_row([
                r.iface.clone(),
                r.ifindex.to_string(),
                r.hook.name().to_string(),
                r.result.to_string(),
            ]);
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

pub fn execute(g: &Global, a: &AttachArgs) -> Result<ExitCode> {
    sys::require_privileges("attach")?;
    let inst = Pins::new(&g.pin_dir).open()?;
    let links = iface::select(a.select.all_veth, &a.select.ifaces)?;
    if links.is_empty() {
        eprintln!("netattr: no veth interface in this network namespace; nothing attached");
    }
    let mut rows = Vec::new();
    for link in &links {
        attach_one(&inst, link, a.direction, &mut rows)?;
    }
    output::emit(g.format, &HooksReport { schema: output::SCHEMA, hooks: rows })?;
    Ok(ExitCode::SUCCESS)
}

fn attach_one(inst: &Instance, link: &Link, d: Direction, rows: &mut Vec<HookRow>) -> Result<()> {
    let fail = || format!("cannot attach to {}", link.name);
    let mut rec = iface::record(&inst.attachments, link.index)?
        .unwrap_or_else(|| Attachment { flags: 0, ifname: link.name.clone() });
    rec.ifname.clone_from(&link.name);
    let created = tc::ensure_clsact(link.index).with_context(fail)?;
    if created {
        rec.flags |= ATTACH_QDISC_CREATED;
    }
    let mut result = Ok(());
    for h in hooks(d) {
        let prog = if h == Hook::Ingress { &inst.tc_ingress } else { &inst.tc_egress };
        match tc::attach(link.index, h, prog.as_fd(), prog.id()) {
            Ok(outcome) => {
                rec.flags |= hook_bit(h);
                let result = if outcome == Attached::New { "attached" } else { "already attached" };
                rows.push(HookRow { iface: link.name.clone(), ifindex: link.index, hook: h, result });
            }
            Err(e) => {
                result = Err(e.context(format!("{}: {} hook", fail(), h.name())));
                break;
            }
        }
    }
    if rec.flags & (ATTACH_INGRESS | ATTACH_EGRESS) == 0 {
        // Nothing of ours is on the interface: leave it exactly as it was.
        if created {
            let _ = tc::remove_clsact_if_empty(link.index);
        }
        return result;
    }
    iface::save(&inst.attachments, link.index, &rec)?;
    result
}
