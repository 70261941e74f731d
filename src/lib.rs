//! netattr: per-cgroup network accounting with eBPF. The binary is a thin wrapper around
//! [`run`]; every subcommand lives in its own module under [`cmd`], which parses, calls
//! [`core`] and renders through [`output`].
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]
pub(crate) mod billing;
pub mod bpf;
pub mod cgroup;
pub mod cli;
pub(crate) mod cmd;
pub mod core;
pub mod docs;
pub mod ffi;
pub mod fleet;
pub mod identity;
pub(crate) mod iface;
pub mod ledger;
pub mod model;
pub mod names;
pub(crate) mod netlink;
pub mod output;
pub(crate) mod owner;
pub(crate) mod podlabels;
pub(crate) mod rates;
pub(crate) mod signals;
pub(crate) mod sock;
pub mod sys;
pub(crate) mod tc;
pub mod text;
pub(crate) mod top;

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
