//! Push mode: the daemon listens and the server calls it, every call signed for this daemon.
//!
//! Routes: `GET /api/v1/health` (no authentication) → `{"status":"ok"}`; `POST /api/v1/jobs`
//! with a [`Job`] starts it (409 while one runs); `POST /api/v1/jobs/{id}/cancel` stops it.
//! Every route but health needs the headers [`TIMESTAMP_HEADER`] (seconds since the epoch,
//! within [`MAX_CLOCK_SKEW_SECS`] of the daemon's clock), [`DAEMON_HEADER`] (this daemon's id,
//! as the server gave it at registration) and [`SIGNATURE_HEADER`] (base64 of the server's
//! Ed25519 signature over [`signed_message`], which covers the daemon id), checked against the
//! public key the daemon was given; a signature is accepted once (a replay within the window is
//! refused), and a call signed for another daemon is refused, so a call captured on its way to
//! one daemon cannot be replayed to another. Refusals are 401 with the contract's error body
//! and a log line without secrets.
//!
//! [`PushClient`] is the server's side: it signs and sends those calls, never following a
//! redirect, each call bounded by [`CALL_TIMEOUT`].
//!
//! The parts: `sign` (the key, the signature of a call and its check), `client` (the server's
//! side) and `listen` (the daemon's listener). The client and the listener share only `sign`.
//!
//! [`Job`]: scanopy_core::protocol::Job
//! [`TIMESTAMP_HEADER`]: scanopy_core::protocol::TIMESTAMP_HEADER
//! [`MAX_CLOCK_SKEW_SECS`]: scanopy_core::protocol::MAX_CLOCK_SKEW_SECS
//! [`DAEMON_HEADER`]: scanopy_core::protocol::DAEMON_HEADER
//! [`SIGNATURE_HEADER`]: scanopy_core::protocol::SIGNATURE_HEADER
//! [`signed_message`]: scanopy_core::protocol::signed_message

mod client;
mod listen;
mod sign;

pub use client::{CALL_TIMEOUT, CONNECT_TIMEOUT, PushClient};
pub(crate) use listen::serve;
pub use sign::generate_key;
pub(crate) use sign::{Verifier, parse_public_key};

#[cfg(test)]
mod tests;
