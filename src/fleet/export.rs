//! Shipping a node's ledger to the fleet store: a batch read after the ledger's cursor, its
//! workloads then its usage rows inserted, and the cursor moved only once the store
//! acknowledged both. A batch sent again (the exporter killed before its cursor moved, a
//! retry after a timeout the store had in fact applied) carries the same keys and versions:
//! one row each in the store.
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

use super::store::Store;
use crate::ledger::export::{Batch, UsageRow, WorkloadRow};
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
            if !s.more || begun.elapsed() >= budget {
                return Ok(total);
            }
        }
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
        more: batch.usage.len() >= max || batch.workloads.len() >= max,
    }
}
