"""Scenario kube: malformed Kubernetes objects, fed to the real agent in kubernetes mode.

The agent runs in a node namespace against fabric8's mock API server in CRUD mode
(the project's only stand-in for kube-apiserver), started by this run in the same
namespace. Node objects are made with this node's podCIDR missing, not a CIDR, a
prefix of /33 and an IPv6 /127 (the agent must stay not ready and say why, then become
ready when it is fixed), and peers with a podCIDR that is not a CIDR, /33, has host
bits set, is IPv6, is dual-stack, overlaps this node's (down to 0.0.0.0/0), is
another node's too, or is missing; an InternalIP that is missing, not an address,
IPv6 only, on no connected network, or this node's own; names at the edge; some
present when the agent lists Nodes, the others arriving as watch events. Then
thousands of Nodes with non-adjacent /24s (more prefixes than the cluster-CIDR
map's entries), Pod objects without nodeName, spec or known namespace beside a live
endpoint's pod (the endpoint GC must not collect it, while it does collect an
endpoint whose pod is gone), and this node's podCIDR turned to junk while the agent
is ready. Each case records what was expected, quoting README.md, docs/*.md, the
standalone rules the docs state, or issue 14, and what happened. After every case
the agent must be ready and serve a fresh ADD and DEL; once the Nodes are deleted,
no peer route and no cluster-CIDR entry may be left, and the node must hold nothing
of its pods.
"""
import ipaddress
import json
import re
import subprocess
import time

from cni import Pod, run_cni
from footprint import footprint
from kube_api import MockApi, node, pod
from lab import Agent, LabError, await_true, http, ip_json, sh
from report import Scenario, leak_checks

KEY = "kube"
TITLE = "malformed Kubernetes objects"
WHAT = __doc__.split("\n", 2)[2]

NODE = "kube-a"
POD_CIDR = "10.98.1.0/24"
NODE_IP = "192.168.98.1"
UPLINK = NODE_IP + "/16"          # thousands of peers' InternalIPs are on this one connected network
CLUSTER_MAP = "ferry_cluster_cidrs"
GRACE = 2                         # endpointGcGracePeriod, seconds

SRC_ROUTED = ("README.md: 'Every other Node's pod CIDRs are routed via its InternalIP (protocol 70 ...), and all pod "
              "CIDRs fill the BPF cluster-CIDR map unless clusterCIDRs is set'")
SRC_IPV4 = ("docs/configuration.md: podCIDRs holds at most one CIDR per family, an IPv6 pool is a /64 to a /124; "
            "IPv4 peers are routed via an IPv4 InternalIP, IPv6 ones via an IPv6 one")
SRC_NOT_CIDR = "issue 14: 'bad CIDRs ... each gets its documented answer, the agent stays ready where it should'"
SRC_OVERLAP = ("README.md: 'a peer overlapping this node' is refused (standalone); the same Node in kubernetes mode "
               "must not take this node's pod CIDR: its route is not written")
SRC_HOSTBITS = ("docs/configuration.md: a CIDR with host bits set is refused ('did you mean ...?'); kube-apiserver "
                "accepts one (Go's ParseCIDR): the Node's pods are its network, routed as such")
SRC_OFFLINK = ("issue 14 point 7: one node on no connected network must not keep the agent unready; docs/architecture.md:"
               " 'a route the kernel refuses fails alone and is retried'")
SRC_DUP = ("issue 14: 'nothing leaks'; two Nodes given the same podCIDR (a controller's mistake): the route stays while "
           "either Node has it, and goes with the last")
SRC_SCALE = ("issue 14 point 7: thousands of nodes, more than the cluster-CIDR map's entries unless aggregated; "
             "ClusterCidrSync: 'a full map must not stop the node from becoming ready'")
SRC_OWN = ("README.md: 'until the Node has one, STATUS answers code 50 \"node X has no podCIDR yet\"', with what "
           "its spec.podCIDRs holds instead; docs/operations.md: 'ferry status: ready: no: ... gives the reason'")
SRC_GC = ("README.md: 'A pod informer (spec.nodeName=<node>) finds endpoints whose pod is gone: after "
          "endpointGcGracePeriod without a DEL they are removed'")


class KubeAgent(Agent):
    """A dist/bin/ferry-agent in kubernetes mode: the Node named nodeName gives the pod CIDR, the others the peers."""

    def __init__(self, lab, key, node_ns, pod_cidr, kubeconfig):
        self.kubeconfig = kubeconfig
        super().__init__(lab, key, node_ns, pod_cidr, ())
        lab.agents.append(self)

    def write_config(self):
        lines = [f"nodeName: {self.key}", "mode: kubernetes", f"kubeconfig: {self.kubeconfig}", "uplinks: [wire]",
                 f"socket: {self.socket}", f"stateDir: {self.state}", f"bpffsRoot: {self.bpffs}",
                 f"cniConfDir: {self.cni_dir}", "metricsAddress: 127.0.0.1:9962", "attach: tcx",
                 f"endpointGcGracePeriod: {GRACE}s", "logLevels: {io.fabric8: warn}"]
        self.config.write_text("\n".join(lines) + "\n")

    def raw_status(self):
        """(HTTP status, JSON) of GET /v1/status: 200 when the agent runs, 503 with the reason while it waits."""
        a = http(self.socket, "GET", "/v1/status", timeout=3.0)
        return a.status, a.json() or {}

    def log_text(self):
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""


def peer_routes(ns):
    """Ferry's routes to other nodes: protocol 70 with a gateway, dst -> gateway."""
    return {r["dst"]: r["gateway"] for r in ip_json("-n", ns, "-4", "route", "show", "proto", "70") if r.get("gateway")}


def cluster_cidrs(agent):
    """The pinned ferry_cluster_cidrs as prefixes (struct cidr_key: prefixlen u32 with 32 family bits, family u8,
    3 pad, 16 address bytes)."""
    out = sh("bpftool", "-j", "map", "dump", "pinned", f"{agent.bpffs}/{CLUSTER_MAP}", check=False)
    prefixes = []
    for e in (json.loads(out) if out.strip() else []):
        key = bytes(int(b, 16) for b in e["key"])
        length = int.from_bytes(key[0:4], "little") - 32
        prefixes.append(str(ipaddress.ip_network((key[8:12] if key[4] == 4 else key[8:24], length))))
    return set(prefixes)


def covered(cidr, cmap):
    """The map holds cidr, itself or inside an aggregate."""
    net = ipaddress.ip_network(cidr)
    return any(net.subnet_of(ipaddress.ip_network(c)) for c in cmap)


def map_capacity(agent):
    info = json.loads(sh("bpftool", "-j", "map", "show", "pinned", f"{agent.bpffs}/{CLUSTER_MAP}"))
    return info["max_entries"]


class Kube:
    def __init__(self, lab, s, api, agent, ns):
        self.lab, self.s, self.api, self.agent, self.ns = lab, s, api, agent, ns
        self.serial = 0
        self.pods = []

    def check(self, group, name, expected, actual, ok, evidence=""):
        return self.s.check(name, expected, actual, ok, evidence, group)

    def await_log(self, pattern, timeout=30):
        """The agent logged a line matching pattern: the event before it was applied (events apply in order)."""
        rx = re.compile(pattern)
        try:
            return await_true(f"agent log /{pattern}/", lambda: rx.search(self.agent.log_text()), timeout, 0.1)
        except LabError:
            return None

    def await_routed(self, dst, via, timeout=60):
        try:
            await_true(f"route {dst} via {via}", lambda: peer_routes(self.ns).get(dst) == via, timeout, 0.1)
            return True
        except LabError:
            return False

    def serves(self, group, when):
        """The agent is ready and a fresh pod gets ADDed and DELeted."""
        code, st = self.agent.raw_status()
        ready = code == 200 and st.get("ready") is True
        add = dele = None
        if ready:
            self.serial += 1
            p = Pod(f"ferryfault-kube-{self.serial:02d}", self.lab.netns(f"kube-{self.serial:02d}"))
            add = run_cni(p, "ADD", self.agent.net_config())
            dele = run_cni(p, "DEL", self.agent.net_config())
            self.pods.append(p)
        ok = ready and add.ok and dele.ok
        actual = (f"ready, ADD {add.brief()}, DEL {dele.brief()}" if ready
                  else f"not ready ({code}): {st.get('notReadyReason') or st.get('error')}")
        return self.check(group, f"ready and serving CNI {when}", "ready; ADD exit 0; DEL exit 0", actual, ok,
                          "issue 14: 'the agent stays ready where it should'")


# ---------------------------------------------------------------------------
# This node's own Node

def own_node_cases(k):
    g = "this node"

    def not_ready(case, must_say, source):
        code, st = k.agent.raw_status()
        reason = st.get("notReadyReason") or st.get("error") or ""
        ok = code != 200 or st.get("ready") is False
        ok = ok and all(w in reason for w in must_say)
        k.check(g, case, f"not ready, the reason naming {' and '.join(must_say)}", f"{code}: {reason or st}", ok, source)

    await_true("the agent's socket", k.agent.socket.exists, 60)
    await_true("the agent's answer", lambda: k.agent.raw_status()[0] is not None, 30)
    not_ready("podCIDR missing", [NODE, "podCIDR"], SRC_OWN)

    k.api.put_node(node(NODE, ["fd00:98:1::/127"], [("InternalIP", NODE_IP)]))
    k.api.put_node(node(NODE, ["banana"], [("InternalIP", NODE_IP)]))
    seen = k.await_log(rf'event=node_pod_cidr_invalid node={NODE} pod_cidr="banana"')
    k.check(g, "podCIDR 'banana' is logged as invalid", "event=node_pod_cidr_invalid", "logged" if seen else "not logged",
            seen, "docs/operations.md: the agent's log gives the reason")
    not_ready("podCIDR an IPv6 /127 (too small for a pool), then 'banana'", [NODE, "podCIDR", "banana"],
              SRC_OWN + "; " + SRC_IPV4)

    k.api.put_node(node(NODE, ["10.98.1.0/33"], [("InternalIP", NODE_IP)]))
    seen = k.await_log(rf'event=node_pod_cidr_invalid node={NODE} pod_cidr="10.98.1.0/33"')
    not_ready("podCIDR of prefix /33", [NODE, "podCIDR", "10.98.1.0/33"], SRC_OWN)

    alive = k.agent.alive()
    k.check(g, "the agent process lives through its Node's bad podCIDRs", "running", "running" if alive else
            f"exited {k.agent.proc.returncode}", alive, "issue 14: never a wedged or dead agent")

    k.api.put_node(node(NODE, [POD_CIDR], [("InternalIP", NODE_IP)]))
    started = time.monotonic()
    try:
        k.agent.wait_ready(60)
        ready = f"ready after {time.monotonic() - started:.1f} s"
    except LabError as e:
        ready = str(e)
    code, st = k.agent.raw_status()
    k.check(g, "fixed to a good podCIDR", f"ready, podCIDR {POD_CIDR}", f"{ready}, podCIDR {st.get('podCIDR')}",
            st.get("ready") is True and st.get("podCIDR") == POD_CIDR, SRC_OWN)


# ---------------------------------------------------------------------------
# Other nodes

class Peer:
    """One peer Node case: the object, and what must be true: routes {dst: via} and CIDRs not routed."""

    def __init__(self, case, name, cidrs, addresses, routed=None, unrouted=(), in_map=(), not_in_map=(), source=""):
        self.case, self.name, self.source = case, name, source
        self.obj = node(name, cidrs, addresses)
        self.routed = routed or {}
        self.unrouted = list(unrouted)
        self.in_map, self.not_in_map = list(in_map), list(not_in_map)


def peer_cases(prefix, octet):
    """Malformed peers; prefix names them, octet (a second octet) keeps each set's CIDRs apart."""
    n = lambda i: f"10.{octet}.{i}.0/24"
    ip = lambda i: f"192.168.{octet}.{i}"
    return [
        Peer("podCIDR 'banana'", f"{prefix}-banana", ["banana"], [("InternalIP", ip(11))], source=SRC_NOT_CIDR),
        Peer("podCIDR /33", f"{prefix}-slash33", [f"10.{octet}.12.0/33"], [("InternalIP", ip(12))], source=SRC_NOT_CIDR),
        Peer("podCIDR with host bits set", f"{prefix}-hostbits", [f"10.{octet}.13.7/24"], [("InternalIP", ip(13))],
             routed={n(13): ip(13)}, in_map=[n(13)], source=SRC_HOSTBITS),
        Peer("podCIDR IPv6 only", f"{prefix}-ipv6", [f"fd00:{octet}:14::/64"], [("InternalIP", ip(14))], source=SRC_IPV4),
        Peer("dual-stack podCIDRs", f"{prefix}-dual", [n(15), f"fd00:{octet}:15::/64"], [("InternalIP", ip(15))],
             routed={n(15): ip(15)}, in_map=[n(15)], source=SRC_IPV4 + "; " + SRC_ROUTED),
        Peer("podCIDR inside this node's", f"{prefix}-inside", ["10.98.1.128/25"], [("InternalIP", ip(16))],
             unrouted=["10.98.1.128/25"], source=SRC_OVERLAP),
        Peer("podCIDR holding this node's", f"{prefix}-holding", ["10.98.0.0/16"], [("InternalIP", ip(17))],
             unrouted=["10.98.0.0/16"], not_in_map=["10.98.0.0/16"], source=SRC_OVERLAP),
        Peer("podCIDR 0.0.0.0/0", f"{prefix}-everything", ["0.0.0.0/0"], [("InternalIP", ip(18))],
             unrouted=["default"], not_in_map=["0.0.0.0/0"], source=SRC_OVERLAP),
        Peer("no podCIDR (spec empty)", f"{prefix}-nocidr", [], [("InternalIP", ip(19))], source=SRC_ROUTED),
        Peer("no spec at all", f"{prefix}-nospec", None, [("InternalIP", ip(20))], source=SRC_ROUTED),
        Peer("InternalIP missing (Hostname, ExternalIP only)", f"{prefix}-noip", [n(21)],
             [("Hostname", f"{prefix}-noip"), ("ExternalIP", ip(21))], unrouted=[n(21)], in_map=[n(21)],
             source=SRC_ROUTED),
        Peer("no status at all", f"{prefix}-nostatus", [n(22)], None, unrouted=[n(22)], source=SRC_ROUTED),
        Peer("InternalIP not an address", f"{prefix}-badip", [n(23)], [("InternalIP", "not-an-address")],
             unrouted=[n(23)], source=SRC_ROUTED),
        Peer("InternalIP IPv6 only", f"{prefix}-ip6", [n(24)], [("InternalIP", f"fd00:{octet}::24")],
             unrouted=[n(24)], source=SRC_ROUTED + "; IPv4 only for now"),
        Peer("InternalIP on no connected network", f"{prefix}-offlink", [n(25)], [("InternalIP", f"172.31.{octet}.25")],
             unrouted=[n(25)], source=SRC_OFFLINK),
        Peer("InternalIP this node's own address", f"{prefix}-myip", [n(26)], [("InternalIP", NODE_IP)],
             unrouted=[n(26)], source="a route via this node's own address loops (the kernel takes it); like an off-link one, it is not routed"),
        Peer("IPv6 InternalIP listed before the IPv4 one", f"{prefix}-ip6first", [n(27)],
             [("InternalIP", f"fd00:{octet}::27"), ("InternalIP", ip(27))], routed={n(27): ip(27)}, source=SRC_ROUTED),
        Peer("name of 253 characters", (f"{prefix}-" + "x" * 253)[:253], [n(28)], [("InternalIP", ip(28))],
             routed={n(28): ip(28)}, source="RFC 1123 subdomain: up to 253 characters"),
        Peer("name of one character", f"{octet % 10}", [n(29)], [("InternalIP", ip(29))], routed={n(29): ip(29)},
             source="RFC 1123 subdomain: one character is a name"),
        Peer("podCIDR of another node (first of two)", f"{prefix}-dup1", [n(30)], [("InternalIP", ip(31))],
             source=SRC_DUP),
        Peer("podCIDR of another node (second of two)", f"{prefix}-dup2", [n(30)], [("InternalIP", ip(32))],
             source=SRC_DUP),
        Peer("a good node among them", f"{prefix}-good", [n(40)], [("InternalIP", ip(40))], routed={n(40): ip(40)},
             in_map=[n(40)], source=SRC_ROUTED),
    ]


def check_peers(k, group, peers):
    routes = peer_routes(k.ns)
    cmap = cluster_cidrs(k.agent)
    log = k.agent.log_text()
    for p in peers:
        if "dup" in p.name:
            continue           # the two claimants of one podCIDR are judged together below
        wrong = [f"{d} via {routes.get(d)} (want {v})" for d, v in p.routed.items() if routes.get(d) != v]
        wrong += [f"{d} via {routes[d]}" for d in p.unrouted if d in routes]
        wrong += [f"{c} not in the map" for c in p.in_map if not covered(c, cmap)]
        wrong += [f"{c} in the map" for c in p.not_in_map if c in cmap]
        expected = "; ".join([f"{d} via {v}" for d, v in p.routed.items()] + [f"no route to {d}" for d in p.unrouted]
                             + [f"{c} in the cluster-CIDR map" for c in p.in_map]
                             + [f"{c} not in the map" for c in p.not_in_map]) or "no route of its own"
        said = [l for l in log.splitlines() if (f"node={p.name} " in l or f"peer={p.name} " in l)
                and ("WARN" in l or "ERROR" in l)]
        k.check(group, p.case, expected, "; ".join(wrong) or "as expected", not wrong,
                p.source + (f". log: {said[-1][-160:]}" if said else ""))
    dup = [p for p in peers if "dup" in p.name]
    shared = next(iter(dup[0].obj["spec"]["podCIDRs"]))
    via = routes.get(shared)
    k.check(group, "two Nodes with one podCIDR: one route, via one of them", "one route via either",
            f"via {via}" if via else "no route", via in [a["address"] for p in dup for a in p.obj["status"]["addresses"]],
            SRC_DUP)


def duplicate_removal(k, group, peers):
    """Deleting the Node whose route it is: the other Node with that podCIDR keeps it routed."""
    dup = [p for p in peers if "dup" in p.name]
    shared = dup[0].obj["spec"]["podCIDRs"][0]
    via = peer_routes(k.ns).get(shared)
    by_ip = {p.obj["status"]["addresses"][0]["address"]: p for p in dup}
    if via not in by_ip:
        k.check(group, "deleting one of two Nodes with one podCIDR", "a route via the other", "no route to start from",
                False, SRC_DUP)
        return
    gone, left = by_ip[via], next(p for p in dup if p is not by_ip[via])
    left_ip = left.obj["status"]["addresses"][0]["address"]
    k.api.delete_node(gone.name)
    marker(k, "dup-1")
    now = peer_routes(k.ns).get(shared)
    k.check(group, "deleting the Node whose route it was, of two with one podCIDR", f"{shared} via {left_ip}",
            f"{shared} via {now}" if now else f"no route to {shared}", now == left_ip, SRC_DUP)
    k.api.delete_node(left.name)
    marker(k, "dup-2")
    now = peer_routes(k.ns).get(shared)
    k.check(group, "then deleting the other", f"no route to {shared}", f"via {now}" if now else "no route",
            now is None, SRC_DUP)


MARKS = iter(range(200, 255))


def marker(k, name):
    """A good Node made after the others: once it is routed, every earlier event has been applied (one worker, in
    order). Deleted again right away; its route with it."""
    i = next(MARKS)
    dst, via = f"10.96.{i}.0/24", f"192.168.96.{i}"
    k.api.put_node(node(f"marker-{name}", [dst], [("InternalIP", via)]))
    if not k.await_routed(dst, via):
        raise LabError(f"the marker Node {name} was not routed within 60 s: the agent did not apply Node events")
    k.api.delete_node(f"marker-{name}")
    await_true(f"marker {name}'s route gone", lambda: dst not in peer_routes(k.ns), 60, 0.1)


# ---------------------------------------------------------------------------
# Thousands of nodes

def scale_case(k, count):
    g = "thousands of nodes"
    # Non-adjacent /24s (every other one), so aggregation cannot fold them: more prefixes than the map holds.
    nodes = [(f"many-{i:05d}", f"10.{100 + i // 128}.{2 * (i % 128)}.0/24", f"192.168.{100 + i // 250}.{1 + i % 250}")
             for i in range(count)]
    started = time.monotonic()
    for name, cidr, ip in nodes:
        k.api._must("POST", "/api/v1/nodes", node(name, [cidr], [("InternalIP", ip)]))
    made = time.monotonic() - started

    def all_routed():
        r = peer_routes(k.ns)
        return sum(1 for _, c, ip in nodes if r.get(c) == ip) == count
    try:
        await_true(f"{count} routes", all_routed, 600, 1.0)
        took = time.monotonic() - started
        routed = count
    except LabError:
        took = None
        routed = sum(1 for _, c, ip in nodes if peer_routes(k.ns).get(c) == ip)
    k.check(g, f"{count} Nodes made as watch events are all routed", f"{count} routes",
            f"{routed} routes" + (f", {took:.0f} s after the first POST ({made:.0f} s to POST them)" if took else
                                  " within 600 s"), routed == count, SRC_SCALE)
    k.s.numbers.append(("nodes at once", count))
    if took:
        k.s.numbers.append((f"{count} nodes routed in", f"{took:.0f} s"))
    capacity = map_capacity(k.agent)
    cmap = cluster_cidrs(k.agent)
    logged = re.search(r"event=cluster_cidrs_over_capacity prefixes=(\d+) capacity=(\d+)", k.agent.log_text())
    k.check(g, "the cluster-CIDR map, over capacity, is full and says so", f"{capacity} entries; "
            "event=cluster_cidrs_over_capacity logged", f"{len(cmap)} entries; "
            + (logged.group(0) if logged else "not logged"), len(cmap) == capacity and logged, SRC_SCALE)
    status, metrics = k.api.request("GET", "/metrics", port=9962)
    line = next((l for l in str(metrics).splitlines() if l.startswith("ferry_bpf_map_entries") and CLUSTER_MAP in l), "")
    k.check(g, "ferry_bpf_map_entries tells the map is full", f"ferry_bpf_map_entries{{map={CLUSTER_MAP}}} {capacity}",
            line or f"no such line ({status})", line.endswith(f" {capacity}.0") or line.endswith(f" {capacity}"),
            "docs/operations.md: the metrics port; issue 14 point 7")
    k.serves(g, f"with {count} more Nodes")

    started = time.monotonic()
    for name, _, _ in nodes:
        k.api.delete_node(name)

    def none_left():
        r = peer_routes(k.ns)
        return not any(c in r for _, c, _ in nodes)
    try:
        await_true(f"{count} routes gone", none_left, 600, 1.0)
        gone = f"0 left, {time.monotonic() - started:.0f} s after the first DELETE"
    except LabError:
        r = peer_routes(k.ns)
        gone = f"{sum(1 for _, c, _ in nodes if c in r)} left after 600 s"
    k.check(g, f"the {count} Nodes deleted take their routes", "0 of their routes left", gone, gone.startswith("0 left"),
            "issue 14: 'nothing leaks'")
    left = [c for c in cluster_cidrs(k.agent) if c.startswith("10.1")]
    k.check(g, f"and their cluster-CIDR entries", "0 of their entries left", f"{len(left)} left", not left,
            "issue 14: 'nothing leaks'", )


# ---------------------------------------------------------------------------
# Pods for the endpoint GC

def gc_cases(k):
    g = "pods (endpoint GC)"
    config = k.agent.net_config()
    live = Pod("ferryfault-kube-live", k.lab.netns("kube-live"))
    orphan = Pod("ferryfault-kube-orphan", k.lab.netns("kube-orphan"))
    k.pods += [live, orphan]
    # cni.cni_env names the pod faults/<container id>; the Pod object of the live one is on this node.
    k.api.put_pod(pod("faults", live.container_id, NODE))
    bad = [pod("faults", "no-node-name"), pod("faults", "no-spec", spec=False), pod("nowhere", live.container_id),
           pod("faults", "other-node", "kube-zz"), pod("kube-system", live.container_id, NODE)]
    for p in bad:
        k.api.put_pod(p)
    for p in (live, orphan):
        c = run_cni(p, "ADD", config)
        if not c.ok:
            raise LabError(f"ADD of {p.container_id} failed: {c.brief()}")

    def listed():
        return {e["containerId"] for e in (k.agent.endpoints() or [])}
    try:
        await_true("the orphan endpoint collected", lambda: orphan.container_id not in listed(), 10 * GRACE + 20, 0.2)
        collected = "collected"
    except LabError:
        collected = "still there"
    k.check(g, "an endpoint whose pod does not exist is collected (the GC runs)", f"collected within {GRACE} s grace",
            collected, collected == "collected", SRC_GC)
    # Two more grace periods after the GC proved it sweeps: the live endpoint must still be there.
    deadline = time.monotonic() + 2 * GRACE + 1
    while time.monotonic() < deadline and live.container_id in listed():
        time.sleep(0.2)
    there = live.container_id in listed()
    k.check(g, "an endpoint whose pod exists beside Pods with no nodeName, no spec, another namespace or node",
            "not collected", "still there" if there else "collected", there,
            SRC_GC + "; issue 14: malformed objects must not make it collect a live endpoint")
    for p in bad + [pod("faults", live.container_id)]:
        k.api.delete_pod(p["metadata"]["namespace"], p["metadata"]["name"])
    for p in (live, orphan):
        run_cni(p, "DEL", config)


# ---------------------------------------------------------------------------

def run(lab, quick, seed):
    s = Scenario(KEY, TITLE, WHAT)
    ns = lab.node("kube-node", UPLINK)
    api = MockApi(lab, ns, lab.run_dir / "kube-api")
    try:
        return scenario(lab, s, api, ns, 1100 if quick else 2000)
    finally:
        api.close()


def scenario(lab, s, api, ns, many):
    at_sync = peer_cases("sync", 97)
    api.put_node(node(NODE, None, [("InternalIP", NODE_IP)]))
    for p in at_sync:
        api.put_node(p.obj)
    agent = KubeAgent(lab, "kube-a", ns, POD_CIDR, api.kubeconfig)
    agent.start()
    k = Kube(lab, s, api, agent, ns)

    own_node_cases(k)
    k.serves("this node", "once its Node has a podCIDR")
    marker(k, "sync")
    check_peers(k, "peers at the first list", at_sync)
    k.serves("peers at the first list", "beside them")

    by_event = peer_cases("event", 95)
    for p in by_event:
        api.put_node(p.obj)
    marker(k, "event")
    check_peers(k, "peers as watch events", by_event)
    k.serves("peers as watch events", "beside them")
    duplicate_removal(k, "peers as watch events", by_event)

    offlink = next(p for p in by_event if p.name.endswith("offlink"))
    sh("ip", "-n", ns, "address", "add", "172.31.95.1/24", "dev", "wire")
    marker(k, "offlink")
    dst = next(iter(offlink.unrouted))
    now = peer_routes(ns).get(dst)
    k.check("peers as watch events", "the off-link Node's network comes up: routed at the next event",
            f"{dst} via 172.31.95.25", f"via {now}" if now else "no route", now == "172.31.95.25", SRC_OFFLINK)

    scale_case(k, many)
    gc_cases(k)

    g = "this node"
    api.put_node(node(NODE, ["banana"], [("InternalIP", NODE_IP)]))
    marker(k, "own-junk")
    code, st = agent.raw_status()
    k.check(g, "its podCIDR turned to 'banana' while ready", f"still ready, pool {POD_CIDR} kept until restart",
            f"ready: {st.get('ready')}, podCIDR {st.get('podCIDR')}", st.get("ready") is True and st.get("podCIDR") == POD_CIDR,
            "PodCidrSource: 'Once known it stays until the agent restarts: IPAM has handed out addresses from it'")
    k.serves(g, "after its podCIDR turned to junk")

    g = "after"
    for name in api.node_names():
        api.delete_node(name)
    try:
        await_true("no peer route", lambda: not peer_routes(ns), 120, 0.2)
    except LabError:
        pass
    left = peer_routes(ns)
    k.check(g, "every Node deleted: peer routes left", 0, len(left), not left,
            "; ".join(f"{d} via {v}" for d, v in list(left.items())[:4]))
    try:
        await_true("an empty cluster-CIDR map", lambda: not cluster_cidrs(agent), 60, 0.2)
    except LabError:
        pass
    cmap = cluster_cidrs(agent)
    k.check(g, "every Node deleted: cluster-CIDR entries left", 0, len(cmap), not cmap, ", ".join(sorted(cmap)[:4]))
    fp = footprint(agent, k.pods)
    leak_checks(s, fp, "node after every Node and pod is gone")
    code = agent.stop()
    k.check(g, "SIGTERM stops the agent", "exit 0", f"exit {code}", code == 0, "README.md: 'SIGTERM stops it with status 0'")
    left = peer_routes(ns)
    k.check(g, "peer routes left once the agent is stopped", 0, len(left), not left)
    s.numbers.insert(0, ("cases", len(s.checks)))
    return s
