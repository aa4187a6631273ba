//! The server's API through `app(state)`, without a socket: every route, its authentication,
//! its error bodies. Real processes (SQLite, PostgreSQL) are in `process.rs`.

mod alerts;
mod api;
mod common;
mod openapi;
mod process;
mod push;
mod roles;
mod ui_js;
