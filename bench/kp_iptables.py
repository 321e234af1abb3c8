#!/usr/bin/env python3
"""A kube-proxy-style iptables ruleset (iptables-restore format) for bench/conn.sh.

  kp_iptables.py --services K --cluster-cidr CIDR [--real NAME=CLUSTER_IP:PORT=BACKEND_IP:PORT ...]

Writes to stdout what kube-proxy's iptables mode writes for K Services of two
endpoints each: in the nat table, KUBE-SERVICES (jumped to from PREROUTING and
OUTPUT) with one rule per ClusterIP:port to its KUBE-SVC-* chain, which marks
packets from outside the cluster CIDR for masquerade (KUBE-MARK-MASQ) and picks
one of two KUBE-SEP-* chains with `-m statistic --mode random --probability 0.5`;
each KUBE-SEP-* marks hairpin traffic and DNATs; KUBE-POSTROUTING masquerades
what was marked; KUBE-SERVICES ends with the NodePort jump. In the filter table,
KUBE-FORWARD's conntrack checks. The K Services' endpoints are addresses no
packet of the bench goes to: only the first new packet of a flow walks them.

Each --real Service is a real one: both of its endpoints DNAT to BACKEND (the
same pod twice, so that the backend's node is fixed while the statistic match is
still walked). The real Services sit in the middle of KUBE-SERVICES: a new flow
to them walks half of the other Services' rules first, as a flow to a random
Service of a cluster would.
"""
import argparse
import hashlib
import ipaddress
import sys

MASQ_MARK = "0x4000/0x4000"
SERVICE_BASE = int(ipaddress.IPv4Address("10.96.0.10"))    # the default service CIDR 10.96.0.0/12
ENDPOINT_BASE = int(ipaddress.IPv4Address("10.89.0.10"))   # outside every bench address range: never reached


def chain_id(prefix, *parts):
    # kube-proxy names chains by a hash of service port name and protocol (base32 of a sha256, 16 chars).
    return prefix + hashlib.sha256("/".join(parts).encode()).hexdigest()[:16].upper()


def service(lines, chains, name, cluster_ip, port, endpoints, cluster_cidr):
    svc = chain_id("KUBE-SVC-", name, "tcp")
    seps = [chain_id("KUBE-SEP-", name, ep, str(i)) for i, ep in enumerate(endpoints)]
    chains += [svc] + seps
    comment = f'-m comment --comment "bench/{name}:http'
    rules = [f'-A KUBE-SERVICES -d {cluster_ip}/32 -p tcp {comment} cluster IP" -m tcp --dport {port} -j {svc}',
             f'-A {svc} ! -s {cluster_cidr} -d {cluster_ip}/32 -p tcp {comment} cluster IP" -m tcp --dport {port} -j KUBE-MARK-MASQ']
    for i, (ep, sep) in enumerate(zip(endpoints, seps)):
        left = len(endpoints) - i
        pick = f"-m statistic --mode random --probability {1 / left:.11f} " if left > 1 else ""
        rules.append(f'-A {svc} {comment} -> {ep}" {pick}-j {sep}')
    for ep, sep in zip(endpoints, seps):
        ip = ep.split(":")[0]
        rules += [f'-A {sep} -s {ip}/32 {comment}" -j KUBE-MARK-MASQ',
                  f'-A {sep} -p tcp {comment}" -m tcp -j DNAT --to-destination {ep}']
    lines += rules


def ruleset(k, cluster_cidr, real):
    chains, rules = [], []
    middle = k // 2
    for i in range(k):
        if i == middle:
            for name, cluster_ip, port, backend in real:
                service(rules, chains, name, cluster_ip, port, [backend, backend], cluster_cidr)
        ip = ipaddress.IPv4Address(SERVICE_BASE + i)
        eps = [f"{ipaddress.IPv4Address(ENDPOINT_BASE + 2 * i + j)}:8080" for j in range(2)]
        service(rules, chains, f"svc-{i}", str(ip), 80 + i % 7, eps, cluster_cidr)
    if k == 0:
        for name, cluster_ip, port, backend in real:
            service(rules, chains, name, cluster_ip, port, [backend, backend], cluster_cidr)
    out = ["*nat",
           ":KUBE-SERVICES - [0:0]", ":KUBE-NODEPORTS - [0:0]", ":KUBE-POSTROUTING - [0:0]", ":KUBE-MARK-MASQ - [0:0]"]
    out += [f":{c} - [0:0]" for c in chains]
    out += ['-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
            '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
            '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
            f"-A KUBE-MARK-MASQ -j MARK --set-xmark {MASQ_MARK}",
            f"-A KUBE-POSTROUTING -m mark ! --mark {MASQ_MARK} -j RETURN",
            "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0",
            '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully']
    out += rules
    out += ['-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
            "COMMIT",
            "*filter", ":KUBE-FORWARD - [0:0]",
            '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
            "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
            f'-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark {MASQ_MARK} -j ACCEPT',
            '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
            "COMMIT"]
    return out


def parse_real(spec):
    try:
        name, front, backend = spec.split("=")
        ip, port = front.split(":")
        ipaddress.IPv4Address(ip)
        bip, bport = backend.split(":")
        ipaddress.IPv4Address(bip)
        return name, ip, int(port), f"{bip}:{int(bport)}"
    except ValueError:
        raise argparse.ArgumentTypeError(f"not NAME=CLUSTER_IP:PORT=BACKEND_IP:PORT: '{spec}'")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--services", type=int, required=True)
    p.add_argument("--cluster-cidr", required=True)
    p.add_argument("--real", type=parse_real, action="append", default=[])
    a = p.parse_args()
    if not 0 <= a.services <= 1 << 19:
        p.error("--services must be 0..524288 (the service CIDR 10.96.0.0/12 holds them)")
    sys.stdout.write("\n".join(ruleset(a.services, a.cluster_cidr, a.real)) + "\n")


if __name__ == "__main__":
    main()
