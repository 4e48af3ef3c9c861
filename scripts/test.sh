#!/usr/bin/env bash
# Sets up (packages + build) and runs every test: unit, integration (embedded broker) and
# multi-process system tests, then the fuzz targets for 20 s each (fuzz/run.sh: clang++-14 builds
# them into build-fuzz/). Prints CTest's summary and the fuzzers'; exits non-zero on any failure.
#   scripts/test.sh              everything
#   scripts/test.sh --no-fuzz    CTest only (and no clang-14 install)
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz=1
for arg in "$@"; do
  case "$arg" in
    --no-fuzz) fuzz=0 ;;
    *) echo "test.sh: unknown option '$arg' (see the comment at the top of this file)" >&2; exit 2 ;;
  esac
done
if [[ $fuzz == 1 ]]; then bash scripts/setup.sh --browser --deploy-checks; else bash scripts/setup.sh --no-fuzz --browser --deploy-checks; fi
# Tests start their own brokers and services on free loopback ports and stop them.
rc=0
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900 || rc=$?
# A crash, leak, hang or broken property fails the suite; the input is kept and printed.
if [[ $fuzz == 1 ]]; then
  if command -v clang++-14 >/dev/null; then
    bash fuzz/run.sh --time=20 || rc=1
  else
    echo "test.sh: clang++-14 not installed; fuzz targets skipped" >&2
  fi
fi
exit "$rc"
