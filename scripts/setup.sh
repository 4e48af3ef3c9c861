#!/usr/bin/env bash
# Installs the Debian 12 packages the platform needs and builds it into build/.
# Idempotent: re-running only installs what is missing and rebuilds what changed.
#   scripts/setup.sh               install + build (RelWithDebInfo)
#   scripts/setup.sh --release     install + build Release (deploy/Dockerfile uses this)
#   scripts/setup.sh --deps-only   install packages only
#   scripts/setup.sh --no-fuzz     without the fuzzing toolchain (clang-14; deploy/Dockerfile uses this)
#   scripts/setup.sh --browser     also Chromium and ChromeDriver (the dashboard's browser test; scripts/test.sh uses this)
#   scripts/setup.sh --deploy-checks  also Debian's docker-compose, to check deploy/compose (no Docker daemon; scripts/test.sh uses this)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_TYPE=RelWithDebInfo
do_deps=1
do_build=1
do_fuzz=1
do_browser=0
do_deploy_checks=0
for arg in "$@"; do
  case "$arg" in
    --release) BUILD_TYPE=Release ;;
    --deps-only) do_build=0 ;;
    --no-fuzz) do_fuzz=0 ;;
    --browser) do_browser=1 ;;
    --deploy-checks) do_deploy_checks=1 ;;
    *) echo "setup.sh: unknown option '$arg' (see the comment at the top of this file)" >&2; exit 2 ;;
  esac
done

PACKAGES=(
  g++ cmake ninja-build pkg-config git ca-certificates tzdata procps curl
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librdkafka-dev librocksdb-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libabsl-dev libssl-dev libspdlog-dev libfmt-dev
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libcpp-httplib-dev
  python3 python3-yaml
)
# The fuzz targets (fuzz/run.sh, run by scripts/test.sh): clang with libFuzzer and the sanitizer
# runtimes, and llvm-symbolizer (llvm-14) so a crash report names functions and lines.
if [[ $do_fuzz == 1 ]]; then PACKAGES+=(clang-14 libclang-rt-14-dev llvm-14); fi
# The dashboard's browser test drives headless Chromium through ChromeDriver (tests/dashboard_browser_test.cc).
if [[ $do_browser == 1 ]]; then PACKAGES+=(chromium chromium-driver fonts-dejavu-core); fi
# CTest compose_config parses deploy/compose/docker-compose.yml with the Compose Debian ships (1.29).
# --no-install-recommends below keeps the Docker daemon out: parsing needs none.
if [[ $do_deploy_checks == 1 ]]; then PACKAGES+=(docker-compose); fi

if [[ $do_deps == 1 ]]; then
  missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    if [[ $(id -u) != 0 ]]; then
      echo "setup.sh: missing Debian packages: ${missing[*]}" >&2
      echo "setup.sh: run as root (or: sudo apt-get install ${missing[*]})" >&2
      [[ $do_fuzz == 1 ]] && echo "setup.sh: (--no-fuzz, or scripts/test.sh --no-fuzz, skips clang-14 and the fuzz targets)" >&2
      exit 1
    fi
    echo "setup.sh: installing ${#missing[@]} Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

if [[ $do_build == 1 ]]; then
  jobs=$(nproc)
  # promtool for the prometheus_* tests, unpacked from Debian's .deb without starting a Prometheus.
  bash deploy/prometheus/get-promtool.sh \
    || echo "setup.sh: continuing without promtool (the prometheus_* tests will fail)" >&2
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" >/dev/null
  echo "setup.sh: building ($BUILD_TYPE, $jobs jobs) into build/ ..."
  cmake --build build -j "$jobs"
  echo "setup.sh: built; programs are in build/bin/"
fi
