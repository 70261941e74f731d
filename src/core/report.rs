//! The counter report: a snapshot's rows named, ordered and cut, with totals and, in a
//! stream, rates. What `stats` prints, `serve` exports and `top` shows.
use std::collections::HashMap;
use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use super::inventory::HealthExport;
use super::namer::Namer;
use super::reader::Snapshot;
use super::row::{sort_and_cut, Bucket, By, RawRow, Row, RowKey, SortKey};
use super::Place;
use crate::bpf::{Counters, Instance, Source};
use crate::output::{self, Report};
use crate::rates::Rates;

#[derive(Debug, Serialize)]
pub struct StatsReport {
    pub schema: u32,
    /// Which hooks the counters come from: "tc" or "socket".
    pub source: Source,
    /// "cgroup", "iface", "port", "class" or "peer".
    pub by: By,
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
    pub health: Option<HealthExport>,
    /// The workload label keys (`--labels`) the Prometheus form puts on each series.
    #[serde(skip)]
    pub label_keys: Vec<String>,
}

impl Report for StatsReport {
    const ROWS: Option<&'static str> = Some("cgroups");

    fn exposition(&self) -> Option<Result<String>> {
        Some(super::metrics::exposition(&self.cgroups, &self.label_keys, self.health.as_ref(), Vec::new()))
    }

    fn render_table(&self, out: &mut dyn Write) -> io::Result<()> {
        let interval = self.interval_s.is_some();
        if let (Some(t), Some(s)) = (&self.time, self.interval_s) {
            writeln!(out, "{t}  rates over {s:.2} s, source {}", output::label(&self.source))?;
        }
        let mut header = vec!["CGROUP_ID", "NAME", "PATH"];
        match self.by {
            By::Iface => header.push("IFACE"),
            By::Port => header.extend(["PROTO", "PORT"]),
            By::Class => header.push("CLASS"),
            By::Peer => header.extend(["CLASS", "PEER"]),
            By::Cgroup => {}
        }
        if interval {
            header.extend(["RX/s", "TX/s", "RX_PKTS/s", "TX_PKTS/s"]);
        } else {
            header.extend(["RX", "TX", "RX_PKTS", "TX_PKTS"]);
        }
        let first_number = header.len() - 4;
        let mut t = output::table(header);
        for r in &self.cgroups {
            let id = if r.bucket == Bucket::Overflow { "-".to_string() } else { r.cgroup_id.to_string() };
            let name = r.who.name.clone().unwrap_or_else(|| "-".into());
            let mut cells = vec![id, name, r.label()];
            if let Some(i) = r.ifindex {
                cells.push(r.iface.clone().flatten().unwrap_or_else(|| format!("#{i}")));
            }
            if let (Some(p), Some(port)) = (&r.protocol, r.port) {
                cells.extend([p.clone(), port.to_string()]);
            }
            if let Some(c) = &r.class {
                cells.push(c.clone());
            }
            if let Some(p) = &r.peer {
                cells.push(match (p.kind, p.address) {
                    (super::peername::PeerKind::Workload | super::peername::PeerKind::Host, Some(a)) => {
                        format!("{} ({a})", p.peer)
                    }
                    _ => p.peer.clone(),
                });
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

/// How a report is shaped: its order, its cut and whether rows are named.
#[derive(Debug, Clone, Copy)]
pub struct View {
    pub sort: SortKey,
    pub top: Option<usize>,
    pub resolve: bool,
}

/// Turns snapshots of one instance into reports, keeping the namer's caches between them.
pub struct Reporter<'a> {
    pin_dir: PathBuf,
    mount: PathBuf,
    view: View,
    inst: &'a Instance,
    namer: Namer<'a>,
    labels: bool,
    keys: Vec<String>,
    book_warned: bool,
}

impl<'a> Reporter<'a> {
    pub fn new(g: &Place, inst: &'a Instance, view: View) -> Result<Self> {
        Ok(Reporter {
            pin_dir: g.pin_dir.clone(),
            mount: crate::cgroup::mount_point()?,
            view,
            inst,
            namer: Namer::new(g, Some(inst))?,
            labels: false,
            keys: g.names.keys.listed().to_vec(),
            book_warned: false,
        })
    }

    /// Rows keep their labels (the ledger records them, serve's series carry the listed
    /// keys; listings leave them out).
    pub fn with_labels(mut self) -> Self {
        self.labels = true;
        self
    }

    /// Forgets cached paths and names, so that they are looked up again.
    pub fn forget(&mut self) -> Result<()> {
        self.namer.forget()
    }

    pub fn instance(&self) -> &'a Instance {
        self.inst
    }

    /// The report of one snapshot, with rates over the previous one in a stream.
    pub fn report(&mut self, snap: Snapshot, rates: Option<(HashMap<RowKey, Rates>, f64)>) -> StatsReport {
        let totals = self.prepare(&snap.rows);
        let mut rate_totals = rates.as_ref().map(|_| Rates::default());
        let source = snap.source;
        let book = (snap.by == By::Peer && self.view.resolve).then(|| self.address_book());
        let mut rows: Vec<Row> = snap
            .rows
            .into_iter()
            .map(|raw| {
                let key = raw.key;
                let mut r = self.row(raw, source);
                if let (Some(p), Some(b)) = (r.peer.as_mut(), book.as_ref()) {
                    b.name(p);
                }
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
        sort_and_cut(&mut rows, self.view.sort, self.view.top);
        StatsReport {
            schema: output::SCHEMA,
            source,
            by: snap.by,
            time: rates.as_ref().map(|_| output::now_rfc3339()),
            interval_s: rates.as_ref().map(|(_, s)| *s),
            pin_dir: self.pin_dir.clone(),
            cgroup2_mount: self.mount.clone(),
            cgroups: rows,
            totals,
            rates: rate_totals,
            health: None,
            label_keys: if self.labels { self.keys.clone() } else { Vec::new() },
        }
    }

    /// Who holds each address now; a failed scan leaves peers as addresses, said once.
    pub fn address_book(&mut self) -> super::addrbook::AddrBook {
        // The workloads this instance counts: those below the cgroup its socket programs are
        // attached to (all of the host's at the root).
        let attached =
            crate::tc::Hook::BOTH.iter().find_map(|h| crate::sock::attached_to(&self.inst.pins, *h));
        let under = attached.and_then(|id| self.namer.locate(id).1);
        super::addrbook::AddrBook::scan(&mut self.namer, under.as_deref()).unwrap_or_else(|e| {
            if !self.book_warned {
                eprintln!("netattr: peers are shown as addresses: {e:#}");
                self.book_warned = true;
            }
            Default::default()
        })
    }

    /// A row with its path and identity (live, or as the kernel recorded it if gone), or
    /// bare without naming.
    fn row(&mut self, raw: RawRow, source: Source) -> Row {
        let id = raw.key.0;
        let mut r = Row::bare(id, source, raw.extra, raw.counters);
        if !self.view.resolve || r.bucket != Bucket::Cgroup {
            return r;
        }
        let named = self.namer.name(id);
        r.gone = named.gone;
        r.path = named.path;
        r.who = named.who;
        if !self.labels {
            r.who.labels = None; // rows stay small; `resolve` shows labels
        }
        r
    }

    /// Readies the namer for `rows` (names fetched again on a miss, many ids named at once)
    /// and returns their totals.
    fn prepare(&mut self, rows: &[RawRow]) -> Counters {
        self.namer.refresh_on_miss();
        if self.view.resolve {
            let ids: Vec<u64> = rows.iter().map(|r| r.key.0).collect();
            self.namer.prefetch(&ids);
        }
        let mut totals = Counters::default();
        for r in rows {
            totals.add(&r.counters);
        }
        totals
    }

    /// The row of a cgroup named before at `path`, named again from its path and the
    /// container and pod tables (which are fetched again on a miss), no kernel lookup.
    pub fn row_at(&mut self, id: u64, source: Source, path: &str) -> Row {
        self.namer.refresh_on_miss();
        let mut r = Row::bare(id, source, super::row::Extra::None, Counters::default());
        r.who = self.namer.who_at(path);
        r.path = Some(path.to_string());
        if !self.labels {
            r.who.labels = None;
        }
        r
    }

    /// The row of a cgroup being collected by `reap`: named as the kernel recorded it.
    pub fn gone_row(&mut self, id: u64, source: Source, counters: Counters) -> Row {
        let mut r =
            self.row(RawRow { key: (id, 0, 0, 0, 0), extra: super::row::Extra::None, counters }, source);
        r.gone = true;
        r
    }
}

impl Reporter<'_> {
    /// The report of a per-cgroup snapshot as one JSON document (with a newline), written
    /// row by row to `out`, so that no row struct per key is kept. Other shapes go through
    /// `report`; a test holds the two documents equal.
    pub fn json<W: Write>(&mut self, snap: Snapshot, out: &mut W) -> Result<()> {
        let totals = self.prepare(&snap.rows);
        let mut rows = snap.rows;
        let sort = self.view.sort;
        let k = |c: &Counters| match sort {
            SortKey::Rx => c.rx_bytes,
            SortKey::Tx => c.tx_bytes,
            SortKey::Total => c.total_bytes(),
        };
        // As `sort_and_cut`: cgroups by size, then id; the buckets last, never cut.
        rows.sort_unstable_by_key(|r| {
            let bucket = Bucket::of(r.key.0) != Bucket::Cgroup;
            (bucket, std::cmp::Reverse(if bucket { 0 } else { k(&r.counters) }), r.key)
        });
        if let Some(top) = self.view.top {
            let cgroups = rows.iter().take_while(|r| Bucket::of(r.key.0) == Bucket::Cgroup).count();
            rows.drain(top.min(cgroups)..cgroups);
        }
        // The document of `StatsReport` (fields in its order), its rows named and written one
        // at a time.
        write!(out, "{{\"schema\":{},\"source\":", output::SCHEMA)?;
        serde_json::to_writer(&mut *out, &snap.source)?;
        out.write_all(b",\"by\":")?;
        serde_json::to_writer(&mut *out, &snap.by)?;
        out.write_all(b",\"pin_dir\":")?;
        serde_json::to_writer(&mut *out, &self.pin_dir)?;
        out.write_all(b",\"cgroup2_mount\":")?;
        serde_json::to_writer(&mut *out, &self.mount)?;
        out.write_all(b",\"cgroups\":[")?;
        for (n, raw) in rows.into_iter().enumerate() {
            if n > 0 {
                out.write_all(b",")?;
            }
            super::rowjson::write_row(out, &self.row(raw, snap.source))?;
        }
        out.write_all(b"],\"totals\":")?;
        serde_json::to_writer(&mut *out, &totals)?;
        out.write_all(b"}\n")?;
        Ok(())
    }
}
