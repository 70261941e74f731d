//! The command line: global options and one Args struct per subcommand (clap derive).
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::core::hooks::Direction;
pub use crate::core::row::{By, SortKey};

mod global;
mod ledger;
mod parse;
pub use global::{Global, DEFAULT_PIN_DIR};
pub use ledger::*;
use parse::{group_field, positive_seconds};

#[derive(Debug, Parser)]
#[command(
    name = "netattr",
    version,
    about = "Which container, pod or service is using the network, measured in the kernel with eBPF",
    long_about = "netattr counts every packet in the kernel (eBPF on tc hooks) and attributes it \
to the cgroup of the socket behind it, so an operator sees which container, pod or service uses \
the network.\n\nThe BPF object is loaded and pinned once ('netattr load'); the other \
subcommands attach it, read it and clean it up, each as a separate process:\n\n  \
netattr load && netattr attach --all-veth && netattr stats --format json; netattr cleanup",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check that this host can run netattr (kernel, BTF, JIT, bpffs, cgroup2, privileges)
    Check,
    /// Load the BPF object and pin its programs and maps under --pin-dir
    Load(LoadArgs),
    /// Attach the pinned programs to interfaces (tc: clsact ingress/egress) and/or a cgroup
    /// (socket: --cgroup)
    Attach(AttachArgs),
    /// Remove netattr's filters from interfaces and/or its socket programs from a cgroup
    Detach(DetachArgs),
    /// Print the counters per cgroup
    Stats(StatsArgs),
    /// Show what is pinned and attached, with map fill and health counters, and the
    /// recorder's last cycle
    Status(StatusArgs),
    /// Name cgroup ids: path, kind, runtime, container id, pod UID; also for cgroups gone
    Resolve(ResolveArgs),
    /// A live full-screen view of who uses the network (needs a terminal)
    Top(TopArgs),
    /// Stream the cgroups counted for the first time, with their identity (NDJSON with
    /// --format json or ndjson)
    Events(EventsArgs),
    /// Detach from everything and remove the pins (safe to run at any time)
    Cleanup,
    /// Print the final counters of cgroups that no longer exist, then remove them from the maps
    Reap,
    /// Show or change the destination classes of a loaded instance (no reload, no packet lost)
    Classes(ClassesArgs),
    /// Record the counters into the ledger (SQLite) every interval, billing each workload's
    /// traffic exactly once and collecting the workloads that are gone
    Record(RecordArgs),
    /// Billing reports from the ledger alone (no root, no kernel): totals per group for a
    /// period, 95th percentiles, an alert mode
    Report(ReportArgs),
    /// Ship the ledger's rows to the fleet store (ClickHouse) exactly once, once or
    /// following the recorder
    Export(ExportArgs),
    /// Export the counters to Prometheus: an HTTP server answering /metrics and /healthz
    Serve(ServeArgs),
    /// Run three demo workloads (a web server under load, key-value chatter, a bulk sender
    /// at ~50 Mbit/s that also uploads to a pretend internet behind a NAT uplink), attach
    /// netattr to them and show who uses the network and the uplink; removes everything it
    /// made when it ends
    Demo(DemoArgs),
    /// The demo's HTTP responder inside a namespace workload (started by 'demo')
    #[command(hide = true)]
    DemoServer(DemoServerArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Capacity of the per-cgroup counter map (two more slots are reserved for the
    /// unresolved and overflow buckets)
    #[arg(long, default_value_t = 10240, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub max_entries: u32,
    /// If netattr is already loaded with these settings, keep its pinned maps and counters
    /// and exit 0; if its settings differ, say how and exit 1
    #[arg(long)]
    pub reuse: bool,
    /// With --reuse: keep a loaded instance even where its settings differ from these flags
    /// (the differences are said on stderr)
    #[arg(long, requires = "reuse")]
    pub accept_existing: bool,
    /// Also count these breakdowns (comma-separated): per (cgroup, interface) for the tc
    /// source, per (cgroup, protocol, service port) and per (cgroup, destination class) for
    /// both. Each costs map lookups per packet, so they are off unless asked for.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "KIND")]
    pub breakdown: Vec<Breakdown>,
    /// With --breakdown peer: capacity of the peer map, in (cgroup, remote address) rows
    /// (memory is taken as peers appear; a new peer that finds it full is counted in its
    /// class's "other peers" row)
    #[arg(long, default_value_t = 16384, value_parser = clap::value_parser!(u32).range(1..=4_194_304))]
    pub peer_entries: u32,
    /// With --breakdown peer: the classes counted per remote address (comma-separated;
    /// default: every class but internet and non-ip); the others show their class as the peer
    #[arg(long, value_delimiter = ',', value_name = "CLASS")]
    pub peer_classes: Vec<String>,
    /// With --breakdown class: a classes file (TOML) that adds or overrides destination
    /// classes by CIDR; 'netattr classes set' changes them later without a reload
    #[arg(long, value_name = "FILE")]
    pub classes: Option<PathBuf>,
    /// This node's zone, where the classes file maps zones to prefixes ([zones]): its own
    /// zone's are class same-zone, the others' cross-zone
    #[arg(long, value_name = "ZONE", env = "NETATTR_ZONE")]
    pub zone: Option<String>,
    /// Count every cgroup in its hash entry, without the per-cgroup slot fast path (what
    /// kernels before 5.12, which lack BPF compare-and-swap, always do). The counts are the
    /// same; each packet costs a hash lookup more.
    #[arg(long)]
    pub no_fast_path: bool,
}

#[derive(Debug, Args)]
#[group(id = "target", required = true, multiple = true)]
pub struct IfaceSelection {
    /// tc: every interface of link kind veth in this network namespace
    #[arg(long, conflicts_with = "ifaces")]
    pub all_veth: bool,
    /// tc: an interface by name (repeatable)
    #[arg(long = "iface", short = 'i', value_name = "NAME")]
    pub ifaces: Vec<String>,
    /// socket: attach the cgroup_skb programs to this cgroup, a path below the cgroup2
    /// mount (default: the mount's root, i.e. every socket on the host)
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = "/")]
    pub cgroup: Option<String>,
}

#[derive(Debug, Args)]
#[group(id = "detach_target", required = true, multiple = true)]
pub struct DetachSelection {
    /// tc: every interface of link kind veth in this network namespace
    #[arg(long, conflicts_with = "ifaces")]
    pub all_veth: bool,
    /// tc: an interface by name (repeatable)
    #[arg(long = "iface", short = 'i', value_name = "NAME")]
    pub ifaces: Vec<String>,
    /// socket: detach the cgroup_skb programs from their cgroup
    #[arg(long)]
    pub cgroup: bool,
    /// Everything this instance attached: every interface and the cgroup
    #[arg(long, conflicts_with_all = ["all_veth", "ifaces", "cgroup"])]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    #[command(flatten)]
    pub select: IfaceSelection,
    /// Which hooks to attach
    #[arg(long, value_enum, default_value_t = Direction::Both)]
    pub direction: Direction,
    /// With --all-veth: keep running, attach to veths as they appear (recording their
    /// owners), forget removed ones; stop with Ctrl-C or SIGTERM
    #[arg(long, requires = "all_veth")]
    pub watch: bool,
}

#[derive(Debug, Args)]
pub struct DetachArgs {
    #[command(flatten)]
    pub select: DetachSelection,
    /// Which hooks to detach
    #[arg(long, value_enum, default_value_t = Direction::Both)]
    pub direction: Direction,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Which counters to read (default: socket when attached to a cgroup, else tc).
    /// Sources are never added together.
    #[arg(long, value_enum)]
    pub source: Option<crate::bpf::Source>,
    /// One row per cgroup, per (cgroup, interface) (tc only), per (cgroup, protocol,
    /// service port), per (cgroup, destination class), or per (cgroup, class, remote address)
    #[arg(long, value_enum, default_value_t = By::Cgroup)]
    pub by: By,
    /// With --by class or --by peer: only these classes (comma-separated), e.g. '--by class --class
    /// internet --sort tx' for who sends the most to the internet
    #[arg(long, value_delimiter = ',', value_name = "NAME")]
    pub class: Vec<String>,
    /// Sum the rows per group of these fields (comma-separated), as `report` groups the
    /// ledger: name (a pod's containers), pod_namespace, pod, kind, runtime, identity,
    /// class (with --by class) or label:KEY
    #[arg(long, value_delimiter = ',', value_name = "FIELD", value_parser = group_field)]
    pub group: Vec<crate::model::Field>,
    /// Order of the rows
    #[arg(long, value_enum, default_value_t = SortKey::Total)]
    pub sort: SortKey,
    /// Print only the first N rows (the unresolved and overflow buckets are always shown)
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// Print cgroup ids only: no paths, identities or names (cheapest for frequent polling)
    #[arg(long)]
    pub no_resolve: bool,
    /// Print rates every SECONDS (one report per interval; NDJSON with --format ndjson)
    #[arg(long, value_name = "SECONDS", value_parser = positive_seconds)]
    pub interval: Option<f64>,
    /// With --interval: stop after N reports
    #[arg(long, value_name = "N", requires = "interval")]
    pub count: Option<u64>,
    /// Write to FILE instead of stdout, atomically (a temporary file renamed over it): for
    /// node_exporter's textfile collector, '--format prometheus --output DIR/netattr.prom'
    #[arg(long, value_name = "FILE", conflicts_with = "interval")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Breakdown {
    /// per (cgroup, interface), tc source
    Iface,
    /// per (cgroup, protocol, service port), both sources
    Port,
    /// per (cgroup, destination class: loopback, host, private, internet, ...), both sources
    Class,
    /// per (cgroup, remote address) within the peer classes, both sources (adds class)
    Peer,
}

#[derive(Debug, Args)]
pub struct ClassesArgs {
    #[command(subcommand)]
    pub action: Option<ClassesAction>,
}

#[derive(Debug, Subcommand)]
pub enum ClassesAction {
    /// List each class with its id and prefixes (the default)
    Show,
    /// Replace the classes with the built-in ones plus FILE's (TOML: '[classes]' then
    /// 'name = ["CIDR", ...]'); classes left out keep their counters
    Set {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// This node's zone, where FILE maps zones to prefixes ([zones]): its own zone's are
        /// class same-zone, the others' cross-zone
        #[arg(long, value_name = "ZONE", env = "NETATTR_ZONE")]
        zone: Option<String>,
    },
    /// Back to the built-in classes alone
    Reset,
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// cgroup ids (default: every id netattr has counted)
    #[arg(value_name = "ID")]
    pub ids: Vec<u64>,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// Seconds between refreshes
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS", value_parser = positive_seconds)]
    pub interval: f64,
    /// Which counters to show (default: socket when attached to a cgroup, else tc)
    #[arg(long, value_enum)]
    pub source: Option<crate::bpf::Source>,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Exit after N events (default: run until interrupted or stdout is closed)
    #[arg(long, value_name = "N")]
    pub count: Option<usize>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on; loopback unless told otherwise (0.0.0.0:9477 for a scrape from
    /// another host)
    #[arg(long, default_value = "127.0.0.1:9477", value_name = "ADDR:PORT")]
    pub listen: std::net::SocketAddr,
    /// Which counters to export (default: socket when attached to a cgroup, else tc)
    #[arg(long, value_enum)]
    pub source: Option<crate::bpf::Source>,
    /// Stop exporting a cgroup once it has been gone this long (e.g. 30s, 5m, 1h); its
    /// counters stay in the maps until 'netattr reap'
    #[arg(long, default_value = "5m", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub retire_after: std::time::Duration,
    /// Also record the counters into the ledger (what 'netattr record' does), in this process
    #[arg(long)]
    pub record: bool,
    /// With --record: seconds between recording cycles
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS", value_parser = positive_seconds, requires = "record")]
    pub record_interval: f64,
    #[command(flatten)]
    pub ledger: LedgerArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// End after SECONDS (default: run until q, Ctrl-C or SIGTERM)
    #[arg(long, value_name = "SECONDS", value_parser = positive_seconds)]
    pub duration: Option<f64>,
    /// Leave the workloads and netattr loaded and attached when the demo ends (traffic
    /// stops); 'netattr demo --clean' removes them
    #[arg(long)]
    pub keep: bool,
    /// Remove what an earlier demo with this prefix left (after --keep or a kill), and exit
    #[arg(long, conflicts_with_all = ["keep", "duration"])]
    pub clean: bool,
    /// How to run the workloads
    #[arg(long, value_enum, default_value_t = Runtime::Auto)]
    pub runtime: Runtime,
    /// Names of what the demo creates (containers, namespaces, cgroups, pin directory
    /// unless --pin-dir is given): 1 to 12 characters of a-z, 0-9 and '-'
    #[arg(long, default_value = "netattr-demo", value_name = "NAME")]
    pub prefix: String,
}

/// How the demo runs its workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Runtime {
    /// Docker when the engine answers and has the image, else namespaces
    Auto,
    /// Docker containers from netattr-busybox:latest (scripts/docker-image.sh builds it)
    Docker,
    /// Network namespaces with their own cgroups (needs only iproute2)
    Netns,
}

impl Runtime {
    pub fn describe(self) -> &'static str {
        match self {
            Runtime::Docker => "Docker containers",
            _ => "network namespaces with their own cgroups",
        }
    }
}

#[derive(Debug, Args)]
pub struct DemoServerArgs {
    /// Bytes to answer each request with
    #[arg(long, default_value_t = 0)]
    pub object: u64,
    /// Be the demo's internet instead: read and discard what arrives on this port
    #[arg(long, value_name = "PORT")]
    pub sink: Option<u16>,
    /// Also upload to ADDR:PORT (the demo's internet)
    #[arg(long, value_name = "ADDR:PORT")]
    pub upload: Option<std::net::SocketAddr>,
    /// Bytes per second to upload
    #[arg(long, default_value_t = 5_000_000)]
    pub upload_rate: u64,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
