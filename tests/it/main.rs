//! netattr's integration tests: real BPF programs, network namespaces, veths, cgroups and
//! traffic on the running kernel. Run as root; with CI set, a skipped test is a failure.
// Tests and benchmarks fail loudly: unwrap and expect are how they say what broke.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod harness;
mod peer;

mod accounting;
mod billing;
mod bills;
mod breakdown;
mod catalogue;
mod churn;
mod classes;
mod classfiles;
mod core;
mod crash;
mod daemonset;
mod demo;
mod deploy;
mod doccmds;
mod docker;
mod docs;
mod errors;
mod export;
mod fleet;
mod fleetdays;
mod fleetsql;
mod fuzz;
mod group;
mod ledger;
mod live;
mod operator;
mod package;
mod podlabels;
mod private;
mod recording;
mod resolve;
mod slots;
mod whotalks;
mod whotalks_fleet;
mod zones;
