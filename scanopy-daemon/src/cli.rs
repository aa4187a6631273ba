//! The command line.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// scanopy's daemon: network discovery from the command line, or as a service for a server.
#[derive(Debug, Parser)]
#[command(
    name = "scanopy-daemon",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("SCANOPY_GIT_COMMIT"), ")"),
    about,
    arg_required_else_help = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Print the man page or shell completions and exit (for packages).
    #[arg(long, value_enum, exclusive = true, value_name = "KIND")]
    pub generate: Option<crate::generate::Generate>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan targets once and print what was found.
    Scan(ScanArgs),
    /// Run as a service for a scanopy server (pull: polls it; push: it calls this daemon).
    Run(RunArgs),
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
    /// Scanners to run, comma separated (available: arp, ndp, icmp, tcp-ping, tcp, udp, names, docker; default: all,
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
    #[arg(long, env = "SCANOPY_ALLOW_LARGE", value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_large: bool,
    /// Also probe printer ports 9100-9107 (a JetDirect port prints whatever reaches it).
    #[arg(long, env = "SCANOPY_PROBE_PRINTER_PORTS", value_parser = clap::builder::BoolishValueParser::new())]
    pub probe_printer_ports: bool,
    /// Connect timeout in milliseconds, before measured round-trip times refine it.
    #[arg(long, default_value_t = 1000, env = "SCANOPY_TIMEOUT_MS")]
    pub timeout_ms: u64,
    /// Only tell open ports from closed ones: no banners, probes or TLS handshakes.
    #[arg(long, env = "SCANOPY_NO_IDENTIFY", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_identify: bool,
    /// A service catalogue file of your own (JSON), tried before the built-in rules.
    #[arg(long, env = "SCANOPY_SERVICES")]
    pub services: Option<PathBuf>,
    /// SNMP communities to read agents with (v2c, then v1), tried in order; giving one runs
    /// the `snmp` scanner (system group, interfaces, ARP cache, forwarding tables, LLDP
    /// neighbours) unless --scanners is given. A secret: prefer SCANOPY_SNMP_COMMUNITY.
    #[arg(
        long,
        value_delimiter = ',',
        env = "SCANOPY_SNMP_COMMUNITY",
        hide_env_values = true
    )]
    pub snmp_community: Vec<String>,
    /// SNMPv3 users, tried before the communities on agents that speak v3: NAME (no
    /// security), NAME:AUTH:PASSWORD or NAME:AUTH:PASSWORD:PRIV:PASSWORD, with AUTH one of MD5,
    /// SHA, SHA-224, SHA-256, SHA-384, SHA-512 and PRIV AES (`\:` for a colon in a part); repeat
    /// for several. Giving one runs the `snmp` scanner unless --scanners is given. Secrets:
    /// prefer SCANOPY_SNMP_V3 (one user) or the config file (mode 0600).
    #[arg(
        long = "snmp-v3",
        value_name = "USER",
        env = "SCANOPY_SNMP_V3",
        hide_env_values = true
    )]
    pub snmp_v3: Vec<String>,
    /// A TOML file of options (keys are the long option names with `_`); flags and SCANOPY_*
    /// variables win over it.
    #[arg(long, env = "SCANOPY_CONFIG")]
    pub config: Option<PathBuf>,
}

/// How `run` gets its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Poll the server for jobs.
    Pull,
    /// Listen for the server's signed calls.
    Push,
}

/// Log formats of `run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object a line.
    Json,
}

/// Arguments of `run`. Precedence: flags, then `SCANOPY_*` variables, then the `--config`
/// file, then the defaults.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// A TOML file of options (keys are the long option names with `_`, e.g.
    /// `spool_max_mb = 64`); flags and SCANOPY_* variables win over it.
    #[arg(long, env = "SCANOPY_CONFIG")]
    pub config: Option<PathBuf>,
    /// The server's URL (http://host:60072).
    #[arg(long, env = "SCANOPY_SERVER")]
    pub server: Option<String>,
    /// The daemon key the server issued (prefer SCANOPY_KEY or the config file to a flag:
    /// flags show in the process list).
    #[arg(long, env = "SCANOPY_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// The name shown on the server [default: the host name].
    #[arg(long, env = "SCANOPY_NAME")]
    pub name: Option<String>,
    /// Pull (poll the server) or push (the server calls this daemon).
    #[arg(long, value_enum, default_value = "pull", env = "SCANOPY_MODE")]
    pub mode: Mode,
    /// Where to listen in push mode.
    #[arg(long, default_value = "0.0.0.0:60073", env = "SCANOPY_LISTEN")]
    pub listen: SocketAddr,
    /// The URL the server should call in push mode [default: `http://FIRST_ATTACHED_IPV4:PORT`].
    #[arg(long, env = "SCANOPY_ADVERTISE_URL")]
    pub advertise_url: Option<String>,
    /// The server's Ed25519 public key (base64) that push calls must be signed with.
    #[arg(long, env = "SCANOPY_SERVER_PUBLIC_KEY")]
    pub server_public_key: Option<String>,
    /// Where the daemon keeps its spool of results not yet delivered.
    #[arg(
        long,
        default_value = "./scanopy-daemon-data",
        env = "SCANOPY_DATA_DIR"
    )]
    pub data_dir: PathBuf,
    /// The spool's limit in MiB; when full, the running job stops as failed (loudly).
    #[arg(long, default_value_t = 256, env = "SCANOPY_SPOOL_MAX_MB")]
    pub spool_max_mb: u64,
    /// The longest wait between retries when the server cannot be reached, in milliseconds.
    #[arg(long, default_value_t = 30_000, env = "SCANOPY_RETRY_MAX_MS")]
    pub retry_max_ms: u64,
    /// A CA certificate (PEM) to trust for an HTTPS server (e.g. its self-signed certificate).
    #[arg(long, env = "SCANOPY_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// Do not listen passively. By default, with CAP_NET_RAW, the service hears the ARP and
    /// DHCP that devices send on its interfaces and reports them at once (a device that joins
    /// is on the map within a second), sending nothing itself.
    #[arg(long, env = "SCANOPY_NO_PASSIVE", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_passive: bool,
    /// SNMP communities this daemon reads agents with when a scan runs the `snmp` scanner
    /// (and a scan that names no scanner then runs it too). Secrets: prefer
    /// SCANOPY_SNMP_COMMUNITY or the config file (mode 0600).
    #[arg(
        long,
        value_delimiter = ',',
        env = "SCANOPY_SNMP_COMMUNITY",
        hide_env_values = true
    )]
    pub snmp_community: Vec<String>,
    /// SNMPv3 users, tried before the communities on agents that speak v3: NAME (no
    /// security), NAME:AUTH:PASSWORD or NAME:AUTH:PASSWORD:PRIV:PASSWORD, with AUTH one of MD5,
    /// SHA, SHA-224, SHA-256, SHA-384, SHA-512 and PRIV AES (`\:` for a colon in a part); repeat
    /// for several. Giving one runs the `snmp` scanner unless --scanners is given. Secrets:
    /// prefer SCANOPY_SNMP_V3 (one user) or the config file (mode 0600).
    #[arg(
        long = "snmp-v3",
        value_name = "USER",
        env = "SCANOPY_SNMP_V3",
        hide_env_values = true
    )]
    pub snmp_v3: Vec<String>,
    /// Log format (RUST_LOG sets the level, default info).
    #[arg(long, value_enum, default_value = "text", env = "SCANOPY_LOG_FORMAT")]
    pub log_format: LogFormat,
}

/// A problem with the `--config` file.
#[derive(Debug, thiserror::Error)]
#[error("failed to read the config file {path}: {reason}")]
pub struct ConfigFileError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

/// Parses the command line, then fills options not given as flags or variables from the
/// `--config` TOML file, if any. Precedence: flags, `SCANOPY_*` variables, the file, defaults.
pub fn parse_with_config(argv: Vec<OsString>) -> Result<Cli, ParseError> {
    use clap::parser::ValueSource;
    use clap::{CommandFactory, FromArgMatches};
    let cmd = Cli::command();
    let matches = cmd
        .clone()
        .try_get_matches_from(&argv)
        .map_err(ParseError::Clap)?;
    let Some((sub_name, sub)) = matches.subcommand() else {
        return Cli::from_arg_matches(&matches).map_err(ParseError::Clap);
    };
    let Some(path) = sub.get_one::<PathBuf>("config").cloned() else {
        return Cli::from_arg_matches(&matches).map_err(ParseError::Clap);
    };
    let err = |reason: String| {
        ParseError::Config(ConfigFileError {
            path: path.display().to_string(),
            reason,
        })
    };
    let text = std::fs::read_to_string(&path).map_err(|e| err(e.to_string()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| err(e.message().to_owned()))?;
    let sub_cmd = cmd
        .find_subcommand(sub_name)
        .expect("the subcommand that matched exists");
    let mut extra: Vec<OsString> = Vec::new();
    for (key, value) in table {
        let id = key.replace('-', "_");
        let arg = sub_cmd
            .get_arguments()
            .find(|a| a.get_id().as_str() == id && a.get_long().is_some() && id != "config")
            .ok_or_else(|| err(format!("unknown key {key:?}")))?;
        if matches!(
            sub.value_source(&id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        let long = arg.get_long().expect("checked above");
        let scalar = |v: &toml::Value| -> Result<String, ParseError> {
            match v {
                toml::Value::String(s) => Ok(s.clone()),
                toml::Value::Integer(i) => Ok(i.to_string()),
                toml::Value::Float(f) => Ok(f.to_string()),
                _ => Err(err(format!("{key:?}: expected a string or a number"))),
            }
        };
        match &value {
            toml::Value::Boolean(true) => extra.push(format!("--{long}").into()),
            toml::Value::Boolean(false) => {}
            toml::Value::Array(items) => {
                for v in items {
                    extra.push(format!("--{long}={}", scalar(v)?).into());
                }
            }
            v => extra.push(format!("--{long}={}", scalar(v)?).into()),
        }
    }
    let mut full = argv;
    full.extend(extra);
    let matches = cmd.try_get_matches_from(full).map_err(ParseError::Clap)?;
    Cli::from_arg_matches(&matches).map_err(ParseError::Clap)
}

/// Why the command line could not be read.
#[derive(Debug)]
pub enum ParseError {
    /// Bad flags (or `--help`, `--version`).
    Clap(clap::Error),
    /// A bad config file.
    Config(ConfigFileError),
}

/// Checks (panicking, for tests) that every on/off flag of `cmd` and its subcommands that a
/// `SCANOPY_*` variable can set takes `1`/`0`, `yes`/`no`, `true`/`false`, `on`/`off` and
/// refuses anything else; returns how many there are. The server's tests use it too.
#[doc(hidden)]
pub fn check_on_off_variables(cmd: &clap::Command) -> usize {
    fn walk(cmd: &clap::Command, seen: &mut usize) {
        for arg in cmd.get_arguments() {
            if arg.get_env().is_none() || !matches!(arg.get_action(), clap::ArgAction::SetTrue) {
                continue;
            }
            *seen += 1;
            // The value a variable gives goes through the argument's value parser; give
            // it the same text on the command line instead (no process-wide variable set).
            let id = arg.get_id().clone();
            let probe = clap::Command::new("probe").arg(
                arg.clone()
                    .env(None)
                    .action(clap::ArgAction::Set)
                    .num_args(1),
            );
            let long = format!("--{}", arg.get_long().unwrap());
            for (text, want) in [
                ("1", true),
                ("yes", true),
                ("true", true),
                ("on", true),
                ("0", false),
                ("no", false),
                ("false", false),
                ("off", false),
            ] {
                let m = probe
                    .clone()
                    .try_get_matches_from(["probe", long.as_str(), text])
                    .unwrap_or_else(|e| panic!("{long} = {text}: {e}"));
                assert_eq!(
                    m.get_one::<bool>(id.as_str()),
                    Some(&want),
                    "{long} = {text}"
                );
            }
            assert!(
                probe
                    .clone()
                    .try_get_matches_from(["probe", long.as_str(), "maybe"])
                    .is_err()
            );
        }
        for sub in cmd.get_subcommands() {
            walk(sub, seen);
        }
    }
    let mut seen = 0;
    walk(cmd, &mut seen);
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every on/off flag that a `SCANOPY_*` variable can set takes what people write in unit files
    /// and compose files (`1`, `yes`, `true`, `0`, `no`, `false`) and refuses anything else.
    #[test]
    fn boolean_variables_take_1_and_yes() {
        let seen = check_on_off_variables(&<Cli as clap::CommandFactory>::command());
        assert!(seen >= 4, "only {seen} boolean variables found");
    }

    fn parse(args: &[&str]) -> Result<Cli, ParseError> {
        parse_with_config(args.iter().map(OsString::from).collect())
    }

    fn run_args(cli: Cli) -> RunArgs {
        match cli.command {
            Some(Command::Run(a)) => a,
            _ => panic!("not run"),
        }
    }

    #[test]
    fn the_config_file_fills_what_flags_leave_out() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("daemon.toml");
        std::fs::write(
            &file,
            "server = \"http://10.0.0.1:60072\"\nkey = \"from-file\"\nname = \"from-file\"\n\
             mode = \"push\"\nspool_max_mb = 64\nlisten = \"127.0.0.1:6000\"\n",
        )
        .unwrap();
        let f = file.to_str().unwrap();
        let a =
            run_args(parse(&["scanopy-daemon", "run", "--config", f, "--name", "flag"]).unwrap());
        assert_eq!(a.name.as_deref(), Some("flag"), "a flag wins over the file");
        assert_eq!(a.server.as_deref(), Some("http://10.0.0.1:60072"));
        assert_eq!(a.key.as_deref(), Some("from-file"));
        assert_eq!(a.mode, Mode::Push);
        assert_eq!(a.spool_max_mb, 64, "the file wins over a default");
        assert_eq!(a.listen, "127.0.0.1:6000".parse().unwrap());
        let a = run_args(
            parse(&[
                "scanopy-daemon",
                "run",
                "--spool-max-mb",
                "8",
                "--config",
                f,
            ])
            .unwrap(),
        );
        assert_eq!(a.spool_max_mb, 8);
    }

    #[test]
    fn a_bad_config_file_names_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("daemon.toml");
        for (text, needle) in [
            ("sever = \"x\"", "unknown key \"sever\""),
            ("server = [", "daemon.toml"),
            ("spool_max_mb = { a = 1 }", "spool_max_mb"),
        ] {
            std::fs::write(&file, text).unwrap();
            match parse(&["scanopy-daemon", "run", "--config", file.to_str().unwrap()]) {
                Err(ParseError::Config(e)) => {
                    assert!(e.to_string().contains(needle), "{text}: {e}")
                }
                other => panic!("{text}: {:?}", other.map(|_| ())),
            }
        }
        std::fs::write(&file, "spool_max_mb = \"lots\"").unwrap();
        assert!(matches!(
            parse(&["scanopy-daemon", "run", "--config", file.to_str().unwrap()]),
            Err(ParseError::Clap(_))
        ));
    }
}
