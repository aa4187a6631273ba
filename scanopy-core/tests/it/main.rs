//! Integration tests of scanopy-core's public API, from outside the crate.

mod custom_scanner;
mod invariants;
