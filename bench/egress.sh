#!/usr/bin/env bash
# bench/egress.sh: one dual-stack pod's throughput (iperf3 -4 and -6) and
# request/response (bench/rr.c ping-pong, 64 bytes, both families) to an
# outside server through an egress route (from_pod's bpf_redirect_neigh to
# router 2) against the same pod to the same server on the default path (the
# stack, router 1), in the same run, ABAB rounds, each family side by side.
#
# One agent (dist/bin/ferry-agent, standalone, dual-stack pod CIDRs) in a node
# namespace with two uplinks to two routers, both routing to one server
# namespace; the pod is made through dist/bin/ferry-cni. The server has two
# addresses of each family: the route covers the first of each only (its
# IPv4 next hop router 2's address, its IPv6 one router 2's link-local address
# on u2), so the pod, its sockets and everything else are the same on both
# paths. Replies come back through router 1 on both (to_pod on the uplink).
# Masquerade is off on both paths for both families, so neither pays for NAT.
#
# Request/response is bench/rr.c for both families (what sockperf ping-pong
# --tcp --full-rtt measures; Debian's sockperf takes IPv4 addresses only), so
# the two families' figures come from one program.
#
#   sudo bench/egress.sh                     # 4 rounds of 5 s (iperf3) and 3 s (rr)
#   ROUNDS=1 TPUT_SECONDS=2 RR_SECONDS=1 sudo bench/egress.sh
#
# Prints one line per round, path and family, then per family the medians and
# the egress/default ratios.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly NS=egbench
readonly ROUNDS=${ROUNDS:-4} TPUT_SECONDS=${TPUT_SECONDS:-5} RR_SECONDS=${RR_SECONDS:-3}
readonly POD_CIDR=10.215.1.0/24 ROUTED=198.18.215.1 DEFAULT=198.18.215.2
readonly POD_CIDR6=fd00:d5:1::/64 ROUTED6=2001:db8:d5::1 DEFAULT6=2001:db8:d5::2
# Router 2's link-local address on the node's link: the IPv6 next hop, named with its uplink.
readonly R2_LINK_LOCAL=fe80::d5:2
readonly PINS=/sys/fs/bpf/$NS IPERF_PORT=5201 RR_PORT=11111
AGENT_PID= HELPER_PIDS=() MADE_NS=() OWN_PINS=0 run_dir=

die() { echo "egress bench: $*" >&2; exit 1; }
in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$NS-$ns" "$@"; }

cleanup() {
  local pid ns
  for pid in "${HELPER_PIDS[@]}" $AGENT_PID; do kill "$pid" 2>/dev/null || true; done
  for pid in "${HELPER_PIDS[@]}" $AGENT_PID; do wait "$pid" 2>/dev/null || true; done
  # Only what this run made: namespaces found already there belong to another run.
  for ns in "${MADE_NS[@]}"; do ip netns del "$NS-$ns" 2>/dev/null || true; done
  [ "$OWN_PINS" = 1 ] && rm -rf "$PINS"
  [ -n "$run_dir" ] && rm -rf "$run_dir"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT; trap 'exit 143' TERM

[ $# -eq 0 ] || { echo "usage: [ROUNDS=N] [TPUT_SECONDS=N] [RR_SECONDS=N] bench/egress.sh (no arguments)" >&2; exit 2; }
for var in ROUNDS TPUT_SECONDS RR_SECONDS; do
  [[ ${!var} =~ ^[1-9][0-9]{0,3}$ ]] || die "$var must be a whole number from 1 to 9999, not '${!var}'"
done
[ "$(id -u)" -eq 0 ] || die "needs root (namespaces, BPF)"
for tool in iperf3 gcc jq; do command -v "$tool" >/dev/null || die "needs $tool"; done
[ -x dist/bin/ferry-agent ] && [ -x dist/bin/ferry-cni ] || die "build first: mvn -B -ntp -o -q package -DskipTests"
run_dir=$(mktemp -d "/tmp/$NS.XXXXXX")
gcc -O2 -Wall -o "$run_dir/rr" bench/rr.c || die "bench/rr.c did not compile"
for ns in node r1 r2 server pod; do
  ! ip netns list | grep -qw "$NS-$ns" || die "namespace $NS-$ns exists: another run, or a crashed one (ip netns del it)"
  ip netns add "$NS-$ns"; MADE_NS+=("$ns")
  in_ns "$ns" ip link set lo up
  # No duplicate address detection: a tentative address answers no neighbour solicitation.
  in_ns "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
done
# No other run is live (its namespaces would be there): pins left under $PINS are a crashed run's.
OWN_PINS=1

# node --u1-- r1 --s1-- server ;  node --u2-- r2 --s2-- server   (172.25.i/24 and fd00:d5:1i::/64 node side,
# 172.24.i/24 and fd00:d5:2i::/64 server side; .1/::1 the node's or router's end, .2/::2 the other)
for i in 1 2; do
  ip -n $NS-node link add u$i type veth peer name tonode netns $NS-r$i
  ip -n $NS-node addr add 172.25.$i.1/24 dev u$i; ip -n $NS-node -6 addr add fd00:d5:1$i::1/64 dev u$i nodad
  ip -n $NS-node link set u$i up
  ip -n $NS-r$i addr add 172.25.$i.2/24 dev tonode; ip -n $NS-r$i -6 addr add fd00:d5:1$i::2/64 dev tonode nodad
  ip -n $NS-r$i link set tonode up
  ip -n $NS-r$i link add srv type veth peer name s$i netns $NS-server
  ip -n $NS-r$i addr add 172.24.$i.1/24 dev srv; ip -n $NS-r$i -6 addr add fd00:d5:2$i::1/64 dev srv nodad
  ip -n $NS-r$i link set srv up
  ip -n $NS-server addr add 172.24.$i.2/24 dev s$i; ip -n $NS-server -6 addr add fd00:d5:2$i::2/64 dev s$i nodad
  ip -n $NS-server link set s$i up
  in_ns r$i sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv6.conf.all.forwarding=1
  ip -n $NS-r$i route add 198.18.215.0/24 via 172.24.$i.2
  ip -n $NS-r$i route add $POD_CIDR via 172.25.$i.1
  ip -n $NS-r$i -6 route add 2001:db8:d5::/64 via fd00:d5:2$i::2
  ip -n $NS-r$i -6 route add $POD_CIDR6 via fd00:d5:1$i::1
done
ip -n $NS-r2 -6 addr add $R2_LINK_LOCAL/64 dev tonode nodad
ip -n $NS-node route add default via 172.25.1.2
ip -n $NS-node -6 route add default via fd00:d5:11::2
ip -n $NS-server addr add $ROUTED/32 dev lo; ip -n $NS-server addr add $DEFAULT/32 dev lo
ip -n $NS-server -6 addr add $ROUTED6/128 dev lo nodad; ip -n $NS-server -6 addr add $DEFAULT6/128 dev lo nodad
ip -n $NS-server route add $POD_CIDR via 172.24.1.1
ip -n $NS-server -6 route add $POD_CIDR6 via fd00:d5:21::1
in_ns server sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
for i in 1 2; do in_ns server sysctl -qw net.ipv4.conf.s$i.rp_filter=0; done

mkdir -p "$run_dir/cni"
cat >"$run_dir/ferry.yaml" <<YAML
mode: standalone
nodeName: $NS
podCIDRs: [$POD_CIDR, "$POD_CIDR6"]
uplinks: [u1, u2]
masquerade: false
socket: $run_dir/ferry.sock
stateDir: $run_dir/state
bpffsRoot: $PINS
cniConfDir: $run_dir/cni
metricsAddress: 127.0.0.1:9962
egressRoutes:
- name: bench
  sources: [$POD_CIDR, "$POD_CIDR6"]
  destinations: [$ROUTED/32, "$ROUTED6/128"]
  nextHops:
  - {via: 172.25.2.2}
  - {via: "$R2_LINK_LOCAL", device: u2}
YAML
nsenter --net=/run/netns/$NS-node dist/bin/ferry-agent --config "$run_dir/ferry.yaml" >"$run_dir/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 600); do [ -f "$run_dir/cni/05-ferry.conflist" ] && break; kill -0 $AGENT_PID 2>/dev/null || die "the agent exited: $(tail -n 3 "$run_dir/agent.log")"; sleep 0.1; done
[ -f "$run_dir/cni/05-ferry.conflist" ] || die "the agent was not ready within 60 s"

conf=$(jq -c '{cniVersion, name} + .plugins[0]' "$run_dir/cni/05-ferry.conflist")
result=$(in_ns node env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND=ADD CNI_CONTAINERID=egbench-pod \
  CNI_NETNS=/run/netns/$NS-pod CNI_IFNAME=eth0 CNI_PATH="$PWD/dist/bin" \
  CNI_ARGS="K8S_POD_NAMESPACE=bench;K8S_POD_NAME=pod" dist/bin/ferry-cni <<<"$conf") || die "CNI ADD failed: $result"
POD_IP=$(jq -r '[.ips[].address | select(contains(":") | not)][0] // empty | split("/")[0]' <<<"$result")
POD_IP6=$(jq -r '[.ips[].address | select(contains(":"))][0] // empty | split("/")[0]' <<<"$result")
[ -n "$POD_IP" ] && [ -n "$POD_IP6" ] || die "the pod did not get an address of each family: $result"
ferry() { dist/bin/ferry --socket "$run_dir/ferry.sock" "$@"; }
# The route lists the pod once per address it selects: both of them here.
selected='([.routes[0].pods[].address] | sort) == ([$a, $b] | sort)'
live='(.routes[0].nextHops | length) == 2 and all(.routes[0].nextHops[]; .live)'
for _ in $(seq 100); do
  egress=$(ferry egress list -o json)
  [ "$(jq --arg a "$POD_IP" --arg b "$POD_IP6" "($selected) and ($live)" <<<"$egress")" = true ] && break
  sleep 0.1
done
[ "$(jq --arg a "$POD_IP" --arg b "$POD_IP6" "$selected" <<<"$egress")" = true ] \
  || die "the route never selected both of the pod's addresses: $(jq -c '.routes[0].pods' <<<"$egress")"
[ "$(jq "$live" <<<"$egress")" = true ] \
  || die "a next hop of the route is not live: $(jq -c '[.routes[0].nextHops[] | {via, live, neighbour}]' <<<"$egress")"

# Both servers listen on [::] for the whole run (IPv4 clients arrive as ::ffff:a.b.c.d).
# nsenter itself, not in_ns: a function run in the background is a subshell, and
# its PID is the subshell's, whose kill would leave the server running.
nsenter --net=/run/netns/$NS-server iperf3 --server -p $IPERF_PORT >/dev/null 2>&1 & HELPER_PIDS+=($!)
nsenter --net=/run/netns/$NS-server "$run_dir/rr" serve $RR_PORT >/dev/null 2>&1 & HELPER_PIDS+=($!)
sleep 0.5
for dst in $ROUTED $DEFAULT $ROUTED6 $DEFAULT6; do
  in_ns pod ping -c 1 -W 2 $dst >/dev/null || die "the pod ($POD_IP, $POD_IP6) cannot reach $dst"
done

# dst FAMILY PATH: the server address the pod's traffic of that family takes that path to.
dst() {
  case $1/$2 in
    4/egress) echo $ROUTED ;; 4/default) echo $DEFAULT ;;
    6/egress) echo $ROUTED6 ;; 6/default) echo $DEFAULT6 ;;
  esac
}
tput() {
  local family=$1 dst=$2 out=$run_dir/iperf.json
  in_ns pod iperf3 -"$family" -c "$dst" -p $IPERF_PORT -t "$TPUT_SECONDS" -O 1 -J >"$out" 2>&1 \
    || die "iperf3 -$family to $dst failed: $(jq -r '.error // empty' "$out" 2>/dev/null)"
  jq -e '(.end.sum_received.bits_per_second // 0) > 0' "$out" >/dev/null || die "iperf3 -$family to $dst received nothing"
  jq '.end.sum_received.bits_per_second / 1e9 * 1000 | floor / 1000' "$out"
}
# rr DST: "p50_us transactions_per_second" of one 64-byte ping-pong run.
rr() {
  local out
  out=$(in_ns pod "$run_dir/rr" ping "$1" $RR_PORT "$RR_SECONDS" 64 2>&1) || die "rr to $1 failed: $out"
  awk '{ print $1, $3 }' <<<"$out"
}

# Packets the node has sent router I (its tonode's receive count). Each row checks
# that its path's router took nearly all of them (the rest: ARP and neighbour
# discovery), so no row can measure the other path unnoticed.
sent_to() { in_ns "r$1" ip -s -j link show tonode | jq '.[0].stats64.rx.packets'; }
check_path() {
  local family=$1 path=$2 r1=$3 r2=$4 want=1
  [ "$path" = egress ] && want=2
  awk -v a="$r1" -v b="$r2" -v w="$want" 'BEGIN { exit !((w == 1 ? a : b) > 0.99 * (a + b)) }' \
    || die "IPv$family $path row: router 1 got $r1 packets from the node, router 2 $r2: not the $path path (router $want)"
}

echo "pod $POD_IP and $POD_IP6; egress: $ROUTED and $ROUTED6 via router 2 (bpf_redirect_neigh to 172.25.2.2, $R2_LINK_LOCAL);" \
  "default: $DEFAULT and $DEFAULT6 via router 1 (stack)"
printf '%-6s %-7s %-8s %10s %12s %10s\n' round family path gbit_s rr_p50_us rr_per_s
declare -A GBIT RTT RATE
for round in $(seq "$ROUNDS"); do
  for path in egress default egress default; do   # ABAB inside each round too
    for family in 4 6; do
      d=$(dst $family $path)
      b1=$(sent_to 1) b2=$(sent_to 2)
      g=$(tput $family "$d"); r=$(rr "$d"); read -r p50 rate <<<"$r"
      check_path $family $path $(($(sent_to 1) - b1)) $(($(sent_to 2) - b2))
      GBIT[$family/$path]+="$g "; RTT[$family/$path]+="$p50 "; RATE[$family/$path]+="$rate "
      printf '%-6s %-7s %-8s %10s %12s %10s\n' "$round" "IPv$family" "$path" "$g" "$p50" "$rate"
    done
  done
done
hops=$(ferry egress list -o json | jq -c '.routes[0].nextHops')
routed4=$(jq '[.[] | select(.via | contains(":") | not) | .packets] | add // 0' <<<"$hops")
routed6=$(jq '[.[] | select(.via | contains(":")) | .packets] | add // 0' <<<"$hops")
[ "$routed4" -gt 0 ] || die "the route's IPv4 next hop counted no packet: the IPv4 egress rows measured the default path"
[ "$routed6" -gt 0 ] || die "the route's IPv6 next hop counted no packet: the IPv6 egress rows measured the default path"
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo
printf '%-7s %-8s %10s %12s %10s\n' median path gbit_s rr_p50_us rr_per_s
for family in 4 6; do
  for path in egress default; do
    k=$family/$path
    printf '%-7s %-8s %10s %12s %10s\n' "IPv$family" $path "$(median <<<"${GBIT[$k]}")" "$(median <<<"${RTT[$k]}")" "$(median <<<"${RATE[$k]}")"
  done
done
echo
for family in 4 6; do
  awk -v f="IPv$family" -v a="$(median <<<"${GBIT[$family/egress]}")" -v b="$(median <<<"${GBIT[$family/default]}")" \
      -v c="$(median <<<"${RATE[$family/egress]}")" -v d="$(median <<<"${RATE[$family/default]}")" \
      'BEGIN { printf "%s egress/default: throughput %.2f, transactions/s %.2f\n", f, a / b, c / d }'
done
echo "packets the route counted on its next hops: IPv4 (172.25.2.2) $routed4, IPv6 ($R2_LINK_LOCAL) $routed6"
