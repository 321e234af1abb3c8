#!/usr/bin/env python3
"""Statistics and the report of bench/run.sh (python3 standard library only).

  stats.py report META SAMPLES OUT_JSON OUT_MD NOTES_MD
      reads every sample (JSON lines), writes OUT_JSON (the machine, every
      sample, and the medians/percentiles/ratios the report shows) and the
      Markdown report OUT_MD, with NOTES_MD (the hand-written analysis) appended.
  stats.py rerender OUT_JSON OUT_MD NOTES_MD
      the same report again from a recorded OUT_JSON (after NOTES_MD changed).
  stats.py jmh-samples JMH_JSON
      turns JMH's JSON result into sample lines (figure "jmh").
"""
import json
import sys
from collections import defaultdict

from stats_conn import build_conn


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    if n == 0:
        return None
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def pct(xs, p):
    """Nearest-rank percentile."""
    xs = sorted(xs)
    if not xs:
        return None
    k = max(0, min(len(xs) - 1, int(-(-p * len(xs) // 100)) - 1))
    return xs[k]


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def fmt(v, digits=2):
    if v is None:
        return "–"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


class Samples:
    def __init__(self, rows):
        self.rows = rows
        self.by = defaultdict(list)
        for r in rows:
            self.by[(r["figure"], r["case"], r["side"], r["load"])].append(r)

    def values(self, figure, case, side, load="none"):
        return [r["value"] for r in self.by.get((figure, case, side, load), [])]

    def per_round(self, figure, case, side, load="none"):
        out = defaultdict(list)
        for r in self.by.get((figure, case, side, load), []):
            out[r["round"]].append(r["value"])
        return {k: median(v) for k, v in out.items()}

    def med(self, figure, case, side, load="none"):
        return median(self.values(figure, case, side, load))

    def paired_range(self, figure, case, a, b, load="none"):
        """Range of the per-round ratios a/b: how much the ABAB rounds agree."""
        ra, rb = self.per_round(figure, case, a, load), self.per_round(figure, case, b, load)
        rs = [ra[k] / rb[k] for k in ra if k in rb and rb[k]]
        return (min(rs), max(rs)) if rs else None


def goal(met, text):
    return {"met": met, "text": text}


def verdict(g):
    return "–" if g["met"] is None else ("**met**" if g["met"] else "**missed**")


def rr_tool(meta):
    """What measured figure 2: sockperf in the recordings before IPv6 (it takes IPv4 only), bench/rr.c since."""
    return "sockperf ping-pong --tcp" if "sockperf" in meta else "bench/rr.c ping-pong, TCP"


def build(meta, s):
    summary = {"throughput": [], "rr": [], "load": [], "cni": [], "agent": {}, "jmh": []}
    goals = []
    md = []

    # Figures 1 and 2 put the families side by side: IPv4 cases keep the names of the runs
    # before IPv6 ("same-P1"), IPv6 ones are prefixed ("v6-same-P1"); a recording without
    # IPv6 samples shows IPv4 rows only.
    families = [("IPv4", "")] + ([("IPv6", "v6-")] if any(k[1].startswith("v6-") for k in s.by) else [])

    # Figure 1: throughput
    if any(k[0] == "tput" for k in s.by):
        md += ["## 1. Pod-to-pod TCP throughput (iperf3, Gbit/s, median of rounds)", "",
               "| path | streams | family | Ferry | ptp | limit | Ferry/ptp (rounds) | Ferry/limit | ptp/limit |",
               "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for path in ("same", "cross"):
            for streams in (1, 4):
                for family, prefix in families:
                    case = f"{prefix}{path}-P{streams}"
                    f, p, l = (s.med("tput", case, side) for side in ("ferry", "ptp", "limit"))
                    fp, fl, pl = ratio(f, p), ratio(f, l), ratio(p, l)
                    rng = s.paired_range("tput", case, "ferry", "ptp")
                    md.append(f"| {path}-node | {streams} | {family} | {fmt(f)} | {fmt(p)} | {fmt(l)} | {fmt(fp)} "
                              f"({fmt(rng[0]) if rng else '–'}–{fmt(rng[1]) if rng else '–'}) | {fmt(fl)} | {fmt(pl)} |")
                    summary["throughput"].append({"case": case, "family": family, "ferry": f, "ptp": p, "limit": l,
                                                  "ferry_over_ptp": fp, "ferry_over_limit": fl,
                                                  "ferry_over_ptp_round_range": rng})
                    if fp is not None:
                        goals.append(goal(fp >= 1.15, f"throughput {case}: Ferry/ptp {fmt(fp)} (goal >= 1.15)"))
                    if fl is not None:
                        goals.append(goal(fl >= 0.95, f"throughput {case}: Ferry/limit {fmt(fl)} (goal >= 0.95)"))
        md.append("")

    # Figure 2: request/response
    if any(k[0] == "rr_p50" for k in s.by):
        md += [f"## 2. TCP request/response ({rr_tool(meta)}, 64 B, full round trip)", "",
               "| path | family | p50 Ferry µs | p50 ptp µs | p50 limit µs | p50 Ferry/ptp (rounds) | p99 Ferry | p99 ptp | p99 limit | tx/s Ferry | tx/s ptp | tx/s limit |",
               "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for path in ("same", "cross"):
            for family, prefix in families:
                case = prefix + path
                p50 = {side: s.med("rr_p50", case, side) for side in ("ferry", "ptp", "limit")}
                p99 = {side: s.med("rr_p99", case, side) for side in ("ferry", "ptp", "limit")}
                tps = {side: s.med("rr_tps", case, side) for side in ("ferry", "ptp", "limit")}
                r = ratio(p50["ferry"], p50["ptp"])
                rng = s.paired_range("rr_p50", case, "ferry", "ptp")
                md.append(f"| {path}-node | {family} | {fmt(p50['ferry'])} | {fmt(p50['ptp'])} | {fmt(p50['limit'])} | {fmt(r)} "
                          f"({fmt(rng[0]) if rng else '–'}–{fmt(rng[1]) if rng else '–'}) | {fmt(p99['ferry'])} | {fmt(p99['ptp'])} | "
                          f"{fmt(p99['limit'])} | {fmt(tps['ferry'])} | {fmt(tps['ptp'])} | {fmt(tps['limit'])} |")
                summary["rr"].append({"case": case, "family": family, "p50_us": p50, "p99_us": p99, "tps": tps,
                                      "p50_ferry_over_ptp": r, "p50_ferry_over_ptp_round_range": rng})
                if r is not None:
                    goals.append(goal(r <= 0.80, f"TCP RR p50 {path}-node {family}: Ferry/ptp {fmt(r)} (goal <= 0.80)"))
        md.append("")

    # Figure 3: the netfilter load
    if any(k[3] == "kp" for k in s.by):
        md += [f"## 3. With a kube-proxy-like netfilter load ({meta.get('kube_proxy_rules')} DNAT rules walked by every new flow, conntrack on)", "",
               "Loss = how much worse than the same side without the load, in the same rounds "
               "(throughput and tx/s: lower; p50: higher). Negative: no loss (noise).", "",
               "| figure | path | Ferry no load | Ferry load | Ferry loss | ptp no load | ptp load | ptp loss |",
               "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        worst = None
        for fig, cases, better_high, unit in (("tput", ["same-P1", "same-P4", "cross-P1", "cross-P4"], True, "Gbit/s"),
                                              ("rr_tps", ["same", "cross"], True, "tx/s"),
                                              ("rr_p50", ["same", "cross"], False, "µs")):
            for case in cases:
                row = {"figure": fig, "case": case}
                cells = []
                for side in ("ferry", "ptp"):
                    a, b = s.med(fig, case, side, "none"), s.med(fig, case, side, "kp")
                    loss = None
                    if a and b is not None:
                        loss = (1 - b / a) if better_high else (b / a - 1)
                    row[side] = {"none": a, "load": b, "loss": loss}
                    cells += [fmt(a), fmt(b), f"{loss * 100:+.1f} %" if loss is not None else "–"]
                    if side == "ferry" and loss is not None and fig != "rr_p50":
                        worst = loss if worst is None else max(worst, loss)
                md.append(f"| {fig} ({unit}) | {case} | " + " | ".join(cells) + " |")
                summary["load"].append(row)
        if worst is not None:
            goals.append(goal(worst <= 0.03, f"under the netfilter load Ferry loses at most {worst * 100:.1f} % "
                                             f"of throughput or tx/s (goal <= 3 %)"))
        md.append("")

    # Figure 4: CNI
    if any(k[0] == "cni_add" for k in s.by):
        md += ["## 4. CNI ADD and DEL through the binaries (ms per exec; every pod of every round)", "",
               "| command | concurrency | pods | Ferry p50 | Ferry p99 | ptp p50 | ptp p99 | p50 Ferry/ptp | Ferry pods/s | ptp pods/s |",
               "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for cmd in ("add", "del"):
            for c in (1, 8):
                f, p = s.values(f"cni_{cmd}", f"c{c}", "ferry"), s.values(f"cni_{cmd}", f"c{c}", "ptp")
                fr, pr = s.med("cni_rate", f"{cmd}_c{c}", "ferry"), s.med("cni_rate", f"{cmd}_c{c}", "ptp")
                r = ratio(median(f), median(p))
                md.append(f"| {cmd.upper()} | {c} | {len(f)} | {fmt(median(f))} | {fmt(pct(f, 99))} | {fmt(median(p))} | "
                          f"{fmt(pct(p, 99))} | {fmt(r)} | {fmt(fr, 1)} | {fmt(pr, 1)} |")
                summary["cni"].append({"command": cmd, "concurrency": c, "pods": len(f),
                                       "ferry_p50_ms": median(f), "ferry_p99_ms": pct(f, 99),
                                       "ptp_p50_ms": median(p), "ptp_p99_ms": pct(p, 99), "p50_ferry_over_ptp": r,
                                       "ferry_pods_per_s": fr, "ptp_pods_per_s": pr})
                if cmd == "add" and c == 1 and r is not None:
                    goals.append(goal(r <= 1.0, f"CNI ADD p50 Ferry/ptp {fmt(r)} (goal <= 1.0)"))
        md.append("")

    # Figure 5: the agent
    agent_cases = sorted({k[1] for k in s.by if k[0] == "agent"})
    if agent_cases:
        md += ["## 5. The agent (dist/bin/ferry-agent as shipped)", "", "| what | value |", "| --- | ---: |"]
        starts = s.values("agent", "start_to_ready", "ferry")
        if starts:
            md.append(f"| start to ready (/readyz 200), median of {len(starts)} starts (first creates the pins) | "
                      f"{fmt(median(starts), 0)} ms (first {fmt(starts[0], 0)} ms, max {fmt(max(starts), 0)} ms) |")
            summary["agent"]["start_to_ready_ms"] = {"median": median(starts), "all": starts}
        rss_keys = sorted((c for c in agent_cases if c.startswith("rss_at_")), key=lambda c: int(c.split("_")[-1]))
        for c in rss_keys + [c for c in ("rss_after_scrapes", "rss_peak") if c in agent_cases]:
            v = s.med("agent", c, "ferry")
            label = {"rss_after_scrapes": "RSS after the scrapes", "rss_peak": "peak RSS (VmHWM)"}.get(
                c, f"RSS at {c.split('_')[-1]} endpoints")
            md.append(f"| {label} | {fmt(v, 1)} MiB |")
            summary["agent"][c + "_mib"] = v
        scrape_cases = sorted({k[1] for k in s.by if k[0] == "scrape"})
        for c in scrape_cases:
            xs = s.values("scrape", c, "ferry")
            md.append(f"| /metrics scrape at {c.split('_')[-1]} endpoints ({len(xs)} scrapes, curl) | "
                      f"p50 {fmt(median(xs))} ms, p99 {fmt(pct(xs, 99))} ms |")
            summary["agent"]["scrape_ms"] = {"endpoints": c.split("_")[-1], "p50": median(xs), "p99": pct(xs, 99)}
            goals.append(goal(median(xs) <= 50, f"/metrics scrape at {c.split('_')[-1]} endpoints: p50 {fmt(median(xs))} ms, "
                                                f"p99 {fmt(pct(xs, 99))} ms (goal <= 50 ms)"))
        if rss_keys:
            top = rss_keys[-1]
            v = s.med("agent", top, "ferry")
            goals.append(goal(v <= 150, f"RSS at {top.split('_')[-1]} endpoints {fmt(v, 1)} MiB (goal <= 150 MiB)"))
        md.append("")

    # Figure 6: JMH
    jmh = [r for r in s.rows if r["figure"] == "jmh"]
    if jmh:
        md += ["## 6. JMH: the FFM map paths (bench/jmh)", "", "| benchmark | score | ± error (99.9 %) | unit |",
               "| --- | ---: | ---: | --- |"]
        for r in jmh:
            md.append(f"| `{r['case']}` | {fmt(r['value'])} | {fmt(r.get('error'))} | {r['unit']} |")
            summary["jmh"].append({"benchmark": r["case"], "score": r["value"], "error": r.get("error"), "unit": r["unit"]})
        md.append("")

    # Figure 7: what the programs themselves cost, live and on a crafted packet
    if any(k[0] in ("bpf_ns", "bpf_test_run_ns") for k in s.by):
        md += ["## 7. BPF program cost per packet", "",
               "Live: the kernel's count of run time over runs (`kernel.bpf_stats_enabled`, which adds two clock "
               "reads per run) for every program of that name on the two Ferry nodes, during one "
               f"{rr_tool(meta)} run per path (IPv4). Crafted: `BPF_PROG_TEST_RUN` of one TCP SYN to a local pod (both conntrack "
               "lookups, forward and reverse, as every UDP datagram; a mid-flow TCP segment does one), the kernel's "
               "`duration` over millions of runs (`ProgramCostBenchmark`, bench/jmh).", "",
               "| program | live, same node (ns) | live, cross node (ns) | crafted packet (ns) |",
               "| --- | ---: | ---: | ---: |"]
        summary["bpf_ns"] = []
        for prog in ("from_pod", "to_pod"):
            same, cross = (s.med("bpf_ns", f"{path}-{prog}", "ferry") for path in ("same", "cross"))
            crafted = s.med("bpf_test_run_ns", prog, "ferry")
            md.append(f"| `{prog}` | {fmt(same, 0)} | {fmt(cross, 0)} | {fmt(crafted, 0)} |")
            summary["bpf_ns"].append({"program": prog, "live_same_ns": same, "live_cross_ns": cross,
                                      "test_run_ns": crafted})
        md.append("")

    # Figure 8: source ports reused after a Service
    if any(k[0] == "reuse_direct" for k in s.by):
        md += ["## 8. Source port reused after a Service (bench/port_reuse.py)", "",
               "A client pod talks to a backend through a Service (DNAT in node a), then to the backend directly "
               "from the same source port, a fresh port each time, for the run's seconds. A direct exchange fails "
               "when it times out, is reset, or (UDP) is answered from another address than the backend's.", "",
               "| protocol | path | Ferry direct | Ferry failed | ptp direct | ptp failed |",
               "| --- | --- | ---: | ---: | ---: | ---: |"]
        summary["reuse"] = []
        for case in ("tcp-same", "tcp-cross", "udp-same", "udp-cross"):
            row = {"case": case}
            for side in ("ferry", "ptp"):
                row[side] = {"direct": s.med("reuse_direct", case, side), "failed": s.med("reuse_failed", case, side)}
            proto, path = case.split("-")
            md.append(f"| {proto.upper()} | {path}-node | {fmt(row['ferry']['direct'], 0)} | {fmt(row['ferry']['failed'], 0)} | "
                      f"{fmt(row['ptp']['direct'], 0)} | {fmt(row['ptp']['failed'], 0)} |")
            summary["reuse"].append(row)
            if row["ferry"]["failed"] is not None:
                goals.append(goal(row["ferry"]["failed"] == 0, f"port reuse {case}: Ferry failed "
                                                               f"{fmt(row['ferry']['failed'], 0)} direct exchanges (goal 0)"))
        md.append("")

    return md, goals, summary


METHOD = """## Method

`./bench/run.sh` (as root: full) or `--quick` (development; writes `bench/results/quick.*`).
The harness (bash: `bench/run.sh`; statistics and this page: `bench/stats.py`; the CNI
driver: `bench/cni_load.py`; JMH: `bench/jmh`) builds three datapaths of the same shape in
network namespaces (`ferrybench-*`): two "node" namespaces joined by a veth "wire"
(192.168.88.0/24 and fd88:ffff::/64), two pods on node a and one on node b, each pod
dual stack (10.88.0.0/16 and fd00:88::/32; the limit's pair has both families too):

- **Ferry**: a standalone `dist/bin/ferry-agent` in each node namespace (pins under
  `/sys/fs/bpf/ferry-bench-*`), pods made by `dist/bin/ferry-cni` (TCX on the wire, tc on pod veths, `bpf_redirect_peer`
  on the same node, `bpf_redirect_neigh` + `bpf_redirect_peer` across).
- **ptp**: Debian's reference `ptp` plugin with `host-local` IPAM (`containernetworking-plugins`),
  an IPv4 and an IPv6 range, exec'd with the same CNI environment inside the node namespaces;
  across nodes, plain routes of both families in the node namespaces with IPv4 and IPv6
  forwarding on. Every packet crosses the node's IP stack.
- **limit**: two namespaces joined by one veth pair: no node hop at all.

Every comparison runs all sides in the same run, in rounds; each round runs every side once
and the side that goes first alternates (Ferry, ptp, limit / limit, ptp, Ferry), so load
from other work on the machine falls on both. The client is pinned to CPU 0 and the
server to CPU 1 (`taskset`). Figures 1 and 2 measure both families on the same pods in
every round (IPv6 rows beside the IPv4 ones); request/response is `bench/rr.c` (64 B
ping-pong over one TCP connection, `TCP_NODELAY`, every round trip timed, the first
100 ms left out; sockperf 3.7 takes IPv4 addresses only). Medians over rounds; "rounds" in brackets is the range of the
per-round ratios. The netfilter load (figure 3) is applied and removed inside every
round, in the node namespaces of Ferry and ptp: a `nat` table with 2,000
`ip daddr 10.96.x.y tcp dport P dnat to ...` rules (Services the traffic never hits)
jumped to from prerouting and output, and a forward filter with conntrack state
checks; it is an IPv4 table, so figure 3 is IPv4 only. CNI latency is one `fork+exec` of the plugin binary with the CNI environment,
timed by `bench/cni_load.py` from the node namespace, ADD then DEL of the same pods,
at concurrency 1 and 8, IPv4 only: Ferry's on a node of its own with an IPv4 pod CIDR,
ptp's with one IPv4 range (ptp waits for DAD on a pod's IPv6 address on every ADD). The agent's costs are measured on a node of its own: start
to `/readyz` 200, RSS (`VmRSS` of the JVM) after pods are added through ferry-cni,
and `curl` time of `GET /metrics` on its `metricsAddress`. Source port reuse
(figure 8, `bench/port_reuse.py`): in node a of Ferry and ptp, a `nat` prerouting
table DNATs a Service address to pod 2 (same node) or pod 3 (cross) and `ip_forward`
is on, as on a kube-proxy node; pod 1 exchanges a TCP line or a UDP datagram with
the Service, closes, and does the same with the backend directly from the same
source port, a fresh port each time (at most 9,999 per case) for the run's seconds.
"""


def report(meta_path, samples_path, out_json, out_md, notes_path):
    meta = json.load(open(meta_path))
    rows = [json.loads(line) for line in open(samples_path) if line.strip()]
    render(meta, rows, out_json, out_md, notes_path)


def rerender(out_json, out_md, notes_path):
    """The report again from a recorded run (after the notes changed): same samples, same numbers."""
    recorded = json.load(open(out_json))
    render(recorded["machine"], recorded["samples"], out_json, out_md, notes_path)


def render(meta, rows, out_json, out_md, notes_path):
    s = Samples(rows)
    body, goals, summary = build(meta, s)
    lead, conn_body, conn_goals, summary["conn"] = build_conn(meta, s)
    body, goals = body + conn_body, conn_goals + goals
    json.dump({"machine": meta, "summary": summary, "goals": goals, "samples": rows},
              open(out_json, "w"), indent=1)

    md = ["# Benchmarks", "",
          "Generated by `bench/run.sh` from the run below; raw samples (every one) in "
          f"`{out_json}`. Do not edit the tables by hand: run the bench again.", "",
          "| machine | |", "| --- | --- |",
          f"| date | {meta['date']} |",
          f"| commit | `{meta['commit']}` |",
          f"| kernel | {meta['kernel']} |",
          f"| CPU | {meta['cpu']}, {meta['cores']} cores |",
          f"| software | {meta['java']}; {meta['iperf3']}; "
          + (f"sockperf {meta['sockperf']}" if "sockperf" in meta else f"TCP RR: {meta.get('rr')}")
          + f"; containernetworking-plugins {meta['containernetworking_plugins']} |",
          f"| load average (1, 5, 15 min) | start {meta['load_average_start']}; end {meta['load_average_end']} |",
          f"| run | {'quick' if meta['quick'] else 'full'}: {meta['rounds']} rounds, iperf3 {meta['throughput_seconds']} s (+1 s omitted), "
          f"{'sockperf' if 'sockperf' in meta else 'TCP RR'} {meta['rr_seconds']} s, {meta['cni_pods_per_round']} pods per CNI batch; took {meta['duration_seconds']} s |",
          ""] + lead + ["## Goals", ""]
    for g in goals:
        md.append(f"- {verdict(g)}: {g['text']}")
    md += [""] + body + [METHOD]
    try:
        notes = open(notes_path).read()
        md += ["", notes]
    except FileNotFoundError:
        pass
    open(out_md, "w").write("\n".join(md).rstrip() + "\n")


def number(v):
    """JMH writes "NaN" (a string) for an error it cannot compute."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return None if v != v else round(v, 3)


def jmh_samples(path):
    for r in json.load(open(path)):
        m = r["primaryMetric"]
        name = r["benchmark"].rsplit(".", 2)
        params = r.get("params") or {}
        case = ".".join(name[-2:]) + "".join(f" {k}={v}" for k, v in params.items())
        print(json.dumps({"figure": "jmh", "case": case, "side": "ferry", "load": "none", "round": 1,
                          "value": round(m["score"], 3), "error": number(m["scoreError"]), "unit": m["scoreUnit"],
                          "raw": m.get("rawData")}))
        aux = r.get("secondaryMetrics") or {}
        if "kernelNs" in aux and "programRuns" in aux and aux["programRuns"]["score"]:
            # ProgramCostBenchmark: the kernel's own duration of BPF_PROG_TEST_RUN, summed over every run.
            print(json.dumps({"figure": "bpf_test_run_ns", "case": params.get("program", "?").lower(), "side": "ferry",
                              "load": "none", "round": 1, "unit": "ns",
                              "value": round(aux["kernelNs"]["score"] / aux["programRuns"]["score"], 1)}))


if __name__ == "__main__":
    if sys.argv[1] == "report":
        report(*sys.argv[2:7])
    elif sys.argv[1] == "rerender":
        rerender(*sys.argv[2:5])
    elif sys.argv[1] == "jmh-samples":
        jmh_samples(sys.argv[2])
    else:
        sys.exit(__doc__)
