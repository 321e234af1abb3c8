"""Scenario agent-kill: kill -9 of the agent at random moments during ADDs.

Pods are added at concurrency 8 by runtime-like clients (retry on code 11,
DEL after an ADD that ultimately fails) while a killer SIGKILLs the agent at
random moments, each after a random 1-10 further CNI calls and a random
0-40 ms into them, and starts it again; new pods keep coming until every kill
is made. After every restart, with new calls held and the running ones
finished, it checks that no two pods hold one address: neither on their
interfaces nor in IPAM's files. At the end every pod whose ADD succeeded must
pass CHECK; then every pod is DELeted (as a runtime would, retrying code 11)
and the node must hold nothing of them.
"""
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from cni import Pod
from footprint import address_check, footprint
from lab import LabError
from report import Scenario, leak_checks
from runtime import Gate, Runtime

KEY = "agent-kill"
TITLE = "agent kill -9 during ADDs"
WHAT = __doc__.split("\n", 2)[2]
CONCURRENCY = 8
MAX_CALLS_BETWEEN_KILLS = 10


class Supply:
    """The pods, made as the workers ask: at least `minimum`, more while the killer still has kills to make."""

    def __init__(self, lab, minimum, more_wanted):
        self.lab, self.minimum, self.more_wanted = lab, minimum, more_wanted
        self.lock = threading.Lock()
        self.pods = []

    def next(self):
        with self.lock:
            i = len(self.pods) + 1
            if i > self.minimum and (not self.more_wanted() or i > 4 * self.minimum):
                return None
            pod = Pod(f"ferryfault-k9-{i:03d}", self.lab.netns(f"k9-pod-{i:03d}"))
            self.pods.append(pod)
            return pod

    def all(self):
        with self.lock:
            return list(self.pods)


class Killer:
    """Kills the agent while ADDs run, restarts it, and checks addresses after each restart."""

    def __init__(self, agent, supply, gate, rng, kills_wanted):
        self.agent, self.supply, self.gate, self.rng = agent, supply, gate, rng
        self.kills_wanted = kills_wanted
        self.kills = 0
        self.restart_ms = []
        self.checks = []          # (after which kill, duplicates, unrecorded)
        self.seen = {}            # address -> every container id seen holding it: names the owners of leftovers
        self.error = ""
        self.adds_done = threading.Event()

    def wants_more(self):
        return self.kills < self.kills_wanted and not self.error

    def run(self):
        try:
            while self.wants_more() and self.wait_for_calls():
                time.sleep(self.rng.uniform(0, 0.040))   # a random moment into the calls (an ADD takes ~20-60 ms here)
                self.kill_and_restart()
        except Exception as e:  # the scenario reports it; the workers must not wait forever on a closed gate
            self.error = f"{type(e).__name__}: {e}"
            self.gate.reopen()

    def wait_for_calls(self):
        """Until a random number of further CNI calls has started, so that kills land while ADDs are in flight."""
        target = self.gate.started + self.rng.randint(1, MAX_CALLS_BETWEEN_KILLS)
        while self.gate.started < target:
            if self.adds_done.is_set():
                return False
            time.sleep(0.002)
        return True

    def kill_and_restart(self):
        self.agent.stop(signal.SIGKILL)
        self.kills += 1
        t = time.monotonic()
        self.agent.start()
        self.agent.wait_ready()
        self.restart_ms.append((time.monotonic() - t) * 1000)
        self.check_addresses(self.kills)

    def check_addresses(self, label):
        # Held calls: a pod read before a DEL and another read after its address was reused would look
        # like two holders of one address. With nothing running the reading is a true picture.
        if not self.gate.close_and_drain(timeout=120):
            raise LabError("CNI calls still running 120 s after the gate closed")
        try:
            duplicates, unrecorded, holders = address_check(self.agent, self.supply.all())
            self.checks.append((label, duplicates, unrecorded))
            for address, who in holders.items():
                self.seen.setdefault(address, set()).update(who)
        finally:
            self.gate.reopen()


def run(lab, quick, seed):
    s = Scenario(KEY, TITLE, WHAT)
    rng = random.Random(seed)
    n_pods, n_kills = (40, 8) if quick else (120, 24)
    node = lab.node("k9-node")
    agent = lab.agent("k9", node, "10.99.16.0/24")
    agent.start()
    agent.wait_ready()
    gate = Gate()
    runtime = Runtime(agent.net_config(), gate, seed=seed)
    supply = Supply(lab, n_pods, lambda: killer.wants_more())
    killer = Killer(agent, supply, gate, rng, n_kills)
    outcomes = {}

    def worker():
        while (pod := supply.next()) is not None:
            outcomes[pod] = runtime.add(pod)

    started = time.monotonic()
    thread = threading.Thread(target=killer.run, name="killer")
    thread.start()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        for f in [pool.submit(worker) for _ in range(CONCURRENCY)]:
            f.result()
    killer.adds_done.set()
    thread.join()
    pods = supply.all()
    add_seconds = time.monotonic() - started
    if killer.error:
        raise LabError(f"the killer failed after {killer.kills} kills: {killer.error}")
    if not agent.alive():
        agent.start()
    agent.wait_ready()

    added = {p: r for p, (r, _) in outcomes.items() if r is not None}
    failed = [(p, c) for p, (r, c) in outcomes.items() if r is None]
    killer.check_addresses("end")

    # Pods whose ADD the runtime saw succeed must be whole: CHECK compares the kernel with what ADD left.
    broken = []
    for pod, result in added.items():
        c = runtime.check(pod, result)
        if not c.ok:
            broken.append(f"{pod.container_id}: {c.brief()}")

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        dels = list(pool.map(runtime.delete, pods))
    for pod, (result, _) in outcomes.items():
        if result:
            killer.seen.setdefault(result["ips"][0]["address"].split("/")[0], set()).add(pod.container_id)
    fp = footprint(agent, pods, killer.seen)

    s.numbers += [("pods", len(pods)), ("kills", killer.kills), ("pods added", len(added)),
                  ("ADDs failed for good", len(failed)),
                  ("restart to ready (median ms)", median(killer.restart_ms)),
                  ("ADD phase (s)", round(add_seconds, 1))]
    s.tables.append(("CNI answers during the run (every attempt, retries included)", ["command", "answer", "count"],
                     [[cmd, out, n] for (cmd, out), n in sorted(runtime.answers.items())]))
    dup_rows = [[label, len(d), len(u), "; ".join((d + u)[:3])] for label, d, u in killer.checks]
    s.tables.append(("Address checks (after each restart, and at the end)",
                     ["after kill", "addresses held by two pods", "pod addresses without an IPAM file", "evidence"], dup_rows))
    s.check("kills during ADDs", f">= {n_kills}", killer.kills, killer.kills >= n_kills, group="run")
    s.check("ADDs (pods)", f">= {n_pods}", len(pods), len(pods) >= n_pods, group="run")
    dups = [(label, d) for label, d, _ in killer.checks if d]
    s.check("never two pods with one address (after every restart)", 0, sum(len(d) for _, d in dups), not dups,
            "; ".join(f"after kill {label}: {d[0]}" for label, d in dups[:3]), group="invariant")
    unrec = [(label, u) for label, _, u in killer.checks if u]
    s.check("every address a pod holds is recorded in IPAM (after every restart)", 0,
            sum(len(u) for _, u in unrec), not unrec,
            "; ".join(f"after kill {label}: {u[0]}" for label, u in unrec[:3]), group="invariant")
    s.check("every pod whose ADD succeeded passes CHECK", f"{len(added)} of {len(added)}",
            f"{len(added) - len(broken)} of {len(added)}", not broken, "; ".join(broken[:3]), group="invariant")
    # Not an invariant: an ADD the agent finished but could not answer may be refused when retried (the CNI
    # spec's "interface already exists"); the runtime then DELs it and would make a new sandbox.
    if failed:
        s.tables.append(("ADDs that failed for good (the runtime DELeted them)", ["pod", "last answer"],
                         [[p.container_id, c.brief()] for p, c in failed]))
    not_deleted = [f"{p.container_id}: {c.brief()}" for p, c in zip(pods, dels) if not c.ok]
    s.check("final DEL of every pod succeeds", f"{len(pods)} of {len(pods)}", f"{len(pods) - len(not_deleted)} of {len(pods)}",
            not not_deleted, "; ".join(not_deleted[:3]), group="invariant")
    leak_checks(s, fp, "node after DEL of every pod")
    s.check("no state file quarantined", 0, len(fp.quarantined), not fp.quarantined, "; ".join(fp.quarantined[:3]),
            group="leftovers")
    return s


def median(values):
    v = sorted(values)
    return round(v[len(v) // 2]) if v else "-"
