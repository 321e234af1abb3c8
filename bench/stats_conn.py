"""Figures 9 and 10 of the report (bench/conn.sh): connections per second and the
CPU per unit of work beside a kube-proxy-style iptables ruleset of K Services,
and the summary the report leads with. Imported by bench/stats.py.

Ratios here are the median of the per-round ratios: in each ABAB round the
sides run back to back, so a round's ratio compares like with like even when
the shared machine's load drifts between rounds; the range of those per-round
ratios is shown beside it.
"""
from collections import defaultdict

LEVEL_ORDER = ["norules", "k0", "k1000", "k5000", "k20000"]
CASES = [("pod-same", "pod→pod, same node"), ("pod-cross", "pod→pod, across nodes"),
         ("svc-same", "pod→ClusterIP, backend same node"), ("svc-cross", "pod→ClusterIP, backend other node")]


def level_label(level):
    return "no rules" if level == "norules" else f"K={int(level[1:]):,}"


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    n = len(xs)
    if not n:
        return None
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def fmt(v, digits=2):
    if v is None:
        return "–"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.{digits}f}"


def paired(s, figure, case, a, b, load):
    """(median, min, max) of the per-round ratios a/b, or None."""
    ra, rb = s.per_round(figure, case, a, load), s.per_round(figure, case, b, load)
    rs = [ra[k] / rb[k] for k in ra if k in rb and rb[k]]
    return (median(rs), min(rs), max(rs)) if rs else None


def with_range(p):
    return "–" if p is None else f"{fmt(p[0])} ({fmt(p[1])}–{fmt(p[2])})"


def build_conn(meta, s):
    """(lead Markdown, figure Markdown, goals, summary) of the conn figures; empty when they did not run."""
    levels = [lv for lv in LEVEL_ORDER if any(k[0] == "conn_rate" and k[3] == lv for k in s.by)]
    if not levels:
        return [], [], [], {}
    conn = meta.get("conn", {})
    summary = {"rate": [], "cpu": []}
    goals, md = [], []

    # Figure 9: closed-loop connection rate
    md += [f"## 9. Connections per second beside kube-proxy (closed loop, {conn.get('concurrency', '?')} in flight)", "",
           "Each connection: connect, 100-byte request, 100-byte response, the server closes "
           "(`bench/connrate/connrate.c`, one epoll thread per side, client pinned to CPU 0 and server to CPU 1, "
           f"{conn.get('sched', '?')}), {conn.get('seconds', '?')} s per run, {conn.get('rounds', '?')} ABAB rounds per K. "
           "K = Services of a kube-proxy-style ruleset (`bench/kp_iptables.py`: KUBE-SERVICES with one rule per "
           "ClusterIP:port, KUBE-SVC-* marking off-cluster sources for masquerade and picking one of two KUBE-SEP-* "
           "by `-m statistic --mode random`, each DNATing; KUBE-POSTROUTING; KUBE-FORWARD's conntrack checks), "
           f"loaded with one `iptables-restore` per node namespace ({conn.get('iptables', '?')}) into both nodes of "
           "Ferry and of ptp. \"no rules\": no iptables table at all. Two of the Services are real, in the middle "
           "of KUBE-SERVICES (a new flow to them walks half the other Services' rules; pod→pod flows walk all of "
           "them): their ClusterIP DNATs to the server pod on the same node, or on the other node. Conntrack in "
           "the node namespaces is flushed before every run, the servers keep no TIME_WAIT sockets (see bench/conn.sh). "
           "Ratios: median of the per-round ratios (range over rounds). The limit (one veth pair) has no K "
           "and no ClusterIP; it is run in every round at every K.", "",
           "| traffic | K | Ferry conn/s | ptp conn/s | limit conn/s | Ferry/ptp (rounds) | Ferry/limit (rounds) | ptp/limit | "
           "p50 Ferry / ptp µs | p99 Ferry / ptp µs | failed Ferry / ptp |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for case, label in CASES:
        for lv in levels:
            if not s.values("conn_rate", case, "ferry", lv):
                continue
            f, p = s.med("conn_rate", case, "ferry", lv), s.med("conn_rate", case, "ptp", lv)
            pod = case.startswith("pod")
            lim = s.med("conn_rate", case, "limit", lv) if pod else None
            fp = paired(s, "conn_rate", case, "ferry", "ptp", lv)
            fl = paired(s, "conn_rate", case, "ferry", "limit", lv) if pod else None
            pl = paired(s, "conn_rate", case, "ptp", "limit", lv) if pod else None
            lat = {q: {side: s.med(f"conn_{q}", case, side, lv) for side in ("ferry", "ptp")} for q in ("p50", "p99")}
            failed = {side: sum(s.values("conn_failed", case, side, lv)) for side in ("ferry", "ptp")}
            md.append(f"| {label} | {level_label(lv)} | {fmt(f, 0)} | {fmt(p, 0)} | {fmt(lim, 0)} | {with_range(fp)} | "
                      f"{with_range(fl)} | {fmt(pl[0]) if pl else '–'} | {fmt(lat['p50']['ferry'], 0)} / {fmt(lat['p50']['ptp'], 0)} | "
                      f"{fmt(lat['p99']['ferry'], 0)} / {fmt(lat['p99']['ptp'], 0)} | {failed['ferry']:.0f} / {failed['ptp']:.0f} |")
            summary["rate"].append({"case": case, "level": lv, "ferry": f, "ptp": p, "limit": lim,
                                    "ferry_over_ptp": fp, "ferry_over_limit": fl, "ptp_over_limit": pl,
                                    "p50_us": lat["p50"], "p99_us": lat["p99"], "failed": failed})
    md.append("")

    # Figure 10: CPU at a fixed offered load
    cpu_k = f"k{conn.get('cpu_k', 5000)}"
    if any(k[0] in ("cpu_kconn", "cpu_gbit") for k in s.by):
        md += [f"## 10. CPU per unit of work at a fixed offered load, {level_label(cpu_k)}", "",
               f"Open loop at {conn.get('rate', '?')} connections/s for {conn.get('cpu_seconds', '?')} s, and iperf3 "
               f"at {conn.get('gbit', '?')} Gbit/s; CPU = the scheduler's run time (`/proc/PID/schedstat`) of the "
               f"client, the server and {conn.get('softirqd', 'ksoftirqd')} over the run. Median of rounds; "
               "the parts are the medians of each.", "",
               "| work | traffic | Ferry ms | ptp ms | limit ms | Ferry/ptp (rounds) | Ferry/limit | "
               "Ferry client / server / ksoftirqd | ptp client / server / ksoftirqd | open-loop p99 Ferry / ptp µs |",
               "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |"]
        parts = lambda fig, case, side: " / ".join(
            fmt(median([r[k] / r["work"] for r in s.by.get((fig, case, side, cpu_k), [])]), 1)
            for k in ("client_ms", "server_ms", "softirqd_ms"))
        rows = [("cpu_kconn", case, label, "per 1,000 connections") for case, label in CASES] + \
               [("cpu_gbit", path, f"TCP stream, {path} node", "per Gbit") for path in ("same", "cross")]
        for fig, case, label, work in rows:
            f, p = s.med(fig, case, "ferry", cpu_k), s.med(fig, case, "ptp", cpu_k)
            if f is None and p is None:
                continue
            lim = s.med(fig, case, "limit", cpu_k)
            fp = paired(s, fig, case, "ferry", "ptp", cpu_k)
            fl = paired(s, fig, case, "ferry", "limit", cpu_k)
            p99 = ""
            if fig == "cpu_kconn":
                p99 = f"{fmt(s.med('conn_open_p99', case, 'ferry', cpu_k), 0)} / {fmt(s.med('conn_open_p99', case, 'ptp', cpu_k), 0)}"
            md.append(f"| {work} | {label} | {fmt(f)} | {fmt(p)} | {fmt(lim)} | {with_range(fp)} | {fmt(fl[0]) if fl else '–'} | "
                      f"{parts(fig, case, 'ferry')} | {parts(fig, case, 'ptp')} | {p99} |")
            summary["cpu"].append({"figure": fig, "case": case, "level": cpu_k, "ferry_ms": f, "ptp_ms": p, "limit_ms": lim,
                                   "ferry_over_ptp": fp, "ferry_over_limit": fl})
        md.append("")

    # Goals (issue 16): pod→pod at the limit at every K; ClusterIP and CPU against ptp at K=5000
    by = {(r["case"], r["level"]): r for r in summary["rate"]}
    for case, label in CASES[:2]:
        vals = [(lv, by[(case, lv)]["ferry_over_limit"]) for lv in levels if (case, lv) in by and by[(case, lv)]["ferry_over_limit"]]
        if vals:
            worst = min(v[0] for _, v in vals)
            goals.append({"met": worst >= 0.95, "text": f"{label} connections/s, Ferry/limit at every K: "
                          + ", ".join(f"{level_label(lv)} {fmt(v[0], 3)}" for lv, v in vals) + " (goal >= 0.95)"})
    for case, label, want in (("svc-same", CASES[2][1], 1.10), ("svc-cross", CASES[3][1], 1.5)):
        r = by.get((case, cpu_k))
        if r and r["ferry_over_ptp"]:
            v = r["ferry_over_ptp"][0]
            goals.append({"met": v >= want, "text": f"{label} connections/s at {level_label(cpu_k)}: Ferry/ptp {fmt(v, 3)} (goal >= {want:.2f})"})
    cpu = {(r["figure"], r["case"]): r for r in summary["cpu"]}
    for case, label in CASES[:2]:
        r = cpu.get(("cpu_kconn", case))
        if r and r["ferry_over_ptp"]:
            v = r["ferry_over_ptp"][0]
            goals.append({"met": v <= 0.70, "text": f"CPU per 1,000 connections {label} at {level_label(cpu_k)}: "
                                                    f"Ferry/ptp {fmt(v, 3)} (goal <= 0.70)"})

    lead = lead_summary(levels, by, cpu, cpu_k)
    return lead, md, goals, summary


def lead_summary(levels, by, cpu, cpu_k):
    """What an operator asks first: how much faster, at what cluster size, for which traffic."""
    md = ["## In short: Ferry beside kube-proxy", "",
          "Connections per second, Ferry ÷ ptp (the reference plugin routing through the node's stack), "
          "by cluster size (K = Services kube-proxy has programmed in iptables on every node) and kind of "
          "traffic; in brackets, Ferry ÷ the limit (one bare veth pair, no node at all). Figures 9 and 10 below.", "",
          "| traffic | " + " | ".join(level_label(lv) for lv in levels) + " |",
          "| --- |" + " ---: |" * len(levels)]
    for case, label in CASES:
        cells = []
        for lv in levels:
            r = by.get((case, lv))
            if not r or not r["ferry_over_ptp"]:
                cells.append("–")
                continue
            cell = f"**{fmt(r['ferry_over_ptp'][0])}×**"
            if r["ferry_over_limit"]:
                cell += f" ({fmt(r['ferry_over_limit'][0])})"
            cells.append(cell)
        md.append(f"| {label} | " + " | ".join(cells) + " |")
    md.append("")
    lines = []
    big = [lv for lv in levels if lv != "norules"]
    for case, label in CASES:
        rs = [(lv, by[(case, lv)]) for lv in big if (case, lv) in by and by[(case, lv)]["ferry_over_ptp"]]
        if rs:
            lo, hi = rs[0], rs[-1]
            lines.append(f"- {label}: {fmt(lo[1]['ferry_over_ptp'][0])}× ptp at {level_label(lo[0])}, "
                         f"{fmt(hi[1]['ferry_over_ptp'][0])}× at {level_label(hi[0])}"
                         + (f"; ptp itself falls to {fmt(hi[1]['ptp_over_limit'][0])} of the limit there, "
                            f"Ferry stays at {fmt(hi[1]['ferry_over_limit'][0])}" if hi[1]["ferry_over_limit"] and hi[1]["ptp_over_limit"] else "")
                         + ".")
    for case, label in CASES[:2]:
        r = cpu.get(("cpu_kconn", case))
        if r and r["ferry_over_ptp"]:
            lines.append(f"- CPU per 1,000 connections ({label}, {level_label(cpu_k)}): {fmt(r['ferry_ms'])} ms against "
                         f"ptp's {fmt(r['ptp_ms'])} ms ({fmt(r['ferry_over_ptp'][0])} of ptp).")
    return md + lines + [""]
