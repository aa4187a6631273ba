//! Private files: data directories 0700, what is in them (spool entries, `job.json`, the
//! server's database and key) 0600, whatever the process umask. Made with those modes at
//! creation, and tightened (with a warning in the log) when found looser at start.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The mode of private directories.
pub const DIR_MODE: u32 = 0o700;
/// The mode of private files.
pub const FILE_MODE: u32 = 0o600;

/// Sets the process umask to 0077, so that whatever the process or a library (SQLite) creates
/// is private too. Call first thing in `main`.
pub fn private_umask() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
}

/// Creates `dir` (and missing parents) with mode 0700, or tightens it to 0700 if it exists
/// with a looser mode.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    tighten(dir, DIR_MODE)?;
    Ok(())
}

/// Tightens `path` to `mode` if it exists and others than its owner may use it; says so in
/// the log. Returns whether it changed anything. A missing file is not an error.
pub fn tighten(path: &Path, mode: u32) -> io::Result<bool> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if meta.file_type().is_symlink() {
        // Never follow a link to chmod what it points at.
        return Ok(false);
    }
    let old = meta.permissions().mode() & 0o777;
    if old & !mode == 0 {
        return Ok(false);
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    tracing::warn!(
        path = %path.display(),
        "tightened the mode of {} from {old:04o} to {mode:04o}: it holds private data",
        path.display()
    );
    Ok(true)
}

/// Creates (or truncates) `path` for writing with mode 0600; an existing file is tightened
/// first.
pub fn create_private(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)?;
    // An existing file keeps its mode through open(2): set it.
    let mode = f.metadata()?.permissions().mode() & 0o777;
    if mode != FILE_MODE {
        f.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(f)
}

/// Warns when a file that may hold a secret (a config file with a key, a TLS key) can be read
/// by other users. Changes nothing: the file is the admin's.
pub fn warn_if_readable_by_others(path: &Path, what: &str) {
    if let Ok(m) = fs::metadata(path) {
        let mode = m.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                "{what} {} can be read by other users (mode {mode:04o}); it may hold a secret: chmod 600 it",
                path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn private_dirs_and_files_get_0700_and_0600_and_looser_ones_are_tightened() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("a/b");
        private_dir(&d).unwrap();
        assert_eq!(mode(&t.path().join("a")), 0o700);
        assert_eq!(mode(&d), 0o700);
        let f = d.join("f");
        drop(create_private(&f).unwrap());
        assert_eq!(mode(&f), 0o600);
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        private_dir(&d).unwrap();
        assert_eq!(mode(&d), 0o700);
        assert!(tighten(&f, FILE_MODE).unwrap());
        assert_eq!(mode(&f), 0o600);
        assert!(!tighten(&f, FILE_MODE).unwrap(), "nothing left to do");
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        drop(create_private(&f).unwrap());
        assert_eq!(mode(&f), 0o600, "rewriting an existing file tightens it");
        assert!(!tighten(&d.join("missing"), FILE_MODE).unwrap());
    }
}
