#!/usr/bin/env bash
# Runs the Python client tests (tests/clients): the official `openai` and
# `deepgram-sdk` clients, pinned in tests/clients/requirements.txt, against
# the release binary (target/release/vocalis; this script builds nothing).
#
# The clients live in a venv at ~/.cache/vocalis/client-venv (override with
# VOCALIS_CLIENT_VENV), created on first use and re-synced when the pins
# change. Extra arguments go to pytest (e.g. `-k deepgram`). Exits non-zero
# when a test fails; pytest's summary line is the last line printed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VOCALIS_CLIENT_VENV:-$HOME/.cache/vocalis/client-venv}"
requirements="$root/tests/clients/requirements.txt"
binary="$root/target/release/vocalis"

if [ ! -x "$binary" ]; then
  echo "client-tests: $binary is missing; run \`make build\` first" >&2
  exit 1
fi

if [ ! -x "$venv/bin/python" ]; then
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    # Debian ships venv support separately.
    line="apt-get install -y --no-install-recommends python3-venv"
    if [ "$(id -u)" -eq 0 ]; then
      echo "client-tests: installing python3-venv"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $line -qq
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      echo "client-tests: installing python3-venv with sudo"
      sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq
      sudo DEBIAN_FRONTEND=noninteractive $line -qq
    else
      echo "client-tests: python3 cannot create a venv. Run this as root, then run make again:" >&2
      echo "  sudo apt-get update && sudo $line" >&2
      exit 1
    fi
    python3 -m venv "$venv"
  fi
fi

stamp="$venv/.vocalis-requirements.sha256"
wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]; then
  echo "client-tests: installing $(grep -Ev '^\s*(#|$)' "$requirements" | tr '\n' ' ')"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  echo "$wanted" >"$stamp"
fi

cd "$root/tests/clients"
exec "$venv/bin/python" -m pytest -q -rfE -p no:cacheprovider "$@"
