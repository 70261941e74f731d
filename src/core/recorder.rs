//! The recorder: every interval, reads both sources' counters (and their classes where
//! counted), bills the deltas to workload identities in the ledger, and collects the
//! workloads the kernel says are gone (their final counters billed, then removed from the
//! maps). Follows the instance across `cleanup` + `load` (the old one's last counters are
//! read through its still-open maps and billed first) and tells new instances and reboots
//! apart from traffic. `record` runs it alone, `serve --record` beside the exporter.
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use super::namer::Namer;
use super::reader::{self, Query};
use super::report::{Reporter, View};
use super::retire;
use super::row::{By, SortKey};
use super::Place;
use crate::bpf::layout::META_CLASSES;
use crate::bpf::{Instance, Pins, Source};
use crate::ledger::bill::{self, Billed, InstanceKey, Retention, Seen, Who};
use crate::ledger::Ledger;

/// How a recorder runs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub ledger: PathBuf,
    pub every: Duration,
    /// One cycle, and its error is the recorder's.
    pub once: bool,
    pub count: Option<u64>,
    pub retention: Retention,
}

/// Runs cycles until `settings` says, or `stopped()` is true (then a last cycle, so that a
/// stop loses nothing counted so far). A failing cycle is said and retried at the next
/// interval (the kernel keeps counting), unless `once`.
pub fn run(g: &Place, settings: &Settings, stopped: &dyn Fn() -> bool) -> Result<()> {
    let mut ledger = Ledger::open_rw(&settings.ledger)?;
    let pins = Pins::new(&g.pin_dir);
    let mut current: Option<Instance> = None;
    let mut waiting = false;
    let mut cycles = 0u64;
    let mut pruned_at: Option<Instant> = None;
    loop {
        let started = Instant::now();
        // A replaced instance is read one last time through its open maps, then let go.
        if let Some(old) = current.take_if(|i| i.replaced()) {
            eprintln!(
                "netattr: record: the instance at {} was replaced: billing its last counters",
                pins.dir.display()
            );
            if let Err(e) = cycle(g, &mut ledger, &old, false) {
                eprintln!("netattr: record: {:#}", ledger.explain(e));
            }
        }
        if current.is_none() {
            match pins.open() {
                Ok(i) => {
                    waiting = false;
                    current = Some(i);
                }
                Err(e) if settings.once => return Err(e),
                Err(e) => {
                    if !waiting {
                        eprintln!("netattr: record: {e:#}; waiting for a load");
                        waiting = true;
                    }
                }
            }
        }
        if let Some(inst) = &current {
            if let Err(e) = cycle(g, &mut ledger, inst, true) {
                let e = ledger.explain(e);
                if settings.once {
                    return Err(e);
                }
                eprintln!("netattr: record: {e:#}; retrying at the next interval");
                let _ = bill::note_cycle(&ledger, now(), 0.0, &Billed::default(), 0, Some(&format!("{e:#}")));
            }
        }
        // Old rows go at most once an hour.
        if pruned_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
            pruned_at = Some(Instant::now());
            if let Err(e) = ledger.prune(settings.retention, now()) {
                eprintln!("netattr: record: pruning old rows: {:#}", ledger.explain(e));
            }
        }
        cycles += 1;
        if settings.once || settings.count.is_some_and(|c| cycles >= c) {
            return Ok(());
        }
        let due = started + settings.every;
        while Instant::now() < due && !stopped() {
            std::thread::sleep((due - Instant::now()).min(Duration::from_millis(100)));
        }
        if stopped() {
            if let Some(inst) = &current {
                cycle(g, &mut ledger, inst, true).map_err(|e| ledger.explain(e))?;
            }
            return Ok(());
        }
    }
}

fn now() -> i64 {
    let shift: i64 = std::env::var("NETATTR_CLOCK_SHIFT").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0) + shift
}

/// Which load of which boot `inst` is. The boot id comes from the kernel, or from the file
/// NETATTR_BOOT_ID_FILE names (the tests' stand-in for a reboot).
pub fn instance_key(inst: &Instance) -> Result<InstanceKey> {
    let file =
        std::env::var_os("NETATTR_BOOT_ID_FILE").unwrap_or_else(|| "/proc/sys/kernel/random/boot_id".into());
    let boot_id = std::fs::read_to_string(&file)
        .with_context(|| format!("reading the boot id from {}", std::path::Path::new(&file).display()))?
        .trim()
        .to_string();
    let loaded_at = inst.meta.loaded_at_unix as i64;
    Ok(InstanceKey {
        key: format!("{boot_id}/{loaded_at}/{}", inst.generation),
        boot_id,
        loaded_at,
        pin_dir: inst.pins.dir.display().to_string(),
    })
}

/// One cycle: read, bill; then collect the gone workloads. Each step is one transaction.
fn cycle(g: &Place, ledger: &mut Ledger, inst: &Instance, live: bool) -> Result<()> {
    let started = Instant::now();
    let key = instance_key(inst)?;
    let view = View { sort: SortKey::Total, top: None, resolve: true };
    let mut reporter = Reporter::new(g, inst, view)?.with_labels();
    let mut seen = Vec::new();
    for source in [Source::Tc, Source::Socket] {
        let mut bys = vec![By::Cgroup];
        if inst.meta.flags & META_CLASSES != 0 {
            bys.push(By::Class);
        }
        for by in bys {
            let report = reporter.report(reader::read(inst, Query { source, by })?, None);
            for r in &report.cgroups {
                seen.push(Seen {
                    source,
                    cgroup_id: r.cgroup_id,
                    class: r.class.clone().unwrap_or_default(),
                    counters: r.counters,
                    who: Who::of_row(r),
                    last: false,
                });
            }
        }
    }
    let at = now();
    let mut billed = ledger.bill(&key, &seen, at, live)?;
    for r in &billed.resets {
        eprintln!("netattr: record: {r}");
    }
    let mut collected = 0;
    if live {
        let plan = retire::plan(inst, &mut Namer::new(g, Some(inst))?)?;
        if !plan.gone.is_empty() {
            let retired = retire::take(inst, &plan)?;
            // The final counters, exactly what the removal returned; the gone cgroups' class
            // rows were billed up to the read above, and their cursors go with this bill.
            let mut last: Vec<Seen> = retired
                .iter()
                .map(|r| Seen {
                    source: r.source,
                    cgroup_id: r.cgroup_id,
                    class: String::new(),
                    counters: r.counters,
                    who: Who::of_row(&reporter.gone_row(r.cgroup_id, r.source, r.counters)),
                    last: true,
                })
                .collect();
            last.extend(
                seen.iter()
                    .filter(|s| !s.class.is_empty() && plan.gone.contains(&s.cgroup_id))
                    .map(|s| Seen { last: true, ..s.clone() }),
            );
            match ledger.bill(&key, &last, now(), false) {
                Ok(b) => {
                    billed.rows += b.rows;
                    collected = retired.len();
                    retire::finish(inst, &plan)?;
                }
                Err(e) => {
                    // Not billed: the counters go back into the maps for the next cycle.
                    retire::restore(inst, &retired)?;
                    return Err(
                        e.context("billing the final counters of gone workloads (they were put back)")
                    );
                }
            }
        }
    }
    bill::note_cycle(ledger, at, started.elapsed().as_secs_f64() * 1000.0, &billed, collected, None)?;
    Ok(())
}
