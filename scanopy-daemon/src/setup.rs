//! From a [`ScanConfig`] to a pipeline ready to start: the one place where targets are built,
//! scanners are picked by what the machine allows (raw sockets or not, Docker or not), and the
//! subnets that label interfaces are gathered. Used by the one-shot `scan` command and by
//! service jobs ([`crate::service::run_job`]) alike.

use std::net::IpAddr;

use ipnet::IpNet;
use scanopy_core::{
    HostInterface, Pipeline, ScanConfig, Target, TargetError, TargetSet, attached_subnets,
};
/// The built-in scanners: the list the daemon builds from and the server checks against.
pub use scanopy_scanners::registry;
use scanopy_scanners::{BuildSettings, Catalogue, arp, limits};

use crate::system;

/// The names of the scanners the daemon can run, in pipeline order (from
/// [`scanopy_scanners::registry`]).
pub fn available() -> Vec<&'static str> {
    registry::names().collect()
}

/// What a scan needs beyond its [`ScanConfig`] (settings of this daemon, not of the scan).
#[derive(Debug, Clone)]
pub struct SetupOptions {
    /// The service catalogue used to identify ports.
    pub catalogue: Catalogue,
    /// Identify services (banners, probes, TLS); `false` tells open from closed only.
    pub identify: bool,
    /// SNMP communities and SNMPv3 users (secrets) for the `snmp` scanner; the community
    /// `public` when empty.
    pub snmp: scanopy_scanners::snmp::Credentials,
}

impl Default for SetupOptions {
    fn default() -> Self {
        SetupOptions {
            catalogue: Catalogue::builtin(),
            identify: true,
            snmp: Default::default(),
        }
    }
}

/// SNMP credentials as given: communities (`--snmp-community`, `SCANOPY_SNMP_COMMUNITY`, a
/// config file), empty ones left out, and SNMPv3 users (`--snmp-v3`, `SCANOPY_SNMP_V3`) in
/// [`scanopy_scanners::snmp::usm::User::parse`]'s form. A user that does not parse is an error
/// naming it by its place and saying why, never repeating a password.
pub fn credentials(
    communities: &[String],
    users: &[String],
) -> Result<scanopy_scanners::snmp::Credentials, String> {
    let users = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            scanopy_scanners::snmp::usm::User::parse(u)
                .map_err(|e| format!("--snmp-v3 (user {} of {}): {e}", i + 1, users.len()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(scanopy_scanners::snmp::Credentials {
        communities: communities
            .iter()
            .filter(|c| !c.is_empty())
            .map(|c| scanopy_scanners::snmp::Community {
                community: c.clone(),
            })
            .collect(),
        users,
    })
}

/// An SNMPv3 user as a job carries it, checked as `--snmp-v3` checks one (protocols named as
/// net-snmp names them: `SHA-256`, `AES`). The error never repeats a password.
pub fn snmp_user(
    name: &str,
    auth: Option<(&str, &str)>,
    privacy: Option<(&str, &str)>,
) -> Result<scanopy_core::protocol::JobSnmpUser, String> {
    let u = scanopy_scanners::snmp::usm::User::from_parts(name, auth, privacy)?;
    Ok(scanopy_core::protocol::JobSnmpUser {
        user: u.name,
        auth_protocol: u.auth.as_ref().map(|(p, _)| p.name().to_owned()),
        auth_password: u.auth.map(|(_, pw)| pw),
        privacy_protocol: u.privacy.as_ref().map(|(p, _)| p.name().to_owned()),
        privacy_password: u.privacy.map(|(_, pw)| pw),
    })
}

/// `opts` with a job's SNMP credentials (its network's, from the server) tried before the
/// daemon's own. A user the server sent that does not make sense here is left out, with a
/// warning naming it by its place (never a password).
pub fn with_job_snmp(opts: &SetupOptions, job: &scanopy_core::protocol::JobSnmp) -> SetupOptions {
    use scanopy_scanners::snmp::{Community, usm::User};
    let mut out = opts.clone();
    let mut communities: Vec<Community> = job
        .communities
        .iter()
        .filter(|c| !c.is_empty())
        .map(|c| Community {
            community: c.clone(),
        })
        .collect();
    let mut users = Vec::new();
    for (i, u) in job.users.iter().enumerate() {
        let auth = u.auth_protocol.as_deref().zip(u.auth_password.as_deref());
        let privacy = u
            .privacy_protocol
            .as_deref()
            .zip(u.privacy_password.as_deref());
        match User::from_parts(&u.user, auth, privacy) {
            Ok(user) => users.push(user),
            Err(e) => tracing::warn!("the network's SNMPv3 user {} is left out: {e}", i + 1),
        }
    }
    for c in &opts.snmp.communities {
        if !communities.contains(c) {
            communities.push(c.clone());
        }
    }
    for u in &opts.snmp.users {
        if !users.contains(u) {
            users.push(u.clone());
        }
    }
    out.snmp = scanopy_scanners::snmp::Credentials { communities, users };
    out
}

/// A scan ready to start.
#[derive(Debug)]
pub struct Prepared {
    /// The scanners, in order.
    pub pipeline: Pipeline,
    /// Every address to scan.
    pub targets: TargetSet,
    /// The configuration as it will run: scanners resolved (fallbacks applied), concurrency
    /// fitted to the open-file limit.
    pub config: ScanConfig,
    /// The targets as given, or the attached subnets when none was given.
    pub target_labels: Vec<String>,
    /// What the user should know before the scan starts (no raw sockets, lowered concurrency…).
    pub warnings: Vec<String>,
    /// Subnets that label interfaces: the machine's own, CIDR targets and attached subnets.
    pub subnets: Vec<IpNet>,
}

/// Why a scan cannot be set up. Each is bad input (exit status 2 for `scan`).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A scanner name that does not exist.
    #[error("unknown scanner {0:?} (available: {list})", list = available().join(", "))]
    UnknownScanner(String),
    /// A target or exclusion that cannot be used.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// No target and nothing attached.
    #[error("no target given and no attached IPv4 subnet to scan")]
    NothingAttached,
    /// Exclusions removed every address.
    #[error("the targets leave no address to scan after exclusions")]
    AllExcluded,
}

/// The scanners to run for a requested list: every available one when empty (Docker only where
/// an engine is configured), else the list as given, checked.
pub fn resolve_scanners(requested: &[String]) -> Result<Vec<String>, SetupError> {
    let scanners: Vec<String> = if requested.is_empty() {
        // Docker by default only where an engine is configured or its socket exists; asked for
        // explicitly, a missing engine is a warning naming the socket.
        registry::SCANNERS
            .iter()
            .filter(|e| e.default && (!e.needs.docker || docker_configured()))
            .map(|e| e.name.to_string())
            .collect()
    } else {
        requested.iter().map(|s| s.trim().to_owned()).collect()
    };
    if let Some(bad) = scanners.iter().find(|s| registry::find(s).is_none()) {
        return Err(SetupError::UnknownScanner(bad.clone()));
    }
    Ok(scanners)
}

/// Builds the scan: resolves host names, builds the target set (the attached subnets when the
/// config names none), swaps ARP for TCP discovery without raw sockets, fits the concurrency
/// to the open-file limit and constructs the pipeline. Sends no packet (host names go through
/// the system resolver).
pub async fn prepare(config: &ScanConfig, opts: &SetupOptions) -> Result<Prepared, SetupError> {
    let mut scanners = resolve_scanners(&config.scanners)?;
    // Communities given and no scanner named: read the agents too.
    if config.scanners.is_empty() && !opts.snmp.is_empty() {
        if let Some(at) = scanners.iter().position(|s| s == "names") {
            scanners.insert(at, "snmp".into());
        } else {
            scanners.push("snmp".into());
        }
    }
    let spec = config.targets.clone();
    // Check the tokens before anything else (a bad one names itself).
    spec.parsed()?;
    let mut warnings: Vec<String> = Vec::new();
    let ifaces = system::interfaces();
    let (attached, attach_warnings) = attached_subnets(&ifaces);
    let resolved = system::resolve(&spec.host_names()).await;
    let targets = spec.build(&resolved, &attached, config.allow_large)?;
    let target_labels: Vec<String> = if spec.include.is_empty() {
        warnings.extend(attach_warnings);
        attached.iter().map(|n| n.to_string()).collect()
    } else {
        spec.include.clone()
    };
    if targets.is_empty() {
        return Err(if spec.include.is_empty() {
            SetupError::NothingAttached
        } else {
            SetupError::AllExcluded
        });
    }
    // ARP sweeps the attached subnets when raw sockets are allowed; TCP discovery covers the
    // rest, and everything when they are not.
    let mut arp_nets: Vec<IpNet> = Vec::new();
    // With raw sockets, ports are swept with SYN segments (the connect scan otherwise).
    let raw_ok = arp::raw_sockets_allowed();
    if scanners.iter().any(|s| s == "arp") {
        if raw_ok {
            arp_nets = arp::arp_subnets().into_iter().map(IpNet::V4).collect();
        } else {
            warnings.push(format!(
                "{}; falling back to TCP discovery and the kernel's neighbour table",
                arp::NO_RAW_SOCKETS
            ));
            scanners.retain(|s| s != "arp");
            if !scanners.iter().any(|s| s == "tcp-ping") {
                scanners.insert(0, "tcp-ping".into());
            }
        }
    }

    // IPv6 neighbour discovery needs raw sockets too; without them an IPv6 link's hosts are
    // found only where they are named.
    if !raw_ok && scanners.iter().any(|s| s == "ndp") {
        scanners.retain(|s| s != "ndp");
        if !targets.links().is_empty() {
            warnings.push(format!(
                "{}; the hosts of the IPv6 links {} are found only where named",
                scanopy_scanners::ndp::NO_RAW_SOCKETS,
                targets
                    .links()
                    .iter()
                    .map(|l| l.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }

    let nofile = limits::raise_nofile();
    let concurrency = limits::fit_concurrency(config.concurrency, nofile);
    if concurrency < config.concurrency {
        warnings.push(format!(
            "concurrency lowered from {} to {concurrency} to fit the open-file limit ({nofile})",
            config.concurrency
        ));
    }
    let config = ScanConfig {
        scanners: scanners.clone(),
        concurrency,
        ..config.clone()
    };

    let build = BuildSettings {
        catalogue: opts.catalogue.clone(),
        identify: opts.identify,
        raw_sockets: raw_ok,
        arp_subnets: arp_nets,
        docker_host_ip: own_address_in(&ifaces, &targets),
        snmp: opts.snmp.clone(),
    };
    let mut pipeline = Pipeline::new();
    for name in &scanners {
        // Every name was checked against the registry by `resolve_scanners`.
        if let Some(entry) = registry::find(name) {
            pipeline.add((entry.build)(&build));
        }
    }

    // Interfaces are labelled with the most specific known subnet: the machine's own and any
    // CIDR target.
    let mut subnets = system::local_subnets(&ifaces);
    if let Ok((inc, _)) = spec.parsed() {
        subnets.extend(inc.into_iter().filter_map(|t| {
            if let Target::Net(n) = t {
                Some(n)
            } else {
                None
            }
        }));
    }
    subnets.extend(attached.iter().copied());
    Ok(Prepared {
        pipeline,
        targets,
        config,
        target_labels,
        warnings,
        subnets,
    })
}

/// Whether a Docker engine is configured here: `DOCKER_HOST` is set or the local socket exists.
pub fn docker_configured() -> bool {
    std::env::var("DOCKER_HOST").is_ok_and(|h| !h.is_empty())
        || std::path::Path::new("/var/run/docker.sock").exists()
}

/// This machine's own address within the targets (where a local Docker engine's containers
/// are attached), if it has one there.
fn own_address_in(ifaces: &[HostInterface], targets: &TargetSet) -> Option<IpAddr> {
    ifaces
        .iter()
        .filter(|i| !i.loopback)
        .flat_map(|i| i.addrs.iter().map(|a| a.addr()))
        .find(|ip| targets.contains(*ip))
}
