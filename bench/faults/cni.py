"""Pods and ferry-cni, run as a container runtime runs it: the CNI environment, the network
configuration on stdin, the answer on stdout."""
import hashlib
import json
import subprocess
import time
from dataclasses import dataclass

from lab import CNI_BIN


@dataclass(frozen=True)
class Pod:
    container_id: str
    netns: str                  # the namespace's name; the CNI_NETNS path is /run/netns/<netns>
    ifname: str = "eth0"

    @property
    def netns_path(self):
        return f"/run/netns/{self.netns}"

    @property
    def host_ifname(self):
        """dev.ferry.endpoint.HostIfname: 'fer' + 11 hex characters of SHA-256(container id '/' ifname)."""
        return "fer" + hashlib.sha256(f"{self.container_id}/{self.ifname}".encode()).hexdigest()[:11]


@dataclass
class CniCall:
    command: str
    rc: int | None              # None: killed or timed out before it exited by itself
    stdout: str
    stderr: str
    ms: float
    killed: bool = False        # SIGKILLed on purpose (the scenario's kill)
    timed_out: bool = False     # killed because it did not finish within the call's timeout
    answer: dict | None = None

    @property
    def ok(self):
        return self.rc == 0

    @property
    def code(self):
        return self.answer.get("code") if isinstance(self.answer, dict) and self.rc not in (0, None) else None

    def brief(self):
        if self.killed:
            return "killed"
        if self.timed_out:
            return f"no answer within {self.ms / 1000:.0f} s (killed)"
        if self.ok:
            return "exit 0"
        msg = (self.answer or {}).get("msg", self.stdout.strip()[:120] or self.stderr.strip()[:120])
        return f"exit {self.rc}, code {self.code}: {msg}"


def cni_env(pod, command, overrides=None):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CNI_COMMAND": command, "CNI_CONTAINERID": pod.container_id,
           "CNI_NETNS": pod.netns_path, "CNI_IFNAME": pod.ifname, "CNI_PATH": str(CNI_BIN.parent),
           "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=faults;K8S_POD_NAME={pod.container_id}"}
    for k, v in (overrides or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def run_cni(pod, command, config, env=None, kill_after=None, timeout=60.0):
    """One ferry-cni exec. config: dict (sent as JSON) or bytes. kill_after: SIGKILL it after that many
    seconds if it is still running (the scenario's fault); timeout: a runtime's deadline, also a SIGKILL."""
    data = config if isinstance(config, bytes) else json.dumps(config).encode()
    start = time.monotonic()
    proc = subprocess.Popen([str(CNI_BIN)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=cni_env(pod, command, env))
    killed = timed_out = False
    try:
        out, err = proc.communicate(data, timeout=kill_after if kill_after is not None else timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        if kill_after is not None:
            killed = True
        else:
            timed_out = True
    except BrokenPipeError:
        out, err = proc.communicate()
    ms = (time.monotonic() - start) * 1000
    rc = None if (killed or timed_out) else proc.returncode
    call = CniCall(command, rc, out.decode(errors="replace"), err.decode(errors="replace"), ms, killed, timed_out)
    try:
        call.answer = json.loads(call.stdout) if call.stdout.strip() else None
    except ValueError:
        call.answer = None
    return call


def prev_result(add_answer_or_address, cni_version="1.0.0"):
    """A prevResult for CHECK: the ADD's result, or one built from an address the agent reports."""
    if isinstance(add_answer_or_address, dict):
        return add_answer_or_address
    return {"cniVersion": cni_version, "ips": [{"address": add_answer_or_address, "gateway": "169.254.1.1"}]}


