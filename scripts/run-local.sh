#!/usr/bin/env bash
# Sets up (packages + build), then runs the whole platform on this machine: the embedded Kafka
# broker and the four services on loopback, loaded with synthetic demo data. Ctrl-C stops it all.
#
#   scripts/run-local.sh                 set up, start, load 300 demo people, wait for Ctrl-C
#   options: --no-setup  --people=N  --ephemeral-ports  --exit-after-demo  --bin-dir=DIR  --run-dir=DIR
#            --fresh (forget the previous run's data and start empty)
#
# gRPC is mutual TLS, as in production: a local CA and a certificate per service and per role are
# made with openssl (scripts/make-certs.sh) into RUN_DIR/tls/, with RUN_DIR/tls/<role>.env setting
# pbrctl's PBRCTL_TLS_* variables for that role. Metrics stay plain HTTP on loopback.
#
# Data is kept across runs (under var/local/ by default). The embedded broker keeps nothing across
# restarts, so a second start recovers the way a trust would after losing its broker (README:
# Recovery): allocation, the system of record, re-publishes its history to the new broker
# (--republish-history) and the other services rebuild their state from it (--reset-state).
set -euo pipefail
cd "$(dirname "$0")/.."

setup=1 people=300 ephemeral=0 exit_after_demo=0 fresh=0 bin_dir=build/bin run_dir=var/local
for arg in "$@"; do
  case "$arg" in
    --no-setup) setup=0 ;;
    --people=*) people="${arg#*=}" ;;
    --ephemeral-ports) ephemeral=1 ;;
    --exit-after-demo) exit_after_demo=1 ;;
    --fresh) fresh=1 ;;
    --bin-dir=*) bin_dir="${arg#*=}" ;;
    --run-dir=*) run_dir="${arg#*=}" ;;
    *) echo "run-local.sh: unknown option '$arg' (see the comment at the top of this file)" >&2; exit 2 ;;
  esac
done

if [[ $setup == 1 ]]; then bash scripts/setup.sh; fi
for p in pbr-broker pbr-allocation pbr-review-scheduler pbr-outcomes pbr-reporting pbrctl; do
  [[ -x "$bin_dir/$p" ]] || { echo "run-local.sh: $bin_dir/$p is missing; run scripts/setup.sh" >&2; exit 1; }
done

if [[ $fresh == 1 ]]; then rm -rf "$run_dir"; fi
# A previous run's data: recover it onto the new (empty) broker instead of loading the demo again.
restart=0
# (.kept-data marks a run directory this version made; one from before is started afresh.)
if [[ -d "$run_dir/allocation" && -f "$run_dir/demo.out" && -f "$run_dir/.kept-data" ]]; then restart=1; fi
if [[ $restart == 0 ]]; then rm -rf "$run_dir"; fi
mkdir -p "$run_dir/logs"
touch "$run_dir/.kept-data"
services=(allocation review-scheduler outcomes reporting)
declare -A grpc_port=([allocation]=50051 [review-scheduler]=50052 [outcomes]=50053 [reporting]=50054)
declare -A metrics_port=([allocation]=9101 [review-scheduler]=9102 [outcomes]=9103 [reporting]=9104)
declare -A grpc_addr metrics_addr pid
broker_pid=""

stop_all() {
  trap - EXIT INT TERM
  echo
  echo "Stopping..."
  for ((i = ${#services[@]} - 1; i >= 0; i--)); do
    local p="${pid[${services[i]}]:-}"
    [[ -n "$p" ]] && kill -TERM "$p" 2>/dev/null || true
  done
  for s in "${services[@]}"; do
    local p="${pid[$s]:-}"
    [[ -n "$p" ]] && wait "$p" 2>/dev/null || true
  done
  if [[ -n "$broker_pid" ]]; then kill -TERM "$broker_pid" 2>/dev/null || true; wait "$broker_pid" 2>/dev/null || true; fi
  echo "Stopped. Logs are in $run_dir/logs/."
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# Waits up to $3 seconds for a line starting with $2 in file $1 and prints it.
wait_for_line() {
  local file=$1 prefix=$2 deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    if line=$(grep -m1 "^$prefix" "$file" 2>/dev/null); then echo "$line"; return 0; fi
    sleep 0.1
  done
  echo "run-local.sh: no '$prefix' line in $file after $3 s; see $run_dir/logs/" >&2
  return 1
}

"$bin_dir/pbr-broker" --partitions=6 >"$run_dir/broker.out" 2>"$run_dir/logs/broker.log" &
broker_pid=$!
bootstrap=$(wait_for_line "$run_dir/broker.out" BOOTSTRAP 30 | cut -d' ' -f2)
echo "Embedded Kafka broker on $bootstrap (6 partitions per topic)"

# Allocation's pseudonym key: random, made once per run directory (mode 0600) and then kept, so
# pseudonyms stay the same across restarts with the same data. Deployments keep theirs in a secret store.
secret_file="$run_dir/pseudonym-secret"
if [[ ! -s $secret_file ]]; then
  (umask 077 && head -c 48 /dev/urandom | base64 -w0 >"$secret_file.new" && mv "$secret_file.new" "$secret_file")
fi

# The certificates (kept with the data; a run directory from before TLS gets them now).
tls_dir="$run_dir/tls"
demo_sources=rio-north,systmone-south  # pbrctl demo's two EPRs
bash scripts/make-certs.sh "$tls_dir" --source-systems="$demo_sources" >/dev/null
tls_abs=$(cd "$tls_dir" && pwd)
for role in clinician operations finance admin epr-feed-rio-north epr-feed-systmone-south; do
  printf 'export PBRCTL_TLS_CA_FILE=%q PBRCTL_TLS_CERT_FILE=%q PBRCTL_TLS_KEY_FILE=%q\n' \
    "$tls_abs/ca.pem" "$tls_abs/client-$role.pem" "$tls_abs/client-$role.key" >"$tls_dir/$role.env"
done

for s in "${services[@]}"; do
  if [[ $ephemeral == 1 ]]; then g=0 m=0; else g=${grpc_port[$s]} m=${metrics_port[$s]}; fi
  extra=(--tls-ca-file="$tls_dir/ca.pem" --tls-cert-file="$tls_dir/$s.pem" --tls-key-file="$tls_dir/$s.key")
  if [[ $restart == 1 ]]; then
    if [[ $s == allocation ]]; then extra+=(--republish-history=true); else extra+=(--reset-state=true); fi
  fi
  [[ $s == allocation ]] && extra+=(--pseudonym-secret-file="$secret_file")
  # Flow control: no outbox runs further ahead of a consumer than the embedded broker keeps (5 MiB a
  # partition), so a bulk load waits for the consumers instead of losing events. Each service lists
  # the other consumers' groups with the topics they read, so they count from the start, before they
  # have joined (as LocalPlatform::kConsumerTopics does for the tests).
  declare -A reads=([review-scheduler]="assessment-recorded|care-event-recorded"
                    [outcomes]="assessment-recorded|care-event-recorded"
                    [reporting]="assessment-recorded|care-event-recorded|outcome-recorded|review-due")
  groups=""
  for c in review-scheduler outcomes reporting; do
    if [[ $c != "$s" ]]; then groups+="${groups:+,}$c=${reads[$c]}"; fi
  done
  extra+=(--flow-control-groups="$groups")
  # The operations dashboard (reporting serves it).
  if [[ $s == reporting ]]; then
    if [[ $ephemeral == 1 ]]; then extra+=(--http-address=127.0.0.1:0); else extra+=(--http-address=127.0.0.1:8094); fi
  fi
  "$bin_dir/pbr-$s" --data-dir="$run_dir/$s" --kafka-bootstrap="$bootstrap" --rules-dir=rules \
    --grpc-address="127.0.0.1:$g" --metrics-address="127.0.0.1:$m" "${extra[@]}" \
    >"$run_dir/$s.out" 2>"$run_dir/logs/$s.log" &
  pid[$s]=$!
done
for s in "${services[@]}"; do
  ready=$(wait_for_line "$run_dir/$s.out" READY 60)
  grpc_addr[$s]=$(sed 's/.* grpc=\([^ ]*\).*/\1/' <<<"$ready")
  metrics_addr[$s]=$(sed 's/.* metrics=\([^ ]*\).*/\1/' <<<"$ready")
done
dashboard_addr=$(sed -n 's/.* http=\([^ ]*\).*/\1/p' "$run_dir/reporting.out")

# ctl_as ROLE ARGS...: pbrctl with that role's certificate.
ctl_as() {
  local role=$1
  shift
  "${ctl[@]}" --tls-ca-file="$tls_dir/ca.pem" --tls-cert-file="$tls_dir/client-$role.pem" \
    --tls-key-file="$tls_dir/client-$role.key" "$@"
}
ctl=("$bin_dir/pbrctl" --allocation="${grpc_addr[allocation]}" --scheduler="${grpc_addr[review-scheduler]}"
     --outcomes="${grpc_addr[outcomes]}" --reporting="${grpc_addr[reporting]}")
ctl_as admin wait-ready --deadline=60s
if [[ $restart == 0 ]]; then
  echo "Loading demo data ($people synthetic people from two EPRs, each over its own feed certificate)..."
  "${ctl[@]}" --tls-ca-file="$tls_dir/ca.pem" --feed-cert-dir="$tls_dir" demo --people="$people" | tee "$run_dir/demo.out"
else
  echo "Kept the data of the previous run in $run_dir: allocation re-published its history to the new broker"
  echo "and the other services are rebuilding from it (start with --fresh to begin again)."
fi
# The last closed month, whose tariff lines reporting has issued (finance's export).
last_month=$(date -d "$(date +%Y-%m-01) -1 day" +%Y-%m)
# The demo's largest team and how many people it should show ("teams  cmht-south 13, ...").
read -r team team_people < <(sed -n 's/^teams *\([^ ,]*\) \([0-9]*\).*/\1 \2/p' "$run_dir/demo.out")

cat <<EOT

The care-cluster platform is running on this machine:
  service            gRPC                 metrics
  allocation         ${grpc_addr[allocation]}      http://${metrics_addr[allocation]}/metrics
  review-scheduler   ${grpc_addr[review-scheduler]}      http://${metrics_addr[review-scheduler]}/metrics
  outcomes           ${grpc_addr[outcomes]}      http://${metrics_addr[outcomes]}/metrics
  reporting          ${grpc_addr[reporting]}      http://${metrics_addr[reporting]}/metrics
  Kafka bootstrap    $bootstrap

Operations dashboard (HTTPS, operations role; a sign-in link: . $tls_dir/operations.env && $bin_dir/pbrctl --reporting=${grpc_addr[reporting]} dashboard-link):
  https://$dashboard_addr/
  its JSON, documented in services/reporting/dashboard/README.md: https://$dashboard_addr/api/v1/dashboard

gRPC is mutual TLS: each pbrctl call presents a role's certificate (README: Mutual TLS and roles).
Try (in another terminal), as operations:
  . $tls_dir/operations.env
  $bin_dir/pbrctl caseload $team
  $bin_dir/pbrctl overdue --team $team
  $bin_dir/pbrctl overdue-count
  $bin_dir/pbrctl schedule <person_id>
as the rio-north EPR's feed, a clinician, finance and admin:
  . $tls_dir/epr-feed-rio-north.env && $bin_dir/pbrctl record tools/pbrctl/examples/assessment.json
  . $tls_dir/clinician.env && $bin_dir/pbrctl person --nhs 9990000018
  . $tls_dir/finance.env && $bin_dir/pbrctl tariff-export --commissioner 00X --month $last_month --out 00X-$last_month.csv
  . $tls_dir/admin.env && $bin_dir/pbrctl audit --person <person_id>
  curl -s http://${metrics_addr[allocation]}/metrics | grep pbr_
EOT

# Whether reporting shows team $1 with $2 people. The reply is read whole before it is searched: under
# pipefail, grep -q quitting early would fail the pipeline with pbrctl's SIGPIPE.
caseload_shows() {
  local reply
  reply=$(ctl_as operations caseload "$1" --json 2>/dev/null) || return 1
  grep -Eq "^ \"people\": *$2\b" <<<"$reply"
}

if [[ $exit_after_demo == 1 ]]; then
  # Smoke check: reporting must reflect the demo load before we call it working.
  for _ in $(seq 1 300); do
    if caseload_shows "$team" "$team_people"; then
      ctl_as operations caseload "$team"
      # Every team's caseload once all of it is reflected, for comparing one run with the next
      # (pbrctl's JSON prints every field, zeros included, so a cluster 0 row or a 0 count compares too).
      teams=$(sed -n 's/^teams *//p' "$run_dir/demo.out" | tr ',' '\n' | awk '{print $1" "$2}')
      while read -r t n; do
        [[ -z "$t" ]] && continue
        for _ in $(seq 1 300); do
          caseload_shows "$t" "$n" && break
          sleep 0.2
        done
      done <<<"$teams"
      # ... and the scheduler's and outcomes' events with it: no consumer lags, no outbox holds anything.
      calm=0
      for _ in $(seq 1 300); do
        backlog=0
        for s in "${services[@]}"; do
          n=$(curl -s "http://${metrics_addr[$s]}/metrics" | awk '/^pbr_(consumer_lag|outbox_depth)[{ ]/ {t += $NF} END {print t + 0}')
          backlog=$((backlog + ${n%.*}))
        done
        if ((backlog == 0)); then calm=$((calm + 1)); else calm=0; fi
        ((calm >= 3)) && break
        sleep 0.5
      done
      while read -r t n; do
        [[ -n "$t" ]] && ctl_as operations caseload "$t" --json
      done <<<"$teams" >"$run_dir/caseloads.json"
      exit 0
    fi
    sleep 0.2
  done
  echo "run-local.sh: reporting did not reflect the demo load within 60 s" >&2
  exit 1
fi
echo
echo "Press Ctrl-C to stop everything."
while true; do
  for s in "${services[@]}"; do
    if ! kill -0 "${pid[$s]}" 2>/dev/null; then
      echo "run-local.sh: $s stopped unexpectedly; its log: $run_dir/logs/$s.log" >&2
      exit 1
    fi
  done
  sleep 1
done
