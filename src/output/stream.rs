//! Streams of records (`events`): each written and flushed as it comes.
use std::io::Write;

use anyhow::{bail, Result};
use serde::Serialize;

use super::{clean, emit_with, write_csv, Format};

/// Writes one record of a stream (`events`) and flushes it, so that a pipeline sees it at
/// once: a JSON object per line, or, for people, `cells` under `header` (printed once).
pub struct Stream {
    format: Format,
    header: &'static [&'static str],
    started: bool,
}

impl Stream {
    pub fn new(format: Format, header: &'static [&'static str]) -> Result<Self> {
        match format {
            Format::Prometheus => bail!(
                "--format prometheus is for 'netattr stats' (and 'netattr serve' answers /metrics with it)"
            ),
            Format::Focus => bail!("--format focus is for 'netattr report --prices FILE'"),
            Format::Cloudevents => bail!("--format cloudevents is for 'netattr report'"),
            _ => {}
        }
        Ok(Stream { format, header, started: false })
    }

    pub fn record<T: Serialize>(&mut self, record: &T, cells: &[String]) -> Result<()> {
        emit_with(|out| self.write(out, record, cells))?;
        self.started = true;
        Ok(())
    }

    fn write<T: Serialize>(&self, out: &mut dyn Write, record: &T, cells: &[String]) -> Result<()> {
        match self.format {
            Format::Json | Format::Ndjson | Format::Prometheus | Format::Focus | Format::Cloudevents => {
                serde_json::to_writer(&mut *out, record)?;
                writeln!(out)?;
            }
            Format::Csv => write_csv(out, &[serde_json::to_value(record)?], !self.started)?,
            Format::Table => {
                if !self.started {
                    writeln!(out, "{}", self.header.join("\t"))?;
                }
                let cells: Vec<String> = cells.iter().map(|c| clean(c).into_owned()).collect();
                writeln!(out, "{}", cells.join("\t"))?;
            }
        }
        Ok(())
    }
}
