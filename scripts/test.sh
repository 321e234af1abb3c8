#!/usr/bin/env bash
# The test command: installs what is missing, builds everything (Java, BPF
# objects, ferry-cni) and runs every test, root-only ones included. Fails when a
# test was skipped: integration tests must run, never silently pass. Runs as
# root; anyone else is asked for sudo, which re-runs it (scripts/setup.sh).
set -euo pipefail
FERRY_SCRIPT=$(readlink -f "$0")   # what setup.sh re-runs with sudo when not root
cd "$(dirname "$FERRY_SCRIPT")/.."
source scripts/setup.sh "$@"

mvn -B -ntp verify "$@"

reports=(agent/target/surefire-reports/TEST-*.xml agent/target/failsafe-reports/TEST-*.xml)
skipped=$(cat "${reports[@]}" 2>/dev/null \
          | grep -o '<testsuite [^>]*' | grep -o 'skipped="[0-9]*"' | awk -F'"' '{s+=$2} END {print s+0}')
if [ "${skipped:-0}" -ne 0 ]; then
  echo "ferry tests: $skipped test(s) were skipped; every test must run here (root, Linux >= 6.6 with BPF)." >&2
  grep -l '<skipped' "${reports[@]}" >&2 2>/dev/null || true
  exit 1
fi

# Tests clean up what they create; anything left is a defect in a test.
left_ns=$(ip netns list 2>/dev/null | grep -o '^ferrytest-[^ ]*' || true)
left_pins=$(ls /sys/fs/bpf 2>/dev/null | grep '^ferry-test' || true)
if [ -n "$left_ns$left_pins" ]; then
  echo "ferry tests: left behind: ${left_ns} ${left_pins}" >&2
  exit 1
fi
