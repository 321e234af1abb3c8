#!/usr/bin/env bash
# Sourced by scripts/test.sh, scripts/demo.sh and bench/run.sh, right after they
# cd to the repository root, as
#
#   FERRY_SCRIPT=$(readlink -f "$0")
#   cd "$(dirname "$FERRY_SCRIPT")/.."
#   source scripts/setup.sh "$@"
#
# Re-runs the caller as root when it is not, installs what a fresh Debian
# machine lacks and selects a JDK >= 25. Safe to run again; does nothing when
# everything is there.

ferry_die() { echo "ferry setup: $*" >&2; exit 1; }

# The tests, the demo and the benchmark create network namespaces, veth pairs and
# BPF programs: root only. A root shell (a fresh Debian box, where sudo may not
# even be installed, or CI) runs the script as it is; anyone else goes through
# sudo, which re-runs the same script with the same arguments.
ferry_require_root() {
  [ "$(id -u)" -eq 0 ] && return 0
  [ -n "${FERRY_SCRIPT:-}" ] || ferry_die "must run as root (the calling script did not set FERRY_SCRIPT, so it cannot re-run itself with sudo)"
  command -v sudo >/dev/null \
    || ferry_die "must run as root: Ferry's tests, demo and benchmark create network namespaces, veth pairs and BPF programs, and sudo is not installed. Run $FERRY_SCRIPT from a root shell."
  echo "ferry setup: not root; re-running $FERRY_SCRIPT with sudo" >&2
  exec sudo -- "$FERRY_SCRIPT" "$@"
}

# Debian packages the build, the tests and the demo use.
FERRY_PACKAGES=(
  make gcc libc6-dev            # ferry-cni (static C)
  clang llvm libbpf-dev libbpf1 # BPF objects, llvm-objdump, libbpf.so.1 for the agent
  linux-libc-dev                # uapi headers bpf/ compiles against
  iproute2 iputils-ping procps  # test topologies (tests only; the agent never execs ip or sysctl)
  bpftool                       # the tests' footprint check lists the BPF links a test left (tests only)
  nftables conntrack            # NAT flows in the datapath tests
  iperf3                        # demo traffic
  tcpdump                       # reads back the pcap of ferry capture (tests only)
  curl jq                       # the demo asks the agents over their sockets
  prometheus                    # promtool and a real Prometheus scraping the agent in the metrics tests
  maven
)
# Callers (bench/run.sh) may add their own packages: set FERRY_EXTRA_PACKAGES=(...) before sourcing.
FERRY_PACKAGES+=(${FERRY_EXTRA_PACKAGES[@]+"${FERRY_EXTRA_PACKAGES[@]}"})

ferry_install_packages() {
  local missing=()
  for p in "${FERRY_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || ferry_die "missing packages (${missing[*]}) and no apt-get to install them"
  echo "ferry setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || ferry_die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || ferry_die "apt-get install ${missing[*]} failed"
}

ferry_java_major() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'; }

ferry_select_jdk() {
  local candidates=()
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  candidates+=(/usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-2[5-9]-jdk-* /usr/lib/jvm/*-2[5-9]-* /usr/lib/jvm/jdk-2[5-9]*)
  for j in "${candidates[@]}"; do
    [ -x "$j/bin/javac" ] || continue
    local major; major=$(ferry_java_major "$j")
    if [ -n "$major" ] && [ "$major" -ge 25 ] 2>/dev/null; then
      export JAVA_HOME="$j" PATH="$j/bin:$PATH"
      return 0
    fi
  done
  ferry_die "no JDK >= 25 found (Ferry uses the final Foreign Function & Memory API). Install one, e.g. Temurin 25, under /usr/lib/jvm or point JAVA_HOME at it."
}

ferry_require_root "$@"
ferry_install_packages
ferry_select_jdk
# libbpf wants bpffs; mount it if this machine booted without it.
if ! mountpoint -q /sys/fs/bpf; then mount -t bpf bpf /sys/fs/bpf || ferry_die "cannot mount bpffs on /sys/fs/bpf"; fi
export MAVEN_OPTS="${MAVEN_OPTS:-} --enable-native-access=ALL-UNNAMED"
