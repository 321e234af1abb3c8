#!/usr/bin/env bash
# Ferry's demo: two Kubernetes-less nodes on one Linux machine, each a network
# namespace running a real Ferry agent, three dual-stack pods (an IPv4 and an
# IPv6 address each) plumbed by the real ferry-cni binary, and real traffic
# (ping, iperf3) between them over both families, same node and across the
# wire. Then the datapath's own counters say which packets BPF carried.
#
#   ./scripts/demo.sh
#
# As root (a root shell needs no sudo); anyone else is asked for sudo, which
# re-runs it.
# Everything lives in throwaway namespaces (ferrydemo-*), pins under
# /sys/fs/bpf/ferry-demo-* and one temporary directory; the host's interfaces and
# routes are never touched, and all of it is removed on exit, CTRL-C or failure.
set -euo pipefail
FERRY_SCRIPT=$(readlink -f "$0")   # what setup.sh re-runs with sudo when not root
cd "$(dirname "$FERRY_SCRIPT")/.."
source scripts/setup.sh "$@"

# ---------------------------------------------------------------------------
# The picture

readonly NS=ferrydemo                      # prefix of every namespace the demo makes
readonly NODES=(a b)
declare -A POD_CIDR=([a]=10.77.1.0/24 [b]=10.77.2.0/24)
declare -A POD_CIDR6=([a]=fd00:77:1::/64 [b]=fd00:77:2::/64)
declare -A WIRE_ADDR=([a]=192.168.77.1 [b]=192.168.77.2)
declare -A WIRE_ADDR6=([a]=fd77:ffff::1 [b]=fd77:ffff::2)
readonly CLUSTER_CIDRS="10.77.0.0/16, fd00:77::/32"
declare -A POD_NODE=([pod-1]=a [pod-2]=a [pod-3]=b)
readonly PODS=(pod-1 pod-2 pod-3)
readonly FAMILIES=(ipv4 ipv6)              # as the datapath's `family` label names them
readonly TRAFFIC_SECONDS=2                 # per iperf3 run: four of them, two per family

run_dir=""
declare -A AGENT_PID=() POD_IP=() POD_IP6=()
declare -A HELPERS=()                      # pid -> what: processes to stop on the way out
declare -A FAMILY_FAILURES=([ipv4]=0 [ipv6]=0)
failures=0
current_family=""                          # the family bad() charges a failure to, if any

if [ -t 1 ]; then bold=$'\033[1m' green=$'\033[32m' red=$'\033[31m' plain=$'\033[0m'; else bold="" green="" red="" plain=""; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
say()  { printf '   %s\n' "$*"; }
ok()   { printf '   %s✓%s %s\n' "$green" "$plain" "$*"; }
bad()  {
  printf '   %s✗ %s%s\n' "$red" "$*" "$plain"; failures=$((failures + 1))
  [ -z "$current_family" ] || FAMILY_FAILURES[$current_family]=$((FAMILY_FAILURES[$current_family] + 1))
}
die()  { printf '\n%sferry demo: %s%s\n' "$red" "$*" "$plain" >&2; exit 1; }

node_ns()  { echo "$NS-node-$1"; }
pod_ns()   { echo "$NS-$1"; }
pins_dir() { echo "/sys/fs/bpf/ferry-demo-node-$1"; }
socket()   { echo "$run_dir/node-$1/ferry.sock"; }
in_ns()    { local ns=$1; shift; nsenter --net="/run/netns/$ns" "$@"; }
api()      { curl -sS --max-time 10 --unix-socket "$(socket "$1")" "http://ferry$2"; }
# pod_addr POD FAMILY: the pod's address of that family.
pod_addr() { if [ "$2" = ipv6 ]; then echo "${POD_IP6[$1]}"; else echo "${POD_IP[$1]}"; fi; }

# Runs a command in the background and waits for it, its output in $run_dir/out.
# CTRL-C then ends the demo at once: bash ignores a SIGINT that a foreground
# ping, iperf3 or JVM handles itself, but a trapped signal interrupts `wait`.
run_waited() {
  "$@" >"$run_dir/out" 2>&1 &
  local pid=$! status=0
  HELPERS[$pid]=$1
  wait "$pid" || status=$?
  unset "HELPERS[$pid]"
  return "$status"
}

# ---------------------------------------------------------------------------
# Clean-up: runs on every exit, CTRL-C included, and leaves nothing behind.

stop_agent() {
  local node=$1 pid=${AGENT_PID[$1]:-}
  [ -n "$pid" ] || return 0
  unset "AGENT_PID[$node]"
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    say "agent on node-$node did not stop within 10 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  local status=0
  wait "$pid" 2>/dev/null || status=$?
  return "$status"
}

remove_leftovers() {
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NS-" || true); do
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf /sys/fs/bpf/ferry-demo-node-* 2>/dev/null || true
}

cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  for pid in "${!HELPERS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  if [ "$status" -ne 0 ] && [ "$status" -ne 130 ] && [ -n "$run_dir" ]; then  # 130: CTRL-C, nothing to explain
    for node in "${NODES[@]}"; do
      [ -s "$run_dir/node-$node/agent.log" ] || continue
      printf '\n--- last lines of the agent log of node-%s ---\n' "$node" >&2
      tail -n 25 "$run_dir/node-$node/agent.log" >&2
    done
  fi
  for node in "${NODES[@]}"; do stop_agent "$node"; done
  remove_leftovers
  [ -n "$run_dir" ] && rm -rf "$run_dir"
  local left
  left=$(leftovers)
  if [ -n "$left" ]; then
    echo "ferry demo: could not remove: $left" >&2
    [ "$status" -eq 0 ] && status=1
  else
    echo "   cleaned up: namespaces (nodes, pods and so every veth, address, route and TCX link in them), pins, agents, helpers and temporary files are gone."
  fi
  exit "$status"
}

# What the demo made and did not remove: namespaces (and with them the wire,
# the pod veths, addresses, routes, neighbours and TCX links, all of which live
# in them), pins, processes it started and its temporary directory.
leftovers() {
  local pid
  ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NS-" | sed 's/^/namespace /' || true
  ls /sys/fs/bpf 2>/dev/null | grep '^ferry-demo-' | sed 's/^/pin directory /' || true
  for pid in "${AGENT_PID[@]}" "${!HELPERS[@]}"; do kill -0 "$pid" 2>/dev/null && echo "process $pid"; done
  [ -n "$run_dir" ] && [ -e "$run_dir" ] && echo "directory $run_dir"
  return 0
}

# ---------------------------------------------------------------------------
# Steps

build() {
  step "Building Ferry (agent, BPF programs, ferry-cni) into dist/"
  if ! run_waited mvn -B -ntp -q -DskipTests package; then
    tail -n 40 "$run_dir/out" >&2
    die "the build failed"
  fi
  ok "dist/bin/ferry-agent and dist/bin/ferry-cni are ready"
}

make_nodes() {
  step "Making two nodes: network namespaces joined by a veth 'wire'"
  local node
  for node in "${NODES[@]}"; do
    ip netns add "$(node_ns "$node")"
    ip -n "$(node_ns "$node")" link set lo up
  done
  ip -n "$(node_ns a)" link add wire type veth peer name wire netns "$(node_ns b)"
  for node in "${NODES[@]}"; do
    ip -n "$(node_ns "$node")" address add "${WIRE_ADDR[$node]}/24" dev wire
    ip -n "$(node_ns "$node")" address add "${WIRE_ADDR6[$node]}/64" dev wire nodad   # nodad: usable at once
    ip -n "$(node_ns "$node")" link set wire up
    say "node-$node: namespace $(node_ns "$node"), uplink 'wire' ${WIRE_ADDR[$node]}/24 and ${WIRE_ADDR6[$node]}/64, pod CIDRs ${POD_CIDR[$node]} and ${POD_CIDR6[$node]}"
  done
}

write_config() {
  local node=$1 other=$2 dir="$run_dir/node-$1"
  mkdir -p "$dir"
  cat >"$dir/ferry.yaml" <<EOF
nodeName: node-$node
mode: standalone
podCIDRs: [${POD_CIDR[$node]}, ${POD_CIDR6[$node]}]
clusterCIDRs: [$CLUSTER_CIDRS]
uplinks: [wire]
peers:
  - {name: node-$other, podCIDRs: [${POD_CIDR[$other]}, ${POD_CIDR6[$other]}], address: ${WIRE_ADDR[$other]}, address6: ${WIRE_ADDR6[$other]}}
socket: $dir/ferry.sock
stateDir: $dir/state
bpffsRoot: $(pins_dir "$node")
cniConfDir: $dir/cni
attach: tcx
EOF
}

start_agents() {
  step "Starting one Ferry agent per node (nsenter --net=/run/netns/NODE dist/bin/ferry-agent)"
  write_config a b
  write_config b a
  local node
  for node in "${NODES[@]}"; do
    nsenter --net="/run/netns/$(node_ns "$node")" dist/bin/ferry-agent --config "$run_dir/node-$node/ferry.yaml" \
      >"$run_dir/node-$node/agent.log" 2>&1 &
    AGENT_PID[$node]=$!
  done
  for node in "${NODES[@]}"; do await_ready "$node"; done
}

await_ready() {
  local node=$1 pid=${AGENT_PID[$1]}
  for _ in $(seq 600); do
    if ! kill -0 "$pid" 2>/dev/null; then
      die "the agent of node-$node exited during start (its log is above)"
    fi
    if [ -S "$(socket "$node")" ] && api "$node" /v1/status 2>/dev/null | jq -e '.ready' >/dev/null 2>&1; then
      local s; s=$(api "$node" /v1/status)
      ok "node-$node ready (pid $pid): $(jq -r '"pod CIDRs \([.pools[].podCIDR] | join(" and ")), uplink \(.uplinks[0].name), peer \(.peers[0].name) via \(.peers[0].address), Ferry \(.version)"' <<<"$s")"
      return 0
    fi
    sleep 0.1
  done
  die "the agent of node-$node was not ready within 60 s"
}

# The network configuration a runtime hands ferry-cni: the plugin's entry of the
# conflist the agent wrote, with the list's name and cniVersion, as libcni does.
net_config() {
  jq -c '{cniVersion, name} + .plugins[0]' "$run_dir/node-$1/cni/05-ferry.conflist"
}

cni() {
  local command=$1 pod=$2 node=${POD_NODE[$2]}
  net_config "$node" | env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    CNI_COMMAND="$command" CNI_CONTAINERID="$NS-$pod" CNI_NETNS="/run/netns/$(pod_ns "$pod")" \
    CNI_IFNAME=eth0 CNI_PATH="$PWD/dist/bin" CNI_ARGS="K8S_POD_NAMESPACE=demo;K8S_POD_NAME=$pod" \
    dist/bin/ferry-cni
}

add_pods() {
  step "Creating pods: the runtime's part (a namespace) and ferry-cni ADD (the rest, done by the agent)"
  local pod result
  for pod in "${PODS[@]}"; do
    ip netns add "$(pod_ns "$pod")"
    ip -n "$(pod_ns "$pod")" link set lo up
    if ! result=$(cni ADD "$pod"); then
      say "ferry-cni ADD answered: $result"
      die "ADD of $pod failed"
    fi
    POD_IP[$pod]=$(jq -r '[.ips[].address | select(contains(".")) | split("/")[0]][0] // empty' <<<"$result")
    POD_IP6[$pod]=$(jq -r '[.ips[].address | select(contains(":")) | split("/")[0]][0] // empty' <<<"$result")
    if [ -z "${POD_IP[$pod]}" ] || [ -z "${POD_IP6[$pod]}" ]; then
      say "ferry-cni ADD answered: $result"
      die "ADD of $pod did not give it an address of each family"
    fi
    ok "$pod on node-${POD_NODE[$pod]}: eth0 ${POD_IP[$pod]} and ${POD_IP6[$pod]} (ferry-cni ADD result: $(jq -c '.ips' <<<"$result"))"
  done
}

# ping_test FROM TO WHAT FAMILY
ping_test() {
  local from=$1 to=$2 what=$3 family=$4 addr out status=0
  addr=$(pod_addr "$to" "$family")
  run_waited nsenter --net="/run/netns/$(pod_ns "$from")" ping -c 5 -i 0.2 -W 2 "$addr" || status=$?
  out=$(cat "$run_dir/out")
  if [ "$status" -eq 0 ]; then
    ok "$what $family: $from -> $to ($addr): $(grep -o '[0-9]* received, [0-9.]*% packet loss' <<<"$out"), $(grep -o 'rtt.*' <<<"$out")"
  else
    bad "$what $family: $from -> $to ($addr) failed: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
  fi
}

# iperf_test FROM TO WHAT FAMILY: a one-shot server in the target pod (it listens
# on both families), the client in the source pod.
iperf_test() {
  local from=$1 to=$2 what=$3 family=$4 out pid status=0
  nsenter --net="/run/netns/$(pod_ns "$to")" iperf3 --server --one-off >/dev/null 2>&1 &
  pid=$!
  HELPERS[$pid]=iperf3-server
  for _ in $(seq 50); do
    [ -n "$(in_ns "$(pod_ns "$to")" ss -Hltn 'sport = :5201')" ] && break
    sleep 0.1
  done
  run_waited nsenter --net="/run/netns/$(pod_ns "$from")" iperf3 --client "$(pod_addr "$to" "$family")" \
    --time "$TRAFFIC_SECONDS" --json || status=$?
  out=$(cat "$run_dir/out")
  # iperf3 --json can exit 0 after a failed connect, with .error set and nothing received.
  local gbit
  gbit=$(jq -r 'if .error == null and (.end.sum_received.bits_per_second // 0) > 0
                then .end.sum_received.bits_per_second / 1e9 * 100 | floor / 100 else empty end' <<<"$out" 2>/dev/null || true)
  [ -n "$gbit" ] || [ "$status" -ne 0 ] || status=1
  if [ "$status" -eq 0 ]; then
    ok "$what $family: $from -> $to: $gbit Gbit/s over ${TRAFFIC_SECONDS} s (TCP, iperf3)"
  else
    bad "$what $family: $from -> $to: iperf3 failed: $(jq -r '.error // "nothing received"' <<<"$out" 2>/dev/null || tail -n 2 <<<"$out")"
  fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "HELPERS[$pid]"
}

traffic() {
  step "Traffic: ping, then iperf3, between pods on the same node and across the wire, over IPv4 and IPv6"
  local family
  for family in "${FAMILIES[@]}"; do
    current_family=$family
    ping_test pod-1 pod-2 "same node  " "$family"
    ping_test pod-1 pod-3 "cross node " "$family"
    iperf_test pod-1 pod-2 "same node  " "$family"
    iperf_test pod-1 pod-3 "cross node " "$family"
  done
  current_family=""
}

# family_lines < PROMETHEUS_TEXT: the node's ferry_datapath_packets_total series as
# "family direction verdict packets" lines, summed over reasons.
family_lines() {
  awk '
    /^ferry_datapath_packets_total\{/ && /family="/ {
      f = d = v = ""
      if (match($0, /family="[^"]*"/)) f = substr($0, RSTART + 8, RLENGTH - 9)
      if (match($0, /direction="[^"]*"/)) d = substr($0, RSTART + 11, RLENGTH - 12)
      if (match($0, /verdict="[^"]*"/)) v = substr($0, RSTART + 9, RLENGTH - 10)
      n[f " " d " " v] += $NF
    }
    END { for (k in n) printf "%s %d\n", k, n[k] }' | sort
}

# family_counted LINES FAMILY DIRECTION VERDICT: packets of one family, direction and verdict.
family_counted() {
  awk -v f="$2" -v d="$3" -v v="$4" '$1 == f && $2 == d && $3 == v { n += $4 } END { print n + 0 }' <<<"$1"
}

counters() {
  step "What the datapath did: its counters, read from the BPF maps through each agent (GET /v1/datapath/stats)"
  local node stats per_family family direction
  for node in "${NODES[@]}"; do
    stats=$(api "$node" /v1/datapath/stats)
    printf '\n   node-%s\n' "$node"
    jq -r '.counters[] | [.direction, .family, .verdict, .reason, .packets, .bytes] | @tsv' <<<"$stats" \
      | awk -F'\t' '
          function row(d, f, v, r, p, b) { printf "     %-9s %-7s %-15s %-20s %10s %14s\n", d, f, v, r, p, b }
          BEGIN { row("direction", "family", "verdict", "reason", "packets", "bytes") }
          { row($1, $2, $3, $4, $5, $6) }'
    local metrics=""
    if ! metrics=$(in_ns "$(node_ns "$node")" curl -sS --max-time 10 http://127.0.0.1:9962/metrics 2>&1); then
      bad "node-$node: GET /metrics on its metricsAddress failed: $metrics"
      metrics=""
    fi
    per_family=$(family_lines <<<"$metrics")
    if [ -z "$per_family" ]; then
      bad "node-$node: no ferry_datapath_packets_total series with a family label on its /metrics"
      continue
    fi
    printf '\n     per family (ferry_datapath_packets_total on its /metrics, over every reason)\n'
    printf '     %-7s %-9s %12s %12s %12s\n' family direction forwarded passed dropped
    for family in "${FAMILIES[@]}"; do
      for direction in egress ingress; do
        printf '     %-7s %-9s %12s %12s %12s\n' "$family" "$direction" \
          $(( $(family_counted "$per_family" "$family" "$direction" redirect_peer) + $(family_counted "$per_family" "$family" "$direction" redirect_neigh) )) \
          "$(family_counted "$per_family" "$family" "$direction" pass)" "$(family_counted "$per_family" "$family" "$direction" drop)"
      done
    done
    for family in "${FAMILIES[@]}"; do
      current_family=$family
      expect_family_counted "$per_family" "$node" "$family" egress redirect_neigh "departures to the other node"
      expect_family_counted "$per_family" "$node" "$family" ingress redirect_peer "arrivals from the other node"
      if [ "$node" = a ]; then
        expect_family_counted "$per_family" "$node" "$family" egress redirect_peer "same-node deliveries (pod-1 <-> pod-2)"
      fi
    done
    current_family=""
  done
  cat <<'EOF'

   How to read them:
     egress  = packets leaving a pod (from_pod, on the pod's host-side veth);
     ingress = packets arriving at the node on its uplink (to_pod, on 'wire').
     redirect_peer  : handed straight into the destination pod's namespace (bpf_redirect_peer):
                      egress ones are same-node pod-to-pod, ingress ones are arrivals from the other node.
     redirect_neigh : sent out of the uplink towards the other node (bpf_fib_lookup + bpf_redirect_neigh),
                      skipping the node's IP stack: departures to the other node.
     pass           : left to the kernel's stack on purpose, with the reason why (ARP is not_ip,
                      traffic to the node itself is not_local_endpoint, ...).
     forwarded      : (per family) redirect_peer + redirect_neigh, what BPF carried itself;
                      passed is what the node's stack handled instead.
EOF
}

expect_family_counted() {
  local lines=$1 node=$2 family=$3 direction=$4 verdict=$5 what=$6 n
  n=$(family_counted "$lines" "$family" "$direction" "$verdict")
  if [ "$n" -gt 0 ]; then
    ok "node-$node $family $direction $verdict: $n packets ($what)"
  else
    bad "node-$node $family $direction $verdict is zero: no $family $what went through BPF"
  fi
}

# What an operator types on a node: the ferry CLI over the agent's socket.
cli_view() {
  step "The same from an operator's shell: the ferry CLI (dist/bin/ferry --socket ...)"
  local node out expected pod
  printf '\n   $ ferry status        (node-a)\n'
  if out=$(dist/bin/ferry --socket "$(socket a)" status); then
    sed 's/^/     /' <<<"$out"
  else
    bad "ferry status failed on node-a"
  fi
  for node in "${NODES[@]}"; do
    printf '\n   $ ferry endpoint list        (node-%s)\n' "$node"
    if out=$(dist/bin/ferry --socket "$(socket "$node")" endpoint list); then
      sed 's/^/     /' <<<"$out"
    else
      bad "ferry endpoint list failed on node-$node"
    fi
    # The same as JSON, for scripts: it must parse and name every pod of the node.
    expected=0
    for pod in "${PODS[@]}"; do [ "${POD_NODE[$pod]}" = "$node" ] && expected=$((expected + 1)); done
    if out=$(dist/bin/ferry --socket "$(socket "$node")" endpoint list -o json | jq -e '.endpoints | length'); then
      [ "$out" -eq "$expected" ] && ok "ferry endpoint list -o json on node-$node: $out endpoints, as many as its pods" \
        || bad "ferry endpoint list -o json on node-$node: $out endpoints, expected $expected"
    else
      bad "ferry endpoint list -o json on node-$node is not JSON"
    fi
  done
  if out=$(dist/bin/ferry --socket "$(socket a)" datapath stats -o json | jq -e '[.counters[].packets] | add'); then
    ok "ferry datapath stats -o json on node-a parses: $out packets counted in all"
  else
    bad "ferry datapath stats -o json on node-a is not JSON"
  fi
  printf '\n   $ ferry datapath stats --interval 1      (node-a, rates while pod-1 pings pod-3)\n'
  in_ns "$(pod_ns pod-1)" ping -q -c 30 -i 0.1 "${POD_IP[pod-3]}" >/dev/null 2>&1 &
  local pinger=$!
  HELPERS[$pinger]=ping
  if out=$(dist/bin/ferry --socket "$(socket a)" datapath stats --interval 1); then
    sed 's/^/     /' <<<"$out"
  else
    bad "ferry datapath stats failed on node-a"
  fi
  wait "$pinger" || true
  unset "HELPERS[$pinger]"
}

delete_pods() {
  step "Deleting pods: ferry-cni DEL, then the runtime removes the namespace"
  local pod out
  for pod in "${PODS[@]}"; do
    if out=$(cni DEL "$pod"); then
      ok "$pod: DEL done"
    else
      bad "$pod: DEL failed: $out"
    fi
    ip netns del "$(pod_ns "$pod")"
  done
  for node in "${NODES[@]}"; do
    say "node-$node now has $(api "$node" /v1/status | jq -r '"\(.endpoints) endpoints, addresses in use: \([.pools[] | "\(.used) of \(.podCIDR)"] | join(", "))"')"
  done
}

stop_agents() {
  step "Stopping the agents (SIGTERM)"
  local node pid status
  for node in "${NODES[@]}"; do
    pid=${AGENT_PID[$node]}
    status=0
    stop_agent "$node" || status=$?
    if [ "$status" -eq 0 ]; then ok "node-$node agent (pid $pid) stopped cleanly"; else bad "node-$node agent exited with $status"; fi
  done
}

# ---------------------------------------------------------------------------

main() {
  if [ -n "$(ip netns list | grep "^$NS-" || true)$(ls /sys/fs/bpf | grep '^ferry-demo-' || true)" ]; then
    echo "ferry demo: removing what an interrupted earlier run left behind"
    remove_leftovers
  fi
  run_dir=$(mktemp -d /tmp/ferry-demo.XXXXXX)
  trap cleanup EXIT
  trap 'exit 130' INT TERM

  build
  make_nodes
  start_agents
  add_pods
  traffic
  counters
  cli_view
  delete_pods
  stop_agents

  step "Result"
  local family
  for family in "${FAMILIES[@]}"; do
    if [ "${FAMILY_FAILURES[$family]}" -eq 0 ]; then
      ok "$family: every check of this family passed"
    else
      printf '   %s✗ %s: %s check(s) of this family failed%s\n' "$red" "$family" "${FAMILY_FAILURES[$family]}" "$plain"
    fi
  done
  if [ "$failures" -eq 0 ]; then
    ok "every check passed: Ferry carried pod traffic over IPv4 and IPv6, on one node and across nodes"
  else
    bad "$failures check(s) failed (see above)"
    exit 1
  fi
}

main "$@"
