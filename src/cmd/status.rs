//! `netattr status`: what is pinned, where it is attached, how full the maps are
//! (core::status gathers it).
use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Result;

use crate::bpf::Pins;
use crate::cli::Global;
use crate::core::status::{self, InstanceState, SocketRow, StatusReport};
use crate::output::{self, Report};
use crate::sys;

impl Report for StatusReport {
    fn render_table(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "netattr at {}: {}", self.pin_dir.display(), output::label(&self.state))?;
        if let (Some(at), Some(v)) = (&self.loaded_at, self.layout_version) {
            let fast = if self.fast_path == Some(true) { "on" } else { "off" };
            writeln!(out, "loaded {at}, map layout {v}, per-cgroup fast path {fast}")?;
        }
        if self.state == InstanceState::Partial {
            writeln!(out, "unfinished load, pins present: {}", self.pins.join(", "))?;
            return Ok(());
        }
        writeln!(out)?;
        self.render_objects(out)?;
        self.render_attachments(out)?;
        self.render_health(out)?;
        match &self.recorder {
            Some(r) => writeln!(
                out,
                "recorder: last cycle {} ({} cycles, {:.1} ms, {:.1} ms CPU, {} rows billed, {} waiting for their 5-minute bucket, {} gone workloads collected, {} resets){}",
                output::unix_time(r.at.max(0) as u64),
                r.cycles,
                r.duration_ms,
                r.cpu_ms,
                r.rows,
                r.waiting,
                r.collected,
                r.resets,
                r.last_error.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default()
            )?,
            None => writeln!(out, "recorder: no ledger (netattr record writes one)")?,
        }
        for e in &self.exports {
            writeln!(out, "{e}")?;
        }
        Ok(())
    }
}

impl StatusReport {
    /// The programs and maps, one table each.
    fn render_objects(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut t = output::table(["PROGRAM", "ID", "TAG"]);
        for p in &self.programs {
            output::add_row(&mut t, [p.name.clone(), p.id.to_string(), p.tag.clone()]);
        }
        output::write_table(out, &t)?;
        writeln!(out)?;
        let mut t = output::table(["MAP", "TYPE", "ID", "ENTRIES", "CAPACITY", "FILL"]);
        for m in &self.maps {
            let entries = m.entries.map_or_else(|| "-".into(), |e| e.to_string());
            let fill = m.fill().map_or_else(|| "-".into(), |(_, r)| format!("{:.1}%", 100.0 * r));
            output::add_row(
                &mut t,
                [m.name.clone(), m.kind.clone(), m.id.to_string(), entries, m.max_entries.to_string(), fill],
            );
        }
        output::align_right(&mut t, &[2, 3, 4, 5]);
        output::write_table(out, &t)?;
        writeln!(out)?;
        Ok(())
    }

    /// The interfaces attached to and the socket programs' cgroup.
    fn render_attachments(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.interfaces.is_empty() {
            writeln!(out, "attached to no interface")?;
        } else {
            let mut t = output::table(["IFACE", "IFINDEX", "INGRESS", "EGRESS", "QDISC", "OWNER"]);
            for i in &self.interfaces {
                let yn = |b: bool| if b { "yes" } else { "no" };
                let q = if i.qdisc_created { "added by netattr" } else { "pre-existing" };
                let owner = i.owner.as_ref().map(|o| o.path.clone()).unwrap_or_else(|| "-".into());
                output::add_row(
                    &mut t,
                    [
                        i.iface.clone(),
                        i.ifindex.to_string(),
                        yn(i.ingress).into(),
                        yn(i.egress).into(),
                        q.into(),
                        owner,
                    ],
                );
            }
            output::write_table(out, &t)?;
        }
        match &self.socket {
            Some(SocketRow { attached: true, path, cgroup_id }) => writeln!(
                out,
                "socket programs attached to cgroup {} (id {})",
                output::clean(path.as_deref().unwrap_or("(gone)")),
                cgroup_id.unwrap_or(0)
            )?,
            _ => writeln!(out, "socket programs attached to no cgroup")?,
        }
        Ok(())
    }

    /// The health counters and the gone cgroups that hold counters.
    fn render_health(&self, out: &mut dyn Write) -> io::Result<()> {
        if let Some(h) = &self.health {
            writeln!(out)?;
            writeln!(
                out,
                "health: insert failures {}, ring buffer drops {}, peers past the peer map {}",
                h.insert_failures, h.ringbuf_drops, h.peer_spills
            )?;
            for (name, b) in [("tc", &h.tc), ("socket", &h.socket)] {
                writeln!(
                    out,
                    "  {name:<6} unresolved {} in {} packets, overflow {} in {} packets",
                    output::bytes(b.unresolved_bytes),
                    b.unresolved_packets,
                    output::bytes(b.overflow_bytes),
                    b.overflow_packets
                )?;
            }
        }
        if let Some(n) = self.gone_cgroups {
            writeln!(out, "{n} gone cgroup(s) hold counters (collect them with 'netattr reap')")?;
        }
        Ok(())
    }
}

pub fn execute(g: &Global, a: &crate::cli::StatusArgs) -> Result<ExitCode> {
    sys::require_reader_privileges("status")?;
    let pins = Pins::new(&g.pin_dir);
    let report = status::status(&g.place(), &pins, &a.ledger)?;
    output::emit(g.format, &report)?;
    if report.state == InstanceState::Partial {
        eprintln!(
            "netattr: the load at {} did not finish: run 'netattr cleanup' and load again",
            pins.dir.display()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
