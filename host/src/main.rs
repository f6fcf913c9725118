//! The `sluice` binary: parses the command line, runs it, maps errors to exit codes.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = <sluice::cli::Cli as clap::Parser>::parse();
    match sluice::cli::execute(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("sluice: error: {error:#}");
            ExitCode::from(2)
        }
    }
}
