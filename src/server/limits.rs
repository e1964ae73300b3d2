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

/// The CPUs this process may run on (its affinity mask, e.g. as narrowed by `taskset`), in
/// ascending order. Worker `i` is pinned to the `i`-th of them, so `taskset -c 1 llmux` puts
/// worker 0 on CPU 1, not CPU 0.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is a plain bit array for which all-zero is a valid (empty) value.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable cpu_set_t and we pass its exact size; pid 0 is this
    // thread, whose mask the main thread's workers inherit.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `i` is below CPU_SETSIZE, the bound CPU_ISSET requires.
        .filter(|&i| unsafe { libc::CPU_ISSET(i, &set) })
        .collect()
}

/// Open client connections each worker may hold so that every one of them can also open its
/// upstream connection within the descriptor limit: past this, new clients get a polite 503
/// instead of a 502 when the upstream connect fails with EMFILE.
pub fn connection_budget(nofile: u64, workers: usize) -> usize {
    const RESERVED: u64 = 64; // listeners, log files, the admin API, the runtime's own fds
    let per_worker = nofile.saturating_sub(RESERVED) / 2 / workers.max(1) as u64;
    usize::try_from(per_worker).unwrap_or(usize::MAX).max(1)
}

#[cfg(test)]
mod placement_tests {
    use super::*;

    #[test]
    fn allowed_cpus_match_the_affinity_mask() {
        let cpus = allowed_cpus();
        assert!(!cpus.is_empty());
        assert!(
            cpus.len()
                <= std::thread::available_parallelism()
                    .map_or(usize::MAX, |n| n.get())
                    .max(cpus.len())
        );
        assert!(cpus.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn budget_leaves_room_for_upstream_connections() {
        assert_eq!(connection_budget(20_000, 1), 9_968);
        assert_eq!(connection_budget(20_000, 2), 4_984);
        assert_eq!(connection_budget(10, 4), 1);
    }
}
