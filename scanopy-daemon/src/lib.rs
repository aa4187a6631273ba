//! scanopy-daemon: where scanning runs.
//!
//! `scanopy-daemon scan [TARGET…]` is a one-shot scan printed as a table, JSON, NDJSON or CSV
//! (see [`scan`]). The service mode (`run`: pull and push, spool) is issue #5 and not built yet.

pub mod cli;
pub mod output;
pub mod scan;
pub mod system;

use std::process::ExitCode;

/// Exit status: bad usage or a bad target.
pub const EXIT_USAGE: u8 = 2;
/// Exit status: interrupted (partial results were printed).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Runs the command line and returns its exit status.
pub fn main() -> ExitCode {
    use clap::Parser;
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        cli::Command::Scan(args) => scan::run(args),
        cli::Command::Run => {
            eprintln!(
                "scanopy-daemon: `run` (the service that scans for a server) is not built yet (issue #5); \
                 use `scanopy-daemon scan` for one-shot scans"
            );
            ExitCode::FAILURE
        }
    }
}
