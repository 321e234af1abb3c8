"""What a node holds of its pods, counted from the kernel, the pins and the state directory:
the leftover counts, and who holds which address."""
import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path

from lab import ENDPOINT_MAP, ip_json, sh


LEAK_KEYS = ["host veths", "hooks on pod veths", "routes to pods", "permanent neighbours", "IPAM addresses",
             "map entries", "endpoints (API)", "endpoint files", "spooled DELs", "pod interfaces"]


def host_veths(node_ns):
    return sorted(l["ifname"] for l in ip_json("-n", node_ns, "link", "show", "type", "veth")
                  if l.get("ifname", "").startswith("fer"))


def tc_bpf_filters(node_ns, dev):
    out = sh("tc", "-n", node_ns, "filter", "show", "dev", dev, "ingress", check=False)
    return [l for l in out.splitlines() if " bpf " in l and "handle" in l]


def link_pins(agent):
    d = Path(agent.bpffs) / "links" / "from_pod"
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def pod_routes(agent):
    """Ferry's /32 routes (protocol 70) to addresses of this node's pod CIDR; peer routes are not pods'."""
    out = []
    for r in ip_json("-n", agent.node_ns, "-4", "route", "show", "proto", "70"):
        dst = r.get("dst", "")
        net = ipaddress.ip_network(dst if "/" in dst else dst + "/32", strict=False) if dst != "default" else None
        if net is not None and net.prefixlen == 32 and net.subnet_of(agent.pod_cidr):
            out.append(f"{dst} dev {r.get('dev')}")
    return out


def permanent_neighbours(node_ns):
    return [f"{n.get('dst')} dev {n.get('dev')}" for n in ip_json("-n", node_ns, "neigh", "show", "nud", "permanent")]


def ipam_files(agent):
    """Address files under stateDir/ipam: name -> content (host-local's layout: 'containerId\\nifname\\n')."""
    d = agent.state / "ipam"
    out = {}
    if d.is_dir():
        for f in d.iterdir():
            try:
                ipaddress.ip_address(f.name)
            except ValueError:
                continue          # last_reserved, temporaries
            try:
                out[f.name] = f.read_text(errors="replace")
            except OSError:
                pass              # released while we looked
    return out


def map_entries(agent):
    """Keys of the pinned endpoint map as addresses (struct endpoint_key: family u32, then 16 address bytes)."""
    pin = Path(agent.bpffs) / ENDPOINT_MAP
    if not pin.exists():
        return []
    out = sh("bpftool", "-j", "map", "dump", "pinned", pin, check=False)
    entries = json.loads(out) if out.strip() else []
    addresses = []
    for e in entries:
        key = [int(b, 16) for b in e["key"]]
        addresses.append(str(ipaddress.ip_address(bytes(key[4:8]))) if key[0] == 4
                         else str(ipaddress.ip_address(bytes(key[4:20]))))
    return sorted(addresses)


def endpoint_files(agent):
    d = agent.state / "endpoints"
    return sorted(f.name for f in d.glob("*.json") if not f.name.startswith(".")) if d.is_dir() else []


def spooled_dels(agent):
    d = agent.state / "cni-spool"
    return sorted(f.name for f in d.iterdir() if f.name.startswith("del-") and f.name.endswith(".req")) if d.is_dir() else []


def quarantined(agent):
    d = agent.state / "quarantine"
    return sorted(str(f.relative_to(d)) for f in d.rglob("*") if f.is_file()) if d.is_dir() else []


def pod_interfaces(pod):
    """The pod's links other than lo: what ADD put in its namespace and DEL must take away."""
    return [l["ifname"] for l in ip_json("-n", pod.netns, "link", "show") if l.get("ifname") != "lo"]


def pod_addresses(pod):
    out = []
    for link in ip_json("-n", pod.netns, "-4", "address", "show", "dev", pod.ifname):
        out += [a["local"] for a in link.get("addr_info", []) if a.get("family") == "inet"]
    return out


@dataclass
class Footprint:
    """What a node holds of its pods, by kind: each list names the objects."""
    items: dict = field(default_factory=dict)
    quarantined: list = field(default_factory=list)

    def counts(self):
        return {k: len(v) for k, v in self.items.items()}

    def total(self):
        return sum(len(v) for v in self.items.values())

    def leaks(self):
        return {k: v for k, v in self.items.items() if v}


def footprint(agent, pods, seen=None):
    """Everything the node holds of pods. seen: address -> container ids that held it during the run, to
    name whose address a leftover route, neighbour, IPAM file or map entry was."""
    veths = host_veths(agent.node_ns)
    hooks = [f"{dev}: {f.strip()[:60]}" for dev in veths for f in tc_bpf_filters(agent.node_ns, dev)]
    hooks += [f"pin links/from_pod/{p}" for p in link_pins(agent)]
    api = agent.endpoints() if agent.alive() else []
    items = {
        "host veths": veths,
        "hooks on pod veths": hooks,
        "routes to pods": pod_routes(agent),
        "permanent neighbours": permanent_neighbours(agent.node_ns),
        "IPAM addresses": sorted(ipam_files(agent)),
        "map entries": map_entries(agent),
        "endpoints (API)": [f"{e['containerId']}@{e['ifname']}" for e in (api or [])],
        "endpoint files": endpoint_files(agent),
        "spooled DELs": spooled_dels(agent),
        "pod interfaces": [f"{p.netns}:{i}" for p in pods for i in pod_interfaces(p)],
    }
    if api is None:
        items["endpoints (API)"] = ["(the agent did not answer GET /v1/endpoints)"]
    if seen:
        for kind in ("routes to pods", "permanent neighbours", "IPAM addresses", "map entries"):
            items[kind] = [whose(item, seen) for item in items[kind]]
    return Footprint(items, quarantined(agent))


def whose(item, seen):
    holders = seen.get(item.split(" ")[0])
    return f"{item} (held by {', '.join(sorted(holders))})" if holders else item


def address_holders(agent, pods):
    """address -> the container ids that hold it, in their namespace's interface or in an IPAM file."""
    holders = {}
    for pod in pods:
        for a in pod_addresses(pod):
            holders.setdefault(a, set()).add(pod.container_id)
    for address, content in ipam_files(agent).items():
        holders.setdefault(address, set()).add(content.split("\n", 1)[0] or "?")
    return holders


def address_check(agent, pods):
    """Never two pods with one address: (duplicates, unrecorded, holders); the first two are lists of readable
    lines. unrecorded: a pod's interface has an address whose IPAM file is missing, so the next ADD may hand it
    out. holders: address_holders()."""
    owners = {a: c.split("\n", 1)[0] for a, c in ipam_files(agent).items()}
    holders = address_holders(agent, pods)
    duplicates, unrecorded = [], []
    for address, who in sorted(holders.items()):
        if len(who) > 1:
            duplicates.append(f"{address}: {', '.join(sorted(who))}")
    for pod in pods:
        for a in pod_addresses(pod):
            if a not in owners:
                unrecorded.append(f"{a} on {pod.netns}:{pod.ifname} has no IPAM file")
    return duplicates, unrecorded, holders


def pod_parts(agent, pod, api_endpoints=None):
    """Which of an endpoint's pieces exist for this pod; the classification of 'fully present/absent/half'."""
    ipam = ipam_files(agent)
    owned = sorted(a for a, c in ipam.items() if c.split("\n", 1)[0] == pod.container_id)
    addresses = pod_addresses(pod)
    veths = set(host_veths(agent.node_ns))
    routes = pod_routes(agent)
    maps = set(map_entries(agent))
    eps = api_endpoints if api_endpoints is not None else (agent.endpoints() or [])
    mine = [e for e in eps if e["containerId"] == pod.container_id and e["ifname"] == pod.ifname]
    known = set(addresses) | set(owned) | {e["address"].split("/")[0] for e in mine}
    return {
        "IPAM file": bool(owned),
        "endpoint file": (agent.state / "endpoints" / f"{pod.container_id}@{pod.ifname}.json").exists(),
        "endpoint (API)": bool(mine),
        "host veth": pod.host_ifname in veths,
        "pod interface": pod.ifname in pod_interfaces(pod),
        "pod address": bool(addresses),
        "route": any(r.split(" ")[0] in known for r in routes),
        "map entry": bool(known & maps),
    }, (sorted(known)[0] if known else None)
