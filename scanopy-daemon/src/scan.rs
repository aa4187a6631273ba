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
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use scanopy_core::{
    Device, Inventory, InventoryConfig, PortSpec, ProgressSnapshot, ScanConfig, ScanEvent,
    TargetSpec,
};
use scanopy_scanners::Catalogue;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::cli::{Format, ScanArgs};
use crate::output::{self, ScanInfo};
use crate::setup::{self, SetupOptions};
use crate::{EXIT_INTERRUPTED, EXIT_USAGE};

pub use crate::setup::available;

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
    let scanners = match setup::resolve_scanners(&args.scanners) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
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
    let config = ScanConfig {
        targets: spec,
        ports,
        exclude_ports: args.exclude_ports.clone(),
        scanners,
        rate: (args.rate > 0).then_some(args.rate),
        concurrency: args.concurrency,
        allow_large: args.allow_large,
        probe_printer_ports: args.probe_printer_ports,
        timeout_ms: args.timeout_ms,
        ..ScanConfig::default()
    };
    let snmp = match setup::credentials(&args.snmp_community, &args.snmp_v3) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let opts = SetupOptions {
        catalogue,
        identify: !args.no_identify,
        snmp,
    };

    // Scanning runs on a current-thread runtime: the connect sweep measured faster there.
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
    runtime.block_on(scan(config, opts, format))
}

/// The progress bar on stderr (hidden when stderr is not a terminal).
fn progress_bar(show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(5));
    pb.set_style(bar_style(false));
    pb
}

/// The bar's look; the ETA shows once an address is done (before that there is no rate).
fn bar_style(eta: bool) -> ProgressStyle {
    let template = if eta {
        "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} addresses done, {msg}, ETA {eta}"
    } else {
        "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} addresses done, {msg}"
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

async fn scan(config: ScanConfig, opts: SetupOptions, format: Format) -> ExitCode {
    let prepared = match setup::prepare(&config, &opts).await {
        Ok(p) => p,
        Err(e) => return usage(e),
    };
    let setup::Prepared {
        pipeline,
        targets,
        config,
        target_labels,
        mut warnings,
        subnets,
    } = prepared;
    let scanners = config.scanners.clone();
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
    let bar = progress_bar(show_progress);
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
            _ = tick.tick(), if show_progress => show(&bar, handle.progress()),
        }
    }
    let summary = handle.finish().await;
    bar.finish_and_clear();
    let was_interrupted = cancel.is_cancelled();
    interrupted.abort();

    let devices = inventory.devices();
    for w in &warnings {
        eprintln!("warning: {}", output::visible(w));
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
    let written = write_results(format, &info, &devices, &warnings, &printed);
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

/// Shows the live counts on the progress bar.
fn show(bar: &ProgressBar, p: ProgressSnapshot) {
    bar.set_length(p.hosts_total);
    if p.hosts_done > 0 && bar.position() == 0 {
        bar.set_style(bar_style(true));
    }
    bar.set_position(p.hosts_done);
    bar.set_message(format!(
        "{} hosts found, {} ports probed",
        p.hosts_found, p.ports_probed
    ));
}

/// Writes the scan's result to stdout in `format`; NDJSON writes only the devices not printed
/// while the scan ran.
fn write_results(
    format: Format,
    info: &ScanInfo,
    devices: &[Device],
    warnings: &[String],
    printed: &BTreeSet<IpAddr>,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let written = match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &output::document(info, devices, warnings))
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
        Format::Table => output::table(&mut out, devices),
        Format::Csv => output::csv(&mut out, devices),
    };
    let _ = out.flush();
    written
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
