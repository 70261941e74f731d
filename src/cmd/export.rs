//! `netattr export`: the ledger's 5-minute rows and workload descriptions shipped to the
//! fleet store exactly once: once (everything not acknowledged yet), or following the
//! recorder. The backlog stays in the ledger until the store acknowledges it; failures are
//! said once, retried with backoff, and noted in the ledger for `status`.
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::cli::{ExportArgs, Global};
use crate::fleet::export::Exporter;
use crate::fleet::schema;
use crate::fleet::store::Store;
use crate::ledger::Ledger;
use crate::signals;

/// The longest wait between two tries after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

pub fn execute(_g: &Global, a: &ExportArgs) -> Result<ExitCode> {
    let store =
        Store::new(&a.to, a.store.password_file.as_deref(), Duration::from_secs_f64(a.store.timeout))?;
    let node = match &a.node {
        Some(n) if !n.trim().is_empty() => n.clone(),
        Some(_) => anyhow::bail!("--node is empty: name this node (default: its host name)"),
        None => nix::unistd::gethostname()
            .context("reading the host name: pass --node")?
            .to_string_lossy()
            .into_owned(),
    };
    let ledger = Ledger::open_rw(&a.ledger)?;
    ledger.begin_export(&store.name, &node)?;
    let exporter = Exporter { store, node, zone: a.zone.clone(), batch: a.batch as usize };
    if !a.follow {
        prepare(&exporter.store, a.init).map_err(|e| failed(&ledger, &exporter, e))?;
        let sent =
            exporter.drain(&ledger, now(), Duration::MAX).map_err(|e| failed(&ledger, &exporter, e))?;
        eprintln!(
            "netattr: export: {} usage rows and {} workloads sent to {} as node '{}'",
            sent.usage, sent.workloads, exporter.store.name, exporter.node
        );
        return Ok(ExitCode::SUCCESS);
    }
    signals::catch();
    follow(&ledger, &exporter, a.init, Duration::from_secs_f64(a.interval));
    eprintln!("netattr: export stopped");
    Ok(ExitCode::SUCCESS)
}

/// Notes `e` in the ledger (status shows it) and gives it back.
fn failed(ledger: &Ledger, exporter: &Exporter, e: anyhow::Error) -> anyhow::Error {
    let _ = ledger.export_failed(&exporter.store.name, &format!("{e:#}"), now());
    e
}

/// Makes the tables where missing (`init`), or checks they are netattr's.
fn prepare(store: &Store, init: bool) -> Result<()> {
    if init {
        schema::init(store)
    } else {
        schema::check(store)
    }
}

/// Exports every `interval` until a signal; after a failure, tries again after 1 s, 2 s, ...
/// up to a minute, saying each new failure once and when the store answers again. The
/// tables are checked again after each failure (the store may have been replaced).
fn follow(ledger: &Ledger, exporter: &Exporter, init: bool, interval: Duration) {
    let mut backoff: Option<Duration> = None;
    let mut said: Option<String> = None;
    let mut checked = false;
    while !signals::stopped() {
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
        while Instant::now() < due && !signals::stopped() {
            std::thread::sleep((due - Instant::now()).min(Duration::from_millis(100)));
        }
    }
}
