"""Scenario traffic: agent restarts under traffic.

Two nodes on a veth wire, each with its agent (as scripts/demo.sh makes
them), three pods: pod-1 and pod-2 on node a, pod-3 on node b. UDP with
sequence numbers at 10,000 datagrams/s on three paths: pod-1 -> pod-2 (same
node: from_pod's redirect_peer), pod-1 -> pod-3 (leaving node a:
redirect_neigh) and pod-3 -> pod-2 (arriving at node a: to_pod on the uplink).
Meanwhile node a's agent is stopped with SIGTERM and started again N times,
and killed with SIGKILL and started again N times, alternately, each time
waiting until it is ready and letting traffic run a random 0.5-1.5 s more.
Maps and links are pinned, so the datapath must forward while the agent is
down: every datagram sent must arrive. The receivers' socket buffers are
large, and the kernel's count of datagrams a full buffer dropped is reported,
so a receiver starved of CPU is told apart from a datapath that lost packets.
"""
import json
import random
import signal
import sys
import time
from pathlib import Path

from cni import Pod, run_cni
from footprint import footprint
from lab import LabError, await_true, http, sh, stop_process
from report import Scenario, leak_checks
from runtime import Runtime

KEY = "traffic"
TITLE = "agent restarts under traffic"
WHAT = __doc__.split("\n", 2)[2]
RATE = 10_000
UDP = Path(__file__).resolve().parent / "udp.py"
PATHS = (("same node", "pod-1", "pod-2", 7101), ("leaving node a", "pod-1", "pod-3", 7102),
         ("arriving at node a", "pod-3", "pod-2", 7103))
# The counter of node a that counts each path's datagrams when BPF carries them (docs/metrics.md, scripts/demo.sh):
# a datapath that fell back to the kernel stack would deliver them too, uncounted here.
COUNTER = {"same node": ("egress", "redirect_peer"), "leaving node a": ("egress", "redirect_neigh"),
           "arriving at node a": ("ingress", "redirect_peer")}


def udp_rcvbuf_errors(netns):
    """The namespace's Udp RcvbufErrors (/proc/net/snmp): datagrams dropped because a socket buffer was full."""
    out = sh("nsenter", f"--net=/run/netns/{netns}", "cat", "/proc/net/snmp")
    rows = [l.split() for l in out.splitlines() if l.startswith("Udp:")]
    return int(rows[1][rows[0].index("RcvbufErrors")])


def counted(agent):
    """(direction, verdict) -> packets, over every reason, from GET /v1/datapath/stats (the pinned per-CPU maps)."""
    out = {}
    for c in (http(agent.socket, "GET", "/v1/datapath/stats").json() or {}).get("counters", []):
        key = (c["direction"], c["verdict"])
        out[key] = out.get(key, 0) + c["packets"]
    return out


def last_json(path):
    lines = [l for l in Path(path).read_text().splitlines() if l.startswith("{")]
    return json.loads(lines[-1]) if lines else None


def recv_queue_empty(netns, port):
    out = sh("nsenter", f"--net=/run/netns/{netns}", "ss", "-Huan", f"sport = :{port}", check=False)
    return all(l.split()[1] == "0" for l in out.splitlines() if l.strip())


def run(lab, quick, seed):
    s = Scenario(KEY, TITLE, WHAT)
    rng = random.Random(seed)
    restarts = 3 if quick else 10
    node_a, node_b = lab.node_pair("tr-node-a", "tr-node-b")
    a = lab.agent("tr-a", node_a, "10.99.31.0/24", peers=[("tr-b", "10.99.32.0/24", "192.168.99.2")])
    b = lab.agent("tr-b", node_b, "10.99.32.0/24", peers=[("tr-a", "10.99.31.0/24", "192.168.99.1")])
    for agent in (a, b):
        agent.start()
    for agent in (a, b):
        agent.wait_ready()
    placement = {"pod-1": a, "pod-2": a, "pod-3": b}
    pods, ips = {}, {}
    for name, agent in placement.items():
        pod = Pod(f"ferryfault-tr-{name}", lab.netns(f"tr-{name}"))
        c = run_cni(pod, "ADD", agent.net_config())
        if not c.ok:
            raise LabError(f"ADD of {name} failed: {c.brief()}")
        pods[name], ips[name] = pod, c.answer["ips"][0]["address"].split("/")[0]
    for label, src, dst, _ in PATHS:
        sh("nsenter", f"--net=/run/netns/{pods[src].netns}", "ping", "-c", "2", "-i", "0.2", "-W", "2", ips[dst],
           timeout=15)

    # Receivers first, each announcing that it listens; then the senders.
    receivers, senders = {}, {}
    drops_before = {n: udp_rcvbuf_errors(p.netns) for n, p in pods.items()}
    counters_before = counted(a)
    for label, src, dst, port in PATHS:
        out = lab.run_dir / f"recv-{port}.json"
        receivers[label] = (lab.spawn(["nsenter", f"--net=/run/netns/{pods[dst].netns}", sys.executable, UDP, "recv",
                                       "--bind", ips[dst], "--port", port], out), out)
        await_true(f"receiver on {dst}:{port}", lambda: out.exists() and "listening" in out.read_text(), 30)
    for label, src, dst, port in PATHS:
        out = lab.run_dir / f"send-{port}.json"
        senders[label] = (lab.spawn(["nsenter", f"--net=/run/netns/{pods[src].netns}", sys.executable, UDP, "send",
                                     "--to", ips[dst], "--port", port, "--rate", RATE], out), out)
    lab.helpers += [p for p, _ in receivers.values()] + [p for p, _ in senders.values()]

    started = time.monotonic()
    time.sleep(1.0)   # traffic before the first restart: a baseline, not a condition to wait for
    downtimes, term_exits = [], []
    for i in range(restarts):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            t = time.monotonic()
            code = a.stop(sig)
            if sig == signal.SIGTERM:
                term_exits.append(code)
            a.start()
            a.wait_ready()
            downtimes.append((time.monotonic() - t) * 1000)
            time.sleep(rng.uniform(0.5, 1.5))   # traffic with the new agent before the next restart
    traffic_seconds = time.monotonic() - started

    sent = {}
    for label, (proc, out) in senders.items():
        lab.helpers.remove(proc)
        stop_process(proc, lab)
        sent[label] = last_json(out)
    for label, src, dst, port in PATHS:
        await_true(f"receiver {dst}:{port} drains its queue", lambda: recv_queue_empty(pods[dst].netns, port), 30)
    received = {}
    for label, (proc, out) in receivers.items():
        lab.helpers.remove(proc)
        stop_process(proc, lab)
        received[label] = last_json(out)
    drops = {n: udp_rcvbuf_errors(p.netns) - drops_before[n] for n, p in pods.items()}
    counters_after = counted(a)

    rows = []
    for label, src, dst, port in PATHS:
        tx, rx = sent[label] or {}, received[label] or {}
        attempted = tx.get("sent", 0) + tx.get("send_errors", 0)
        lost = attempted - rx.get("received", 0)
        rows.append([label, f"{src} -> {dst}", tx.get("sent", "?"), tx.get("send_errors", "?"), rx.get("received", "?"),
                     lost, rx.get("gaps", "?"), drops[dst], rx.get("duplicates", "?"), rx.get("reordered", "?")])
        evidence = f"first gaps (sequence numbers): {rx.get('first_gaps')}; send errors: {tx.get('error_kinds')}; " \
                   f"receive buffer drops in {dst}: {drops[dst]}"
        s.check(f"0 datagrams lost {label} ({src} -> {dst})", 0, lost, lost == 0 and attempted > 0, evidence,
                group="traffic")
        key = COUNTER[label]
        carried = counters_after.get(key, 0) - counters_before.get(key, 0)
        s.check(f"BPF carried every datagram {label} (node a's {key[0]} {key[1]} count)", f">= {rx.get('received', '?')}",
                carried, carried >= rx.get("received", 0) > 0, "the counters live in pinned maps and survive restarts",
                group="traffic")
        s.check(f"sender kept ~{RATE}/s {label}", f">= {int(RATE * 0.8)}/s", f"{tx.get('rate', '?')}/s",
                tx.get("rate", 0) >= RATE * 0.8, group="traffic")
    s.tables.append(("Datagrams per path", ["path", "pods", "sent", "send errors", "received", "lost", "gaps",
                                            "receive-buffer drops", "duplicates", "reordered"], rows))
    s.check("SIGTERM stops the agent with status 0 (README)", f"0 x {restarts}",
            ", ".join(str(c) for c in term_exits), all(c == 0 for c in term_exits), group="restarts")

    endpoints = a.endpoints() or []
    s.check("node a still has its 2 endpoints after the restarts", 2, len(endpoints), len(endpoints) == 2,
            group="restarts")
    for name, pod in pods.items():
        c = Runtime(placement[name].net_config()).delete(pod)
        s.check(f"DEL of {name} succeeds", "exit 0", c.brief(), c.ok, group="leftovers")
    for agent, names in ((a, ["pod-1", "pod-2"]), (b, ["pod-3"])):
        leak_checks(s, footprint(agent, [pods[n] for n in names]), f"node {agent.key[-1]}")

    s.numbers += [("restarts of node a's agent", f"{restarts} SIGTERM + {restarts} SIGKILL"),
                  ("datagrams sent", sum((v or {}).get("sent", 0) for v in sent.values())),
                  ("lost", sum(r[5] for r in rows if isinstance(r[5], int))),
                  ("agent down per restart (median ms, signal to ready)", round(sorted(downtimes)[len(downtimes) // 2])
                   if downtimes else "-"),
                  ("traffic (s)", round(traffic_seconds, 1))]
    return s
