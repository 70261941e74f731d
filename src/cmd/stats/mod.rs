//! `netattr stats`: sum the per-CPU counters of one source and print a row per cgroup, per
//! (cgroup, interface) or per (cgroup, protocol, service port).
pub mod metrics;

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde::Serialize;

use crate::bpf::layout::{
    proto_name, IfaceKey, PortKey, CGID_OVERFLOW, CGID_UNRESOLVED, META_IFACES, META_PORTS,
};
use crate::bpf::percpu::{self, key_u64};
use crate::bpf::{Counters, Instance, Pins, Source};
use crate::cgroup::{self, Lookup, Resolver};
use crate::cli::{By, Global, SortKey, StatsArgs};
use crate::cmd::resolve::names_for;
use crate::identity::Summary;
use crate::names::Names;
use crate::output::{self, Report};
use crate::rates::{Rates, Sampler};
use crate::{netlink, sys};

/// What a row stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    /// A real cgroup.
    Cgroup,
    /// Traffic whose owner could not be told (cgroup id 0).
    Unresolved,
    /// Traffic of cgroups that did not fit in the map.
    Overflow,
}

#[derive(Debug, Serialize)]
pub struct Row {
    /// The cgroup v2 id; 0 for the unresolved bucket, null for the overflow bucket (its
    /// map key, 2^64-1, does not survive JSON readers that use doubles, such as jq).
    #[serde(serialize_with = "id_or_null")]
    pub cgroup_id: u64,
    pub bucket: Bucket,
    /// Path relative to the cgroup2 mount; null for the buckets and for removed cgroups.
    pub path: Option<String>,
    /// The cgroup has been removed since it was counted.
    pub gone: bool,
    /// What the path says (kind, runtime, container_id, pod_uid); nulls for the buckets.
    #[serde(flatten)]
    pub who: Summary,
    pub source: Source,
    /// With --by iface: the interface (its name, null if it is gone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ifindex: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iface: Option<Option<String>>,
    /// With --by port: "tcp", "udp", ... and the service port (0 where there is none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(flatten)]
    pub counters: Counters,
    /// With --interval: rates over the interval.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub rates: Option<Rates>,
}

fn id_or_null<S: serde::Serializer>(id: &u64, s: S) -> Result<S::Ok, S::Error> {
    if *id == CGID_OVERFLOW {
        s.serialize_none()
    } else {
        s.serialize_u64(*id)
    }
}

#[derive(Debug, Serialize)]
pub struct StatsReport {
    pub schema: u32,
    /// Which hooks the counters come from: "tc" or "socket".
    pub source: Source,
    /// "cgroup", "iface" or "port".
    pub by: &'static str,
    /// With --interval: when the sample was taken, and the seconds it covers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval_s: Option<f64>,
    pub pin_dir: PathBuf,
    pub cgroup2_mount: PathBuf,
    pub cgroups: Vec<Row>,
    pub totals: Counters,
    /// With --interval: the rates of all rows together.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rates: Option<Rates>,
    /// Map fill and health, read only for the Prometheus form.
    #[serde(skip)]
    pub health: Option<metrics::HealthExport>,
}

impl Report for StatsReport {
    const ROWS: Option<&'static str> = Some("cgroups");

    fn exposition(&self) -> Option<Result<String>> {
        Some(metrics::exposition(self, Vec::new()))
    }

    fn render_table(&self, out: &mut dyn Write) -> io::Result<()> {
        let interval = self.interval_s.is_some();
        if let (Some(t), Some(s)) = (&self.time, self.interval_s) {
            writeln!(out, "{t}  rates over {s:.2} s, source {}", output::label(&self.source))?;
        }
        let mut header = vec!["CGROUP_ID", "NAME", "PATH"];
        match self.by {
            "iface" => header.push("IFACE"),
            "port" => header.extend(["PROTO", "PORT"]),
            _ => {}
        }
        if interval {
            header.extend(["RX/s", "TX/s", "RX_PKTS/s", "TX_PKTS/s"]);
        } else {
            header.extend(["RX", "TX", "RX_PKTS", "TX_PKTS"]);
        }
        let first_number = header.len() - 4;
        let mut t = output::table(header);
        for r in &self.cgroups {
            let label = match (r.bucket, &r.path) {
                (Bucket::Unresolved, _) => "(unresolved)".to_string(),
                (Bucket::Overflow, _) => "(overflow: map full)".to_string(),
                (Bucket::Cgroup, Some(p)) => p.clone(),
                (Bucket::Cgroup, None) if r.gone => "(gone)".to_string(),
                (Bucket::Cgroup, None) => "(not resolved)".to_string(),
            };
            let id = if r.bucket == Bucket::Overflow { "-".to_string() } else { r.cgroup_id.to_string() };
            let name = r.who.name.clone().unwrap_or_else(|| "-".into());
            let mut cells = vec![id, name, label];
            if let Some(i) = r.ifindex {
                cells.push(r.iface.clone().flatten().unwrap_or_else(|| format!("#{i}")));
            }
            if let (Some(p), Some(port)) = (&r.protocol, r.port) {
                cells.extend([p.clone(), port.to_string()]);
            }
            match &r.rates {
                Some(x) => cells.extend([
                    output::rate(x.rx_bytes_per_s),
                    output::rate(x.tx_bytes_per_s),
                    format!("{:.0}", x.rx_packets_per_s),
                    format!("{:.0}", x.tx_packets_per_s),
                ]),
                None => cells.extend([
                    output::bytes(r.counters.rx_bytes),
                    output::bytes(r.counters.tx_bytes),
                    output::count(r.counters.rx_packets),
                    output::count(r.counters.tx_packets),
                ]),
            }
            output::add_row(&mut t, cells);
        }
        let mut right = vec![0];
        right.extend(first_number..first_number + 4);
        output::align_right(&mut t, &right);
        output::write_table(out, &t)?;
        if interval {
            writeln!(out)?;
        }
        Ok(())
    }
}

pub fn execute(g: &Global, a: &StatsArgs) -> Result<ExitCode> {
    sys::require_privileges("stats")?;
    let inst = Pins::new(&g.pin_dir).open()?;
    let source = default_source(&inst, a.source);
    if a.interval.is_some() {
        stream(g, a, &inst, source, None)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut ctx = Context::new(g, a, &inst, source)?;
    let mut report = ctx.report(ctx.read()?, None)?;
    if g.format == output::Format::Prometheus {
        report.health = Some(metrics::HealthExport::read(&inst)?);
    }
    match &a.output {
        Some(path) => output::emit_to_file(g.format, &report, path)?,
        None => output::emit(g.format, &report)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Rates: one report per `a.interval`, from counter deltas, until `a.count` reports, `until`
/// or a caught signal. Sampling times are kept on a fixed grid, so that the intervals do not
/// drift by the time each report takes.
pub fn stream(
    g: &Global,
    a: &StatsArgs,
    inst: &Instance,
    source: Source,
    until: Option<Instant>,
) -> Result<()> {
    if g.format == output::Format::Prometheus {
        bail!("--format prometheus has no --interval form: Prometheus computes rates itself ('netattr serve' exports the counters)");
    }
    let mut ctx = Context::new(g, a, inst, source)?;
    let every = Duration::from_secs_f64(a.interval.unwrap_or(1.0));
    let mut sampler: Sampler<RowKey> = Sampler::default();
    let first = ctx.read()?;
    sampler.next(first.iter().map(|(k, _, c)| (k, c)), 0.0);
    let (start, mut last) = (Instant::now(), Instant::now());
    for n in 1.. {
        let due = start + every * n as u32;
        if a.count.is_some_and(|c| n > c) || until.is_some_and(|u| due > u + every / 2) {
            break;
        }
        while Instant::now() < due {
            if crate::signals::stopped() {
                return Ok(());
            }
            std::thread::sleep(due.saturating_duration_since(Instant::now()).min(Duration::from_millis(100)));
        }
        let raw = ctx.read()?;
        let now = Instant::now();
        let seconds = (now - last).as_secs_f64();
        let rates = sampler.next(raw.iter().map(|(k, _, c)| (k, c)), seconds);
        last = now;
        let report = ctx.report(raw, Some((rates, seconds)))?;
        output::emit_interval(g.format, &report, n == 1)?;
    }
    Ok(())
}

/// The source `stats` reads unless told: socket where it is attached to a cgroup, else tc.
pub fn default_source(inst: &Instance, asked: Option<Source>) -> Source {
    asked.unwrap_or(if inst.socket_attached() { Source::Socket } else { Source::Tc })
}

/// Identifies a row across samples: cgroup, interface, protocol, port.
pub type RowKey = (u64, u32, u8, u16);

pub type Raw = Vec<(RowKey, Extra, Counters)>;

/// What `stats` (and `top`) need to turn map contents into reports.
pub struct Context<'a> {
    g: &'a Global,
    a: &'a StatsArgs,
    inst: &'a Instance,
    source: Source,
    resolver: Resolver,
    mount: PathBuf,
}

impl<'a> Context<'a> {
    pub fn new(g: &'a Global, a: &'a StatsArgs, inst: &'a Instance, source: Source) -> Result<Self> {
        let mount = cgroup::mount_point()?;
        let resolver = Resolver::new(mount.clone())?.with_tree(&inst.pins);
        Ok(Context { g, a, inst, source, resolver, mount })
    }

    /// Forgets cached paths, so that names are looked up again.
    pub fn reresolve(&mut self) -> Result<()> {
        self.resolver = Resolver::new(self.mount.clone())?.with_tree(&self.inst.pins);
        Ok(())
    }

    pub fn read(&self) -> Result<Raw> {
        match self.a.by {
            By::Cgroup => by_cgroup(self.inst, self.source),
            By::Iface => by_iface(self.inst, self.source),
            By::Port => by_port(self.inst, self.source),
        }
    }

    /// The report of one sample, with rates over the previous one in interval mode.
    pub fn report(&mut self, raw: Raw, rates: Option<(HashMap<RowKey, Rates>, f64)>) -> Result<StatsReport> {
        // Names are looked up afresh for each report: containers come and go.
        let mut names = names_for(self.g, Some(self.inst));
        let mut totals = Counters::default();
        let mut rate_totals = rates.as_ref().map(|_| Rates::default());
        if !self.a.no_resolve {
            let ids: Vec<u64> = raw.iter().map(|(key, ..)| key.0).collect();
            self.resolver.prefetch(&ids);
        }
        let mut rows: Vec<Row> = raw
            .into_iter()
            .map(|(key, extra, c)| {
                totals.add(&c);
                let (id, source) = (key.0, self.source);
                let mut r = if self.a.no_resolve {
                    bare_row(id, source, extra, c)
                } else {
                    row(self.inst, id, source, extra, c, &mut self.resolver, &mut names)
                };
                if let Some((by_key, _)) = &rates {
                    let rate = by_key.get(&key).copied().unwrap_or_default();
                    if let Some(t) = rate_totals.as_mut() {
                        t.add(&rate);
                    }
                    r.rates = Some(rate);
                }
                r
            })
            .collect();
        sort_and_cut(&mut rows, self.a.sort, self.a.top);
        let by = match self.a.by {
            By::Cgroup => "cgroup",
            By::Iface => "iface",
            By::Port => "port",
        };
        Ok(StatsReport {
            schema: output::SCHEMA,
            source: self.source,
            by,
            time: rates.as_ref().map(|_| output::now_rfc3339()),
            interval_s: rates.as_ref().map(|(_, s)| *s),
            pin_dir: self.g.pin_dir.clone(),
            cgroup2_mount: self.mount.clone(),
            cgroups: rows,
            totals,
            rates: rate_totals,
            health: None,
        })
    }
}

/// What a row adds to its cgroup: an interface, or a protocol and port.
pub enum Extra {
    None,
    Iface(u32, Option<String>),
    Port(u8, u16),
}

fn by_cgroup(inst: &Instance, source: Source) -> Result<Raw> {
    Ok(inst
        .per_cgroup(source)?
        .into_iter()
        .filter_map(|(k, c)| Some(((key_u64(&k)?, 0, 0, 0), Extra::None, c)))
        .collect())
}

fn by_iface(inst: &Instance, source: Source) -> Result<Raw> {
    if source != Source::Tc {
        bail!("the per-interface breakdown is counted by the tc source only: use 'stats --by iface --source tc'");
    }
    if inst.meta.flags & META_IFACES == 0 {
        bail!(
            "the per-interface breakdown is off for this load: run 'netattr cleanup' and 'netattr load --breakdown iface'"
        );
    }
    let names: HashMap<u32, String> = netlink::links()?.into_iter().map(|l| (l.index, l.name)).collect();
    Ok(percpu::read_counters(&inst.iface_stats)?
        .into_iter()
        .filter_map(|(k, c)| {
            let k = IfaceKey::from_bytes(&k)?;
            Some(((k.cgroup_id, k.ifindex, 0, 0), Extra::Iface(k.ifindex, names.get(&k.ifindex).cloned()), c))
        })
        .collect())
}

fn by_port(inst: &Instance, source: Source) -> Result<Raw> {
    if inst.meta.flags & META_PORTS == 0 {
        bail!("the per-port breakdown is off for this load: run 'netattr cleanup' and 'netattr load --breakdown port'");
    }
    Ok(percpu::read_counters(&inst.port_stats)?
        .into_iter()
        .filter_map(|(k, c)| {
            let k = PortKey::from_bytes(&k)?;
            (k.source == source.code()).then_some((
                (k.cgroup_id, 0, k.proto, k.port),
                Extra::Port(k.proto, k.port),
                c,
            ))
        })
        .collect())
}

fn bucket_of(id: u64) -> Bucket {
    match id {
        CGID_UNRESOLVED => Bucket::Unresolved,
        CGID_OVERFLOW => Bucket::Overflow,
        _ => Bucket::Cgroup,
    }
}

/// A row without a path or identity (`--no-resolve`).
fn bare_row(id: u64, source: Source, extra: Extra, counters: Counters) -> Row {
    let mut r = Row {
        cgroup_id: id,
        bucket: bucket_of(id),
        path: None,
        gone: false,
        who: Summary::default(),
        source,
        ifindex: None,
        iface: None,
        protocol: None,
        port: None,
        counters,
        rates: None,
    };
    r.set_extra(extra);
    r
}

/// The row of a cgroup known to be gone: named by the kernel's record of it.
pub fn gone_row(inst: &Instance, id: u64, source: Source, counters: Counters) -> Row {
    let mut r = bare_row(id, source, Extra::None, counters);
    r.path = inst.captured_path(id);
    r.gone = true;
    r.who = Summary::of(r.path.as_deref());
    r
}

/// A row with its path and identity: live, or as the kernel recorded it if gone.
fn row(
    inst: &Instance,
    id: u64,
    source: Source,
    extra: Extra,
    counters: Counters,
    resolver: &mut Resolver,
    names: &mut Names,
) -> Row {
    let mut r = bare_row(id, source, extra, counters);
    if r.bucket != Bucket::Cgroup {
        return r;
    }
    (r.path, r.gone) = match resolver.lookup(id) {
        Lookup::Path(p) => (Some(p), false),
        // Gone: named by what the kernel recorded at its first packet.
        Lookup::Gone => (inst.captured_path(id), true),
    };
    r.who = Summary::of(r.path.as_deref());
    names.enrich(&mut r.who);
    r.who.labels = None; // rows stay small; `resolve` shows labels
    r
}

impl Row {
    fn set_extra(&mut self, extra: Extra) {
        match extra {
            Extra::None => {}
            Extra::Iface(i, name) => {
                self.ifindex = Some(i);
                self.iface = Some(name);
            }
            Extra::Port(p, port) => {
                self.protocol = Some(proto_name(p));
                self.port = Some(port);
            }
        }
    }
}

/// Cgroup rows by the sort key (largest first, then by id), cut to `top`; the unresolved and
/// overflow rows always follow, so that no traffic is hidden by the cut. Sorts a small key
/// per row and then moves each (large) row once.
fn sort_and_cut(rows: &mut Vec<Row>, key: SortKey, top: Option<usize>) {
    // In interval mode rows sort by their rates, else by their counters.
    let k = |r: &Row| match (key, &r.rates) {
        (SortKey::Rx, Some(x)) => x.rx_bytes_per_s as u64,
        (SortKey::Tx, Some(x)) => x.tx_bytes_per_s as u64,
        (SortKey::Total, Some(x)) => x.total_bytes_per_s() as u64,
        (SortKey::Rx, None) => r.counters.rx_bytes,
        (SortKey::Tx, None) => r.counters.tx_bytes,
        (SortKey::Total, None) => r.counters.total_bytes(),
    };
    // Buckets last (unresolved, then overflow: key 0 before 2^64-1), cgroups by size, then id.
    let mut order: Vec<(bool, std::cmp::Reverse<u64>, u64, usize)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let bucket = r.bucket != Bucket::Cgroup;
            (bucket, std::cmp::Reverse(if bucket { 0 } else { k(r) }), r.cgroup_id, i)
        })
        .collect();
    order.sort_unstable();
    let limit = top.unwrap_or(usize::MAX);
    let mut slots: Vec<Option<Row>> = rows.drain(..).map(Some).collect();
    let mut cgroups = 0;
    for (bucket, _, _, i) in order {
        if !bucket {
            if cgroups == limit {
                continue;
            }
            cgroups += 1;
        }
        rows.extend(slots[i].take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(id: u64, rx: u64, tx: u64) -> Row {
        let bucket = match id {
            0 => Bucket::Unresolved,
            u64::MAX => Bucket::Overflow,
            _ => Bucket::Cgroup,
        };
        Row {
            cgroup_id: id,
            bucket,
            path: None,
            gone: false,
            who: Summary::default(),
            source: Source::Tc,
            ifindex: None,
            iface: None,
            protocol: None,
            port: None,
            counters: Counters { rx_bytes: rx, tx_bytes: tx, ..Default::default() },
            rates: None,
        }
    }

    #[test]
    fn sorts_cuts_and_keeps_buckets() {
        let mut rows = vec![r(u64::MAX, 0, 0), r(10, 1, 100), r(11, 50, 0), r(0, 5, 5), r(12, 50, 1)];
        sort_and_cut(&mut rows, SortKey::Total, Some(2));
        let ids: Vec<u64> = rows.iter().map(|r| r.cgroup_id).collect();
        assert_eq!(ids, vec![10, 12, 0, u64::MAX]);
        let mut rows = vec![r(10, 1, 100), r(11, 50, 0), r(12, 50, 1)];
        sort_and_cut(&mut rows, SortKey::Rx, None);
        let ids: Vec<u64> = rows.iter().map(|r| r.cgroup_id).collect();
        assert_eq!(ids, vec![11, 12, 10]);
    }

    #[test]
    fn overflow_id_is_null_in_json() {
        let v = serde_json::to_value(r(u64::MAX, 0, 0)).unwrap();
        assert!(v["cgroup_id"].is_null());
        assert_eq!(v["source"], "tc");
        assert!(v.get("port").is_none(), "breakdown fields appear only with --by");
    }
}
