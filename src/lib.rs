//! netattr: per-cgroup network accounting with eBPF. The binary is a thin wrapper around
//! [`run`]; every subcommand lives in its own module under [`cmd`], which parses, calls
//! [`core`] and renders through [`output`].
pub mod bpf;
pub mod cgroup;
pub mod cli;
pub mod cmd;
pub mod core;
pub mod docs;
pub mod ffi;
pub mod identity;
pub mod iface;
pub mod ledger;
pub mod names;
pub mod netlink;
pub mod output;
pub mod owner;
pub mod rates;
pub mod signals;
pub mod sock;
pub mod sys;
pub mod tc;
pub mod text;
pub mod top;

use std::process::ExitCode;

pub use cli::Cli;

/// Runs one subcommand. Errors are returned to `main`, which prints them once.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // libbpf reports expected conditions (a filter that already exists, a hook with no
    // qdisc) on stderr; netattr turns what matters into its own one-line errors.
    if cli.global.verbose {
        libbpf_rs::set_print(Some((libbpf_rs::PrintLevel::Debug, |_, msg| eprint!("libbpf: {msg}"))));
    } else {
        libbpf_rs::set_print(None);
    }
    cmd::dispatch(cli)
}
