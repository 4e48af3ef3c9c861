#!/usr/bin/env bash
# Runs PROMTOOL with the other arguments, or fails saying how to get it (the prometheus_* CTest tests).
#   bash deploy/prometheus/promtool.sh PROMTOOL test rules alerts_test.yml
set -euo pipefail
promtool="$1"
shift
if [[ ! -x "$promtool" ]]; then
  echo "promtool not found at $promtool: run  bash deploy/prometheus/get-promtool.sh  (it needs the Debian" \
       "archive once; see deploy/README.md), or configure with -DPBR_PROMTOOL=/path/to/promtool" >&2
  exit 1
fi
exec "$promtool" "$@"
