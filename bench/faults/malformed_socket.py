"""The malformed scenario's cases on the agent socket: bad requests, slow and silent clients, a non-root peer."""
import os
import socket
import subprocess
import threading
import time

from lab import await_true, http, http_exchange, LabError
from runtime import Runtime

SRC_HTTP = "issue 14 (bad paths, methods, sizes); RFC 9110"
SRC_SIZE = "BoundedAggregator / AgentSocketOptions: bodies up to 1 MiB + 64 KiB, larger is 413; issue 14"
SRC_SLOT = "DESIGN.md failure model: every resource held for one socket exchange is released however it ends; issue 14 #1"


def request(method, path, headers=(), body=b""):
    lines = [f"{method} {path} HTTP/1.1", "Host: ferry", *headers]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# (case, raw request, accepted statuses, source)
HTTP_CASES = [
    ("GET of an unknown path", request("GET", "/v1/nope"), (404,), SRC_HTTP),
    ("GET /", request("GET", "/"), (404,), SRC_HTTP),
    ("GET of an unknown endpoint", request("GET", "/v1/endpoints/ferryfault-none"), (404,), "AgentApi: no endpoint is 404"),
    ("DELETE /v1/status", request("DELETE", "/v1/status"), (405,), SRC_HTTP),
    ("POST /v1/endpoints", request("POST", "/v1/endpoints"), (405,), SRC_HTTP),
    ("GET /v1/cni", request("GET", "/v1/cni"), (405,), SRC_HTTP),
    ("POST /v1/cni with a 2 MiB body", request("POST", "/v1/cni", ["CNI-Command: ADD"], b"x" * (2 << 20)), (413,), SRC_SIZE),
    ("a request line that is not HTTP", b"HELLO\r\n\r\n", (400,), SRC_HTTP),
    ("binary garbage", bytes(range(256)) * 4 + b"\r\n\r\n", (400,), SRC_HTTP),
    ("Content-Length not a number", b"POST /v1/cni HTTP/1.1\r\nHost: f\r\nContent-Length: abc\r\n\r\n", (400,), SRC_HTTP),
    ("a header of 64 KiB", request("GET", "/v1/status", ["X-Big: " + "y" * (64 << 10)]), (400, 431), SRC_HTTP),
    ("a request line of 64 KiB", request("GET", "/v1/status?" + "q" * (64 << 10)), (400, 414), SRC_HTTP),
]


def http_cases(c):
    for name, raw, statuses, source in HTTP_CASES:
        a = http_exchange(c.agent.socket, raw, timeout=10)
        actual = f"HTTP {a.status}" if a.status else a.error
        c.s.check(name, "HTTP " + " or ".join(map(str, statuses)), actual, a.status in statuses,
                  source + ("" if a.status in statuses else f"; body: {a.body[:150]!r}"), "socket HTTP")
    # ferry-cni's own shape: no CNI headers is the CNI error object with code 4, not a bare HTTP error.
    a = http(c.agent.socket, "POST", "/v1/cni", body=b'{"cniVersion":"1.0.0","name":"ferry","type":"ferry-cni"}')
    code = (a.json() or {}).get("code")
    c.s.check("POST /v1/cni without CNI headers", "HTTP 400, CNI code 4", f"HTTP {a.status}, code {code}",
              a.status == 400 and code == 4, "docs/cni.md: 4 = a CNI variable is missing", "socket HTTP")


class SlowClients:
    """Connections that send a request one byte per second, or nothing at all."""

    def __init__(self, sock_path, trickle, silent, slow_body):
        self.conns = []          # (socket, bytes still to send)
        for _ in range(trickle):
            self.conns.append((self.connect(sock_path), bytearray(request("GET", "/v1/status"))))
        for _ in range(silent):
            self.conns.append((self.connect(sock_path), bytearray()))
        body = b'{"cniVersion":"1.0.0","name":"ferry","type":"ferry-cni"}'
        for i in range(slow_body):
            s = self.connect(sock_path)
            head = request("POST", "/v1/cni", ["CNI-Command: STATUS"], body)
            head, rest = head[:head.index(b"\r\n\r\n") + 4], head[head.index(b"\r\n\r\n") + 4:]
            s.sendall(head)
            self.conns.append((s, bytearray(rest)))
        self.closed_by_agent = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.trickle, name="slow-clients", daemon=True)

    @staticmethod
    def connect(path):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(path))
        return s

    def trickle(self):
        while not self.stop.wait(1.0):
            for s, rest in self.conns:
                if rest:
                    try:
                        s.send(rest[:1])
                        del rest[:1]
                    except OSError:
                        rest.clear()
                        self.closed_by_agent += 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        for s, _ in self.conns:
            s.close()


def slow_clients(c):
    """40 clients trickling headers, 40 silent ones, 20 trickling a CNI body: more than the 32 request slots.
    Meanwhile the agent must answer others at once, and once they leave it must hold none of their connections."""
    fds_before = c.agent.java_fds()
    answers = []
    pod = c.pod("slow")
    runtime = Runtime(c.config, give_up_after=20)
    with SlowClients(c.agent.socket, trickle=40, silent=40, slow_body=20) as slow:
        fds_during = c.agent.java_fds()
        for _ in range(20):
            answers.append(http(c.agent.socket, "GET", "/v1/status", timeout=5))
            time.sleep(0.4)   # spread over 8 s of slow clients: the pace of the probes, not a wait for a condition
        add, _ = runtime.add(pod)
        dele = runtime.delete(pod)
    late = [a for a in answers if a.status != 200 or a.ms > 2000]
    worst = max((a.ms for a in answers), default=0)
    c.s.check("GET /v1/status during 100 slow or silent clients", "20 of 20 answered 200 within 2 s",
              f"{20 - len(late)} of 20 (slowest {worst:.0f} ms)", not late,
              f"issue 14: the agent keeps answering others meanwhile; {slow.closed_by_agent} of the 60 trickling "
              f"clients were cut off by the agent within the 8 s" + (f"; {late[0].error}" if late else ""), "slow clients")
    c.s.check("ADD and DEL during the slow clients", "exit 0, exit 0",
              f"{'exit 0' if add else 'failed'}, {dele.brief()}", bool(add) and dele.ok, "issue 14", "slow clients")
    released = fds_before is not None and wait_fds(c.agent, fds_before + 10)
    c.s.check("the agent releases the connections of clients that left", f"open fds back to <= {fds_before} + 10 within 15 s",
              f"{fds_before} before, {fds_during} during, {c.agent.java_fds()} after", released, SRC_SLOT, "slow clients")


def wait_fds(agent, at_most):
    try:
        await_true("the agent's fds to go down", lambda: (agent.java_fds() or 0) <= at_most, 15, 0.25)
        return True
    except LabError:
        return False


def peer_cases(c):
    """The socket is root-only: by its mode (0600), and by the peer's credentials when the mode is opened."""
    sock = str(c.agent.socket)

    def as_nobody():
        done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "curl", "-sS",
                               "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "--unix-socket", sock,
                               "http://ferry/v1/status"], capture_output=True, text=True)
        return done.returncode, done.stdout.strip(), done.stderr.strip()

    rc, code, err = as_nobody()
    c.s.check("a non-root client on the 0600 socket", "refused at connect (curl exit 7)", f"curl exit {rc}, HTTP {code}",
              rc == 7, "DESIGN.md: the agent socket is root-only (mode 0600)", "socket peer")
    os.chmod(sock, 0o666)
    try:
        rc, code, err = as_nobody()
    finally:
        os.chmod(sock, 0o600)
    c.s.check("a non-root client when the socket's mode is opened to 0666", "HTTP 403",
              f"curl exit {rc}, HTTP {code}" + (f" ({err})" if err else ""),
              code == "403", "DESIGN.md: peer credentials checked (SO_PEERCRED), a refused peer gets 403", "socket peer")
