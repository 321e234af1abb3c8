#!/usr/bin/env bash
# What a flood of drops does to ferry monitor and to the node, with real packets:
# pod0 sends spoofed UDP as fast as bpf/test/flood.c gets it onto its veth (AF_PACKET,
# PACKET_QDISC_BYPASS, sendmmsg), every frame dropped by from_pod as spoofed_source,
# while pod1 sends TCP to pod2 (iperf3, one stream, pinned CPUs). In one run,
# round after round, in an order that rotates:
#   quiet     no flood, no monitor: pod1 -> pod2 alone
#   flood     the flood with `ferry monitor --verdict drop -o json` attached: each drop
#             goes to the per-CPU rate limit, which emits or suppresses an event
#   unwatched the flood with no monitor client: the programs build no events
# Prints per case the median pod1 -> pod2 throughput and its ratio to quiet, and
# for the flood cases the frames sent per second, the drops the datapath counted
# per second (drop events), and the monitor's emitted, suppressed and delivered
# (lines the CLI printed) events per second.
#
#   ./bench/monitor-flood.sh [--rounds N] [--seconds S] [--threads T]
# As root, after a build (dist/). Everything lives in namespaces ferryflood-*, pins
# under /sys/fs/bpf/ferry-bench-flood and one temporary directory, removed on exit.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

ROUNDS=3 SECONDS_EACH=5 THREADS=2
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) ROUNDS=$2; shift ;;
    --seconds) SECONDS_EACH=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "monitor-flood bench: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
for v in "$ROUNDS" "$SECONDS_EACH" "$THREADS"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "monitor-flood bench: --rounds, --seconds and --threads take a whole number above 0, not '$v'" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "monitor-flood bench: run as root" >&2; exit 1; }
[ -x dist/bin/ferry-agent ] || { echo "monitor-flood bench: build first (mvn -DskipTests package)" >&2; exit 1; }

NS=ferryflood PINS=/sys/fs/bpf/ferry-bench-flood SPOOFED=10.91.1.250 PORT=7500
RUN_DIR=$(mktemp -d /tmp/ferry-flood-bench.XXXXXX)
AGENT_PID="" MONITOR_PID="" FLOOD_PID=""
declare -A POD_IP

in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$NS-$ns" "$@"; }
# For what runs in the background and is stopped by its PID: exec, so that the PID is the process's own
# (a function run with & is a subshell, and killing it would leave its child running).
in_ns_exec() { local ns=$1; shift; exec nsenter --net="/run/netns/$NS-$ns" "$@"; }
stop() { [ -n "$1" ] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null || true; }

cleanup() {
  set +e
  stop "$FLOOD_PID"; stop "$MONITOR_PID"; stop "$AGENT_PID"
  for ns in $(ip netns list | awk '{print $1}' | grep "^$NS-"); do ip netns del "$ns"; done
  rm -rf "$PINS" "$RUN_DIR"
}
trap cleanup EXIT INT TERM

cc -O2 -Wall -Werror -pthread -o "$RUN_DIR/flood" bpf/test/flood.c

start_agent() {
  mkdir -p "$RUN_DIR/node"
  cat >"$RUN_DIR/node/ferry.yaml" <<CONF
nodeName: node
mode: standalone
podCIDRs: [10.91.1.0/24]
clusterCIDRs: [10.91.0.0/16]
uplinks: [wire]
socket: $RUN_DIR/node/ferry.sock
stateDir: $RUN_DIR/node/state
bpffsRoot: $PINS
cniConfDir: $RUN_DIR/node/cni
metricsAddress: 127.0.0.1:9962
CONF
  (in_ns_exec node dist/bin/ferry-agent --config "$RUN_DIR/node/ferry.yaml") >>"$RUN_DIR/agent.log" 2>&1 &
  AGENT_PID=$!
  for _ in $(seq 600); do [ -f "$RUN_DIR/node/cni/05-ferry.conflist" ] && return 0; sleep 0.1; done
  echo "monitor-flood bench: the agent did not get ready" >&2; tail -n 20 "$RUN_DIR/agent.log" >&2; exit 1
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

# The counters this bench reads, summed over CPUs by the agent: "DROPS EMITTED SUPPRESSED".
# The agent reads the maps at most once a second, so callers wait a second after the flood ends.
counters() {
  in_ns node curl -sf http://127.0.0.1:9962/metrics | awk '
    /^ferry_datapath_packets_total\{/ && /reason="spoofed_source"/ { drops += $NF }
    /^ferry_monitor_events_emitted_total / { emitted = $NF }
    /^ferry_monitor_events_suppressed_total / { suppressed = $NF }
    END { printf "%d %d %d\n", drops, emitted, suppressed }'
}

throughput() {   # pod1 -> pod2 for SECONDS_EACH: Gbit/s
  in_ns pod2 taskset -c 1 iperf3 --server --one-off -p 5201 >/dev/null 2>&1 &
  local server=$!
  for _ in $(seq 100); do [ -n "$(in_ns pod2 ss -Hltn 'sport = :5201')" ] && break; sleep 0.05; done
  in_ns pod1 taskset -c 0 iperf3 -c "${POD_IP[pod2]}" -p 5201 -t "$SECONDS_EACH" -O 1 -J \
    | jq '.end.sum_received.bits_per_second / 1e9'
  wait "$server" 2>/dev/null || true
}

quiet() {   # ROUND
  local gbps; gbps=$(throughput)
  echo "quiet $1 $gbps - - - - -" >>"$RUN_DIR/samples"
  printf '   round %s %-9s %6.2f Gbit/s\n' "$1" quiet "$gbps"
}

flooded() {   # CASE ROUND
  local case=$1 round=$2 lines=0
  if [ "$case" = flood ]; then
    dist/bin/ferry --socket "$RUN_DIR/node/ferry.sock" monitor --verdict drop -o json >"$RUN_DIR/monitor.out" 2>>"$RUN_DIR/monitor.err" &
    MONITOR_PID=$!
    for _ in $(seq 600); do grep -q '"attached"' "$RUN_DIR/monitor.out" 2>/dev/null && break; sleep 0.05; done
    grep -q '"attached"' "$RUN_DIR/monitor.out" || { echo "monitor-flood bench: ferry monitor did not attach" >&2; cat "$RUN_DIR/monitor.err" >&2; exit 1; }
  fi
  sleep 1.1   # the agent's metrics are at most a second old: these are from after the monitor attached
  local before; before=$(counters)
  # Longer than iperf3 runs: stopped below (SIGTERM), when it prints what it sent.
  (in_ns_exec pod0 "$RUN_DIR/flood" eth0 "$SPOOFED" "${POD_IP[pod2]}" "$PORT" 3600 "$THREADS") >"$RUN_DIR/flood.out" 2>"$RUN_DIR/flood.err" &
  FLOOD_PID=$!
  local gbps; gbps=$(throughput)
  stop "$FLOOD_PID"; FLOOD_PID=""
  [ -s "$RUN_DIR/flood.out" ] || { echo "monitor-flood bench: the flood failed: $(cat "$RUN_DIR/flood.err")" >&2; exit 1; }
  if [ -n "$MONITOR_PID" ]; then
    sleep 0.5   # what the reader still held reaches the CLI
    lines=$(grep -c '"type":"event"' "$RUN_DIR/monitor.out" || true)
    stop "$MONITOR_PID"; MONITOR_PID=""
  fi
  sleep 1.1
  local after; after=$(counters)
  local seconds sent
  seconds=$(jq '.seconds' "$RUN_DIR/flood.out"); sent=$(jq '.sent' "$RUN_DIR/flood.out")
  read -r d0 e0 s0 <<<"$before"; read -r d1 e1 s1 <<<"$after"
  echo "$case $round $gbps $seconds $sent $((d1 - d0)) $((e1 - e0)) $((s1 - s0)) $lines" >>"$RUN_DIR/samples"
  printf '   round %s %-9s %6.2f Gbit/s; %s frames in %s s, %s drops counted, events: %s emitted, %s suppressed, %s delivered\n' \
    "$round" "$case" "$gbps" "$sent" "$seconds" "$((d1 - d0))" "$((e1 - e0))" "$((s1 - s0))" "$lines"
}

ip netns add "$NS-node"; ip -n "$NS-node" link set lo up
ip -n "$NS-node" link add wire type veth peer name wirep
ip -n "$NS-node" address add 192.168.91.1/24 dev wire
ip -n "$NS-node" link set wire up; ip -n "$NS-node" link set wirep up
start_agent
add_pod pod0; add_pod pod1; add_pod pod2

echo "== pod1 -> pod2 on one node while pod0 floods ($THREADS threads), $ROUNDS rounds of $SECONDS_EACH s per case; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
run_case() {   # CASE ROUND
  case $1 in
    quiet) quiet "$2" ;;
    *) flooded "$1" "$2" ;;
  esac
}
# The order rotates from round to round: no case always runs first or last, when the machine's load drifts.
CASES=(quiet flood unwatched)
for r in $(seq "$ROUNDS"); do
  for i in 0 1 2; do run_case "${CASES[$(( (i + r - 1) % 3 ))]}" "$r"; done
done
echo "   load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$RUN_DIR/samples" <<'PY'
import statistics, sys
by = {}
for line in open(sys.argv[1]):
    f = line.split()
    by.setdefault(f[0], []).append(f[2:])
quiet = statistics.median([float(s[0]) for s in by["quiet"]])

def show(values, digits):
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"

print("\nmedians over the rounds (lowest-highest round); rates per second of flood")
print(f"{'case':<10} {'pod1->pod2 Gbit/s':<20} {'ratio':>5}  {'frames/s':<24} {'drop events/s':<24} "
      f"{'emitted/s':<18} {'suppressed/s':<24} delivered/s")
for case in ("quiet", "flood", "unwatched"):
    rows = by.get(case, [])
    if not rows:
        continue
    gbps = [float(s[0]) for s in rows]
    line = f"{case:<10} {show(gbps, 2):<20} {statistics.median(gbps) / quiet:>5.2f}"
    if case != "quiet":
        rate = lambda i: [float(s[i]) / float(s[1]) for s in rows]
        line += f"  {show(rate(2), 0):<24} {show(rate(3), 0):<24} {show(rate(4), 0):<18} {show(rate(5), 0):<24} {show(rate(6), 0)}"
    print(line)
PY
