//! The workload a row is billed to (`who_of`, which the recorder bills under), and live
//! grouping (`stats --group`, `top`'s g key): rows summed by identity fields, with the very
//! values `report` groups the ledger by: a pod's containers under its name, a namespace's
//! pods under the namespace.
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use serde::Serialize;

use super::report::StatsReport;
pub use super::row::identity_of;
use super::row::{serialize_amounts, Row, SortKey};
use crate::bpf::{Counters, Source};
use crate::model::Field;
use crate::model::Workload;
use crate::output::{self, Report};
use crate::rates::Rates;

/// The value of `field` for a row, as the ledger stores it for the row's workload
/// (`who_of`): the name falls back to the identity (`container:<id>`, `unit:<name>`,
/// `bucket:unresolved`, ...); the others are null where the row has none.
pub fn value(field: &Field, r: &Row) -> Option<String> {
    let w = &r.who;
    match field {
        Field::Name => Some(w.name.clone().unwrap_or_else(|| identity_of(r))),
        Field::PodNamespace => w.pod_namespace.clone(),
        Field::Pod => w.pod_name.clone(),
        Field::Kind => w.kind.map(|k| output::label(&k)),
        Field::Runtime => w.runtime.map(String::from),
        Field::Identity => Some(identity_of(r)),
        Field::Class => r.class.clone(),
        Field::Label(k) => w.labels.as_ref().and_then(|l| l.get(k).cloned()),
        // Refused by the command line (one node's rows): the fleet store's fields.
        Field::Node | Field::Zone => None,
        Field::Peer => r.peer.as_ref().map(|p| p.peer.clone()),
        Field::PeerNamespace => r.peer.as_ref().and_then(|p| p.namespace.clone()),
    }
}

/// One group of rows and their sum.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Field label -> value (null where the rows have none).
    pub group: BTreeMap<String, Option<String>>,
    /// How many rows (cgroups, or cgroup breakdown rows) were summed.
    pub rows: usize,
    pub counters: Counters,
    /// With --interval: the summed rates.
    pub rates: Option<Rates>,
}

impl Serialize for Group {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Group", 10)?;
        st.serialize_field("group", &self.group)?;
        st.serialize_field("rows", &self.rows)?;
        serialize_amounts(&mut st, &self.counters, self.rates.as_ref())?;
        st.end()
    }
}

/// `rows` summed by `by`, largest first by `sort` (rates where there are rates), cut to
/// `top` groups.
pub fn group(rows: &[Row], by: &[Field], sort: SortKey, top: Option<usize>) -> Vec<Group> {
    let mut at: HashMap<Vec<Option<String>>, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for r in rows {
        let key: Vec<Option<String>> = by.iter().map(|f| value(f, r)).collect();
        let i = match at.get(&key) {
            Some(i) => *i,
            None => {
                groups.push(Group {
                    group: by.iter().map(|f| f.label()).zip(key.iter().cloned()).collect(),
                    rows: 0,
                    counters: Counters::default(),
                    rates: r.rates.as_ref().map(|_| Rates::default()),
                });
                at.insert(key, groups.len() - 1);
                groups.len() - 1
            }
        };
        let g = &mut groups[i];
        g.rows += 1;
        let (c, o) = (&mut g.counters, &r.counters);
        c.rx_bytes = c.rx_bytes.saturating_add(o.rx_bytes);
        c.tx_bytes = c.tx_bytes.saturating_add(o.tx_bytes);
        c.rx_packets = c.rx_packets.saturating_add(o.rx_packets);
        c.tx_packets = c.tx_packets.saturating_add(o.tx_packets);
        if let (Some(sum), Some(x)) = (&mut g.rates, &r.rates) {
            sum.add(x);
        }
    }
    let k = |g: &Group| sort.of(&g.counters, g.rates.as_ref());
    groups.sort_by(|a, b| k(b).cmp(&k(a)).then_with(|| a.group.cmp(&b.group)));
    groups.truncate(top.unwrap_or(usize::MAX));
    groups
}

/// `stats --group`: the stats report's rows summed per group.
#[derive(Debug, Serialize)]
pub struct GroupedReport {
    pub schema: u32,
    pub source: Source,
    /// The fields grouped by, as given.
    pub group_by: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval_s: Option<f64>,
    pub groups: Vec<Group>,
    pub totals: Counters,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rates: Option<Rates>,
}

impl GroupedReport {
    /// The stats report `r` grouped `by`.
    pub fn of(r: &StatsReport, by: &[Field], sort: SortKey, top: Option<usize>) -> GroupedReport {
        GroupedReport {
            schema: r.schema,
            source: r.source,
            group_by: by.iter().map(Field::label).collect(),
            time: r.time.clone(),
            interval_s: r.interval_s,
            groups: group(&r.cgroups, by, sort, top),
            totals: r.totals,
            rates: r.rates,
        }
    }
}

impl Report for GroupedReport {
    const ROWS: Option<&'static str> = Some("groups");

    fn render_table(&self, out: &mut dyn Write) -> io::Result<()> {
        if let (Some(t), Some(s)) = (&self.time, self.interval_s) {
            writeln!(out, "{t}  rates over {s:.2} s, source {}", output::label(&self.source))?;
        }
        let mut header: Vec<String> = self.group_by.iter().map(|b| b.to_uppercase()).collect();
        let rates = self.interval_s.is_some();
        let numbers = if rates { ["ROWS", "RX/s", "TX/s", "TOTAL/s"] } else { ["ROWS", "RX", "TX", "TOTAL"] };
        header.extend(numbers.map(String::from));
        let n = header.len();
        let mut t = output::table(header);
        for g in &self.groups {
            let mut cells = output::group_cells(&self.group_by, &g.group);
            cells.push(g.rows.to_string());
            match &g.rates {
                Some(x) => cells.extend([
                    output::rate(x.rx_bytes_per_s),
                    output::rate(x.tx_bytes_per_s),
                    output::rate(x.total_bytes_per_s()),
                ]),
                None => cells.extend([
                    output::bytes(g.counters.rx_bytes),
                    output::bytes(g.counters.tx_bytes),
                    output::bytes(g.counters.total_bytes()),
                ]),
            }
            output::add_row(&mut t, cells);
        }
        output::align_right(&mut t, &(n - 4..n).collect::<Vec<_>>());
        output::write_table(out, &t)?;
        if rates {
            writeln!(out)?;
        }
        Ok(())
    }
}

/// The workload a row is billed to (also what live grouping groups by).
pub fn who_of(r: &Row) -> Workload {
    let w = &r.who;
    let identity = identity_of(r);
    let kind = w.kind.map(|k| crate::output::label(&k));
    Workload {
        identity,
        kind,
        runtime: w.runtime.map(String::from),
        name: w.name.clone(),
        pod_namespace: w.pod_namespace.clone(),
        pod_name: w.pod_name.clone(),
        container_id: w.container_id.clone(),
        pod_uid: w.pod_uid.clone(),
        path: r.path.clone(),
        labels: w.labels.as_ref().and_then(|l| serde_json::to_string(l).ok()),
    }
}
