//! The model of a network: devices with interfaces and services, containers, networks.
//!
//! These types are what the merge produces, what the store keeps and what the API shows. They
//! are plain data: serde-serialisable, comparable, with no behaviour that does I/O.

mod device;
mod l2;
mod mac;
mod network;
mod os;
mod service;

pub use device::{
    Container, ContainerNetwork, Device, DeviceType, Interface, MergeReason, PublishedPort,
};
pub use l2::{L2, Learnt, MAX_L2_ENTRIES, Neighbour, NetPort, Vlan};
pub use mac::{MacAddr, MacParseError};
pub use network::{Network, is_link_local, is_routable, subnet_of};
pub use os::{Os, OsHint};
pub use service::{Confidence, PortState, Service, Transport};
