#!/usr/bin/env bash
# Makes every credential the base manifests (deploy/k8s/base) reference but do not contain, as Secret
# manifests on stdout (nothing is applied; no kubectl needed):
#   kafka-broker-tls         ca.crt, tls.crt, tls.key: the brokers' certificate (mutual TLS between brokers and
#                            controllers, TLS for clients) for *.kafka-headless.<ns>.svc.cluster.local and kafka
#   kafka-ca                 ca.crt: what the clients trust
#   kafka-user-<client>      username, password: a SCRAM-SHA-512 user per Kafka client (the six apps and the
#                            topic Job); the brokers store them when they format their storage (first start)
#   postgres-credentials     POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB
#   dedup-persister-secret   DATABASE_URL (with that password)
#   registry-datasource      APICURIO_DATASOURCE_USERNAME, APICURIO_DATASOURCE_PASSWORD
#   wikimonitor-http-tokens  API_TOKEN, OPS_TOKEN (the apps' HTTP tokens; optional, see deploy/README.md)
# Usage: tools/deploy/kafka-secrets.sh [--namespace wikimonitor] [--out-dir dir] > secrets.yaml
#        kubectl apply -f secrets.yaml     (before `kubectl apply -k deploy/k8s/base`; keep secrets.yaml secret)
# --out-dir keeps the CA's key there (to sign more certificates later); otherwise it is discarded.
# Passwords are random hex (the SCRAM format syntax has no escaping). Needs openssl.
set -euo pipefail

NS=wikimonitor
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --namespace) NS="$2"; shift 2 ;;
    --out-dir) OUT="$2"; shift 2 ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "kafka-secrets: unknown argument $1" >&2; exit 2 ;;
  esac
done
KAFKA_CLIENTS=(producer filter-router aggregator dedup-persister lag-monitor enricher kafka-topics)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
umask 077
ssl() { openssl "$@" 2>/dev/null; }
b64() { base64 -w0 <"$1"; }
b64s() { printf '%s' "$1" | base64 -w0; }
secret() { # name, then key=file pairs
  local name="$1"
  shift
  printf -- '---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\ntype: Opaque\ndata:\n' "$name" "$NS"
  for kv in "$@"; do printf '  %s: %s\n' "${kv%%=*}" "$(b64 "${kv#*=}")"; done
}
value() { # writes a value to a file and prints the path
  local f
  f="$(mktemp -p "$work")"
  printf '%s' "$1" >"$f"
  echo "$f"
}
random() { openssl rand -hex 24; }

ssl req -x509 -new -nodes -newkey rsa:3072 -sha256 -days 3650 -subj "/CN=WikiMonitor Kafka CA" -keyout "$work/ca.key" -out "$work/ca.crt"
ssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/tls.key" # PKCS#8, as Kafka's PEM key store wants
ssl req -new -key "$work/tls.key" -sha256 -subj "/CN=kafka.$NS.svc" -out "$work/tls.csr"
cat >"$work/tls.ext" <<EXT
subjectAltName=DNS:*.kafka-headless.$NS.svc.cluster.local,DNS:*.kafka-headless.$NS.svc,DNS:kafka,DNS:kafka.$NS,DNS:kafka.$NS.svc,DNS:kafka.$NS.svc.cluster.local
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
EXT
ssl x509 -req -sha256 -days 825 -in "$work/tls.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial -extfile "$work/tls.ext" -out "$work/tls.crt"
if [ -n "$OUT" ]; then
  mkdir -p "$OUT"
  cp "$work/ca.key" "$work/ca.crt" "$OUT/"
fi

secret kafka-broker-tls "ca.crt=$work/ca.crt" "tls.crt=$work/tls.crt" "tls.key=$work/tls.key"
secret kafka-ca "ca.crt=$work/ca.crt"
for client in "${KAFKA_CLIENTS[@]}"; do
  secret "kafka-user-$client" "username=$(value "$client")" "password=$(value "$(random)")"
done
pg_password="$(random)"
secret postgres-credentials "POSTGRES_USER=$(value wikimonitor)" "POSTGRES_PASSWORD=$(value "$pg_password")" "POSTGRES_DB=$(value wikimonitor)"
secret dedup-persister-secret "DATABASE_URL=$(value "postgres://wikimonitor:$pg_password@postgres:5432/wikimonitor")"
secret registry-datasource "APICURIO_DATASOURCE_USERNAME=$(value wikimonitor)" "APICURIO_DATASOURCE_PASSWORD=$(value "$pg_password")"
secret wikimonitor-http-tokens "API_TOKEN=$(value "$(random)")" "OPS_TOKEN=$(value "$(random)")"
