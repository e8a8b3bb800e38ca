#!/bin/sh
# Drops what production node_modules carry but never load: librdkafka's sources, static libraries and
# object files (the dynamically linked librdkafka.so.1 and the .node addon stay), OpenTelemetry's ES-module
# builds (the apps' bundles are CommonJS and load build/src), type declarations, markdown and source maps.
set -eu
NM="$1"
CK="$NM/@confluentinc/kafka-javascript"
rm -rf "$CK/deps/librdkafka" "$CK/build/Release/obj.target" "$CK/build/Release/.deps" "$CK/build/deps/include"
find "$CK/build/deps" -maxdepth 1 -name '*.a' -delete
test -f "$CK/build/Release/confluent-kafka-javascript.node"
test -e "$CK/build/deps/librdkafka.so.1"
find "$NM/@opentelemetry" -type d \( -path '*/build/esm' -o -path '*/build/esnext' \) -prune -exec rm -rf {} +
find "$NM" -type f \( -name '*.md' -o -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete
