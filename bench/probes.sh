#!/usr/bin/env bash
# The liveness probe under a scrape flood (issue 15, point 3): the real
# dist/bin/ferry-agent in standalone mode with 250 endpoints (real ADDs through
# dist/bin/ferry-cni, each pod's counters moved by one ping so that every
# per-pod series exists), /healthz probed the kubelet's way (fresh connection,
# 5 s timeout) with nothing else going on and then while 50 keep-alive clients
# scrape /metrics in a loop, side by side.
#
#   ./bench/probes.sh                  # writes bench/results/probes.json and probes.md
#   ./bench/probes.sh --dist DIR --out bench/results/probes-before   # another build's dist/ (an older commit's)
#   ./bench/probes.sh --pods N --clients N --probes N   # probes per case (400; an old build needs
#                                                        # fewer: each of its flooded probes takes seconds)
# As root; anyone else is asked for sudo, which re-runs it.
#
# Everything lives in namespaces named ferryprobe-*, pins under
# /sys/fs/bpf/ferry-probe-* and one temporary directory; all of it is removed
# on exit, CTRL-C or failure; the agent is stopped by its PID.
set -euo pipefail
FERRY_SCRIPT=$(readlink -f "$0")
cd "$(dirname "$FERRY_SCRIPT")/.."
FERRY_EXTRA_PACKAGES=(python3 util-linux)
source scripts/setup.sh "$@"

DIST=dist PODS=250 CLIENTS=50 PROBES=400 OUT=bench/results/probes
while [ $# -gt 0 ]; do
  case $1 in
    --dist) DIST=$2; shift ;;
    --out) OUT=$2; shift ;;
    --pods) PODS=$2; shift ;;
    --clients) CLIENTS=$2; shift ;;
    --probes) PROBES=$2; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "probes: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
DIST=$(readlink -f "$DIST")
[ -x "$DIST/bin/ferry-agent" ] && [ -x "$DIST/bin/ferry-cni" ] \
  || { echo "probes: no $DIST/bin/ferry-agent and ferry-cni: build with mvn -DskipTests package" >&2; exit 1; }

readonly NS=ferryprobe NODE=ferryprobe-node PIN=/sys/fs/bpf/ferry-probe-node
readonly POD_CIDR=10.89.0.0/22 PORT=9962
run_dir="" agent_pid=""

step() { printf '\n== %s  (%s)\n' "$*" "$(date +%T)"; }
say()  { printf '   %s\n' "$*"; }
die()  { printf '\nferry probes: %s\n' "$*" >&2; exit 1; }
in_node() { nsenter --net="/run/netns/$NODE" "$@"; }

cleanup() {
  local status=$? ns
  set +e
  trap - EXIT INT TERM
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
    kill -TERM "$agent_pid"
    for _ in $(seq 100); do kill -0 "$agent_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$agent_pid" 2>/dev/null && kill -KILL "$agent_pid"
    wait "$agent_pid" 2>/dev/null
  fi
  [ "$status" -ne 0 ] && [ -n "$run_dir" ] && [ -s "$run_dir/agent.log" ] && tail -n 20 "$run_dir/agent.log" >&2
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NS-" || true); do ip netns del "$ns"; done
  rm -rf "$PIN"
  [ -n "$run_dir" ] && rm -rf "$run_dir"
  if ip netns list | grep -q "^$NS-" || [ -e "$PIN" ]; then
    echo "ferry probes: could not remove everything" >&2; exit 1
  fi
  echo "   cleaned up: no $NS-* namespace, no ferry-probe-* pin, no process or temporary file of the run is left."
  exit "$status"
}
trap cleanup EXIT INT TERM

run_dir=$(mktemp -d /tmp/ferryprobe.XXXXXX)
ip netns list | grep -q "^$NS-" && die "namespaces $NS-* exist from an earlier run; remove them first"

step "A node namespace and the agent ($DIST/bin/ferry-agent)"
ip netns add "$NODE"; ip -n "$NODE" link set lo up
ip -n "$NODE" link add wire type veth peer name wire-peer   # an uplink with no one behind it
ip -n "$NODE" link set wire up; ip -n "$NODE" link set wire-peer up
cat >"$run_dir/ferry.yaml" <<EOF
nodeName: probe-node
mode: standalone
podCIDRs: [$POD_CIDR]
clusterCIDRs: [10.89.0.0/16]
uplinks: [wire]
socket: $run_dir/ferry.sock
stateDir: $run_dir/state
bpffsRoot: $PIN
cniConfDir: $run_dir/cni
metricsAddress: 127.0.0.1:$PORT
EOF
nsenter --net="/run/netns/$NODE" "$DIST/bin/ferry-agent" --config "$run_dir/ferry.yaml" >>"$run_dir/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 600); do
  kill -0 "$agent_pid" 2>/dev/null || die "the agent exited during start"
  [ -f "$run_dir/cni/05-ferry.conflist" ] && break
  sleep 0.1
done
[ -f "$run_dir/cni/05-ferry.conflist" ] || die "the agent did not write its conflist within 60 s"
say "agent $agent_pid ready"

step "$PODS pods through $DIST/bin/ferry-cni, one ping each"
for i in $(seq "$PODS"); do ip netns add "$NS-pod-$i"; done
netconf=$(jq -c '{cniVersion, name} + .plugins[0]' "$run_dir/cni/05-ferry.conflist")
in_node python3 bench/cni_load.py --plugin "$DIST/bin/ferry-cni" --cni-path "$DIST/bin" --netconf "$netconf" \
  --netns-prefix "/run/netns/$NS-pod-" --id-prefix "$NS-" --pods "$PODS" --concurrency 8 --add-only \
  --side ferry --round 0 >/dev/null || die "adding pods failed"
# A pod's series exist once its counters move: one packet each, to the gateway every pod has.
seq "$PODS" | xargs -P 8 -I{} ip netns exec "$NS-pod-{}" ping -c 1 -W 1 169.254.1.1 >/dev/null || true
series=$(in_node curl -s "http://127.0.0.1:$PORT/metrics" | grep -c '^ferry_endpoint_packets_total{' || true)
bytes=$(in_node curl -s "http://127.0.0.1:$PORT/metrics" | wc -c)
say "$series ferry_endpoint_packets_total series; an exposition is $((bytes / 1024)) KiB"

step "/healthz alone, then under $CLIENTS keep-alive scrapers"
result=$(in_node python3 bench/probes.py --port "$PORT" --clients "$CLIENTS" --probes "$PROBES")
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dist_label=dist/
# An older build: say so, not this checkout's commit; and no machine path in the record.
[ "$DIST" = "$PWD/dist" ] || { commit="another build (--dist)"; dist_label="--dist"; }
jq -n --argjson r "$result" --arg commit "$commit" --arg dist "$dist_label" --argjson pods "$PODS" \
  --argjson series "$series" --argjson bytes "$bytes" --arg kernel "$(uname -r)" --argjson cpus "$(nproc)" \
  --arg date "$(date -u +%FT%TZ)" \
  '{date: $date, commit: $commit, dist: $dist, kernel: $kernel, cpus: $cpus, pods: $pods,
    endpoint_series: $series, exposition_bytes: $bytes} + $r' >"$OUT.json"
jq -r '"| case | probes | answered | failed or timed out (5 s) | p50 ms | p99 ms | max ms |",
       "| --- | --- | --- | --- | --- | --- | --- |",
       "| idle | \(.idle.probes) | \(.idle.answered) | \(.idle.timeouts) | \(.idle.p50_ms) | \(.idle.p99_ms) | \(.idle.max_ms) |",
       "| \(.clients) scrapers | \(.flood.probes) | \(.flood.answered) | \(.flood.timeouts) | \(.flood.p50_ms) | \(.flood.p99_ms) | \(.flood.max_ms) |",
       "",
       "\(.pods) endpoints, \(.endpoint_series) ferry_endpoint_packets_total series, \(.exposition_bytes / 1024 | floor) KiB per scrape; the flood got \(.scrapes) scrapes answered (\(.scrapes_per_s)/s). Commit \(.commit), \(.date), kernel \(.kernel), \(.cpus) CPUs."' \
  "$OUT.json" | tee "$OUT.md"
