//! A billing report: the groups of a period from the ledger, as `report` prints them (and
//! the demo at its end).
use std::io::{self, Write};

use anyhow::Result;
use serde::Serialize;

use super::coverage::{self, Coverage};
use super::query::{self, Ask, Field, Group};
use super::Ledger;
use crate::output::{self, Report};

#[derive(Debug, Serialize)]
pub struct LedgerReport {
    pub schema: u32,
    pub ledger: String,
    pub source: String,
    pub since: String,
    pub until: String,
    /// The bucket size the totals were summed from: `5m`, `hour`, `day` or `month`.
    pub resolution: &'static str,
    pub by: Vec<String>,
    /// With --limit: the limit in bytes (rx + tx).
    pub limit_bytes: Option<u64>,
    /// The part of the period each source has rows in (the one read, and any other).
    pub sources: Vec<Coverage>,
    /// The ledger holds everything its recorder read before this time (null when no
    /// recorder said so).
    pub complete_until: Option<String>,
    pub groups: Vec<Group>,
    /// What the report leaves out, said on stderr too (the parts of the period only another
    /// source covers, data not recorded yet): not in the document.
    #[serde(skip)]
    pub notes: Vec<String>,
}

impl Report for LedgerReport {
    const ROWS: Option<&'static str> = Some("groups");

    /// A column a grouping field, then the figures; a header on an empty report too.
    fn csv(&self) -> Option<(Vec<String>, Vec<Vec<String>>)> {
        let mut header = self.by.clone();
        header.extend(
            ["rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "p95_bytes_per_s"].map(String::from),
        );
        let rows = self
            .groups
            .iter()
            .map(|g| {
                let mut cells: Vec<String> =
                    self.by.iter().map(|b| g.group.get(b).cloned().flatten().unwrap_or_default()).collect();
                cells.extend([g.rx_bytes, g.tx_bytes, g.rx_packets, g.tx_packets].map(|v| v.to_string()));
                cells.push(g.p95_bytes_per_s.map(|p| p.to_string()).unwrap_or_default());
                cells
            })
            .collect();
        Some((header, rows))
    }

    fn render_table(&self, out: &mut dyn Write) -> io::Result<()> {
        let complete =
            self.complete_until.as_deref().map(|c| format!(", complete up to {c}")).unwrap_or_default();
        writeln!(out, "{} to {}, source {}{complete}", self.since, self.until, self.source)?;
        for n in &self.notes {
            writeln!(out, "note: {n}")?;
        }
        let mut header: Vec<String> = self.by.iter().map(|b| b.to_uppercase()).collect();
        if header.is_empty() {
            header.push("ALL".into());
        }
        header.extend(["RX", "TX", "TOTAL", "P95 RATE"].map(String::from));
        let n = header.len();
        let mut t = output::table(header);
        for g in &self.groups {
            let mut cells = output::group_cells(&self.by, &g.group);
            if cells.is_empty() {
                cells.push("all".into());
            }
            cells.extend([
                output::bytes(g.rx_bytes),
                output::bytes(g.tx_bytes),
                output::bytes(g.rx_bytes + g.tx_bytes),
                g.p95_bytes_per_s.map(output::rate).unwrap_or_else(|| "-".into()),
            ]);
            output::add_row(&mut t, cells);
        }
        output::align_right(&mut t, &(n - 4..n).collect::<Vec<_>>());
        output::write_table(out, &t)
    }
}

/// The source a report of `period` reads: `asked`, else the one the ledger covers it with.
pub fn source_of(ledger: &Ledger, period: crate::model::Period, asked: Option<&str>) -> Result<String> {
    match asked {
        Some(s) => Ok(s.to_string()),
        None => coverage::choose(ledger, &coverage::of(ledger, period).map_err(|e| ledger.explain(e))?),
    }
}

/// The report of `period` grouped `by`, for `source` (else the ledger's default), with only
/// the groups over `limit` where one is given.
pub fn build(
    ledger: &Ledger,
    ask: Ask<'_>,
    source: Option<&str>,
    limit: Option<u64>,
    now: i64,
) -> Result<LedgerReport> {
    let Ask { period, by, .. } = ask;
    let sources = coverage::of(ledger, period).map_err(|e| ledger.explain(e))?;
    let source = match source {
        Some(s) => s.to_string(),
        None => coverage::choose(ledger, &sources)?,
    };
    let mut notes: Vec<String> = coverage::left_out(&source, &sources).into_iter().collect();
    let recorder = query::recorder(ledger)?;
    let complete = recorder.as_ref().and_then(|r| r.complete_until);
    // Reads waiting for their bucket to close (a busy node's) leave the ledger behind its
    // recorder's last cycle: said, with what --wait does.
    if let (Some(r), Some(c)) = (&recorder, complete) {
        if r.waiting > 0 && c < period.until.min(now) {
            notes.push(format!(
                "{} reads wait for their 5-minute bucket to close: the ledger holds what its recorder read up to {} only (--wait SECONDS waits for the rest)",
                r.waiting,
                utc(c)
            ));
        }
    }
    let (resolution, mut groups) = query::groups(ledger, ask, &source, now).map_err(|e| ledger.explain(e))?;
    if let Some(l) = limit {
        groups.retain(|g| g.rx_bytes + g.tx_bytes > l);
    }
    Ok(LedgerReport {
        schema: output::SCHEMA,
        ledger: ledger.path.display().to_string(),
        source,
        since: utc(period.since),
        until: utc(period.until),
        resolution: resolution.name(),
        by: by.iter().map(Field::label).collect(),
        limit_bytes: limit,
        sources,
        complete_until: complete.map(utc),
        groups,
        notes,
    })
}

pub use crate::model::utc;
