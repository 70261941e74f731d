//! Shipping a node's ledger to the fleet store: a batch read after the ledger's cursor, its
//! workloads then its usage rows inserted, and the cursor moved only once the store
//! acknowledged both. A batch sent again (the exporter killed before its cursor moved, a
//! retry after a timeout the store had in fact applied) carries the same keys and versions:
//! one row each in the store.
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

use super::hours;
use super::store::Store;
use crate::ledger::export::{Batch, UsageRow, WorkloadRow};
use crate::ledger::export_days::DayRow;
use crate::ledger::export_peers::{PeerRow, Pending};
use crate::ledger::Ledger;

/// Who exports and how much at a time.
#[derive(Debug, Clone)]
pub struct Exporter {
    pub store: Store,
    /// The node name every row carries.
    pub node: String,
    /// The node's zone, on every usage row ("" when none is given).
    pub zone: String,
    /// Rows a batch holds at most (bounded memory on the node).
    pub batch: usize,
}

/// What one batch sent.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub usage: usize,
    pub workloads: usize,
    /// Rolled-up days of workloads (sums and 5-minute profiles).
    pub days: usize,
    /// Peer rows and address ranges (`load --breakdown peer`).
    pub peers: usize,
    /// A full batch: more may wait.
    pub more: bool,
}

/// Set in the tests only: after the store acknowledged a batch and before the cursor moves,
/// say so on stderr and stall, so that a test can kill the exporter exactly there.
const STALL_ENV: &str = "NETATTR_TEST_STALL_BEFORE_ACK";

impl Exporter {
    /// Sends the next batch, if any, and moves the cursor past it.
    pub fn send_batch(&self, ledger: &Ledger, now: i64) -> Result<Sent> {
        let batch = ledger.pending(&self.store.name, self.batch)?;
        if batch.is_empty() {
            return Ok(Sent::default());
        }
        if !batch.workloads.is_empty() {
            let rows: Vec<String> = batch.workloads.iter().map(|w| self.workload_json(w)).collect();
            self.store.run("INSERT INTO netattr_workloads FORMAT JSONEachRow", Some(&rows.join("\n")))?;
        }
        if !batch.usage.is_empty() {
            let rows: Vec<String> = batch.usage.iter().map(|u| self.usage_json(u)).collect();
            self.store.run("INSERT INTO netattr_usage FORMAT JSONEachRow", Some(&rows.join("\n")))?;
        }
        if std::env::var_os(STALL_ENV).is_some() {
            eprintln!("netattr: export: batch acknowledged, stalling before the cursor moves ({STALL_ENV})");
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        ledger.acknowledge(&self.store.name, &batch, now)?;
        Ok(sent(&batch, self.batch))
    }

    /// Sends batches until none is full (everything there was is in the store), or until
    /// `budget` is spent; returns the rows sent.
    pub fn drain(&self, ledger: &Ledger, now: i64, budget: Duration) -> Result<Sent> {
        let begun = Instant::now();
        let mut total = Sent::default();
        loop {
            let s = self.send_batch(ledger, now)?;
            total.usage += s.usage;
            total.workloads += s.workloads;
            total.more = s.more;
            if begun.elapsed() >= budget && s.more {
                return Ok(total);
            }
            if !s.more {
                let (days, peer_days) = self.send_days(ledger)?;
                total.days = days;
                total.peers = peer_days + self.send_peers(ledger, now)?;
                return Ok(total);
            }
        }
    }

    /// Sends the rolled-up days written up to the ledger's last version (workloads' and
    /// peer rows'), then which days are whole (a day's marker after its rows); returns the
    /// workload days and the peer days sent.
    pub fn send_days(&self, ledger: &Ledger) -> Result<(usize, usize)> {
        let upto = ledger.last_version()?;
        let mut sent = 0;
        loop {
            // A day's row holds 288 numbers: a tenth of the usage batch.
            let batch = ledger.pending_days(&self.store.name, upto, (self.batch / 10).max(1))?;
            if batch.rows.is_empty() {
                break;
            }
            let rows: Vec<String> = batch.rows.iter().map(|d| self.day_json(d)).collect();
            self.store.run("INSERT INTO netattr_days FORMAT JSONEachRow", Some(&rows.join("\n")))?;
            ledger.acknowledge_days(&self.store.name, &batch)?;
            sent += batch.rows.len();
        }
        // The peer rows' days, before the markers that say they are whole.
        let name = &self.store.name;
        let peer_days = self.send_all(
            "netattr_peer_days",
            || ledger.pending_peer_days(name, upto, self.batch),
            |d| {
                let mut row = self.peer_json(&d.row, "day");
                row["first_bucket"] = d.first.max(0).into();
                row["last_bucket"] = d.last.max(0).into();
                row
            },
            |b| ledger.acknowledge_peer_days(name, b),
        )?;
        let markers = ledger.pending_markers(&self.store.name, upto)?;
        if !markers.days.is_empty() {
            let rows: Vec<String> = markers
                .days
                .iter()
                .map(|(day, whole, v)| {
                    json!({"node": self.node, "day": day, "whole": whole, "version": v.max(&0)}).to_string()
                })
                .collect();
            self.store.run("INSERT INTO netattr_days_whole FORMAT JSONEachRow", Some(&rows.join("\n")))?;
            ledger.acknowledge_markers(&self.store.name, &markers)?;
        }
        Ok((sent, peer_days))
    }

    /// Sends the peer rows and address ranges written up to the ledger's last peer version
    /// (the addresses first: a peer row is never in the store before who held its address),
    /// each batch's hours summed again in the store before its cursor moves (hours.rs);
    /// returns the rows sent.
    pub fn send_peers(&self, ledger: &Ledger, now: i64) -> Result<usize> {
        let upto = ledger.last_peer_version()?;
        let name = &self.store.name;
        let addresses = self.send_all(
            "netattr_addresses",
            || ledger.pending_addresses(name, upto, self.batch),
            |a| {
                json!({
                    "node": self.node, "address": a.address, "since": a.since.max(0), "until": a.until.max(0),
                    "holder": a.holder, "name": a.name, "pod_namespace": a.pod_namespace, "version": a.version.max(0),
                })
            },
            |b| ledger.acknowledge_addresses(name, b),
        )?;
        let begun = std::cell::Cell::new(false);
        let peers = self.send_all(
            "netattr_peers",
            || ledger.pending_peers(name, upto, self.batch),
            |p| self.peer_json(p, "bucket"),
            |b| {
                if !begun.replace(true) {
                    hours::begin(&self.store, &self.node, now)?;
                }
                hours::roll(&self.store, &self.node, b.rows.iter().map(|p| p.bucket))?;
                ledger.acknowledge_peers(name, b)
            },
        )?;
        Ok(addresses + peers)
    }

    /// Sends batches of `fetch` into `table` until one is empty, each acknowledged once the
    /// store took it; returns the rows sent.
    fn send_all<T>(
        &self,
        table: &str,
        fetch: impl Fn() -> Result<Pending<T>>,
        row: impl Fn(&T) -> serde_json::Value,
        ack: impl Fn(&Pending<T>) -> Result<()>,
    ) -> Result<usize> {
        let mut sent = 0;
        loop {
            let batch = fetch()?;
            if batch.rows.is_empty() {
                return Ok(sent);
            }
            let rows: Vec<String> = batch.rows.iter().map(|r| row(r).to_string()).collect();
            self.store.run(&format!("INSERT INTO {table} FORMAT JSONEachRow"), Some(&rows.join("\n")))?;
            ack(&batch)?;
            sent += batch.rows.len();
        }
    }

    /// A peer row as the store's tables take it, its time (`p.bucket`) under `time`.
    fn peer_json(&self, p: &PeerRow, time: &str) -> serde_json::Value {
        let c = &p.counters;
        let mut row = json!({
            "node": self.node, "zone": self.zone, "identity": p.identity, "source": p.source,
            "class": p.class, "peer": p.peer, "rx_bytes": c.rx_bytes, "tx_bytes": c.tx_bytes,
            "rx_packets": c.rx_packets, "tx_packets": c.tx_packets, "version": p.version.max(0),
        });
        row[time] = p.bucket.into();
        row
    }

    fn day_json(&self, d: &DayRow) -> String {
        let [rx, tx, rxp, txp] = d.sums;
        json!({
            "node": self.node, "zone": self.zone, "identity": d.identity, "day": d.day, "source": d.source,
            "class": d.class, "rx_bytes": rx, "tx_bytes": tx, "rx_packets": rxp, "tx_packets": txp,
            "series": d.series, "version": d.version.max(0),
        })
        .to_string()
    }

    fn usage_json(&self, u: &UsageRow) -> String {
        json!({
            "node": self.node, "zone": self.zone, "identity": u.identity, "bucket": u.bucket,
            "source": u.source, "class": u.class, "rx_bytes": u.rx_bytes, "tx_bytes": u.tx_bytes,
            "rx_packets": u.rx_packets, "tx_packets": u.tx_packets, "version": u.version.max(0),
        })
        .to_string()
    }

    fn workload_json(&self, w: &WorkloadRow) -> String {
        let who = &w.who;
        json!({
            "node": self.node, "identity": who.identity, "kind": who.kind, "runtime": who.runtime,
            "name": who.name, "pod_namespace": who.pod_namespace, "pod_name": who.pod_name,
            "container_id": who.container_id, "pod_uid": who.pod_uid, "path": who.path,
            "labels": who.labels.as_deref().unwrap_or("{}"), "first_seen": w.first_seen.max(0),
            "last_seen": w.last_seen.max(0), "version": w.version.max(0),
        })
        .to_string()
    }
}

fn sent(batch: &Batch, max: usize) -> Sent {
    Sent {
        usage: batch.usage.len(),
        workloads: batch.workloads.len(),
        days: 0,
        peers: 0,
        more: batch.usage.len() >= max || batch.workloads.len() >= max,
    }
}
