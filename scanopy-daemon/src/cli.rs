//! The command line.

use clap::{Parser, Subcommand, ValueEnum};

/// scanopy's daemon: network discovery from the command line, or as a service for a server.
#[derive(Debug, Parser)]
#[command(name = "scanopy-daemon", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan targets once and print what was found.
    Scan(ScanArgs),
    /// Run as a service for a scanopy server (not built yet).
    Run,
}

/// Output formats of `scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for people (the default on a terminal).
    Table,
    /// One JSON document.
    Json,
    /// One JSON device a line, as each device completes.
    Ndjson,
    /// One CSV row per service (or per device without services).
    Csv,
}

/// Arguments of `scan`.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Targets: 10.0.0.0/24, 10.0.0.5, 10.0.0.1-50, 10.0.0.1-10.0.1.20, host.example, IPv6 alike.
    /// None: the IPv4 subnets this host is attached to.
    pub targets: Vec<String>,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, short = 'f', value_enum, env = "SCANOPY_FORMAT")]
    pub format: Option<Format>,
    /// Ports: top100, top1000, all, or a list with ranges (22,80,8000-8100).
    #[arg(long, short = 'p', default_value = "top1000", env = "SCANOPY_PORTS")]
    pub ports: String,
    /// Scanners to run, comma separated (available: arp, tcp-ping, tcp, udp, names, docker; default: all,
    /// docker only where DOCKER_HOST is set or /var/run/docker.sock exists).
    #[arg(long, value_delimiter = ',', env = "SCANOPY_SCANNERS")]
    pub scanners: Vec<String>,
    /// Probes per second for the whole scan (0: unlimited).
    #[arg(long, default_value_t = 0, env = "SCANOPY_RATE")]
    pub rate: u32,
    /// Probes in flight at once, across all hosts.
    #[arg(long, default_value_t = 512, env = "SCANOPY_CONCURRENCY")]
    pub concurrency: usize,
    /// Targets to leave out (same forms as targets), comma separated or repeated.
    #[arg(long, value_delimiter = ',', env = "SCANOPY_EXCLUDE")]
    pub exclude: Vec<String>,
    /// Ports never to probe, comma separated.
    #[arg(long, value_delimiter = ',', env = "SCANOPY_EXCLUDE_PORTS")]
    pub exclude_ports: Vec<u16>,
    /// Allow targets larger than a /16.
    #[arg(long, env = "SCANOPY_ALLOW_LARGE")]
    pub allow_large: bool,
    /// Also probe printer ports 9100-9107 (a JetDirect port prints whatever reaches it).
    #[arg(long, env = "SCANOPY_PROBE_PRINTER_PORTS")]
    pub probe_printer_ports: bool,
    /// Connect timeout in milliseconds, before measured round-trip times refine it.
    #[arg(long, default_value_t = 1000, env = "SCANOPY_TIMEOUT_MS")]
    pub timeout_ms: u64,
    /// Only tell open ports from closed ones: no banners, probes or TLS handshakes.
    #[arg(long, env = "SCANOPY_NO_IDENTIFY")]
    pub no_identify: bool,
    /// A service catalogue file of your own (JSON), tried before the built-in rules.
    #[arg(long, env = "SCANOPY_SERVICES")]
    pub services: Option<std::path::PathBuf>,
}
