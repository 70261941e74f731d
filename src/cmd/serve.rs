//! `netattr serve`: a Prometheus exporter. Each scrape of /metrics reads the pinned maps
//! (the same rows and health as `stats --format prometheus`); /healthz says whether netattr
//! is loaded. A second thread consumes the first-seen events and names each new cgroup while
//! its container still exists, so short-lived containers keep their names after they exit.
//!
//! Cardinality: one series set per counted cgroup. A cgroup that no longer exists is
//! exported until it has been gone for --retire-after (default 5 min, long enough for a
//! last scrape and a rate over it), then left out; its counters stay in the maps until
//! `netattr reap` collects them. HTTP is axum on a single-threaded tokio runtime; the maps
//! are read on one collector thread, so concurrent scrapes queue instead of racing.
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use anyhow::{Context as _, Result};

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::sync::oneshot;

use crate::bpf::{PinState, Pins};
use crate::cgroup;
use crate::cli::{Global, ServeArgs};
use crate::core::classes;
use crate::core::scrape::Learnt;
use crate::core::serving::{self, Scrape, Trouble};
use crate::core::{exporting, recorder};
use crate::output::prometheus::{self};
use crate::sys;

pub fn execute(g: &Global, a: &ServeArgs) -> Result<ExitCode> {
    sys::require_reader_privileges("serve")?;
    cgroup::mount_point()?;
    Pins::new(&g.pin_dir).open()?; // fail now, not at the first scrape
    let listener = std::net::TcpListener::bind(a.listen)
        .with_context(|| format!("cannot listen on {}: pick another --listen address", a.listen))?;
    listener.set_nonblocking(true)?;
    // The address it got: with port 0 the kernel picks one.
    let listen = listener.local_addr().unwrap_or(a.listen);
    let trouble: Trouble = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let learnt: Learnt = Arc::default();
    let (scrapes, queue) = mpsc::channel::<Scrape>();

    let events = {
        let (place, stop, learnt) = (g.place(), stop.clone(), learnt.clone());
        std::thread::spawn(move || serving::learn_names(&place, &stop, &learnt))
    };
    let host = {
        let (g, stop) = (g.clone(), stop.clone());
        std::thread::spawn(move || classes::follow_host(&g.pin_dir, &stop))
    };
    // With --record, the recorder runs here too; the ledger is opened once now, so that a
    // bad one fails the start rather than the first cycle.
    // With --record, the recorder runs here too (its ledger checked now, not at its first
    // cycle).
    let recording = if a.record {
        let settings = a.ledger.settings(a.record_interval, false, None);
        Some(recorder::start(&g.place(), settings, a.ledger.rebind, stop.clone())?)
    } else {
        None
    };
    // With --record --export, the export beside the recorder.
    let exporting = match a.ledger.export.following()? {
        Some(f) if a.record => Some(exporting::start(&a.ledger.ledger, f, stop.clone())?),
        _ => None,
    };
    let collector = {
        let (place, source, retire_after) = (g.place(), a.source, a.retire_after);
        let (learnt, trouble) = (learnt.clone(), trouble.clone());
        let ledger = a.record.then(|| a.ledger.ledger.clone());
        std::thread::spawn(move || {
            serving::collect(&place, source, retire_after, ledger, &queue, &learnt, &trouble)
        })
    };
    eprintln!("netattr: serving /metrics and /healthz on http://{listen} (pins at {})", g.pin_dir.display());

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let served = rt.block_on(http(listener, scrapes, g.pin_dir.clone(), trouble));
    stop.store(true, Ordering::SeqCst);
    let _ = collector.join();
    let _ = events.join();
    let _ = host.join();
    if let Some(r) = recording {
        let _ = r.join(); // its last cycle first
    }
    if let Some(e) = exporting {
        let _ = e.join();
    }
    served?;
    eprintln!("netattr: serve stopped");
    Ok(ExitCode::SUCCESS)
}

async fn http(
    listener: std::net::TcpListener,
    scrapes: mpsc::Sender<Scrape>,
    pin_dir: std::path::PathBuf,
    trouble: Trouble,
) -> Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let metrics_route = get(move || {
        let scrapes = scrapes.clone();
        async move {
            let (tx, rx) = oneshot::channel();
            let answer = match scrapes.send(tx) {
                Ok(()) => rx.await.unwrap_or_else(|_| Err("the collector stopped".into())),
                Err(_) => Err("the collector stopped".into()),
            };
            match answer {
                Ok(text) => {
                    (StatusCode::OK, [(header::CONTENT_TYPE, prometheus::CONTENT_TYPE)], text).into_response()
                }
                Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("netattr: {e}\n")).into_response(),
            }
        }
    });
    let healthz = get(move || {
        let state = Pins::new(&pin_dir).state();
        let trouble =
            trouble.lock().map(|t| t.clone()).unwrap_or_else(|_| Some("the collector failed".into()));
        async move {
            match (state, trouble) {
                (PinState::Loaded, None) => (StatusCode::OK, "ok\n".to_string()),
                (PinState::Loaded, Some(why)) => {
                    (StatusCode::SERVICE_UNAVAILABLE, format!("netattr cannot serve scrapes: {why}\n"))
                }
                _ => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "netattr is not loaded: run 'netattr load'\n".to_string(),
                ),
            }
        }
    });
    let index = get(|| async { "netattr exporter: /metrics, /healthz\n" });
    let app =
        axum::Router::new().route("/metrics", metrics_route).route("/healthz", healthz).route("/", index);
    axum::serve(listener, app).with_graceful_shutdown(shutdown()).await?;
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
        }
        _ => std::future::pending::<()>().await,
    }
}
