"""The malformed scenario's files: agent YAML that must stop the agent, state files that must not."""
import json
import signal
import subprocess
import time

from cni import run_cni
from footprint import ipam_files
from lab import AGENT_BIN, PIN_PREFIX, LabError, http, stop_process
from runtime import Runtime

SRC_YAML = "docs/configuration.md, README: a mistake stops the agent with one line naming the file and the key, exit 2"
SRC_QUARANTINE = ("DESIGN.md, issue 14 #4: a bad state file is moved to stateDir/quarantine/, named in the log, "
                  "never a reason to refuse the node's other pods")

# (case, change to the base YAML lines, the key the line must name (None: no key to name))
YAML_CASES = [
    ("unknown key", lambda y: y + ["podCIRDs: [10.99.52.0/24]"], "podCIRDs"),
    ("bad CIDR", lambda y: swap(y, "podCIDRs", "[10.99.300.0/24]"), "podCIDRs"),
    ("IPv6 pod CIDR too small for a pool (/127)", lambda y: swap(y, "podCIDRs", "[fd00:99::/127]"), "podCIDRs"),
    ("two pod CIDRs", lambda y: swap(y, "podCIDRs", "[10.99.51.0/24, 10.99.53.0/24]"), "podCIDRs"),
    ("podCIDRs missing in standalone mode", lambda y: [l for l in y if not l.startswith("podCIDRs")], "podCIDRs"),
    ("podCIDRs in kubernetes mode", lambda y: swap(y, "mode", "kubernetes"), "podCIDRs"),
    ("unknown mode", lambda y: swap(y, "mode", "cluster"), "mode"),
    ("relative stateDir", lambda y: swap(y, "stateDir", "state"), "stateDir"),
    ("relative socket", lambda y: swap(y, "socket", "ferry.sock"), "socket"),
    ("socket path of 120 bytes", lambda y: swap(y, "socket", "/tmp/" + "s" * 115), "socket"),
    ("relative bpffsRoot", lambda y: swap(y, "bpffsRoot", "ferry"), "bpffsRoot"),
    ("metricsAddress port 70000", lambda y: swap(y, "metricsAddress", "127.0.0.1:70000"), "metricsAddress"),
    ("metricsAddress without a port", lambda y: swap(y, "metricsAddress", "127.0.0.1"), "metricsAddress"),
    ("attach: foo", lambda y: swap(y, "attach", "foo"), "attach"),
    ("podAttach: bar", lambda y: y + ["podAttach: bar"], "podAttach"),
    ("cniVersion 2.0.0", lambda y: y + ["cniVersion: 2.0.0"], "cniVersion"),
    ("logLevel loud", lambda y: y + ["logLevel: loud"], "logLevel"),
    ("endpointGcGracePeriod soon", lambda y: y + ["endpointGcGracePeriod: soon"], "endpointGcGracePeriod"),
    ("masquerade maybe", lambda y: y + ["masquerade: maybe"], "masquerade"),
    ("nodeName not a DNS name", lambda y: swap(y, "nodeName", "Node_A!"), "nodeName"),
    ("a peer overlapping this node", lambda y: y + ["peers:", "  - {name: other, podCIDRs: [10.99.51.128/25], address: 192.168.99.2}"], "peers"),
    ("a peer address that is no IP", lambda y: y + ["peers:", "  - {name: other, podCIDRs: [10.99.54.0/24], address: here}"], "peers"),
    ("not YAML", lambda y: ["podCIDRs: [10.99.51.0/24", "  - : ][ {"], None),
    ("a list, not a mapping", lambda y: ["- 10.99.51.0/24"], None),
]


def swap(lines, key, value):
    return [f"{key}: {value}" if l.startswith(key + ":") else l for l in lines]


def base_yaml(d):
    return ["nodeName: fault-yaml", "mode: standalone", "podCIDRs: [10.99.51.0/24]", "clusterCIDRs: [10.99.0.0/16]",
            "uplinks: [wire]", f"socket: {d}/ferry.sock", f"stateDir: {d}/state", f"bpffsRoot: {PIN_PREFIX}yaml",
            f"cniConfDir: {d}/cni", "metricsAddress: 127.0.0.1:9962", "attach: tcx"]


def start_agent(c, node, config_file, timeout):
    """ferry-agent --config FILE in the scratch node: (exit status or None if still running, stderr lines)."""
    out, err = config_file.with_suffix(".out"), config_file.with_suffix(".err")
    proc = c.lab.spawn(["nsenter", f"--net=/run/netns/{node}", AGENT_BIN, "--config", config_file], out, err)
    try:
        proc.wait(timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        code = None
    stop_process(proc, c.lab)
    return code, [l for l in err.read_text(errors="replace").splitlines() if l.strip()]


def yaml_cases(c):
    node = c.lab.node("bad-yaml-node")
    d = c.scratch / "yaml"
    d.mkdir()
    c.lab.pins.append(f"{PIN_PREFIX}yaml")     # the control case's agent pins there
    base = base_yaml(d)
    control = d / "control.yaml"
    control.write_text("\n".join(base) + "\n")
    out, err = control.with_suffix(".out"), control.with_suffix(".err")
    proc = c.lab.spawn(["nsenter", f"--net=/run/netns/{node}", AGENT_BIN, "--config", control], out, err)
    started = ready = False
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        a = http(d / "ferry.sock", "GET", "/v1/status", timeout=2) if (d / "ferry.sock").exists() else None
        if a and a.status == 200 and (a.json() or {}).get("ready"):
            ready = True
            break
        time.sleep(0.1)
    code = stop_process(proc, c.lab)
    c.s.check("the unmodified base YAML (control)", "starts, ready, SIGTERM exit 0",
              f"ready {ready}, exit {code}", ready and code == 0, "the cases below each change one thing of it", "agent YAML")
    for i, (name, change, key) in enumerate(YAML_CASES):
        f = d / f"case-{i:02d}.yaml"
        f.write_text("\n".join(change(list(base))) + "\n")
        code, lines = start_agent(c, node, f, timeout=60)
        expect_yaml(c, name, code, lines, f, key)
    missing = d / "no-such-file.yaml"
    code, lines = start_agent(c, node, missing, timeout=60)
    expect_yaml(c, "the config file missing", code, lines, missing, None)


def expect_yaml(c, name, code, lines, config_file, key):
    one_line = len(lines) == 1 and not any("Exception" in l or l.startswith("\tat ") or l.startswith("at ") for l in lines)
    names = bool(lines) and str(config_file.name) in lines[0] and (key is None or key in lines[0])
    ok = code == 2 and one_line and names
    actual = ("still running after 60 s (it accepted the file)" if code is None else f"exit {code}") + \
             f", {len(lines)} stderr line(s): {(lines[0] if lines else '')[:160]}"
    expected = "exit 2, one line naming the file" + (f" and '{key}'" if key else "")
    c.s.check(f"YAML: {name}", expected, actual, ok, SRC_YAML if ok else SRC_YAML + " | " + " / ".join(lines[:3])[:300],
              "agent YAML")


# ---------------------------------------------------------------------------
# State files

def plant(c, rel, content):
    """Writes junk to stateDir/<rel> and remembers it: it must end up in stateDir/quarantine/<rel>."""
    path = c.agent.state / rel
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(content)
    c.planted[rel] = content


def state_file_cases(c, healthy):
    agent, state = c.agent, c.agent.state
    runtime = Runtime(c.config, give_up_after=30)
    (h1, r1), (h2, r2), (h3, r3) = healthy

    # While the agent runs: one IPAM file turns to junk (issue 14 #4: STATUS/DEL/GC answered 999, every ADD 103).
    plant(c, "ipam/10.99.41.240", b"junk\n")
    pod = c.pod("statelive")
    c.expect_cni("state files", "STATUS with a junk IPAM file (agent running)",
                 run_cni(pod, "STATUS", {**c.config, "cniVersion": "1.1.0"}), None,
                 SRC_QUARANTINE + "; issue 14 #4: 999")
    add = run_cni(pod, "ADD", c.config)
    c.expect_cni("state files", "ADD with a junk IPAM file (agent running)", add, None, SRC_QUARANTINE + "; issue 14 #4: 103")
    gc = {**c.config, "cniVersion": "1.1.0",
          "cni.dev/valid-attachments": [{"containerID": p.container_id, "ifname": p.ifname} for p in c.pods]}
    c.expect_cni("state files", "GC with a junk IPAM file (agent running)", run_cni(pod, "GC", gc), None,
                 SRC_QUARANTINE + "; issue 14 #4: 999")

    # Stopped: junk in every kind of state file, then a start.
    code = agent.stop(signal.SIGTERM)
    if code != 0:
        raise LabError(f"the agent did not stop cleanly before the state cases: exit {code}")
    plant(c, "ipam/10.99.41.241", b"\x00\xff\xfe binary junk")
    plant(c, "ipam/10.99.41.242", b"a single line without its ifname")
    plant(c, "ipam/last_reserved", b"not-an-address\n")
    h2_rel = f"endpoints/{h2.container_id}@eth0.json"
    endpoint = json.loads((state / h2_rel).read_text())
    endpoint["created"] = "yesterday"                    # issue 14 #4: a bare DateTimeParseException at start
    plant(c, h2_rel, json.dumps(endpoint).encode())
    plant(c, "endpoints/ferryfault-bad-ghost@eth0.json", b"{")
    spool = state / "cni-spool"
    spool.mkdir(exist_ok=True)
    (spool / "del-ferryfault-junk.req").write_text("this is not a spooled request\n")

    agent.start()
    try:
        agent.wait_ready(timeout=90)
        started = "ready"
    except LabError as e:
        started = str(e)[:200]
    c.s.check("the agent starts with junk in IPAM, endpoint, last_reserved and spool files", "ready",
              started, started == "ready", SRC_QUARANTINE + "; issue 14 #4: refused to start", "state files")
    if started != "ready":
        agent.stop(signal.SIGKILL)
        for rel in c.planted:
            (state / rel).unlink(missing_ok=True)
        c.planted = None       # what moved before the failed start is unknown: no comparison
        agent.start()
        agent.wait_ready()     # without the junk, so that the rest of the scenario can run
        return
    for pod, result in ((h1, r1), (h3, r3)):
        check = runtime.check(pod, result)
        c.expect_cni("state files", f"CHECK of healthy {pod.container_id} after the start", check, None, SRC_QUARANTINE)
    fresh = c.pod("statefresh")
    c.expect_cni("state files", "a fresh ADD after the start", run_cni(fresh, "ADD", c.config), None, SRC_QUARANTINE)
    # After an ADD: the agent reads last_reserved when it allocates, not necessarily at start.
    quarantine = state / "quarantine"
    for rel, content in c.planted.items():
        moved = (quarantine / rel).exists()
        # The agent may write a good file of that name again (last_reserved): only the junk must be gone.
        junk_in_place = (state / rel).exists() and (state / rel).read_bytes() == content
        c.s.check(f"{rel} moved to quarantine/{rel}", "moved", "moved" if moved and not junk_in_place
                  else f"in quarantine: {moved}, junk still in place: {junk_in_place}", moved and not junk_in_place,
                  SRC_QUARANTINE, "state files")
    replay_set = spool / "del-ferryfault-junk.req"
    c.s.check("a junk spool file is not replayed and is moved aside", "moved out of the replay set (cni-spool/del-*.req)",
              "moved" if not replay_set.exists() else "still there", not replay_set.exists(),
              "README: the agent replays the DEL spool at start; a bad state file never stops the node", "state files")
    dele = runtime.delete(h2)
    address = r2["ips"][0]["address"].split("/")[0]
    gone = dele.ok and address not in ipam_files(agent) and not (state / h2_rel).exists()
    c.s.check(f"DEL of {h2.container_id}, whose endpoint file was quarantined", "exit 0, its address released",
              f"{dele.brief()}, IPAM file of {address} {'gone' if address not in ipam_files(agent) else 'still there'}",
              gone, "docs/cni.md DEL; EndpointStore: the address is IPAM's and the veth's name derives from the id",
              "state files")
