//! The one place where `--format` is handled. Every subcommand builds a report value that
//! serialises to JSON (the documented schema) and knows how to draw itself as a table;
//! listings name their rows (for CSV and NDJSON) and `stats` gives its Prometheus metrics;
//! `emit` picks one and writes it to stdout. Diagnostics never come through here.
pub mod file;
pub mod prometheus;
pub mod stream;

use std::io::{self, Write};

use anyhow::{bail, Result};
use clap::ValueEnum;
use comfy_table::{presets, CellAlignment, ContentArrangement, Table};
use serde::Serialize;

/// Version of the JSON documents; fields may be added within a version, never renamed.
pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns with human units, for people
    Table,
    /// One JSON document (schemas in docs/json.md), counters as numbers
    Json,
    /// One JSON object per line: per row for listings, per record for streams, per
    /// report for `stats --interval`
    Ndjson,
    /// Comma-separated values with a header line: the rows of a listing, nested values as
    /// JSON text (report: a column a grouping field)
    Csv,
    /// The Prometheus text exposition format (`stats`; `serve` answers with it on /metrics)
    Prometheus,
    /// FOCUS cost and usage rows as CSV (`report --prices`: docs/fleet.md)
    Focus,
    /// One CloudEvent per line with a deterministic id (`report`: docs/fleet.md)
    Cloudevents,
}

/// Rows of text under a header: (header, rows).
pub type Rows = (Vec<String>, Vec<Vec<String>>);

/// A report a subcommand prints.
pub trait Report: Serialize {
    /// The human rendering: one or more tables and lines of text.
    fn render_table(&self, out: &mut dyn Write) -> io::Result<()>;

    /// For listings, the field holding the rows: CSV and NDJSON print one record per row.
    const ROWS: Option<&'static str> = None;

    /// The report in the Prometheus text format, where it has that form.
    fn exposition(&self) -> Option<Result<String>> {
        None
    }

    /// A listing whose CSV columns do not follow from its rows: (header, rows), with
    /// nested values spread into columns of their own and a header even without rows.
    fn csv(&self) -> Option<(Vec<String>, Vec<Vec<String>>)> {
        None
    }

    /// FOCUS rows, where the report is a bill.
    fn focus(&self) -> Option<Result<Rows>> {
        None
    }

    /// CloudEvents, where the report has usage lines.
    fn cloudevents(&self) -> Option<Result<Vec<serde_json::Value>>> {
        None
    }
}

static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Run first: notes whether netattr was started with stdout closed (`>&-`). Rust's runtime
/// puts /dev/null, opened read-write, on a standard descriptor that is closed at start, so
/// that is what a closed stdout looks like here (a shell's `>/dev/null` opens it write-only);
/// writes there would vanish, and a `reap` would remove counters it never handed on.
pub fn check_stdout_at_start() {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    use nix::sys::stat::{fstat, major, minor, SFlag};
    let closed = !crate::ffi::fd_open(1)
        || fstat(1).is_ok_and(|st| {
            SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR
                && (major(st.st_rdev), minor(st.st_rdev)) == (1, 3)
                && fcntl(1, FcntlArg::F_GETFL)
                    .is_ok_and(|fl| OFlag::from_bits_truncate(fl) & OFlag::O_ACCMODE == OFlag::O_RDWR)
        });
    STDOUT_CLOSED.store(closed, std::sync::atomic::Ordering::SeqCst);
}

/// Fails when stdout was closed: what netattr prints there would be lost.
pub fn require_stdout() -> Result<()> {
    if STDOUT_CLOSED.load(std::sync::atomic::Ordering::SeqCst) {
        bail!("stdout is closed: give netattr somewhere to write its output (a file, a pipe or /dev/null)");
    }
    Ok(())
}

/// Writes bytes to stdout and flushes them (completion scripts, man pages).
pub fn emit_bytes(bytes: &[u8]) -> Result<()> {
    emit_with(|out| Ok(out.write_all(bytes)?))
}

/// A failed write to stdout, said as such.
fn stdout_error(e: impl Into<anyhow::Error>) -> anyhow::Error {
    let e = e.into();
    if e.chain().any(|c| c.is::<io::Error>()) {
        e.context("cannot write to stdout")
    } else {
        e
    }
}

/// Hands `write` a buffered stdout, then flushes it: the one way data reaches stdout. The
/// buffer is a concrete type, so that serde's many small writes are inlined; stdout itself
/// is line-buffered and would scan every small write for '\n'.
pub fn emit_with(
    write: impl FnOnce(&mut io::BufWriter<io::StdoutLock<'static>>) -> Result<()>,
) -> Result<()> {
    require_stdout()?;
    let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    write(&mut out).and_then(|()| Ok(out.flush()?)).map_err(stdout_error)
}

/// Writes `report` to stdout in `format`.
pub fn emit<R: Report>(format: Format, report: &R) -> Result<()> {
    emit_with(|out| write(format, report, out))
}

/// One report of a stream of reports (`stats --interval`): JSON and NDJSON print the whole
/// report on one line; CSV prints its rows, each with the report's `time`, and the header
/// only with the first report.
pub fn emit_interval<R: Report>(format: Format, report: &R, first: bool) -> Result<()> {
    emit_with(|out| write_interval(format, report, first, out))
}

fn write_interval<R: Report>(format: Format, report: &R, first: bool, out: &mut dyn Write) -> Result<()> {
    match format {
        Format::Json | Format::Ndjson => write(Format::Json, report, out)?,
        Format::Csv => {
            let time = serde_json::to_value(report)?.get("time").cloned().unwrap_or_default();
            let mut rows = rows(report)?.unwrap_or_default();
            for r in rows.iter_mut().filter_map(serde_json::Value::as_object_mut) {
                let mut with_time = serde_json::Map::new();
                with_time.insert("time".into(), time.clone());
                with_time.append(r);
                *r = with_time;
            }
            write_csv(out, &rows, first)?;
        }
        _ => write(format, report, out)?,
    }
    Ok(())
}

fn write<R: Report>(format: Format, report: &R, out: &mut dyn Write) -> Result<()> {
    match format {
        Format::Table => report.render_table(out)?,
        Format::Json => {
            // Into memory first: serde_json writes token by token, and each write through
            // `dyn Write` is a call; a Vec takes them inline (10k rows: about 1.5 ms less).
            let mut doc = serde_json::to_vec(report)?;
            doc.push(b'\n');
            out.write_all(&doc)?;
        }
        Format::Ndjson => match rows(report)? {
            Some(rows) => {
                for r in rows {
                    serde_json::to_writer(&mut *out, &r)?;
                    writeln!(out)?;
                }
            }
            None => {
                serde_json::to_writer(&mut *out, report)?;
                writeln!(out)?;
            }
        },
        Format::Csv => match (report.csv(), rows(report)?) {
            (Some((header, rows)), _) => {
                let mut w = csv::Writer::from_writer(&mut *out);
                w.write_record(&header)?;
                for r in rows {
                    w.write_record(&r)?;
                }
                w.flush()?;
            }
            (None, Some(rows)) => write_csv(out, &rows, true)?,
            (None, None) => {
                bail!("--format csv is for listings; this command prints one document (use --format json)")
            }
        },
        Format::Focus => match report.focus() {
            Some(rows) => {
                let (header, rows) = rows?;
                let mut w = csv::Writer::from_writer(&mut *out);
                w.write_record(&header)?;
                for r in rows {
                    w.write_record(&r)?;
                }
                w.flush()?;
            }
            None => bail!("--format focus is for 'netattr report --prices FILE'"),
        },
        Format::Cloudevents => match report.cloudevents() {
            Some(events) => {
                for e in events? {
                    serde_json::to_writer(&mut *out, &e)?;
                    writeln!(out)?;
                }
            }
            None => bail!("--format cloudevents is for 'netattr report'"),
        },
        Format::Prometheus => match report.exposition() {
            Some(text) => out.write_all(text?.as_bytes())?,
            None => bail!(
                "--format prometheus is for 'netattr stats' (and 'netattr serve' answers /metrics with it)"
            ),
        },
    }
    Ok(())
}

/// The rows of a listing as JSON objects.
fn rows<R: Report>(report: &R) -> Result<Option<Vec<serde_json::Value>>> {
    let Some(field) = R::ROWS else { return Ok(None) };
    let mut doc = serde_json::to_value(report)?;
    Ok(Some(match doc.get_mut(field).map(serde_json::Value::take) {
        Some(serde_json::Value::Array(rows)) => rows,
        _ => Vec::new(),
    }))
}

/// CSV of JSON objects: columns in the order the first row has them (then any new keys),
/// null as an empty cell, nested values as JSON text. The csv crate does the quoting.
pub fn write_csv(out: &mut dyn Write, rows: &[serde_json::Value], header: bool) -> Result<()> {
    let mut columns: Vec<&str> = Vec::new();
    for r in rows {
        if let Some(o) = r.as_object() {
            for k in o.keys() {
                if !columns.contains(&k.as_str()) {
                    columns.push(k);
                }
            }
        }
    }
    let mut w = csv::Writer::from_writer(out);
    if header && !columns.is_empty() {
        w.write_record(&columns)?;
    }
    for r in rows {
        w.write_record(columns.iter().map(|c| match r.get(*c) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
        }))?;
    }
    w.flush()?;
    Ok(())
}

/// A table in netattr's one house style: a header row, no borders, columns separated by
/// spaces, so that it reads well on a terminal and in `awk`/`grep`.
pub fn table<I: IntoIterator<Item = S>, S: Into<comfy_table::Cell>>(header: I) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING).set_content_arrangement(ContentArrangement::Disabled).set_header(header);
    t
}

/// Text from the outside world (cgroup paths, names, labels) made safe for a terminal:
/// control characters (ESC, TAB, ...) are shown escaped, so a hostile cgroup name cannot
/// move the cursor, recolour the screen or split a table row. JSON needs none of this.
pub fn clean(s: &str) -> std::borrow::Cow<'_, str> {
    let odd = |c: char| c.is_control() || crate::text::byte_of(c).is_some();
    if s.chars().any(odd) {
        s.chars()
            .map(|c| match crate::text::byte_of(c) {
                // A byte of a name that is not UTF-8 (see text.rs).
                Some(b) => format!("\\x{b:02x}"),
                None if c.is_control() => c.escape_default().to_string(),
                None => c.to_string(),
            })
            .collect()
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// A group's cells in a table: its value for each field grouped by, "-" where it has none.
pub fn group_cells(by: &[String], group: &std::collections::BTreeMap<String, Option<String>>) -> Vec<String> {
    by.iter().map(|b| group.get(b).cloned().flatten().unwrap_or_else(|| "-".into())).collect()
}

/// Adds a row of cleaned cells: the one way rows enter netattr's tables.
pub fn add_row<I, S>(t: &mut Table, cells: I)
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    t.add_row(cells.into_iter().map(|c| clean(c.as_ref()).into_owned()).collect::<Vec<String>>());
}

/// Right-align the given columns (numbers).
pub fn align_right(t: &mut Table, columns: &[usize]) {
    for &c in columns {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// Print a table without comfy-table's leading space on each line.
pub fn write_table(out: &mut dyn Write, t: &Table) -> io::Result<()> {
    for line in t.lines() {
        writeln!(out, "{}", line.trim_end().strip_prefix(' ').unwrap_or(&line))?;
    }
    Ok(())
}

/// An enum as the word its JSON uses, so tables and JSON say the same thing.
pub fn label<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "-".into(),
    }
}

/// Bytes in IEC units: 1.5 KiB, 20.0 MiB.
pub fn bytes(n: u64) -> String {
    humansize::format_size(n, humansize::BINARY)
}

/// A unix time as RFC 3339 (UTC), for messages and tables.
pub fn unix_time(secs: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Now, as RFC 3339 (UTC) with milliseconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// A rate in IEC units per second: 1.50 MiB/s.
pub fn rate(bytes_per_s: f64) -> String {
    format!("{}/s", bytes(bytes_per_s.max(0.0).round() as u64))
}

/// Counts with an SI suffix: 950, 12.3k, 4.5M.
pub fn count(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_escaped() {
        assert_eq!(clean("plain/path"), "plain/path");
        assert_eq!(clean("evil\u{1b}[31mred\tx"), "evil\\u{1b}[31mred\\tx");
        assert_eq!(clean(&crate::text::exact(b"bad\xffname")), "bad\\xffname");
        let mut t = table(["A"]);
        add_row(&mut t, ["line\nbreak"]);
        assert_eq!(t.lines().count(), 2, "one header, one row");
    }

    #[test]
    fn units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1536), "1.50 KiB");
        assert_eq!(count(950), "950");
        assert_eq!(count(12_345), "12.3k");
        assert_eq!(count(4_500_000), "4.5M");
    }
}
