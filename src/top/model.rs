//! What `netattr top` shows, and how keys change it. No terminal here: tests drive it.
use std::collections::{HashMap, VecDeque};

use crate::core::group;
use crate::core::report::StatsReport;
use crate::core::row::{Bucket, Row};
use crate::model::Field;
use crate::output;

/// Samples of rate history kept per row (the sparkline's width at most).
pub const HISTORY: usize = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Tx,
    Rx,
    Total,
    Name,
}

impl Order {
    fn next(self) -> Order {
        match self {
            Order::Tx => Order::Rx,
            Order::Rx => Order::Total,
            Order::Total => Order::Name,
            Order::Name => Order::Tx,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Order::Tx => "tx/s",
            Order::Rx => "rx/s",
            Order::Total => "total/s",
            Order::Name => "name",
        }
    }
}

/// How rows are summed (the g key): not at all, per name (a pod's containers), per pod
/// namespace; the values `stats --group` and `report` group by.
pub const GROUPINGS: [Option<Field>; 3] = [None, Some(Field::Name), Some(Field::PodNamespace)];

#[derive(Debug, Clone, PartialEq)]
pub struct TopRow {
    /// The cgroup id; for a group's row, an id made from its value (bit 63 set).
    pub cgroup_id: u64,
    /// The name people use, else a short container id, else the path's last part.
    pub name: String,
    /// A short container id, else the path.
    pub ident: String,
    pub rx_s: f64,
    pub tx_s: f64,
    pub total_bytes: u64,
    pub bucket: bool,
    /// With the class breakdown: bytes per second to and from the `internet` class.
    pub internet_s: Option<f64>,
    /// For a group's row: how many cgroups it sums (0 for a cgroup's own row).
    pub members: usize,
}

/// What the header says about the instance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Header {
    pub source: String,
    pub attached: String,
    pub cgroup_mode: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    None,
    Quit,
    Reresolve,
}

#[derive(Debug, Default)]
pub struct Model {
    pub header: Header,
    pub time: String,
    pub rows: Vec<TopRow>,
    /// Every cgroup's row of the last report, with its values for each grouping.
    cgroups: Vec<(TopRow, [Option<String>; GROUPINGS.len()])>,
    /// Index into GROUPINGS.
    pub grouping: usize,
    pub history: HashMap<u64, VecDeque<f64>>,
    pub order: Option<Order>,
    pub selected: usize,
    pub paused: bool,
    pub detail: bool,
    /// Lines of the detail pane for the selected row (its breakdowns).
    pub detail_lines: Vec<String>,
    pub rx_s: f64,
    pub tx_s: f64,
}

impl Model {
    pub fn new(header: Header) -> Self {
        Model { header, order: Some(Order::Tx), ..Default::default() }
    }

    pub fn order(&self) -> Order {
        self.order.unwrap_or(Order::Tx)
    }

    /// Takes in one interval's report.
    pub fn update(&mut self, report: &StatsReport) {
        self.time = report.time.clone().unwrap_or_default();
        self.cgroups = report
            .cgroups
            .iter()
            .map(|r| (row(r), GROUPINGS.map(|g| g.as_ref().and_then(|f| group::value(f, r)))))
            .collect();
        let rates = report.rates.unwrap_or_default();
        self.rx_s = rates.rx_bytes_per_s;
        self.tx_s = rates.tx_bytes_per_s;
        self.regroup();
        let live: std::collections::HashSet<u64> = self.rows.iter().map(|r| r.cgroup_id).collect();
        self.history.retain(|id, _| live.contains(id));
        for r in &self.rows {
            let h = self.history.entry(r.cgroup_id).or_default();
            h.push_back(r.rx_s + r.tx_s);
            while h.len() > HISTORY {
                h.pop_front();
            }
        }
    }

    /// The rows from the cgroups' rows: each one, or the sums of the grouping (buckets and
    /// cgroups without a value stay rows of their own), sorted, the selection kept.
    fn regroup(&mut self) {
        let keep = self.selected_id();
        self.rows = match GROUPINGS[self.grouping] {
            None => self.cgroups.iter().map(|(r, _)| r.clone()).collect(),
            Some(_) => {
                let mut rows: Vec<TopRow> = Vec::new();
                let mut at: HashMap<&str, usize> = HashMap::new();
                for (r, values) in &self.cgroups {
                    let Some(v) = values[self.grouping].as_deref().filter(|_| !r.bucket) else {
                        rows.push(r.clone());
                        continue;
                    };
                    let i = *at.entry(v).or_insert_with(|| {
                        rows.push(TopRow {
                            cgroup_id: group_id(v),
                            name: output::clean(v).into_owned(),
                            ident: String::new(),
                            rx_s: 0.0,
                            tx_s: 0.0,
                            total_bytes: 0,
                            bucket: false,
                            internet_s: None,
                            members: 0,
                        });
                        rows.len() - 1
                    });
                    let g = &mut rows[i];
                    g.members += 1;
                    g.rx_s += r.rx_s;
                    g.tx_s += r.tx_s;
                    g.total_bytes = g.total_bytes.saturating_add(r.total_bytes);
                    if let Some(x) = r.internet_s {
                        *g.internet_s.get_or_insert(0.0) += x;
                    }
                }
                for g in rows.iter_mut().filter(|g| g.members > 0) {
                    g.ident = format!("{} cgroup{}", g.members, if g.members == 1 { "" } else { "s" });
                }
                rows
            }
        };
        self.sort();
        if let Some(id) = keep {
            if let Some(i) = self.rows.iter().position(|r| r.cgroup_id == id) {
                self.selected = i;
            }
        }
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
    }

    /// Takes in each cgroup's `internet` rate (rx + tx) from the class breakdown.
    pub fn set_internet(&mut self, per_cgroup: &HashMap<u64, f64>) {
        for (r, _) in &mut self.cgroups {
            r.internet_s = Some(per_cgroup.get(&r.cgroup_id).copied().unwrap_or(0.0));
        }
        self.regroup();
    }

    /// The selected row's id (a group's made-up id for a group).
    pub fn selected_id(&self) -> Option<u64> {
        self.rows.get(self.selected).map(|r| r.cgroup_id)
    }

    /// The selected row's cgroup, None for a group's row.
    pub fn selected_cgroup(&self) -> Option<u64> {
        self.rows.get(self.selected).filter(|r| r.members == 0).map(|r| r.cgroup_id)
    }

    /// What the rows are summed by, for the header.
    pub fn grouping_label(&self) -> &'static str {
        match GROUPINGS[self.grouping] {
            None => "cgroup",
            Some(Field::Name) => "name",
            Some(_) => "pod_namespace",
        }
    }

    fn sort(&mut self) {
        let order = self.order();
        self.rows.sort_by(|a, b| {
            let by = match order {
                Order::Tx => b.tx_s.total_cmp(&a.tx_s),
                Order::Rx => b.rx_s.total_cmp(&a.rx_s),
                Order::Total => (b.rx_s + b.tx_s).total_cmp(&(a.rx_s + a.tx_s)),
                Order::Name => a.name.cmp(&b.name),
            };
            a.bucket.cmp(&b.bucket).then(by).then(a.cgroup_id.cmp(&b.cgroup_id))
        });
    }

    /// Applies a key: s sort, g group, p or space pause, r re-resolve, up/down/j/k select,
    /// enter or d detail, q or Ctrl-C quit.
    pub fn key(&mut self, c: char, ctrl: bool) -> Action {
        match (c, ctrl) {
            ('c', true) | ('q', false) => return Action::Quit,
            ('s', false) => {
                self.order = Some(self.order().next());
                self.sort();
            }
            ('g', false) => {
                self.grouping = (self.grouping + 1) % GROUPINGS.len();
                self.regroup();
            }
            ('p', false) | (' ', false) => self.paused = !self.paused,
            ('r', false) => return Action::Reresolve,
            ('\n', false) | ('d', false) => self.detail = !self.detail,
            ('j', false) | ('↓', false) => {
                self.selected = (self.selected + 1).min(self.rows.len().saturating_sub(1))
            }
            ('k', false) | ('↑', false) => self.selected = self.selected.saturating_sub(1),
            _ => {}
        }
        Action::None
    }
}

fn row(r: &Row) -> TopRow {
    let short_id = r.who.container_id.as_deref().map(|c| c.chars().take(12).collect::<String>());
    let name = match r.bucket {
        Bucket::Unresolved => "(unresolved)".to_string(),
        Bucket::Overflow => "(overflow)".to_string(),
        Bucket::Cgroup => r
            .who
            .name
            .clone()
            .or_else(|| short_id.clone())
            .or_else(|| {
                r.path
                    .as_deref()
                    .and_then(|p| p.rsplit('/').next())
                    .filter(|s| !s.is_empty())
                    .map(String::from)
            })
            .unwrap_or_else(|| if r.cgroup_id == 1 { "/".into() } else { format!("cgroup {}", r.cgroup_id) }),
    };
    let ident = short_id.or_else(|| r.path.clone()).unwrap_or_else(|| "-".into());
    let (name, ident) = (output::clean(&name).into_owned(), output::clean(&ident).into_owned());
    let rates = r.rates.unwrap_or_default();
    TopRow {
        cgroup_id: r.cgroup_id,
        name,
        ident,
        rx_s: rates.rx_bytes_per_s,
        tx_s: rates.tx_bytes_per_s,
        total_bytes: r.counters.total_bytes(),
        bucket: r.bucket != Bucket::Cgroup,
        internet_s: None,
        members: 0,
    }
}

/// A group's row id: a hash of its value with bit 63 set (cgroup ids never have it; the
/// overflow bucket's 2^64-1 is avoided).
fn group_id(value: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut h);
    (h.finish() | 1 << 63).min(u64::MAX - 1)
}

/// A sparkline of the last `width` samples, scaled to the largest.
pub fn sparkline(h: Option<&VecDeque<f64>>, width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let Some(h) = h else { return String::new() };
    let tail: Vec<f64> = h.iter().rev().take(width).rev().copied().collect();
    let max = tail.iter().copied().fold(0.0, f64::max);
    tail.iter()
        .map(|v| if max <= 0.0 { BARS[0] } else { BARS[((v / max) * 7.0).round().clamp(0.0, 7.0) as usize] })
        .collect()
}

/// A rate for a narrow column: "1.5M/s", in the binary units the totals use (K = 1024).
pub fn short_rate(bytes_per_s: f64) -> String {
    const K: f64 = 1024.0;
    let b = bytes_per_s.max(0.0);
    match b {
        x if x >= K * K * K => format!("{:.1}G/s", x / (K * K * K)),
        x if x >= K * K => format!("{:.1}M/s", x / (K * K)),
        x if x >= K => format!("{:.1}K/s", x / K),
        x => format!("{x:.0}B/s"),
    }
}

/// Bytes for a narrow column.
pub fn short_bytes(n: u64) -> String {
    output::bytes(n).replace(" ", "").replace("iB", "")
}

#[cfg(test)]
mod tests;
