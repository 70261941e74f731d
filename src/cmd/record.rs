//! `netattr record`: the recorder (core::recorder) on its own, until a signal.
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Global, RecordArgs};
use crate::core::recorder;
use crate::sys;

pub fn execute(g: &Global, a: &RecordArgs) -> Result<ExitCode> {
    sys::require_reader_privileges("record")?;
    crate::signals::catch();
    let settings = a.ledger.settings(a.interval, a.once, a.count);
    recorder::run(&g.place(), &settings, &crate::signals::stopped)?;
    if !a.once {
        eprintln!("netattr: record stopped");
    }
    Ok(ExitCode::SUCCESS)
}
