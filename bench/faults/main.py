#!/usr/bin/env python3
"""The fault campaign's driver (bench/faults.sh starts it as root, with dist/ built):

  main.py --run-dir DIR [--quick] [--only agent-kill,cni-kill,traffic,malformed,kube] [--seed N]

Runs each scenario in namespaces of its own, removes them after it, prints the
table, writes the record (docs/reliability.md for a full run of every scenario,
bench/results/quick-faults.md otherwise, each with its .json) and exits 1 when
any check failed or a scenario could not finish; the record is written first.
"""
import argparse
import os
import platform
import random
import signal
import subprocess
import sys
import time
import traceback

import kill_agent
import kill_cni
import kube
import malformed
import runtime
import traffic
from lab import REPO, Lab, Pids
from report import Scenario, console_table, markdown, to_json

SCENARIOS = {m.KEY: m for m in (kill_agent, kill_cni, traffic, malformed, kube)}

API_OUTAGES = """
Not a scenario of this command: the agent's behaviour during API server outages is proven by the
Java tests against fabric8's mock API server, run by `./scripts/test.sh`:

- `AgentKubernetesTest.anApiOutageKeepsForwardingAndDelWorkingAndTheAgentResyncsWhenTheServerReturns`:
  with the API server stopped, the agent turns not ready, pods keep forwarding (ping and a TCP
  transfer between two pods), no route and no cluster CIDR changes, and a CNI DEL runs in the agent
  (not spooled); when a new server answers, the informers list afresh, the agent is ready again and
  ADD is served.
- `AgentKubernetesTest.anAgentRestartedDuringAnOutageServesDelAtOnceFromThePersistedPodCidr`: an
  agent started while the API server is down is not ready but serves DEL at once from the pod CIDR
  persisted in `stateDir/pod-cidr`, and becomes ready when the server returns.
- `AgentKubernetesTest.watchEventsApiErrorsAndTheApiCallsRetryAndBreakerAreMetrics`: watch events,
  API errors, resilience4j's retries and its circuit breaker are exported as metrics.
- `AgentKubernetesScaleTest.aThousandNodesAreRoutedAndOneNodesChangeRewritesOnlyItsRoute` and
  `AgentKubernetesTwoNodesTest` cover the node informer's scale and cross-node routing.

Malformed Kubernetes objects (bad CIDRs and addresses, off-link nodes, more Nodes than the
cluster-CIDR map holds) are the `kube` scenario above, against the same mock server run as a
process of the campaign.
"""


def machine(args, seconds, load_start):
    def out(*argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, cwd=REPO).stdout.strip()
        except OSError:
            return "?"
    commit = out("git", "rev-parse", "--short", "HEAD")
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", ".", ":!docs/reliability.md", ":!bench/results"],
                           cwd=REPO).returncode != 0
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "commit": commit + ("+dirty" if dirty else ""),
            "kernel": platform.release(), "cores": os.cpu_count(), "cpu": cpu, "quick": args.quick,
            "only": args.only, "seed": args.seed, "seconds": seconds,
            # Other work on the machine slows agent starts and ADDs: the record says how busy it was.
            "load": f"{load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end (1-minute load average)"}


def run_scenario(module, args, pids, index):
    print(f"\n== {module.TITLE}  ({time.strftime('%H:%M:%S')})", flush=True)
    lab = Lab(args.run_dir, pids)
    started = time.monotonic()
    try:
        result = module.run(lab, args.quick, args.seed + index)
    except Exception as e:
        traceback.print_exc()
        result = Scenario(module.KEY, module.TITLE, module.WHAT, error=f"{type(e).__name__}: {e}")
    finally:
        lab.teardown()
    result.seconds = time.monotonic() - started
    bad = result.failures()
    print(f"   {'harness error: ' + result.error if result.error else ''}"
          f"{sum(c.ok for c in result.checks)}/{len(result.checks)} checks held, {result.seconds:.0f} s", flush=True)
    for c in bad:
        print(f"   ✗ {c.name}: expected {c.expected}; got {c.actual}", flush=True)
    return result


def stop(signum, _frame):
    """SIGTERM (bench/faults.sh's clean-up) or CTRL-C: end retry loops, unwind, let each lab tear down."""
    runtime.STOP.set()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)   # one signal is enough: the second would cut the teardown short
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def main():
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    p = argparse.ArgumentParser()
    p.add_argument("--run-dir", required=True)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", default=",".join(SCENARIOS))
    p.add_argument("--seed", type=int, default=None)
    args = p.parse_args()
    args.only = [k for k in args.only.split(",") if k]
    unknown = [k for k in args.only if k not in SCENARIOS]
    if unknown:
        print(f"faults: unknown scenario {', '.join(unknown)} (known: {', '.join(SCENARIOS)})", file=sys.stderr)
        return 2
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 30)
    print(f"faults: {'quick' if args.quick else 'full'} run of {', '.join(args.only)}, seed {args.seed}", flush=True)

    pids = Pids(os.path.join(args.run_dir, "pids"))
    started, load_start = time.monotonic(), os.getloadavg()[0]
    results = [run_scenario(SCENARIOS[k], args, pids, i) for i, k in enumerate(args.only)]
    meta = machine(args, time.monotonic() - started, load_start)

    full = not args.quick and args.only == list(SCENARIOS)
    # Only a full run of every scenario is the record; the others go where git ignores them (bench/.gitignore).
    md_path = REPO / ("docs/reliability.md" if full else "bench/results/quick-faults.md")
    json_path = REPO / ("bench/results/faults.json" if full else "bench/results/quick-faults.json")
    md_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text(markdown(meta, results, [("API server outages", API_OUTAGES)]))
    json_path.write_text(to_json(meta, results))
    print(console_table(results))
    print(f"\nrecord: {md_path.relative_to(REPO)} and {json_path.relative_to(REPO)} ({meta['seconds']:.0f} s)")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
