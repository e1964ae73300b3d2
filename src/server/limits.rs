//! Process limits a gateway needs raised before it serves.

/// What llmux asks for when it may raise the hard limit (running as root): every proxied
/// stream holds two descriptors, client and upstream.
const WANTED_NOFILE: u64 = 1 << 20;

/// Raises the open-files soft limit to the hard limit (and, when allowed, the hard limit to
/// `fs.nr_open` or 2^20), so thousands of client and upstream connections do not fail with
/// `EMFILE`. Returns the new soft limit.
pub fn raise_nofile_limit() -> std::io::Result<u64> {
    // Reading /proc is file I/O: this runs on the main thread before any worker starts.
    let ceiling = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(WANTED_NOFILE)
        .min(WANTED_NOFILE);
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable `rlimit` for the duration of the call, as
    // getrlimit(2) requires; RLIMIT_NOFILE is a valid resource.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if lim.rlim_max < ceiling {
        let raised = libc::rlimit {
            rlim_cur: ceiling,
            rlim_max: ceiling,
        };
        // SAFETY: as below; raising the hard limit needs CAP_SYS_RESOURCE and simply fails
        // (EPERM) without it, leaving the limits as they were.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return Ok(ceiling);
        }
    }
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid `rlimit` whose soft limit does not exceed its hard limit,
        // which is all setrlimit(2) reads.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(lim.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_limit_ends_at_the_hard_limit() {
        let soft = raise_nofile_limit().unwrap();
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above, a valid writable rlimit.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        assert_eq!(lim.rlim_cur, lim.rlim_max);
        assert_eq!(soft, lim.rlim_cur);
    }
}
