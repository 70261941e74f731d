//! `netattr classes`: show the destination classes of a loaded instance, or replace them
//! (a new table swapped in whole: no reload, no packet lost or classed twice).
use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::bpf::Pins;
use crate::cli::{ClassesAction, ClassesArgs, Global};
use crate::core::classes::{self, ClassRow};
use crate::output::{self, Report};
use crate::sys;

#[derive(Debug, Serialize)]
pub struct ClassesReport {
    pub schema: u32,
    /// Every class of the instance by id; a class with no prefixes is `internet` (what no
    /// prefix matches), `non-ip`, or one a later classes file left out (its counters stay).
    pub classes: Vec<ClassRow>,
}

impl Report for ClassesReport {
    const ROWS: Option<&'static str> = Some("classes");

    fn render_table(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut t = output::table(["ID", "CLASS", "PREFIXES"]);
        for c in &self.classes {
            let prefixes = match (c.name.as_str(), c.prefixes.len()) {
                ("internet", 0) => "(everything no other class has)".to_string(),
                ("non-ip", 0) => "(traffic without an IP address: ARP, LLDP, ...)".to_string(),
                ("host", 0) => "(this host's addresses: none)".to_string(),
                (_, 0) => "(none: kept for its counters)".to_string(),
                (_, n) if n > 8 => format!("{} ... ({n} prefixes)", c.prefixes[..8].join(" ")),
                _ => c.prefixes.join(" "),
            };
            output::add_row(&mut t, [c.id.to_string(), c.name.clone(), prefixes]);
        }
        output::write_table(out, &t)
    }
}

pub fn execute(g: &Global, a: &ClassesArgs) -> Result<ExitCode> {
    let pins = Pins::new(&g.pin_dir);
    let table = match &a.action {
        None | Some(ClassesAction::Show) => {
            sys::require_reader_privileges("classes")?;
            classes::current(&pins.open()?)?
        }
        Some(action) => {
            sys::require_privileges("classes set")?;
            // The file is read and checked before anything changes.
            let file = match action {
                ClassesAction::Set { file, zone } => Some(classes::read_file(file, zone.as_deref())?),
                _ => None,
            };
            let _lock = pins.lock()?;
            let inst = pins.open()?;
            match action {
                ClassesAction::Set { file: path, .. } => classes::set(&inst, file.as_ref())
                    .with_context(|| format!("classes file {}", path.display()))?,
                _ => classes::set(&inst, None)?,
            }
        }
    };
    output::emit(g.format, &ClassesReport { schema: output::SCHEMA, classes: table.rows() })?;
    Ok(ExitCode::SUCCESS)
}
