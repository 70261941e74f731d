//! Reports over time: rates from counter deltas, one report per interval, following the
//! instance across `cleanup` + `load` (said on stderr; the new instance's counters count
//! from zero). `stats --interval` and the demo's plain-text view print these.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::reader::{self, default_source, Query, Snapshot};
use super::report::{Reporter, StatsReport, View};
use super::row::{By, RowKey};
use super::Place;
use crate::bpf::{Pins, Source};
use crate::rates::{Rates, Sampler};

/// What a stream reports, and for how long.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The source asked for (else the instance's default, decided per instance).
    pub source: Option<Source>,
    pub by: By,
    pub view: View,
    pub every: Duration,
    /// Stop after this many reports.
    pub count: Option<u64>,
    /// Stop at this time.
    pub until: Option<Instant>,
    /// With `By::Class`: only these classes (all when empty).
    pub classes: Vec<String>,
    /// Name rows with their Docker labels too (for grouping by a label).
    pub labels: bool,
}

/// Rates between successive snapshots: each snapshot's growth over the previous one, per
/// second. `stats --interval`, the demo and `top` take their rates from here.
pub struct Rater {
    sampler: Sampler<RowKey>,
    last: Instant,
}

impl Default for Rater {
    fn default() -> Self {
        Rater { sampler: Sampler::default(), last: Instant::now() }
    }
}

impl Rater {
    /// Takes `snap` as the starting point of the next rates.
    pub fn baseline(&mut self, snap: &Snapshot) {
        self.sampler.next(snap.rows.iter().map(|r| (&r.key, &r.counters)), 0.0);
        self.last = Instant::now();
    }

    /// Forgets the previous snapshot: the next rates count from zero (a new instance, or
    /// another source, whose counters do not continue the old ones).
    pub fn restart(&mut self) {
        self.sampler = Sampler::default();
    }

    /// The rates of `snap` since the previous snapshot, and the seconds between the two.
    pub fn rates(&mut self, snap: &Snapshot) -> (HashMap<RowKey, Rates>, f64) {
        let now = Instant::now();
        let seconds = (now - self.last).as_secs_f64();
        self.last = now;
        (self.sampler.next(snap.rows.iter().map(|r| (&r.key, &r.counters)), seconds), seconds)
    }
}

/// Sleeps until `due`, waking for caught signals: false when one came.
pub fn sleep_until(due: Instant) -> bool {
    while Instant::now() < due {
        if crate::signals::stopped() {
            return false;
        }
        std::thread::sleep(due.saturating_duration_since(Instant::now()).min(Duration::from_millis(100)));
    }
    !crate::signals::stopped()
}

/// Calls `emit(report, first)` once per interval until the count, the end time or a caught
/// signal. Sampling times are kept on a fixed grid, so that intervals do not drift by the
/// time each report takes.
pub fn stream(g: &Place, spec: &Spec, mut emit: impl FnMut(&StatsReport, bool) -> Result<()>) -> Result<()> {
    let pins = Pins::new(&g.pin_dir);
    let start = Instant::now();
    let mut tick: u32 = 0;
    let mut reports: u64 = 0;
    let mut rater = Rater::default();
    let mut first_instance = true;
    let mut waiting = false;
    loop {
        let inst = match pins.open() {
            Ok(i) => i,
            Err(e) if first_instance => return Err(e),
            Err(_) => {
                // Between a cleanup and the next load: wait for it, a tick at a time.
                if !waiting {
                    eprintln!(
                        "netattr: netattr is no longer loaded at {}: waiting for a new load",
                        pins.dir.display()
                    );
                    waiting = true;
                }
                tick += 1;
                if done(spec, reports, start + spec.every * tick) || !sleep_until(start + spec.every * tick) {
                    return Ok(());
                }
                continue;
            }
        };
        let mut query = Query { source: default_source(&inst, spec.source), by: spec.by };
        reader::require_breakdown(&inst, query.by, query.source)?;
        let mut reporter = Reporter::new(g, &inst, spec.view)?;
        if spec.labels {
            reporter = reporter.with_labels();
        }
        let read = |query: Query| -> Result<Snapshot> {
            let mut snap = reader::read(&inst, query)?;
            reader::keep_classes(&inst, &mut snap, &spec.classes)?;
            Ok(snap)
        };
        if first_instance {
            rater.baseline(&read(query)?);
            first_instance = false;
        } else {
            // A new instance: its counters started at zero, and so do the rates.
            eprintln!("netattr: a new instance was loaded at {}: counting from it", pins.dir.display());
            rater.restart();
            waiting = false;
        }
        loop {
            tick += 1;
            let due = start + spec.every * tick;
            if done(spec, reports, due) || !sleep_until(due) {
                return Ok(());
            }
            if inst.replaced() {
                break;
            }
            let now_default = default_source(&inst, spec.source);
            if now_default != query.source {
                // Unasked, the source follows the attachments (socket once attached).
                eprintln!("netattr: now reading the {} source", crate::output::label(&now_default));
                query.source = now_default;
                rater.restart();
            }
            let snap = match read(query) {
                Ok(s) => s,
                Err(_) if inst.replaced() => break,
                Err(e) => return Err(e),
            };
            let rates = rater.rates(&snap);
            let report = reporter.report(snap, Some(rates));
            reports += 1;
            emit(&report, reports == 1)?;
        }
    }
}

fn done(spec: &Spec, reports: u64, due: Instant) -> bool {
    spec.count.is_some_and(|c| reports >= c) || spec.until.is_some_and(|u| due > u + spec.every / 2)
}
