#!/usr/bin/env bash
# Installs what Vocalis needs to build and run on a fresh Debian 12 machine.
# As root (or with passwordless sudo) it installs the Debian packages itself;
# otherwise it prints the exact apt-get line and stops.
set -euo pipefail

packages=(
  build-essential pkg-config cmake clang libclang-dev  # whisper-rs-sys builds whisper.cpp
  libespeak-ng-dev espeak-ng                           # Piper phonemes (espeak-ng C library)
  sox                                                  # G.711 cross-check tests, benchmarks
  libopus-dev                                          # Opus decode/encode (browser audio, response_format=opus)
  ffmpeg opus-tools                                    # browser-format test fixtures (WebM, Ogg, MP4)
  postgresql                                           # PostgreSQL backend tests (private cluster, no service)
  chromium                                             # playground test (headless, driven by playwright-core)
)
python_packages=()

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ! python3 -m pip --version >/dev/null 2>&1; then
  missing+=(python3 python3-pip)
fi
# playwright-core (the playground test) needs node and npm; any install of
# them will do (Debian's, or a nodejs that bundles npm).
if ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
  line="apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    echo "setup: installing ${missing[*]} with sudo"
    sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "setup: missing Debian packages. Run this as root, then run make again:" >&2
    echo "  sudo apt-get update && sudo $line" >&2
    exit 1
  fi
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found; install the Rust toolchain (rustup) first" >&2
  exit 1
fi
: "${python_packages[@]+}"
echo "setup: system packages ok"

# `setup.sh fuzz` (run by `make fuzz-smoke`): cargo-fuzz, from crates.io. The
# targets build on the stable toolchain (scripts/fuzz-smoke.sh).
if [ "${1:-}" = fuzz ] && ! cargo fuzz --version >/dev/null 2>&1; then
  echo "setup: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
