#!/usr/bin/env bash
# The root .dockerignore (classic builder) and deploy/Dockerfile.dockerignore (BuildKit reads it
# instead) must exclude the same things: compares their patterns, comments and blank lines aside.
# CTest compose_build_context_dockerignore.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
patterns() { grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$1"; }
if diff -u --label .dockerignore --label deploy/Dockerfile.dockerignore \
     <(patterns "$root/.dockerignore") <(patterns "$root/deploy/Dockerfile.dockerignore"); then
  echo ".dockerignore and deploy/Dockerfile.dockerignore list the same $(patterns "$root/.dockerignore" | wc -l) patterns"
else
  echo "the two .dockerignore files differ (above): make them list the same patterns" >&2
  exit 1
fi
