#!/usr/bin/env bash
# Sourced by scripts/run.sh and scripts/test.sh: makes .venv with everything the project needs.
# Debian packages are installed when running as root; otherwise the missing ones are named.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3}
# python3-venv: the venv module and ensurepip. g++ and cmake build pyopenjtalk (an sdist); Open JTalk's
# dictionary and espeak-ng (libespeak-ng1 for pyttsx3) voice the FM channel. BOOTSTRAP_TESTS=1 (test.sh)
# adds headless Chromium and the Japanese fonts it needs for the page tests, and npm for axe-core (the
# accessibility checker the tests inject into Chromium), unless an npm is already on the PATH.
DEBIAN_PACKAGES=(python3-venv g++ cmake open-jtalk-mecab-naist-jdic espeak-ng libespeak-ng1)
if [ "${BOOTSTRAP_TESTS:-0}" = 1 ]; then
  DEBIAN_PACKAGES+=(chromium fonts-noto-cjk)
  command -v npm >/dev/null || DEBIAN_PACKAGES+=(npm)
fi

if ! command -v "$PYTHON" >/dev/null || ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: Python 3.11 or newer is needed as '$PYTHON' (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi

missing=()
if command -v dpkg-query >/dev/null; then
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
fi
# a Python built from source (pyenv) has venv without the Debian package
if [ ${#missing[@]} -gt 0 ] && "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
  missing=("${missing[@]/python3-venv}")
  read -r -a missing <<<"${missing[*]}"
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian packages: ${missing[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "error: missing Debian packages; run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

stamp=.venv/.installed
want=$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setting up .venv (Python packages from pyproject.toml)" >&2
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[test]"
  echo "$want" >"$stamp"
fi

# axe-core for the accessibility tests, exactly as package-lock.json pins it (node_modules/, not in git)
if [ "${BOOTSTRAP_TESTS:-0}" = 1 ]; then
  npm_stamp=node_modules/.installed
  npm_want=$(sha256sum package-lock.json | cut -c1-16)
  if [ ! -f node_modules/axe-core/axe.min.js ] || [ "$(cat "$npm_stamp" 2>/dev/null)" != "$npm_want" ]; then
    echo "installing axe-core (npm ci, from package-lock.json)" >&2
    npm ci --no-audit --no-fund --loglevel=error
    echo "$npm_want" >"$npm_stamp"
  fi
fi
