//! `netattr stats`: sum the per-CPU counters of one source and print a row per cgroup, per
//! (cgroup, interface), per (cgroup, protocol, service port) or per (cgroup, destination
//! class); with --interval, rates.
use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::bpf::Pins;
use crate::cli::{Global, StatsArgs};
use crate::core::group::GroupedReport;
use crate::core::inventory::HealthExport;
use crate::core::live::{self, Spec};
use crate::core::reader::{self, default_source, Query};
use crate::core::report::{Reporter, View};
use crate::core::row::By;
use crate::model::Field;
use crate::output;
use crate::sys;

pub fn execute(g: &Global, a: &StatsArgs) -> Result<ExitCode> {
    sys::require_reader_privileges("stats")?;
    let grouped = !a.group.is_empty();
    // Grouped, every row is needed: --top cuts the groups instead.
    let view = View { sort: a.sort, top: if grouped { None } else { a.top }, resolve: !a.no_resolve };
    if !a.class.is_empty() && !matches!(a.by, By::Class | By::Peer) {
        bail!("--class picks rows of the class breakdown: add '--by class' (or '--by peer')");
    }
    if grouped {
        if a.group.contains(&Field::Class) && !matches!(a.by, By::Class | By::Peer) {
            bail!("--group class sums rows of the class breakdown: add '--by class'");
        }
        if a.no_resolve {
            bail!("--group needs names: leave out --no-resolve");
        }
        if g.format == output::Format::Prometheus {
            bail!(
                "--group has no --format prometheus form: group in PromQL ('sum by (pod_namespace) (...)')"
            );
        }
    }
    let labels = a.group.iter().any(|f| matches!(f, Field::Label(_)));
    if let Some(every) = a.interval {
        if g.format == output::Format::Prometheus {
            bail!("--format prometheus has no --interval form: Prometheus computes rates itself ('netattr serve' exports the counters)");
        }
        output::require_stdout()?;
        let spec = Spec {
            source: a.source,
            by: a.by,
            view,
            every: std::time::Duration::from_secs_f64(every),
            count: a.count,
            until: None,
            classes: a.class.clone(),
            labels,
        };
        crate::signals::catch();
        live::stream(&g.place(), &spec, |report, first| {
            if grouped {
                output::emit_interval(g.format, &GroupedReport::of(report, &a.group, a.sort, a.top), first)
            } else {
                output::emit_interval(g.format, report, first)
            }
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let inst = Pins::new(&g.pin_dir).open()?;
    let query = Query { source: default_source(&inst, a.source), by: a.by };
    let mut snap = reader::read(&inst, query)?;
    reader::keep_classes(&inst, &mut snap, &a.class)?;
    let mut reporter = Reporter::new(&g.place(), &inst, view)?;
    if labels {
        reporter = reporter.with_labels();
    }
    if g.format == output::Format::Json && a.by == By::Cgroup && a.output.is_none() && !grouped {
        // The common pipeline case, written row by row.
        output::emit_with(|out| reporter.json(snap, out))?;
        return Ok(ExitCode::SUCCESS);
    }
    let fill = snap.fill.clone();
    let mut report = reporter.report(snap, None);
    if g.format == output::Format::Prometheus {
        report.health = Some(HealthExport::read(&inst, &fill)?);
    }
    if grouped {
        write(g, a, &GroupedReport::of(&report, &a.group, a.sort, a.top))?;
    } else {
        write(g, a, &report)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// To stdout, or atomically to the --output file.
fn write<R: output::Report>(g: &Global, a: &StatsArgs, report: &R) -> Result<()> {
    match &a.output {
        Some(path) => output::file::emit_to_file(g.format, report, path),
        None => output::emit(g.format, report),
    }
}
