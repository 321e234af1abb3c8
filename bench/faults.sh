#!/usr/bin/env bash
# Ferry's fault campaign (issue 14): the real dist/bin/ferry-agent and
# dist/bin/ferry-cni, faulted on purpose, with every leftover counted.
#
#   ./bench/faults.sh            # the full run (about 10 minutes); writes docs/reliability.md
#   ./bench/faults.sh --quick    # smaller counts for development; writes bench/results/quick-faults.md
#   ./bench/faults.sh --only agent-kill,cni-kill,traffic,malformed,kube   # a subset (with --quick or not)
#   ./bench/faults.sh --seed N   # the random plan of an earlier run (its record names its seed); timing still differs
#   ./bench/faults.sh --build    # rebuild dist/ first (otherwise an existing dist/ is used as it is)
# As root; anyone else is asked for sudo, which re-runs it.
#
# Scenarios: agent-kill (kill -9 of the agent during ADDs), cni-kill (ferry-cni
# SIGKILLed mid-call), traffic (agent restarts under 10k datagrams/s),
# malformed (bad CNI configs, environments, agent YAML, socket requests, state
# files), kube (malformed Node and Pod objects and thousands of Nodes: the agent
# in kubernetes mode against fabric8's mock API server, which is compiled from
# the agent's test classes and run as a process of the run). Bash prepares the
# machine and cleans up; bench/faults/*.py (python3 stdlib) runs the scenarios
# and writes the record. Everything lives in namespaces named ferryfault-*, pins
# under /sys/fs/bpf/ferry-fault-* and one
# temporary directory, and is removed on exit, CTRL-C or failure; processes
# are stopped by the PIDs the run recorded, never by name. Exits 1 when any
# leak count, invariant or documented answer fails; the record is written
# first. The agents' logs of the last run stay in bench/results/quick-faults-logs/.
set -euo pipefail
FERRY_SCRIPT=$(readlink -f "$0")   # what setup.sh re-runs with sudo when not root
cd "$(dirname "$FERRY_SCRIPT")/.."
FERRY_EXTRA_PACKAGES=(python3 util-linux coreutils)   # the driver; setpriv (a non-root socket peer); mkfifo
source scripts/setup.sh "$@"

readonly NS=ferryfault
readonly PIN_PREFIX=/sys/fs/bpf/ferry-fault
readonly LOGS=bench/results/quick-faults-logs

QUICK=() ONLY=() SEED=() BUILD=0
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=(--quick) ;;
    --only) ONLY=(--only "$2"); shift ;;
    --seed) SEED=(--seed "$2"); shift ;;
    --build) BUILD=1 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "faults: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

run_dir=""
driver=""

say() { printf '   %s\n' "$*"; }

ours_left() {
  { ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NS-" || true
    ls -d "$PIN_PREFIX"-* 2>/dev/null || true; } | tr '\n' ' '
}

# Kills the processes a run recorded in DIR/pids ("pid start-time" lines), each only
# if that PID still is the process recorded (same start time), so a reused PID is safe.
kill_recorded() {
  local dir=$1 pid started now
  [ -f "$dir/pids" ] || return 0
  while read -r pid started; do
    [ -r "/proc/$pid/stat" ] || continue
    now=$(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $20}')
    [ "$now" = "$started" ] || continue
    kill -KILL "$pid" 2>/dev/null || true
  done <"$dir/pids"
  return 0
}

remove_leftovers() {
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NS-" || true); do
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$PIN_PREFIX"-* 2>/dev/null || true
}

# What an earlier run that was itself killed (so its clean-up never ran) left behind.
remove_earlier_runs() {
  local dir owner
  for dir in /tmp/ferry-faults.*; do
    [ -d "$dir" ] || continue
    owner=$(cat "$dir/owner" 2>/dev/null || echo 0)
    [ "$owner" != 0 ] && kill -0 "$owner" 2>/dev/null && continue   # a run still going: not ours to touch
    echo "faults: removing what an interrupted earlier run left: $dir"
    kill_recorded "$dir"
    rm -rf "$dir"
  done
  if [ -n "$(ours_left)" ]; then
    echo "faults: removing namespaces and pins an interrupted earlier run left: $(ours_left)"
    remove_leftovers
  fi
}

cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  if [ -n "$driver" ] && kill -0 "$driver" 2>/dev/null; then
    # SIGTERM lets the driver stop its agents and remove its namespaces; it gets 15 s.
    kill -TERM "$driver" 2>/dev/null
    for _ in $(seq 150); do kill -0 "$driver" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$driver" 2>/dev/null
    wait "$driver" 2>/dev/null
  fi
  if [ -n "$run_dir" ]; then
    kill_recorded "$run_dir"
    rm -rf "$LOGS"; mkdir -p "$LOGS"
    for log in "$run_dir"/*/agent.log "$run_dir"/*/mock-api.log; do
      [ -f "$log" ] && cp "$log" "$LOGS/$(basename "$(dirname "$log")").log"
    done
  fi
  remove_leftovers
  [ -n "$run_dir" ] && rm -rf "$run_dir"
  local left; left=$(ours_left)
  if [ -n "$left" ]; then
    echo "faults: could not remove: $left" >&2
    [ "$status" -eq 0 ] && status=1
  else
    say "cleaned up: no ferryfault-* namespace, no ferry-fault-* pin, no process or temporary file of the run is left."
  fi
  exit "$status"
}

build() {
  if [ "$BUILD" -eq 0 ] && [ -x dist/bin/ferry-agent ] && [ -x dist/bin/ferry-cni ]; then
    say "dist/ is there (built $(date -r dist/bin/ferry-cni '+%F %T')); not building (--build rebuilds)"
    return 0
  fi
  say "building dist/ (mvn -DskipTests package)"
  mvn -B -ntp -q -DskipTests package >"$run_dir/build.log" 2>&1 || { tail -n 40 "$run_dir/build.log" >&2; exit 1; }
}

# The kube scenario's mock API server (dev.ferry.agent.MockApiMain) lives in the agent's test classes:
# compiled here with the test classpath written for the driver (offline: the build has every jar).
build_mock_api() {
  case ",${ONLY[1]:-kube}," in *,kube,*) ;; *) return 0 ;; esac
  say "compiling the agent's test classes for the mock API server (mvn test-compile dependency:build-classpath)"
  mvn -B -ntp -o -q -pl agent test-compile dependency:build-classpath -Dmdep.includeScope=test \
    -Dmdep.outputFile="$run_dir/test-jars" >"$run_dir/build-tests.log" 2>&1 \
    || { tail -n 40 "$run_dir/build-tests.log" >&2; exit 1; }
  echo "$PWD/agent/target/test-classes:$PWD/agent/target/classes:$(cat "$run_dir/test-jars")" >"$run_dir/test-classpath"
}

main() {
  remove_earlier_runs
  run_dir=$(mktemp -d /tmp/ferry-faults.XXXXXX)
  chmod 755 "$run_dir"                  # the malformed scenario's non-root client must reach a socket in it
  echo $$ >"$run_dir/owner"
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  build
  build_mock_api
  # In the background and waited for: a trapped CTRL-C interrupts `wait` at once.
  python3 -B bench/faults/main.py --run-dir "$run_dir" ${QUICK[@]+"${QUICK[@]}"} ${ONLY[@]+"${ONLY[@]}"} \
    ${SEED[@]+"${SEED[@]}"} &
  driver=$!
  local status=0
  wait "$driver" || status=$?
  driver=""
  return "$status"
}

main
