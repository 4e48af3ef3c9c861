#!/usr/bin/env bash
# Makes a private CA and the certificates the platform's mutual TLS needs, with openssl, into DIR:
#
#   scripts/make-certs.sh DIR [--source-systems=A,B] [--server-names=N1,N2] [--days=N]
#
#   DIR/ca.pem                        the CA every service and client trusts (ca.key beside it signs)
#   DIR/<service>.pem, .key           server certificate of allocation, review-scheduler, outcomes,
#                                     reporting: IP 127.0.0.1, DNS localhost, DNS <service>, plus any
#                                     --server-names (a Kubernetes or Compose service name)
#   DIR/client-<role>.pem, .key       one per role: clinician, operations, finance, admin
#   DIR/client-epr-feed-<SOURCE>.pem  one per source system named in --source-systems
#
# The role is the client certificate's SAN URI urn:pbr:role:<role> (epr-feed:<SOURCE> for a feed),
# as README "Mutual TLS and roles" describes. Keys are EC P-256, mode 0600. Existing files are kept
# (run it again to add a source system); delete DIR to start again. For a trust's own PKI, issue
# certificates with the same SAN URIs instead.
set -euo pipefail

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[[ $# -ge 1 ]] || usage
dir=$1
shift
sources="" server_names="" days=30
for arg in "$@"; do
  case "$arg" in
    --source-systems=*) sources="${arg#*=}" ;;
    --server-names=*) server_names="${arg#*=}" ;;
    --days=*) days="${arg#*=}" ;;
    *) echo "make-certs.sh: unknown option '$arg'" >&2; usage ;;
  esac
done
[[ $days =~ ^[1-9][0-9]*$ ]] || { echo "make-certs.sh: --days must be a positive number, not '$days'" >&2; exit 2; }
command -v openssl >/dev/null || { echo "make-certs.sh: openssl is missing (apt-get install openssl)" >&2; exit 1; }

mkdir -p "$dir"
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A CA that is missing, or ends within a day, is made again (and every certificate with it, below).
if [[ ! -s $dir/ca.pem || ! -s $dir/ca.key ]] || ! openssl x509 -in "$dir/ca.pem" -noout -checkend 86400 >/dev/null; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tmp/ca.key" \
    -out "$tmp/ca.pem" -days "$((days + 1))" -subj "/O=care-cluster platform/CN=care-cluster local CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  mv "$tmp/ca.key" "$dir/ca.key"
  chmod 644 "$tmp/ca.pem" && mv "$tmp/ca.pem" "$dir/ca.pem"
fi

# issue NAME CN SAN USAGE: DIR/NAME.pem and DIR/NAME.key, unless both exist, the certificate is the
# CA's and it is valid for another day (so a kept run directory renews what is about to expire).
issue() {
  local name=$1 cn=$2 san=$3 usage=$4
  if [[ -s $dir/$name.pem && -s $dir/$name.key ]] &&
    openssl verify -CAfile "$dir/ca.pem" "$dir/$name.pem" >/dev/null 2>&1 &&
    openssl x509 -in "$dir/$name.pem" -noout -checkend 86400 >/dev/null; then
    return 0
  fi
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tmp/$name.key" \
    -out "$tmp/$name.csr" -subj "/O=care-cluster platform/CN=$cn" 2>/dev/null
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' \
    "$usage" "$san" >"$tmp/$name.ext"
  openssl x509 -req -in "$tmp/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -CAserial "$tmp/ca.srl" -days "$days" -extfile "$tmp/$name.ext" -out "$tmp/$name.pem" 2>/dev/null
  mv "$tmp/$name.key" "$dir/$name.key"
  chmod 644 "$tmp/$name.pem" && mv "$tmp/$name.pem" "$dir/$name.pem"
}

for service in allocation review-scheduler outcomes reporting; do
  san="IP:127.0.0.1,DNS:localhost,DNS:$service"
  IFS=, read -ra extra <<<"$server_names"
  for n in "${extra[@]}"; do [[ -n $n ]] && san+=",DNS:$n"; done
  issue "$service" "$service" "$san" serverAuth
done
for role in clinician operations finance admin; do
  issue "client-$role" "local $role" "URI:urn:pbr:role:$role" clientAuth
done
IFS=, read -ra source_list <<<"$sources"
for s in "${source_list[@]}"; do
  [[ -z $s ]] && continue
  [[ $s =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ ]] || { echo "make-certs.sh: bad source system '$s'" >&2; exit 2; }
  issue "client-epr-feed-$s" "local epr-feed $s" "URI:urn:pbr:role:epr-feed:$s" clientAuth
done
echo "certificates in $dir (CA $dir/ca.pem, valid $days days)"
