#!/bin/sh
# Copies what one app needs at run time into OUT: the Nx build output (dist/apps/<app>: main.js, its
# source map, package.json) and the files the bundle reads beside itself.
#   dedup-persister: migrations/ (found beside main.js)
#   lag-monitor:     dashboard/ (static files, found beside main.js)
set -eu
APP="$1"
OUT="$2"
mkdir -p "$OUT"
cp -R "dist/apps/$APP/." "$OUT/"
if [ -d "apps/$APP/migrations" ]; then cp -R "apps/$APP/migrations" "$OUT/migrations"; fi
if [ -d "apps/$APP/src/dashboard" ] && [ ! -d "$OUT/dashboard" ]; then cp -R "apps/$APP/src/dashboard" "$OUT/dashboard"; fi
test -f "$OUT/main.js"
