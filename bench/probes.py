#!/usr/bin/env python3
"""The kubelet's view of the agent's metrics port while scrapers flood it.

Probes GET /healthz the way the kubelet does (a fresh connection each, 5 s
timeout), first with nothing else going on, then while --clients keep-alive
clients scrape /metrics in a loop (in processes of their own, so that the
driver's GIL does not slow the probes). Prints one JSON object: the probe
latencies of both phases (p50, p99, max, timeouts), the scrapes answered and
the flood's rate. Python 3 stdlib only.
"""
import argparse
import http.client
import json
import multiprocessing
import statistics
import time

PROBE_TIMEOUT_S = 5.0  # the DaemonSet's livenessProbe.timeoutSeconds


def probe(host, port):
    """Milliseconds to a complete /healthz answer on a fresh connection; None on timeout or error."""
    start = time.perf_counter()
    try:
        conn = http.client.HTTPConnection(host, port, timeout=PROBE_TIMEOUT_S)
        conn.request("GET", "/healthz", headers={"Connection": "close"})
        r = conn.getresponse()
        r.read()
        conn.close()
        if r.status != 200:
            return None
    except OSError:
        return None
    return (time.perf_counter() - start) * 1000


def probes(host, port, count, gap_s):
    latencies, failed = [], 0
    for _ in range(count):
        ms = probe(host, port)
        if ms is None:
            failed += 1
        else:
            latencies.append(ms)
        time.sleep(gap_s)
    return latencies, failed


def scraper(host, port, stop, counter):
    """One keep-alive connection, scrape after scrape, until told to stop."""
    conn = http.client.HTTPConnection(host, port, timeout=60)
    done = 0
    while not stop.is_set():
        try:
            conn.request("GET", "/metrics")
            r = conn.getresponse()
            r.read()
            if r.status == 200:
                done += 1
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=60)
    conn.close()
    with counter.get_lock():
        counter.value += done


def summary(latencies, failed):
    # A probe that timed out counts as the timeout: the kubelet saw a failure, not a missing sample.
    ordered = sorted(latencies + [PROBE_TIMEOUT_S * 1000] * failed)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return {"probes": len(ordered), "answered": len(latencies), "timeouts": failed,
            "p50_ms": round(statistics.median(ordered), 2), "p99_ms": round(p99, 2), "max_ms": round(ordered[-1], 2)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9962)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--probes", type=int, default=400)
    p.add_argument("--gap-ms", type=float, default=20)
    p.add_argument("--warmup-s", type=float, default=3)
    a = p.parse_args()

    idle = summary(*probes(a.host, a.port, a.probes, a.gap_ms / 1000))

    stop = multiprocessing.Event()
    counter = multiprocessing.Value("l", 0)
    # daemon: a driver stopped half-way takes its scrapers with it.
    flood = [multiprocessing.Process(target=scraper, args=(a.host, a.port, stop, counter), daemon=True)
             for _ in range(a.clients)]
    for f in flood:
        f.start()
    time.sleep(a.warmup_s)  # every client connected and scraping before the first probe
    start = time.perf_counter()
    loaded = summary(*probes(a.host, a.port, a.probes, a.gap_ms / 1000))
    seconds = time.perf_counter() - start
    stop.set()
    for f in flood:
        f.join(120)
    print(json.dumps({"idle": idle, "flood": loaded, "clients": a.clients,
                      "scrapes": counter.value, "scrapes_per_s": round(counter.value / (seconds + a.warmup_s), 1)}))


if __name__ == "__main__":
    main()
