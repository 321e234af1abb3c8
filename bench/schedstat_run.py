#!/usr/bin/env python3
"""Runs a command and says how much CPU it and the given tasks used, from the scheduler.

  schedstat_run.py OUT_JSON [--also PID ...] -- COMMAND [ARG ...]

The command's stdout and stderr are its own. When it has exited, and before it is
reaped (waitid with WNOWAIT keeps the zombie and its /proc entry), its run time
is read from /proc/PID/schedstat (the scheduler's nanoseconds on a CPU, not the
tick-sampled /proc/PID/stat), and so is the change in run time of every --also
task (a server, ksoftirqd/N) over the same window, read just before the command
starts and just after it exits. Writes OUT_JSON:
  {"exit": STATUS, "command_ns": N, "also_ns": {"PID": N, ...}}
The command must be single-threaded (connrate, iperf3 3.12): only the thread
that is the process is read. Exits with the command's status.
"""
import json
import os
import sys


def run_ns(pid):
    """Run time of a task (a thread id works too), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return None


def main(argv):
    if len(argv) < 4 or "--" not in argv:
        sys.exit(__doc__)
    out, rest = argv[1], argv[2:]
    split = rest.index("--")
    opts, command = rest[:split], rest[split + 1:]
    also = [int(p) for o, p in zip(opts[::2], opts[1::2]) if o == "--also"]
    if not command or len(opts) % 2:
        sys.exit(__doc__)
    before = {p: run_ns(p) for p in also}
    try:
        pid = os.posix_spawnp(command[0], command, os.environ)
    except OSError as e:
        sys.exit(f"schedstat_run: failed to start '{command[0]}': {e.strerror}")
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    command_ns = run_ns(pid)
    after = {p: run_ns(p) for p in also}
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    deltas = {str(p): (after[p] - before[p]) if before[p] is not None and after[p] is not None else None for p in also}
    with open(out, "w") as f:
        json.dump({"exit": code, "command_ns": command_ns, "also_ns": deltas}, f)
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main(sys.argv)
