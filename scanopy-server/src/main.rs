//! The `scanopy-server` binary.

fn main() -> std::process::ExitCode {
    eprintln!("{}", scanopy_server::status());
    std::process::ExitCode::FAILURE
}
