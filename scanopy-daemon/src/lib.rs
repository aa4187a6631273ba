//! scanopy-daemon: where scanning runs.
//!
//! # Overview
//! `scanopy-daemon scan [TARGET…]` is a one-shot scan printed as a table, JSON, NDJSON or CSV
//! (see [`scan`]): it checks everything typed before sending a packet, picks the scanners the
//! machine allows (ARP and SYN sweeps with CAP_NET_RAW, TCP discovery and connections without;
//! Docker where an engine is configured), runs them in one pipeline and prints the merged
//! devices.
//!
//! `scanopy-daemon run` is the service that scans for a server ([`agent`]): it registers,
//! polls for jobs (pull) or takes the server's signed calls ([`push`]), runs each job
//! ([`service::run_job`]) and delivers its results through an on-disk [`spool`], so nothing
//! is lost while the server is away. The server's in-process local daemon uses
//! [`service::run_job`] with a sink of its own, and [`push::PushClient`] to call push daemons.
//!
//! # Example
//! The command line is a clap parser, usable from a program or a test:
//! ```
//! use clap::Parser;
//! use scanopy_daemon::cli::{Cli, Command, Format};
//!
//! let cli = Cli::try_parse_from(["scanopy-daemon", "scan", "10.0.0.0/24", "-p", "22,80", "-f", "json"]).unwrap();
//! let Some(Command::Scan(args)) = cli.command else { unreachable!() };
//! assert_eq!(args.targets, ["10.0.0.0/24"]);
//! assert_eq!(args.format, Some(Format::Json));
//! ```

pub mod agent;
pub mod cli;
pub mod client;
pub mod files;
pub mod generate;
pub mod output;
pub mod passive;
pub mod push;
pub mod scan;
pub mod service;
pub mod setup;
pub mod spool;
mod spool_sink;
pub mod system;

use std::process::ExitCode;

/// Exit status: bad usage or a bad target.
pub const EXIT_USAGE: u8 = 2;
/// Exit status: interrupted (partial results were printed).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Runs the command line and returns its exit status.
pub fn main() -> ExitCode {
    // What this process creates (spool, job.json) is its owner's alone, whatever else sets.
    files::private_umask();
    let cli = match cli::parse_with_config(std::env::args_os().collect()) {
        Ok(c) => c,
        Err(cli::ParseError::Clap(e)) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
        Err(cli::ParseError::Config(e)) => {
            eprintln!("scanopy-daemon: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match (cli.command, cli.generate) {
        (_, Some(kind)) => generate::to_stdout(kind, <cli::Cli as clap::CommandFactory>::command()),
        (Some(cli::Command::Scan(args)), None) => scan::run(args),
        (Some(cli::Command::Run(args)), None) => run(args),
        // clap's arg_required_else_help answers a bare invocation with the help, before this.
        (None, None) => ExitCode::from(EXIT_USAGE),
    }
}

/// `scanopy-daemon run`: checks the settings, starts the logs and runs the service on a
/// current-thread runtime.
fn run(args: cli::RunArgs) -> ExitCode {
    let usage = |msg: &str| {
        eprintln!("scanopy-daemon: {msg}");
        ExitCode::from(EXIT_USAGE)
    };
    let Some(server) = args.server.clone().filter(|s| !s.is_empty()) else {
        return usage(
            "`run` needs --server URL (or SCANOPY_SERVER, or `server` in the config file)",
        );
    };
    if let Err(e) = client::check_server_url(&server) {
        return usage(&e);
    }
    let Some(key) = args.key.clone().filter(|s| !s.is_empty()) else {
        return usage(
            "`run` needs the daemon key: SCANOPY_KEY, `key` in the config file, or --key",
        );
    };
    let mode = match args.mode {
        cli::Mode::Pull => scanopy_core::protocol::DaemonMode::Pull,
        cli::Mode::Push => scanopy_core::protocol::DaemonMode::Push,
    };
    if mode == scanopy_core::protocol::DaemonMode::Push && args.server_public_key.is_none() {
        return usage(
            "push mode needs --server-public-key (the server's Ed25519 public key, base64)",
        );
    }
    let snmp = match crate::setup::credentials(&args.snmp_community, &args.snmp_v3) {
        Ok(c) => c,
        Err(e) => return usage(&e),
    };
    init_logs(args.log_format);
    if let Some(c) = &args.config {
        files::warn_if_readable_by_others(c, "the config file");
    }
    let cfg = agent::AgentConfig {
        server,
        key,
        name: args.name.clone().unwrap_or_else(host_name),
        mode,
        listen: args.listen,
        advertise_url: args.advertise_url.clone(),
        server_public_key: args.server_public_key.clone(),
        data_dir: args.data_dir.clone(),
        spool_max_bytes: args.spool_max_mb.saturating_mul(1024 * 1024),
        ca_cert: args.ca_cert.clone(),
        retry_max: std::time::Duration::from_millis(args.retry_max_ms.max(100)),
        passive: !args.no_passive,
        snmp,
    };
    // Scans run on this runtime: current-thread, measured faster for the connect sweep.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("failed to start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(agent::run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logs(format: cli::LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        cli::LogFormat::Text => b.try_init(),
        cli::LogFormat::Json => b.json().try_init(),
    };
}

fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "scanopy-daemon".to_owned())
}
