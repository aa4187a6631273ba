//! The `scanopy-daemon` binary: see the library for what it does.

fn main() -> std::process::ExitCode {
    scanopy_daemon::main()
}
