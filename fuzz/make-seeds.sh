#!/usr/bin/env bash
# Regenerates the binary seed inputs of the protobuf fuzz targets from the text-format messages in
# fuzz/seeds/<target>/*.txtpb: each seed is one selector byte (the number on the file's first line,
# "# selector: N") followed by the message's wire form (protoc --encode). Run after changing a seed
# or the contracts; commit fuzz/corpus/ with it.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A message=([intake_request:0]=pbr.v1.RecordAssessmentRequest [intake_request:1]=pbr.v1.RecordCareEventRequest)
for seed in fuzz/seeds/*/*.txtpb; do
  target=$(basename "$(dirname "$seed")")
  selector=$(sed -n '1s/^# selector: \([0-9]*\).*/\1/p' "$seed")
  [[ -n $selector ]] || { echo "make-seeds.sh: $seed: first line must be '# selector: N'" >&2; exit 1; }
  case $target in
    intake_request) type=${message[intake_request:$((selector % 2))]} proto=pbr/v1/allocation.proto ;;
    event_envelope) type=pbr.v1.EventEnvelope proto=pbr/v1/events.proto ;;
    *) echo "make-seeds.sh: no message type for $target" >&2; exit 1 ;;
  esac
  out="fuzz/corpus/$target/$(basename "$seed" .txtpb).bin"
  mkdir -p "$(dirname "$out")"
  { printf "\\$(printf '%03o' "$selector")"; protoc -Iproto --encode="$type" "$proto" <"$seed"; } >"$out"
  echo "$out"
done
