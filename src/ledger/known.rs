//! What the recording connection knows the file holds, kept between bills so that a bill
//! writes without reading back: the cursors of the instance it bills, and the workloads it
//! made or described. Valid only while no other connection has written the file: each bill
//! asks SQLite's `PRAGMA data_version` inside its (immediate) transaction and reloads the
//! cursors when another writer committed since this connection's last bill. Changes are
//! applied only after their transaction commits, so a failed bill leaves it as the file is.
use std::collections::HashMap;
use std::rc::Rc;

use anyhow::Result;
use rusqlite::{params, Transaction};

use super::bill::Who;
use crate::bpf::{Counters, Source};

#[derive(Debug, Default)]
pub struct Known {
    /// `data_version` seen by the last bill that committed, and the instance it billed.
    version: Option<(i64, String)>,
    /// (source, cgroup id) -> (class, counters billed) of the instance.
    cursors: HashMap<(Source, u64), Vec<(String, Counters)>>,
    /// identity -> (workload id, the description last written).
    workloads: HashMap<String, (i64, Rc<Who>)>,
}

/// What a bill changed, applied once it committed.
#[derive(Debug, Default)]
pub struct Changes {
    /// (source, cgroup id, class, the new cursor or none: dropped).
    pub cursors: Vec<(Source, u64, String, Option<Counters>)>,
    pub workloads: Vec<(i64, Rc<Who>)>,
}

impl Known {
    /// Makes sure this is what the file holds for `instance`, read in `tx`.
    pub fn check(&mut self, tx: &Transaction<'_>, instance: &str) -> Result<()> {
        let v: i64 = tx.pragma_query_value(None, "data_version", |r| r.get(0))?;
        if self.version.as_ref().is_some_and(|(seen, i)| *seen == v && i == instance) {
            return Ok(());
        }
        *self = Known::default();
        let mut q = tx.prepare(
            "SELECT source, cgroup_id, class, rx_bytes, tx_bytes, rx_packets, tx_packets FROM cursors WHERE instance = ?1",
        )?;
        let mut rows = q.query(params![instance])?;
        while let Some(r) = rows.next()? {
            let source = if r.get_ref(0)?.as_str()? == "tc" { Source::Tc } else { Source::Socket };
            let c = Counters {
                rx_bytes: r.get::<_, i64>(3)? as u64,
                tx_bytes: r.get::<_, i64>(4)? as u64,
                rx_packets: r.get::<_, i64>(5)? as u64,
                tx_packets: r.get::<_, i64>(6)? as u64,
            };
            self.cursors.entry((source, r.get::<_, i64>(1)? as u64)).or_default().push((r.get(2)?, c));
        }
        self.version = Some((v, instance.to_string()));
        Ok(())
    }

    /// The counters last billed of a row (zero: never billed).
    pub fn cursor(&self, source: Source, cgroup_id: u64, class: &str) -> Counters {
        self.cursors
            .get(&(source, cgroup_id))
            .and_then(|v| v.iter().find(|(c, _)| c == class))
            .map(|(_, c)| *c)
            .unwrap_or_default()
    }

    /// The id of `who`'s workload, if it was written with this very description.
    pub fn workload(&self, who: &Rc<Who>) -> Option<i64> {
        let (id, known) = self.workloads.get(&who.identity)?;
        (Rc::ptr_eq(known, who) || **known == **who).then_some(*id)
    }

    /// Takes in what a committed bill changed.
    pub fn apply(&mut self, changes: Changes) {
        for (source, id, class, c) in changes.cursors {
            let row = self.cursors.entry((source, id)).or_default();
            let at = row.iter().position(|(k, _)| *k == class);
            match (at, c) {
                (Some(i), Some(c)) => row[i].1 = c,
                (None, Some(c)) => row.push((class, c)),
                (Some(i), None) => {
                    row.swap_remove(i);
                    if row.is_empty() {
                        self.cursors.remove(&(source, id));
                    }
                }
                (None, None) => {}
            }
        }
        for (id, who) in changes.workloads {
            self.workloads.insert(who.identity.clone(), (id, who));
        }
    }

    /// Forgets everything (a bill failed: the next one reads the file again).
    pub fn forget(&mut self) {
        *self = Known::default();
    }
}
