#!/usr/bin/env bash
# bench/egress.sh: one pod's throughput (iperf3) and request/response (sockperf
# ping-pong, 64 bytes) to an outside server through an egress route (from_pod's
# bpf_redirect_neigh to router 2) against the same pod to the same server on the
# default path (the stack, router 1), in the same run, ABAB rounds.
#
# One agent (dist/bin/ferry-agent, standalone) in a node namespace with two
# uplinks to two routers, both routing to one server namespace; the pod is made
# through dist/bin/ferry-cni. The server has two addresses: the route covers the
# first only, so the pod, its sockets and everything else are the same on both
# paths. Replies come back through router 1 on both (to_pod on the uplink).
# Masquerade is off on both paths, so neither pays for NAT.
#
#   sudo bench/egress.sh                     # 4 rounds of 5 s (iperf3) and 3 s (sockperf)
#   ROUNDS=1 TPUT_SECONDS=2 sudo bench/egress.sh
#
# Prints one line per round and path, then the medians and egress/default ratios.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly NS=egbench
readonly ROUNDS=${ROUNDS:-4} TPUT_SECONDS=${TPUT_SECONDS:-5} RR_SECONDS=${RR_SECONDS:-3}
readonly POD_CIDR=10.215.1.0/24 ROUTED=198.18.215.1 DEFAULT=198.18.215.2
readonly PINS=/sys/fs/bpf/$NS
run_dir=$(mktemp -d "/tmp/$NS.XXXXXX")
AGENT_PID= HELPER_PIDS=()

die() { echo "egress bench: $*" >&2; exit 1; }
in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$NS-$ns" "$@"; }

cleanup() {
  local pid ns
  for pid in "${HELPER_PIDS[@]}" $AGENT_PID; do kill "$pid" 2>/dev/null || true; done
  for pid in "${HELPER_PIDS[@]}" $AGENT_PID; do wait "$pid" 2>/dev/null || true; done
  for ns in node r1 r2 server pod; do ip netns del "$NS-$ns" 2>/dev/null || true; done
  rm -rf "$PINS" "$run_dir"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || die "needs root (namespaces, BPF)"
for tool in iperf3 sockperf jq; do command -v "$tool" >/dev/null || die "needs $tool"; done
[ -x dist/bin/ferry-agent ] && [ -x dist/bin/ferry-cni ] || die "build first: mvn -B -ntp -o -q package -DskipTests"
for ns in node r1 r2 server pod; do
  ! ip netns list | grep -qw "$NS-$ns" || die "namespace $NS-$ns exists: another run, or a crashed one (ip netns del it)"
  ip netns add "$NS-$ns"; in_ns "$ns" ip link set lo up
done

# node --u1-- r1 --s1-- server ;  node --u2-- r2 --s2-- server
for i in 1 2; do
  ip -n $NS-node link add u$i type veth peer name tonode netns $NS-r$i
  ip -n $NS-node addr add 172.25.$i.1/24 dev u$i; ip -n $NS-node link set u$i up
  ip -n $NS-r$i addr add 172.25.$i.2/24 dev tonode; ip -n $NS-r$i link set tonode up
  ip -n $NS-r$i link add srv type veth peer name s$i netns $NS-server
  ip -n $NS-r$i addr add 172.24.$i.1/24 dev srv; ip -n $NS-r$i link set srv up
  ip -n $NS-server addr add 172.24.$i.2/24 dev s$i; ip -n $NS-server link set s$i up
  in_ns r$i sysctl -qw net.ipv4.conf.all.forwarding=1
  ip -n $NS-r$i route add 198.18.215.0/24 via 172.24.$i.2
  ip -n $NS-r$i route add $POD_CIDR via 172.25.$i.1
done
ip -n $NS-node route add default via 172.25.1.2
ip -n $NS-server addr add $ROUTED/32 dev lo; ip -n $NS-server addr add $DEFAULT/32 dev lo
ip -n $NS-server route add $POD_CIDR via 172.24.1.1
in_ns server sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
for i in 1 2; do in_ns server sysctl -qw net.ipv4.conf.s$i.rp_filter=0; done

mkdir -p "$run_dir/cni"
cat >"$run_dir/ferry.yaml" <<YAML
mode: standalone
nodeName: $NS
podCIDRs: [$POD_CIDR]
uplinks: [u1, u2]
masquerade: false
socket: $run_dir/ferry.sock
stateDir: $run_dir/state
bpffsRoot: $PINS
cniConfDir: $run_dir/cni
metricsAddress: 127.0.0.1:9962
egressRoutes:
- name: bench
  sources: [$POD_CIDR]
  destinations: [$ROUTED/32]
  nextHops: [{via: 172.25.2.2}]
YAML
nsenter --net=/run/netns/$NS-node dist/bin/ferry-agent --config "$run_dir/ferry.yaml" >"$run_dir/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 600); do [ -f "$run_dir/cni/05-ferry.conflist" ] && break; kill -0 $AGENT_PID 2>/dev/null || die "the agent exited: $(tail -n 3 "$run_dir/agent.log")"; sleep 0.1; done
[ -f "$run_dir/cni/05-ferry.conflist" ] || die "the agent was not ready within 60 s"

conf=$(jq -c '{cniVersion, name} + .plugins[0]' "$run_dir/cni/05-ferry.conflist")
result=$(in_ns node env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND=ADD CNI_CONTAINERID=egbench-pod \
  CNI_NETNS=/run/netns/$NS-pod CNI_IFNAME=eth0 CNI_PATH="$PWD/dist/bin" \
  CNI_ARGS="K8S_POD_NAMESPACE=bench;K8S_POD_NAME=pod" dist/bin/ferry-cni <<<"$conf") || die "CNI ADD failed: $result"
POD_IP=$(jq -r '.ips[0].address | split("/")[0]' <<<"$result")
ferry() { dist/bin/ferry --socket "$run_dir/ferry.sock" "$@"; }
for _ in $(seq 100); do
  [ "$(ferry egress list -o json | jq '.routes[0] | (.pods | length) == 1 and .nextHops[0].live')" = true ] && break
  sleep 0.1
done
[ "$(ferry egress list -o json | jq '.routes[0].pods | length')" = 1 ] || die "the route never selected the pod"

in_ns server sockperf server --tcp -i 0.0.0.0 -p 11111 >/dev/null 2>&1 & HELPER_PIDS+=($!)
sleep 0.5
for dst in $ROUTED $DEFAULT; do in_ns pod ping -c 1 -W 2 $dst >/dev/null || die "pod $POD_IP cannot reach $dst"; done

tput() {
  local dst=$1 pid out=$run_dir/iperf.json
  in_ns server iperf3 --server --one-off -p 5201 >/dev/null 2>&1 & pid=$!
  sleep 0.3
  in_ns pod iperf3 -c "$dst" -p 5201 -t "$TPUT_SECONDS" -O 1 -J >"$out" 2>&1 || die "iperf3 to $dst failed"
  wait $pid 2>/dev/null || true
  jq '.end.sum_received.bits_per_second / 1e9 * 1000 | floor / 1000' "$out"
}
rr() {
  local dst=$1 out=$run_dir/sockperf.txt
  in_ns pod sockperf ping-pong --tcp -i "$dst" -p 11111 -t "$RR_SECONDS" --full-rtt -m 64 >"$out" 2>&1 || die "sockperf to $dst failed"
  awk '/percentile 50.000/ {p50=$NF} /\[Valid Duration\]/ { for (i = 1; i <= NF; i++) { if ($i ~ /^RunTime=/) { sub("RunTime=", "", $i); t = $i }
       if ($i ~ /^ReceivedMessages=/) { sub("ReceivedMessages=", "", $i); n = $i } } } END { printf "%s %.0f\n", p50, n / t }' "$out"
}

echo "pod $POD_IP; egress: $ROUTED via router 2 (bpf_redirect_neigh); default: $DEFAULT via router 1 (stack)"
printf '%-6s %-8s %10s %12s %10s\n' round path gbit_s rr_p50_us rr_per_s
declare -A GBIT RTT RATE
for round in $(seq "$ROUNDS"); do
  for path in egress default egress default; do   # ABAB inside each round too
    dst=$ROUTED; [ $path = default ] && dst=$DEFAULT
    g=$(tput $dst); read -r p50 rate < <(rr $dst)
    GBIT[$path]+="$g "; RTT[$path]+="$p50 "; RATE[$path]+="$rate "
    printf '%-6s %-8s %10s %12s %10s\n' "$round" "$path" "$g" "$p50" "$rate"
  done
done
routed=$(ferry egress list -o json | jq '.routes[0].nextHops[0].packets')
[ "$routed" -gt 0 ] || die "the route counted no packet: the egress rows measured the default path"
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo
printf '%-8s %10s %12s %10s\n' median gbit_s rr_p50_us rr_per_s
for path in egress default; do
  printf '%-8s %10s %12s %10s\n' $path "$(median <<<"${GBIT[$path]}")" "$(median <<<"${RTT[$path]}")" "$(median <<<"${RATE[$path]}")"
done
awk -v a="$(median <<<"${GBIT[egress]}")" -v b="$(median <<<"${GBIT[default]}")" \
    -v c="$(median <<<"${RATE[egress]}")" -v d="$(median <<<"${RATE[default]}")" \
    'BEGIN { printf "egress/default: throughput %.2f, transactions/s %.2f\n", a / b, c / d }'
echo "packets the route counted on its next hop: $routed"
