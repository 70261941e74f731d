//! The pair report of one node's ledger (`report --by name,peer`): its peer rows of the
//! period, each address named by the workload that held it in the row's bucket
//! (`addresses`), made into the pair table (model::pairs: each byte between two workloads
//! once per direction, from the view that saw all of it) and grouped.
use std::collections::{BTreeMap, HashMap};

use anyhow::{bail, Result};
use rusqlite::params;

use super::ask::{Ask, Group};
use super::Ledger;
use crate::model::pairs::{pairs, reallocate, PeerRef, View};

/// The group key of a row reallocated from a shared workload (`--reallocate`): its name.
pub const ALLOCATED_FROM: &str = "allocated_from";
use crate::model::{Counters, Field};

/// A workload's fields, as its pair rows are grouped by them.
#[derive(Debug, Clone, Default)]
pub struct Who {
    pub pod_namespace: Option<String>,
    pub pod: Option<String>,
    pub kind: Option<String>,
    pub runtime: Option<String>,
    /// The fleet store's rows only: where it was counted.
    pub node: Option<String>,
    pub zone: Option<String>,
    /// Its labels, a JSON object (`--reallocate KEY=VALUE` selects by them).
    pub labels: Option<String>,
}

/// The groups of the pair table of `ask.period` for `source`, largest first.
pub fn groups(l: &Ledger, ask: &Ask<'_>, source: &str) -> Result<Vec<Group>> {
    check(ask)?;
    let rows = super::pair_rows::rows(l, ask.period, source)?;
    // Each workload is known by its name, else its identity, as `--by name` shows it: the
    // key an address's holder has too (a pod's containers share its name, as they share
    // its addresses).
    let mut whos: HashMap<String, Who> = HashMap::new();
    let mut key_of: HashMap<i64, String> = HashMap::new();
    {
        let mut ids: Vec<i64> = rows.iter().map(|r| r.workload).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut q = l.conn.prepare_cached(
            "SELECT id, coalesce(name, identity), pod_namespace, pod_name, kind, runtime, labels FROM workloads WHERE id = ?1",
        )?;
        for id in ids {
            let mut found = q.query(params![id])?;
            let Some(r) = found.next()? else { continue };
            let key: String = r.get(1)?;
            key_of.insert(r.get(0)?, key.clone());
            whos.entry(key).or_insert(Who {
                pod_namespace: r.get(2)?,
                pod: r.get(3)?,
                kind: r.get(4)?,
                runtime: r.get(5)?,
                labels: r.get(6)?,
                ..Who::default()
            });
        }
    }
    let mut views = Views::default();
    for r in rows {
        let Some(w) = key_of.get(&r.workload) else { continue };
        let holder = r.holder.as_deref().map(|h| (h, r.name.as_deref()));
        views.add(w.clone(), r.class, &r.peer, holder, r.pod_namespace, r.counters);
    }
    Ok(views.grouped(ask, &whos))
}

/// The workloads' views of a period, as a ledger or the store reads them: each row's peer
/// named by who held its address at the time, with each peer workload's pod namespace.
#[derive(Debug, Default)]
pub struct Views {
    rows: BTreeMap<(String, String, PeerRef), Counters>,
    peer_ns: HashMap<String, Option<String>>,
}

impl Views {
    /// Adds workload `w`'s row of `class` with `peer` (as stored), whose address `holder`
    /// held (as `PeerRef::of` takes it; `namespace`: the holder's pod namespace).
    pub fn add(
        &mut self,
        w: String,
        class: String,
        peer: &str,
        holder: Option<(&str, Option<&str>)>,
        namespace: Option<String>,
        c: Counters,
    ) {
        let peer = PeerRef::of(peer, holder);
        if let PeerRef::Workload(k) = &peer {
            self.peer_ns.insert(k.clone(), namespace);
        }
        self.rows.entry((w, class, peer)).or_default().add(&c);
    }

    /// Their pair table grouped by `ask.by` (only the classes `ask.classes` picks), largest
    /// first: `whos` describes each workload key.
    pub fn grouped(self, ask: &Ask<'_>, whos: &HashMap<String, Who>) -> Vec<Group> {
        let views: Vec<View> = self
            .rows
            .into_iter()
            .map(|((w, class, peer), counters)| View::new(w, class, peer, counters))
            .collect();
        grouped(&views, ask, whos, &self.peer_ns)
    }
}

/// Checks that `ask` can be answered from the pair table.
pub fn check(ask: &Ask<'_>) -> Result<()> {
    if ask.p95 {
        bail!("--p95 is not computed per peer: leave out --p95, or group without peer fields");
    }
    if let Some(f) = ask.by.iter().find(|f| matches!(f, Field::Identity | Field::Label(_))) {
        bail!("the pair table is grouped by workload name, not by '{}': use name, pod_namespace, pod, kind, runtime, class, node, zone, peer or peer_namespace", f.label());
    }
    Ok(())
}

/// The shared workloads `--reallocate` names: each NAME, and every workload of `whos` whose
/// labels hold KEY=VALUE.
pub fn shared(asked: &[String], whos: &HashMap<String, Who>) -> Vec<String> {
    let (selectors, mut out): (Vec<&String>, Vec<&String>) = asked.iter().partition(|a| a.contains('='));
    if !selectors.is_empty() {
        for (name, who) in whos {
            let labels: BTreeMap<String, serde_json::Value> =
                who.labels.as_deref().and_then(|l| serde_json::from_str(l).ok()).unwrap_or_default();
            let holds = |s: &&String| {
                s.split_once('=').is_some_and(|(k, v)| labels.get(k).and_then(|x| x.as_str()) == Some(v))
            };
            if selectors.iter().any(holds) {
                out.push(name);
            }
        }
    }
    let mut out: Vec<String> = out.into_iter().cloned().collect();
    out.sort();
    out.dedup();
    out
}

/// The pair table of `views` grouped by `ask.by`: `peer_ns` is each peer workload's pod
/// namespace.
fn grouped(
    views: &[View],
    ask: &Ask<'_>,
    whos: &HashMap<String, Who>,
    peer_ns: &HashMap<String, Option<String>>,
) -> Vec<Group> {
    let mut out: BTreeMap<Vec<Option<String>>, Counters> = BTreeMap::new();
    let mut table = pairs(views);
    let mut labels: Vec<String> = ask.by.iter().map(Field::label).collect();
    if !ask.reallocate.is_empty() {
        table = reallocate(table, &shared(ask.reallocate, whos));
        labels.push(ALLOCATED_FROM.to_string());
    }
    for p in table {
        if !ask.classes.is_empty() && !ask.classes.contains(&p.class) {
            continue;
        }
        let none = Who::default();
        let who = whos.get(&p.w).unwrap_or(&none);
        let mut key: Vec<Option<String>> = ask.by.iter().map(|f| value(f, &p, who, peer_ns)).collect();
        if !ask.reallocate.is_empty() {
            key.push(p.from.clone());
        }
        out.entry(key).or_default().add(&p.counters);
    }
    let mut groups: Vec<Group> = out
        .into_iter()
        .map(|(key, c)| Group {
            group: labels.iter().cloned().zip(key).collect(),
            rx_bytes: c.rx_bytes,
            tx_bytes: c.tx_bytes,
            rx_packets: c.rx_packets,
            tx_packets: c.tx_packets,
            p95_bytes_per_s: None,
        })
        .collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.rx_bytes + g.tx_bytes));
    groups
}

/// A pair row's value of a field.
fn value(f: &Field, p: &View, who: &Who, peer_ns: &HashMap<String, Option<String>>) -> Option<String> {
    match f {
        Field::Name => Some(p.w.clone()),
        Field::PodNamespace => who.pod_namespace.clone(),
        Field::Pod => who.pod.clone(),
        Field::Kind => who.kind.clone(),
        Field::Runtime => who.runtime.clone(),
        Field::Class => Some(p.class.clone()),
        Field::Peer => Some(peer_label(&p.peer, &p.class)),
        Field::PeerNamespace => match &p.peer {
            PeerRef::Workload(k) => peer_ns.get(k).cloned().flatten(),
            _ => None,
        },
        Field::Node => who.node.clone(),
        Field::Zone => who.zone.clone(),
        Field::Identity | Field::Label(_) => None,
    }
}

/// How a report shows a peer.
fn peer_label(p: &PeerRef, class: &str) -> String {
    match p {
        PeerRef::Workload(k) => k.clone(),
        PeerRef::Host => "host".into(),
        PeerRef::Via(a) => format!("via {a}"),
        PeerRef::Other => crate::model::pairs::OTHER_PEERS.into(),
        PeerRef::Class => class.into(),
    }
}
