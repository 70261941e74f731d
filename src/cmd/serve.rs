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
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::sync::oneshot;

use crate::bpf::{Instance, PinState, Pins};
use crate::cgroup;
use crate::cli::{Global, ServeArgs};
use crate::core::classes;
use crate::core::events::{self, Next};
use crate::core::reader::default_source;
use crate::core::recorder;
use crate::core::report::{Reporter, View};
use crate::core::row::SortKey;
use crate::core::scrape::{Learnt, Scraper};
use crate::output::prometheus::{self};
use crate::sys;

/// Names learnt from first-seen events, by cgroup id.
/// A scrape: the reply channel for the exposition text (or the reason there is none).
type Scrape = oneshot::Sender<Result<String, String>>;
/// Why the collector cannot serve scrapes now (None: it can); /healthz reports it.
type Trouble = Arc<Mutex<Option<String>>>;

/// How long a thread waits before it tries again what failed.
const RETRY: Duration = Duration::from_millis(500);

/// Marks the collector as stopped when its thread ends, however it ends.
struct Stopped(Trouble);

impl Drop for Stopped {
    fn drop(&mut self) {
        if let Ok(mut t) = self.0.lock() {
            *t = Some("the collector stopped".into());
        }
    }
}

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
        let (g, stop, learnt) = (g.clone(), stop.clone(), learnt.clone());
        std::thread::spawn(move || learn_names(&g, &stop, &learnt))
    };
    let host = {
        let (g, stop) = (g.clone(), stop.clone());
        std::thread::spawn(move || classes::follow_host(&g.pin_dir, &stop))
    };
    // With --record, the recorder runs here too; the ledger is opened once now, so that a
    // bad one fails the start rather than the first cycle.
    let recording = if a.record {
        // One instance, one ledger: refused now, not at the recorder's first cycle.
        if let Ok(inst) = crate::bpf::Pins::new(&g.pin_dir).open() {
            crate::bpf::binding::check(&inst.pins, &a.ledger.ledger, a.ledger.rebind)?;
        }
        crate::ledger::Ledger::open_rw(&a.ledger.ledger)?;
        let (place, stop) = (g.place(), stop.clone());
        let settings = a.ledger.settings(a.record_interval, false, None);
        Some(std::thread::spawn(move || {
            if let Err(e) = recorder::run(&place, &settings, &|| stop.load(Ordering::SeqCst)) {
                eprintln!("netattr: serve: the recorder stopped: {e:#}");
            }
        }))
    } else {
        None
    };
    let collector = {
        let (g, a, learnt, trouble) = (g.clone(), a.clone(), learnt.clone(), trouble.clone());
        std::thread::spawn(move || {
            let _stopped = Stopped(trouble.clone());
            collect(&g, &a, &queue, &learnt, &trouble)
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

/// The collector thread: answers scrapes until the HTTP side is gone. The instance is opened
/// again when the pins change (a cleanup and a new load) or the default source does; what
/// fails is retried after a pause, and meanwhile scrapes get its reason and /healthz a 503.
fn collect(g: &Global, a: &ServeArgs, queue: &mpsc::Receiver<Scrape>, learnt: &Learnt, trouble: &Trouble) {
    let mut scraper = Scraper::new(a.retire_after);
    let mut pending: Option<Scrape> = None;
    let set_trouble = |why: Option<String>| {
        if let Ok(mut t) = trouble.lock() {
            *t = why;
        }
    };
    let view = View { sort: SortKey::Total, top: None, resolve: true };
    loop {
        // Not loaded (no trouble of the collector's: /healthz says why), or loaded and not
        // readable (trouble): answer the scrape with why, and try again after a pause.
        let why = match Pins::new(&g.pin_dir).open() {
            Err(e) => {
                set_trouble(None);
                format!("{e:#}")
            }
            Ok(inst) => match Reporter::new(&g.place(), &inst, view) {
                Err(e) => {
                    set_trouble(Some(format!("{e:#}")));
                    format!("{e:#}")
                }
                Ok(mut reporter) => {
                    set_trouble(None);
                    let source = default_source(&inst, a.source);
                    loop {
                        let Some(s) = pending.take().or_else(|| queue.recv().ok()) else { return };
                        if inst.replaced() || default_source(&inst, a.source) != source {
                            pending = Some(s);
                            break;
                        }
                        let text = scraper.scrape(&mut reporter, &inst, source, learnt);
                        set_trouble(text.as_ref().err().map(|e| format!("{e:#}")));
                        let _ = s.send(text.map_err(|e| format!("{e:#}")));
                    }
                    continue;
                }
            },
        };
        let Some(s) = pending.take().or_else(|| queue.recv().ok()) else { return };
        let _ = s.send(Err(why));
        std::thread::sleep(RETRY);
    }
}

/// The events thread: names every cgroup at its first packet. Entries are kept for an hour
/// (and at most 100,000), far longer than a retired workload is exported. What fails is
/// retried after a pause; a new instance is followed.
fn learn_names(g: &Global, stop: &AtomicBool, learnt: &Learnt) {
    while !stop.load(Ordering::SeqCst) {
        let inst = match Pins::new(&g.pin_dir).open() {
            Ok(i) => i,
            Err(_) => {
                std::thread::sleep(RETRY);
                continue;
            }
        };
        if learn_from(g, &inst, stop, learnt).is_err() {
            std::thread::sleep(RETRY);
        }
    }
}

/// Learns names from one instance's events until it is replaced or serve stops.
fn learn_from(g: &Global, inst: &Instance, stop: &AtomicBool, learnt: &Learnt) -> Result<()> {
    const KEEP: Duration = Duration::from_secs(3600);
    const MAX: usize = 100_000;
    events::follow(&g.place(), inst, &|| stop.load(Ordering::SeqCst), |ev, named| {
        if let Ok(mut known) = learnt.lock() {
            let now = Instant::now();
            known.retain(|_, (_, t)| now.duration_since(*t) < KEEP);
            if known.len() < MAX {
                known.insert(ev.cgroup_id, (named.who, now));
            }
        }
        Next::Continue
    })?;
    Ok(())
}
