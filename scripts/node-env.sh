# shellcheck shell=bash
# Sourced by every script (scripts/*.sh, .ci/run) and by hand (`source scripts/node-env.sh`): puts
# Node.js 22 first on PATH. Where the machine's node is older, scripts/bootstrap.sh installs Node 22
# from the npm registry (the node-linux-<arch> package ships bin/node and include/node) into
# .stack/cache/node22; this puts its bin first. It also points node-gyp at the headers of the node
# that runs, so the native Kafka addon is built for that node's ABI (Debian's /usr/include/node
# belongs to Debian's node, which may be another major).
WM_NODE_MAJOR=22
WM_NODE_HOME="${WM_NODE_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.stack/cache/node$WM_NODE_MAJOR}"
wm_node_major() { "${1:-node}" -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null || echo 0; }
if [ "$(wm_node_major)" -lt "$WM_NODE_MAJOR" ] && [ -x "$WM_NODE_HOME/bin/node" ]; then
  case ":$PATH:" in *":$WM_NODE_HOME/bin:"*) ;; *) export PATH="$WM_NODE_HOME/bin:$PATH" ;; esac
fi
# node-gyp's nodedir: the prefix of the running node when it carries its own headers of the same major.
wm_node_prefix="$(node -e 'process.stdout.write(require("node:path").resolve(process.execPath, "..", ".."))' 2>/dev/null || true)"
if [ -n "$wm_node_prefix" ] && [ -f "$wm_node_prefix/include/node/node_version.h" ] \
   && grep -q "define NODE_MAJOR_VERSION $(wm_node_major)\$" "$wm_node_prefix/include/node/node_version.h"; then
  export npm_config_nodedir="$wm_node_prefix"
else
  unset npm_config_nodedir  # node-gyp downloads the headers of the running node
fi
unset wm_node_prefix
