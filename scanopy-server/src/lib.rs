//! scanopy-server: collects what daemons find, keeps it, and serves the API and the web UI.
//!
//! Not built yet: the server lands with issue #6 (it needs the store, #4, and the daemon
//! protocol, #5). Until then [`status`] says so, and the binary prints it and exits with status 1
//! rather than pretend to serve.
//!
//! # Example
//! ```
//! assert!(scanopy_server::status().contains("issue #6"));
//! ```

/// Where the server stands, for people running it.
pub fn status() -> &'static str {
    "scanopy-server is not built yet (issue #6): the HTTP API, the web UI and the embedded store \
     are still to come. What works today is the library (scanopy-core) and the test LAN; see \
     README.md and CHANGELOG.md."
}
