//! Billing one recording cycle: the counters read from one instance, less the cursors (the
//! counters billed before), added to the usage of each workload identity in the 5-minute
//! bucket of the read's time (and in the coarser ones where those are rolled up already:
//! ledger::rollup), with the cursors moved on, all in one transaction: a recorder killed at
//! any instant has billed a read entirely or not at all.
use std::collections::BTreeMap;
use std::rc::Rc;

use anyhow::Result;
use foldhash::{HashMap, HashMapExt};
use rusqlite::types::ToSqlOutput;
use rusqlite::{params, Transaction, TransactionBehavior};

use super::known::{self, Changes, Cursor, Known, Last, Rows};
use super::marks::Marks;
use super::{Ledger, Resolution};
use crate::model::{Counters, Reading, Workload};

/// Which load of which boot the counters come from: cursors belong to one instance, and a
/// new one (a new `load`, a reboot) starts from zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceKey {
    pub key: String,
    pub boot_id: String,
    pub loaded_at: i64,
    pub pin_dir: String,
}

/// What a bill did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Billed {
    /// Rows with a non-zero delta.
    pub rows: usize,
    pub bytes: u64,
    pub packets: u64,
    /// Counters found below their cursor without a new instance: not billed, said.
    pub resets: Vec<String>,
}

impl Ledger {
    /// Bills `seen`, read from `inst`, at `now` (unix seconds; each row goes in the buckets
    /// of its own read), in one transaction; drops the cursors of every other instance when
    /// `only_instance` (the recorder has moved on).
    pub fn bill(
        &mut self,
        inst: &InstanceKey,
        seen: &[Reading],
        now: i64,
        only_instance: bool,
    ) -> Result<Billed> {
        let Ledger { conn, known, file, path } = self;
        let checked = super::check_file(path, file);
        // Immediate: the write lock first, so that what `known` checks stays true until the
        // commit.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let done = checked
            .and_then(|()| known.check(&tx, &inst.key))
            .and_then(|()| bill_in(&tx, inst, seen, now, only_instance, known));
        match done.and_then(|(billed, changes)| {
            // Never into a file deleted or replaced meanwhile: what was read waits.
            super::check_file(path, file)?;
            tx.commit()?;
            Ok((billed, changes))
        }) {
            Ok((billed, changes)) => {
                known.apply(changes);
                Ok(billed)
            }
            Err(e) => {
                known.forget();
                Err(e)
            }
        }
    }
}

/// A usage row: its delta added to the row of its key (made if new).
const USAGE: many::Insert = many::Insert {
    head: "INSERT INTO usage (resolution, bucket, workload, source, class, rx_bytes, tx_bytes, rx_packets, tx_packets, version)",
    width: 10,
    tail: "ON CONFLICT (resolution, bucket, workload, source, class) DO UPDATE SET
           rx_bytes = rx_bytes + excluded.rx_bytes, tx_bytes = tx_bytes + excluded.tx_bytes,
           rx_packets = rx_packets + excluded.rx_packets, tx_packets = tx_packets + excluded.tx_packets,
           version = excluded.version",
};

/// A cgroup's cursors, replaced, and the workload it was last billed to (kept when not
/// known now).
const CURSORS: many::Insert = many::Insert {
    head: "INSERT INTO cursors (instance, cgroup_id, counters, workload)",
    width: 4,
    tail: "ON CONFLICT (instance, cgroup_id) DO UPDATE SET counters = excluded.counters,
           workload = coalesce(excluded.workload, workload)",
};

/// How far a workload's last_seen may lag its last bill: moving it at every bill of a
/// busy node was a fifth of a bill's time.
const LAST_SEEN_STEP: i64 = 3600;

fn bill_in(
    tx: &Transaction<'_>,
    inst: &InstanceKey,
    seen: &[Reading],
    now: i64,
    only: bool,
    known: &Known,
) -> Result<(Billed, Changes)> {
    let instance: i64 = tx.query_row(
        "INSERT INTO instances (instance, boot_id, loaded_at, pin_dir, first_cycle, last_cycle)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (instance) DO UPDATE SET last_cycle = excluded.last_cycle RETURNING id",
        params![inst.key, inst.boot_id, inst.loaded_at, inst.pin_dir, now],
        |r| r.get(0),
    )?;
    let mut billed = Billed::default();
    let version = next_version(tx, now)?;
    let changes = Changes { version: Some(version), ..Changes::default() };
    let mut ids = Ids { tx, now, version, known, ids: HashMap::new(), changes };
    // The usage rows this bill writes, many to a statement (bill::many).
    let mut usage = Vec::with_capacity(seen.len() * 9);
    let marks = Marks::read(tx)?;
    // The cursors of the cgroups this bill moves, as they are once it commits; a bill may
    // hold two reads of a row (a closed bucket's and the open one's): the second is billed
    // from the first.
    let mut moved: BTreeMap<u64, (Rows, &Rc<Workload>)> = BTreeMap::new();
    let mut late_days = std::collections::BTreeSet::new(); // rolled-up days it adds to
    for s in seen {
        let (rows, who) = moved
            .entry(s.cgroup_id)
            .or_insert_with(|| (known.rows(s.cgroup_id).cloned().unwrap_or_default(), &s.who));
        *who = &s.who;
        let at = rows.iter().position(|l| l.source == s.source && l.class == s.class);
        let prev = at.map_or_else(Counters::default, |i| rows[i].counters);
        let c = s.counters;
        match c.since(&prev) {
            None => billed.resets.push(format!(
                "{} source {} cgroup {} class '{}': counters went back from {} to {} B without a new load; not billed",
                s.who.identity,
                s.source.name(),
                s.cgroup_id,
                s.class,
                prev.total_bytes(),
                c.total_bytes()
            )),
            Some(d) if d == Counters::default() => {}
            Some(d) => {
                let wid = ids.of(&s.who)?;
                usage_rows(&mut usage, &marks, s, wid, &d, version);
                if marks.rolled(Resolution::Day, s.at, wid) {
                    late_days.insert(Resolution::Day.bucket(s.at));
                }
                billed.rows += 1;
                if s.class.is_empty() {
                    billed.bytes += d.total_bytes();
                    billed.packets += d.rx_packets + d.tx_packets;
                }
            }
        }
        let last = || Last { source: s.source, class: s.class.clone(), counters: c };
        match at {
            Some(i) if s.last => _ = rows.swap_remove(i),
            Some(i) => rows[i].counters = c,
            None if s.last || c == prev => {}
            None => rows.push(last()),
        }
    }
    USAGE.run(tx, &usage)?;
    super::series::spoil(tx, &late_days, version)?;
    write_cursors(tx, instance, moved, &mut ids)?;
    if only {
        tx.execute("DELETE FROM cursors WHERE instance <> ?1", params![instance])?;
    }
    Ok((billed, ids.changes))
}

/// The workload ids of one bill, by identity, and what the bill changed.
struct Ids<'a> {
    tx: &'a Transaction<'a>,
    now: i64,
    /// The bill's version, given to the workloads it writes.
    version: i64,
    known: &'a Known,
    ids: HashMap<String, i64>,
    changes: Changes,
}

impl Ids<'_> {
    /// The id of `who`'s workload: written at its first bill; a workload written before with
    /// this description needs only its last_seen moved, once an hour.
    fn of(&mut self, who: &Rc<Workload>) -> Result<i64> {
        if let Some(w) = self.ids.get(who.identity.as_str()) {
            return Ok(*w);
        }
        let now = self.now;
        let w = match self.known.workload(who) {
            Some((w, seen)) => {
                if now - seen >= LAST_SEEN_STEP || now < seen {
                    let mut seen_again = self
                        .tx
                        .prepare_cached("UPDATE workloads SET last_seen = ?1, version = ?3 WHERE id = ?2")?;
                    seen_again.execute(params![now, w, self.version])?;
                    self.changes.workloads.push((w, who.clone(), now));
                }
                w
            }
            None => {
                let w = workload(self.tx, who, now, self.version)?;
                self.changes.workloads.push((w, who.clone(), now));
                w
            }
        };
        self.ids.insert(who.identity.clone(), w);
        Ok(w)
    }

    /// The id of `who`'s workload if this bill or an earlier one wrote it.
    fn known(&self, who: &Rc<Workload>) -> Option<i64> {
        let here = self.ids.get(who.identity.as_str()).copied();
        here.or_else(|| self.known.workload(who).map(|(w, _)| w))
    }
}

/// The usage rows of one read's delta `d`: the 5-minute row, and a coarse row too where it
/// is rolled up already (a clock moved back), so that it stays the sum of its finer rows.
fn usage_rows<'a>(
    usage: &mut Vec<ToSqlOutput<'a>>,
    marks: &Marks,
    s: &'a Reading,
    wid: i64,
    d: &Counters,
    version: i64,
) {
    for res in Resolution::ALL {
        if res != Resolution::FiveMinutes && !marks.rolled(res, s.at, wid) {
            continue;
        }
        usage.extend([
            many::text(res.name()),
            many::int(res.bucket(s.at)),
            many::int(wid),
            many::text(s.source.name()),
            many::text(&s.class),
        ]);
        // A delta is far below 2^63.
        usage.extend([d.rx_bytes, d.tx_bytes, d.rx_packets, d.tx_packets].map(|v| many::int(v as i64)));
        usage.push(many::int(version));
    }
}

/// The version of a bill: above every one before it, and at least its time in milliseconds,
/// so that a ledger started afresh on the same node still writes versions above the old
/// one's (a fleet store keeps the highest version of a row).
pub(super) fn next_version(tx: &Transaction<'_>, now: i64) -> Result<i64> {
    Ok(tx.query_row(
        "UPDATE versions SET version = max(version + 1, ?1) WHERE id = 1 RETURNING version",
        params![now.saturating_mul(1000)],
        |r| r.get(0),
    )?)
}

/// One cursor row a cgroup, written once whatever moved in it (dropped when none is left).
fn write_cursors(
    tx: &Transaction<'_>,
    instance: i64,
    moved: BTreeMap<u64, (Rows, &Rc<Workload>)>,
    ids: &mut Ids<'_>,
) -> Result<()> {
    let mut drop_cursor = tx.prepare_cached("DELETE FROM cursors WHERE instance = ?1 AND cgroup_id = ?2")?;
    let mut cursors = Vec::new();
    for (id, (rows, who)) in moved {
        if ids.known.rows(id).map_or(&[][..], Vec::as_slice) == rows.as_slice() {
            continue;
        }
        if rows.is_empty() {
            drop_cursor.execute(params![instance, id as i64])?;
        } else {
            let wid = ids.known(who).map_or_else(many::null, many::int);
            cursors.extend([many::int(instance), many::int(id as i64), known::encode(&rows)?.into(), wid]);
        }
        ids.changes.cursors.push((id, rows));
    }
    CURSORS.run(tx, &cursors)
}

/// The id of the workload `who` (made at its first bill), its description brought up to
/// date with what is known now.
fn workload(tx: &Transaction<'_>, who: &Workload, now: i64, version: i64) -> Result<i64> {
    let mut q = tx.prepare_cached(
        "INSERT INTO workloads (identity, kind, runtime, name, pod_namespace, pod_name, container_id, pod_uid, path, labels, first_seen, last_seen, version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12)
         ON CONFLICT (identity) DO UPDATE SET
           kind = coalesce(excluded.kind, kind), runtime = coalesce(excluded.runtime, runtime),
           name = coalesce(excluded.name, name), pod_namespace = coalesce(excluded.pod_namespace, pod_namespace),
           pod_name = coalesce(excluded.pod_name, pod_name), path = coalesce(excluded.path, path),
           labels = coalesce(excluded.labels, labels), last_seen = excluded.last_seen,
           version = excluded.version
         RETURNING id",
    )?;
    Ok(q.query_row(
        params![
            who.identity,
            who.kind,
            who.runtime,
            who.name,
            who.pod_namespace,
            who.pod_name,
            who.container_id,
            who.pod_uid,
            who.path,
            who.labels,
            now,
            version
        ],
        |r| r.get(0),
    )?)
}

impl Ledger {
    /// The cursors of one instance: (source, cgroup id, class) and the counters last billed,
    /// read once into what this connection knows (the first bill reads nothing again).
    pub fn cursors(&mut self, instance: &str) -> Result<Vec<Cursor>> {
        Ok(self.known_of(instance)?.cursors())
    }

    /// Workload each cgroup of `instance` with cursors was last billed to (`Known::billed_to`).
    pub fn billed_to(&mut self, instance: &str) -> Result<Vec<(u64, Rc<Workload>)>> {
        Ok(self.known_of(instance)?.billed_to())
    }

    fn known_of(&mut self, instance: &str) -> Result<&Known> {
        let Ledger { conn, known, .. } = self;
        let tx = conn.transaction()?;
        known.check(&tx, instance)?;
        tx.commit()?;
        Ok(known)
    }
}

pub use super::prune::{Retention, EXPORT_BACKLOG};

mod many;
#[cfg(test)]
mod tests;
