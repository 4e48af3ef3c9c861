#!/usr/bin/env bash
# Sets up (packages + build) and runs every test: unit, integration (embedded broker) and
# multi-process system tests. Prints CTest's summary; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Tests start their own brokers and services on free loopback ports and stop them.
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900
