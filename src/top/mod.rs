//! `netattr top`: a full-screen dashboard of who uses the network, refreshed every interval.
//! The model (model.rs) and drawing (ui.rs) are pure; this file owns the terminal: it is
//! restored on every exit path (quit keys, SIGTERM/SIGHUP, errors, and panics through
//! ratatui's hook).
pub mod model;
pub mod ui;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};

use crate::bpf::{Instance, Pins, Source};
use crate::cli::{Global, SortKey, StatsArgs, TopArgs};
use crate::cmd::stats::{default_source, Context, RowKey};
use crate::rates::Sampler;
use crate::tc::Hook;
use crate::{cgroup, netlink, sock, sys, tc};
use model::{Action, Header, Model};

pub fn execute(g: &Global, a: &TopArgs) -> Result<ExitCode> {
    sys::require_privileges("top")?;
    if !std::io::stdout().is_terminal() {
        bail!(
            "top needs a terminal on stdout: in a pipeline use 'netattr stats --interval 1 --format ndjson'"
        );
    }
    let inst = Pins::new(&g.pin_dir).open()?;
    let source = default_source(&inst, a.source);
    show(g, &inst, source, Duration::from_secs_f64(a.interval), None)?;
    Ok(ExitCode::SUCCESS)
}

/// The dashboard on this terminal until a quit key, a caught signal or `until`.
pub fn show(
    g: &Global,
    inst: &Instance,
    source: Source,
    every: Duration,
    until: Option<Instant>,
) -> Result<()> {
    let args = StatsArgs::per_cgroup(source, SortKey::Total);
    let mut ctx = Context::new(g, &args, inst, source)?;
    let mut model = Model::new(header(inst, source)?);
    crate::signals::catch();
    let mut terminal = ratatui::init();
    let result = run(&mut terminal, &mut ctx, inst, &mut model, every, until);
    ratatui::restore();
    result
}

fn run(
    terminal: &mut ratatui::DefaultTerminal,
    ctx: &mut Context<'_>,
    inst: &Instance,
    model: &mut Model,
    every: Duration,
    until: Option<Instant>,
) -> Result<()> {
    let mut sampler: Sampler<RowKey> = Sampler::default();
    let first = ctx.read()?;
    sampler.next(first.iter().map(|(k, _, c)| (k, c)), 0.0);
    let mut last = Instant::now();
    let mut next = last + every;
    loop {
        if crate::signals::stopped() || until.is_some_and(|u| Instant::now() >= u) {
            return Ok(());
        }
        if Instant::now() >= next {
            next += every;
            let raw = ctx.read()?;
            let now = Instant::now();
            let seconds = (now - last).as_secs_f64();
            last = now;
            let rates = sampler.next(raw.iter().map(|(k, _, c)| (k, c)), seconds);
            if !model.paused {
                let report = ctx.report(raw, Some((rates, seconds)))?;
                model.update(&report);
                model.detail_lines = detail(inst, model.selected_id());
            }
        }
        terminal.draw(|f| ui::render(f, model))?;
        let wait = next.saturating_duration_since(Instant::now()).min(Duration::from_millis(250));
        if event::poll(wait)? {
            if let Event::Key(k) = event::read()? {
                if k.kind != KeyEventKind::Press {
                    continue;
                }
                let c = match k.code {
                    KeyCode::Char(c) => c,
                    KeyCode::Enter => '\n',
                    KeyCode::Up => '↑',
                    KeyCode::Down => '↓',
                    KeyCode::Esc => 'q',
                    _ => continue,
                };
                match model.key(c, k.modifiers.contains(KeyModifiers::CONTROL)) {
                    Action::Quit => return Ok(()),
                    Action::Reresolve => ctx.reresolve()?,
                    Action::None => {}
                }
                model.detail_lines = detail(inst, model.selected_id());
            }
        }
    }
}

/// What the header says: the source, what is attached, where cgroup2 is.
fn header(inst: &Instance, source: Source) -> Result<Header> {
    let ids = inst.prog_ids();
    let ifaces = netlink::links()?
        .into_iter()
        .filter(|l| {
            Hook::BOTH.iter().any(|h| matches!(tc::query(l.index, *h), Ok(Some(id)) if ids.contains(&id)))
        })
        .count();
    let socket = Hook::BOTH.iter().find_map(|h| sock::attached_to(&inst.pins, *h)).map(|id| {
        match cgroup::Resolver::new(cgroup::mount_point().unwrap_or_default()).map(|mut r| r.lookup(id)) {
            Ok(cgroup::Lookup::Path(p)) => format!("socket at {p}"),
            _ => format!("socket at cgroup {id}"),
        }
    });
    let attached = match (ifaces, socket) {
        (0, None) => "nothing attached".to_string(),
        (n, None) => format!("tc on {n} interface(s)"),
        (0, Some(s)) => s,
        (n, Some(s)) => format!("tc on {n} interface(s), {s}"),
    };
    let mount = cgroup::mount_point()?;
    let mode = if mount.ends_with("unified") { "hybrid" } else { "unified" };
    Ok(Header {
        source: format!("source {}", crate::output::label(&source)),
        attached,
        cgroup_mode: format!("cgroup2 at {} ({mode})", mount.display()),
    })
}

/// The selected cgroup's breakdowns, where the load counts them.
fn detail(inst: &Instance, id: Option<u64>) -> Vec<String> {
    use crate::bpf::layout::{proto_name, IfaceKey, PortKey, META_IFACES, META_PORTS};
    use crate::bpf::percpu::read_counters;
    let Some(id) = id else { return vec!["no row selected".into()] };
    let mut lines = Vec::new();
    if inst.meta.flags & META_IFACES != 0 {
        let names: std::collections::HashMap<u32, String> =
            netlink::links().unwrap_or_default().into_iter().map(|l| (l.index, l.name)).collect();
        for (k, c) in read_counters(&inst.iface_stats).unwrap_or_default() {
            if let Some(k) = IfaceKey::from_bytes(&k).filter(|k| k.cgroup_id == id) {
                let name = names.get(&k.ifindex).cloned().unwrap_or_else(|| format!("#{}", k.ifindex));
                lines.push(format!(
                    "iface {name:<16} rx {:>10}  tx {:>10}",
                    crate::output::bytes(c.rx_bytes),
                    crate::output::bytes(c.tx_bytes)
                ));
            }
        }
    }
    if inst.meta.flags & META_PORTS != 0 {
        for (k, c) in read_counters(&inst.port_stats).unwrap_or_default() {
            if let Some(k) = PortKey::from_bytes(&k).filter(|k| k.cgroup_id == id) {
                let src = if k.source == 1 { "tc" } else { "socket" };
                lines.push(format!(
                    "{:<6} {:>5} ({src:<6}) rx {:>10}  tx {:>10}",
                    proto_name(k.proto),
                    k.port,
                    crate::output::bytes(c.rx_bytes),
                    crate::output::bytes(c.tx_bytes)
                ));
            }
        }
    }
    if lines.is_empty() {
        lines.push("no breakdown counted for this load (netattr load --breakdown iface,port)".into());
    }
    lines
}
