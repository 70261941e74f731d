//! What `serve` runs beside its HTTP side: the collector thread, which answers each scrape
//! from the pinned maps (one thread, so concurrent scrapes queue instead of racing), and the
//! events thread, which names every cgroup at its first packet so that short-lived
//! containers keep their names after they exit.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::sync::oneshot;

use super::events::{self, Next};
use super::reader::default_source;
use super::report::{Reporter, View};
use super::row::SortKey;
use super::scrape::{Learnt, Scraper};
use super::Place;
use crate::bpf::{Instance, Pins};
use crate::model::Source;

/// A scrape: the reply channel for the exposition text (or the reason there is none).
pub type Scrape = oneshot::Sender<Result<String, String>>;
/// Why the collector cannot serve scrapes now (None: it can); /healthz reports it.
pub type Trouble = Arc<Mutex<Option<String>>>;

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

/// The collector thread (`asked`: the --source given, if any): answers scrapes until the HTTP side is gone. The instance is opened
/// again when the pins change (a cleanup and a new load) or the default source does; what
/// fails is retried after a pause, and meanwhile scrapes get its reason and /healthz a 503.
pub fn collect(
    place: &Place,
    asked: Option<Source>,
    retire_after: Duration,
    ledger: Option<std::path::PathBuf>,
    queue: &mpsc::Receiver<Scrape>,
    learnt: &Learnt,
    trouble: &Trouble,
) {
    let _stopped = Stopped(trouble.clone());
    let mut scraper = Scraper::new(retire_after, ledger);
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
        let why = match Pins::new(&place.pin_dir).open() {
            Err(e) => {
                set_trouble(None);
                format!("{e:#}")
            }
            Ok(inst) => match Reporter::new(place, &inst, view).map(|r| {
                if place.names.keys.listed().is_empty() {
                    r
                } else {
                    r.with_labels()
                }
            }) {
                Err(e) => {
                    set_trouble(Some(format!("{e:#}")));
                    format!("{e:#}")
                }
                Ok(mut reporter) => {
                    set_trouble(None);
                    let source = default_source(&inst, asked);
                    loop {
                        let Some(s) = pending.take().or_else(|| queue.recv().ok()) else { return };
                        if inst.replaced() || default_source(&inst, asked) != source {
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
pub fn learn_names(place: &Place, stop: &AtomicBool, learnt: &Learnt) {
    while !stop.load(Ordering::SeqCst) {
        let inst = match Pins::new(&place.pin_dir).open() {
            Ok(i) => i,
            Err(_) => {
                std::thread::sleep(RETRY);
                continue;
            }
        };
        if learn_from(place, &inst, stop, learnt).is_err() {
            std::thread::sleep(RETRY);
        }
    }
}

/// Learns names from one instance's events until it is replaced or serve stops.
fn learn_from(place: &Place, inst: &Instance, stop: &AtomicBool, learnt: &Learnt) -> Result<()> {
    const KEEP: Duration = Duration::from_secs(3600);
    const MAX: usize = 100_000;
    events::follow(place, inst, &|| stop.load(Ordering::SeqCst), |ev, named| {
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
