//! Who talks to whom in the ledger (`load --breakdown peer`): each workload's bytes per
//! remote address, billed exactly once like its usage (each peer row's delta over its cursor,
//! the rows and the cursors in one transaction), and which workload held each address when.
//!
//! A peer row is billed to the workload its cgroup's usage was last billed to (`cursors`):
//! a cgroup whose reads still wait for their bucket has its peer rows wait too (their cursors
//! stay where they are). Addresses are kept as ranges: a new holder of an address starts a
//! new row, so a reused address never moves bytes between workloads (the holder of an
//! address at a time is the row with the latest `since` at or before it).
use std::collections::HashMap;

use anyhow::Result;
use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};

use super::peer_days::Late;
use super::{Ledger, Resolution};
use crate::model::{Counters, Holding, Source};
use std::net::IpAddr;

/// A peer row as the recorder read it: its counters since the load (or since its key was
/// put in the map).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerReading {
    pub source: Source,
    pub cgroup_id: u64,
    pub class: String,
    /// The remote address; "(other peers)"; "" for a class not counted per peer.
    pub peer: String,
    pub counters: Counters,
}

/// What tells peer rows apart: (source code, cgroup id, class, peer).
pub type PeerRowKey = (u8, u64, String, String);

impl PeerReading {
    pub fn key(&self) -> PeerRowKey {
        (self.source.code(), self.cgroup_id, self.class.clone(), self.peer.clone())
    }
}

/// An address row's `until` moves at most this often (seconds): it says how long the holder
/// was seen, not who held the address (the latest `since` does).
const UNTIL_EVERY: i64 = 300;

impl Ledger {
    /// Bills peer readings at `at`: each row's delta over its cursor into its workload's
    /// `peers` row of the 5-minute bucket, and the cursors moved, in one transaction. The
    /// cursors of `finals` (cgroups collected: their rows were taken out of the maps) go
    /// once billed. Returns the rows written and the readings that wait (their cgroup has
    /// no workload yet), by index.
    pub fn bill_peers(
        &mut self,
        instance: &str,
        at: i64,
        rows: &[PeerReading],
        finals: &[u64],
    ) -> Result<(usize, Vec<usize>)> {
        let Ledger { conn, file, path, .. } = self;
        super::check_file(path, file)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = bill_in(&tx, instance, at, rows, finals)?;
        // Never into a file deleted or replaced meanwhile: what was read waits.
        super::check_file(path, file)?;
        tx.commit()?;
        Ok(n)
    }

    /// Notes who holds each address at `at`: the holder's current row gets its `until`
    /// moved (every UNTIL_EVERY seconds), a new holder a new row.
    pub fn note_addresses<'a>(
        &mut self,
        at: i64,
        held: impl IntoIterator<Item = (&'a IpAddr, &'a Holding)>,
    ) -> Result<()> {
        let Ledger { conn, file, path, .. } = self;
        super::check_file(path, file)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version = next_version(&tx, at)?;
        {
            let mut last = tx.prepare_cached(
                "SELECT since, until, holder, name, pod_namespace FROM addresses WHERE address = ?1
                 ORDER BY since DESC LIMIT 1",
            )?;
            let mut upsert = tx.prepare_cached(
                "INSERT INTO addresses (address, since, until, holder, name, pod_namespace, version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (address, since) DO UPDATE SET until = excluded.until, version = excluded.version",
            )?;
            for (ip, h) in held {
                let (address, holder, name, ns) = (ip.to_string(), h.text(), h.name(), h.pod_namespace());
                type Last = (i64, i64, String, Option<String>, Option<String>);
                let prev: Option<Last> = last
                    .query_row(params![address], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                    })
                    .optional()?;
                // The holder's row moves its `until`; a new holder starts a row (one a second
                // at most).
                let since = match prev {
                    Some((since, until, was, was_name, was_ns))
                        if was == holder && was_name.as_ref() == name && was_ns.as_ref() == ns =>
                    {
                        (at - until >= UNTIL_EVERY).then_some(since)
                    }
                    Some((since, ..)) if since >= at => None,
                    _ => Some(at),
                };
                if let Some(since) = since {
                    upsert.execute(params![address, since, at, holder, name, ns, version])?;
                }
            }
        }
        super::check_file(path, file)?;
        tx.commit()?;
        Ok(())
    }
}

fn bill_in(
    tx: &Transaction<'_>,
    instance: &str,
    at: i64,
    rows: &[PeerReading],
    finals: &[u64],
) -> Result<(usize, Vec<usize>)> {
    let Some(inst): Option<i64> = tx
        .query_row("SELECT id FROM instances WHERE instance = ?1", params![instance], |r| r.get(0))
        .optional()?
    else {
        return Ok((0, (0..rows.len()).collect())); // no usage billed for this instance yet: the peers wait
    };
    let mut workload_of: HashMap<u64, i64> = HashMap::new();
    {
        let mut q = tx.prepare_cached(
            "SELECT cgroup_id, workload FROM cursors WHERE instance = ?1 AND workload IS NOT NULL",
        )?;
        let mut r = q.query(params![inst])?;
        while let Some(row) = r.next()? {
            workload_of.insert(row.get::<_, i64>(0)? as u64, row.get(1)?);
        }
    }
    let version = next_version(tx, at)?;
    let bucket = Resolution::FiveMinutes.bucket(at);
    // A bill in a day rolled up already (a clock moved back) adds to its day rows too, under
    // a version of the usage bills' (the rollup's sequence).
    let marks = super::marks::Marks::read(tx)?;
    let mut late_version = None;
    let mut cursor = tx.prepare_cached(
        "SELECT rx_bytes, tx_bytes, rx_packets, tx_packets FROM peer_cursors
         WHERE instance = ?1 AND cgroup_id = ?2 AND source = ?3 AND class = ?4 AND peer = ?5",
    )?;
    let mut set_cursor = tx.prepare_cached(
        "INSERT OR REPLACE INTO peer_cursors
           (instance, cgroup_id, source, class, peer, rx_bytes, tx_bytes, rx_packets, tx_packets)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut add = tx.prepare_cached(
        "INSERT INTO peers (bucket, workload, source, class, peer, rx_bytes, tx_bytes, rx_packets, tx_packets, version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (bucket, workload, source, class, peer) DO UPDATE SET
           rx_bytes = rx_bytes + excluded.rx_bytes, tx_bytes = tx_bytes + excluded.tx_bytes,
           rx_packets = rx_packets + excluded.rx_packets, tx_packets = tx_packets + excluded.tx_packets,
           version = excluded.version",
    )?;
    let (mut n, mut waiting) = (0, Vec::new());
    for (i, r) in rows.iter().enumerate() {
        let Some(workload) = workload_of.get(&r.cgroup_id) else {
            waiting.push(i);
            continue;
        };
        let source = r.source.name();
        let id = r.cgroup_id as i64;
        let last: Option<Counters> = cursor
            .query_row(params![inst, id, source, r.class, r.peer], |q| {
                Ok(Counters {
                    rx_bytes: q.get::<_, i64>(0)? as u64,
                    tx_bytes: q.get::<_, i64>(1)? as u64,
                    rx_packets: q.get::<_, i64>(2)? as u64,
                    tx_packets: q.get::<_, i64>(3)? as u64,
                })
            })
            .optional()?;
        // A row below its cursor was taken out and counted again from zero.
        let d = last.and_then(|l| r.counters.since(&l)).unwrap_or(r.counters);
        if d == Counters::default() {
            continue;
        }
        let c = &r.counters;
        set_cursor.execute(params![
            inst,
            id,
            source,
            r.class,
            r.peer,
            c.rx_bytes as i64,
            c.tx_bytes as i64,
            c.rx_packets as i64,
            c.tx_packets as i64
        ])?;
        add.execute(params![
            bucket,
            workload,
            source,
            r.class,
            r.peer,
            d.rx_bytes as i64,
            d.tx_bytes as i64,
            d.rx_packets as i64,
            d.tx_packets as i64,
            version
        ])?;
        if marks.rolled(Resolution::Day, at, *workload) {
            let v = match late_version {
                Some(v) => v,
                None => *late_version.insert(super::bill::next_version(tx, at)?),
            };
            let late = Late { bucket, workload: *workload, source, class: &r.class, peer: &r.peer };
            super::peer_days::add_late(tx, &late, &d, v)?;
        }
        n += 1;
    }
    for id in finals {
        tx.execute(
            "DELETE FROM peer_cursors WHERE instance = ?1 AND cgroup_id = ?2",
            params![inst, *id as i64],
        )?;
    }
    Ok((n, waiting))
}

/// The version of a peer bill or address note: above every one before, at least its time in
/// milliseconds (`peer_versions`, apart from the usage bills' `versions`).
fn next_version(tx: &Transaction<'_>, now: i64) -> Result<i64> {
    Ok(tx.query_row(
        "UPDATE peer_versions SET version = max(version + 1, ?1) WHERE id = 1 RETURNING version",
        params![now.saturating_mul(1000)],
        |r| r.get(0),
    )?)
}
