"""fabric8's mock API server (CRUD mode) as a process of the run, and a client for it.

The mock (dev.ferry.agent.MockApiMain, from the agent's test classes) runs inside the
node's namespace, on its loopback, where the agent in that namespace reaches it; it is
registered in RUN_DIR/pids like every agent, and also stops when its stdin (a pipe from
this driver) closes. The client talks plain HTTP to it from one thread that has entered
the node's namespace (setns on that thread only: the rest of the driver stays where it
is), so Node and Pod objects are POSTed, PUT and DELETEd as kubectl would.
"""
import ctypes
import http.client
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lab import LabError, await_true

CLONE_NEWNET = 0x40000000
MAIN_CLASS = "dev.ferry.agent.MockApiMain"


def test_classpath(run_dir):
    """What bench/faults.sh built: the agent's test and main classes and every test-scope jar."""
    cp_file = Path(run_dir) / "test-classpath"
    if not cp_file.exists():
        raise LabError(f"{cp_file} is missing: bench/faults.sh builds it (mvn test-compile dependency:build-classpath)"
                       " when the kube scenario runs")
    return cp_file.read_text().strip()


def _enter(netns):
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {netns} failed")
    finally:
        os.close(fd)


class MockApi:
    """The mock server process and a keep-alive HTTP connection to it, both in netns."""

    def __init__(self, lab, netns, directory):
        self.lab, self.netns = lab, netns
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = self.dir / "kubeconfig"
        self.log = self.dir / "mock-api.log"
        java = os.path.join(os.environ.get("JAVA_HOME", "/usr"), "bin", "java")
        self.proc = lab.spawn(["nsenter", f"--net=/run/netns/{netns}", java, "-Xmx512m", "-cp",
                               test_classpath(lab.run_dir), MAIN_CLASS, self.dir], self.log, stdin=subprocess.PIPE)
        lab.helpers.append(self.proc)
        line = await_true("the mock API server's 'ready PORT'", self._ready_line, 60, 0.1)
        self.port = int(line.split()[1])
        self.pool = ThreadPoolExecutor(max_workers=1, initializer=_enter, initargs=(netns,))
        self.conn = None

    def _ready_line(self):
        if self.proc.poll() is not None:
            raise LabError(f"the mock API server exited ({self.proc.returncode}): "
                           + self.log.read_text(errors="replace")[-400:])
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return next((l for l in text.splitlines() if l.startswith("ready ")), None)

    def close(self):
        self.pool.submit(self._close_conn).result()
        self.pool.shutdown()

    def _close_conn(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    # --- HTTP, on the thread in the namespace

    def request(self, method, path, body=None, port=None):
        """(status, parsed JSON or text); port: another port in the namespace (the agent's metrics)."""
        return self.pool.submit(self._request, method, path, body, port).result()

    def _request(self, method, path, body, port):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if port is not None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request(method, path, data, headers)
                r = conn.getresponse()
                return r.status, r.read().decode(errors="replace")
            except OSError as e:
                return None, str(e)
            finally:
                conn.close()
        for attempt in (1, 2):   # a keep-alive connection the server closed: once more on a new one
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.conn.request(method, path, data, headers)
                r = self.conn.getresponse()
                text = r.read().decode(errors="replace")
                break
            except (OSError, http.client.HTTPException):
                self._close_conn()
                if attempt == 2:
                    raise
        try:
            return r.status, json.loads(text)
        except ValueError:
            return r.status, text

    def _must(self, method, path, body=None, ok=(200, 201)):
        status, answer = self.request(method, path, body)
        if status not in ok:
            raise LabError(f"{method} {path} to the mock API server answered {status}: {str(answer)[:200]}")
        return answer

    # --- objects

    def put_node(self, node):
        """Creates the Node, or replaces it when it exists (a change, as the node controller makes)."""
        name = node["metadata"]["name"]
        status, _ = self.request("GET", f"/api/v1/nodes/{name}")
        if status == 200:
            return self._must("PUT", f"/api/v1/nodes/{name}", node)
        return self._must("POST", "/api/v1/nodes", node)

    def delete_node(self, name):
        self._must("DELETE", f"/api/v1/nodes/{name}", ok=(200, 202, 404))

    def node_names(self):
        answer = self._must("GET", "/api/v1/nodes")
        return [n["metadata"]["name"] for n in answer.get("items", [])]

    def put_pod(self, pod):
        ns = pod["metadata"]["namespace"]
        return self._must("POST", f"/api/v1/namespaces/{ns}/pods", pod)

    def delete_pod(self, namespace, name):
        self._must("DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}", ok=(200, 202, 404))

    def pods(self):
        answer = self._must("GET", "/api/v1/pods")
        return [(p["metadata"].get("namespace"), p["metadata"]["name"]) for p in answer.get("items", [])]


def node(name, pod_cidrs=None, addresses=None):
    """A Node object. pod_cidrs: None leaves spec out; a list sets spec.podCIDRs and spec.podCIDR (its first).
    addresses: None leaves status out; else (type, address) pairs."""
    obj = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}
    if pod_cidrs is not None:
        obj["spec"] = {"podCIDRs": list(pod_cidrs)}
        if pod_cidrs:
            obj["spec"]["podCIDR"] = pod_cidrs[0]
    if addresses is not None:
        obj["status"] = {"addresses": [{"type": t, "address": a} for t, a in addresses]}
    return obj


def pod(namespace, name, node_name=None, spec=True):
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": namespace, "name": name}}
    if spec:
        obj["spec"] = {"containers": [{"name": "c", "image": "pause"}]}
        if node_name is not None:
            obj["spec"]["nodeName"] = node_name
    return obj
