use std::io::{self, ErrorKind};
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    netattr::output::check_stdout_at_start();
    let cli = match netattr::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints usage errors to stderr and --help/--version to stdout.
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match netattr::run(cli) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("netattr: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// `netattr stats | head` closes our stdout early: that is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == ErrorKind::BrokenPipe))
}
