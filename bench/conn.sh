# Sourced by bench/run.sh: figures 9 and 10, connections per second and the CPU a
# connection costs, beside a kube-proxy-style iptables ruleset of K Services in
# every node namespace (--only conn, and part of the full run). Uses run.sh's
# topologies (setup_datapaths), helpers and sample format; adds nothing to its
# clean-up but processes it records in HELPERS: the rulesets live in the node
# namespaces and go with them.
#
# Per level K (no rules at all, then K = 0, 1000, 5000, 20000 Services): ONE
# iptables-restore per node namespace (bench/kp_iptables.py writes the ruleset),
# then ABAB rounds of closed-loop connection rate (bench/connrate, C connections
# in flight, connect/request/response/close) for pod→pod on the same node and
# across, and pod→ClusterIP with the backend on the same node and on the other;
# the limit (one veth pair) has no K and no ClusterIP. At K = CONN_CPU_K, ABAB
# rounds of a fixed offered load (open loop, CONN_RATE conn/s; iperf3 at
# CONN_GBIT Gbit/s) with the CPU it took, from the scheduler's run time.

if [ "$QUICK" -eq 1 ]; then
  CONN_LEVELS=(0 5000) CONN_ROUNDS=2 CONN_SECONDS=1 CONN_CPU_SECONDS=1
else
  CONN_LEVELS=(none 0 1000 5000 20000) CONN_ROUNDS=4 CONN_SECONDS=1 CONN_CPU_SECONDS=2
fi
readonly CONN_CONCURRENCY=8      # closed loop: enough in flight to keep both CPUs busy
readonly CONN_RATE=2000          # open loop, conn/s: below what every side sustains at CONN_CPU_K
readonly CONN_GBIT=4             # iperf3 -b, Gbit/s: below what every side sustains
readonly CONN_CPU_K=5000
readonly CONN_PORT=8080 CONN_IPERF_PORT=5202
readonly CONN_FIFO=50            # SCHED_FIFO priority of client and server
readonly CONN_TOOL=bench/connrate/connrate
readonly CLUSTER_CIDR=10.88.0.0/16
declare -A SVC_IP=([same]=10.111.0.1 [cross]=10.111.0.2)   # the two real Services' ClusterIPs, port 80
declare -A CONN_CLIENT=([ferry]=f-pod1 [ptp]=p-pod1 [limit]=l-1)
declare -A CONN_BACKEND=([ferry-same]=f-pod2 [ferry-cross]=f-pod3 [ptp-same]=p-pod2 [ptp-cross]=p-pod3 [limit-same]=l-2)
declare -A CONN_SERVER_PID=() CONN_IPERF_PID=()
CONN_SOFTIRQD=()

conn_build() {
  if [ ! -x "$CONN_TOOL" ] || [ bench/connrate/connrate.c -nt "$CONN_TOOL" ]; then
    cc -O2 -Wall -o "$CONN_TOOL" bench/connrate/connrate.c || die "building $CONN_TOOL with $(command -v cc) failed"
  fi
}

# The kube-proxy-style ruleset of one side at one level, into $run_dir/kp-SIDE-K.rules.
conn_rules() {
  local side=$1 k=$2
  python3 bench/kp_iptables.py --services "$k" --cluster-cidr "$CLUSTER_CIDR" \
    --real "svc-same=${SVC_IP[same]}:80=${POD_IP[${CONN_BACKEND[$side-same]}]}:$CONN_PORT" \
    --real "svc-cross=${SVC_IP[cross]}:80=${POD_IP[${CONN_BACKEND[$side-cross]}]}:$CONN_PORT" \
    >"$run_dir/kp-$side-$k.rules"
}

# Removes kube-proxy's tables from the node namespaces (nft backend: the whole
# tables, so that no nat hook is left to keep conntrack on; legacy: flushed).
conn_unload() {
  local n
  for n in f-a f-b p-a p-b; do
    if [[ $(iptables -V) == *nf_tables* ]]; then
      in_ns "$n" nft delete table ip nat 2>/dev/null || true
      in_ns "$n" nft delete table ip filter 2>/dev/null || true
    else
      in_ns "$n" iptables -t nat -F 2>/dev/null; in_ns "$n" iptables -t nat -X 2>/dev/null
      in_ns "$n" iptables -t filter -F 2>/dev/null; in_ns "$n" iptables -t filter -X 2>/dev/null
    fi
  done
  return 0
}

# One iptables-restore per node namespace, the four at once; prints the seconds it took.
conn_load() {
  local k=$1 t n side pids=() failed=0
  conn_unload
  [ "$k" = none ] && { echo 0; return 0; }
  conn_rules ferry "$k"; conn_rules ptp "$k"
  t=$(now_ns)
  for n in f-a f-b p-a p-b; do
    side=ferry; [[ $n == p-* ]] && side=ptp
    in_ns "$n" iptables-restore <"$run_dir/kp-$side-$k.rules" 2>"$run_dir/restore-$n.log" & pids+=($!)
  done
  for t_pid in "${pids[@]}"; do wait "$t_pid" || failed=1; done
  [ "$failed" -eq 0 ] || die "iptables-restore of K=$k failed: $(cat "$run_dir"/restore-*.log | head -n 3)"
  echo $(( ($(now_ns) - t) / 1000000000 ))
}

conn_servers_start() {
  local dst pid
  for dst in f-pod2 f-pod3 p-pod2 p-pod3 l-2; do
    nsenter "$(netns "$dst")" "$CONN_TOOL" server 0.0.0.0 "$CONN_PORT" --cpu "$SERVER_CPU" --fifo "$CONN_FIFO" \
      2>>"$run_dir/connrate-server.log" >/dev/null &
    pid=$!; HELPERS[$pid]=connrate; CONN_SERVER_PID[$dst]=$pid
    nsenter "$(netns "$dst")" taskset -c "$SERVER_CPU" iperf3 --server -p "$CONN_IPERF_PORT" >/dev/null 2>&1 &
    pid=$!; HELPERS[$pid]=iperf3; CONN_IPERF_PID[$dst]=$pid
  done
  for dst in f-pod2 f-pod3 p-pod2 p-pod3 l-2; do await_listen "$dst" "$CONN_PORT"; await_listen "$dst" "$CONN_IPERF_PORT"; done
  if chrt -p "${CONN_SERVER_PID[l-2]}" | grep -q SCHED_FIFO; then
    CONN_SCHED="SCHED_FIFO $CONN_FIFO"
  else
    CONN_SCHED="SCHED_OTHER (SCHED_FIFO refused: $(head -n 1 "$run_dir/connrate-server.log"))"
  fi
  say "connrate servers on $CONN_PORT, iperf3 servers on $CONN_IPERF_PORT, CPU $SERVER_CPU; connrate runs $CONN_SCHED"
}

conn_servers_stop() {
  local pid
  for pid in "${!HELPERS[@]}"; do
    [[ ${HELPERS[$pid]} == connrate || ${HELPERS[$pid]} == iperf3 ]] || continue
    stop_pid "$pid"; unset "HELPERS[$pid]"
  done
}

# conn_target SIDE CASE: "ADDRESS PORT" a client of SIDE connects to for CASE.
conn_target() {
  local side=$1 case=$2
  case $case in
    pod-*) echo "${POD_IP[${CONN_BACKEND[$side-${case#pod-}]:-${CONN_BACKEND[$side-same]}}]} $CONN_PORT" ;;
    svc-*) echo "${SVC_IP[${case#svc-}]} 80" ;;
  esac
}

# Empties conntrack in the side's nodes before a run, so that no run inherits the
# last one's TIME_WAIT entries (a full table would decide the result).
conn_fresh_conntrack() {
  local n
  [ "$1" = limit ] && return 0
  for n in "${1:0:1}-a" "${1:0:1}-b"; do in_ns "$n" conntrack -F >/dev/null 2>&1 || true; done
}

conn_closed_once() {
  local side=$1 case=$2 level=$3 round=$4 addr port out=$run_dir/connrate.json
  read -r addr port < <(conn_target "$side" "$case")
  conn_fresh_conntrack "$side"
  in_ns "${CONN_CLIENT[$side]}" "$CONN_TOOL" client "$addr" "$port" --seconds "$CONN_SECONDS" \
    --concurrency "$CONN_CONCURRENCY" --cpu "$CLIENT_CPU" --fifo "$CONN_FIFO" >"$out" 2>"$run_dir/connrate.err" \
    || die "connrate $side $case failed: $(cat "$run_dir/connrate.err")"
  local rate p50 p99 failed
  read -r rate p50 p99 failed < <(jq -r '"\(.per_s) \(.p50_us) \(.p99_us) \(.failed)"' "$out")
  sample conn_rate "$case" "$side" "$level" "$round" "$rate" conn/s
  sample conn_p50 "$case" "$side" "$level" "$round" "$p50" us
  sample conn_p99 "$case" "$side" "$level" "$round" "$p99" us
  sample conn_failed "$case" "$side" "$level" "$round" "$failed" conns
  if [ "$side" = limit ]; then   # the limit has no node, hence the same figure for both paths
    sample conn_rate pod-cross limit "$level" "$round" "$rate" conn/s
    sample conn_p50 pod-cross limit "$level" "$round" "$p50" us
    sample conn_p99 pod-cross limit "$level" "$round" "$p99" us
  fi
  say "$(printf '%-6s %-9s K=%-5s %8.0f conn/s  p50 %7.1f us  p99 %8.1f us  failed %s' "$side" "$case" "$level" "$rate" "$p50" "$p99" "$failed")"
}

# "client_ns server_ns softirqd_ns" of one measured command, from schedstat_run.py's JSON.
conn_cpu_parts() {
  jq -r --arg server "$2" '[.command_ns, (.also_ns[$server] // 0), ([.also_ns | to_entries[] | select(.key != $server) | .value // 0] | add // 0)] | map(tostring) | join(" ")' "$1"
}

conn_cpu_once() {
  local side=$1 case=$2 round=$3 addr port out=$run_dir/connrate.json cpu=$run_dir/cpu.json server also=()
  local pid c s k
  for pid in "${CONN_SOFTIRQD[@]}"; do also+=(--also "$pid"); done
  conn_fresh_conntrack "$side"
  if [ "$case" = gbit ]; then
    local dst=${CONN_BACKEND[$side-same]}
    [ "$side" != limit ] && [ "$4" = cross ] && dst=${CONN_BACKEND[$side-cross]}
    server=${CONN_IPERF_PID[$dst]}
    in_ns "${CONN_CLIENT[$side]}" python3 bench/schedstat_run.py "$cpu" --also "$server" "${also[@]}" -- \
      taskset -c "$CLIENT_CPU" iperf3 -c "${POD_IP[$dst]}" -p "$CONN_IPERF_PORT" -t "$CONN_CPU_SECONDS" -b "${CONN_GBIT}G" -J >"$out" 2>&1 \
      || die "iperf3 $side $4 failed: $(jq -r '.error // empty' "$out" 2>/dev/null)"
    local gbit
    gbit=$(jq '.end.sum_received.bytes * 8 / 1e9' "$out")
    read -r c s k < <(conn_cpu_parts "$cpu" "$server")
    conn_cpu_sample cpu_gbit "$4" "$side" "$round" "$gbit" "$c" "$s" "$k" "ms/Gbit"
    say "$(printf '%-6s %-9s %6.2f Gbit in %s s: client %5.0f ms, server %5.0f ms, ksoftirqd %4.0f ms: %6.1f ms/Gbit' \
      "$side" "tcp-$4" "$gbit" "$CONN_CPU_SECONDS" $((c / 1000000)) $((s / 1000000)) $((k / 1000000)) \
      "$(awk -v a="$((c + s + k))" -v g="$gbit" 'BEGIN { print a / 1e6 / g }')")"
    return 0
  fi
  read -r addr port < <(conn_target "$side" "$case")
  local dst=${CONN_BACKEND[$side-same]}
  [ "$side" != limit ] && [[ $case == *-cross ]] && dst=${CONN_BACKEND[$side-cross]}
  server=${CONN_SERVER_PID[$dst]}
  in_ns "${CONN_CLIENT[$side]}" python3 bench/schedstat_run.py "$cpu" --also "$server" "${also[@]}" -- \
    "$CONN_TOOL" client "$addr" "$port" --seconds "$CONN_CPU_SECONDS" --rate "$CONN_RATE" \
    --cpu "$CLIENT_CPU" --fifo "$CONN_FIFO" >"$out" 2>"$run_dir/connrate.err" \
    || die "connrate $side $case (open loop) failed: $(cat "$run_dir/connrate.err")"
  local done_n failed c s k p50 p99
  read -r done_n failed p50 p99 < <(jq -r '"\(.completed) \(.failed) \(.p50_us) \(.p99_us)"' "$out")
  read -r c s k < <(conn_cpu_parts "$cpu" "$server")
  conn_cpu_sample cpu_kconn "$case" "$side" "$round" "$(awk -v n="$done_n" 'BEGIN { print n / 1000 }')" "$c" "$s" "$k" "ms/1000 conn"
  sample conn_open_p50 "$case" "$side" "k$CONN_CPU_K" "$round" "$p50" us
  sample conn_open_p99 "$case" "$side" "k$CONN_CPU_K" "$round" "$p99" us
  sample conn_open_failed "$case" "$side" "k$CONN_CPU_K" "$round" "$failed" conns
  say "$(printf '%-6s %-9s %5s of %5s conns: client %4d ms, server %4d ms, ksoftirqd %3d ms: %6.1f ms/1000  p50 %6.1f p99 %7.1f us' \
    "$side" "$case" "$done_n" "$(awk -v r="$CONN_RATE" -v t="$CONN_CPU_SECONDS" 'BEGIN { print r * t }')" \
    $((c / 1000000)) $((s / 1000000)) $((k / 1000000)) \
    "$(awk -v a="$((c + s + k))" -v n="$done_n" 'BEGIN { print n ? a / 1e3 / n : -1 }')" "$p50" "$p99")"
}

# A CPU sample: milliseconds per unit of work, with its parts (client, server, ksoftirqd).
conn_cpu_sample() {
  local figure=$1 case=$2 side=$3 round=$4 work=$5 c=$6 s=$7 k=$8 unit=$9
  awk -v w="$work" 'BEGIN { exit !(w > 0) }' || return 0
  printf '{"figure":"%s","case":"%s","side":"%s","load":"k%s","round":%s,"value":%s,"unit":"%s","work":%s,"client_ms":%s,"server_ms":%s,"softirqd_ms":%s}\n' \
    "$figure" "$case" "$side" "$CONN_CPU_K" "$round" \
    "$(awk -v a="$((c + s + k))" -v w="$work" 'BEGIN { printf "%.3f", a / 1e6 / w }')" "$unit" "$work" \
    "$(awk -v x="$c" 'BEGIN { printf "%.3f", x / 1e6 }')" "$(awk -v x="$s" 'BEGIN { printf "%.3f", x / 1e6 }')" \
    "$(awk -v x="$k" 'BEGIN { printf "%.3f", x / 1e6 }')" >>"$SAMPLES"
  if [ "$side" = limit ] && [ "$case" = pod-same ]; then conn_cpu_sample "$figure" pod-cross limit "$round" "$work" "$c" "$s" "$k" "$unit"; fi
  if [ "$side" = limit ] && [ "$case" = same ]; then conn_cpu_sample "$figure" cross limit "$round" "$work" "$c" "$s" "$k" "$unit"; fi
  return 0
}

# With --only ...,profile: where the CPU goes per connection at K = CONN_CPU_K, on both sides:
# perf record -a -g during one closed-loop run per side and traffic, the top symbols of connrate
# (client and server: the softirq work of their packets runs in their context).
conn_profile() {
  local out=$OUT-conn-profile.txt side case addr port pid
  : >"$out"
  for case in pod-same pod-cross svc-same svc-cross; do
    for side in ferry ptp; do
      read -r addr port < <(conn_target "$side" "$case")
      conn_fresh_conntrack "$side"
      in_ns "${CONN_CLIENT[$side]}" "$CONN_TOOL" client "$addr" "$port" --seconds 3 --concurrency "$CONN_CONCURRENCY" \
        --cpu "$CLIENT_CPU" --fifo "$CONN_FIFO" >"$run_dir/connrate-profile.json" 2>/dev/null &
      pid=$!; HELPERS[$pid]=connrate
      sleep 0.5
      perf record -a -g -F 999 -o "$run_dir/perf.data" -- sleep 2 >/dev/null 2>"$run_dir/perf.err" || true
      wait "$pid" || true; unset "HELPERS[$pid]"
      {
        printf '\n## %s %s at K=%s: %s conn/s\n' "$side" "$case" "$CONN_CPU_K" "$(jq -r '.per_s' "$run_dir/connrate-profile.json" 2>/dev/null || echo '?')"
        # Relative: shares of connrate's own samples (client and server with their softirq work), not of
        # the whole machine's, which other work on a shared machine would dilute.
        perf report -i "$run_dir/perf.data" --stdio --no-children --comms connrate --sort sym --percentage relative 2>/dev/null \
          | awk '/^ +[0-9.]+%/ && n++ < 30 { print } END { if (!n) print "    (no samples: perf record said: see below)" }' || true
        tail -n 2 "$run_dir/perf.err" | sed -e "s|$run_dir/|RUN_DIR/|g" -e 's/^/    perf: /'
      } >>"$out"
      say "$side $case profiled"
    done
  done
  say "connection profiles in $out"
}

conn_figures() {
  step "Connection rate (figure 9) and CPU per connection (figure 10) beside kube-proxy's iptables at K = ${CONN_LEVELS[*]}"
  conn_build
  conn_servers_start
  local n
  # The clients' ports: a wide range, so that a run seldom reuses a 4-tuple. And no TIME_WAIT sockets in
  # the servers (the FIN exchange on the wire is unchanged): the same client reaches the same server by
  # pod IP and by ClusterIP, with TCP timestamps of a different offset (the kernel derives it from the
  # address the client connects to), so a SYN that reuses a port still in the server's TIME_WAIT fails
  # PAWS and is retried (TcpExtPAWSTimewait, ~12 ms each): measured, it cut ClusterIP runs to an eighth,
  # on Ferry and ptp alike, and made every later run depend on the ones before.
  for n in f-pod1 p-pod1 l-1; do in_ns "$n" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"; done
  for n in f-pod2 f-pod3 p-pod2 p-pod3 l-2; do in_ns "$n" sysctl -qw net.ipv4.tcp_max_tw_buckets=0; done
  # ksoftirqd of the two CPUs: softirq work that the kernel defers out of the client's and server's own time.
  mapfile -t CONN_SOFTIRQD < <(ps -eo pid=,comm= | awk -v a="ksoftirqd/$CLIENT_CPU" -v b="ksoftirqd/$SERVER_CPU" '$2 == a || $2 == b { print $1 }')
  say "iptables: $(iptables -V); CPU counted: the client, the server and ksoftirqd/$CLIENT_CPU,$SERVER_CPU (PIDs ${CONN_SOFTIRQD[*]})"
  local level round side case order cases secs
  for level in "${CONN_LEVELS[@]}"; do
    secs=$(conn_load "$level")
    local label=k$level; [ "$level" = none ] && label=norules
    step "K = $level kube-proxy Services in each node namespace (loaded in $secs s)"
    [ "$level" != none ] && say "nat rules in node a: ferry $(in_ns f-a iptables -t nat -S | wc -l), ptp $(in_ns p-a iptables -t nat -S | wc -l)"
    for ((round = 1; round <= CONN_ROUNDS; round++)); do
      if ((round % 2)); then order=(ferry ptp limit); else order=(limit ptp ferry); fi
      for side in "${order[@]}"; do
        cases=(pod-same pod-cross svc-same svc-cross)
        [ "$level" = none ] && cases=(pod-same pod-cross)
        [ "$side" = limit ] && cases=(pod-same)
        for case in "${cases[@]}"; do conn_closed_once "$side" "$case" "$label" "$round"; done
      done
    done
    if [ "$level" = "$CONN_CPU_K" ] && wants profile; then
      step "Profile: perf record -a -g during a closed-loop run per side and traffic, K = $level"
      conn_profile
    fi
    if [ "$level" = "$CONN_CPU_K" ]; then
      step "CPU at a fixed offered load, K = $level: $CONN_RATE conn/s open loop for $CONN_CPU_SECONDS s; iperf3 at $CONN_GBIT Gbit/s"
      for ((round = 1; round <= CONN_ROUNDS; round++)); do
        if ((round % 2)); then order=(ferry ptp limit); else order=(limit ptp ferry); fi
        for side in "${order[@]}"; do
          cases=(pod-same pod-cross svc-same svc-cross); [ "$side" = limit ] && cases=(pod-same)
          for case in "${cases[@]}"; do conn_cpu_once "$side" "$case" "$round"; done
          conn_cpu_once "$side" gbit "$round" same
          [ "$side" != limit ] && conn_cpu_once "$side" gbit "$round" cross
        done
      done
    fi
  done
  conn_unload
  conn_servers_stop
  jq -n --arg iptables "$(iptables -V)" --arg sched "$CONN_SCHED" --argjson levels "$(printf '"%s"\n' "${CONN_LEVELS[@]}" | jq -s .)" \
    --argjson rounds "$CONN_ROUNDS" --argjson seconds "$CONN_SECONDS" --argjson cpu_seconds "$CONN_CPU_SECONDS" \
    --argjson c "$CONN_CONCURRENCY" --argjson rate "$CONN_RATE" --argjson gbit "$CONN_GBIT" --argjson cpu_k "$CONN_CPU_K" \
    --arg softirqd "ksoftirqd/$CLIENT_CPU,$SERVER_CPU" \
    '{conn: {iptables: $iptables, sched: $sched, levels: $levels, rounds: $rounds, seconds: $seconds,
             cpu_seconds: $cpu_seconds, concurrency: $c, rate: $rate, gbit: $gbit, cpu_k: $cpu_k, softirqd: $softirqd}}' \
    >"$run_dir/conn-meta.json"
}
