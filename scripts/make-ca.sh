#!/usr/bin/env bash
# A private certificate authority for accelpool, made with openssl: the
# recipe README gives operators, and what the TLS tests run.
#
#   scripts/make-ca.sh DIR [NAME...]
#
# DIR/ca.pem, DIR/ca.key: the CA (created once; kept if DIR already has it).
# For each NAME: DIR/NAME.pem and DIR/NAME.key, a certificate for NAME signed
# by the CA, valid for NAME, localhost, 127.0.0.1 and ::1, usable by a
# server and as a client certificate (a node is both). NAME is the node name
# a node certificate carries, or a user's name for a client certificate.
# ACCEL_CA_HOSTS (default "localhost 127.0.0.1 ::1") lists the other names
# and addresses the certificates are valid for: add the host names and
# addresses clients use to reach the node. ACCEL_CA_DAYS (default 825) sets
# the lifetime; ACCEL_CA_EXPIRED=1 makes certificates that expired
# yesterday (for tests).
set -euo pipefail
dir=${1:?usage: make-ca.sh DIR [NAME...]}
shift
mkdir -p "$dir"
days=${ACCEL_CA_DAYS:-825}
if [[ ! -f "$dir/ca.pem" ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
    -subj "/CN=accelpool private CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
fi
hosts=${ACCEL_CA_HOSTS-localhost 127.0.0.1 ::1}
for name in "$@"; do
  san="DNS:$name"
  for host in $hosts; do
    if [[ "$host" =~ ^[0-9.]+$ || "$host" == *:* ]]; then san+=", IP:$host"; else san+=", DNS:$host"; fi
  done
  ext=$(mktemp)
  cat > "$ext" <<CONF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = $san
CONF
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$name" \
    -keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null
  if [[ "${ACCEL_CA_EXPIRED:-0}" == 1 ]]; then
    # openssl x509 cannot back-date; `openssl ca` can, with a throwaway database.
    db=$(mktemp -d)
    touch "$db/index.txt"
    cat > "$db/ca.conf" <<CONF
[ca]
default_ca = expired
[expired]
database = $db/index.txt
new_certs_dir = $db
serial = $db/serial
default_md = sha256
policy = any
copy_extensions = none
[any]
commonName = supplied
CONF
    echo 01 > "$db/serial"
    openssl ca -batch -config "$db/ca.conf" -cert "$dir/ca.pem" -keyfile "$dir/ca.key" \
      -in "$dir/$name.csr" -out "$dir/$name.pem" -extfile "$ext" -notext \
      -startdate "$(date -u -d '-3 days' +%Y%m%d%H%M%SZ)" \
      -enddate "$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)" 2>/dev/null
    rm -rf "$db"
  else
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
      -CAcreateserial -days "$days" -sha256 -extfile "$ext" -out "$dir/$name.pem" 2>/dev/null
  fi
  rm -f "$dir/$name.csr" "$ext"
  chmod 600 "$dir/$name.key"
done
chmod 600 "$dir/ca.key"
