#!/usr/bin/env bash
# tmsfield from a fresh clone: installs into ./.venv on first use, then
#   bash run.sh target [ARGS]   runs the main job (coil placement on the bundled template head)
#   bash run.sh test  [ARGS]    installs the test extras and runs the test suite (pytest)
#   bash run.sh [ANY tmsfield SUBCOMMAND...]
set -euo pipefail
cd "$(dirname "$0")"

sudo_cmd=""
[ "$(id -u)" = 0 ] || sudo_cmd="sudo"

# Debian system packages: venv support, and OSMesa for off-screen rendering without a display.
need=()
python3 -c "import ensurepip" 2>/dev/null || need+=("python3-venv")
{ ldconfig -p 2>/dev/null | grep -q "libOSMesa.so"; } || need+=("libosmesa6")
if [ "${1:-}" = "test" ] && ! command -v chromium >/dev/null 2>&1 && [ "${TMSFIELD_SKIP_CHROMIUM:-0}" != 1 ]; then
  need+=("chromium")   # the web-viewer test drives a headless browser (skipped if absent)
fi
if [ ${#need[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "run.sh: installing Debian packages: ${need[*]}" >&2
  $sudo_cmd apt-get update -qq >&2 || true
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >&2 \
    || echo "run.sh: warning: could not install ${need[*]}; rendering/web tests may be skipped" >&2
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
if [ "${1:-}" = "test" ]; then
  shift
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
  exec .venv/bin/python -m pytest -n 2 "$@"
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
exec .venv/bin/tmsfield "$@"
