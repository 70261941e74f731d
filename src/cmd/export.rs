//! `netattr export`: the ledger's 5-minute rows and workload descriptions shipped to the
//! fleet store exactly once: once (everything not acknowledged yet), or following the
//! recorder. The backlog stays in the ledger until the store acknowledges it; failures are
//! said once, retried with backoff, and noted in the ledger for `status`.
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;

use crate::cli::{ExportArgs, Global};
use crate::core::exporting::{self, failed, now, prepare};
use crate::fleet::export::Exporter;
use crate::fleet::store::Store;
use crate::ledger::Ledger;
use crate::signals;

pub fn execute(_g: &Global, a: &ExportArgs) -> Result<ExitCode> {
    let store =
        Store::new(&a.to, a.store.password_file.as_deref(), Duration::from_secs_f64(a.store.timeout))?;
    let node = exporting::node_name(a.node.as_deref())?;
    let ledger = Ledger::open_rw(&a.ledger)?;
    ledger.begin_export(&store.name, &node)?;
    let exporter = Exporter { store, node, zone: a.zone.clone(), batch: a.batch as usize };
    if !a.follow {
        prepare(&exporter.store, a.init).map_err(|e| failed(&ledger, &exporter, e))?;
        let sent =
            exporter.drain(&ledger, now(), Duration::MAX).map_err(|e| failed(&ledger, &exporter, e))?;
        eprintln!(
            "netattr: export: {} usage rows and {} workloads sent to {} as node '{}'",
            sent.usage, sent.workloads, exporter.store.name, exporter.node
        );
        return Ok(ExitCode::SUCCESS);
    }
    signals::catch();
    exporting::follow(&ledger, &exporter, a.init, Duration::from_secs_f64(a.interval), &signals::stopped);
    eprintln!("netattr: export stopped");
    Ok(ExitCode::SUCCESS)
}
