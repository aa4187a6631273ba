//! The built-in scanners of scanopy, each an implementation of [`scanopy_core::Scanner`].
//!
//! # Overview
//! - [`TcpPing`] (discovery): finds hosts by TCP connection attempts (an accepted or a refused
//!   connection proves a host), then reads the kernel's neighbour table for the MACs of on-link
//!   hosts, including those that drop all TCP. Needs no privilege, and reaches routed subnets.
//! - [`TcpScanner`] (per host): a connect scan of the configured ports with adaptive timeouts,
//!   identifying each open port from the data-driven [`Catalogue`] (banners, probes, HTTP facts).
//!
//! All of them send only to the scan's targets and take a probe permit from the scan's shared
//! budget for every connection.
//!
//! # Example
//! ```no_run
//! use scanopy_core::{Pipeline, ScanConfig, TargetSet};
//! use scanopy_scanners::{TcpPing, TcpScanner};
//!
//! # async fn run() {
//! let config = ScanConfig { ports: "22,80".parse().unwrap(), ..ScanConfig::default() };
//! let targets = TargetSet::parse(&["192.168.1.0/24", "!192.168.1.1"]).unwrap();
//! let (inventory, summary) = Pipeline::new()
//!     .with(TcpPing::default())
//!     .with(TcpScanner::default())
//!     .start(config, targets, Default::default())
//!     .inventory()
//!     .await;
//! # }
//! ```

pub mod arp;
pub mod catalogue;
pub mod dhcp;
pub mod dhcp6;
pub mod dns;
pub mod docker;
pub mod frame;
pub mod icmp;
pub mod limits;
pub mod listen;
pub mod lldp;
pub mod mdns;
pub mod names;
pub mod ndp;
pub mod netbios;
pub mod ping;
pub mod ports;
mod probe;
pub mod recog;
pub mod recognise;
pub mod registry;
pub mod snmp;
pub mod ssdp;
pub mod syn;
pub mod tcp;
pub mod tls;
pub mod udp;

pub use arp::{ArpScanner, ArpSettings};
pub use catalogue::{Catalogue, CatalogueError, Identification};
pub use docker::{DockerScanner, DockerSettings};
pub use icmp::{IcmpScanner, IcmpSettings};
pub use names::{NameScanner, NameSettings};
pub use ndp::{NdpScanner, NdpSettings};
pub use ping::TcpPing;
pub use registry::{BuildSettings, SCANNERS, ScannerEntry};
pub use snmp::{SnmpScanner, SnmpSettings};
pub use tcp::{TcpScanner, TcpSettings};
pub use udp::UdpScanner;
