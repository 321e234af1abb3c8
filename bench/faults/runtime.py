"""A container runtime's use of a CNI plugin, as far as faults go: retry what the
plugin says to retry, give up after a while, and tear down what failed.

containerd and CRI-O retry a sandbox whose network setup failed; code 11 ("try
again later") is what ferry-cni answers when the agent is down, restarting,
busy or went away mid-request. A runtime whose ADD ultimately fails runs DEL
for that attachment before it drops the sandbox.
"""
import random
import threading
import time
from collections import Counter
from contextlib import contextmanager

from cni import prev_result, run_cni

TRY_AGAIN_LATER = 11
# Set when the run is being stopped (SIGTERM, CTRL-C): retry loops end at their next answer.
STOP = threading.Event()


class Gate:
    """Lets a scenario hold new CNI calls and wait for the running ones, to look at a node that is still."""

    def __init__(self):
        self.cond = threading.Condition()
        self.is_open = True
        self.running = 0
        self.started = 0

    @contextmanager
    def call(self):
        with self.cond:
            self.cond.wait_for(lambda: self.is_open)
            self.running += 1
            self.started += 1
        try:
            yield
        finally:
            with self.cond:
                self.running -= 1
                self.cond.notify_all()

    def close_and_drain(self, timeout):
        """Holds new calls; True once none is running."""
        with self.cond:
            self.is_open = False
            return self.cond.wait_for(lambda: self.running == 0, timeout)

    def reopen(self):
        with self.cond:
            self.is_open = True
            self.cond.notify_all()


def retryable(call):
    # No exit of its own: the runtime's deadline killed it, which a runtime also retries.
    return call.code == TRY_AGAIN_LATER or call.timed_out


class Runtime:
    """ADD and DEL with a runtime's retries. Every answer is tallied by command and outcome."""

    def __init__(self, config, gate=None, give_up_after=120.0, call_timeout=60.0, seed=0):
        self.config = config
        self.gate = gate or Gate()
        self.give_up_after = give_up_after
        self.call_timeout = call_timeout
        self.answers = Counter()       # (command, outcome) -> count
        self.lock = threading.Lock()
        self.rng = random.Random(seed)

    def call(self, pod, command, config=None):
        with self.gate.call():
            c = run_cni(pod, command, config or self.config, timeout=self.call_timeout)
        outcome = "ok" if c.ok else ("timeout" if c.timed_out else f"code {c.code}")
        with self.lock:
            self.answers[(command, outcome)] += 1
        return c

    def _retrying(self, pod, command, config=None):
        deadline = time.monotonic() + self.give_up_after
        delay = 0.05
        while True:
            c = self.call(pod, command, config)
            if c.ok or not retryable(c) or time.monotonic() > deadline or STOP.is_set():
                return c
            with self.lock:
                jitter = self.rng.uniform(0, delay)
            time.sleep(delay + jitter)
            delay = min(delay * 2, 1.0)

    def add(self, pod):
        """(result, the last failed call or None). A failed ADD is followed by DEL, as a runtime does."""
        c = self._retrying(pod, "ADD")
        if c.ok:
            return c.answer, None
        self.delete(pod)
        return None, c

    def delete(self, pod):
        return self._retrying(pod, "DEL")

    def check(self, pod, result):
        config = dict(self.config, prevResult=prev_result(result, self.config["cniVersion"]))
        return self._retrying(pod, "CHECK", config)
