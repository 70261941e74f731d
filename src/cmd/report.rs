//! `netattr report`: billing questions answered from the ledger file alone (no root, no
//! kernel): totals per group for a period, the 95th percentile of 5-minute rates, and an
//! alert mode that exits 1 when a group is over a limit.
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use serde::Serialize;

use crate::cli::{Global, ReportArgs};
use crate::ledger::query::{self, Field, Group, Period};
use crate::ledger::Ledger;
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
            let mut cells: Vec<String> = self
                .by
                .iter()
                .map(|b| g.group.get(b).cloned().flatten().unwrap_or_else(|| "-".into()))
                .collect();
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

pub fn execute(g: &Global, a: &ReportArgs) -> Result<ExitCode> {
    let ledger = Ledger::open_ro(&a.ledger)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    if !(1..=28).contains(&a.billing_day) {
        bail!("--billing-day {} is not a day every month has: use 1 to 28", a.billing_day);
    }
    let period = match (&a.period, &a.since, &a.until) {
        (Some(p), None, None) => Period::named(p, now, a.billing_day)?,
        (None, None, None) => Period::named("this-month", now, a.billing_day)?,
        (None, since, until) => Period {
            since: since.as_deref().map(query::parse_time).transpose()?.unwrap_or(0),
            until: until.as_deref().map(query::parse_time).transpose()?.unwrap_or(now + 1),
        },
        _ => bail!("--period and --since/--until pick the period two ways: use one"),
    };
    if period.until <= period.since {
        bail!("the period ends before it starts: --until must be after --since");
    }
    let by: Vec<Field> = a.by.iter().map(|b| Field::parse(b)).collect::<Result<_>>()?;
    let source = match &a.source {
        Some(s) => s.name().to_string(),
        None => query::default_source(&ledger, period)?,
    };
    let limit = a.limit.as_deref().map(query::parse_bytes).transpose()?;
    let (resolution, mut groups) =
        query::groups(&ledger, period, &by, &source, now).map_err(|e| ledger.explain(e))?;
    if let Some(l) = limit {
        groups.retain(|g| g.rx_bytes + g.tx_bytes > l);
    }
    let time = |t: i64| {
        let (y, m, d) = crate::ledger::civil(t.div_euclid(86_400));
        let s = t.rem_euclid(86_400);
        format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
    };
    let report = LedgerReport {
        schema: output::SCHEMA,
        ledger: a.ledger.display().to_string(),
        source,
        since: time(period.since),
        until: time(period.until),
        resolution: resolution.name(),
        by: by.iter().map(Field::label).collect(),
        limit_bytes: limit,
        groups,
    };
    output::emit(g.format, &report)?;
    if limit.is_some() && !report.groups.is_empty() {
        eprintln!(
            "netattr: report: {} group(s) over the limit of {} B",
            report.groups.len(),
            limit.unwrap_or_default()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
