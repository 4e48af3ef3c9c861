#!/usr/bin/env python3
"""Checks around alerts.yml that promtool does not make (CTest prometheus_alerts_covered; needs python3-yaml).

    python3 deploy/prometheus/check-alerts.py

- every alert in alerts.yml is expected to fire in at least one case of alerts_test.yml;
- every alert's runbook annotation points at a heading of deploy/README.md that exists;
- deploy/k8s/prometheusrule.yaml carries exactly the groups of alerts.yml (regenerate it with
  `python3 deploy/prometheus/to-prometheusrule.py > deploy/k8s/prometheusrule.yaml`).
Exit code 0 when all is well, 1 with one line per problem otherwise.
"""
import os
import re
import sys

try:
    import yaml
except ImportError:
    sys.exit("check-alerts.py needs the python3-yaml package (apt-get install python3-yaml)")

HERE = os.path.dirname(os.path.abspath(__file__))
DEPLOY = os.path.dirname(HERE)


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def github_anchor(heading):
    # GitHub's heading ids: lower case, punctuation other than '-' and '_' dropped, spaces to '-'.
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def main():
    problems = []
    rules = load(os.path.join(HERE, "alerts.yml"))
    tests = load(os.path.join(HERE, "alerts_test.yml"))
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]

    fired = {c["alertname"] for t in tests.get("tests", []) for c in t.get("alert_rule_test", []) if c.get("exp_alerts")}
    for a in alerts:
        if a["alert"] not in fired:
            problems.append(f"alerts_test.yml: no case expects {a['alert']} to fire (add one with exp_alerts)")

    readme = open(os.path.join(DEPLOY, "README.md"), encoding="utf-8").read()
    anchors = {github_anchor(h) for h in re.findall(r"^#+ (.+)$", readme, re.M)}
    for a in alerts:
        runbook = a.get("annotations", {}).get("runbook", "")
        m = re.fullmatch(r"deploy/README\.md#(.+)", runbook)
        if not m:
            problems.append(f"alerts.yml: {a['alert']}: runbook {runbook!r} is not deploy/README.md#<anchor>")
        elif m.group(1) not in anchors:
            problems.append(f"alerts.yml: {a['alert']}: deploy/README.md has no heading for #{m.group(1)}")

    k8s = load(os.path.join(DEPLOY, "k8s", "prometheusrule.yaml"))
    if k8s.get("spec", {}).get("groups") != rules["groups"]:
        problems.append("deploy/k8s/prometheusrule.yaml is out of date: python3 deploy/prometheus/to-prometheusrule.py"
                        " > deploy/k8s/prometheusrule.yaml (from the repository root)")

    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"{len(alerts)} alerts: each fires in a test, has a runbook section, and is in k8s/prometheusrule.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
