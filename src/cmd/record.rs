//! `netattr record`: the recorder (core::recorder) on its own, until a signal; with
//! --export, the export to the fleet store beside it (core::exporting).
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Global, RecordArgs};
use crate::core::{exporting, recorder};
use crate::sys;

pub fn execute(g: &Global, a: &RecordArgs) -> Result<ExitCode> {
    sys::require_reader_privileges("record")?;
    crate::signals::catch();
    let settings = a.ledger.settings(a.interval, a.once, a.count);
    // With --export, the export follows beside the recorder until it stops.
    let following = a.ledger.export.following()?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let export = match following {
        Some(f) if !a.once => Some(exporting::start(&a.ledger.ledger, f, stop.clone())?),
        _ => None,
    };
    let recorded = recorder::run(&g.place(), &settings, &crate::signals::stopped);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    if let Some(e) = export {
        let _ = e.join();
    }
    recorded?;
    // --once exports once, after its cycle.
    if let (true, Some(f)) = (a.once, a.ledger.export.following()?) {
        exporting::once(&a.ledger.ledger, &f)?;
    }
    if !a.once {
        eprintln!("netattr: record stopped");
    }
    Ok(ExitCode::SUCCESS)
}
