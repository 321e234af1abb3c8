"""Scenario malformed: every input the agent takes, malformed, each with its documented answer.

CNI network configurations, CNI environments (including a CNI_NETNS that is
relative, missing, a regular file, a directory, a FIFO, a mount namespace),
ADDs the CNI spec says must fail (the same ADD twice, an interface name
already in the namespace), agent YAML (`ferry-agent --config FILE` must exit 2
with one line), requests on the agent socket (unknown paths and methods, an
oversized body, malformed request lines, slow and silent clients, a non-root
peer), and state files with junk (the agent must start, move each to
`stateDir/quarantine/`, and serve the other pods). Each case records what was
expected, from docs/cni.md, docs/configuration.md, README.md, DESIGN.md or
issue 14, and what happened; a mismatch is a finding. Afterwards the agent
must still be ready and, once every pod is DELeted, the node must hold nothing.
"""
import os
import time

import malformed_files
import malformed_socket
from cni import Pod, prev_result, run_cni
from footprint import footprint, ipam_files
from lab import LabError
from report import Scenario, leak_checks
from runtime import Runtime

KEY = "malformed"
TITLE = "malformed inputs"
WHAT = __doc__.split("\n", 2)[2]

SRC_1 = "docs/cni.md: 1 = unsupported cniVersion, or a command the version does not have"
SRC_3 = "docs/cni.md: 3 = CHECK of a container the agent does not know"
SRC_4 = "docs/cni.md: 4 = a CNI variable missing or invalid, incl. a CNI_NETNS that does not exist or is not a network namespace"
SRC_6 = "docs/cni.md: 6 = the configuration is not JSON, or a field has the wrong JSON type"
SRC_7 = "docs/cni.md: 7 = invalid configuration (type not ferry-cni, bad name, mtu out of 68..65535)"
SRC_11 = "DESIGN.md, docs/cni.md: agent unreachable = code 11 with a message naming the socket"
SRC_100 = "docs/cni.md: 100 = ADD for an attachment that exists in another netns, or into a netns that already has the interface name"
SRC_SPEC = "CNI spec ADD: 'If an interface of the requested name already exists in the container, the plugin MUST return with an error'; issue 14 #6"
SRC_DEL = "docs/cni.md DEL: nothing existing, a netns already gone, no CNI_NETNS, or a second DEL are all success"


def without(key):
    return lambda c: {k: v for k, v in c.items() if k != key}


def setting(key, value):
    return lambda c: {**c, key: value}


# (case, the configuration (bytes, or a change to the agent's), expected code (or codes), source)
CONFIG_CASES = [
    ("config not JSON", b'{"cniVersion": "1.0.0", "name": ', 6, SRC_6),
    ("config a JSON array", b'["ferry-cni"]', 6, SRC_6),
    ("config empty", b"", 6, SRC_6),
    ("mtu a string", setting("mtu", "1500"), 6, SRC_6),
    ("name a number", setting("name", 5), 6, SRC_6),
    ("cniVersion a number", setting("cniVersion", 1.0), 6, SRC_6),
    ("dns a string", setting("dns", "10.96.0.10"), 6, SRC_6),
    ("agentSocket a number", setting("agentSocket", 7), 6, SRC_6),
    ("cniVersion 9.9.9", setting("cniVersion", "9.9.9"), 1, SRC_1),
    ("cniVersion 0.1.0", setting("cniVersion", "0.1.0"), 1, SRC_1),
    ("type bridge", setting("type", "bridge"), 7, SRC_7),
    ("type missing", without("type"), 7, SRC_7 + "; 'everything but cniVersion, name and type is optional'"),
    ("name missing", without("name"), 7, SRC_7 + "; 'everything but cniVersion, name and type is optional'"),
    ("name with a slash", setting("name", "fer/ry"), 7, SRC_7),
    ("mtu 0", setting("mtu", 0), 7, SRC_7),
    ("mtu 67", setting("mtu", 67), 7, SRC_7),
    ("mtu 65536", setting("mtu", 65536), 7, SRC_7),
    ("mtu -1", setting("mtu", -1), 7, SRC_7),
    ("config of 1.5 MiB", lambda c: {**c, "padding": "x" * (3 << 19)}, (5, 7),
     "docs/cni.md names no code for an oversized configuration: ferry-cni reads at most 1 MiB (its code 5), "
     "the agent's 413 says 7; either is an error"),
]

# (case, CNI_* overrides (None removes the variable), expected code, source)
ENV_CASES = [
    ("CNI_CONTAINERID missing", {"CNI_CONTAINERID": None}, 4, SRC_4),
    ("CNI_CONTAINERID with a slash", {"CNI_CONTAINERID": "ferryfault/bad"}, 4, SRC_4 + "; CNI spec: [a-zA-Z0-9][a-zA-Z0-9_.-]*"),
    ("CNI_CONTAINERID with a space", {"CNI_CONTAINERID": "ferryfault bad"}, 4, SRC_4),
    ("CNI_CONTAINERID starting with '-'", {"CNI_CONTAINERID": "-ferryfault"}, 4, SRC_4 + "; CNI spec: starts alphanumeric"),
    ("CNI_CONTAINERID with a newline", {"CNI_CONTAINERID": "ferryfault\nbad"}, 4, SRC_4),
    ("CNI_NETNS missing on ADD", {"CNI_NETNS": None}, 4, SRC_4),
    ("CNI_NETNS relative", {"CNI_NETNS": "run/netns/ferryfault-nope"}, 4, SRC_4),
    ("CNI_NETNS does not exist", {"CNI_NETNS": "/run/netns/ferryfault-nope"}, 4, SRC_4),
    ("CNI_NETNS a mount namespace (/proc/self/ns/mnt)", {"CNI_NETNS": "/proc/self/ns/mnt"}, 4, SRC_4),
    ("CNI_NETNS a character device (/dev/null)", {"CNI_NETNS": "/dev/null"}, 4, SRC_4),
    ("CNI_IFNAME of 16 characters", {"CNI_IFNAME": "eth0123456789abc"}, 4, SRC_4 + "; IFNAMSIZ is 16 with the NUL"),
    ("CNI_IFNAME with a slash", {"CNI_IFNAME": "et/h0"}, 4, SRC_4),
    ("CNI_IFNAME with a space", {"CNI_IFNAME": "eth 0"}, 4, SRC_4),
    ("CNI_IFNAME '..'", {"CNI_IFNAME": ".."}, 4, SRC_4),
    ("CNI_IFNAME missing", {"CNI_IFNAME": None}, 4, SRC_4),
    ("CNI_COMMAND unknown (FROB)", {"CNI_COMMAND": "FROB"}, 4, SRC_4),
    ("CNI_COMMAND missing", {"CNI_COMMAND": None}, 4, SRC_4),
    ("CNI_PATH missing", {"CNI_PATH": None}, 4, SRC_4 + "; pkg/skel requires CNI_PATH for ADD"),
    ("CNI_ARGS pair without '='", {"CNI_ARGS": "K8S_POD_NAME"}, 4, SRC_4),
]


class Cases:
    """The scenario's record and the pods its cases touched (each DELeted at the end)."""

    def __init__(self, lab, agent, scenario):
        self.lab, self.agent, self.s = lab, agent, scenario
        self.config = agent.net_config()
        self.scratch = lab.run_dir / "malformed"
        self.scratch.mkdir(exist_ok=True)
        self.pods = []
        self.count = 0
        self.planted = {}        # state files planted (relative to stateDir) -> their junk

    def pod(self, tag):
        self.count += 1
        pod = Pod(f"ferryfault-bad-{self.count:02d}-{tag}", self.lab.netns(f"bad-{self.count:02d}"))
        self.pods.append(pod)
        return pod

    def add(self, pod):
        c = run_cni(pod, "ADD", self.config)
        if not c.ok:
            raise LabError(f"ADD of {pod.container_id} failed: {c.brief()}")
        return c.answer

    def expect_cni(self, group, name, call, code, source, within=None):
        """code None: success; an int or a tuple: exit 1 with that CNI code (one of them)."""
        codes = code if isinstance(code, tuple) else (code,)
        if code is None:
            expected, ok = "exit 0", call.ok
        else:
            expected, ok = f"exit 1, code {' or '.join(map(str, codes))}", call.rc == 1 and call.code in codes
        if within is not None:
            expected += f", within {within} s"
            ok = ok and call.ms <= within * 1000
        evidence = source if ok else f"{source}. stdout: {call.stdout.strip()[:200]} stderr: {call.stderr.strip()[:120]}"
        self.s.check(name, expected, f"{call.brief()} ({call.ms:.0f} ms)", ok, evidence, group)
        return ok


def config_cases(c):
    for name, change, code, source in CONFIG_CASES:
        config = change if isinstance(change, bytes) else change(dict(c.config))
        c.expect_cni("CNI config", name, run_cni(c.pod("conf"), "ADD", config), code, source)
    pod = c.pod("nosock")
    call = run_cni(pod, "ADD", {**c.config, "agentSocket": str(c.scratch / "nobody-listens.sock")})
    ok = c.expect_cni("CNI config", "agentSocket where nothing listens", call, 11, SRC_11)
    if ok and "nobody-listens.sock" not in call.stdout:
        c.s.check("the code 11 names the socket", "the socket's path in the error", call.stdout[:200], False,
                  SRC_11, "CNI config")
    c.expect_cni("CNI config", "STATUS with a 0.4.0 configuration", run_cni(pod, "STATUS", {**c.config, "cniVersion": "0.4.0"}),
                 1, SRC_1 + "; '1.1.0's STATUS and GC are refused for an older configuration, code 1'")
    c.expect_cni("CNI config", "GC with a 1.0.0 configuration", run_cni(pod, "GC", {**c.config, "cniVersion": "1.0.0"}),
                 1, SRC_1)


def env_cases(c):
    for name, overrides, code, source in ENV_CASES:
        c.expect_cni("CNI env", name, run_cni(c.pod("env"), "ADD", c.config, env=overrides), code, source)
    regular = c.scratch / "netns-file"
    regular.write_text("not a namespace\n")
    directory = c.scratch / "netns-dir"
    directory.mkdir(exist_ok=True)
    for name, path in (("CNI_NETNS a regular file", regular), ("CNI_NETNS a directory", directory)):
        c.expect_cni("CNI env", name, run_cni(c.pod("env"), "ADD", c.config, env={"CNI_NETNS": str(path)}), 4, SRC_4)
    fifo_case(c)


def fifo_case(c):
    """Issue 14 #3: a FIFO as CNI_NETNS hung ADD in open() while it held the container's lock."""
    fifo = c.scratch / "netns-fifo"
    os.mkfifo(fifo)
    pod = c.pod("fifo")
    env = {"CNI_NETNS": str(fifo)}
    add = run_cni(pod, "ADD", c.config, env=env, timeout=10)
    c.expect_cni("CNI env", "CNI_NETNS a FIFO", add, 4, SRC_4 + "; issue 14 #3: answered quickly, never a hang", within=5)
    # DEL of the same container while that ADD may still hang: it must not wait for the ADD's lock.
    dele = run_cni(pod, "DEL", c.config, env=env, timeout=45)
    c.expect_cni("CNI env", "DEL of the FIFO's container right after", dele, None,
                 SRC_DEL + "; issue 14 #3: DEL waited 30 s for the hung ADD's lock, then 11", within=5)
    held = fifo_has_reader(fifo)
    released = not held or release_fifo_readers(fifo)
    c.s.check("no agent thread left blocked on the FIFO after the calls", "no reader of the FIFO",
              "no reader" if not held else ("the agent held it open for reading (blocked in open()); released by the "
                                            "harness" if released else "the agent holds it open, even after a writer came"),
              not held, "issue 14 #3; a writer's non-blocking open of a FIFO succeeds only while a reader has it open",
              "CNI env")


def fifo_has_reader(fifo):
    """A non-blocking open for writing succeeds only while some process has the FIFO open for reading (or is
    blocked opening it); otherwise it fails with ENXIO."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        return True
    except OSError:
        return False


def release_fifo_readers(fifo, timeout=10.0):
    """Opening the FIFO for writing lets a reader blocked in open() go on; True once no reader is left."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not fifo_has_reader(fifo):
            return True
        time.sleep(0.1)
    return False


def spec_cases(c, healthy):
    """What the CNI spec and docs/cni.md say about ADDs that collide, and about DEL and CHECK of nothing."""
    (h1, r1), (h2, r2) = healthy[0], healthy[1]
    runtime = Runtime(c.config, give_up_after=30)
    c.expect_cni("CNI spec", "the same ADD twice (same container, ifname, netns)", run_cni(h1, "ADD", c.config), 100,
                 SRC_SPEC + "; " + SRC_100)
    intact(c, runtime, h1, r1, "after the repeated ADD")
    other = c.pod("otherns")
    c.expect_cni("CNI spec", "ADD of an existing attachment into another netns",
                 run_cni(Pod(h2.container_id, other.netns), "ADD", c.config), 100, SRC_100)
    intact(c, runtime, h2, r2, "after the ADD into another netns")
    intruder = Pod(c.pod("intruder").container_id, h1.netns)
    c.pods.append(intruder)
    c.expect_cni("CNI spec", "ADD of a new container into a netns that already has eth0", run_cni(intruder, "ADD", c.config),
                 100, SRC_100)
    intact(c, runtime, h1, r1, "after another container's ADD into its netns")
    ghost = Pod("ferryfault-bad-ghost", other.netns)
    c.expect_cni("CNI spec", "CHECK of an unknown container",
                 run_cni(ghost, "CHECK", {**c.config, "prevResult": prev_result("10.99.41.250/32")}), 3, SRC_3)
    c.expect_cni("CNI spec", "DEL of an unknown container", run_cni(ghost, "DEL", c.config), None, SRC_DEL)
    c.expect_cni("CNI spec", "DEL without CNI_NETNS", run_cni(ghost, "DEL", c.config, env={"CNI_NETNS": None}), None, SRC_DEL)
    c.expect_cni("CNI spec", "DEL with a netns that is gone",
                 run_cni(ghost, "DEL", c.config, env={"CNI_NETNS": "/run/netns/ferryfault-gone"}), None, SRC_DEL)
    version = run_cni(ghost, "VERSION", c.config)
    ok = version.ok and "1.0.0" in (version.answer or {}).get("supportedVersions", [])
    c.s.check("VERSION", "exit 0, supportedVersions with 1.0.0", version.brief() + f" {version.stdout.strip()[:80]}", ok,
              "docs/cni.md: VERSION answered by ferry-cni itself", "CNI spec")
    c.expect_cni("CNI spec", "STATUS with a 1.1.0 configuration", run_cni(ghost, "STATUS", {**c.config, "cniVersion": "1.1.0"}),
                 None, "docs/cni.md STATUS: success when the agent is ready and the pod CIDR has a free address")
    c.expect_cni("CNI config", "CHECK with prevResult a string",
                 run_cni(h2, "CHECK", {**c.config, "prevResult": "10.99.41.1"}), 6, SRC_6)


def intact(c, runtime, pod, result, when):
    """The refused ADD took nothing from the pod that was there: CHECK passes and its address is still its own."""
    check = runtime.check(pod, result)
    address = result["ips"][0]["address"].split("/")[0]
    owner = ipam_files(c.agent).get(address, "").split("\n", 1)[0]
    ok = check.ok and owner == pod.container_id
    c.s.check(f"{pod.container_id} intact {when}", "CHECK exit 0, its IPAM file still its own",
              f"CHECK {check.brief()}, IPAM file of {address}: {owner or 'missing'}", ok,
              "issue 14 #2: a failed ADD's rollback released the address of the pod that held it", "CNI spec")


def run(lab, quick, seed):
    s = Scenario(KEY, TITLE, WHAT)
    node = lab.node("bad-node")
    agent = lab.agent("bad", node, "10.99.41.0/24")
    agent.start()
    agent.wait_ready()
    c = Cases(lab, agent, s)
    healthy = []
    for tag in ("h1", "h2", "h3"):
        pod = c.pod(tag)
        healthy.append((pod, c.add(pod)))

    config_cases(c)
    env_cases(c)
    spec_cases(c, healthy)
    malformed_socket.http_cases(c)
    malformed_socket.slow_clients(c)
    malformed_socket.peer_cases(c)
    malformed_files.yaml_cases(c)
    malformed_files.state_file_cases(c, healthy)

    status = agent.status()
    s.check("the agent is ready after every case", "ready: true",
            f"ready: {status.get('ready')}" if status else "no answer", bool(status and status.get("ready")), group="after")
    runtime = Runtime(c.config, give_up_after=30)
    undeleted = [f"{p.container_id}: {d.brief()}" for p in c.pods if not (d := runtime.delete(p)).ok
                 and d.code != 4]   # a container id the agent refuses (a case's bad id) has nothing to delete
    s.check("DEL of every pod a case touched succeeds", 0, len(undeleted), not undeleted, "; ".join(undeleted[:3]),
            group="after")
    fp = footprint(agent, [p for p in c.pods])
    leak_checks(s, fp, "node after DEL of every pod")
    if c.planted is not None:
        s.check("the quarantine holds exactly the planted files", ", ".join(sorted(c.planted)),
                ", ".join(fp.quarantined) or "nothing", fp.quarantined == sorted(c.planted), group="after")
    by_group = {}
    for ch in s.checks:
        by_group.setdefault(ch.group, [0, 0])
        by_group[ch.group][0] += ch.ok
        by_group[ch.group][1] += 1
    s.numbers += [("cases", len(s.checks))] + [(g, f"{ok}/{n} as expected") for g, (ok, n) in by_group.items()]
    return s
