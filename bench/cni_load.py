#!/usr/bin/env python3
"""Drives a CNI plugin binary the way a container runtime does: ADD for N pods,
then DEL for the same pods, at a given concurrency, timing every exec.

Runs in the node's network namespace (bench/run.sh starts it under nsenter);
the pod namespaces /run/netns/<prefix>1..N must exist. Prints one JSON sample
per line on stdout (the format bench/stats.py reads):
  cni_add / cni_del  case c<concurrency>: milliseconds of one plugin exec
  cni_rate           case add_c<n> / del_c<n>: pods per second over the batch
"""
import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def run(args, command, index):
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": f"{args.id_prefix}{index}",
        "CNI_NETNS": f"{args.netns_prefix}{index}",
        "CNI_IFNAME": "eth0",
        "CNI_PATH": args.cni_path,
        "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=pod-{index}",
    }
    start = time.perf_counter_ns()
    done = subprocess.run([args.plugin], input=args.netconf.encode(), env=env, capture_output=True)
    ms = (time.perf_counter_ns() - start) / 1e6
    if done.returncode != 0:
        raise RuntimeError(f"{command} of pod {index} failed ({done.returncode}): "
                           f"{done.stdout.decode()[:300]} {done.stderr.decode()[:300]}")
    return ms


def batch(args, command, indexes):
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        latencies = list(pool.map(lambda i: run(args, command, i), indexes))
    return latencies, len(indexes) / (time.perf_counter() - start)


def emit(figure, case, side, rnd, value, unit):
    print(json.dumps({"figure": figure, "case": case, "side": side, "load": "none",
                      "round": rnd, "value": round(value, 3), "unit": unit}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--plugin", required=True)
    p.add_argument("--cni-path", required=True)
    p.add_argument("--netconf", required=True)
    p.add_argument("--netns-prefix", required=True)
    p.add_argument("--id-prefix", required=True)
    p.add_argument("--pods", type=int, required=True, help="last pod index")
    p.add_argument("--first", type=int, default=1)
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--add-only", action="store_true")
    p.add_argument("--side", required=True)
    p.add_argument("--round", type=int, required=True)
    args = p.parse_args()

    indexes = list(range(args.first, args.pods + 1))
    c = f"c{args.concurrency}"
    adds, add_rate = batch(args, "ADD", indexes)
    for ms in adds:
        emit("cni_add", c, args.side, args.round, ms, "ms")
    emit("cni_rate", f"add_{c}", args.side, args.round, add_rate, "pods/s")
    if args.add_only:
        return 0
    dels, del_rate = batch(args, "DEL", indexes)
    for ms in dels:
        emit("cni_del", c, args.side, args.round, ms, "ms")
    emit("cni_rate", f"del_{c}", args.side, args.round, del_rate, "pods/s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as e:
        print(f"cni_load: {e}", file=sys.stderr)
        sys.exit(1)
