//! Process limits that decide how many connections may be open at once.

/// Raises the open-file soft limit as far as the hard limit allows and returns the new soft
/// limit (or the old one if it cannot be changed).
pub fn raise_nofile() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 1024;
    };
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        return hard;
    }
    soft
}

/// The concurrency a scan can afford under `nofile` descriptors: what was asked for, but
/// leaving room for the process's other files (a quarter of the limit, at least 64).
pub fn fit_concurrency(requested: usize, nofile: u64) -> usize {
    let reserve = (nofile / 4).max(64);
    let usable = usize::try_from(nofile.saturating_sub(reserve))
        .unwrap_or(usize::MAX)
        .max(1);
    requested.clamp(1, usable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_fits_the_descriptor_limit() {
        assert_eq!(fit_concurrency(512, 1024), 512);
        assert_eq!(fit_concurrency(5000, 1024), 768);
        assert_eq!(fit_concurrency(100, 65536), 100);
        assert_eq!(fit_concurrency(10, 10), 1);
        assert!(raise_nofile() >= 64);
    }
}
