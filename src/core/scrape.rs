//! One Prometheus scrape of an instance (`serve`): its counters read once and named, the
//! workloads gone for longer than --retire-after left out (and counted), and the names the
//! events taught given to the rows the namer could not name any more.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::inventory::HealthExport;
use super::metrics;
use super::reader::{self, Query};
use super::report::Reporter;
use super::row::{Bucket, By, Row};
use crate::bpf::layout::META_CLASSES;
use crate::bpf::Instance;
use crate::identity::Summary;
use crate::model::Source;
use crate::output::prometheus::Builder;

/// Names learnt from the events, by cgroup id, with when.
pub type Learnt = Arc<Mutex<HashMap<u64, (Summary, Instant)>>>;

/// What scrapes keep between them: when each exported cgroup was first seen gone.
pub struct Scraper {
    retire_after: Duration,
    gone_since: HashMap<u64, Instant>,
    /// The ledger `serve --record` writes: its exports' backlogs are exported too.
    ledger: Option<std::path::PathBuf>,
}

impl Scraper {
    pub fn new(retire_after: Duration, ledger: Option<std::path::PathBuf>) -> Scraper {
        Scraper { retire_after, gone_since: HashMap::new(), ledger }
    }

    /// One scrape of `inst`'s `source` counters (and class rows), as Prometheus text.
    pub fn scrape(
        &mut self,
        reporter: &mut Reporter<'_>,
        inst: &Instance,
        source: Source,
        learnt: &Learnt,
    ) -> Result<String> {
        let (retire_after, gone_since) = (self.retire_after, &mut self.gone_since);
        let started = Instant::now();
        // Each counter map is read once: the snapshot says what it counted on the way.
        let snap = reader::read(inst, Query { source, by: By::Cgroup })?;
        let fill = snap.fill.clone();
        let mut report = reporter.report(snap, None);
        let mut classes = if inst.meta.has(META_CLASSES) {
            reporter.report(reader::read(inst, Query { source, by: By::Class })?, None).cgroups
        } else {
            vec![]
        };
        report.health = Some(HealthExport::read(inst, &fill)?);
        let now = Instant::now();
        let still_gone: std::collections::HashSet<u64> =
            report.cgroups.iter().filter(|r| r.gone).map(|r| r.cgroup_id).collect();
        gone_since.retain(|id, _| still_gone.contains(id));
        for id in &still_gone {
            gone_since.entry(*id).or_insert(now);
        }
        let retired = gone_since.values().filter(|t| now.duration_since(**t) >= retire_after).count();
        let exported = |r: &Row| {
            !r.gone || gone_since.get(&r.cgroup_id).is_none_or(|t| now.duration_since(*t) < retire_after)
        };
        report.cgroups.retain(exported);
        classes.retain(exported);
        if let Ok(known) = learnt.lock() {
            for r in report
                .cgroups
                .iter_mut()
                .chain(classes.iter_mut())
                .filter(|r| r.bucket == Bucket::Cgroup && r.who.name.is_none())
            {
                if let Some((who, _)) = known.get(&r.cgroup_id) {
                    r.who.name = who.name.clone();
                    r.who.pod_namespace = who.pod_namespace.clone();
                    r.who.pod_name = who.pod_name.clone();
                }
            }
        }
        let mut g = Builder::gauge(
            "netattr_retired_cgroups",
            "Gone cgroups no longer exported (past --retire-after)",
        );
        g.sample([], retired as f64);
        let mut d = Builder::gauge(
            "netattr_scrape_duration_seconds",
            "Time this scrape took to read and name the counters",
        );
        d.sample([], started.elapsed().as_secs_f64());
        let mut extra = metrics::counter_families(&classes, &report.label_keys);
        extra.extend([g.build(), d.build()]);
        if let Some(path) = &self.ledger {
            extra.extend(export_families(path));
        }
        metrics::exposition(&report.cgroups, &report.label_keys, report.health.as_ref(), extra)
    }
}

/// The backlog of each fleet store the ledger at `path` exports to: rows waiting, the age of
/// the oldest, rows pruned before the store had them. None when the ledger cannot be read
/// (the recorder says why).
fn export_families(path: &std::path::Path) -> Vec<crate::output::prometheus::Family> {
    let Ok(backlogs) = crate::ledger::Ledger::open_ro(path).and_then(|l| l.backlogs()) else { return vec![] };
    let now = crate::model::unix_now();
    let mut rows = Builder::gauge(
        "netattr_export_backlog_rows",
        "5-minute ledger rows the fleet store has not acknowledged",
    );
    let mut age = Builder::gauge(
        "netattr_export_backlog_age_seconds",
        "Age of the oldest 5-minute row the fleet store has not acknowledged (0: none waits)",
    );
    let mut days = Builder::gauge(
        "netattr_export_backlog_days",
        "Rolled-up workload days (sums and 5-minute profiles) the fleet store has not acknowledged",
    );
    let mut pruned = Builder::gauge(
        "netattr_export_pruned_rows",
        "5-minute rows pruned from the ledger before the fleet store acknowledged them",
    );
    for b in &backlogs {
        let labels = || [("destination", Some(b.destination.clone())), ("node", Some(b.node.clone()))];
        rows.sample(labels(), b.rows as f64);
        age.sample(labels(), b.oldest_bucket.map_or(0, |t| (now - t).max(0)) as f64);
        days.sample(labels(), b.days as f64);
        pruned.sample(labels(), b.pruned as f64);
    }
    vec![rows.build(), age.build(), days.build(), pruned.build()]
}
