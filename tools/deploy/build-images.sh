#!/usr/bin/env bash
# Builds the app images from deploy/docker/Dockerfile (build context: the repository root).
#   bash tools/deploy/build-images.sh                 # every app
#   bash tools/deploy/build-images.sh producer ...    # some apps
# Environment: TAG (default dev), IMAGE_PREFIX (default wikimonitor/), DOCKER (default docker),
#   DOCKER_BUILD_ARGS (extra arguments for `docker build`, e.g. "--platform linux/arm64").
# Images are named <prefix><app>:<tag>; their sizes are printed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."

TAG="${TAG:-dev}"
PREFIX="${IMAGE_PREFIX:-wikimonitor/}"
DOCKER="${DOCKER:-docker}"
ALL_APPS=(producer filter-router aggregator dedup-persister lag-monitor enricher sse-source action-api-source jetstream-source)
apps=("$@")
[ ${#apps[@]} -gt 0 ] || apps=("${ALL_APPS[@]}")

command -v "$DOCKER" >/dev/null || { echo "build-images: '$DOCKER' not found (install Docker)" >&2; exit 1; }
"$DOCKER" info >/dev/null 2>&1 || { echo "build-images: no Docker engine reachable ('$DOCKER info' failed)" >&2; exit 1; }

for app in "${apps[@]}"; do
  [ -f "apps/$app/project.json" ] || { echo "build-images: unknown app '$app'" >&2; exit 2; }
  echo "build-images: ${PREFIX}${app}:${TAG}" >&2
  # shellcheck disable=SC2086 # DOCKER_BUILD_ARGS is a list of words on purpose
  DOCKER_BUILDKIT=1 "$DOCKER" build ${DOCKER_BUILD_ARGS:-} \
    -f deploy/docker/Dockerfile --build-arg "APP=$app" -t "${PREFIX}${app}:${TAG}" .
done

echo "build-images: sizes" >&2
for app in "${apps[@]}"; do
  "$DOCKER" image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' "${PREFIX}${app}:${TAG}"
done
