//! `netattr top`: a full-screen dashboard of who uses the network, refreshed every interval.
//! The model (model.rs) and drawing (ui.rs) are pure; this file owns the terminal: it is
//! restored on every exit path (quit keys, SIGTERM/SIGHUP, errors, and panics through
//! ratatui's hook).
pub mod keys;
pub mod model;
pub mod ui;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::bpf::{Instance, Pins, Source};
use crate::cli::{Global, TopArgs};
use crate::core::addrbook::AddrBook;
use crate::core::inventory::carriers;
use crate::core::live::Rater;
use crate::core::namer::{Namer, State};
use crate::core::reader::{self, default_source, Query};
use crate::core::report::{Reporter, View};
use crate::core::row::{By, SortKey};
use crate::tc::Hook;
use crate::{cgroup, sock, sys};
use keys::Input;
use model::{Action, Header, Model};

pub fn execute(g: &Global, a: &TopArgs) -> Result<ExitCode> {
    sys::require_reader_privileges("top")?;
    if !std::io::stdout().is_terminal() {
        bail!(
            "top needs a terminal on stdout: in a pipeline use 'netattr stats --interval 1 --format ndjson'"
        );
    }
    Pins::new(&g.pin_dir).open()?;
    show(g, a.source, Duration::from_secs_f64(a.interval), None)?;
    Ok(ExitCode::SUCCESS)
}

/// The dashboard on this terminal until a quit key, a caught signal, the terminal going
/// away, or `until`. Follows the instance across `cleanup` + `load`.
pub fn show(g: &Global, asked: Option<Source>, every: Duration, until: Option<Instant>) -> Result<()> {
    crate::signals::catch();
    let mut terminal = ratatui::init();
    let mut model: Option<Model> = None;
    let result = (|| loop {
        let pins = Pins::new(&g.pin_dir);
        let inst = match pins.open() {
            Ok(i) => i,
            Err(e) if model.is_none() => return Err(e),
            Err(_) => {
                // Between a cleanup and the next load: keep the screen, say so, wait.
                if let Some(m) = model.as_mut() {
                    m.header.attached =
                        format!("not loaded at {}: waiting for a new load", pins.dir.display());
                    terminal.draw(|f| ui::render(f, m))?;
                }
                match keys::read(Duration::from_millis(250)) {
                    Input::End => return Ok(()),
                    _ if crate::signals::stopped() || until.is_some_and(|u| Instant::now() >= u) => {
                        return Ok(())
                    }
                    _ => continue,
                }
            }
        };
        let source = default_source(&inst, asked);
        let header = header(g, &inst, source)?;
        let m = model.get_or_insert_with(|| Model::new(header.clone()));
        m.header = header;
        match run(&mut terminal, g, &inst, asked, m, every, until)? {
            Run::Done => return Ok(()),
            Run::Replaced => {}
        }
    })();
    ratatui::restore();
    result
}

enum Run {
    Done,
    Replaced,
}

fn run(
    terminal: &mut ratatui::DefaultTerminal,
    g: &Global,
    inst: &Instance,
    asked: Option<Source>,
    model: &mut Model,
    every: Duration,
    until: Option<Instant>,
) -> Result<Run> {
    let source = default_source(inst, asked);
    let query = Query { source, by: By::Cgroup };
    let mut reporter =
        Reporter::new(&g.place(), inst, View { sort: SortKey::Total, top: None, resolve: true })?;
    let mut rater = Rater::default();
    rater.baseline(&reader::read(inst, query)?);
    let mut classes = ClassRates::new(inst, source);
    // Who holds each address, for the detail pane's peers: read again each refresh.
    let mut book = None;
    let mut next = Instant::now() + every;
    loop {
        if crate::signals::stopped() || until.is_some_and(|u| Instant::now() >= u) {
            return Ok(Run::Done);
        }
        if inst.replaced() || default_source(inst, asked) != source {
            return Ok(Run::Replaced);
        }
        if Instant::now() >= next {
            next += every;
            let snap = reader::read(inst, query)?;
            let rates = rater.rates(&snap);
            if !model.paused {
                model.update(&reporter.report(snap, Some(rates)));
                classes.tick(inst);
                if let Some(internet) = classes.internet() {
                    model.set_internet(&internet);
                }
                if inst.meta.has(crate::bpf::layout::META_PEERS) && model.selected_cgroup().is_some() {
                    book = Some(reporter.address_book());
                }
                model.detail_lines = detail_of(inst, model, &classes, book.as_ref());
            }
        }
        terminal.draw(|f| ui::render(f, model))?;
        let wait = next.saturating_duration_since(Instant::now()).min(Duration::from_millis(250));
        let Input::Keys(keys) = keys::read(wait) else { return Ok(Run::Done) };
        for (c, ctrl) in keys {
            match model.key(c, ctrl) {
                Action::Quit => return Ok(Run::Done),
                Action::Reresolve => reporter.forget()?,
                Action::None => {}
            }
            model.detail_lines = detail_of(inst, model, &classes, book.as_ref());
        }
    }
}

/// The class breakdown of the source on screen, with rates between refreshes.
struct ClassRates {
    source: Source,
    rater: Option<Rater>,
    last: Option<anyhow::Result<(reader::Snapshot, RateMap)>>,
}

type RateMap = std::collections::HashMap<crate::core::row::RowKey, crate::rates::Rates>;

impl ClassRates {
    fn new(inst: &Instance, source: Source) -> ClassRates {
        let on = inst.meta.has(crate::bpf::layout::META_CLASSES);
        let mut rater = on.then(Rater::default);
        if let (Some(r), Ok(s)) = (rater.as_mut(), reader::read(inst, Query { source, by: By::Class })) {
            r.baseline(&s);
        }
        ClassRates { source, rater, last: None }
    }

    /// Each cgroup's rate (rx + tx) to and from the `internet` class, from the last tick.
    fn internet(&self) -> Option<std::collections::HashMap<u64, f64>> {
        let Some(Ok((snap, rates))) = &self.last else { return None };
        let mut out = std::collections::HashMap::new();
        for r in &snap.rows {
            if matches!(&r.extra, crate::core::row::Extra::Class(_, n) if n == "internet") {
                let x = rates.get(&r.key).map_or(0.0, |x| x.rx_bytes_per_s + x.tx_bytes_per_s);
                *out.entry(r.key.0).or_insert(0.0) += x;
            }
        }
        Some(out)
    }

    fn tick(&mut self, inst: &Instance) {
        let Some(rater) = self.rater.as_mut() else { return };
        self.last = Some(reader::read(inst, Query { source: self.source, by: By::Class }).map(|s| {
            let (rates, _) = rater.rates(&s);
            (s, rates)
        }));
    }
}

/// What the header says: the source, what is attached, where cgroup2 is.
fn header(g: &Global, inst: &Instance, source: Source) -> Result<Header> {
    let ifaces = carriers(inst)?.len();
    let mut namer = Namer::new(&g.place(), Some(inst))?;
    let socket =
        Hook::BOTH.iter().find_map(|h| sock::attached_to(&inst.pins, *h)).map(|id| match namer.locate(id) {
            (State::Live, Some(p)) => format!("socket at {p}"),
            _ => format!("socket at cgroup {id}"),
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

/// The detail pane: the selected cgroup's breakdowns, or what a group's row is.
fn detail_of(inst: &Instance, model: &Model, classes: &ClassRates, book: Option<&AddrBook>) -> Vec<String> {
    match model.rows.get(model.selected) {
        Some(r) if r.members > 0 => {
            vec![format!("{} sums {}: press g until 'by: cgroup' for each one's breakdown", r.name, r.ident)]
        }
        _ => detail(inst, model.selected_cgroup(), classes, book),
    }
}

/// The selected cgroup's breakdowns, where the load counts them.
fn detail(inst: &Instance, id: Option<u64>, classes: &ClassRates, book: Option<&AddrBook>) -> Vec<String> {
    use crate::bpf::layout::{META_IFACES, META_PORTS};
    let Some(id) = id else { return vec!["no row selected".into()] };
    let mut reads = Vec::new();
    let none = RateMap::new();
    let mut rates = &none;
    match &classes.last {
        Some(Ok((snap, r))) => {
            rates = r;
            reads.push((
                "class",
                Ok(reader::Snapshot {
                    source: snap.source,
                    by: By::Class,
                    // Only the selected cgroup's rows: the pane shows no others.
                    rows: snap.rows.iter().filter(|r| r.key.0 == id).cloned().collect(),
                    fill: vec![],
                }),
            ));
        }
        Some(Err(e)) => reads.push(("class", Err(anyhow::anyhow!("{e:#}")))),
        None => {}
    }
    if inst.meta.has(META_IFACES) {
        reads.push(("interface", reader::read(inst, Query { source: Source::Tc, by: By::Iface })));
    }
    if inst.meta.has(META_PORTS) {
        for source in [Source::Tc, Source::Socket] {
            reads.push(("port", reader::read(inst, Query { source, by: By::Port })));
        }
    }
    if inst.meta.has(crate::bpf::layout::META_PEERS) {
        let source = reader::default_source(inst, None);
        reads.push(("peer", reader::read(inst, Query { source, by: By::Peer }).map(|s| top_peers(s, id))));
    }
    detail_lines(id, reads, rates, book)
}

/// The selected cgroup's largest peers (PEERS_SHOWN of them), largest first.
fn top_peers(mut snap: reader::Snapshot, id: u64) -> reader::Snapshot {
    const PEERS_SHOWN: usize = 8;
    snap.rows.retain(|r| r.key.0 == id);
    snap.rows.sort_by_key(|r| std::cmp::Reverse(r.counters.total_bytes()));
    snap.rows.truncate(PEERS_SHOWN);
    snap
}

/// The detail pane's lines for cgroup `id` from the breakdown reads of a load: a read that
/// failed says so, a load without breakdowns says how to get them.
/// Class rows show their rates (from `rates`) beside their totals.
fn detail_lines(
    id: u64,
    reads: Vec<(&str, anyhow::Result<reader::Snapshot>)>,
    rates: &RateMap,
    book: Option<&AddrBook>,
) -> Vec<String> {
    use crate::core::row::Extra;
    if reads.is_empty() {
        return vec![
            "no breakdown counted for this load (netattr load --breakdown class,iface,port,peer)".into()
        ];
    }
    let mut lines = Vec::new();
    for (what, read) in reads {
        let snap = match read {
            Ok(s) => s,
            Err(e) => {
                lines.push(format!("the {what} breakdown could not be read: {e:#}"));
                continue;
            }
        };
        let source = crate::output::label(&snap.source);
        for r in snap.rows.iter().filter(|r| r.key.0 == id) {
            let (rx, tx) =
                (crate::output::bytes(r.counters.rx_bytes), crate::output::bytes(r.counters.tx_bytes));
            match &r.extra {
                Extra::Iface(i, name) => {
                    let name = name.clone().unwrap_or_else(|| format!("#{i}"));
                    lines.push(format!("iface {name:<16} rx {rx:>10}  tx {tx:>10}"));
                }
                Extra::Port(p, port) => lines.push(format!(
                    "{:<6} {port:>5} ({source:<6}) rx {rx:>10}  tx {tx:>10}",
                    crate::bpf::layout::proto_name(*p)
                )),
                Extra::Class(_, name) => {
                    let (rx_s, tx_s) =
                        rates.get(&r.key).map_or((0.0, 0.0), |x| (x.rx_bytes_per_s, x.tx_bytes_per_s));
                    lines.push(format!(
                        "{name:<12} ({source:<6}) rx {:>10}  tx {:>10}   total rx {rx:>10}  tx {tx:>10}",
                        crate::output::rate(rx_s),
                        crate::output::rate(tx_s)
                    ));
                }
                Extra::Peer(_, class, peer) => {
                    let mut p = crate::core::peername::PeerName::unnamed(peer, class);
                    if let Some(b) = book {
                        b.name(&mut p);
                    }
                    lines.push(format!(
                        "peer {:<24} {class:<10} ({source:<6}) rx {rx:>10}  tx {tx:>10}",
                        p.peer
                    ));
                }
                Extra::None => {}
            }
        }
    }
    if lines.is_empty() {
        lines.push("no breakdown rows for this cgroup yet".into());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::Counters;
    use crate::core::row::{Extra, RawRow};

    #[test]
    fn the_detail_pane_says_when_a_breakdown_could_not_be_read() {
        let none = RateMap::new();
        assert!(detail_lines(7, vec![], &none, None)[0].starts_with("no breakdown counted"));
        let failed = detail_lines(7, vec![("port", Err(anyhow::anyhow!("map gone")))], &none, None);
        assert_eq!(failed, vec!["the port breakdown could not be read: map gone".to_string()]);
        let row = RawRow {
            key: (7, 0, 6, 80, 0),
            extra: Extra::Port(6, 80),
            counters: Counters { rx_bytes: 2048, ..Default::default() },
        };
        let snap = reader::Snapshot { source: Source::Socket, by: By::Port, rows: vec![row], fill: vec![] };
        let ok = detail_lines(7, vec![("port", Ok(snap))], &none, None);
        assert_eq!(ok, vec!["tcp       80 (socket) rx      2 KiB  tx        0 B".to_string()]);
        let other = detail_lines(
            8,
            vec![(
                "interface",
                Ok(reader::Snapshot { source: Source::Tc, by: By::Iface, rows: vec![], fill: vec![] }),
            )],
            &none,
            None,
        );
        assert_eq!(other, vec!["no breakdown rows for this cgroup yet".to_string()]);
    }

    #[test]
    fn the_detail_pane_names_a_peer_by_who_holds_its_address() {
        use crate::core::addrbook::{Holder, Holding};
        use crate::core::peers::Peer;
        let ip: std::net::IpAddr = "10.0.0.2".parse().unwrap();
        let row = RawRow {
            key: (7, 5, 1, 0, 0),
            extra: Extra::Peer(5, "private".into(), Peer::Addr(ip)),
            counters: Counters { tx_bytes: 4096, ..Default::default() },
        };
        let snap = || reader::Snapshot {
            source: Source::Socket,
            by: By::Peer,
            rows: vec![row.clone()],
            fill: vec![],
        };
        let holder = Holder {
            path: "/db".into(),
            identity: "container:db".into(),
            name: Some("db-1".into()),
            pod_namespace: None,
        };
        let book = AddrBook::of([(ip, Holding::Workload(holder))]);
        let none = RateMap::new();
        let named = detail_lines(7, vec![("peer", Ok(snap()))], &none, Some(&book));
        assert!(named[0].starts_with("peer db-1 "), "{named:?}");
        let bare = detail_lines(7, vec![("peer", Ok(snap()))], &none, None);
        assert!(bare[0].starts_with("peer 10.0.0.2 "), "{bare:?}");
    }
}
