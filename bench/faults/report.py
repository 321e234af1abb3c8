"""What a scenario found, the console table, and the Markdown record (docs/reliability.md)."""
import json
from dataclasses import asdict, dataclass, field


@dataclass
class Check:
    """One invariant or one documented answer: what was expected, what happened, and the evidence."""
    name: str
    expected: str
    actual: str
    ok: bool
    evidence: str = ""
    group: str = ""


@dataclass
class Scenario:
    key: str
    title: str
    what: str                                   # what the scenario does, for the record
    numbers: list = field(default_factory=list)  # (label, value)
    checks: list = field(default_factory=list)
    tables: list = field(default_factory=list)   # (title, header, rows)
    seconds: float = 0.0
    error: str = ""                             # the harness could not finish the scenario

    def check(self, name, expected, actual, ok, evidence="", group=""):
        self.checks.append(Check(name, str(expected), str(actual), bool(ok), str(evidence), group))
        return ok

    def failures(self):
        return [c for c in self.checks if not c.ok]

    @property
    def passed(self):
        return not self.error and not self.failures()


def leak_checks(scenario, footprint, where):
    """One check per kind of leftover: every count must be 0."""
    for kind, objects in footprint.items.items():
        scenario.check(f"leftover {kind} ({where})", 0, len(objects), not objects,
                       "; ".join(objects[:4]) + (f" (+{len(objects) - 4} more)" if len(objects) > 4 else ""),
                       group="leftovers")


# ---------------------------------------------------------------------------
# Console

def console_table(scenarios):
    lines = ["", f"{'scenario':<34} {'result':<7} {'checks':>9}  key numbers"]
    for s in scenarios:
        passed = sum(c.ok for c in s.checks)
        result = "ERROR" if s.error else ("pass" if s.passed else "FAIL")
        nums = ", ".join(f"{k} {v}" for k, v in s.numbers[:4])
        lines.append(f"{s.title:<34} {result:<7} {passed:>4}/{len(s.checks):<4}  {nums}")
    for s in scenarios:
        bad = s.failures()
        if s.error or bad:
            lines.append("")
            lines.append(f"{s.title}: {'harness error: ' + s.error if s.error else ''}")
            for c in bad:
                lines.append(f"  ✗ {c.name}: expected {c.expected}; got {c.actual}" + (f"  [{c.evidence[:200]}]" if c.evidence else ""))
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Markdown

def md_escape(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def markdown(meta, scenarios, static_sections):
    out = [
        "# Reliability: the fault campaign",
        "",
        "What happens to a node when the agent is killed, when `ferry-cni` is killed, when the agent restarts",
        "under traffic, and when every input it takes is malformed, Kubernetes objects included. Recorded by",
        "`./bench/faults.sh` (as root; `--quick` for a shorter run while developing, `--only",
        "agent-kill,cni-kill,traffic,malformed,kube` for a subset) against the real `dist/bin/ferry-agent` and",
        "`dist/bin/ferry-cni`, in network namespaces named `ferryfault-*`, with pins under",
        "`/sys/fs/bpf/ferry-fault-*`; the kube scenario's API server is fabric8's mock server in CRUD mode, run",
        "as a process of the campaign. Everything is removed on exit.",
        "Issue 14 asks for this record; it is rewritten by every full run, failures included. The agents' logs",
        "of the last run stay in `bench/results/quick-faults-logs/` (not in git) for the evidence behind a finding.",
        "",
        f"- date: {meta['date']}",
        f"- commit: `{meta['commit']}`",
        f"- kernel: {meta['kernel']}, {meta['cores']} cores ({meta['cpu']})",
        f"- run: {'quick' if meta['quick'] else 'full'}, scenarios {', '.join(meta['only'])}, seed {meta['seed']},"
        f" {meta['seconds']:.0f} s",
        f"- load: {meta['load']}",
        "",
        "## Summary",
        "",
    ]
    rows = []
    for s in scenarios:
        passed = sum(c.ok for c in s.checks)
        result = "harness error" if s.error else ("pass" if s.passed else "**FAIL**")
        rows.append([s.title, result, f"{passed}/{len(s.checks)}", "; ".join(f"{k}: {v}" for k, v in s.numbers)])
    out.append(md_table(["scenario", "result", "checks passed", "numbers"], rows))
    findings = [(s, c) for s in scenarios for c in s.failures()]
    out += ["", "## Findings", ""]
    if not findings and not any(s.error for s in scenarios):
        out.append("None: every leak count is 0 and every invariant and documented answer held.")
    else:
        out.append("Each is a check that did not hold: what the docs or issue 14 promise, what the run saw,")
        out.append("and the evidence.")
        out.append("")
        frows = [[s.title, c.name, c.expected, c.actual, c.evidence[:300]] for s, c in findings]
        frows += [[s.title, "harness error", "-", s.error, ""] for s in scenarios if s.error]
        out.append(md_table(["scenario", "check", "expected", "actual", "evidence"], frows))
    for s in scenarios:
        out += ["", f"## {s.title}", "", s.what.strip(), ""]
        if s.numbers:
            out.append(md_table(["", "value"], [[k, v] for k, v in s.numbers]))
            out.append("")
        for title, header, trows in s.tables:
            out += [f"**{title}**", "", md_table(header, trows), ""]
        if s.checks:
            out.append("**Checks**")
            out.append("")
            crows = [[c.group, c.name, c.expected, c.actual, "✓" if c.ok else "✗ **finding**", c.evidence[:200]]
                     for c in s.checks]
            out.append(md_table(["group", "check", "expected", "actual", "", "evidence"], crows))
        if s.error:
            out += ["", f"The harness could not finish this scenario: {s.error}"]
    for title, text in static_sections:
        out += ["", f"## {title}", "", text.strip()]
    return "\n".join(out) + "\n"


def to_json(meta, scenarios):
    return json.dumps({"meta": meta, "scenarios": [asdict(s) for s in scenarios]}, indent=1)
