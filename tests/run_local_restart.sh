#!/usr/bin/env bash
# run-local.sh keeps its data across a stop and a start: the second start re-publishes allocation's
# history to a new, empty embedded broker and rebuilds the other services from it, and every team's
# caseload (people per cluster, reviews due and overdue, HoNOS) comes out as before.
#   tests/run_local_restart.sh BIN_DIR RUN_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
bin_dir=$1 run_dir=$2
run() { bash scripts/run-local.sh --no-setup --ephemeral-ports --people=60 --exit-after-demo --bin-dir="$bin_dir" --run-dir="$run_dir" "$@"; }

run --fresh >"$run_dir.first.out" 2>&1 || { cat "$run_dir.first.out"; exit 1; }
cp "$run_dir/caseloads.json" "$run_dir.first.json"
run >"$run_dir.second.out" 2>&1 || { cat "$run_dir.second.out"; exit 1; }
grep -q "Kept the data of the previous run" "$run_dir.second.out" || { echo "the second start did not recover the first run's data"; cat "$run_dir.second.out"; exit 1; }
if grep -q "Loading demo data" "$run_dir.second.out"; then echo "the second start loaded the demo again"; exit 1; fi
grep -q '"people"' "$run_dir.first.json" || { echo "no caseloads were captured"; exit 1; }
if ! diff -u "$run_dir.first.json" "$run_dir/caseloads.json"; then
  echo "caseloads differ after a stop and start (first run above, second below)"
  exit 1
fi
echo "caseloads identical after a stop and start: $(grep -c '"people"' "$run_dir.first.json") teams"
