//! What a fleet store has of this ledger's peer rows and address ranges (`load --breakdown
//! peer`): each read in the order of the versions that wrote it (`peer_versions`), up to the
//! version read when the round began, each cursor of `exports` moved only once the store
//! acknowledged. A row written again (a later bill in its bucket, an address's `until`
//! moved) comes again with its higher version: the store keeps the latest.
use anyhow::Result;
use rusqlite::params;

use super::Ledger;
use crate::model::Counters;

/// The last peer row (or peer day) a store acknowledged: (version, bucket (day), workload
/// id, source, class, peer).
pub type PeerKey = (i64, i64, i64, String, String, String);
/// The last address row a store acknowledged: (version, address, since).
pub type AddressKey = (i64, String, i64);

/// One peer row as the store receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRow {
    pub identity: String,
    pub bucket: i64,
    pub source: String,
    pub class: String,
    pub peer: String,
    pub counters: Counters,
    pub version: i64,
}

/// One rolled-up day of a peer row as the store receives it (`row.bucket`: the day), with
/// the first and last 5-minute buckets of the day that had bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerDayRow {
    pub row: PeerRow,
    pub first: i64,
    pub last: i64,
}

/// One address range as the store receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRow {
    pub address: String,
    pub since: i64,
    pub until: i64,
    pub holder: String,
    pub name: Option<String>,
    pub pod_namespace: Option<String>,
    pub version: i64,
}

/// Rows not acknowledged yet, with the cursor acknowledging them moves to.
#[derive(Debug, Default)]
pub struct Pending<T> {
    pub rows: Vec<T>,
    from: String,
    to: String,
}

impl Ledger {
    /// The last version a peer bill or address note took: a round sends nothing above it.
    pub fn last_peer_version(&self) -> Result<i64> {
        Ok(self.conn.query_row("SELECT version FROM peer_versions WHERE id = 1", [], |r| r.get(0))?)
    }

    /// The next peer rows for `destination` up to version `upto`: at most `max`.
    pub fn pending_peers(&self, destination: &str, upto: i64, max: usize) -> Result<Pending<PeerRow>> {
        let Pending { rows, from, to } = peer_rows(self, PEERS, destination, upto, max)?;
        Ok(Pending { rows: rows.into_iter().map(|(p, _)| p).collect(), from, to })
    }

    /// The next rolled-up peer days for `destination` up to version `upto` (a row's
    /// `bucket` is its day): at most `max`.
    pub fn pending_peer_days(&self, destination: &str, upto: i64, max: usize) -> Result<Pending<PeerDayRow>> {
        let Pending { rows, from, to } = peer_rows(self, PEER_DAYS, destination, upto, max)?;
        let rows = rows.into_iter().map(|(row, [first, last])| PeerDayRow { row, first, last }).collect();
        Ok(Pending { rows, from, to })
    }

    /// The next address rows for `destination` up to version `upto`: at most `max`.
    pub fn pending_addresses(&self, destination: &str, upto: i64, max: usize) -> Result<Pending<AddressRow>> {
        let from = cursor(self, "addresses_after", destination)?;
        let (v, a, s): AddressKey = serde_json::from_str(&from)?;
        let mut q = self.conn.prepare_cached(
            "SELECT version, address, since, until, holder, name, pod_namespace
             FROM addresses INDEXED BY addresses_by_version
             WHERE (version, address, since) > (?1, ?2, ?3) AND version <= ?4
             ORDER BY version, address, since LIMIT ?5",
        )?;
        let mut rows = q.query(params![v, a, s, upto, max as i64])?;
        let mut out = Pending { to: from.clone(), from, rows: Vec::new() };
        while let Some(r) = rows.next()? {
            let key: AddressKey = (r.get(0)?, r.get(1)?, r.get(2)?);
            out.rows.push(AddressRow {
                address: key.1.clone(),
                since: key.2,
                until: r.get(3)?,
                holder: r.get(4)?,
                name: r.get(5)?,
                pod_namespace: r.get(6)?,
                version: key.0,
            });
            out.to = serde_json::to_string(&key)?;
        }
        Ok(out)
    }

    /// Moves `destination`'s peer cursor past `batch` (unless another exporter did).
    pub fn acknowledge_peers(&self, destination: &str, batch: &Pending<PeerRow>) -> Result<()> {
        acknowledge(self, "peers_after", destination, &batch.from, &batch.to)
    }

    /// Moves `destination`'s peer day cursor past `batch`.
    pub fn acknowledge_peer_days(&self, destination: &str, batch: &Pending<PeerDayRow>) -> Result<()> {
        acknowledge(self, "peer_days_after", destination, &batch.from, &batch.to)
    }

    /// Moves `destination`'s address cursor past `batch`.
    pub fn acknowledge_addresses(&self, destination: &str, batch: &Pending<AddressRow>) -> Result<()> {
        acknowledge(self, "addresses_after", destination, &batch.from, &batch.to)
    }
}

/// A table of peer rows: its name, its time column, its extra columns (two, or NULLs) and
/// the cursor column of `exports` that follows it.
struct PeerTable {
    table: &'static str,
    time: &'static str,
    extra: &'static str,
    cursor: &'static str,
}

const PEERS: PeerTable = PeerTable { table: "peers", time: "bucket", extra: "0, 0", cursor: "peers_after" };
const PEER_DAYS: PeerTable = PeerTable {
    table: "peer_days",
    time: "day",
    extra: "p.first_bucket, p.last_bucket",
    cursor: "peer_days_after",
};

/// The next rows of `t` after `destination`'s cursor, up to version `upto`, at most `max`,
/// each with its two extra columns.
fn peer_rows(
    l: &Ledger,
    t: PeerTable,
    destination: &str,
    upto: i64,
    max: usize,
) -> Result<Pending<(PeerRow, [i64; 2])>> {
    let from = cursor(l, t.cursor, destination)?;
    let (v, b, w, s, c, p): PeerKey = serde_json::from_str(&from)?;
    let PeerTable { table, time, extra, .. } = t;
    let mut q = l.conn.prepare_cached(&format!(
        "SELECT p.version, p.{time}, p.workload, p.source, p.class, p.peer, w.identity,
                p.rx_bytes, p.tx_bytes, p.rx_packets, p.tx_packets, {extra}
         FROM {table} p INDEXED BY {table}_by_version JOIN workloads w ON w.id = p.workload
         WHERE (p.version, p.{time}, p.workload, p.source, p.class, p.peer) > (?1, ?2, ?3, ?4, ?5, ?6)
           AND p.version <= ?7
         ORDER BY p.version, p.{time}, p.workload, p.source, p.class, p.peer LIMIT ?8"
    ))?;
    let mut rows = q.query(params![v, b, w, s, c, p, upto, max as i64])?;
    let (mut out, mut to) = (Vec::new(), from.clone());
    while let Some(r) = rows.next()? {
        let key: PeerKey = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?);
        let n = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)?.max(0) as u64) };
        let row = PeerRow {
            identity: r.get(6)?,
            bucket: key.1,
            source: key.3.clone(),
            class: key.4.clone(),
            peer: key.5.clone(),
            counters: Counters { rx_bytes: n(7)?, tx_bytes: n(8)?, rx_packets: n(9)?, tx_packets: n(10)? },
            version: key.0,
        };
        out.push((row, [r.get(11)?, r.get(12)?]));
        to = serde_json::to_string(&key)?;
    }
    Ok(Pending { rows: out, from, to })
}

/// A cursor column of `exports` (one of netattr's own column names).
fn cursor(l: &Ledger, column: &str, destination: &str) -> Result<String> {
    Ok(l.conn.query_row(
        &format!("SELECT {column} FROM exports WHERE destination = ?1"),
        params![destination],
        |r| r.get(0),
    )?)
}

fn acknowledge(l: &Ledger, column: &str, destination: &str, from: &str, to: &str) -> Result<()> {
    l.conn.execute(
        &format!("UPDATE exports SET {column} = ?2 WHERE destination = ?1 AND {column} = ?3"),
        params![destination, to, from],
    )?;
    Ok(())
}
