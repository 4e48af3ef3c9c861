#!/usr/bin/env python3
"""Writes deploy/k8s/prometheusrule.yaml from deploy/prometheus/alerts.yml (needs python3-yaml).

Run from the repository root after changing alerts.yml:
    python3 deploy/prometheus/to-prometheusrule.py > deploy/k8s/prometheusrule.yaml
"""
import sys

import yaml

groups = yaml.safe_load(open("deploy/prometheus/alerts.yml"))["groups"]
doc = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "PrometheusRule",
    "metadata": {
        "name": "care-cluster-alerts",
        "labels": {"app.kubernetes.io/part-of": "care-cluster", "release": "kube-prometheus-stack"},
    },
    "spec": {"groups": groups},
}
sys.stdout.write(
    "# GENERATED from deploy/prometheus/alerts.yml by deploy/prometheus/to-prometheusrule.py: edit\n"
    "# alerts.yml and regenerate. The same rules for the Prometheus Operator; the release label must\n"
    "# match your kube-prometheus-stack release, as in servicemonitor.yaml.\n"
)
sys.stdout.write(yaml.safe_dump(doc, sort_keys=False, width=120))
