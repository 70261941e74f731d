//! What `netattr top` shows, and how keys change it. No terminal here: tests drive it.
use std::collections::{HashMap, VecDeque};

use crate::core::report::StatsReport;
use crate::core::row::{Bucket, Row};
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

#[derive(Debug, Clone, PartialEq)]
pub struct TopRow {
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
        let keep = self.selected_id();
        self.time = report.time.clone().unwrap_or_default();
        self.rows = report.cgroups.iter().map(row).collect();
        let rates = report.rates.unwrap_or_default();
        self.rx_s = rates.rx_bytes_per_s;
        self.tx_s = rates.tx_bytes_per_s;
        let live: std::collections::HashSet<u64> = self.rows.iter().map(|r| r.cgroup_id).collect();
        self.history.retain(|id, _| live.contains(id));
        for r in &self.rows {
            let h = self.history.entry(r.cgroup_id).or_default();
            h.push_back(r.rx_s + r.tx_s);
            while h.len() > HISTORY {
                h.pop_front();
            }
        }
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
        for r in &mut self.rows {
            r.internet_s = Some(per_cgroup.get(&r.cgroup_id).copied().unwrap_or(0.0));
        }
    }

    pub fn selected_id(&self) -> Option<u64> {
        self.rows.get(self.selected).map(|r| r.cgroup_id)
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

    /// Applies a key: s sort, p or space pause, r re-resolve, up/down/j/k select, enter or
    /// d detail, q or Ctrl-C quit.
    pub fn key(&mut self, c: char, ctrl: bool) -> Action {
        match (c, ctrl) {
            ('c', true) | ('q', false) => return Action::Quit,
            ('s', false) => {
                self.order = Some(self.order().next());
                self.sort();
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
    }
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
mod unit_tests {
    use super::*;

    #[test]
    fn rates_and_totals_use_the_same_binary_units() {
        assert_eq!(short_rate(1536.0), "1.5K/s");
        assert_eq!(short_bytes(1536), "1.50K");
        assert_eq!(short_rate(3.0 * 1024.0 * 1024.0), "3.0M/s");
        assert_eq!(short_bytes(3 * 1024 * 1024), "3M");
        assert_eq!(short_rate(1000.0), "1000B/s");
    }
}
