//! The recorder: every interval, reads both sources' counters (and their classes where
//! counted), bills the deltas to workload identities in the ledger (a busy node's once
//! their 5-minute bucket closes: core::unbilled), and collects the
//! workloads the kernel says are gone (their final counters billed, then removed from the
//! maps). Follows the instance across `cleanup` + `load` (the old one's last counters are
//! read through its still-open maps and billed first) and tells new instances and reboots
//! apart from traffic. `record` runs it alone, `serve --record` beside the exporter.
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::report::{Reporter, View};
use super::row::SortKey;
use super::unbilled::Unbilled;
use super::Place;
use crate::bpf::{Instance, Pins};
use crate::ledger::bill::{Billed, InstanceKey, Retention};
use crate::ledger::cycle::{self, Cycle, Took};
use crate::ledger::{Ledger, Resolution};

mod collect;
mod peers;
mod read;

/// A look for gone workloads asks the kernel of the cgroups that did not move and of one in
/// this many of those that did (by id, a different share each look).
const LOOK_TURN: u64 = 64;

/// The CPU a cycle spends rolling up hours, days and months (at least one slice when one
/// is due): at 10,000 busy workloads an hour's rollup is done in a few dozen cycles.
const ROLL_BUDGET: Duration = Duration::from_millis(5);
/// The same for a recorder's last cycle (`--once`, a stop): a `record --once` run from a
/// timer would otherwise fall behind, and 5-minute rows not rolled up are never pruned.
const ROLL_BUDGET_LAST: Duration = Duration::from_secs(2);

/// How a recorder runs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub ledger: PathBuf,
    pub every: Duration,
    /// One cycle, and its error is the recorder's.
    pub once: bool,
    pub count: Option<u64>,
    pub retention: Retention,
    /// Gone workloads are looked for at most this often (each look asks the kernel about
    /// the cgroups that did not move and a 64th of the others), and at the last cycle (about
    /// every one); their counters are billed every cycle meanwhile.
    pub collect_every: Duration,
    /// Rows billed every cycle before reads wait for their 5-minute bucket to close
    /// (core::unbilled).
    pub batch: usize,
    /// Records an instance bound to another ledger into this one from now on (the
    /// operator moved the ledger: bpf::binding).
    pub rebind: bool,
}

/// Runs cycles until `settings` says, or `stopped()` is true (then a last cycle, so that a
/// stop loses nothing counted so far). A failing cycle is said and retried at the next
/// interval (the kernel keeps counting), unless `once`.
pub fn run(g: &Place, settings: &Settings, stopped: &dyn Fn() -> bool) -> Result<()> {
    let pins = Pins::new(&g.pin_dir);
    // An instance bound to another ledger is refused before this one is made or written.
    if let Ok(inst) = pins.open() {
        crate::bpf::binding::check(&inst.pins, &settings.ledger, settings.rebind)?;
    }
    let mut ledger = Ledger::open_rw(&settings.ledger)?;
    let mut waiting = false;
    let mut rounds = Rounds::default();
    loop {
        let inst = match pins.open() {
            Ok(i) => i,
            Err(e) if settings.once => return Err(e),
            Err(e) => {
                if !waiting {
                    eprintln!("netattr: record: {e:#}; waiting for a load");
                    waiting = true;
                }
                pause(Instant::now() + settings.every, stopped);
                if stopped() {
                    return Ok(());
                }
                continue;
            }
        };
        waiting = false;
        let mut rec = Recorder::new(g, &inst, &mut ledger, settings)?;
        if rec.follow(&mut ledger, settings, stopped, &mut rounds)? == Followed::Done {
            return Ok(());
        }
    }
}

/// The recorder on a thread of its own (`serve --record`) until `stop` is set. One instance,
/// one ledger, and a ledger that opens: refused now, not at the recorder's first cycle.
pub fn start(
    place: &Place,
    settings: Settings,
    rebind: bool,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Result<std::thread::JoinHandle<()>> {
    if let Ok(inst) = Pins::new(&place.pin_dir).open() {
        crate::bpf::binding::check(&inst.pins, &settings.ledger, rebind)?;
    }
    Ledger::open_rw(&settings.ledger)?;
    let place = place.clone();
    Ok(std::thread::spawn(move || {
        if let Err(e) = run(&place, &settings, &|| stop.load(std::sync::atomic::Ordering::SeqCst)) {
            eprintln!("netattr: serve: the recorder stopped: {e:#}");
        }
    }))
}

/// Sleeps until `due` or until `stopped`, whichever comes first.
fn pause(due: Instant, stopped: &dyn Fn() -> bool) {
    while Instant::now() < due && !stopped() {
        std::thread::sleep((due - Instant::now()).min(Duration::from_millis(100)));
    }
}

/// What the recorder counts across instances.
#[derive(Default)]
struct Rounds {
    cycles: u64,
    pruned_at: Option<Instant>,
}

/// How following one instance ended.
#[derive(PartialEq, Eq)]
enum Followed {
    /// Recording is over (stopped, or its cycles are done).
    Done,
    /// The instance was replaced (a new load): its last counters are billed.
    Replaced,
}

/// The recorder of one instance: the counters it last read of each row (at first, the
/// ledger's cursors), its reads not yet billed, and its namer's caches, kept between
/// cycles, so that a cycle names only the rows that moved.
struct Recorder<'a> {
    g: &'a Place,
    inst: &'a Instance,
    key: InstanceKey,
    reporter: Reporter<'a>,
    unbilled: Unbilled,
    first: bool,
    collected_at: Option<Instant>,
    collect_every: Duration,
    /// Looks for gone workloads so far.
    looks: u64,
    /// When the address book was last noted, and the namespaces there were then.
    noted: Option<(Instant, u64)>,
    /// Each peer row's counters as last billed: a row that has not moved is not asked of
    /// the ledger.
    peers_billed: std::collections::HashMap<crate::ledger::peers::PeerRowKey, crate::model::Counters>,
}

impl<'a> Recorder<'a> {
    fn new(g: &'a Place, inst: &'a Instance, ledger: &mut Ledger, settings: &Settings) -> Result<Self> {
        let view = View { sort: SortKey::Total, top: None, resolve: true };
        // One instance, one ledger: a recorder on another would take gone workloads away.
        crate::bpf::binding::bind(&inst.pins, &settings.ledger, settings.rebind)?;
        let key = instance_key(inst)?;
        // At first, the last read of each row is what the ledger billed of it.
        let mut unbilled = Unbilled::new(settings.batch, settings.every);
        for c in ledger.cursors(&key.key)? {
            let class = unbilled.class_names.id(&c.class);
            unbilled.set_last((c.source, c.cgroup_id, class), c.counters);
        }
        // And who each cgroup was last billed to: named again a share a cycle.
        for (id, who) in ledger.billed_to(&key.key)? {
            unbilled.seed(id, who);
        }
        Ok(Recorder {
            g,
            inst,
            key,
            reporter: Reporter::new(g, inst, view)?.with_labels(),
            unbilled,
            first: true,
            collected_at: None,
            collect_every: settings.collect_every,
            looks: 0,
            noted: None,
            peers_billed: Default::default(),
        })
    }

    /// Records cycles of this instance until recording is over or the instance is replaced.
    fn follow(
        &mut self,
        ledger: &mut Ledger,
        settings: &Settings,
        stopped: &dyn Fn() -> bool,
        rounds: &mut Rounds,
    ) -> Result<Followed> {
        loop {
            let started = Instant::now();
            if self.inst.replaced() {
                // Read one last time through the maps it still holds open and bill all that
                // waits (again at each interval until that lands), then let go.
                eprintln!(
                    "netattr: record: the instance at {} was replaced: billing its last counters",
                    self.inst.pins.dir.display()
                );
                while let Err(e) = self.cycle(ledger, false, true) {
                    eprintln!("netattr: record: {:#}; retrying at the next interval", ledger.explain(e));
                    self.unbilled.collapse();
                    write_back_if_deleted(ledger);
                    pause(Instant::now() + settings.every, stopped);
                    if stopped() {
                        return Ok(Followed::Done);
                    }
                }
                return Ok(Followed::Replaced);
            }
            let last = settings.once || settings.count.is_some_and(|c| rounds.cycles + 1 >= c);
            if let Err(e) = self.cycle(ledger, true, last) {
                let e = ledger.explain(e);
                if settings.once {
                    return Err(e);
                }
                // What the failed bill did not land still waits in memory (each row's latest
                // read), and in the kernel's counters above the ledger's cursors.
                eprintln!("netattr: record: {e:#}; retrying at the next interval");
                self.unbilled.collapse();
                write_back_if_deleted(ledger);
                let error = format!("{e:#}");
                let cycle = Cycle { waiting: self.unbilled.len(), error: Some(&error), ..Cycle::default() };
                let _ = cycle::note_cycle(ledger, now(), &Billed::default(), cycle);
            }
            // Old rows go at most once an hour.
            if rounds.pruned_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
                rounds.pruned_at = Some(Instant::now());
                if let Err(e) = ledger.prune(settings.retention, now()) {
                    eprintln!("netattr: record: pruning old rows: {:#}", ledger.explain(e));
                }
            }
            rounds.cycles += 1;
            if settings.once || settings.count.is_some_and(|c| rounds.cycles >= c) {
                return Ok(Followed::Done);
            }
            pause(started + settings.every, stopped);
            if stopped() {
                // The last cycle also collects what is gone, whenever the last look was.
                self.collected_at = None;
                self.cycle(ledger, true, true).map_err(|e| ledger.explain(e))?;
                return Ok(Followed::Done);
            }
        }
    }

    /// One cycle: read what moved; bill what is due (everything when `all`); then collect
    /// the gone workloads. Each bill is one transaction.
    fn cycle(&mut self, ledger: &mut Ledger, live: bool, all: bool) -> Result<()> {
        let started = Instant::now();
        let cpu = crate::ffi::thread_cpu_time();
        let at = now();
        // The cgroups counted, when this cycle looks for gone ones.
        let collecting = live && self.collected_at.is_none_or(|t| t.elapsed() >= self.collect_every);
        let mut reads = self.read(at, collecting)?;
        self.rename(at, all);
        let batch = self.unbilled.batch(at, all);
        let only = live && self.first;
        let mut billed = ledger.bill(&self.key, &batch.seen, at, only)?;
        self.unbilled.billed(&batch);
        self.first &= !only;
        billed.rows += self.record_peers(ledger, at, &mut reads)?;
        for r in &billed.resets {
            eprintln!("netattr: record: {r}");
        }
        // Hours, days and months that are over are rolled up, a few milliseconds a cycle.
        ledger.roll(self.unbilled.oldest(at), if all { ROLL_BUDGET_LAST } else { ROLL_BUDGET })?;
        let mut collected = 0;
        if collecting {
            let (rows, n) = self.look_for_gone(ledger, &reads, all)?;
            billed.rows += rows;
            collected = n;
        }
        let took = Took {
            wall_ms: started.elapsed().as_secs_f64() * 1000.0,
            cpu_ms: (crate::ffi::thread_cpu_time().saturating_sub(cpu)).as_secs_f64() * 1000.0,
        };
        // Everything read is billed up to this cycle's read, or, while reads wait, up to the
        // bucket of the oldest of them.
        let waiting = self.unbilled.len();
        let complete_until =
            if waiting == 0 { at } else { Resolution::FiveMinutes.bucket(self.unbilled.oldest(at)) };
        let cycle = Cycle { took, collected, waiting, complete_until: Some(complete_until), error: None };
        cycle::note_coverage(ledger, &self.key, at, &reads.covered)?;
        cycle::note_cycle(ledger, at, &billed, cycle)?;
        Ok(())
    }
}

/// After a bill refused because the ledger's path no longer names the file the recorder
/// opened: when the file was deleted, it is written back from the copy the recorder holds
/// open (every bill in it), and recording goes on there; while another file is in its place,
/// nothing is written anywhere (the reads wait, the kernel keeps counting).
fn write_back_if_deleted(ledger: &mut Ledger) {
    if ledger.check_file().is_ok() {
        return;
    }
    match ledger.write_back() {
        Ok(Some(back)) => {
            eprintln!(
                "netattr: record: wrote ledger {} back from the copy the recorder held open (every bill in it); recording goes on there",
                ledger.path.display()
            );
            *ledger = back;
        }
        Ok(None) => {}
        Err(e) => eprintln!("netattr: record: {:#}", ledger.explain(e)),
    }
}

/// The wall clock in unix seconds; NETATTR_CLOCK_SHIFT (seconds, may be negative) moves it,
/// so that the tests can set the clock back without touching the host's.
fn now() -> i64 {
    let shift: i64 = std::env::var("NETATTR_CLOCK_SHIFT").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    crate::model::unix_now() + shift
}

/// Which load of which boot `inst` is. The boot id comes from the kernel, or from the file
/// NETATTR_BOOT_ID_FILE names (the tests' stand-in for a reboot).
fn instance_key(inst: &Instance) -> Result<InstanceKey> {
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
