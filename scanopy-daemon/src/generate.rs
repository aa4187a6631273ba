//! `--generate`: the man page and shell completions of a binary, from its clap definition, for
//! packages to install (`scanopy-daemon --generate man > scanopy-daemon.1`).

use std::io::Write;

/// What `--generate` writes to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Generate {
    /// The man page (roff).
    Man,
    /// Bash completions.
    CompleteBash,
    /// Zsh completions.
    CompleteZsh,
    /// Fish completions.
    CompleteFish,
    /// PowerShell completions.
    CompletePowershell,
}

/// Writes `kind` for the command `cmd` to `out`.
pub fn write(kind: Generate, mut cmd: clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
    use clap_complete::Shell;
    let shell = match kind {
        Generate::Man => return clap_mangen::Man::new(cmd).render(out),
        Generate::CompleteBash => Shell::Bash,
        Generate::CompleteZsh => Shell::Zsh,
        Generate::CompleteFish => Shell::Fish,
        Generate::CompletePowershell => Shell::PowerShell,
    };
    // clap_complete panics on a failed write: it writes to memory, and that goes out here.
    let name = cmd.get_name().to_owned();
    let mut text = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut text);
    out.write_all(&text)
}

/// Writes `kind` to stdout and returns the exit status (a closed pipe is no failure).
pub fn to_stdout(kind: Generate, cmd: clap::Command) -> std::process::ExitCode {
    let mut out = std::io::stdout().lock();
    match write(kind, cmd, &mut out).and_then(|_| out.flush()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("failed to write: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_written_and_names_the_command() {
        let cmd = || clap::Command::new("scanopy-x").arg(clap::arg!(--ports <P> "ports"));
        for (kind, needle) in [
            (Generate::Man, ".TH scanopy-x 1"),
            (Generate::CompleteBash, "complete -F _scanopy__x"),
            (Generate::CompleteZsh, "#compdef scanopy-x"),
            (Generate::CompleteFish, "complete -c scanopy-x"),
            (Generate::CompletePowershell, "'scanopy-x'"),
        ] {
            let mut out = Vec::new();
            write(kind, cmd(), &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains(needle), "{kind:?}: {text}");
            assert!(text.contains("ports"), "{kind:?} lists the options");
        }
    }

    #[test]
    fn a_failed_write_is_an_error_not_a_panic() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let err = write(Generate::CompleteBash, clap::Command::new("x"), &mut Closed).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    }
}
