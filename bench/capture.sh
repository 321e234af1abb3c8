#!/usr/bin/env bash
# What ferry capture costs: pod-to-pod TCP throughput on one node (iperf3, one
# stream, pinned CPUs) in the same run, round after round:
#   off       nobody captures (the mirror word is 0: the programs' only cost is testing it)
#   filtered  a capture of the sender whose filter matches nothing (--port 1):
#             every packet pays the filter, none is copied
#   capture   a capture of the sender that copies every packet (ferry capture -w /dev/null)
#   previous  (with --previous DIST) the agent of an earlier build, e.g. the commit before
#             issue 19, in the same namespaces: mirroring absent from the datapath
# Prints the medians and their ratios to off.
#
#   ./bench/capture.sh [--rounds N] [--seconds S] [--previous DIST_DIR]
# As root. Everything lives in namespaces ferrycap-*, pins under
# /sys/fs/bpf/ferry-bench-cap and one temporary directory, removed on exit.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

ROUNDS=5 SECONDS_EACH=5 PREVIOUS=""
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) ROUNDS=$2; shift ;;
    --seconds) SECONDS_EACH=$2; shift ;;
    --previous) PREVIOUS=$(readlink -f "$2"); shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "capture bench: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || { echo "capture bench: run as root" >&2; exit 1; }
[ -x dist/bin/ferry-agent ] || { echo "capture bench: build first (mvn -DskipTests package)" >&2; exit 1; }

NS=ferrycap PINS=/sys/fs/bpf/ferry-bench-cap
RUN_DIR=$(mktemp -d /tmp/ferry-capture-bench.XXXXXX)
AGENT_PID="" CAPTURE_PID=""
declare -A POD_IP

in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$NS-$ns" "$@"; }
stop() { [ -n "$1" ] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null || true; }

cleanup() {
  set +e
  stop "$CAPTURE_PID"; stop "$AGENT_PID"
  for ns in $(ip netns list | awk '{print $1}' | grep "^$NS-"); do ip netns del "$ns"; done
  rm -rf "$PINS" "$RUN_DIR"
}
trap cleanup EXIT INT TERM

start_agent() {   # DIST
  mkdir -p "$RUN_DIR/node"
  cat >"$RUN_DIR/node/ferry.yaml" <<CONF
nodeName: node
mode: standalone
podCIDRs: [10.89.1.0/24]
clusterCIDRs: [10.89.0.0/16]
uplinks: [wire]
socket: $RUN_DIR/node/ferry.sock
stateDir: $RUN_DIR/node/state
bpffsRoot: $PINS
cniConfDir: $RUN_DIR/node/cni
metricsAddress: 127.0.0.1:9962
CONF
  nsenter --net="/run/netns/$NS-node" "$1/bin/ferry-agent" --config "$RUN_DIR/node/ferry.yaml" >>"$RUN_DIR/agent.log" 2>&1 &
  AGENT_PID=$!
  for _ in $(seq 600); do [ -f "$RUN_DIR/node/cni/05-ferry.conflist" ] && return 0; sleep 0.1; done
  echo "capture bench: the agent did not get ready" >&2; tail -n 20 "$RUN_DIR/agent.log" >&2; exit 1
}

add_pod() {   # NAME
  ip netns add "$NS-$1"; ip -n "$NS-$1" link set lo up
  local conf result
  conf=$(jq -c '{cniVersion, name} + .plugins[0]' "$RUN_DIR/node/cni/05-ferry.conflist")
  result=$(in_ns node env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND=ADD CNI_CONTAINERID="$1" \
    CNI_NETNS="/run/netns/$NS-$1" CNI_IFNAME=eth0 CNI_PATH="$PWD/dist/bin" \
    CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=$1" dist/bin/ferry-cni <<<"$conf")
  POD_IP[$1]=$(jq -r '.ips[0].address | split("/")[0]' <<<"$result")
}

throughput() {   # CASE ROUND: one iperf3 run pod1 -> pod2, Gbit/s
  in_ns pod2 taskset -c 1 iperf3 --server --one-off -p 5201 >/dev/null 2>&1 &
  local server=$!
  for _ in $(seq 100); do [ -n "$(in_ns pod2 ss -Hltn 'sport = :5201')" ] && break; sleep 0.05; done
  local gbps
  gbps=$(in_ns pod1 taskset -c 0 iperf3 -c "${POD_IP[pod2]}" -p 5201 -t "$SECONDS_EACH" -O 1 -J \
    | jq '.end.sum_received.bits_per_second / 1e9')
  wait "$server" 2>/dev/null || true
  echo "$1 $2 $gbps" >>"$RUN_DIR/samples"
  printf '   round %s %-9s %6.2f Gbit/s\n' "$2" "$1" "$gbps"
}

with_capture() {   # CASE ROUND CAPTURE-ARGS...
  local case=$1 round=$2; shift 2
  dist/bin/ferry --socket "$RUN_DIR/node/ferry.sock" capture pod1 -w /dev/null "$@" 2>>"$RUN_DIR/capture.log" &
  CAPTURE_PID=$!
  for _ in $(seq 600); do capturing && break; sleep 0.05; done
  capturing || { echo "capture bench: the capture did not start" >&2; cat "$RUN_DIR/capture.log" >&2; exit 1; }
  local before after
  before=$(copies)
  throughput "$case" "$round"
  after=$(copies)
  printf '   round %s %-9s %s copies made\n' "$round" "$case" "$((after - before))"
  stop "$CAPTURE_PID"; CAPTURE_PID=""
  # The agent turns the capture off once it sees the CLI gone: the next case starts without it.
  for _ in $(seq 600); do capturing || break; sleep 0.05; done
}

# One capture at a time, each started after the one before is gone: it always takes slot 0.
capturing() { in_ns node ip link show fcap0 >/dev/null 2>&1; }

copies() { in_ns node curl -sf http://127.0.0.1:9962/metrics | awk '/^ferry_capture_packets_total/ {printf "%d", $2}'; }

setup() {   # DIST
  ip netns add "$NS-node"; ip -n "$NS-node" link set lo up
  ip -n "$NS-node" link add wire type veth peer name wirep
  ip -n "$NS-node" address add 192.168.89.1/24 dev wire
  ip -n "$NS-node" link set wire up; ip -n "$NS-node" link set wirep up
  start_agent "$1"
  add_pod pod1; add_pod pod2
}

teardown() {
  stop "$AGENT_PID"; AGENT_PID=""
  for ns in $(ip netns list | awk '{print $1}' | grep "^$NS-"); do ip netns del "$ns"; done
  rm -rf "$PINS" "$RUN_DIR/node"
}

echo "== pod1 -> pod2 on one node, $ROUNDS rounds of $SECONDS_EACH s per case"
if [ -n "$PREVIOUS" ]; then
  setup "$PREVIOUS"
  for r in $(seq "$ROUNDS"); do throughput previous "$r"; done
  teardown
fi
setup "$PWD/dist"
run_case() {   # CASE ROUND
  case $1 in
    off) throughput off "$2" ;;
    filtered) with_capture filtered "$2" --port 1 ;;
    capture) with_capture capture "$2" ;;
  esac
}
# The order rotates from round to round: no case always runs first or last, when the machine's load drifts.
CASES=(off filtered capture)
for r in $(seq "$ROUNDS"); do
  for i in 0 1 2; do run_case "${CASES[$(( (i + r - 1) % 3 ))]}" "$r"; done
done

python3 - "$RUN_DIR/samples" <<'PY'
import statistics, sys
by = {}
for line in open(sys.argv[1]):
    case, _, value = line.split()
    by.setdefault(case, []).append(float(value))
off = statistics.median(by["off"])
print("\ncase       median Gbit/s   ratio to off")
for case in ("previous", "off", "filtered", "capture"):
    if case in by:
        m = statistics.median(by[case])
        print(f"{case:<10} {m:>13.2f}   {m / off:>12.2f}")
PY
