//! `netattr report`: billing questions answered from the ledger file alone (no root, no
//! kernel): totals per group for a period, the 95th percentile of 5-minute rates, and an
//! alert mode that exits 1 when a group is over a limit.
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};

use crate::cli::{Global, ReportArgs};
use crate::ledger::query::{self, Field, Period};
use crate::ledger::{report, Ledger};
use crate::output;

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
    let limit = a.limit.as_deref().map(query::parse_bytes).transpose()?;
    let r = report::build(&ledger, period, &by, a.source.map(|s| s.name()), limit, now, a.p95)?;
    output::emit(g.format, &r)?;
    if let Some(l) = limit.filter(|_| !r.groups.is_empty()) {
        eprintln!("netattr: report: {} group(s) over the limit of {l} B", r.groups.len());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
