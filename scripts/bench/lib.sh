# Helpers shared by the benchmark scripts (run.sh, oauth.sh); sourced, not run.
# Callers set PROG, BENCH, OUT, SERVER_PID, CORES, QUIET_MAX, QUIET_WAIT, BACKGROUND_PIDS and define
# check_server before calling the functions that use them.
# shellcheck shell=bash

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

step() { printf '==> %s\n' "$*" >&2; }

positive() { # NAME VALUE: VALUE must be a positive integer
    if ! [[ "$2" =~ ^[0-9]+$ ]] || ((10#$2 == 0)); then die "$1 must be a positive integer, got '$2'"; fi
}

# machine_busy SECONDS: % of all cores busy over SECONDS (/proc/stat: everything but idle and iowait).
machine_busy() {
    local a b
    a="$(head -n 1 /proc/stat)"
    sleep "$1"
    b="$(head -n 1 /proc/stat)"
    printf '%s\n%s\n' "$a" "$b" | awk '
        { busy[NR] = $2 + $3 + $4 + $7 + $8 + $9; all[NR] = busy[NR] + $5 + $6 }
        END { d = all[2] - all[1]; printf "%.0f", (d > 0 ? 100 * (busy[2] - busy[1]) / d : 0) }'
}

QUIET_WAITED=0

# wait_quiet LABEL: before a measurement, wait (within the whole run's budget of QUIET_WAIT
# seconds) until other work uses at most QUIET_MAX % of the machine; sets BUSY_BEFORE.
wait_quiet() {
    while :; do
        BUSY_BEFORE="$(machine_busy 3)"
        check_server "while waiting for a quiet machine before $1"
        ((BUSY_BEFORE > QUIET_MAX)) || return 0
        # shellcheck disable=SC2153  # QUIET_WAIT is set by the calling script
        if ((QUIET_WAITED >= QUIET_WAIT)); then
            printf 'WARNING: %s: the machine was %s%% busy with other work and the %ss wait budget is spent; measuring anyway\n' \
                "$1" "$BUSY_BEFORE" "$QUIET_WAIT" | tee -a "$OUT/notes.txt" >&2
            return 0
        fi
        step "Machine is ${BUSY_BEFORE}% busy with other work (over ${QUIET_MAX}%); waiting before $1 (${QUIET_WAITED}/${QUIET_WAIT}s of the wait budget used)"
        sleep 7
        QUIET_WAITED=$((QUIET_WAITED + 10))
    done
}

# wait_background: wait for the snapshot/wrk jobs started since the last call (never a bare
# `wait`, which would wait for the server too).
wait_background() {
    local pid
    for pid in "${BACKGROUND_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    BACKGROUND_PIDS=()
}

# snapshot NAME SECONDS: record where the CPU goes during a run of SECONDS (drawbridge per thread,
# postgres, wrk, anything else on the machine), skipping its first and last 2 s, and a
# system-wide top for 5 s in its middle (to name any other work).
snapshot() {
    local window=$(($2 > 6 ? $2 - 4 : $2))
    (
        sleep $(($2 > 6 ? 2 : 0))
        python3 "$BENCH/cpu-split.py" "$SERVER_PID" "$window" >"$OUT/cpu-$1.txt" 2>&1 &
        sleep $((window / 2 > 3 ? window / 2 - 3 : 0))
        top -b -d 5 -n 2 -w 200 >"$OUT/top-$1.txt" 2>&1
        wait
    ) &
    BACKGROUND_PIDS+=($!)
}

# cpu_line NAME: the CPU split of a run on one line, for the summary, flagged when other work
# took more than QUIET_MAX % of the machine.
cpu_line() {
    [[ -s "$OUT/cpu-$1.txt" ]] || return 0
    local other
    other="$(sed -n 's/.*, other \([0-9]*\)%.*/\1/p' "$OUT/cpu-$1.txt")"
    printf '    cpu: %s%s\n' "$(paste -sd ';' "$OUT/cpu-$1.txt" | sed 's/;/; /g')" \
        "$( ((${other:-0} > QUIET_MAX * CORES)) && printf '  [DISTURBED: other work used %s%% of a core]' "$other")"
}

code_count() { awk -v c="$1" '$1 == c { n += $2 } END { print n + 0 }' "$2"; }

wrk_seconds() { sed -n 's/.* requests in \([0-9.]*\)\(m\{0,1\}s\),.*/\1 \2/p' "$1" | awk '{ print ($2 == "ms") ? $1 / 1000 : $1 }'; }

wrk_errors() { sed -n 's/^ *Socket errors: *//p' "$1"; }

per_second() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", ((s > 0) ? n / s : 0) }'; }

latency_pct() { awk -v p="$1" '$1 == p { print $2 }' "$2"; }
