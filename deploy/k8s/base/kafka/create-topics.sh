#!/usr/bin/env bash
# Creates the topics listed in topics.txt (beside this script) that do not exist yet; existing topics are
# left alone. Runs in the apache/kafka image: the kafka-topics Job (Kubernetes) and kafka-init (compose).
#   BOOTSTRAP_SERVERS   broker to talk to (default kafka:9092)
#   REPLICATION_FACTOR  for new topics (default 1)
#   TOPICS_FILE         default: topics.txt beside this script
#   KAFKA_SECURITY_PROTOCOL=sasl_ssl with KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME_FILE, KAFKA_SASL_PASSWORD_FILE
#                       and KAFKA_SSL_CA_LOCATION (PEM): connect as the apps do in Kubernetes (default plaintext)
set -euo pipefail

BOOTSTRAP="${BOOTSTRAP_SERVERS:-kafka:9092}"
RF="${REPLICATION_FACTOR:-1}"
FILE="${TOPICS_FILE:-$(dirname "$0")/topics.txt}"
KT="${KAFKA_HOME:-/opt/kafka}/bin/kafka-topics.sh"

client=()
if [ "${KAFKA_SECURITY_PROTOCOL:-plaintext}" = sasl_ssl ]; then
  props="$(mktemp)"
  chmod 600 "$props"
  cat >"$props" <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=${KAFKA_SASL_MECHANISM:-SCRAM-SHA-512}
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$(cat "$KAFKA_SASL_USERNAME_FILE")" password="$(cat "$KAFKA_SASL_PASSWORD_FILE")";
ssl.truststore.type=PEM
ssl.truststore.location=${KAFKA_SSL_CA_LOCATION}
PROPS
  client=(--command-config "$props")
fi

existing=""
for attempt in $(seq 1 30); do
  if existing="$("$KT" --bootstrap-server "$BOOTSTRAP" ${client[@]+"${client[@]}"} --list 2>/dev/null)"; then
    break
  fi
  if [ "$attempt" = 30 ]; then
    echo "create-topics: broker $BOOTSTRAP not reachable after $attempt attempts" >&2
    exit 1
  fi
  echo "create-topics: waiting for $BOOTSTRAP (attempt $attempt)" >&2
  sleep 2
done

created=0
while read -r topic partitions configs; do
  case "$topic" in '' | '#'*) continue ;; esac
  if grep -qxF "$topic" <<<"$existing"; then
    echo "create-topics: $topic exists"
    continue
  fi
  args=(--bootstrap-server "$BOOTSTRAP" ${client[@]+"${client[@]}"} --create --if-not-exists --topic "$topic" --partitions "$partitions" --replication-factor "$RF")
  for c in $configs; do args+=(--config "$c"); done
  "$KT" "${args[@]}"
  created=$((created + 1))
done <"$FILE"
echo "create-topics: done ($created created)"
