//! The server's options: flags, then `SCANOPY_*` variables, then a TOML file (`--config`), then
//! the defaults of CONTRACT.md.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// scanopy's server: the inventory, its API and web UI, and a local daemon.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "scanopy-server",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("SCANOPY_GIT_COMMIT"), ")"),
    about,
    args_override_self = true
)]
pub struct ServerConfig {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:60072", env = "SCANOPY_LISTEN")]
    pub listen: SocketAddr,
    /// The data directory (the SQLite database, the server's signing key).
    #[arg(long, default_value = "./scanopy-data", env = "SCANOPY_DATA_DIR")]
    pub data_dir: PathBuf,
    /// A PostgreSQL URL (postgres://…) instead of the embedded SQLite database (empty: none).
    #[arg(long, env = "SCANOPY_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Do not run the in-process daemon that documents this host's networks.
    #[arg(long, env = "SCANOPY_NO_LOCAL_DAEMON", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_local_daemon: bool,
    /// Minutes between the local daemon's scans of the attached networks.
    #[arg(long, default_value_t = 60, env = "SCANOPY_LOCAL_SCAN_MINUTES",
          value_parser = clap::value_parser!(i64).range(1..=525_600))]
    pub local_scan_minutes: i64,
    /// The local daemon does not listen passively. By default, with CAP_NET_RAW, it hears the
    /// ARP and DHCP devices send on this host's interfaces and puts new devices on the map at
    /// once (and scans them), sending nothing itself.
    #[arg(long, env = "SCANOPY_NO_PASSIVE", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_passive: bool,
    /// SNMP communities the local daemon reads agents with (switches' forwarding tables and
    /// LLDP neighbours for the map); its scheduled scans then run the `snmp` scanner. Secrets:
    /// prefer SCANOPY_SNMP_COMMUNITY or the config file (mode 0600).
    #[arg(
        long,
        value_delimiter = ',',
        env = "SCANOPY_SNMP_COMMUNITY",
        hide_env_values = true
    )]
    pub snmp_community: Vec<String>,
    /// SNMPv3 users the local daemon reads agents with, before the communities:
    /// NAME:AUTH:PASSWORD:PRIV:PASSWORD as `scanopy-daemon scan --snmp-v3` takes them. Secrets:
    /// prefer SCANOPY_SNMP_V3 or the config file.
    #[arg(
        long = "snmp-v3",
        value_name = "USER",
        env = "SCANOPY_SNMP_V3",
        hide_env_values = true
    )]
    pub snmp_v3: Vec<String>,
    /// Ports the local daemon's scheduled scans probe.
    #[arg(long, default_value = "top1000", env = "SCANOPY_LOCAL_PORTS")]
    pub local_ports: String,
    /// A PEM certificate chain: serve HTTPS.
    #[arg(long, env = "SCANOPY_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `--tls-cert`.
    #[arg(long, env = "SCANOPY_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Proxies whose `X-Forwarded-For` is believed for sign-in limits: addresses or CIDRs,
    /// comma-separated or repeated (`--trusted-proxy` too; in the file, a list). Without one,
    /// the client is always the TCP peer.
    #[arg(long = "trusted-proxies", visible_alias = "trusted-proxy", value_name = "CIDR",
          env = "SCANOPY_TRUSTED_PROXIES", value_delimiter = ',',
          value_parser = crate::signin::parse_proxy)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The SMTP relay alerts are mailed through: `smtp://HOST[:PORT]` (add `?tls=required` for
    /// STARTTLS), `smtps://HOST[:PORT]` (TLS), with `USER:PASSWORD@` before the host if it
    /// wants them. Without it, e-mail alerts cannot be made.
    #[arg(long, env = "SCANOPY_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of alert mails.
    #[arg(long, default_value = "scanopy@localhost", env = "SCANOPY_SMTP_FROM")]
    pub smtp_from: String,
    /// Logs as JSON lines.
    #[arg(long, env = "SCANOPY_LOG_JSON", value_parser = clap::builder::BoolishValueParser::new())]
    pub log_json: bool,
    /// The most distinct devices one scan may report; a scan beyond it ends failed.
    #[arg(long, default_value_t = 65_536, env = "SCANOPY_RUN_MAX_DEVICES",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub run_max_devices: u64,
    /// The most observations one scan may report; a scan beyond it ends failed.
    #[arg(long, default_value_t = 5_000_000, env = "SCANOPY_RUN_MAX_OBSERVATIONS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub run_max_observations: u64,
    /// Print the man page or shell completions and exit (for packages).
    #[arg(long, value_enum, exclusive = true, value_name = "KIND")]
    pub generate: Option<scanopy_daemon::generate::Generate>,
    /// A TOML file with any of these options (keys as the long options, `-` or `_`).
    #[arg(long, env = "SCANOPY_CONFIG")]
    pub config: Option<PathBuf>,
}

impl ServerConfig {
    /// Parses the command line, the environment and the config file, in that precedence.
    pub fn load() -> Result<Self, clap::Error> {
        Self::load_from(std::env::args_os().collect())
    }

    /// As [`ServerConfig::load`], from given arguments. An empty database URL
    /// (`SCANOPY_DATABASE_URL=`, as compose passes a variable that is not set) means none.
    pub fn load_from(args: Vec<std::ffi::OsString>) -> Result<Self, clap::Error> {
        let mut c = Self::load_merged(args)?;
        c.database_url = c.database_url.filter(|u| !u.trim().is_empty());
        Ok(c)
    }

    /// The command line over the config file.
    fn load_merged(args: Vec<std::ffi::OsString>) -> Result<Self, clap::Error> {
        let first = Self::try_parse_from(&args)?;
        let Some(file) = &first.config else {
            return Ok(first);
        };
        let text = std::fs::read_to_string(file).map_err(|e| {
            clap::Error::raw(
                clap::error::ErrorKind::Io,
                format!("cannot read the config file {}: {e}\n", file.display()),
            )
        })?;
        let table: toml::Table = text.parse().map_err(|e| {
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!(
                    "the config file {} is not valid TOML: {e}\n",
                    file.display()
                ),
            )
        })?;
        // File values go before the real arguments, so that flags win; a key whose variable is
        // set is left to the variable.
        let mut merged: Vec<std::ffi::OsString> = args.iter().take(1).cloned().collect();
        let cmd = <Self as clap::CommandFactory>::command();
        for (k, v) in &table {
            let name = k.replace('_', "-");
            // The option's own variable (SCANOPY_TRUSTED_PROXIES for `trusted-proxy`).
            let arg = cmd.get_arguments().find(|a| {
                a.get_long() == Some(name.as_str())
                    || a.get_all_aliases()
                        .is_some_and(|al| al.contains(&name.as_str()))
            });
            let var = arg
                .and_then(|a| a.get_env().map(|e| e.to_owned()))
                .unwrap_or_else(|| {
                    format!("SCANOPY_{}", k.replace('-', "_").to_uppercase()).into()
                });
            if std::env::var_os(&var).is_some() {
                continue;
            }
            match v {
                toml::Value::Array(items) => {
                    // A list adds up over repeated flags: flags given on the command line
                    // replace the file's list instead.
                    let mut names: Vec<String> = vec![name.clone()];
                    if let Some(a) = arg {
                        names.extend(a.get_long().map(str::to_owned));
                        names.extend(
                            a.get_all_aliases()
                                .unwrap_or_default()
                                .iter()
                                .map(|s| s.to_string()),
                        );
                    }
                    let given = args.iter().skip(1).any(|a| {
                        let a = a.to_string_lossy();
                        names.iter().any(|n| {
                            a.strip_prefix("--")
                                .and_then(|r| r.strip_prefix(n.as_str()))
                                .is_some_and(|r| r.is_empty() || r.starts_with('='))
                        })
                    });
                    if given {
                        continue;
                    }
                    for item in items {
                        let Some(s) = item.as_str() else {
                            return Err(clap::Error::raw(
                                clap::error::ErrorKind::InvalidValue,
                                format!("config file key {k:?}: a list of strings is expected\n"),
                            ));
                        };
                        merged.push(format!("--{name}={s}").into());
                    }
                }
                toml::Value::Boolean(true) => merged.push(format!("--{name}").into()),
                toml::Value::Boolean(false) => {}
                toml::Value::String(s) => merged.push(format!("--{name}={s}").into()),
                toml::Value::Integer(i) => merged.push(format!("--{name}={i}").into()),
                other => {
                    return Err(clap::Error::raw(
                        clap::error::ErrorKind::InvalidValue,
                        format!("config file key {k:?}: unsupported value {other}\n"),
                    ));
                }
            }
        }
        merged.extend(args.iter().skip(1).cloned());
        Self::try_parse_from(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every on/off flag that a `SCANOPY_*` variable can set takes what people write in unit files
    /// and compose files (`1`, `yes`, `true`, `0`, `no`, `false`) and refuses anything else.
    #[test]
    fn boolean_variables_take_1_and_yes() {
        let seen = scanopy_daemon::cli::check_on_off_variables(
            &<ServerConfig as clap::CommandFactory>::command(),
        );
        assert!(seen >= 3, "only {seen} boolean variables found");
    }

    /// The example settings the packages install (every line a comment) load as the defaults;
    /// an empty database URL, as compose passes an unset variable, opens the built-in SQLite.
    #[test]
    fn the_packaged_example_loads_and_an_empty_database_url_means_sqlite() {
        let dir = std::env::temp_dir().join(format!("scanopy-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("server.toml");
        std::fs::write(&f, include_str!("../../packaging/etc/server.toml")).unwrap();
        let data = dir.join("data");
        let c = ServerConfig::load_from(vec![
            "scanopy-server".into(),
            "--config".into(),
            f.into(),
            "--data-dir".into(),
            data.clone().into(),
            "--database-url".into(),
            "".into(),
        ])
        .unwrap();
        assert_eq!(c.listen.port(), 60072);
        assert_eq!(c.database_url, None, "an empty URL is none");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(crate::open_store(&c)).unwrap();
        assert!(data.join("scanopy.db").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let dir = std::env::temp_dir().join(format!("scanopy-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("server.toml");
        std::fs::write(
            &f,
            "listen = \"127.0.0.1:7000\"\nno_local_daemon = true\nlocal-scan-minutes = 15\n",
        )
        .unwrap();
        let args = |extra: &[&str]| {
            let mut v: Vec<std::ffi::OsString> =
                vec!["scanopy-server".into(), "--config".into(), f.clone().into()];
            v.extend(extra.iter().map(|s| s.into()));
            v
        };
        let c = ServerConfig::load_from(args(&[])).unwrap();
        assert_eq!(c.listen.port(), 7000);
        assert!(c.no_local_daemon);
        assert_eq!(c.local_scan_minutes, 15);
        let c = ServerConfig::load_from(args(&["--listen", "127.0.0.1:7001"])).unwrap();
        assert_eq!(c.listen.port(), 7001);
        assert!(c.trusted_proxies.is_empty());
        std::fs::write(
            &f,
            "trusted_proxy = [\"10.0.0.0/8\", \"::1\"]\ntrusted-proxies = [\"192.0.2.1\"]\n",
        )
        .unwrap();
        let c = ServerConfig::load_from(args(&[])).unwrap();
        let mut got = c.trusted_proxies.clone();
        got.sort();
        let mut want: Vec<ipnet::IpNet> = ["10.0.0.0/8", "::1/128", "192.0.2.1/32"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        want.sort();
        assert_eq!(got, want);
        // A flag replaces the file's list.
        let c = ServerConfig::load_from(args(&["--trusted-proxy", "127.0.0.1"])).unwrap();
        assert_eq!(
            c.trusted_proxies,
            vec!["127.0.0.1/32".parse::<ipnet::IpNet>().unwrap()]
        );
        std::fs::write(&f, "trusted_proxy = [\"not-an-address\"]\n").unwrap();
        let e = ServerConfig::load_from(args(&[])).unwrap_err();
        assert!(e.to_string().contains("not-an-address"), "{e}");
        std::fs::write(&f, "nonsense = 1\n").unwrap();
        let e = ServerConfig::load_from(args(&[])).unwrap_err();
        assert!(e.to_string().contains("nonsense"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
