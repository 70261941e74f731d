//! `netattr reap`: collect the counters of cgroups that no longer exist, then remove them
//! from every map. The policy (docs/accounting.md): counters of exited workloads stay
//! readable, by any `stats`, until the operator collects them here; `status` shows how many
//! there are. Only a cgroup the kernel says is gone is collected; one netattr cannot find
//! but the kernel did not say is gone is kept, and reported. Cgroup ids are never reused,
//! so a removed id cannot take a live workload's counters with it.
use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use crate::bpf::Pins;
use crate::cli::Global;
use crate::core::namer::Namer;
use crate::core::report::{Reporter, View};
use crate::core::retire;
use crate::core::row::{Row, SortKey};
use crate::output::{self, Report};
use crate::sys;

#[derive(Debug, Serialize)]
pub struct ReapReport {
    pub schema: u32,
    /// The final counters of every gone cgroup removed, as `stats` rows (one per source).
    pub cgroups: Vec<Row>,
    /// Counted cgroups netattr could not find, but which the kernel did not say are gone:
    /// kept, not collected.
    pub uncertain: Vec<u64>,
}

impl Report for ReapReport {
    const ROWS: Option<&'static str> = Some("cgroups");

    fn render_table(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut t = output::table(["CGROUP_ID", "SOURCE", "NAME", "PATH", "RX", "TX", "RX_PKTS", "TX_PKTS"]);
        for r in &self.cgroups {
            output::add_row(
                &mut t,
                [
                    r.cgroup_id.to_string(),
                    output::label(&r.source),
                    r.who.name.clone().unwrap_or_else(|| "-".into()),
                    r.path.clone().unwrap_or_else(|| "(unknown)".into()),
                    output::bytes(r.counters.rx_bytes),
                    output::bytes(r.counters.tx_bytes),
                    r.counters.rx_packets.to_string(),
                    r.counters.tx_packets.to_string(),
                ],
            );
        }
        output::align_right(&mut t, &[4, 5, 6, 7]);
        output::write_table(out, &t)
    }
}

pub fn execute(g: &Global) -> Result<ExitCode> {
    sys::require_reader_privileges("reap")?;
    // Nothing is removed that cannot be printed.
    output::require_stdout()?;
    let pins = Pins::new(&g.pin_dir);
    let _lock = pins.lock()?;
    let inst = pins.open()?;
    if let Some(ledger) = crate::bpf::binding::bound(&pins)? {
        anyhow::bail!(
            "the instance at {} is recorded into ledger {}: its recorder collects gone workloads \
             into the bill (a reap would take their last counters out of it); run 'netattr record \
             --ledger {} --once' to collect them now",
            pins.dir.display(),
            ledger.display(),
            ledger.display()
        );
    }
    let plan = retire::plan(&inst, &mut Namer::new(&g.place(), Some(&inst))?)?;
    for id in &plan.uncertain {
        eprintln!(
            "netattr: kept cgroup {id}: not found, but the kernel did not say it is gone (a cgroup \
             namespace or a foreign cgroup2 mount?); its counters stay"
        );
    }
    let retired = retire::take(&inst, &plan)?;
    let mut reporter =
        Reporter::new(&g.place(), &inst, View { sort: SortKey::Total, top: None, resolve: true })?;
    // A row a cgroup and source; its class rows (the breakdown of that row) go with it.
    let rows: Vec<Row> = retired
        .iter()
        .filter(|r| r.class.is_none())
        .map(|r| reporter.gone_row(r.cgroup_id, r.source, r.counters))
        .collect();
    let report = ReapReport {
        schema: output::SCHEMA,
        cgroups: rows,
        uncertain: plan.uncertain.iter().copied().collect(),
    };
    if let Err(e) = output::emit(g.format, &report) {
        // Not handed on: the counters go back where they were.
        retire::restore(&inst, &retired)?;
        return Err(e.context("the collected counters were put back"));
    }
    let done = retire::finish(&inst, &plan)?;
    // Their peer rows go like their other breakdown rows (`record` bills them instead).
    let peers = crate::core::peers::take(&inst, &plan.gone)?.len();
    let counters = retired.len() + done.breakdown_rows + peers;
    let mut said = format!("netattr: reaped {} gone cgroup(s): {counters} counter entries", plan.gone.len());
    if done.path_records > 0 {
        said.push_str(&format!(", and {} path record(s) of cgroups reaped before", done.path_records));
    }
    eprintln!("{said}");
    Ok(ExitCode::SUCCESS)
}
