#!/usr/bin/env bash
# Starts one node of the Kafka StatefulSet (KRaft, each node a broker and a controller): renders
# server.properties from the pod's name and the settings below, formats the log directory on first
# start (with the SCRAM users), then runs the broker.
#   KAFKA_SECURITY              sasl_ssl: clients authenticate with SCRAM-SHA-512 over TLS on 9092; brokers
#                               and controllers talk mutual TLS (9094, 9093). plaintext: no TLS, no auth (kind).
#   KAFKA_NODES                 nodes in the StatefulSet (the controller quorum), e.g. 3
#   DEFAULT_REPLICATION_FACTOR  for topics and the internal ones (3 with 3 nodes)
#   MIN_INSYNC_REPLICAS         with acks=all, a write needs this many replicas (2 with 3 nodes)
#   CLUSTER_ID, POD_NAME, POD_NAMESPACE
# Files (sasl_ssl), from Secrets made by tools/deploy/kafka-secrets.sh (or cert-manager):
#   /etc/kafka/tls/{ca.crt,tls.crt,tls.key}  the CA and this broker's certificate (names *.kafka-headless...,
#                                            kafka) and PKCS#8 key
#   /etc/kafka/scram/<user>                  each client user's password, stored at format time
set -euo pipefail

ordinal="${POD_NAME##*-}"
node_id=$((ordinal + 1))
domain="kafka-headless.${POD_NAMESPACE}.svc.cluster.local"
voters=""
for i in $(seq 0 $((KAFKA_NODES - 1))); do voters="${voters:+$voters,}$((i + 1))@kafka-${i}.${domain}:9093"; done
# Paths (overridable for deploy/tests, which run this script with stand-ins for Kafka's tools).
kafka_home="${KAFKA_HOME:-/opt/kafka}"
run_dir="${KAFKA_RUN_DIR:-/var/run/kafka}"
tls="${KAFKA_TLS_DIR:-/etc/kafka/tls}"
scram_dir="${KAFKA_SCRAM_DIR:-/etc/kafka/scram}"
data="${KAFKA_DATA_DIR:-/var/lib/kafka/data}/kraft" # a subdirectory: a volume's root may hold lost+found
conf="$run_dir/server.properties"
mkdir -p "$run_dir"

cat >"$conf" <<PROPS
process.roles=broker,controller
node.id=${node_id}
controller.quorum.voters=${voters}
controller.listener.names=CONTROLLER
log.dirs=${data}
auto.create.topics.enable=false
num.partitions=3
default.replication.factor=${DEFAULT_REPLICATION_FACTOR}
min.insync.replicas=${MIN_INSYNC_REPLICAS}
offsets.topic.replication.factor=${DEFAULT_REPLICATION_FACTOR}
transaction.state.log.replication.factor=${DEFAULT_REPLICATION_FACTOR}
transaction.state.log.min.isr=${MIN_INSYNC_REPLICAS}
share.coordinator.state.topic.replication.factor=${DEFAULT_REPLICATION_FACTOR}
share.coordinator.state.topic.min.isr=${MIN_INSYNC_REPLICAS}
group.initial.rebalance.delay.ms=0
PROPS

scram=()
case "$KAFKA_SECURITY" in
  sasl_ssl)
    for f in $tls/ca.crt $tls/tls.crt $tls/tls.key; do
      [ -s "$f" ] || { echo "start-kafka: $f is missing: create Secret kafka-broker-tls (tools/deploy/kafka-secrets.sh)" >&2; exit 1; }
    done
    # A PEM key store is the key and the certificate chain in one file.
    cat "$tls/tls.key" "$tls/tls.crt" >"$run_dir/broker.pem"
    chmod 600 "$run_dir/broker.pem"
    cat >>"$conf" <<PROPS
listeners=CLIENT://:9092,CONTROLLER://:9093,INTERNAL://:9094
advertised.listeners=CLIENT://${POD_NAME}.${domain}:9092,INTERNAL://${POD_NAME}.${domain}:9094
listener.security.protocol.map=CLIENT:SASL_SSL,CONTROLLER:SSL,INTERNAL:SSL
inter.broker.listener.name=INTERNAL
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=${run_dir}/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=${tls}/ca.crt
listener.name.internal.ssl.client.auth=required
listener.name.controller.ssl.client.auth=required
PROPS
    for f in "$scram_dir"/*; do
      [ -f "$f" ] || continue
      scram+=(--add-scram "SCRAM-SHA-512=[name=$(basename "$f"),password=$(cat "$f")]")
    done
    [ "${#scram[@]}" -gt 0 ] || { echo "start-kafka: no SCRAM users in $scram_dir (Secrets kafka-user-*)" >&2; exit 1; }
    ;;
  plaintext)
    cat >>"$conf" <<PROPS
listeners=PLAINTEXT://:9092,CONTROLLER://:9093
advertised.listeners=PLAINTEXT://${POD_NAME}.${domain}:9092
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
PROPS
    ;;
  *) echo "start-kafka: KAFKA_SECURITY must be sasl_ssl or plaintext, not '$KAFKA_SECURITY'" >&2; exit 1 ;;
esac

if [ ! -f "$data/meta.properties" ]; then
  # SCRAM users are stored in the cluster metadata at format time (KIP-900); later ones with kafka-configs.sh.
  "$kafka_home/bin/kafka-storage.sh" format --cluster-id "$CLUSTER_ID" --config "$conf" ${scram[@]+"${scram[@]}"}
fi
exec "$kafka_home/bin/kafka-server-start.sh" "$conf"
