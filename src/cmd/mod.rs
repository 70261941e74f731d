//! One module per subcommand, each with one `execute`.
pub mod attach;
pub mod check;
pub mod classes;
pub mod cleanup;
pub mod demo;
pub mod detach;
pub mod events;
pub mod export;
pub mod load;
pub mod reap;
pub mod record;
pub mod report;
pub mod resolve;
pub mod serve;
pub mod stats;
pub mod status;

use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, Command};

pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    let g = &cli.global;
    match &cli.command {
        Command::Check => check::execute(g),
        Command::Load(a) => load::execute(g, a),
        Command::Attach(a) => attach::execute(g, a),
        Command::Detach(a) => detach::execute(g, a),
        Command::Stats(a) => stats::execute(g, a),
        Command::Status(a) => status::execute(g, a),
        Command::Resolve(a) => resolve::execute(g, a),
        Command::Events(a) => events::execute(g, a),
        Command::Top(a) => crate::top::execute(g, a),
        Command::Cleanup => cleanup::execute(g),
        Command::Reap => reap::execute(g),
        Command::Classes(a) => classes::execute(g, a),
        Command::Record(a) => record::execute(g, a),
        Command::Report(a) => report::execute(g, a),
        Command::Export(a) => export::execute(g, a),
        Command::Serve(a) => serve::execute(g, a),
        Command::Demo(a) => demo::execute(g, a),
        Command::DemoServer(a) => demo::serve(a),
        Command::Completions(a) => {
            // Into memory first: clap_complete panics when its writer fails (`> /dev/full`).
            let mut script = Vec::new();
            clap_complete::generate(a.shell, &mut Cli::command(), "netattr", &mut script);
            crate::output::emit_bytes(&script)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
