//! `netattr demo`: three workloads (an HTTP server under load, a key-value style exchange and
//! a bulk sender at ~50 Mbit/s), netattr loaded and attached to them, and `top` on a terminal
//! (else `stats` every second) until the duration is over, `q`, Ctrl-C or SIGTERM. On every
//! one of those exits, and on errors, it removes all it made. It drives netattr through its
//! own subcommands, printing each on stderr, so the demo also shows how to use them. It
//! records into a ledger of its own while it runs and prints a short report at the end.
mod sh;
pub mod traffic;
pub mod uplink;
pub mod workloads;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cli::{DemoArgs, Global, DEFAULT_PIN_DIR};
use crate::core::live;
use crate::core::report::View;
use crate::core::row::{By, SortKey};
use crate::{output, signals, sys};
use workloads::Workloads;

pub fn execute(g: &Global, a: &DemoArgs) -> Result<ExitCode> {
    sys::require_privileges("demo")?;
    crate::cgroup::mount_point()?;
    if a.prefix.is_empty()
        || a.prefix.len() > 12
        || !a.prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        bail!("--prefix '{}' must be 1 to 12 characters of a-z, 0-9 and '-'", a.prefix);
    }
    // The demo's own instance, so that it never touches a netattr the operator loaded.
    let mut g = g.clone();
    if g.pin_dir == std::path::Path::new(DEFAULT_PIN_DIR) {
        g.pin_dir = PathBuf::from(format!("/sys/fs/bpf/{}", a.prefix));
    }
    let demo = Demo { g: &g, prefix: &a.prefix, keep: a.keep };
    demo.teardown(false); // what an earlier, killed demo with this prefix left
    if a.clean {
        eprintln!("netattr: demo: removed what the demo '{}' left, if anything", a.prefix);
        return Ok(ExitCode::SUCCESS);
    }
    signals::catch();
    let result = demo.run(a);
    demo.teardown(a.keep);
    result
}

struct Demo<'a> {
    g: &'a Global,
    prefix: &'a str,
    keep: bool,
}

impl Demo<'_> {
    fn run(&self, a: &DemoArgs) -> Result<ExitCode> {
        let runtime = workloads::choose(a.runtime)?;
        self.netattr(&["load", "--breakdown", "iface,port,class"])?;
        eprintln!("netattr: demo: starting 3 workloads as {}", runtime.describe());
        let mut w = Workloads::start(self.prefix, runtime, self.keep)?;
        let mut attach = vec!["attach".to_string()];
        for wl in &w.list {
            attach.extend(["--iface".to_string(), wl.host_veth.clone()]);
        }
        self.netattr(&attach.iter().map(String::as_str).collect::<Vec<_>>())?;

        let stop = Arc::new(AtomicBool::new(false));
        let recording = self.record(stop.clone())?;
        let targets = w.list.iter().map(|wl| (wl.role, wl.ip)).collect();
        let generators = traffic::generate(targets, stop.clone());
        let started = Instant::now();
        let until = a.duration.map(|s| started + Duration::from_secs_f64(s));
        let shown = self.show(until);
        stop.store(true, Ordering::Relaxed);
        for h in generators {
            let _ = h.join();
        }
        let _ = recording.join(); // its last cycle
        if shown.is_ok() {
            self.print_report(started.elapsed())?;
        }
        if !self.keep {
            w.stop();
        }
        if self.keep {
            self.print_kept(&w);
        }
        shown.map(|()| ExitCode::SUCCESS)
    }

    /// `top` on a terminal, else a stats report every second (NDJSON with --format ndjson).
    fn show(&self, until: Option<Instant>) -> Result<()> {
        let source = Some(crate::bpf::Source::Tc);
        if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
            return crate::top::show(self.g, source, Duration::from_secs(1), until);
        }
        let spec = live::Spec {
            source,
            by: By::Cgroup,
            view: View { sort: SortKey::Tx, top: None, resolve: true },
            every: Duration::from_secs(1),
            count: None,
            until,
            classes: vec![],
            labels: false,
        };
        live::stream(&self.g.place(), &spec, |report, first| {
            output::emit_interval(self.g.format, report, first)
        })
    }

    /// Runs a netattr subcommand against the demo's pin directory, showing it on stderr.
    fn netattr(&self, args: &[&str]) -> Result<()> {
        let pin = self.g.pin_dir.display().to_string();
        eprintln!("netattr: demo: netattr --pin-dir {pin} {}", args.join(" "));
        let out = Command::new(std::env::current_exe()?)
            .args(["--pin-dir", &pin])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .with_context(|| format!("running netattr {}", args[0]))?;
        if !out.status.success() {
            bail!("{}", String::from_utf8_lossy(&out.stderr).trim().trim_start_matches("netattr: "));
        }
        Ok(())
    }

    /// The demo's recorder: a ledger of its own (in /run, removed with the demo), a cycle
    /// every 2 s, a last one when `stop` is set.
    fn record(&self, stop: Arc<AtomicBool>) -> Result<std::thread::JoinHandle<()>> {
        let ledger = workloads::ledger(self.prefix);
        let _ = std::fs::remove_file(&ledger);
        crate::ledger::Ledger::open_rw(&ledger)?;
        eprintln!(
            "netattr: demo: netattr --pin-dir {} record --interval 2 --ledger {}",
            self.g.pin_dir.display(),
            ledger.display()
        );
        let settings = crate::cli::LedgerArgs {
            ledger,
            keep_5m: 1,
            keep_hours: 1,
            keep_days: 1,
            collect_every: 60.0,
            bill_batch: 1000,
            rebind: false,
            export: crate::cli::ExportOpts {
                to: None,
                node: None,
                zone: String::new(),
                export_interval: 60.0,
                password_file: None,
            },
        }
        .settings(2.0, false, None);
        let place = self.g.place();
        Ok(std::thread::spawn(move || {
            if let Err(e) = crate::core::recorder::run(&place, &settings, &|| stop.load(Ordering::Relaxed)) {
                eprintln!("netattr: demo: the recorder stopped: {e:#}");
            }
        }))
    }

    /// What the ledger billed each workload while the demo ran (tc source), as `netattr
    /// report` prints it: on stdout after `top`, on stderr after a stream (whose stdout is
    /// its reports).
    fn print_report(&self, ran: Duration) -> Result<()> {
        use crate::ledger::{query, report, Ledger, Resolution};
        let ledger = Ledger::open_ro(&workloads::ledger(self.prefix))?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
        let since = Resolution::FiveMinutes.bucket(now - ran.as_secs() as i64 - 1);
        let period = query::Period { since, until: now + 1 };
        let ask = query::Ask { period, by: &[query::Field::Name], classes: &[], p95: false, reallocate: &[] };
        let r = report::build(&ledger, ask, Some("tc"), None, now)?;
        eprintln!(
            "netattr: demo: what the ledger billed (netattr report --ledger {} --since {since} --by name --source tc):",
            ledger.path.display()
        );
        let mut text = Vec::new();
        output::Report::render_table(&r, &mut text)?;
        if std::io::stdout().is_terminal() {
            output::emit_bytes(&text)?;
        } else {
            eprint!("{}", String::from_utf8_lossy(&text));
        }
        Ok(())
    }

    /// Removes the workloads and the demo's netattr (unless kept). Never fails: a step that
    /// finds nothing to do is skipped, and the next run removes what a killed one left.
    fn teardown(&self, keep: bool) {
        if keep {
            return;
        }
        let pin = self.g.pin_dir.display().to_string();
        let _ = Command::new(std::env::current_exe().unwrap_or_else(|_| "netattr".into()))
            .args(["--pin-dir", &pin, "cleanup"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        workloads::remove(self.prefix);
    }

    fn print_kept(&self, w: &Workloads) {
        let pin = self.g.pin_dir.display();
        eprintln!(
            "netattr: demo: kept {} workloads ({}) and netattr at {pin}; traffic has stopped.\n  \
             look: netattr --pin-dir {pin} stats\n  remove: netattr --pin-dir {pin} demo --prefix {} --clean",
            w.list.len(),
            w.runtime.describe(),
            self.prefix
        );
    }
}

/// `netattr demo-server`: the namespace workloads' HTTP responder (hidden).
pub fn serve(a: &crate::cli::DemoServerArgs) -> Result<ExitCode> {
    if let Some(port) = a.sink {
        traffic::sink(port)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(to) = a.upload {
        let rate = a.upload_rate.max(1);
        std::thread::spawn(move || traffic::upload(to, rate));
    }
    traffic::serve(a.object)?;
    Ok(ExitCode::SUCCESS)
}
