//! The server as a real process, on SQLite and on PostgreSQL.
