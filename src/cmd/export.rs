//! `netattr export`: the ledger's 5-minute rows and workload descriptions shipped to the
//! fleet store exactly once: once (everything not acknowledged yet), or following the
//! recorder. The backlog stays in the ledger until the store acknowledges it; failures are
//! said once, retried with backoff, and noted in the ledger for `status`.
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;

use crate::cli::{ExportArgs, Global};
use crate::core::exporting::{self, Following};
use crate::fleet::export::Exporter;
use crate::fleet::store::Store;
use crate::ledger::Ledger;
use crate::signals;

pub fn execute(_g: &Global, a: &ExportArgs) -> Result<ExitCode> {
    let store =
        Store::new(&a.to, a.store.password_file.as_deref(), Duration::from_secs_f64(a.store.timeout))?;
    let node = exporting::node_name(a.node.as_deref())?;
    let exporter = Exporter { store, node, zone: a.zone.clone(), batch: a.batch as usize };
    let f = Following { exporter, interval: Duration::from_secs_f64(a.interval), init: a.init };
    if !a.follow {
        let sent = exporting::once(&a.ledger, &f)?;
        let peers = if sent.peers > 0 { format!(" (and {} peer rows)", sent.peers) } else { String::new() };
        eprintln!(
            "netattr: export: {} usage rows, {} workloads and {} workload days{peers} sent to {} as node '{}'",
            sent.usage, sent.workloads, sent.days, f.exporter.store.name, f.exporter.node
        );
        return Ok(ExitCode::SUCCESS);
    }
    let ledger = Ledger::open_rw(&a.ledger)?;
    ledger.begin_export(&f.exporter.store.name, &f.exporter.node)?;
    exporting::announce(&a.ledger, &f);
    signals::catch();
    exporting::follow(&ledger, &f.exporter, f.init, f.interval, &signals::stopped);
    eprintln!("netattr: export stopped");
    Ok(ExitCode::SUCCESS)
}
