#!/usr/bin/env python3
"""Checks the provisioned Grafana dashboards (CTest grafana_dashboards, grafana_dashboard_promql).

    python3 deploy/grafana/check-dashboards.py [--promtool PATH]

Every deploy/grafana/dashboards/*.json must parse, every Prometheus data source in it (panels,
targets, template variables) must be the provisioned one by its fixed uid (the `uid:` in
provisioning/datasources/prometheus.yaml), with no data-source variable left, and panel ids must be
unique. With --promtool, every panel query is also parsed by `promtool check rules` (Grafana's
variables replaced by sample values), so a PromQL typo fails here and not on a blank panel.
Exit code 0 when all is well, 1 with one line per problem otherwise.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DATASOURCES = os.path.join(HERE, "provisioning", "datasources", "prometheus.yaml")
DASHBOARDS = sorted(glob.glob(os.path.join(HERE, "dashboards", "*.json")))


def provisioned_uid():
    # One data source in that file; a regex keeps this free of a YAML module.
    text = open(DATASOURCES, encoding="utf-8").read()
    uids = re.findall(r"^\s*uid:\s*['\"]?([A-Za-z0-9_-]+)['\"]?\s*$", text, re.M)
    if len(uids) != 1 or not re.search(r"^\s*type:\s*prometheus\s*$", text, re.M):
        sys.exit(f"{DATASOURCES}: expected exactly one prometheus data source with a fixed uid, found uids {uids}")
    return uids[0]


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels", []))


def check_dashboard(path, uid, problems, queries):
    name = os.path.relpath(path, HERE)
    try:
        d = json.load(open(path, encoding="utf-8"))
    except json.JSONDecodeError as e:
        problems.append(f"{name}: not valid JSON: {e}")
        return
    text = open(path, encoding="utf-8").read()
    if re.search(r"\$\{?datasource\b", text):
        problems.append(f"{name}: still refers to a $datasource variable; use the uid {uid!r}")

    def check_ds(where, ds, required):
        if ds is None:
            if required:
                problems.append(f"{name}: {where}: no datasource (want {{\"type\": \"prometheus\", \"uid\": \"{uid}\"}})")
            return
        if not isinstance(ds, dict):
            problems.append(f"{name}: {where}: datasource {ds!r} is a name, not {{type, uid}}")
        elif ds.get("type") == "grafana":
            pass  # Grafana's built-in annotations
        elif ds.get("type") != "prometheus" or ds.get("uid") != uid:
            problems.append(f"{name}: {where}: datasource {ds} is not the provisioned one (uid {uid!r})")

    for a in d.get("annotations", {}).get("list", []):
        check_ds(f"annotation {a.get('name')!r}", a.get("datasource"), False)
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") == "datasource":
            problems.append(f"{name}: template variable {v.get('name')!r} picks a data source; dashboards use the fixed uid")
        if v.get("type") == "query":
            check_ds(f"variable {v.get('name')!r}", v.get("datasource"), True)

    ids = {}
    for p in walk_panels(d.get("panels", [])):
        where = f"panel {p.get('id')} {p.get('title')!r}"
        if p.get("id") in ids:
            problems.append(f"{name}: {where}: id also used by panel {ids[p.get('id')]!r}")
        ids[p.get("id")] = p.get("title")
        if "gridPos" not in p:
            problems.append(f"{name}: {where}: no gridPos")
        if p.get("type") == "row":
            continue
        check_ds(where, p.get("datasource"), True)
        if not p.get("targets"):
            problems.append(f"{name}: {where}: no targets")
        for t in p.get("targets", []):
            check_ds(f"{where} target {t.get('refId')}", t.get("datasource"), True)
            if not t.get("expr"):
                problems.append(f"{name}: {where} target {t.get('refId')}: no expr")
            else:
                queries.append((name, p.get("id"), t.get("refId"), t["expr"]))


def promql_check(promtool, queries, problems):
    """Parses every query with promtool by making each a recording rule."""
    builtins = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}

    def concrete(expr):
        # Built-in intervals get durations; the dashboard's own variables sit in regex matchers.
        return re.sub(r"\$\{?(\w+)\}?", lambda m: builtins.get(m.group(1), ".+"), expr)

    rules = [{"record": f"dashboard_check:panel_{pid}_{ref}", "expr": concrete(e)} for _, pid, ref, e in queries]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        json.dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}, f)  # JSON is YAML
    try:
        r = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    if r.returncode != 0:
        problems.append("promtool check rules on the dashboard queries failed (recording rule "
                        "dashboard_check:panel_<id>_<refId> = that panel's query):\n" + r.stdout + r.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--promtool", help="also parse every query with this promtool")
    args = ap.parse_args()
    if not DASHBOARDS:
        sys.exit(f"no dashboards in {os.path.join(HERE, 'dashboards')}")
    uid = provisioned_uid()
    problems, queries = [], []
    for path in DASHBOARDS:
        check_dashboard(path, uid, problems, queries)
    if args.promtool and not problems:
        if not (os.path.isfile(args.promtool) and os.access(args.promtool, os.X_OK)):
            sys.exit(f"promtool not found at {args.promtool!r}: run deploy/prometheus/get-promtool.sh")
        promql_check(args.promtool, queries, problems)
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"{len(DASHBOARDS)} dashboard(s), {len(queries)} queries: every data source is uid {uid!r}"
          + (", every query parses" if args.promtool else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
