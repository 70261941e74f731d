//! The fleet store: every node's ledger shipped to one ClickHouse database exactly once
//! (`export`), and reports over it (`query`) with the same options as over a ledger, plus
//! grouping by node and zone. The node ledger stays the source of truth; the store holds the
//! fleet's copy (docs/fleet.md).
pub mod export;
pub mod hours;
pub mod pair_sql;
pub mod pairs;
pub mod query;
pub mod schema;
pub mod store;
pub mod whole;

use anyhow::Result;

use crate::ledger::query::{Ask, Field};
use crate::ledger::report::LedgerReport;
use crate::model::utc;
use crate::output;
use store::Store;

/// The fleet report of `ask` for `source` (else socket where the period has its rows), with
/// only the groups over `limit` where one is given.
/// The source a fleet report reads (`asked`, else socket where the period has its rows),
/// once the store's tables are checked.
pub fn checked_source(store: &Store, period: crate::model::Period, asked: Option<&str>) -> Result<String> {
    schema::check(store)?;
    match asked {
        Some(s) => Ok(s.to_string()),
        None => query::default_source(store, period.since, period.until),
    }
}

pub fn report(
    store: &Store,
    ask: Ask<'_>,
    source: Option<&str>,
    limit: Option<u64>,
    now: i64,
) -> Result<LedgerReport> {
    let source = checked_source(store, ask.period, source)?;
    let mut groups = query::groups(store, ask, &source, now)?;
    if let Some(l) = limit {
        groups.retain(|g| g.rx_bytes + g.tx_bytes > l);
    }
    Ok(LedgerReport {
        schema: output::SCHEMA,
        ledger: store.name.clone(),
        source,
        since: utc(ask.period.since),
        until: utc(ask.period.until),
        resolution: "5m",
        by: ask.by.iter().map(Field::label).collect(),
        limit_bytes: limit,
        sources: Vec::new(),
        complete_until: None,
        groups,
        notes: Vec::new(),
    })
}
