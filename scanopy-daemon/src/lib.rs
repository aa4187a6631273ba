//! scanopy-daemon: one-shot scans and the service that scans for a server. Not built yet (issue #5).
