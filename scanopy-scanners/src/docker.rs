//! Docker discovery through the engine's API (bollard): containers (running and stopped),
//! their images, networks and addresses, published ports, compose labels and health. Each
//! container becomes a device run by the Docker host; published ports become services of the
//! host. Nothing is sent to container addresses: everything comes from the API.
//!
//! The engine is reached through `DOCKER_HOST` or the local socket; the API version is
//! negotiated (Debian's engine speaks 1.41). A missing socket or a denied permission fails the
//! scanner with a message naming the socket; the pipeline reports it as a warning and the other
//! scanners go on.

use std::collections::HashMap;
use std::net::IpAddr;

use async_trait::async_trait;
use bollard::Docker;
use bollard::query_parameters::ListContainersOptions;
use scanopy_core::{
    Confidence, Container, ContainerNetwork, DeviceType, Fact, Needs, PortFact, PortState,
    PublishedPort, ScanContext, ScanError, Scanner, ScannerKind, Scope, Transport,
};

/// Settings of the [`DockerScanner`].
#[derive(Debug, Clone, Default)]
pub struct DockerSettings {
    /// The engine's address, as `DOCKER_HOST` would give it (`unix:///var/run/docker.sock`,
    /// `tcp://10.0.0.5:2375`); `None` reads `DOCKER_HOST`, then the local socket.
    pub host: Option<String>,
    /// The Docker host's own address on the scanned network, to which containers and published
    /// ports are attached. `None`: the address in `DOCKER_HOST` for a remote engine, otherwise
    /// 127.0.0.1.
    pub host_ip: Option<IpAddr>,
}

/// The Docker scanner.
#[derive(Debug, Clone)]
pub struct DockerScanner {
    settings: DockerSettings,
    engine_budget: std::time::Duration,
}

impl Default for DockerScanner {
    fn default() -> Self {
        DockerScanner::new(DockerSettings::default())
    }
}

impl DockerScanner {
    /// A scanner with these settings.
    pub fn new(settings: DockerSettings) -> Self {
        DockerScanner {
            settings,
            engine_budget: ENGINE_BUDGET,
        }
    }

    /// The longest it talks to the engine in one scan (default 60 s): past it the scanner stops
    /// with an error (a scan warning), so an engine that stalls cannot hold the scan.
    pub fn with_engine_budget(mut self, budget: std::time::Duration) -> Self {
        self.engine_budget = budget;
        self
    }

    fn endpoint(&self) -> String {
        self.settings
            .host
            .clone()
            .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
            .unwrap_or_else(|| "unix:///var/run/docker.sock".to_owned())
    }

    fn host_ip(&self, endpoint: &str) -> IpAddr {
        if let Some(ip) = self.settings.host_ip {
            return ip;
        }
        remote_ip(endpoint).unwrap_or(IpAddr::from([127, 0, 0, 1]))
    }

    async fn connect(&self, endpoint: &str) -> Result<Docker, ScanError> {
        let unavailable = |e: &dyn std::fmt::Display| {
            ScanError::Unavailable(format!("Docker engine at {endpoint}: {e}"))
        };
        let docker = Docker::connect_with_host(endpoint).map_err(|e| unavailable(&e))?;
        let docker = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            docker.negotiate_version(),
        )
        .await
        .map_err(|_| unavailable(&"no answer within 5 s"))?
        .map_err(|e| unavailable(&e))?;
        Ok(docker)
    }
}

/// The address of a `tcp://host:port` endpoint.
pub fn remote_ip(endpoint: &str) -> Option<IpAddr> {
    let rest = endpoint
        .strip_prefix("tcp://")
        .or_else(|| endpoint.strip_prefix("http://"))?;
    let host = rest.split('/').next()?;
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    host.trim_matches(['[', ']']).parse().ok()
}

/// The health in a container's status line (`Up 5 minutes (healthy)`).
pub fn health_of(status: &str) -> Option<String> {
    ["unhealthy", "healthy", "health: starting"]
        .iter()
        .find(|h| status.contains(*h))
        .map(|h| {
            if *h == "health: starting" {
                "starting".to_owned()
            } else {
                (*h).to_owned()
            }
        })
}

#[async_trait]
impl Scanner for DockerScanner {
    fn name(&self) -> &str {
        "docker"
    }

    fn kind(&self) -> ScannerKind {
        ScannerKind::Discovery
    }

    fn needs(&self) -> Needs {
        Needs {
            docker: true,
            ..Needs::default()
        }
    }

    async fn run(&self, ctx: &ScanContext, _scope: Scope<'_>) -> Result<(), ScanError> {
        // The engine is asked under one permit: an engine that accepts and then stalls must not
        // hold it (and, with `--concurrency 1`, the whole scan) forever.
        match tokio::time::timeout(self.engine_budget, self.sweep(ctx)).await {
            Ok(r) => r,
            Err(_) => Err(ScanError::Other(format!(
                "the Docker engine at {} did not answer within {} ms",
                self.endpoint(),
                self.engine_budget.as_millis()
            ))),
        }
    }
}

/// The longest the Docker scanner talks to the engine in one scan, by default.
const ENGINE_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

impl DockerScanner {
    async fn sweep(&self, ctx: &ScanContext) -> Result<(), ScanError> {
        let endpoint = self.endpoint();
        let Some(_permit) = ctx.probe().await else {
            return Ok(());
        };
        let docker = self.connect(&endpoint).await?;
        let host = self.host_ip(&endpoint);

        // The engine: its host is a Docker host; its id names the machine whatever its address.
        if let Ok(info) = docker.info().await {
            if let Some(id) = info.id.filter(|i| !i.is_empty()) {
                ctx.observe(
                    host,
                    Fact::Identity {
                        rule: "docker-engine-id".into(),
                        value: id,
                    },
                )
                .await;
            }
            if let Some(name) = info.name.filter(|n| !n.is_empty()) {
                ctx.observe(
                    host,
                    Fact::Hostname {
                        name,
                        source: "docker".into(),
                    },
                )
                .await;
            }
        }
        ctx.observe(
            host,
            Fact::DeviceType {
                device_type: DeviceType::DockerHost,
                evidence: "docker engine API".into(),
            },
        )
        .await;

        let options = ListContainersOptions {
            all: true,
            ..Default::default()
        };
        let containers = tokio::select! {
            r = docker.list_containers(Some(options)) => r.map_err(|e| ScanError::Other(format!("failed to list containers at {endpoint}: {e}")))?,
            _ = ctx.cancelled() => return Ok(()),
        };
        for c in containers {
            if ctx.is_cancelled() {
                break;
            }
            let Some(id) = c.id.clone() else { continue };
            let labels = c.labels.clone().unwrap_or_default();
            let mut networks: Vec<ContainerNetwork> = c
                .network_settings
                .as_ref()
                .and_then(|n| n.networks.as_ref())
                .map(|nets: &HashMap<String, _>| {
                    nets.iter()
                        .map(|(name, ep)| ContainerNetwork {
                            name: name.clone(),
                            ip: ep
                                .ip_address
                                .as_deref()
                                .filter(|s| !s.is_empty())
                                .and_then(|s| s.parse().ok()),
                        })
                        .collect()
                })
                .unwrap_or_default();
            networks.sort();
            let mut ports: Vec<PublishedPort> = c
                .ports
                .as_deref()
                .unwrap_or(&[])
                .iter()
                .map(|p| PublishedPort {
                    host_ip: p.ip.as_deref().and_then(|s| s.parse().ok()),
                    host_port: p.public_port,
                    container_port: p.private_port,
                    protocol: match p.typ.map(|t| t.to_string()).as_deref() {
                        Some("udp") => Transport::Udp,
                        _ => Transport::Tcp,
                    },
                })
                .collect();
            ports.sort();
            ports.dedup_by(|a, b| {
                a.host_port == b.host_port
                    && a.container_port == b.container_port
                    && a.protocol == b.protocol
            });
            let name = c
                .names
                .as_ref()
                .and_then(|n| n.first())
                .map(|n| n.trim_start_matches('/').to_owned())
                .unwrap_or_else(|| id.chars().take(12).collect());
            let status = c.status.clone().unwrap_or_default();
            let container = Container {
                id: id.clone(),
                name: name.clone(),
                image: c.image.clone().unwrap_or_default(),
                state: c.state.map(|s| s.to_string()).unwrap_or_default(),
                health: health_of(&status),
                compose_project: labels.get("com.docker.compose.project").cloned(),
                compose_service: labels.get("com.docker.compose.service").cloned(),
                networks,
                ports: ports.clone(),
            };
            ctx.observe(host, Fact::Container(Box::new(container)))
                .await;
            // Published ports are the host's services.
            for p in ports {
                let Some(host_port) = p.host_port else {
                    continue;
                };
                let mut f = PortFact::state(host_port, p.protocol, PortState::Open);
                f.confidence = Confidence::Low;
                f.evidence = "docker-published-port".into();
                f.extra.insert("docker.container".into(), name.clone());
                f.extra
                    .insert("docker.container_port".into(), p.container_port.to_string());
                if let Some(bound) = p.host_ip {
                    f.extra.insert("docker.host_ip".into(), bound.to_string());
                }
                ctx.observe(host, Fact::Port(f)).await;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_health() {
        assert_eq!(
            remote_ip("tcp://10.0.0.5:2375"),
            Some(IpAddr::from([10, 0, 0, 5]))
        );
        assert_eq!(remote_ip("unix:///var/run/docker.sock"), None);
        assert_eq!(
            health_of("Up 3 minutes (healthy)").as_deref(),
            Some("healthy")
        );
        assert_eq!(
            health_of("Up 3 minutes (unhealthy)").as_deref(),
            Some("unhealthy")
        );
        assert_eq!(
            health_of("Up 1 second (health: starting)").as_deref(),
            Some("starting")
        );
        assert_eq!(health_of("Exited (0) 2 minutes ago"), None);
    }
}
