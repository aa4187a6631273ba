//! scanopy-store: the `Store` trait and its SQLite and PostgreSQL backends. Not built yet (issue #4).
