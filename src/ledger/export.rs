//! What a fleet store has of this ledger: the 5-minute usage rows and workload descriptions
//! written since its last acknowledgement, read in batches in the order of the bills that
//! wrote them, and the cursor (`exports`) moved only once the store acknowledged a batch.
//! A row written again by a later bill (a late read into an old bucket) has a higher version
//! and is exported again; the store keeps the highest version of each row. The queries name
//! their index: left to itself SQLite sorted the whole day for each batch (a quadratic export:
//! 146 s for a day of 10,000 workloads).
use anyhow::{bail, Result};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::Ledger;
use crate::model::Workload;

/// The last usage row a store acknowledged: (version, bucket, workload id, source, class).
pub type UsageKey = (i64, i64, i64, String, String);

/// One 5-minute usage row as the store receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageRow {
    pub identity: String,
    pub bucket: i64,
    pub source: String,
    pub class: String,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub version: i64,
}

/// One workload description as the store receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadRow {
    pub who: Workload,
    pub first_seen: i64,
    pub last_seen: i64,
    pub version: i64,
}

/// A batch not yet acknowledged, with the cursors that acknowledging it moves to.
#[derive(Debug, Default)]
pub struct Batch {
    pub usage: Vec<UsageRow>,
    pub workloads: Vec<WorkloadRow>,
    /// The cursors the batch was read after, and those it ends at.
    from: (Option<UsageKey>, Option<WorkloadKey>),
    to: (Option<UsageKey>, Option<WorkloadKey>),
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.usage.is_empty() && self.workloads.is_empty()
    }
}

/// How far a store is behind this ledger.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Backlog {
    pub destination: String,
    pub node: String,
    /// 5-minute usage rows not acknowledged yet.
    pub rows: u64,
    /// The oldest bucket among them (unix seconds), none when there are none.
    pub oldest_bucket: Option<i64>,
    /// Rolled-up workload days (sums and 5-minute profiles) not acknowledged yet.
    pub days: u64,
    /// Usage rows acknowledged in all.
    pub acknowledged: u64,
    /// When the store last acknowledged a batch (unix seconds).
    pub acked_at: Option<i64>,
    /// 5-minute rows pruned before the store acknowledged them (a store down for longer
    /// than the backlog's limit).
    pub pruned: u64,
    /// The last failure, until the next acknowledgement.
    pub error: Option<String>,
    pub error_at: Option<i64>,
}

/// The last workload a store acknowledged: (version, workload id).
pub type WorkloadKey = (i64, i64);

/// An export's row of `exports`: its node name and cursors.
struct Cursors {
    node: String,
    usage: Option<UsageKey>,
    workloads: Option<WorkloadKey>,
}

impl std::fmt::Display for Backlog {
    /// One line of `status`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = |t: i64| crate::model::utc(t);
        write!(f, "export to {} as node '{}': {} rows waiting", self.destination, self.node, self.rows)?;
        if let Some(b) = self.oldest_bucket {
            write!(f, " (the oldest of {})", at(b))?;
        }
        if self.days > 0 {
            write!(f, ", {} workload days", self.days)?;
        }
        write!(f, "; {} acknowledged", self.acknowledged)?;
        if let Some(t) = self.acked_at {
            write!(f, ", the last at {}", at(t))?;
        }
        if self.pruned > 0 {
            write!(f, "; {} pruned before the store had them", self.pruned)?;
        }
        if let Some(e) = &self.error {
            write!(f, "; last error: {e}")?;
        }
        Ok(())
    }
}

/// The cursors of `destination`, or None when it never exported from this ledger.
fn cursors(l: &Ledger, destination: &str) -> Result<Option<Cursors>> {
    let row: Option<(String, String, String)> = l
        .conn
        .query_row(
            "SELECT node, usage_after, workloads_after FROM exports WHERE destination = ?1",
            params![destination],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((node, usage, workloads)) = row else { return Ok(None) };
    Ok(Some(Cursors {
        node,
        usage: serde_json::from_str(&usage)?,
        workloads: serde_json::from_str(&workloads)?,
    }))
}

impl Ledger {
    /// Starts exporting to `destination` as `node` (nothing acknowledged yet), or checks that
    /// this ledger exports there under that node name: another name would be another node's
    /// rows in the store.
    pub fn begin_export(&self, destination: &str, node: &str) -> Result<()> {
        match cursors(self, destination)? {
            Some(Cursors { node: known, .. }) if known != node => bail!(
                "ledger {} exports to {destination} as node '{known}', not '{node}': pass --node {known} (a node keeps its name in a store), or export to another database",
                self.path.display()
            ),
            Some(_) => Ok(()),
            None => {
                self.conn.execute(
                    "INSERT INTO exports (destination, node, usage_after, workloads_after) VALUES (?1, ?2, 'null', 'null')",
                    params![destination, node],
                )?;
                Ok(())
            }
        }
    }

    /// The next batch for `destination`: the workloads written since its cursor, then at most
    /// `max_rows` usage rows, in the order of the bills that wrote them.
    pub fn pending(&self, destination: &str, max_rows: usize) -> Result<Batch> {
        let Some(Cursors { usage: usage_after, workloads: workloads_after, .. }) =
            cursors(self, destination)?
        else {
            bail!("ledger {} has no export to {destination}", self.path.display())
        };
        let mut batch = Batch { from: (usage_after.clone(), workloads_after), ..Batch::default() };
        let (wv, wid) = workloads_after.unwrap_or((-1, -1));
        let mut q = self.conn.prepare(
            "SELECT id, identity, kind, runtime, name, pod_namespace, pod_name, container_id, pod_uid, path, labels,
                    first_seen, last_seen, version
             FROM workloads INDEXED BY workloads_by_version WHERE (version, id) > (?1, ?2) ORDER BY version, id LIMIT ?3",
        )?;
        let mut rows = q.query(params![wv, wid, max_rows as i64])?;
        let mut last_workload = workloads_after;
        while let Some(r) = rows.next()? {
            let who = super::known::workload_at(r, 1)?;
            let version: i64 = r.get(13)?;
            last_workload = Some((version, r.get(0)?));
            batch.workloads.push(WorkloadRow { who, first_seen: r.get(11)?, last_seen: r.get(12)?, version });
        }
        let (v, b, w, s, c) = usage_after.clone().unwrap_or((-1, i64::MIN, -1, String::new(), String::new()));
        let mut q = self.conn.prepare(
            "SELECT u.version, u.bucket, u.workload, u.source, u.class, w.identity,
                    u.rx_bytes, u.tx_bytes, u.rx_packets, u.tx_packets
             FROM usage u INDEXED BY usage_by_version JOIN workloads w ON w.id = u.workload
             WHERE u.resolution = '5m' AND (u.version, u.bucket, u.workload, u.source, u.class) > (?1, ?2, ?3, ?4, ?5)
             ORDER BY u.version, u.bucket, u.workload, u.source, u.class LIMIT ?6",
        )?;
        let mut rows = q.query(params![v, b, w, s, c, max_rows as i64])?;
        let mut last_usage = usage_after;
        while let Some(r) = rows.next()? {
            let key: UsageKey = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
            let n = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)?.max(0) as u64) };
            batch.usage.push(UsageRow {
                identity: r.get(5)?,
                bucket: key.1,
                source: key.3.clone(),
                class: key.4.clone(),
                rx_bytes: n(6)?,
                tx_bytes: n(7)?,
                rx_packets: n(8)?,
                tx_packets: n(9)?,
                version: key.0,
            });
            last_usage = Some(key);
        }
        batch.to = (last_usage, last_workload);
        Ok(batch)
    }

    /// Moves `destination`'s cursors past `batch`, which the store acknowledged at `now`. A
    /// cursor another exporter moved meanwhile is left alone (the batch is in the store all
    /// the same; rows sent twice are one row there).
    pub fn acknowledge(&self, destination: &str, batch: &Batch, now: i64) -> Result<bool> {
        let moved = self.conn.execute(
            "UPDATE exports SET usage_after = ?2, workloads_after = ?3, rows = rows + ?4, acked_at = ?5,
                    error = NULL, error_at = NULL
             WHERE destination = ?1 AND usage_after = ?6 AND workloads_after = ?7",
            params![
                destination,
                json(&batch.to.0)?,
                json(&batch.to.1)?,
                batch.usage.len() as i64,
                now,
                json(&batch.from.0)?,
                json(&batch.from.1)?
            ],
        )?;
        Ok(moved == 1)
    }

    /// Notes why an export to `destination` failed (its backlog kept).
    pub fn export_failed(&self, destination: &str, error: &str, now: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE exports SET error = ?2, error_at = ?3 WHERE destination = ?1",
            params![destination, error, now],
        )?;
        Ok(())
    }

    /// Every store this ledger exports to, with what it has not acknowledged yet.
    pub fn backlogs(&self) -> Result<Vec<Backlog>> {
        let mut q = self.conn.prepare(
            "SELECT destination, node, usage_after, rows, acked_at, pruned, error, error_at,
                    (SELECT count(*) FROM series s INDEXED BY series_by_version
                     WHERE (s.version, s.day, s.workload, s.source, s.class) > (json_extract(series_after, '$[0]'),
                       json_extract(series_after, '$[1]'), json_extract(series_after, '$[2]'),
                       json_extract(series_after, '$[3]'), json_extract(series_after, '$[4]')))
             FROM exports ORDER BY destination",
        )?;
        let rows = q.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, Option<i64>>(7)?,
                r.get::<_, i64>(8)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (destination, node, after, acknowledged, acked_at, pruned, error, error_at, days) = row?;
            let (v, b, w, s, c) = serde_json::from_str::<Option<UsageKey>>(&after)?.unwrap_or((
                -1,
                i64::MIN,
                -1,
                String::new(),
                String::new(),
            ));
            let (rows, oldest): (i64, Option<i64>) = self.conn.query_row(
                "SELECT count(*), min(bucket) FROM usage INDEXED BY usage_by_version
                 WHERE resolution = '5m' AND (version, bucket, workload, source, class) > (?1, ?2, ?3, ?4, ?5)",
                params![v, b, w, s, c],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            out.push(Backlog {
                destination,
                node,
                rows: rows.max(0) as u64,
                oldest_bucket: oldest,
                days: days.max(0) as u64,
                acknowledged: acknowledged.max(0) as u64,
                acked_at,
                pruned: pruned.max(0) as u64,
                error,
                error_at,
            });
        }
        Ok(out)
    }
}

/// A cursor as the `exports` table keeps it: JSON text.
fn json<T: Serialize>(v: &T) -> Result<String> {
    Ok(serde_json::to_string(v)?)
}
