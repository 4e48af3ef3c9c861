#!/usr/bin/env bash
# Parses docker-compose.yml with every Compose that is installed: Debian 12's docker-compose (1.29)
# and/or the Compose v2 plugin (`docker compose`). No Docker daemon is needed and nothing is started.
# CTest compose_config; exit code 77 (CTest's SKIP_RETURN_CODE) when neither is installed.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
file="$here/docker-compose.yml"
# A dummy secret, so the check does not need (and never reads out) a real .env; variables from the
# environment win over .env in both Compose versions.
export PBR_PSEUDONYM_SECRET="check-only-not-a-secret-0123456789abcdef0123456789"
export COMPOSE_PROJECT_NAME=care-cluster

ran=0 rc=0
if command -v docker-compose >/dev/null 2>&1; then
  ran=1
  echo "docker-compose: $(docker-compose version --short 2>/dev/null || docker-compose --version)"
  docker-compose -f "$file" config -q || { echo "docker-compose config failed on $file" >&2; rc=1; }
fi
if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  ran=1
  echo "docker compose: $(docker compose version --short 2>/dev/null)"
  docker compose -f "$file" config -q || { echo "docker compose config failed on $file" >&2; rc=1; }
fi
if [[ $ran == 0 ]]; then
  echo "SKIP: no Compose installed (neither docker-compose nor the docker compose plugin);" \
       "Debian 12: apt-get install --no-install-recommends docker-compose"
  exit 77
fi
[[ $rc == 0 ]] && echo "$file: valid"
exit $rc
