"""Scenario cni-kill: ferry-cni SIGKILLed at random points.

A mix of ADD, DEL and CHECK calls on a set of pods, four at a time, each
ferry-cni SIGKILLed a random 0-50 ms after it started (as a runtime whose
deadline passed does; calls that finish first are counted as finished). The
agent keeps no client, so after the calls the node must settle, the agent must
still serve (status ready, a fresh ADD works), every pod must be either fully
present (every piece there and CHECK passes) or fully absent, and after a DEL
of every pod the node must hold nothing of them.
"""
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from cni import Pod, prev_result, run_cni
from footprint import endpoint_files, footprint, host_veths, ipam_files, map_entries, pod_parts
from report import Scenario, leak_checks
from runtime import Runtime

KEY = "cni-kill"
TITLE = "ferry-cni SIGKILLed mid-call"
WHAT = __doc__.split("\n", 2)[2]
CONCURRENCY = 4
KILL_WINDOW = 0.050
COMMANDS = (("ADD", 5), ("DEL", 3), ("CHECK", 2))


def node_picture(agent):
    """What changes while the agent still works on requests whose client is gone."""
    log_size = agent.log.stat().st_size if agent.log.exists() else 0
    return (tuple(host_veths(agent.node_ns)), tuple(sorted(ipam_files(agent))), tuple(endpoint_files(agent)),
            tuple(map_entries(agent)), log_size)


def await_settled(agent, quiet=2.0, timeout=90.0):
    """Until the node (veths, IPAM, endpoint files, map, the agent's log) stays the same for `quiet` seconds:
    the socket has no in-flight count to ask, and a request whose client was killed may still be running."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        now = node_picture(agent)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return True
        time.sleep(0.25)
    return False


def classify(agent, runtime, pod):
    """'present' (every piece, CHECK passes), 'absent' (no piece) or 'half', with what was seen."""
    parts, address = pod_parts(agent, pod)
    have = [k for k, v in parts.items() if v]
    if not have:
        return "absent", ""
    if len(have) == len(parts):
        c = runtime.check(pod, prev_result(address + "/32", runtime.config["cniVersion"]))
        if c.ok:
            return "present", ""
        return "half", f"every piece there but CHECK: {c.brief()}"
    missing = [k for k, v in parts.items() if not v]
    return "half", f"has {', '.join(have)}; lacks {', '.join(missing)}"


def run(lab, quick, seed):
    s = Scenario(KEY, TITLE, WHAT)
    rng = random.Random(seed)
    n_pods, n_calls = (12, 60) if quick else (40, 240)
    node = lab.node("ck-node")
    agent = lab.agent("ck", node, "10.99.24.0/24")
    agent.start()
    agent.wait_ready()
    config = agent.net_config()
    pods = [Pod(f"ferryfault-ck-{i:03d}", lab.netns(f"ck-pod-{i:03d}")) for i in range(1, n_pods + 1)]
    plan = [(rng.choice(pods), rng.choices([c for c, _ in COMMANDS], [w for _, w in COMMANDS])[0],
             rng.uniform(0, KILL_WINDOW)) for _ in range(n_calls)]
    results = {}                 # pod -> the last ADD result seen, for CHECK's prevResult
    lock = threading.Lock()
    tally = Counter()

    def one(call):
        pod, command, kill_after = call
        cfg = config
        if command == "CHECK":
            with lock:
                known = results.get(pod)
            cfg = dict(config, prevResult=prev_result(known)) if known else config
        c = run_cni(pod, command, cfg, kill_after=kill_after)
        with lock:
            if c.ok and command == "ADD" and c.answer:
                results[pod] = c.answer
            tally[(command, "killed" if c.killed else ("ok" if c.ok else f"code {c.code}"))] += 1

    started = time.monotonic()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(one, plan))
    calls_seconds = time.monotonic() - started
    killed = sum(n for (_, out), n in tally.items() if out == "killed")

    settled = await_settled(agent)
    s.check("the node settles after the calls (nothing changes for 2 s)", "within 90 s",
            "settled" if settled else "still changing after 90 s", settled, group="agent serves")
    status = agent.status(timeout=5)
    s.check("GET /v1/status answers ready", "ready: true",
            f"ready: {status.get('ready')} ({status.get('notReadyReason')})" if status else "no answer within 5 s",
            bool(status and status.get("ready")), group="agent serves")

    runtime = Runtime(config, give_up_after=30)
    fresh = Pod("ferryfault-ck-fresh", lab.netns("ck-pod-fresh"))
    result, failure = runtime.add(fresh)
    s.check("a fresh ADD works (retrying code 11 for 30 s)", "exit 0", "exit 0" if result else failure.brief(),
            result is not None, group="agent serves")

    verdicts = {pod: classify(agent, runtime, pod) for pod in pods}
    counts = Counter(v for v, _ in verdicts.values())
    halves = [f"{p.container_id}: {why}" for p, (v, why) in verdicts.items() if v == "half"]
    s.check("every pod fully present or fully absent (before the final DEL)", "0 half",
            f"{counts['present']} present, {counts['absent']} absent, {counts['half']} half", not halves,
            "; ".join(halves[:3]), group="invariant")

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        dels = list(pool.map(runtime.delete, pods + [fresh]))
    not_deleted = [f"{p.container_id}: {c.brief()}" for p, c in zip(pods + [fresh], dels) if not c.ok]
    s.check("final DEL of every pod succeeds", f"{len(dels)} of {len(dels)}", f"{len(dels) - len(not_deleted)} of {len(dels)}",
            not not_deleted, "; ".join(not_deleted[:3]), group="invariant")
    fp = footprint(agent, pods + [fresh])
    leak_checks(s, fp, "node after DEL of every pod")
    s.check("no state file quarantined", 0, len(fp.quarantined), not fp.quarantined, "; ".join(fp.quarantined[:3]),
            group="leftovers")

    s.numbers += [("calls", n_calls), ("killed mid-call", killed), ("finished before the kill", n_calls - killed),
                  ("pods", n_pods), ("present / absent / half", f"{counts['present']} / {counts['absent']} / {counts['half']}"),
                  ("calls phase (s)", round(calls_seconds, 1))]
    s.tables.append(("Calls by command and outcome", ["command", "outcome", "count"],
                     [[cmd, out, n] for (cmd, out), n in sorted(tally.items())]))
    if halves:
        s.tables.append(("Pods found half made", ["pod", "what was there"],
                         [h.split(": ", 1) for h in halves]))
    return s
