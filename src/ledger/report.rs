//! A billing report: the groups of a period from the ledger, as `report` prints them (and
//! the demo at its end).
use std::io::{self, Write};

use anyhow::Result;
use serde::Serialize;

use super::query::{self, Field, Group, Period};
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
    pub groups: Vec<Group>,
}

impl Report for LedgerReport {
    const ROWS: Option<&'static str> = Some("groups");

    fn render_table(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{} to {}, source {}", self.since, self.until, self.source)?;
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

/// The report of `period` grouped `by`, for `source` (else the ledger's default), with only
/// the groups over `limit` where one is given.
pub fn build(
    ledger: &Ledger,
    period: Period,
    by: &[Field],
    source: Option<&str>,
    limit: Option<u64>,
    now: i64,
    p95: bool,
) -> Result<LedgerReport> {
    let source = match source {
        Some(s) => s.to_string(),
        None => query::default_source(ledger, period)?,
    };
    let (resolution, mut groups) =
        query::groups(ledger, period, by, &source, now, p95).map_err(|e| ledger.explain(e))?;
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
        groups,
    })
}

/// A unix time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc(t: i64) -> String {
    let (y, m, d) = super::civil(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}
