#!/usr/bin/env bash
# Ferry's benchmark: Ferry's datapath against the reference `ptp` CNI plugin
# (routing through the host stack) and against the limit (one veth pair), on
# this machine, and the control plane's costs (CNI ADD/DEL, agent memory, start,
# scrape) and the FFM map bindings (JMH).
#
#   ./bench/run.sh            # the full run (~30 min); writes docs/benchmarks.md
#   ./bench/run.sh --quick    # a short run for development; writes bench/results/quick.*
#   ./bench/run.sh --only tput,rr,reuse,conn,cni,agent,jmh,profile   # a subset (with --quick or not)
#   FERRY_BENCH_NS=name FERRY_BENCH_PINS=name ./bench/run.sh   # other names, beside a run that uses the defaults
# As root; anyone else is asked for sudo, which re-runs it.
#
# Bash drives processes and namespaces; bench/stats.py (python3 stdlib) turns
# the raw samples into bench/results/*.json and the Markdown report. Everything
# lives in namespaces named ferrybench-*, pins under /sys/fs/bpf/ferry-bench-*
# and one temporary directory; all of it is removed on exit, CTRL-C or failure.
set -euo pipefail
FERRY_SCRIPT=$(readlink -f "$0")   # what setup.sh re-runs with sudo when not root
cd "$(dirname "$FERRY_SCRIPT")/.."
FERRY_EXTRA_PACKAGES=(containernetworking-plugins util-linux linux-perf)
source scripts/setup.sh "$@"

# ---------------------------------------------------------------------------
# Options

QUICK=0
ONLY="tput,rr,reuse,conn,cni,agent,jmh,profile"
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1 ;;
    --only) ONLY=$2; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "bench: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
wants() { [[ ",$ONLY," == *",$1,"* ]]; }

if [ "$QUICK" -eq 1 ]; then
  ROUNDS=2 TPUT_SECONDS=1 RR_SECONDS=1 REUSE_SECONDS=1 CNI_PODS=10 SCRAPES=30 STARTS=2 RSS_STEPS=(0 10 25)
  JMH_ARGS=(-f 1 -wi 1 -w 1s -i 2 -r 1s)
  OUT=bench/results/quick REPORT=bench/results/quick.md
else
  ROUNDS=6 TPUT_SECONDS=3 RR_SECONDS=3 REUSE_SECONDS=3 CNI_PODS=25 SCRAPES=50 STARTS=5 RSS_STEPS=(0 100 250)
  JMH_ARGS=(-f 1 -wi 3 -w 2s -i 5 -r 2s)
  OUT=bench/results/latest REPORT=docs/benchmarks.md
fi
readonly CLIENT_CPU=0 SERVER_CPU=1
readonly KP_RULES=2000                    # kube-proxy-like DNAT rules in the netfilter load

# ---------------------------------------------------------------------------
# The picture: one pair of node namespaces per datapath, same shape for each.
#   f: Ferry (agents + ferry-cni)   p: ptp + host-local   l: the limit (one veth pair)
#   r: a lone Ferry node for the agent's own costs (start, memory, scrape)
#   c: a lone IPv4-only Ferry node for the CNI figure (4), which compares IPv4 ADDs with ptp's
# Nodes f and p are dual stack: every pod has an IPv4 and an IPv6 address, and
# figures 1 and 2 measure both families on the same pods.

readonly NS=${FERRY_BENCH_NS:-ferrybench}
readonly PIN_PREFIX=/sys/fs/bpf/${FERRY_BENCH_PINS:-ferry-bench}
declare -A POD_CIDR=([f-a]=10.88.16.0/20 [f-b]=10.88.32.0/20 [p-a]=10.88.48.0/20 [p-b]=10.88.64.0/20 [r-a]=10.88.128.0/20
                     [c-a]=10.88.144.0/20)
declare -A POD_CIDR6=([f-a]=fd00:88:16::/64 [f-b]=fd00:88:32::/64 [p-a]=fd00:88:48::/64 [p-b]=fd00:88:64::/64)
declare -A WIRE_ADDR=([f-a]=192.168.88.1 [f-b]=192.168.88.2 [p-a]=192.168.88.11 [p-b]=192.168.88.12)
declare -A WIRE_ADDR6=([f-a]=fd88:ffff::1 [f-b]=fd88:ffff::2 [p-a]=fd88:ffff::11 [p-b]=fd88:ffff::12)
readonly CLUSTER_CIDRS="10.88.0.0/16, fd00:88::/32"
readonly LIMIT_ADDR=(10.88.255.1 10.88.255.2) LIMIT_ADDR6=(fd88:fffe::1 fd88:fffe::2)
readonly FAMILIES=(v4 v6)
readonly RR_PORT=11111
readonly CNI_BIN=/usr/lib/cni

run_dir=""
declare -A AGENT_PID=() POD_IP=() POD_IP6=() HELPERS=()
SAMPLES=""

if [ -t 1 ]; then bold=$'\033[1m' red=$'\033[31m' plain=$'\033[0m'; else bold="" red="" plain=""; fi
step() { printf '\n%s== %s%s  (%s)\n' "$bold" "$*" "$plain" "$(date +%T)"; }
say()  { printf '   %s\n' "$*"; }
die()  { printf '\n%sferry bench: %s%s\n' "$red" "$*" "$plain" >&2; exit 1; }

in_ns()    { local ns=$1; shift; nsenter --net="/run/netns/$NS-$ns" "$@"; }
# For processes started in the background: nsenter, taskset and the launcher exec, so $! is the process itself.
netns()    { echo "--net=/run/netns/$NS-$1"; }
pins_dir() { echo "$PIN_PREFIX-$1"; }
socket()   { echo "$run_dir/$1/ferry.sock"; }
now_ns()   { date +%s%N; }

# One sample: figure, case, side, load, round, value, unit (stats.py reads these lines).
sample() {
  printf '{"figure":"%s","case":"%s","side":"%s","load":"%s","round":%s,"value":%s,"unit":"%s"}\n' "$@" >>"$SAMPLES"
}

# ---------------------------------------------------------------------------
# Clean-up: runs on every exit, CTRL-C included; kills only the PIDs it started.

stop_pid() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

stop_agent() {
  local node=$1 pid=${AGENT_PID[$1]:-}
  [ -n "$pid" ] || return 0
  unset "AGENT_PID[$node]"
  stop_pid "$pid"
}

ours_left() {
  { ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NS-" || true
    ls -d "$PIN_PREFIX"-* 2>/dev/null || true; } | tr '\n' ' '
}

remove_leftovers() {
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NS-" || true); do
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$PIN_PREFIX"-* 2>/dev/null || true
}

cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  local pid node
  for pid in "${!HELPERS[@]}"; do stop_pid "$pid"; done
  if [ "$status" -ne 0 ] && [ "$status" -ne 130 ] && [ -n "$run_dir" ]; then
    for node in "${!AGENT_PID[@]}"; do
      [ -s "$run_dir/$node/agent.log" ] || continue
      printf '\n--- last lines of the agent log of %s ---\n' "$node" >&2
      tail -n 20 "$run_dir/$node/agent.log" >&2
    done
  fi
  for node in "${!AGENT_PID[@]}"; do stop_agent "$node"; done
  remove_leftovers
  [ -n "$run_dir" ] && rm -rf "$run_dir"
  local left; left=$(ours_left)
  if [ -n "$left" ]; then
    echo "ferry bench: could not remove: $left" >&2
    [ "$status" -eq 0 ] && status=1
  else
    echo "   cleaned up: no $NS-* namespace, no $PIN_PREFIX-* pin, no process or temporary file of the bench is left."
  fi
  exit "$status"
}

# ---------------------------------------------------------------------------
# Building blocks

build() {
  if [ -x dist/bin/ferry-agent ] && [ -x dist/bin/ferry-cni ] && [ -f bench/jmh/target/ferry-bench-jmh.jar ]; then
    say "dist/ and bench/jmh/target are there; not building (delete dist/ to rebuild)"
    return 0
  fi
  step "Building Ferry into dist/ (mvn -DskipTests package)"
  mvn -B -ntp -q -DskipTests package >"$run_dir/build.log" 2>&1 || { tail -n 40 "$run_dir/build.log" >&2; die "the build failed"; }
}

add_ns() { ip netns add "$NS-$1"; ip -n "$NS-$1" link set lo up; }

make_node_pair() {
  local side=$1 a=$1-a b=$1-b
  add_ns "$a"; add_ns "$b"
  ip -n "$NS-$a" link add wire type veth peer name wire netns "$NS-$b"
  for n in "$a" "$b"; do
    ip -n "$NS-$n" address add "${WIRE_ADDR[$n]}/24" dev wire
    ip -n "$NS-$n" address add "${WIRE_ADDR6[$n]}/64" dev wire nodad   # nodad: usable at once
    ip -n "$NS-$n" link set wire up
  done
}

write_agent_config() {
  local node=$1 other=${2:-} dir="$run_dir/$1"
  mkdir -p "$dir"
  {
    echo "nodeName: $node"
    echo "mode: standalone"
    if [ -n "${POD_CIDR6[$node]:-}" ]; then
      echo "podCIDRs: [${POD_CIDR[$node]}, ${POD_CIDR6[$node]}]"
      echo "clusterCIDRs: [$CLUSTER_CIDRS]"
    else
      echo "podCIDRs: [${POD_CIDR[$node]}]"
      echo "clusterCIDRs: [10.88.0.0/16]"
    fi
    echo "uplinks: [wire]"
    if [ -n "$other" ]; then
      echo "peers:"
      echo "  - {name: $other, podCIDRs: [${POD_CIDR[$other]}, ${POD_CIDR6[$other]}], address: ${WIRE_ADDR[$other]}, address6: ${WIRE_ADDR6[$other]}}"
    fi
    echo "socket: $dir/ferry.sock"
    echo "stateDir: $dir/state"
    echo "bpffsRoot: $(pins_dir "$node")"
    echo "cniConfDir: $dir/cni"
    echo "metricsAddress: 127.0.0.1:9962"
    echo "attach: ${FERRY_BENCH_ATTACH:-tcx}"           # the shipped default; tc for experiments
  } >"$dir/ferry.yaml"
}

start_agent() {
  local node=$1
  nsenter "$(netns "$node")" dist/bin/ferry-agent --config "$run_dir/$node/ferry.yaml" >>"$run_dir/$node/agent.log" 2>&1 &
  AGENT_PID[$node]=$!
}

# Waits for /readyz 200 on the agent's metrics port; prints the milliseconds since $2.
await_ready() {
  local node=$1 since=$2 pid=${AGENT_PID[$1]}
  for _ in $(seq 3000); do
    kill -0 "$pid" 2>/dev/null || die "the agent of $node exited during start"
    if in_ns "$node" curl -sf -o /dev/null --max-time 1 http://127.0.0.1:9962/readyz 2>/dev/null; then
      echo $(( ($(now_ns) - since) / 1000000 ))
      return 0
    fi
    sleep 0.02
  done
  die "the agent of $node was not ready within 60 s"
}

# The network configuration a runtime hands the plugin.
ferry_netconf() { jq -c '{cniVersion, name} + .plugins[0]' "$run_dir/$1/cni/05-ferry.conflist"; }
# ptp_netconf NODE [v4]: dual stack (an IPv4 and an IPv6 host-local range) unless v4 is asked for.
ptp_netconf() {
  local subnet6=${POD_CIDR6[$1]}
  [ "${2:-}" = v4 ] && subnet6=""
  jq -nc --arg subnet "${POD_CIDR[$1]}" --arg subnet6 "$subnet6" --arg dir "$run_dir/$1/ipam" \
    '{cniVersion: "1.0.0", name: "ferrybench-ptp", type: "ptp", ipMasq: false, mtu: 1500,
      ipam: {type: "host-local", ranges: ([[{subnet: $subnet}]] + if $subnet6 == "" then [] else [[{subnet: $subnet6}]] end),
             routes: ([{dst: "0.0.0.0/0"}] + if $subnet6 == "" then [] else [{dst: "::/0"}] end), dataDir: $dir}}'
}

# cni SIDE NODE COMMAND POD_NS CONTAINER_ID: the plugin's binary, in the node's namespace.
cni() {
  local side=$1 node=$2 command=$3 pod_ns=$4 id=$5 conf plugin path
  if [ "$side" = ferry ]; then conf=$(ferry_netconf "$node") plugin=$PWD/dist/bin/ferry-cni path=$PWD/dist/bin
  else conf=$(ptp_netconf "$node") plugin=$CNI_BIN/ptp path=$CNI_BIN; fi
  in_ns "$node" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND="$command" CNI_CONTAINERID="$id" \
    CNI_NETNS="/run/netns/$NS-$pod_ns" CNI_IFNAME=eth0 CNI_PATH="$path" \
    CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=$pod_ns" "$plugin" <<<"$conf"
}

add_pod() {
  local side=$1 node=$2 pod=$3 result
  add_ns "$pod"
  result=$(cni "$side" "$node" ADD "$pod" "$NS-$pod") || die "$side ADD of $pod failed: $result"
  POD_IP[$pod]=$(jq -r '[.ips[].address | select(contains(".")) | split("/")[0]][0] // empty' <<<"$result")
  POD_IP6[$pod]=$(jq -r '[.ips[].address | select(contains(":")) | split("/")[0]][0] // empty' <<<"$result")
  [ -n "${POD_IP[$pod]}" ] && [ -n "${POD_IP6[$pod]}" ] || die "$side ADD of $pod did not give an address of each family: $result"
  say "$pod on $node ($side): ${POD_IP[$pod]} and ${POD_IP6[$pod]}"
}

# pod_addr POD FAMILY: the pod's address of that family (v4 or v6).
pod_addr() { if [ "$2" = v6 ]; then echo "${POD_IP6[$1]}"; else echo "${POD_IP[$1]}"; fi; }

helper() { "$@" >/dev/null 2>&1 & HELPERS[$!]=$1; }

await_listen() {
  local ns=$1 port=$2
  for _ in $(seq 100); do
    [ -n "$(in_ns "$ns" ss -Hltn "sport = :$port")" ] && return 0
    sleep 0.05
  done
  die "nothing listens on $ns:$port"
}

# ---------------------------------------------------------------------------
# Topologies

setup_datapaths() {
  step "Topologies: Ferry, ptp and the limit, each two nodes joined by a veth wire ($NS-*)"
  # Ferry: an agent per node, pods through dist/bin/ferry-cni.
  make_node_pair f
  write_agent_config f-a f-b
  write_agent_config f-b f-a
  local t; t=$(now_ns)
  start_agent f-a; start_agent f-b
  say "Ferry agents ready after $(await_ready f-a "$t") ms and $(await_ready f-b "$t") ms"
  for _ in $(seq 100); do [ -f "$run_dir/f-a/cni/05-ferry.conflist" ] && [ -f "$run_dir/f-b/cni/05-ferry.conflist" ] && break; sleep 0.1; done
  add_pod ferry f-a f-pod1; add_pod ferry f-a f-pod2; add_pod ferry f-b f-pod3

  # ptp: the reference plugin and host-local, in the node namespaces; plain routes across the wire.
  make_node_pair p
  add_pod ptp p-a p-pod1; add_pod ptp p-a p-pod2; add_pod ptp p-b p-pod3
  # In the node namespaces only (ptp turns both on there too): a kube-proxy node forwards both families.
  for n in p-a p-b; do in_ns "$n" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1; done
  in_ns p-a ip route add "${POD_CIDR[p-b]}" via "${WIRE_ADDR[p-b]}" dev wire
  in_ns p-b ip route add "${POD_CIDR[p-a]}" via "${WIRE_ADDR[p-a]}" dev wire
  in_ns p-a ip -6 route add "${POD_CIDR6[p-b]}" via "${WIRE_ADDR6[p-b]}" dev wire
  in_ns p-b ip -6 route add "${POD_CIDR6[p-a]}" via "${WIRE_ADDR6[p-a]}" dev wire

  # The limit: two namespaces, one veth pair, no node in between.
  add_ns l-1; add_ns l-2
  ip -n "$NS-l-1" link add eth0 type veth peer name eth0 netns "$NS-l-2"
  local i
  for i in 1 2; do
    ip -n "$NS-l-$i" address add "${LIMIT_ADDR[i - 1]}/30" dev eth0
    ip -n "$NS-l-$i" address add "${LIMIT_ADDR6[i - 1]}/126" dev eth0 nodad
    ip -n "$NS-l-$i" link set eth0 up
  done
  POD_IP[l-1]=${LIMIT_ADDR[0]} POD_IP[l-2]=${LIMIT_ADDR[1]} POD_IP6[l-1]=${LIMIT_ADDR6[0]} POD_IP6[l-2]=${LIMIT_ADDR6[1]}

  # Every path must carry packets of both families before anything is measured.
  local pair family
  for pair in f-pod1:f-pod2 f-pod1:f-pod3 p-pod1:p-pod2 p-pod1:p-pod3 l-1:l-2; do
    for family in "${FAMILIES[@]}"; do
      in_ns "${pair%%:*}" ping -c 2 -i 0.2 -W 2 "$(pod_addr "${pair##*:}" "$family")" >/dev/null \
        || die "no $family ping from ${pair%%:*} to ${pair##*:} ($(pod_addr "${pair##*:}" "$family"))"
    done
  done
  say "ping works on every path, IPv4 and IPv6"
  # Round-trip servers (bench/rr.c, both families on one socket) stay up for the whole run, on the server CPU.
  local dst
  for dst in f-pod2 f-pod3 p-pod2 p-pod3 l-2; do
    helper nsenter "$(netns "$dst")" taskset -c "$SERVER_CPU" "$run_dir/rr" serve "$RR_PORT"
  done
  for dst in f-pod2 f-pod3 p-pod2 p-pod3 l-2; do await_listen "$dst" "$RR_PORT"; done
}

# The kube-proxy-like load: KP_RULES DNAT rules for Service addresses that the
# benchmark never uses, in nat prerouting and output (every new flow walks them),
# and the forward filter's conntrack state check, in both nodes of Ferry and ptp.
write_kp_ruleset() {
  local i
  {
    echo "table ip $NS-kp {"
    echo "  chain services {"
    for ((i = 0; i < KP_RULES; i++)); do
      printf '    ip daddr 10.96.%d.%d tcp dport %d dnat to 10.87.%d.%d:8080\n' $((i / 250)) $((i % 250 + 1)) $((80 + i % 7)) $((i / 250)) $((i % 250 + 1))
    done
    echo "  }"
    echo "  chain prerouting { type nat hook prerouting priority dstnat; policy accept; jump services; }"
    echo "  chain output { type nat hook output priority -100; policy accept; jump services; }"
    echo "  chain postrouting { type nat hook postrouting priority srcnat; policy accept; }"
    echo "  chain forward { type filter hook forward priority filter; policy accept; ct state invalid drop; ct state established,related accept; }"
    echo "}"
  } >"$run_dir/kp.nft"
}

set_load() {
  local load=$1 n
  for n in f-a f-b p-a p-b; do
    in_ns "$n" nft delete table ip "$NS-kp" 2>/dev/null || true
    [ "$load" = kp ] && in_ns "$n" nft -f "$run_dir/kp.nft"
  done
  return 0
}

# ---------------------------------------------------------------------------
# Figures 1-3: throughput and round trips, ABAB, with and without the load

declare -A SRC=([ferry-same]=f-pod1 [ferry-cross]=f-pod1 [ptp-same]=p-pod1 [ptp-cross]=p-pod1 [limit-veth]=l-1)
declare -A DST=([ferry-same]=f-pod2 [ferry-cross]=f-pod3 [ptp-same]=p-pod2 [ptp-cross]=p-pod3 [limit-veth]=l-2)

# iperf_once KEY STREAMS FAMILY: Gbit/s received.
iperf_once() {
  local key=$1 streams=$2 family=$3 src=${SRC[$1]} dst=${DST[$1]} pid out
  nsenter "$(netns "$dst")" taskset -c "$SERVER_CPU" iperf3 --server --one-off -p 5201 >/dev/null 2>&1 &
  pid=$!; HELPERS[$pid]=iperf3
  await_listen "$dst" 5201
  out=$run_dir/iperf.json
  if ! in_ns "$src" taskset -c "$CLIENT_CPU" iperf3 -c "$(pod_addr "$dst" "$family")" -p 5201 -t "$TPUT_SECONDS" -O 1 -P "$streams" -J >"$out" 2>&1; then
    stop_pid "$pid"; unset "HELPERS[$pid]"
    die "iperf3 $key $family -P $streams failed: $(jq -r '.error // empty' "$out" 2>/dev/null)"
  fi
  stop_pid "$pid"; unset "HELPERS[$pid]"
  # iperf3 -J can exit 0 after a failed connect, with .error set and nothing received.
  jq -e 'select(.error == null and (.end.sum_received.bits_per_second // 0) > 0)
         | .end.sum_received.bits_per_second / 1e9 * 1000 | floor / 1000' "$out" 2>/dev/null \
    || die "iperf3 $key $family -P $streams received nothing: $(jq -r '.error // empty' "$out" 2>/dev/null)"
}

# rr_once KEY [FAMILY]: "p50 p99 transactions_per_second" of one ping-pong run of
# bench/rr.c (64 B requests and answers, full round trips, µs).
rr_once() {
  local key=$1 family=${2:-v4} src=${SRC[$1]} dst=${DST[$1]} out
  out=$(in_ns "$src" taskset -c "$CLIENT_CPU" "$run_dir/rr" ping "$(pod_addr "$dst" "$family")" "$RR_PORT" "$RR_SECONDS" 64 2>&1) \
    || die "rr $key $family failed: $out"
  echo "$out"
}

# The figures' case of a path in a family: IPv4 keeps the names of the runs before IPv6 ("same-P1"),
# IPv6 is prefixed ("v6-same-P1").
case_of() { if [ "$1" = v6 ]; then echo "v6-$2"; else echo "$2"; fi; }

traffic_rounds() {
  local figs=$1 round load order side path streams key v p50 p99 tps family families case
  write_kp_ruleset
  for ((round = 1; round <= ROUNDS; round++)); do
    # ABAB: each round runs every side once, and the side that goes first alternates.
    if ((round % 2)); then order=(ferry ptp limit); else order=(limit ptp ferry); fi
    for load in none kp; do
      set_load "$load"
      step "Round $round/$ROUNDS, netfilter load: $load"
      # The load is kube-proxy's IPv4 table (figure 3): IPv6 is measured without it.
      families=(v4); [ "$load" = none ] && families=("${FAMILIES[@]}")
      for family in "${families[@]}"; do
        for path in same cross; do
          for side in "${order[@]}"; do
            if [ "$side" = limit ]; then
              [ "$load" = none ] && [ "$path" = same ] || continue   # the limit has no node, hence no load and no path
              key=limit-veth
            else
              key=$side-$path
            fi
            if [[ $figs == *tput* ]]; then
              for streams in 1 4; do
                v=$(iperf_once "$key" "$streams" "$family")
                sample tput "$(case_of "$family" "$path-P$streams")" "$side" "$load" "$round" "$v" Gbit/s
                [ "$side" = limit ] && sample tput "$(case_of "$family" "cross-P$streams")" limit "$load" "$round" "$v" Gbit/s
                say "$(printf '%-12s %s -P %s  %7s Gbit/s' "$key" "$family" "$streams" "$v")"
              done
            fi
            if [[ $figs == *rr* ]]; then
              v=$(rr_once "$key" "$family")   # not read < <(...): a failed run must stop the bench
              read -r p50 p99 tps <<<"$v"
              for case in "$path" $( [ "$side" = limit ] && echo cross ); do
                case=$(case_of "$family" "$case")
                sample rr_p50 "$case" "$side" "$load" "$round" "$p50" us
                sample rr_p99 "$case" "$side" "$load" "$round" "$p99" us
                sample rr_tps "$case" "$side" "$load" "$round" "$tps" tx/s
              done
              say "$(printf '%-12s %s TCP RR p50 %8s us  p99 %8s us  %7s tx/s' "$key" "$family" "$p50" "$p99" "$tps")"
            fi
          done
        done
      done
      if [ "$load" = kp ]; then
        say "conntrack entries in node a under load: ferry $(in_ns f-a conntrack -C 2>/dev/null || echo ?), ptp $(in_ns p-a conntrack -C 2>/dev/null || echo ?)"
      fi
    done
  done
  set_load none
}

# Figures 9 and 10: connections per second and CPU per connection beside kube-proxy (conn_figures)
source bench/conn.sh

# ---------------------------------------------------------------------------
# Figure 8: source ports reused after a Service (--only reuse)
#
# A client pod reaches a backend through a Service (kube-proxy-style DNAT in
# node a), closes, and connects to the backend directly from the same source
# port: the Service flow's conntrack entry (TIME_WAIT for TCP) has the direct
# flow's reverse as its reply tuple. Counts the direct exchanges that fail.

readonly REUSE_PORT=8080 REUSE_SERVICE_PORT=80
declare -A REUSE_VIP=([same]=10.96.250.1 [cross]=10.96.250.2)
declare -A REUSE_FIRST_PORT=([tcp-same]=20000 [tcp-cross]=30000 [udp-same]=40000 [udp-cross]=50000)

reuse_rounds() {
  step "Source port reuse: through a Service (DNAT in node a), then to the backend directly from the same port"
  local side node path proto key dst was out direct failed pid servers
  for side in ferry ptp; do
    servers=()
    node=${side:0:1}-a
    # kube-proxy nodes forward; Ferry's own paths never need it (the agent turns forwarding on per device).
    was=$(in_ns "$node" sysctl -n net.ipv4.ip_forward)
    in_ns "$node" sysctl -qw net.ipv4.ip_forward=1
    {
      echo "table ip $NS-reuse {"
      echo "  chain prerouting { type nat hook prerouting priority dstnat; policy accept;"
      for path in same cross; do
        dst=${DST[$side-$path]}
        for proto in tcp udp; do
          echo "    ip daddr ${REUSE_VIP[$path]} $proto dport $REUSE_SERVICE_PORT dnat to ${POD_IP[$dst]}:$REUSE_PORT"
        done
      done
      echo "  }"
      echo "}"
    } | in_ns "$node" nft -f -
    for path in same cross; do
      dst=${DST[$side-$path]}
      helper nsenter "$(netns "$dst")" python3 bench/port_reuse.py serve "${POD_IP[$dst]}" "$REUSE_PORT"
      servers+=("$!")
      await_listen "$dst" "$REUSE_PORT"
    done
    for proto in tcp udp; do
      for path in same cross; do
        key=$side-$path dst=${DST[$side-$path]}
        out=$(in_ns "${SRC[$key]}" python3 bench/port_reuse.py client --proto "$proto" --source "${POD_IP[${SRC[$key]}]}" \
          --service "${REUSE_VIP[$path]}:$REUSE_SERVICE_PORT" --backend "${POD_IP[$dst]}:$REUSE_PORT" \
          --seconds "$REUSE_SECONDS" --first-port "${REUSE_FIRST_PORT[$proto-$path]}" --ports 9999) \
          || die "the port reuse client ($side, $proto, $path) failed"
        direct=$(jq -r .direct <<<"$out") failed=$(jq -r .failed <<<"$out")
        [ "$direct" -gt 0 ] || die "port reuse $side $proto $path: no exchange through the Service succeeded: $out"
        sample reuse_direct "$proto-$path" "$side" none 1 "$direct" connections
        sample reuse_failed "$proto-$path" "$side" none 1 "$failed" connections
        say "$(printf '%-12s %s: %6s direct exchanges from a reused port, %6s failed' "$key" "$proto" "$direct" "$failed")"
      done
    done
    for pid in "${servers[@]}"; do stop_pid "$pid"; unset "HELPERS[$pid]"; done
    in_ns "$node" nft delete table ip "$NS-reuse"
    in_ns "$node" conntrack -F >/dev/null 2>&1 || true   # the figure's TIME_WAIT entries, out of later figures' way
    # Not put back to 0: writing ip_forward (conf/all/forwarding) rewrites every device's forwarding, so 0
    # would take it from the uplink and the host veths, where the agent set it, and every later figure's
    # path that needs the FIB (across nodes, Services) would fail. 1 changes nothing for BPF-carried traffic.
    [ "$was" = 1 ] || say "net.ipv4.ip_forward stays 1 in $node for the rest of the run"
  done
}

# ---------------------------------------------------------------------------
# Profile (--only profile, or part of the full run): where the CPU goes on each path

# "runs run_time_ns" of from_pod, then of to_pod, each summed over every program of
# that name: only the bench's agents load programs of these names while it runs
# (pod veths carry tc filters, uplinks pinned TCX links, so the program list is
# the one place for both).
bpf_prog_stats() {
  bpftool -j prog show 2>/dev/null | jq -r '[("from_pod", "to_pod") as $name | [.[] | select(.name == $name)]
    | (map(.run_cnt // 0) | add // 0), (map(.run_time_ns // 0) | add // 0)] | map(tostring) | join(" ")'
}

# bpf_prog_cost BEFORE AFTER PROGRAM: "runs ns_per_run" of PROGRAM between two bpf_prog_stats lines.
bpf_prog_cost() {
  local -a before=($1) after=($2)
  local i=0 runs ns
  [ "$3" = to_pod ] && i=2
  runs=$((after[i] - before[i])) ns=$((after[i + 1] - before[i + 1]))
  echo "$runs $( [ "$runs" -gt 0 ] && echo $((ns / runs)) || echo -)"
}

# The programs' own cost per packet on the live path, as the kernel counts it
# (kernel.bpf_stats_enabled), during one IPv4 ping-pong (bench/rr.c) per Ferry path.
program_cost() {
  local key prog before after runs per_run
  for key in ferry-same ferry-cross; do
    before=$(bpf_prog_stats)
    rr_once "$key" >/dev/null
    after=$(bpf_prog_stats)
    for prog in from_pod to_pod; do
      read -r runs per_run < <(bpf_prog_cost "$before" "$after" "$prog")
      # A program that saw only ARP and the like (to_pod on the same node) has no per-packet cost to show.
      if [ "$runs" -ge 1000 ]; then
        sample bpf_ns "${key#ferry-}-$prog" ferry none 1 "$per_run" ns
        say "$key $prog: $runs runs, $per_run ns per run"
      fi
    done
  done
}

profile_paths() {
  step "Profile: BPF run time per packet during TCP RR (bench/rr.c); perf record -a -g (cpu-clock) during one iperf3 -P 1 per path"
  local key pid out=$OUT-profile.txt was before prog runs per_run
  was=$(sysctl -n kernel.bpf_stats_enabled)
  sysctl -qw kernel.bpf_stats_enabled=1
  program_cost
  : >"$out"
  for key in ferry-same ptp-same ferry-cross ptp-cross limit-veth; do
    nsenter "$(netns "${DST[$key]}")" taskset -c "$SERVER_CPU" iperf3 --server --one-off -p 5201 >/dev/null 2>&1 &
    pid=$!; HELPERS[$pid]=iperf3
    await_listen "${DST[$key]}" 5201
    before=$(bpf_prog_stats)
    in_ns "${SRC[$key]}" taskset -c "$CLIENT_CPU" iperf3 -c "${POD_IP[${DST[$key]}]}" -p 5201 -t 4 -J >"$run_dir/iperf.json" 2>/dev/null &
    local client=$!; HELPERS[$client]=iperf3
    sleep 1
    perf record -a -g -F 999 -o "$run_dir/perf.data" -- sleep 2 >/dev/null 2>&1 || true
    wait "$client" || true; unset "HELPERS[$client]"
    stop_pid "$pid"; unset "HELPERS[$pid]"
    local after costs=""
    after=$(bpf_prog_stats)
    for prog in from_pod to_pod; do
      read -r runs per_run < <(bpf_prog_cost "$before" "$after" "$prog")
      costs+="; $prog $runs runs, $per_run ns per run"
    done
    {
      printf '\n## %s: %s Gbit/s%s\n' "$key" \
        "$(jq '.end.sum_received.bits_per_second / 1e9 * 100 | floor / 100' "$run_dir/iperf.json" 2>/dev/null || echo '?')" "$costs"
      perf report -i "$run_dir/perf.data" --stdio --no-children --comms iperf3 --sort sym 2>/dev/null \
        | awk '/^ +[0-9.]+%/ && n++ < 25' || true
    } >>"$out"
    say "$key profiled"
  done
  sysctl -qw kernel.bpf_stats_enabled="$was"
  say "profiles in $out"
}

# ---------------------------------------------------------------------------
# Figure 4: CNI ADD and DEL through the binaries, ABAB

# IPv4 ADDs on both sides, as in the runs before dual stack: Ferry's on a node
# of its own with an IPv4 pod CIDR only (f-a is dual stack), ptp's with one
# IPv4 range (with an IPv6 one, ptp waits for the pod's DAD on every ADD).
cni_rounds() {
  step "CNI ADD/DEL latency (IPv4): ferry-cni (agent on $NS-c-a) vs ptp + host-local ($NS-p-a)"
  local i round side conc t
  add_ns c-a
  ip -n "$NS-c-a" link add wire type veth peer name wire-peer   # an uplink with no one behind it
  ip -n "$NS-c-a" link set wire up; ip -n "$NS-c-a" link set wire-peer up
  write_agent_config c-a
  t=$(now_ns)
  start_agent c-a
  say "Ferry agent on c-a ready after $(await_ready c-a "$t") ms"
  for _ in $(seq 100); do [ -f "$run_dir/c-a/cni/05-ferry.conflist" ] && break; sleep 0.1; done
  for ((i = 1; i <= CNI_PODS; i++)); do add_ns "cni-$i"; done
  for ((round = 1; round <= ROUNDS; round++)); do
    local order=(ferry ptp); ((round % 2)) || order=(ptp ferry)
    for conc in 1 8; do
      for side in "${order[@]}"; do
        local node=c-a conf plugin path
        if [ "$side" = ferry ]; then conf=$(ferry_netconf c-a) plugin=$PWD/dist/bin/ferry-cni path=$PWD/dist/bin
        else node=p-a conf=$(ptp_netconf p-a v4) plugin=$CNI_BIN/ptp path=$CNI_BIN; fi
        in_ns "$node" python3 bench/cni_load.py --plugin "$plugin" --cni-path "$path" --netconf "$conf" \
          --netns-prefix "/run/netns/$NS-cni-" --id-prefix "$NS-$side-$round-$conc-" --pods "$CNI_PODS" \
          --concurrency "$conc" --side "$side" --round "$round" >>"$SAMPLES" \
          || die "CNI load ($side, concurrency $conc) failed"
        say "round $round, $side, concurrency $conc: $CNI_PODS pods added and deleted"
      done
    done
  done
  stop_agent c-a   # its JVM out of the way of the figures after this one
}

# ---------------------------------------------------------------------------
# Figure 5: the agent's own costs, on a node of its own (ferrybench-r-a)

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

agent_costs() {
  step "Agent: start-to-ready, RSS at ${RSS_STEPS[*]} endpoints, /metrics scrape time"
  add_ns r-a
  ip -n "$NS-r-a" link add wire type veth peer name wire-peer   # an uplink with no one behind it
  ip -n "$NS-r-a" link set wire up; ip -n "$NS-r-a" link set wire-peer up
  write_agent_config r-a
  local i t ms
  for ((i = 1; i <= STARTS; i++)); do
    t=$(now_ns)
    start_agent r-a
    ms=$(await_ready r-a "$t")
    sample agent start_to_ready ferry none "$i" "$ms" ms
    say "start $i: ready (/readyz 200) after $ms ms$( [ "$i" -eq 1 ] && echo ' (first: creates the pins)')"
    [ "$i" -lt "$STARTS" ] && stop_agent r-a
  done
  for _ in $(seq 100); do [ -f "$run_dir/r-a/cni/05-ferry.conflist" ] && break; sleep 0.1; done
  local pid=${AGENT_PID[r-a]} have=0 want kib
  for want in "${RSS_STEPS[@]}"; do
    for ((i = have + 1; i <= want; i++)); do add_ns "r-pod-$i"; done
    if [ "$want" -gt "$have" ]; then
      in_ns r-a python3 bench/cni_load.py --plugin "$PWD/dist/bin/ferry-cni" --cni-path "$PWD/dist/bin" \
        --netconf "$(ferry_netconf r-a)" --netns-prefix "/run/netns/$NS-r-pod-" --id-prefix "$NS-r-" \
        --pods "$want" --first $((have + 1)) --concurrency 8 --add-only --side ferry --round 0 >/dev/null \
        || die "adding pods to the agent on r-a failed"
    fi
    have=$want
    sleep 2
    kib=$(rss_kib "$pid")
    sample agent "rss_at_$want" ferry none 1 "$(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }')" MiB
    say "$want endpoints: RSS $((kib / 1024)) MiB ($(api_endpoints r-a) endpoints in /v1/status)"
  done
  for ((i = 1; i <= SCRAPES; i++)); do
    t=$(in_ns r-a curl -s -o /dev/null -w '%{time_total}' http://127.0.0.1:9962/metrics)
    sample scrape "at_${RSS_STEPS[-1]}" ferry none "$i" "$(awk -v t="$t" 'BEGIN { printf "%.3f", t * 1000 }')" ms
  done
  kib=$(rss_kib "$pid")
  sample agent "rss_after_scrapes" ferry none 1 "$(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }')" MiB
  say "$SCRAPES scrapes of /metrics done; RSS now $((kib / 1024)) MiB; peak $(awk '/^VmHWM/ {print int($2/1024)}' "/proc/$pid/status") MiB"
  sample agent rss_peak ferry none 1 "$(awk '/^VmHWM/ {printf "%.1f", $2/1024}' "/proc/$pid/status")" MiB
}

api_endpoints() { curl -s --max-time 5 --unix-socket "$(socket "$1")" http://ferry/v1/status | jq -r '.endpoints'; }

# ---------------------------------------------------------------------------
# Figure 6: JMH over the FFM map paths

jmh() {
  step "JMH: FFM map paths (bench/jmh), pins under $PIN_PREFIX-jmh"
  FERRY_BENCH_PINS="$PIN_PREFIX-jmh" java --enable-native-access=ALL-UNNAMED \
    -cp "bench/jmh/target/ferry-bench-jmh.jar:bench/jmh/target/lib/*" org.openjdk.jmh.Main \
    "${JMH_ARGS[@]}" -rf json -rff "$run_dir/jmh.json" >"$run_dir/jmh.log" 2>&1 \
    || { tail -n 30 "$run_dir/jmh.log" >&2; die "JMH failed"; }
  grep -oE '^(Benchmark|MapPathsBenchmark|ProgramCostBenchmark).*|kernel_ns_per_run.*' "$run_dir/jmh.log" | sed 's/^/   /'
  python3 bench/stats.py jmh-samples "$run_dir/jmh.json" >>"$SAMPLES"
}

# ---------------------------------------------------------------------------

machine_json() {
  jq -n --arg kernel "$(uname -r)" --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -n1)" \
    --arg cores "$(nproc)" --arg commit "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!bench/results' ':!docs/benchmarks.md' || echo '+dirty')" \
    --arg java "$(java -version 2>&1 | head -n1)" --arg iperf "$(iperf3 --version | head -n1)" \
    --arg rr "bench/rr.c, $(gcc --version | head -n1)" \
    --arg ptp "$(dpkg-query -W -f='${Version}' containernetworking-plugins)" \
    --argjson quick "$QUICK" --argjson rounds "$ROUNDS" --argjson tput_s "$TPUT_SECONDS" --argjson rr_s "$RR_SECONDS" \
    --argjson cni_pods "$CNI_PODS" --argjson kp_rules "$KP_RULES" \
    '{kernel: $kernel, cpu: $cpu, cores: ($cores | tonumber), commit: $commit, java: $java, iperf3: $iperf,
      rr: $rr, containernetworking_plugins: $ptp, quick: ($quick == 1), rounds: $rounds,
      throughput_seconds: $tput_s, rr_seconds: $rr_s, cni_pods_per_round: $cni_pods, kube_proxy_rules: $kp_rules,
      client_cpu: 0, server_cpu: 1}'
}

main() {
  if [ -n "$(ours_left)" ]; then
    echo "ferry bench: removing what an interrupted earlier run left behind: $(ours_left)"
    remove_leftovers
  fi
  run_dir=$(mktemp -d /tmp/ferry-bench.XXXXXX)
  SAMPLES=$run_dir/samples.jsonl
  : >"$SAMPLES"
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  local started; started=$(date +%s)
  local load_start; load_start=$(uptime | sed 's/.*load average: //')
  say "bench: $( [ "$QUICK" -eq 1 ] && echo quick || echo full ) run, figures: $ONLY, load average at start: $load_start"

  build
  gcc -O2 -Wall -o "$run_dir/rr" bench/rr.c || die "bench/rr.c did not compile"
  if wants tput || wants rr || wants reuse || wants conn || wants cni || wants profile; then setup_datapaths; fi
  wants profile && profile_paths
  local figs=""; wants tput && figs+=tput; wants rr && figs+=,rr
  [ -n "$figs" ] && traffic_rounds "$figs"
  wants reuse && reuse_rounds
  wants conn && conn_figures
  wants cni && cni_rounds
  wants agent && agent_costs
  wants jmh && jmh

  step "Report"
  local load_end; load_end=$(uptime | sed 's/.*load average: //')
  machine_json | jq --arg start "$load_start" --arg finish "$load_end" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --argjson seconds $(( $(date +%s) - started )) \
    '. + {date: $date, load_average_start: $start, load_average_end: $finish, duration_seconds: $seconds}' >"$run_dir/meta.json"
  [ -f "$run_dir/conn-meta.json" ] && jq -s '.[0] + .[1]' "$run_dir/meta.json" "$run_dir/conn-meta.json" >"$run_dir/meta2.json" \
    && mv "$run_dir/meta2.json" "$run_dir/meta.json"
  mkdir -p bench/results
  python3 bench/stats.py report "$run_dir/meta.json" "$SAMPLES" "$OUT.json" "$REPORT" bench/notes.md
  say "raw samples and medians: $OUT.json; report: $REPORT ($(( $(date +%s) - started )) s)"
}

main "$@"
