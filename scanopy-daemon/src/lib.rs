//! scanopy-daemon: where scanning runs.
//!
//! # Overview
//! `scanopy-daemon scan [TARGET…]` is a one-shot scan printed as a table, JSON, NDJSON or CSV
//! (see [`scan`]): it checks everything typed before sending a packet, picks the scanners the
//! machine allows (ARP and SYN sweeps with CAP_NET_RAW, TCP discovery and connections without;
//! Docker where an engine is configured), runs them in one pipeline and prints the merged
//! devices. The service mode (`run`: pull and push, spool) is issue #5 and not built yet.
//!
//! # Example
//! The command line is a clap parser, usable from a program or a test:
//! ```
//! use clap::Parser;
//! use scanopy_daemon::cli::{Cli, Command, Format};
//!
//! let cli = Cli::try_parse_from(["scanopy-daemon", "scan", "10.0.0.0/24", "-p", "22,80", "-f", "json"]).unwrap();
//! let Command::Scan(args) = cli.command else { unreachable!() };
//! assert_eq!(args.targets, ["10.0.0.0/24"]);
//! assert_eq!(args.format, Some(Format::Json));
//! ```

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
