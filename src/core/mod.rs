//! The core: between the subcommands (`cmd/`, which parse, call the core and render) and the
//! BPF object (`bpf/`, which knows the maps). It reads the counters once per snapshot
//! (`reader`), names cgroups (`namer`), shapes rows and reports (`row`, `report`), follows an
//! instance over time (`live`), describes it (`inventory`), exports it (`metrics`, `scrape`,
//! `serving`), attaches it (`attach`), detaches it (`hooks`) and retires the counters of gone
//! cgroups exactly (`retire`).
pub mod addrbook;
pub mod attach;
pub mod check;
pub mod classes;
pub mod events;
pub mod exporting;
pub mod group;
pub mod hooks;
pub mod inventory;
pub mod live;
pub mod load;
pub mod metrics;
pub mod namer;
pub mod peername;
pub mod peers;
pub mod reader;
pub mod recorder;
pub mod report;
pub mod retire;
pub mod row;
pub mod rowjson;
pub mod scrape;
pub mod serving;
pub mod status;
pub mod unbilled;

/// What the core needs of the command line: where the instance is pinned, and where names
/// come from. `cli::Global::place` builds it, so that the core does not depend on the CLI.
#[derive(Debug, Clone)]
pub struct Place {
    pub pin_dir: std::path::PathBuf,
    pub names: crate::names::Sources,
}
