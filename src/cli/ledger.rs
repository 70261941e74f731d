//! The ledger's options: `record`, `report`, `status --ledger` and `serve --record`.
use std::path::PathBuf;

use clap::Args;

use super::parse::{bytes_arg, positive_seconds, report_field, time_arg};

/// Where the ledger is and how long its rows are kept (`record`, `serve --record`).
#[derive(Debug, Clone, Args)]
pub struct LedgerArgs {
    /// The ledger: an SQLite database file, made if absent
    #[arg(long, default_value = crate::ledger::DEFAULT_PATH, value_name = "PATH", env = "NETATTR_LEDGER")]
    pub ledger: PathBuf,
    /// Days the 5-minute rows are kept (a monthly 95th percentile needs 31)
    #[arg(long, default_value_t = 40, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_5m: u32,
    /// Days the hourly rows are kept
    #[arg(long, default_value_t = 400, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_hours: u32,
    /// Days the daily rows are kept (monthly rows are kept for ever)
    #[arg(long, default_value_t = 3660, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_days: u32,
    /// Seconds between looks for gone workloads to collect (each asks the kernel about the
    /// cgroups that did not move since the last read and a 64th of the others; a stop always
    /// looks, at every cgroup)
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS", value_parser = positive_seconds)]
    pub collect_every: f64,
    /// Rows billed every cycle while that is all that moved; beyond it each row's last read
    /// in a 5-minute bucket waits in memory (and in the kernel's counters) until the bucket
    /// closes, then is billed in slices over the next bucket's cycles, so that no cycle of
    /// a node with thousands of busy workloads writes them all (a stop bills everything)
    #[arg(long, default_value_t = 1000, value_name = "ROWS", value_parser = clap::value_parser!(u32).range(1..))]
    pub bill_batch: u32,
    /// Record an instance that another ledger path records into this ledger from now on
    /// (after moving the ledger file: one instance has one ledger)
    #[arg(long)]
    pub rebind: bool,
    #[command(flatten)]
    pub export: ExportOpts,
}

impl LedgerArgs {
    /// The recorder's settings with these options.
    pub fn settings(&self, every: f64, once: bool, count: Option<u64>) -> crate::core::recorder::Settings {
        crate::core::recorder::Settings {
            ledger: self.ledger.clone(),
            every: std::time::Duration::from_secs_f64(every),
            once,
            count,
            retention: crate::ledger::bill::Retention {
                five_minutes: i64::from(self.keep_5m) * 86_400,
                hour: i64::from(self.keep_hours) * 86_400,
                day: i64::from(self.keep_days) * 86_400,
            },
            collect_every: std::time::Duration::from_secs_f64(self.collect_every),
            batch: self.bill_batch as usize,
            rebind: self.rebind,
        }
    }
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// Seconds between cycles
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS", value_parser = positive_seconds)]
    pub interval: f64,
    /// One cycle, then exit (for cron or a systemd timer)
    #[arg(long)]
    pub once: bool,
    /// Stop after N cycles
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The ledger whose recorder to show
    #[arg(long, default_value = crate::ledger::DEFAULT_PATH, value_name = "PATH", env = "NETATTR_LEDGER")]
    pub ledger: PathBuf,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The ledger to read (a copy of it works: no root, no kernel needed)
    #[arg(long, default_value = crate::ledger::DEFAULT_PATH, value_name = "PATH", env = "NETATTR_LEDGER")]
    pub ledger: PathBuf,
    /// Report over the fleet store instead: every node's exported rows,
    /// clickhouse://[USER@]HOST[:PORT]/DATABASE (clickhouses:// for HTTPS)
    #[arg(long, value_name = "URL", conflicts_with = "wait")]
    pub from: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Price the bytes: a prices file (per GiB, per class and direction, a currency,
    /// validity periods, overrides per label value); the report becomes a bill with unit
    /// price and cost per line (--format focus writes FOCUS rows): docs/fleet.md
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,
    /// today, yesterday, this-month (the default) or last-month (months start on
    /// --billing-day)
    #[arg(long, value_name = "NAME", conflicts_with_all = ["since", "until"],
          value_parser = ["today", "yesterday", "this-month", "last-month"])]
    pub period: Option<String>,
    /// Start of the period: YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] with Z or an offset such as
    /// +01:00 (UTC when neither), or unix seconds
    #[arg(long, value_name = "TIME", value_parser = time_arg)]
    pub since: Option<i64>,
    /// End of the period (exclusive), same forms; default: now
    #[arg(long, value_name = "TIME", value_parser = time_arg)]
    pub until: Option<i64>,
    /// The day billing months start on (1 to 28: a day every month has)
    #[arg(long, default_value_t = 1, value_name = "DAY", value_parser = clap::value_parser!(u32).range(1..=28))]
    pub billing_day: u32,
    /// Group by these (comma-separated): name, pod_namespace, pod, kind, runtime,
    /// identity, class, label:KEY; with --from, node and zone too
    #[arg(long, value_delimiter = ',', value_name = "FIELD", value_parser = report_field)]
    pub by: Vec<crate::model::Field>,
    /// Which source (default: socket where the ledger has it, else tc); never both added
    #[arg(long, value_enum)]
    pub source: Option<crate::bpf::Source>,
    /// Only traffic to these destination classes (comma-separated; the ledger has them
    /// where the recorder's load counted classes: 'load --breakdown class')
    #[arg(long, value_delimiter = ',', value_name = "CLASS")]
    pub class: Vec<String>,
    /// Also the 95th percentile of each group's 5-minute rates (the transit-billing figure;
    /// it reads every 5-minute row of the period)
    #[arg(long)]
    pub p95: bool,
    /// Shared workloads, by name or by label (KEY=VALUE: every workload whose labels hold it;
    /// comma-separated; an ingress proxy, say): their traffic with peers other than workloads
    /// (the internet, addresses, the host) is split across the workloads they served, in
    /// proportion to the bytes each exchanged with them (the pair table of 'load --breakdown
    /// peer'; groups say allocated_from)
    #[arg(long, value_delimiter = ',', value_name = "NAME|KEY=VALUE", conflicts_with = "p95")]
    pub reallocate: Vec<String>,
    /// Alert mode: list only the groups over this many bytes (rx + tx, e.g. 500GiB) and
    /// exit 3 if there are any (1 is an error)
    #[arg(long, value_name = "BYTES", value_parser = bytes_arg)]
    pub limit: Option<u64>,
    /// Wait up to SECONDS for the ledger to hold everything its recorder read up to the
    /// period's end (or now): reads wait for their 5-minute bucket to close on a busy node
    #[arg(long, value_name = "SECONDS", value_parser = positive_seconds)]
    pub wait: Option<f64>,
}

/// How to reach a fleet store (`export`, `report --from`).
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// A file holding the store user's password (else NETATTR_CLICKHOUSE_PASSWORD; neither:
    /// no password). Never on the command line.
    #[arg(long, value_name = "PATH")]
    pub password_file: Option<PathBuf>,
    /// Seconds a request to the store may take before it is given up (and retried)
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS", value_parser = positive_seconds)]
    pub timeout: f64,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The fleet store: clickhouse://[USER@]HOST[:PORT]/DATABASE (clickhouses:// for HTTPS)
    #[arg(long, value_name = "URL", env = "NETATTR_EXPORT_TO")]
    pub to: String,
    /// The ledger to export (read, and its export cursor moved)
    #[arg(long, default_value = crate::ledger::DEFAULT_PATH, value_name = "PATH", env = "NETATTR_LEDGER")]
    pub ledger: PathBuf,
    /// This node's name on every row (default: the host name); a ledger keeps its name in a
    /// store
    #[arg(long, value_name = "NAME", env = "NETATTR_NODE")]
    pub node: Option<String>,
    /// This node's zone on every row
    #[arg(long, value_name = "ZONE", default_value = "", env = "NETATTR_ZONE")]
    pub zone: String,
    /// Make the database and netattr's tables where missing, then export
    #[arg(long)]
    pub init: bool,
    /// Keep exporting what the recorder bills, every --interval, until SIGTERM; failures are
    /// retried with backoff, the backlog kept in the ledger
    #[arg(long)]
    pub follow: bool,
    /// Seconds between exports with --follow
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS", value_parser = positive_seconds)]
    pub interval: f64,
    /// Rows a batch holds at most
    #[arg(long, default_value_t = 10_000, value_name = "ROWS", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub batch: u64,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Exporting beside the recorder (`record`, `serve --record`).
#[derive(Debug, Clone, Args)]
pub struct ExportOpts {
    /// Also export the ledger to the fleet store from this process, every --export-interval:
    /// clickhouse://[USER@]HOST[:PORT]/DATABASE (what 'netattr export --follow' does)
    #[arg(long = "export", value_name = "URL", env = "NETATTR_EXPORT_TO")]
    pub to: Option<String>,
    /// This node's name on exported rows (default: the host name)
    #[arg(long, value_name = "NAME", env = "NETATTR_NODE")]
    pub node: Option<String>,
    /// This node's zone on exported rows
    #[arg(long = "export-zone", value_name = "ZONE", default_value = "", env = "NETATTR_ZONE")]
    pub zone: String,
    /// Seconds between exports
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS", value_parser = positive_seconds)]
    pub export_interval: f64,
    /// A file holding the store user's password (else NETATTR_CLICKHOUSE_PASSWORD)
    #[arg(long = "export-password-file", value_name = "PATH")]
    pub password_file: Option<PathBuf>,
}

impl ExportOpts {
    /// The export to follow beside the recorder, if --export is given.
    pub fn following(&self) -> anyhow::Result<Option<crate::core::exporting::Following>> {
        let Some(url) = &self.to else { return Ok(None) };
        let store = crate::fleet::store::Store::new(
            url,
            self.password_file.as_deref(),
            std::time::Duration::from_secs(30),
        )?;
        let node = crate::core::exporting::node_name(self.node.as_deref())?;
        let exporter = crate::fleet::export::Exporter { store, node, zone: self.zone.clone(), batch: 10_000 };
        Ok(Some(crate::core::exporting::Following {
            exporter,
            interval: std::time::Duration::from_secs_f64(self.export_interval),
            init: false,
        }))
    }
}
