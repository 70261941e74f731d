//! Exporting while recording: the export to the fleet store followed beside the recorder
//! (`export --follow`, `record --export`, `serve --record --export`), every interval, retried
//! with backoff while the store is down (1 s, 2 s, ... up to a minute), each new failure said
//! once and noted in the ledger (`status`), the tables checked again once the store answers.
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::fleet::export::Exporter;
use crate::fleet::schema;
use crate::fleet::store::Store;
use crate::ledger::Ledger;
use crate::model::unix_now as now;

/// The longest wait between two tries after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// This node's name: `given`, else the host name.
pub fn node_name(given: Option<&str>) -> Result<String> {
    match given {
        Some(n) if !n.trim().is_empty() => Ok(n.to_string()),
        Some(_) => anyhow::bail!("--node is empty: name this node (default: its host name)"),
        None => Ok(nix::unistd::gethostname()
            .map_err(|e| anyhow::anyhow!("reading the host name: {e}: pass --node"))?
            .to_string_lossy()
            .into_owned()),
    }
}

/// What an export beside the recorder needs: the exporter, how often, whether to make the
/// tables.
pub struct Following {
    pub exporter: Exporter,
    pub interval: Duration,
    pub init: bool,
}

/// Starts following the export of the ledger at `path` on a thread of its own (its own
/// connection), until `stop` is set. The ledger is checked and bound to the store now, so
/// that a wrong node name fails the start.
pub fn start(
    path: &std::path::Path,
    f: Following,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Result<std::thread::JoinHandle<()>> {
    Ledger::open_rw(path)?.begin_export(&f.exporter.store.name, &f.exporter.node)?;
    announce(path, &f);
    let path = path.to_path_buf();
    Ok(std::thread::spawn(move || {
        let stopped = || stop.load(std::sync::atomic::Ordering::SeqCst);
        // The thread's own connection (a connection stays on its thread).
        match Ledger::open_rw(&path) {
            Ok(ledger) => follow(&ledger, &f.exporter, f.init, f.interval, &stopped),
            Err(e) => eprintln!("netattr: export stopped: {e:#}"),
        }
    }))
}

/// Exports everything the ledger at `path` holds that the store has not acknowledged, once.
pub fn once(path: &std::path::Path, f: &Following) -> Result<crate::fleet::export::Sent> {
    let ledger = Ledger::open_rw(path)?;
    ledger.begin_export(&f.exporter.store.name, &f.exporter.node)?;
    prepare(&f.exporter.store, f.init).map_err(|e| failed(&ledger, &f.exporter, e))?;
    f.exporter.drain(&ledger, now(), Duration::MAX).map_err(|e| failed(&ledger, &f.exporter, e))
}

/// Makes the tables where missing (`init`), or checks they are netattr's.
pub fn prepare(store: &Store, init: bool) -> Result<()> {
    if init {
        schema::init(store)
    } else {
        schema::check(store)
    }
}

/// Notes `e` in the ledger (status shows it) and gives it back.
pub fn failed(ledger: &Ledger, exporter: &Exporter, e: anyhow::Error) -> anyhow::Error {
    let _ = ledger.export_failed(&exporter.store.name, &format!("{e:#}"), now());
    e
}

/// Exports every `interval` until `stopped`.
pub fn follow(
    ledger: &Ledger,
    exporter: &Exporter,
    init: bool,
    interval: Duration,
    stopped: &dyn Fn() -> bool,
) {
    let mut backoff: Option<Duration> = None;
    let mut said: Option<String> = None;
    let mut checked = false;
    while !stopped() {
        let started = Instant::now();
        let mut round = || {
            if !checked {
                prepare(&exporter.store, init)?;
                checked = true;
            }
            exporter.drain(ledger, now(), interval)
        };
        let wait = match round() {
            Ok(sent) => {
                if said.take().is_some() {
                    eprintln!(
                        "netattr: export: {} answers again; the backlog is draining",
                        exporter.store.name
                    );
                }
                backoff = None;
                if sent.more {
                    Duration::ZERO
                } else {
                    interval.saturating_sub(started.elapsed())
                }
            }
            Err(e) => {
                checked = false;
                let e = failed(ledger, exporter, e);
                let text = format!("{e:#}");
                if said.as_deref() != Some(text.as_str()) {
                    eprintln!("netattr: export: {text}; the backlog is kept in the ledger and retried");
                    said = Some(text);
                }
                let next = backoff.map_or(Duration::from_secs(1), |b| (b * 2).min(MAX_BACKOFF));
                backoff = Some(next);
                next
            }
        };
        let due = Instant::now() + wait;
        while Instant::now() < due && !stopped() {
            std::thread::sleep((due - Instant::now()).min(Duration::from_millis(100)));
        }
    }
}

/// The line a following export starts with (on stderr): what goes where, how often.
pub fn announce(path: &std::path::Path, f: &Following) {
    eprintln!(
        "netattr: exporting {} to {} as node '{}' every {:.0} s",
        path.display(),
        f.exporter.store.name,
        f.exporter.node,
        f.interval.as_secs_f64()
    );
}
