"""The fault campaign's lab: namespaces, nodes, agents and the agent socket.

Everything made here is named so that bench/faults.sh can find and remove it
whatever happens to this process: namespaces `ferryfault-*`, pins under
`/sys/fs/bpf/ferry-fault-*`, files under the run directory. Processes that
outlive one call (agents, traffic tools) are listed in `<run_dir>/pids` with
their start time, so that the shell's clean-up kills exactly them by PID.
"""
import ipaddress
import json
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
AGENT_BIN = REPO / "dist/bin/ferry-agent"
CNI_BIN = REPO / "dist/bin/ferry-cni"
NS_PREFIX = "ferryfault-"
PIN_PREFIX = "/sys/fs/bpf/ferry-fault-"
CLUSTER_CIDR = "10.99.0.0/16"
ENDPOINT_MAP = "ferry_endpoints_v3"   # bpf/lib/endpoint.h, pinned by name under bpffsRoot


class LabError(Exception):
    """The lab itself could not do what a scenario needs (not a finding about Ferry)."""


def sh(*argv, check=True, timeout=60, input=None):
    """Runs a short command; its stdout as text."""
    done = subprocess.run([str(a) for a in argv], input=input, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise LabError(f"{' '.join(map(str, argv))} failed ({done.returncode}): {done.stderr.strip()[:300]}")
    return done.stdout


def ip_json(*argv):
    """`ip -j ...` as a list; iproute2 prints nothing instead of [] for some empty answers."""
    out = sh("ip", "-j", *argv, check=False)
    return json.loads(out) if out.strip() else []


def await_true(what, predicate, timeout, interval=0.05):
    """Polls predicate until it returns something truthy, which is returned; LabError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise LabError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------------------
# Processes: every long-lived one is registered, so the shell can kill it by PID.

def start_time(pid):
    """Field 22 of /proc/PID/stat: tells a process from a later one that reuses its PID."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


class Pids:
    def __init__(self, path):
        self.path = Path(path)
        self.lock = threading.Lock()
        self.live = {}

    def add(self, pid):
        with self.lock:
            self.live[pid] = start_time(pid) or "?"
            self._write()

    def remove(self, pid):
        with self.lock:
            self.live.pop(pid, None)
            self._write()

    def _write(self):
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(f"{p} {t}\n" for p, t in self.live.items()))
        tmp.replace(self.path)


# ---------------------------------------------------------------------------
# Namespaces and nodes

class Lab:
    """One run's namespaces, pins and processes; teardown() removes what it made."""

    def __init__(self, run_dir, pids):
        self.run_dir = Path(run_dir)
        self.pids = pids
        self.namespaces = []
        self.agents = []
        self.helpers = []
        self.pins = []           # pin directories made by agents started without an Agent object

    def netns(self, name):
        full = NS_PREFIX + name
        sh("ip", "netns", "add", full)
        self.namespaces.append(full)
        sh("ip", "-n", full, "link", "set", "lo", "up")
        return full

    def node(self, name, address="192.168.99.1/24"):
        """A node namespace with an uplink ('wire') whose far end stays inside it: a node alone on its link."""
        ns = self.netns(name)
        sh("ip", "-n", ns, "link", "add", "wire", "type", "veth", "peer", "name", "wire-peer")
        sh("ip", "-n", ns, "address", "add", address, "dev", "wire")
        sh("ip", "-n", ns, "link", "set", "wire", "up")
        sh("ip", "-n", ns, "link", "set", "wire-peer", "up")
        return ns

    def node_pair(self, a, b, address_a="192.168.99.1/24", address_b="192.168.99.2/24"):
        """Two node namespaces joined by a veth 'wire', as scripts/demo.sh makes them."""
        ns_a, ns_b = self.netns(a), self.netns(b)
        sh("ip", "-n", ns_a, "link", "add", "wire", "type", "veth", "peer", "name", "wire", "netns", ns_b)
        for ns, address in ((ns_a, address_a), (ns_b, address_b)):
            sh("ip", "-n", ns, "address", "add", address, "dev", "wire")
            sh("ip", "-n", ns, "link", "set", "wire", "up")
        return ns_a, ns_b

    def spawn(self, argv, log_path, stderr_path=None, stdin=subprocess.DEVNULL):
        """A background process, registered for the shell's clean-up; stdout (and stderr, unless
        stderr_path is given) to log_path. stdin=subprocess.PIPE: a pipe whose end tells it this
        driver is gone (the kube scenario's mock API server stops then)."""
        with open(log_path, "ab") as log, open(stderr_path or os.devnull, "ab") as err:
            proc = subprocess.Popen([str(a) for a in argv], stdout=log, stderr=err if stderr_path else subprocess.STDOUT,
                                    stdin=stdin, start_new_session=True)
        self.pids.add(proc.pid)
        return proc

    def reap(self, proc):
        self.pids.remove(proc.pid)

    def agent(self, key, node_ns, pod_cidr, peers=()):
        a = Agent(self, key, node_ns, pod_cidr, peers)
        self.agents.append(a)
        return a

    def teardown(self):
        """Stops every agent and helper, deletes every namespace and pin this lab made."""
        for proc in self.helpers:
            stop_process(proc, self)
        for a in self.agents:
            a.stop_quietly()
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        for pins in [a.bpffs for a in self.agents] + self.pins:
            subprocess.run(["rm", "-rf", pins], capture_output=True)
        self.namespaces.clear()
        self.agents.clear()
        self.helpers.clear()
        self.pins.clear()


def stop_process(proc, lab, sig=signal.SIGTERM, timeout=10):
    """Signals a process we started and waits for it; SIGKILL when it does not go. Its exit status."""
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    lab.reap(proc)
    return proc.returncode


# ---------------------------------------------------------------------------
# The agent socket: HTTP/1.1 over a unix socket, by hand, so that malformed requests can be sent too.

@dataclass
class HttpAnswer:
    status: int | None          # None: no status line came back (closed, refused, timed out)
    body: bytes = b""
    error: str = ""             # why there is no answer, when there is none
    ms: float = 0.0

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def http_exchange(sock_path, request, timeout=5.0):
    """Sends raw request bytes, reads the answer until the agent closes or Content-Length is met."""
    start = time.monotonic()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(str(sock_path))
        try:
            s.sendall(request)
        except OSError as e:
            # The agent may answer (a 413) and close before it read everything: read what it said.
            sent_error = str(e)
        else:
            sent_error = ""
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return HttpAnswer(None, data, "no complete answer within %.0f s" % timeout, _ms(start))
            except OSError as e:
                if data:
                    break
                return HttpAnswer(None, data, f"recv failed: {e} {sent_error}", _ms(start))
            if not chunk:
                break
            data += chunk
            if _complete(data):
                break
    except OSError as e:
        return HttpAnswer(None, b"", f"connect failed: {e}", _ms(start))
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return HttpAnswer(None, data, "no HTTP status line in the answer" if data else "closed without an answer",
                          _ms(start))
    return HttpAnswer(status, body, "", _ms(start))


def _complete(data):
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip() or 0)
    return False


def _ms(start):
    return (time.monotonic() - start) * 1000


def http(sock_path, method, path, body=b"", headers=(), timeout=5.0):
    lines = [f"{method} {path} HTTP/1.1", "Host: ferry", f"Content-Length: {len(body)}", "Connection: close", *headers]
    return http_exchange(sock_path, ("\r\n".join(lines) + "\r\n\r\n").encode() + body, timeout)


# ---------------------------------------------------------------------------
# Agents

class AgentDied(LabError):
    pass


class Agent:
    """A real dist/bin/ferry-agent in a node namespace, with its own socket, state and pins."""

    def __init__(self, lab, key, node_ns, pod_cidr, peers):
        self.lab = lab
        self.key = key
        self.node_ns = node_ns
        self.pod_cidr = ipaddress.ip_network(pod_cidr)
        self.peers = list(peers)     # (name, pod_cidr, address)
        self.dir = lab.run_dir / key
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)        # the non-root peer case must reach the socket itself
        self.config = self.dir / "ferry.yaml"
        self.socket = self.dir / "ferry.sock"
        self.state = self.dir / "state"
        self.bpffs = PIN_PREFIX + key
        self.cni_dir = self.dir / "cni"
        self.log = self.dir / "agent.log"
        self.proc = None
        self.starts = 0
        self.write_config()

    def write_config(self):
        lines = [f"nodeName: {self.key}", "mode: standalone", f"podCIDRs: [{self.pod_cidr}]",
                 f"clusterCIDRs: [{CLUSTER_CIDR}]", "uplinks: [wire]"]
        if self.peers:
            lines.append("peers:")
            lines += [f"  - {{name: {n}, podCIDRs: [{c}], address: {a}}}" for n, c, a in self.peers]
        lines += [f"socket: {self.socket}", f"stateDir: {self.state}", f"bpffsRoot: {self.bpffs}",
                  f"cniConfDir: {self.cni_dir}", "metricsAddress: 127.0.0.1:9962", "attach: tcx"]
        self.config.write_text("\n".join(lines) + "\n")

    def start(self):
        if self.proc is not None and self.proc.poll() is None:
            raise LabError(f"agent {self.key} is already running (pid {self.proc.pid})")
        self.starts += 1
        with open(self.log, "a") as log:
            log.write(f"\n===== faults: start #{self.starts} at {time.strftime('%H:%M:%S')} =====\n")
        self.proc = self.lab.spawn(["nsenter", f"--net=/run/netns/{self.node_ns}", AGENT_BIN, "--config", self.config],
                                   self.log)
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def last_log_lines(self, n=5):
        try:
            return self.log.read_text(errors="replace").strip().splitlines()[-n:]
        except OSError:
            return []

    def status(self, timeout=5.0):
        """GET /v1/status as a dict, or None when the socket does not answer it."""
        answer = http(self.socket, "GET", "/v1/status", timeout=timeout)
        return answer.json() if answer.status == 200 else None

    def ready(self):
        s = self.status(timeout=2.0)
        return bool(s and s.get("ready") is True)

    def wait_ready(self, timeout=120):
        """Until GET /v1/status says ready; AgentDied when the process exits first."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise AgentDied(f"agent {self.key} exited ({self.proc.returncode if self.proc else '-'}) before it was ready: "
                                + " | ".join(self.last_log_lines(3)))
            if self.socket.exists() and self.ready():
                return
            if time.monotonic() > deadline:
                raise LabError(f"agent {self.key} not ready within {timeout} s: " + " | ".join(self.last_log_lines(3)))
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Sends sig and waits for the exit; its exit status (negative: killed by that signal)."""
        if self.proc is None:
            return None
        code = stop_process(self.proc, self.lab, sig, timeout)
        self.proc = None
        return code

    def stop_quietly(self):
        if self.proc is not None:
            self.stop(signal.SIGTERM, 15)

    def net_config(self):
        """The plugin entry of the conflist the agent wrote, with the list's name and cniVersion, as libcni builds it."""
        conflist = self.cni_dir / "05-ferry.conflist"
        await_true(f"{conflist}", conflist.exists, 60)
        c = json.loads(conflist.read_text())
        return {"cniVersion": c["cniVersion"], "name": c["name"], **c["plugins"][0]}

    def endpoints(self):
        """GET /v1/endpoints, or None when the agent does not answer."""
        answer = http(self.socket, "GET", "/v1/endpoints")
        return answer.json().get("endpoints") if answer.status == 200 and answer.json() else None

    def java_fds(self):
        try:
            return len(os.listdir(f"/proc/{self.proc.pid}/fd"))
        except (OSError, AttributeError):
            return None
