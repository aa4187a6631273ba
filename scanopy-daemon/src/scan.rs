//! `scanopy-daemon scan`: a one-shot scan, printed.
//!
//! Everything the user typed is checked before a packet is sent: a bad target, port list,
//! scanner name or catalogue file exits with status 2 and a message naming it. Ctrl-C stops the
//! scan promptly, prints what was found, and exits with status 130.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use chrono::Utc;
use scanopy_core::{
    Inventory, InventoryConfig, Pipeline, PortSpec, ScanConfig, ScanEvent, Scanner, Target,
    TargetSpec, attached_subnets,
};
use scanopy_scanners::{
    ArpScanner, Catalogue, DockerScanner, DockerSettings, NameScanner, TcpPing, TcpScanner,
    TcpSettings, UdpScanner, arp, limits,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::cli::{Format, ScanArgs};
use crate::output::{self, ScanInfo};
use crate::{EXIT_INTERRUPTED, EXIT_USAGE, system};

/// The scanners `scan` can run, by name.
pub const AVAILABLE: [&str; 6] = ["arp", "tcp-ping", "tcp", "udp", "names", "docker"];

fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("scanopy-daemon: {msg}");
    ExitCode::from(EXIT_USAGE)
}

/// Runs `scan` and returns the exit status.
pub fn run(args: ScanArgs) -> ExitCode {
    // 1. Check everything typed, before any packet.
    let ports: PortSpec = match args.ports.parse() {
        Ok(p) => p,
        Err(e) => return usage(e),
    };
    let spec = match TargetSpec::new(&args.targets, &args.exclude) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let scanners: Vec<String> = if args.scanners.is_empty() {
        // Docker by default only where an engine is configured or its socket exists; asked for
        // explicitly, a missing engine is a warning naming the socket.
        AVAILABLE
            .iter()
            .filter(|s| **s != "docker" || docker_configured())
            .map(|s| s.to_string())
            .collect()
    } else {
        args.scanners.iter().map(|s| s.trim().to_owned()).collect()
    };
    if let Some(bad) = scanners.iter().find(|s| !AVAILABLE.contains(&s.as_str())) {
        return usage(format!(
            "unknown scanner {bad:?} (available: {})",
            AVAILABLE.join(", ")
        ));
    }
    let catalogue = match &args.services {
        Some(path) => match Catalogue::builtin().with_file(path) {
            Ok(c) => c,
            Err(e) => return usage(e),
        },
        None => Catalogue::builtin(),
    };
    let format = args.format.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Json
    });

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("scanopy-daemon: failed to start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(scan(args, spec, ports, scanners, catalogue, format))
}

async fn scan(
    args: ScanArgs,
    spec: TargetSpec,
    ports: PortSpec,
    scanners: Vec<String>,
    catalogue: Catalogue,
    format: Format,
) -> ExitCode {
    let mut warnings: Vec<String> = Vec::new();
    let ifaces = system::interfaces();
    let (attached, attach_warnings) = attached_subnets(&ifaces);
    let resolved = system::resolve(&spec.host_names()).await;
    let targets = match spec.build(&resolved, &attached, args.allow_large) {
        Ok(t) => t,
        Err(e) => return usage(e),
    };
    let target_labels: Vec<String> = if spec.include.is_empty() {
        warnings.extend(attach_warnings);
        attached.iter().map(|n| n.to_string()).collect()
    } else {
        spec.include.clone()
    };
    if targets.is_empty() {
        return usage(if spec.include.is_empty() {
            "no target given and no attached IPv4 subnet to scan".to_owned()
        } else {
            "the targets leave no address to scan after exclusions".to_owned()
        });
    }
    // ARP sweeps the attached subnets when raw sockets are allowed; TCP discovery covers the
    // rest, and everything when they are not.
    let mut scanners = scanners;
    let mut arp_nets: Vec<ipnet::IpNet> = Vec::new();
    // With raw sockets, ports are swept with SYN segments (the connect scan otherwise).
    let raw_ok = arp::raw_sockets_allowed();
    if scanners.iter().any(|s| s == "arp") {
        if raw_ok {
            arp_nets = arp::arp_subnets()
                .into_iter()
                .map(ipnet::IpNet::V4)
                .collect();
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

    let nofile = limits::raise_nofile();
    let concurrency = limits::fit_concurrency(args.concurrency, nofile);
    if concurrency < args.concurrency {
        warnings.push(format!(
            "concurrency lowered from {} to {concurrency} to fit the open-file limit ({nofile})",
            args.concurrency
        ));
    }
    let config = ScanConfig {
        targets: spec.clone(),
        ports,
        exclude_ports: args.exclude_ports.clone(),
        scanners: scanners.clone(),
        rate: (args.rate > 0).then_some(args.rate),
        concurrency,
        allow_large: args.allow_large,
        probe_printer_ports: args.probe_printer_ports,
        timeout_ms: args.timeout_ms,
        ..ScanConfig::default()
    };

    let mut pipeline = Pipeline::new();
    for name in &scanners {
        let s: Box<dyn Scanner> = match name.as_str() {
            "arp" => Box::new(ArpScanner::default()),
            "tcp-ping" => Box::new(TcpPing {
                skip: arp_nets.clone(),
                ..TcpPing::default()
            }),
            "names" => Box::new(NameScanner::default()),
            "udp" => Box::new(UdpScanner::default()),
            "docker" => Box::new(DockerScanner::new(DockerSettings {
                host: None,
                host_ip: own_address_in(&ifaces, &targets),
            })),
            _ => Box::new(TcpScanner::new(
                catalogue.clone(),
                TcpSettings {
                    identify: !args.no_identify,
                    syn: raw_ok,
                    ..TcpSettings::default()
                },
            )),
        };
        pipeline.add(s);
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
    let mut inventory = Inventory::new(InventoryConfig {
        network_id: Uuid::nil(),
        subnets,
    });

    let started_at = Utc::now();
    let cancel = CancellationToken::new();
    let interrupted = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
                true
            } else {
                false
            }
        })
    };
    let mut handle = pipeline.start(config.clone(), targets, cancel.clone());
    let show_progress = std::io::stderr().is_terminal();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut printed: BTreeSet<IpAddr> = BTreeSet::new();
    // Hosts completed since the last NDJSON flush. Devices are computed once per flush (at
    // most every 100 ms), not once per host, so large scans stay linear.
    let mut done_hosts: Vec<IpAddr> = Vec::new();
    let mut flush = tokio::time::interval(Duration::from_millis(100));
    let stdout = std::io::stdout();
    loop {
        tokio::select! {
            ev = handle.events.recv() => {
                let Some(ev) = ev else { break };
                match ev {
                    ScanEvent::Observation(o) => inventory.apply(&o),
                    ScanEvent::HostDone(ip) if format == Format::Ndjson => done_hosts.push(ip),
                    ScanEvent::Warning(w) => warnings.push(w),
                    _ => {}
                }
            }
            _ = flush.tick(), if !done_hosts.is_empty() => {
                print_devices_of(&inventory, &std::mem::take(&mut done_hosts), &mut printed, &stdout);
            }
            _ = tick.tick(), if show_progress => {
                let p = handle.progress();
                eprint!(
                    "\r\x1b[2K{} hosts found, {} done of {} addresses, {} ports probed",
                    p.hosts_found, p.hosts_done, p.hosts_total, p.ports_probed
                );
            }
        }
    }
    let summary = handle.finish().await;
    if show_progress {
        eprintln!();
    }
    let was_interrupted = cancel.is_cancelled();
    interrupted.abort();

    let devices = inventory.devices();
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let info = ScanInfo {
        id: Uuid::new_v4(),
        started_at,
        finished_at: Utc::now(),
        targets: target_labels,
        scanners,
        config,
        interrupted: was_interrupted,
    };
    let mut out = stdout.lock();
    let written = match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &output::document(&info, &devices, &warnings))
                .map_err(std::io::Error::other)
                .and_then(|_| writeln!(out))
        }
        Format::Ndjson => {
            let mut r = Ok(());
            for d in devices
                .iter()
                .filter(|d| !d.ips().iter().any(|ip| printed.contains(ip)))
            {
                r = r.and_then(|_| writeln!(out, "{}", output::device_json(d)));
            }
            r
        }
        Format::Table => output::table(&mut out, &devices),
        Format::Csv => output::csv(&mut out, &devices),
    };
    let _ = out.flush();
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("scanopy-daemon: failed to write the results: {e}");
            return ExitCode::FAILURE;
        }
    }
    let p = summary.progress;
    eprintln!(
        "scanopy-daemon: {} device(s), {} host(s) answered of {} address(es), {} ports probed{}",
        devices.len(),
        p.hosts_found,
        p.hosts_total,
        p.ports_probed,
        if was_interrupted { "; interrupted" } else { "" }
    );
    if was_interrupted {
        ExitCode::from(EXIT_INTERRUPTED)
    } else {
        ExitCode::SUCCESS
    }
}

/// Prints the devices holding `ips`, except those with an address printed already.
fn print_devices_of(
    inv: &Inventory,
    ips: &[IpAddr],
    printed: &mut BTreeSet<IpAddr>,
    stdout: &std::io::Stdout,
) {
    let wanted: BTreeSet<IpAddr> = ips.iter().copied().collect();
    let mut out = stdout.lock();
    for d in inv.devices() {
        let dev_ips = d.ips();
        if dev_ips.iter().any(|i| wanted.contains(i))
            && !dev_ips.iter().any(|i| printed.contains(i))
        {
            printed.extend(dev_ips);
            let _ = writeln!(out, "{}", output::device_json(&d));
        }
    }
    let _ = out.flush();
}

/// Whether a Docker engine is configured here: `DOCKER_HOST` is set or the local socket exists.
fn docker_configured() -> bool {
    std::env::var("DOCKER_HOST").is_ok_and(|h| !h.is_empty())
        || std::path::Path::new("/var/run/docker.sock").exists()
}

/// This machine's own address within the targets (where a local Docker engine's containers
/// are attached), if it has one there.
fn own_address_in(
    ifaces: &[scanopy_core::HostInterface],
    targets: &scanopy_core::TargetSet,
) -> Option<IpAddr> {
    ifaces
        .iter()
        .filter(|i| !i.loopback)
        .flat_map(|i| i.addrs.iter().map(|a| a.addr()))
        .find(|ip| targets.contains(*ip))
}
