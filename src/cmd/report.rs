//! `netattr report`: billing questions answered from the ledger file alone (no root, no
//! kernel), or from the fleet store (`--from`): totals per group for a period, the 95th
//! percentile of 5-minute rates, and an alert mode that exits 3 when a group is over a limit.
use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::billing::{self, prices::Prices, BillAsk};
use crate::cli::{Global, ReportArgs};
use crate::fleet::{self, store::Store};
use crate::ledger::query::{self, Period};
use crate::ledger::{report, Ledger};
use crate::output::{self, Format};

/// The exit code of `report --limit` when groups are over the limit: apart from errors (1)
/// and usage errors (2), so that an alert tells them apart.
pub const LIMIT_EXCEEDED: u8 = 3;

pub fn execute(g: &Global, a: &ReportArgs) -> Result<ExitCode> {
    let now = crate::model::unix_now();
    let period = match (&a.period, a.since, a.until) {
        (Some(p), None, None) => Period::named(p, now, a.billing_day)?,
        (None, None, None) => Period::named("this-month", now, a.billing_day)?,
        (_, since, until) => Period { since: since.unwrap_or(0), until: until.unwrap_or(now + 1) },
    };
    if period.until < period.since {
        bail!("the period ends before it starts: --until must be after --since");
    }
    if period.until == period.since {
        bail!("the period is empty (--since equals --until): --until must be after --since");
    }
    let by = &a.by;
    let limit = a.limit;
    let source = a.source.map(|s| s.name());
    let data = match &a.from {
        Some(url) => {
            let timeout = std::time::Duration::from_secs_f64(a.store.timeout);
            Data::Store(Store::new(url, a.store.password_file.as_deref(), timeout)?)
        }
        None => {
            if let Some(f) = by.iter().find(|f| f.fleet_only()) {
                bail!(
                    "--by {} groups the fleet store's rows (a ledger is one node's): add --from clickhouse://HOST:8123/DB",
                    f.label()
                );
            }
            let ledger = Ledger::open_ro(&a.ledger)?;
            if let Some(secs) = a.wait {
                wait_complete(&ledger, period.until.min(now), std::time::Duration::from_secs_f64(secs))?;
            }
            Data::Ledger(Box::new(ledger))
        }
    };
    if a.prices.is_some() || matches!(g.format, Format::Focus | Format::Cloudevents) {
        if a.p95 || limit.is_some() {
            bail!("a bill (--prices, --format focus or cloudevents) has no --p95 or --limit: run the report without them");
        }
        let prices = a.prices.as_deref().map(Prices::read).transpose()?;
        let bill = match &data {
            Data::Store(store) => {
                let source = fleet::checked_source(store, period, source)?;
                let fetch = |ask: query::Ask<'_>| fleet::query::groups(store, ask, &source, now);
                billing::build(&fetch, bill_ask(&store.name, &source, period, a), prices.as_ref())?
            }
            Data::Ledger(ledger) => {
                let source = report::source_of(ledger, period, source)?;
                let fetch = |ask: query::Ask<'_>| {
                    Ok(query::groups(ledger, ask, &source, now).map_err(|e| ledger.explain(e))?.1)
                };
                let origin = ledger.path.display().to_string();
                billing::build(&fetch, bill_ask(&origin, &source, period, a), prices.as_ref())?
            }
        };
        output::emit(g.format, &bill)?;
        return Ok(ExitCode::SUCCESS);
    }
    let ask = query::Ask { period, by, classes: &a.class, p95: a.p95, reallocate: &a.reallocate };
    let r = match &data {
        Data::Store(store) => fleet::report(store, ask, source, limit, now)?,
        Data::Ledger(ledger) => report::build(ledger, ask, source, limit, now)?,
    };
    for n in &r.notes {
        eprintln!("netattr: report: {n}");
    }
    output::emit(g.format, &r)?;
    if let Some(l) = limit.filter(|_| !r.groups.is_empty()) {
        eprintln!("netattr: report: {} group(s) over the limit of {l} B", r.groups.len());
        return Ok(ExitCode::from(LIMIT_EXCEEDED));
    }
    Ok(ExitCode::SUCCESS)
}

/// Waits until the ledger's recorder has billed everything it read up to `end`, for at most
/// `patience`; says so and fails when it has not.
fn wait_complete(ledger: &Ledger, end: i64, patience: std::time::Duration) -> Result<()> {
    let begun = std::time::Instant::now();
    loop {
        let complete = crate::ledger::query::recorder(ledger)?.and_then(|r| r.complete_until);
        if complete.is_some_and(|c| c >= end) {
            return Ok(());
        }
        if begun.elapsed() >= patience {
            bail!(
                "ledger {} holds what its recorder read up to {}, not up to {}, after {:.0} s: is its recorder running? ('netattr status --ledger {}')",
                ledger.path.display(),
                complete.map_or_else(|| "nothing said".into(), report::utc),
                report::utc(end),
                patience.as_secs_f64(),
                ledger.path.display()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Where a report's bytes come from.
enum Data {
    Ledger(Box<Ledger>),
    Store(Store),
}

/// What a bill of `a` asks over `period`, from `origin` (a ledger or a store), `source`.
fn bill_ask<'a>(origin: &str, source: &str, period: Period, a: &'a ReportArgs) -> BillAsk<'a> {
    BillAsk {
        origin: origin.to_string(),
        source: source.to_string(),
        period,
        by: &a.by,
        classes: &a.class,
        reallocate: &a.reallocate,
    }
}
