//! The core of scanopy: the model of a network, the [`Scanner`] trait every scanner implements,
//! the scan [`Pipeline`], target parsing, the identity merge and the [`Topology`].
//!
//! # Overview
//! Data flows one way. Scanners emit [`Observation`]s (one fact about one address); the
//! [`Pipeline`] runs discovery scanners over the targets and hands each host found to the
//! per-host scanners at once; an [`Inventory`] folds observations into [`Device`]s by one set of
//! identity rules; a [`Topology`] draws devices as a graph and exports it.
//!
//! This crate does no I/O of its own: no sockets, no files, no database. Scanners that send
//! packets live in `scanopy-scanners`; storage lives in `scanopy-store`.
//!
//! # Example
//! A scanner of your own, plugged into the pipeline beside any others:
//!
//! ```
//! use async_trait::async_trait;
//! use scanopy_core::{
//!     Fact, Pipeline, ScanConfig, ScanContext, ScanError, Scanner, ScannerKind, Scope,
//!     TargetSet,
//! };
//!
//! /// Pretends every even address answers.
//! struct EvenHosts;
//!
//! #[async_trait]
//! impl Scanner for EvenHosts {
//!     fn name(&self) -> &str { "even" }
//!     fn kind(&self) -> ScannerKind { ScannerKind::Discovery }
//!     async fn run(&self, ctx: &ScanContext, scope: Scope<'_>) -> Result<(), ScanError> {
//!         let Scope::Targets(targets) = scope else { return Ok(()) };
//!         for ip in targets.iter() {
//!             let Some(_permit) = ctx.probe().await else { break }; // cancelled
//!             if ip.to_string().ends_with(['0', '2', '4', '6', '8']) {
//!                 ctx.observe(ip, Fact::Alive { method: "even".into(), rtt_us: None }).await;
//!             }
//!         }
//!         Ok(())
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let targets = TargetSet::parse(&["10.9.0.1-10", "!10.9.0.9"]).unwrap();
//! let (inventory, summary) = Pipeline::new()
//!     .with(EvenHosts)
//!     .start(ScanConfig::default(), targets, Default::default())
//!     .inventory()
//!     .await;
//! assert_eq!(inventory.devices().len(), 5);
//! assert_eq!(summary.progress.hosts_found, 5);
//! # });
//! ```

pub mod classify;
pub mod compliance;
pub mod config;
pub mod merge;
pub mod model;
pub mod observation;
pub mod os;
pub mod pipeline;
pub mod ports;
pub mod protocol;

/// How to write a scanner of your own: the trait, observations, cancellation, rate limits,
/// capabilities and the compliance suite.
#[doc = include_str!("../docs/writing-a-scanner.md")]
pub mod guide {}
pub mod scanner;
pub mod targets;
pub mod topology;

pub use config::{
    DEFAULT_MAX_DURATION_MS, DEFAULT_STALL_TIMEOUT_MS, PRINTER_PORTS, PortSpec, PortSpecError,
    ScanConfig,
};
pub use merge::{Inventory, InventoryConfig};
pub use model::{
    Confidence, Container, ContainerNetwork, Device, DeviceType, Interface, L2, Learnt, MacAddr,
    MergeReason, Neighbour, NetPort, Network, Os, OsHint, PortState, PublishedPort, Service,
    Transport, Vlan, is_link_local, is_routable,
};
pub use observation::{Fact, Observation, PortFact};
pub use pipeline::{Pipeline, ScanEvent, ScanHandle, ScanSummary};
pub use protocol::Capabilities;
pub use scanner::{
    Budget, MAX_WARNINGS, Needs, ProbePermit, Progress, ProgressSnapshot, ScanContext, ScanError,
    Scanner, ScannerKind, Scope,
};
pub use targets::{HostInterface, Target, TargetError, TargetSet, TargetSpec, attached_subnets};
pub use topology::{Edge, Node, Topology};
