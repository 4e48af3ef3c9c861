#!/usr/bin/env bash
# Creates the care-cluster topics, or checks and corrects them if they already exist.
# Safe to rerun. Runs inside the apache/kafka image (compose and the Kubernetes Job both use it).
#
# Environment:
#   BOOTSTRAP_SERVERS    required, HOST:PORT[,HOST:PORT]
#   TOPIC_PREFIX         per environment, e.g. "prod." (must match the services' topic-prefix)
#   PARTITIONS           partitions per topic (default 12). Fixed for the life of a topic: adding
#                        partitions later re-maps person keys, so this script refuses to.
#   REPLICATION_FACTOR   default 3
#   MIN_INSYNC_REPLICAS  default 2
#   ADMIN_CONFIG         optional client properties file for TLS/SASL (--command-config)
#   KAFKA_BIN            default /opt/kafka/bin
set -euo pipefail

: "${BOOTSTRAP_SERVERS:?set BOOTSTRAP_SERVERS}"
prefix="${TOPIC_PREFIX-}"
partitions="${PARTITIONS:-12}"
replication="${REPLICATION_FACTOR:-3}"
min_isr="${MIN_INSYNC_REPLICAS:-2}"
bin="${KAFKA_BIN:-/opt/kafka/bin}"

admin=(--bootstrap-server "$BOOTSTRAP_SERVERS")
if [[ -n "${ADMIN_CONFIG-}" ]]; then admin+=(--command-config "$ADMIN_CONFIG"); fi

# Consumers keep their offsets in RocksDB and never reset (auto.offset.reset=error), and a lost
# service state is rebuilt by replaying from offset 0. So every topic keeps everything:
# retention.ms=-1 and cleanup.policy=delete (compaction would drop earlier events for a person).
# dead-letter is kept too: it is the record of events that were never applied; audit-recorded
# carries allocation's audit trail (identifiable reads and corrections) for the trust's SIEM.
topics=(assessment-recorded care-event-recorded cluster-changed review-due review-completed outcome-recorded tariff-activity dead-letter audit-recorded)
configs="retention.ms=-1,retention.bytes=-1,cleanup.policy=delete,min.insync.replicas=${min_isr},unclean.leader.election.enable=false"
config_args=()
IFS=, read -r -a pairs <<<"$configs"
for kv in "${pairs[@]}"; do config_args+=(--config "$kv"); done

failed=0
for t in "${topics[@]}"; do
  name="${prefix}${t}"
  "$bin/kafka-topics.sh" "${admin[@]}" --create --if-not-exists --topic "$name" \
    --partitions "$partitions" --replication-factor "$replication" \
    "${config_args[@]}" >/dev/null
  # --if-not-exists leaves an existing topic's settings alone, so enforce them explicitly.
  "$bin/kafka-configs.sh" "${admin[@]}" --entity-type topics --entity-name "$name" \
    --alter --add-config "$configs" >/dev/null
  desc="$("$bin/kafka-topics.sh" "${admin[@]}" --describe --topic "$name")"
  have="$(sed -n 's/.*PartitionCount: *\([0-9]*\).*/\1/p' <<<"$desc" | head -n1)"
  rf="$(sed -n 's/.*ReplicationFactor: *\([0-9]*\).*/\1/p' <<<"$desc" | head -n1)"
  if [[ "$have" != "$partitions" ]]; then
    echo "ERROR $name has $have partitions, expected $partitions. Do not change the partition count of a" \
         "live topic; set PARTITIONS=$have to keep it." >&2
    failed=1
  elif [[ "$rf" -lt "$replication" ]]; then
    echo "ERROR $name has replication factor $rf, expected $replication (reassign partitions to fix)." >&2
    failed=1
  else
    echo "ok $name partitions=$have replication=$rf"
  fi
done
exit "$failed"
