#!/usr/bin/env bash
# Puts promtool (from Debian 12's `prometheus` package) at build/tools/promtool for the
# prometheus_* CTest tests (deploy/CMakeLists.txt), WITHOUT installing the package: installing it
# would start and enable a Prometheus server. Downloads the .deb with `apt-get download`, unpacks it
# with `dpkg-deb -x` in a temporary directory and keeps only usr/bin/promtool.
#
#   bash deploy/prometheus/get-promtool.sh            # -> build/tools/promtool
#   bash deploy/prometheus/get-promtool.sh OUT_PATH   # somewhere else
#
# Idempotent: does nothing when a working promtool is already there (so it also works offline
# once it has run). Uses a prometheus .deb already in apt's cache if there is one. Without one and
# without network it stops with exit code 1 and says what to do.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$repo/build/tools/promtool}"

if [[ -x "$out" ]] && "$out" --version >/dev/null 2>&1; then
  exit 0
fi

fail() {
  echo "get-promtool.sh: $*" >&2
  echo "get-promtool.sh: promtool is needed only by the prometheus_* tests (ctest -R prometheus);" \
       "run this script again with access to the Debian archive, or copy a promtool to $out" >&2
  exit 1
}
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || fail "needs apt-get and dpkg-deb (Debian)"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# An already-downloaded package (e.g. from an earlier `apt-get install --download-only`) first.
deb="$(ls -1 /var/cache/apt/archives/prometheus_*_"$(dpkg --print-architecture)".deb 2>/dev/null | sort -V | tail -n 1 || true)"
if [[ -z "$deb" ]]; then
  if ! (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>"$tmp/err"); then
    # No package lists yet (a fresh machine or image): refresh them once, as root only.
    if [[ $(id -u) == 0 ]] && apt-get update -qq >/dev/null 2>>"$tmp/err"; then
      (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>>"$tmp/err") \
        || fail "apt-get download prometheus failed: $(tail -n 3 "$tmp/err" | tr '\n' ' ')"
    else
      fail "apt-get download prometheus failed (offline, or no package lists: apt-get update as root): $(tail -n 3 "$tmp/err" | tr '\n' ' ')"
    fi
  fi
  deb="$(ls -1 "$tmp"/prometheus_*.deb | head -n 1)"
fi

dpkg-deb -x "$deb" "$tmp/x" || fail "cannot unpack $deb"
[[ -f "$tmp/x/usr/bin/promtool" ]] || fail "$deb has no usr/bin/promtool"
mkdir -p "$(dirname "$out")"
install -m 0755 "$tmp/x/usr/bin/promtool" "$out.tmp.$$"
mv -f "$out.tmp.$$" "$out"
"$out" --version >/dev/null 2>&1 || fail "$out does not run"
echo "get-promtool.sh: $("$out" --version 2>&1 | head -n 1) -> $out"
