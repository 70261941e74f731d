//! `netattr check`: can this host run netattr? One line per check; exit 1 if any fails.
use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::Global;
use crate::core::check::{self, Check, Status};
use crate::output::{self, Report};

#[derive(Debug, serde::Serialize)]
pub struct CheckReport {
    pub schema: u32,
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl Report for CheckReport {
    const ROWS: Option<&'static str> = Some("checks");

    fn render_table(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut t = output::table(["CHECK", "STATUS", "DETAIL"]);
        for c in &self.checks {
            let s = match c.status {
                Status::Ok => "ok",
                Status::Warn => "warn",
                Status::Fail => "FAIL",
            };
            output::add_row(&mut t, [c.name, s, c.detail.as_str()]);
        }
        output::write_table(out, &t)
    }
}

pub fn execute(g: &Global) -> Result<ExitCode> {
    let checks = check::all(&g.pin_dir);
    let ok = checks.iter().all(|c| c.status != Status::Fail);
    output::emit(g.format, &CheckReport { schema: output::SCHEMA, ok, checks })?;
    if !ok {
        eprintln!("netattr: some checks failed (see the FAIL lines above)");
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
