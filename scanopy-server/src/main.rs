//! The `scanopy-server` binary.

fn main() -> std::process::ExitCode {
    scanopy_server::main()
}
