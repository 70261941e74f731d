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
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use libbpf_rs::{MapHandle, RingBufferBuilder};
use tokio::sync::oneshot;

use crate::bpf::{PinState, Pins};
use crate::cgroup::{self, Resolver};
use crate::cli::{Global, ServeArgs, SortKey, StatsArgs};
use crate::cmd::resolve::{names_for, resolve};
use crate::cmd::stats::metrics::{self, HealthExport};
use crate::cmd::stats::{default_source, Bucket, Context};
use crate::identity::Summary;
use crate::output::prometheus::{self, Builder};
use crate::sys;

/// Names learnt from first-seen events, by cgroup id.
type Learnt = Arc<Mutex<HashMap<u64, (Summary, Instant)>>>;
/// A scrape: the reply channel for the exposition text (or the reason there is none).
type Scrape = oneshot::Sender<Result<String, String>>;

pub fn execute(g: &Global, a: &ServeArgs) -> Result<ExitCode> {
    sys::require_privileges("serve")?;
    cgroup::mount_point()?;
    Pins::new(&g.pin_dir).open()?; // fail now, not at the first scrape
    let listener = std::net::TcpListener::bind(a.listen)
        .with_context(|| format!("cannot listen on {}: pick another --listen address", a.listen))?;
    listener.set_nonblocking(true)?;
    let stop = Arc::new(AtomicBool::new(false));
    let learnt: Learnt = Arc::default();
    let (scrapes, queue) = mpsc::channel::<Scrape>();

    let events = {
        let (g, stop, learnt) = (g.clone(), stop.clone(), learnt.clone());
        std::thread::spawn(move || learn_names(&g, &stop, &learnt))
    };
    let collector = {
        let (g, a, learnt) = (g.clone(), a.clone(), learnt.clone());
        std::thread::spawn(move || collect(&g, &a, &queue, &learnt))
    };
    eprintln!(
        "netattr: serving /metrics and /healthz on http://{} (pins at {})",
        a.listen,
        g.pin_dir.display()
    );

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let served = rt.block_on(http(listener, scrapes, g.pin_dir.clone()));
    stop.store(true, Ordering::SeqCst);
    let _ = collector.join();
    let _ = events.join();
    served?;
    eprintln!("netattr: serve stopped");
    Ok(ExitCode::SUCCESS)
}

async fn http(
    listener: std::net::TcpListener,
    scrapes: mpsc::Sender<Scrape>,
    pin_dir: std::path::PathBuf,
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
        async move {
            match state {
                PinState::Loaded => (StatusCode::OK, "ok\n".to_string()),
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
/// again when the pins change (a cleanup and a new load) or the default source does.
fn collect(g: &Global, a: &crate::cli::ServeArgs, queue: &mpsc::Receiver<Scrape>, learnt: &Learnt) {
    let mut gone_since: HashMap<u64, Instant> = HashMap::new();
    let mut pending: Option<Scrape> = None;
    loop {
        let pins = Pins::new(&g.pin_dir);
        let inst = match pins.open() {
            Ok(i) => i,
            Err(e) => {
                // Not loaded: answer the scrape with why, unless a load has come meanwhile.
                let Some(s) = pending.take().or_else(|| queue.recv().ok()) else { return };
                match pins.open() {
                    Ok(_) => pending = Some(s),
                    Err(_) => drop(s.send(Err(format!("{e:#}")))),
                }
                continue;
            }
        };
        let generation = meta_id(&pins);
        let source = default_source(&inst, a.source);
        let args = StatsArgs::per_cgroup(source, SortKey::Total);
        let Ok(mut ctx) = Context::new(g, &args, &inst, source) else { return };
        loop {
            let Some(s) = pending.take().or_else(|| queue.recv().ok()) else { return };
            if meta_id(&pins) != generation || default_source(&inst, a.source) != source {
                pending = Some(s);
                break;
            }
            let text = scrape(&mut ctx, &inst, a.retire_after, &mut gone_since, learnt);
            let _ = s.send(text.map_err(|e| format!("{e:#}")));
        }
    }
}

fn meta_id(pins: &Pins) -> Option<u32> {
    use std::os::fd::AsFd;
    let m = MapHandle::from_pinned_path(pins.path("meta")).ok()?;
    libbpf_rs::MapInfo::new(m.as_fd()).ok().map(|i| i.info.id)
}

fn scrape(
    ctx: &mut Context<'_>,
    inst: &crate::bpf::Instance,
    retire_after: Duration,
    gone_since: &mut HashMap<u64, Instant>,
    learnt: &Learnt,
) -> Result<String> {
    let started = Instant::now();
    let mut report = ctx.report(ctx.read()?, None)?;
    report.health = Some(HealthExport::read(inst)?);
    let now = Instant::now();
    let still_gone: std::collections::HashSet<u64> =
        report.cgroups.iter().filter(|r| r.gone).map(|r| r.cgroup_id).collect();
    gone_since.retain(|id, _| still_gone.contains(id));
    for id in &still_gone {
        gone_since.entry(*id).or_insert(now);
    }
    let retired = gone_since.values().filter(|t| now.duration_since(**t) >= retire_after).count();
    report.cgroups.retain(|r| {
        !r.gone || gone_since.get(&r.cgroup_id).is_none_or(|t| now.duration_since(*t) < retire_after)
    });
    if let Ok(known) = learnt.lock() {
        for r in report.cgroups.iter_mut().filter(|r| r.bucket == Bucket::Cgroup && r.who.name.is_none()) {
            if let Some((who, _)) = known.get(&r.cgroup_id) {
                r.who.name = who.name.clone();
                r.who.pod_namespace = who.pod_namespace.clone();
                r.who.pod_name = who.pod_name.clone();
            }
        }
    }
    let mut g =
        Builder::gauge("netattr_retired_cgroups", "Gone cgroups no longer exported (past --retire-after)");
    g.sample([], retired as f64);
    let mut d = Builder::gauge(
        "netattr_scrape_duration_seconds",
        "Time this scrape took to read and name the counters",
    );
    d.sample([], started.elapsed().as_secs_f64());
    metrics::exposition(&report, vec![g.build(), d.build()])
}

/// The events thread: names every cgroup at its first packet. Entries are kept for an hour
/// (and at most 100,000), far longer than a retired workload is exported.
fn learn_names(g: &Global, stop: &AtomicBool, learnt: &Learnt) {
    const KEEP: Duration = Duration::from_secs(3600);
    const MAX: usize = 100_000;
    while !stop.load(Ordering::SeqCst) {
        let Ok(inst) = Pins::new(&g.pin_dir).open() else {
            std::thread::sleep(Duration::from_millis(500));
            continue;
        };
        let Ok(events) = MapHandle::from_pinned_path(inst.pins.path("events")) else { continue };
        let Ok(mut resolver) = cgroup::mount_point().and_then(Resolver::new) else { return };
        let mut b = RingBufferBuilder::new();
        let inst_ref = &inst;
        let added = b.add(&events, move |d: &[u8]| {
            let Some((id, ..)) = crate::cmd::events::decode(d) else { return 0 };
            let mut names = names_for(g, Some(inst_ref));
            let who = resolve(id, &mut resolver, Some(inst_ref), &mut names).who;
            if let Ok(mut known) = learnt.lock() {
                let now = Instant::now();
                known.retain(|_, (_, t)| now.duration_since(*t) < KEEP);
                if known.len() < MAX {
                    known.insert(id, (who, now));
                }
            }
            0
        });
        if added.is_err() {
            return;
        }
        let Ok(rb) = b.build() else { return };
        let generation = meta_id(&inst.pins);
        while !stop.load(Ordering::SeqCst)
            && rb.poll(Duration::from_millis(250)).is_ok()
            && meta_id(&inst.pins) == generation
        {}
        if !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(500)); // the pins changed: reopen
        }
    }
}
