# Shared by the load-test scripts: stopping what a run started, and giving the run's processes
# priority over other work on a shared machine. Source it; it defines functions only.

# Stops every pid in PIDS (newest first), waiting up to 5 s each before SIGKILL.
stop_processes() {
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill -TERM "${PIDS[i]}" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
}

# With autogroup scheduling (sched_autogroup_enabled=1) a process's nice value only counts
# inside its session; against other sessions' work what counts is the autogroup's nice. So
# raise this session's autogroup to NICE for the run; AUTOGROUP_OLD keeps the value to restore.
boost_priority() {
    AUTOGROUP_OLD=""
    if [[ "$NICE" != 0 && -w /proc/self/autogroup ]]; then
        AUTOGROUP_OLD="$(awk '{print $3}' /proc/self/autogroup 2>/dev/null || true)"
        if [[ -n "$AUTOGROUP_OLD" ]] && ! echo "$NICE" >/proc/self/autogroup 2>/dev/null; then
            AUTOGROUP_OLD=""
        fi
    fi
}

restore_priority() {
    [[ -n "$AUTOGROUP_OLD" ]] && echo "$AUTOGROUP_OLD" >/proc/self/autogroup 2>/dev/null
}

# The EXIT trap of run.sh and syscalls.sh (`trap cleanup EXIT`): this session's priority back,
# every process in PIDS stopped, the scratch directory TMP removed; the script's status kept.
cleanup() {
    local rc=$?
    set +e
    restore_priority
    stop_processes
    [[ -n "$TMP" && -d "$TMP" ]] && rm -rf "$TMP"
    exit "$rc"
}
