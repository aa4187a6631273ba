//! The ranked port lists behind `--ports top100|top1000`: they live in the core
//! ([`scanopy_core::ports`]), which the store also uses to know which ports a scan covered.

pub use scanopy_core::ports::{printer_ports_to_sweep, ranked_tcp, tcp_port_name, tcp_ports};
