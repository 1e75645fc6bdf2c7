#!/usr/bin/env python3
"""Where the CPU goes for SECONDS: drawbridge per thread, postgres, wrk, everything else.

    cpu-split.py DRAWBRIDGE_PID SECONDS

Reads /proc (utime + stime) at the start and the end of the window. Percentages
are of one core (the machine has os.cpu_count() * 100 %). "other" is the
machine's total busy time minus drawbridge, postgres and wrk: other people's
work on the machine, the kernel's, this script's.
"""
import os
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def proc_times(path):
    """(comm, utime + stime in ticks) from a /proc/.../stat file, or None if it vanished."""
    try:
        with open(path) as f:
            data = f.read()
    except OSError:
        return None
    comm = data[data.index("(") + 1:data.rindex(")")]
    fields = data[data.rindex(")") + 2:].split()
    return comm, int(fields[11]) + int(fields[12])


def busy_ticks():
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values[:8]) - idle  # up to steal; guest time is already in user


def snapshot(pid):
    threads = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        got = proc_times(f"/proc/{pid}/task/{tid}/stat")
        if got:
            threads[tid] = got
    groups = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        got = proc_times(f"/proc/{entry}/stat")
        if got:
            groups[entry] = got
    return threads, groups, busy_ticks(), time.monotonic()


def main():
    pid, seconds = int(sys.argv[1]), float(sys.argv[2])
    t0, g0, b0, m0 = snapshot(pid)
    time.sleep(seconds)
    t1, g1, b1, m1 = snapshot(pid)
    scale = 100.0 / (TICK * (m1 - m0))

    def pct(ticks):
        return ticks * scale

    per_comm = {}
    for tid, (comm, ticks) in t1.items():
        start = t0.get(tid, (comm, 0))[1]
        per_comm[comm] = per_comm.get(comm, 0) + ticks - start
    drawbridge = sum(per_comm.values())

    known = {"postgres": 0, "wrk": 0}
    for p, (comm, ticks) in g1.items():
        if comm in known and p in g0:
            known[comm] += ticks - g0[p][1]
    total = b1 - b0
    other = total - drawbridge - known["postgres"] - known["wrk"]

    cores = os.cpu_count()
    threads = ", ".join(f"{comm} {pct(t):.0f}%" for comm, t in sorted(per_comm.items(), key=lambda kv: -kv[1]) if pct(t) >= 0.5)
    print(f"window {m1 - m0:.1f}s, machine busy {pct(total):.0f}% of {cores * 100}%")
    print(f"drawbridge {pct(drawbridge):.0f}% ({threads})")
    print(f"postgres {pct(known['postgres']):.0f}%, wrk {pct(known['wrk']):.0f}%, other {pct(max(other, 0)):.0f}%")


if __name__ == "__main__":
    main()
