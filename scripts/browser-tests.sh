#!/usr/bin/env bash
# Runs the browser test of the playground page (tests/browser): Debian's
# Chromium, headless, driven by playwright-core from npm (pinned in
# tests/browser/package-lock.json), against the release binary
# (target/release/vocalis; this script builds nothing).
#
# playwright-core is installed with `npm ci` into ~/.cache/vocalis/browser-node
# (override with VOCALIS_BROWSER_NODE) on first use and again when the lock
# file changes; no browser is ever downloaded (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD).
# The browser is $CHROMIUM, else /usr/lib/chromium/chromium (the binary behind
# Debian's /usr/bin/chromium wrapper script). The server runs on a free
# loopback port with a temporary data dir and is stopped on exit.
# Screenshots: target/browser-artifacts/. Exits non-zero when a test fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="$root/target/release/vocalis"
cache="${VOCALIS_BROWSER_NODE:-$HOME/.cache/vocalis/browser-node}"
artifacts="$root/target/browser-artifacts"
sentence="Please call me back this afternoon about the delivery schedule for next week."

if [ ! -x "$binary" ]; then
  echo "browser-tests: $binary is missing; run \`make build\` first" >&2
  exit 1
fi
chromium="${CHROMIUM:-}"
if [ -z "$chromium" ]; then
  for candidate in /usr/lib/chromium/chromium /usr/bin/chromium; do
    if [ -x "$candidate" ]; then chromium="$candidate"; break; fi
  done
fi
if [ -z "$chromium" ] || ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "browser-tests: needs chromium, node and npm; run \`make setup\` (scripts/setup.sh) first" >&2
  exit 1
fi

# playwright-core, pinned by the lock file.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
lock="$root/tests/browser/package-lock.json"
stamp="$cache/.vocalis-lock.sha256"
wanted="$(sha256sum "$lock" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ] || [ ! -d "$cache/node_modules/playwright-core" ]; then
  echo "browser-tests: installing playwright-core into $cache"
  mkdir -p "$cache"
  cp "$root/tests/browser/package.json" "$lock" "$cache/"
  (cd "$cache" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$wanted" >"$stamp"
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The fake microphone's input: the sentence in the server's own voice at
# 48 kHz, with 0.5 s of silence before and 2 s after (so each loop ends an
# utterance), as a WAV file.
RUST_LOG=warn "$binary" speak "$sentence" -o "$work/speech.pcm" --format pcm --rate 48000
node - "$work/speech.pcm" "$work/speech.wav" <<'JS'
const fs = require('fs');
const [pcmPath, wavPath] = process.argv.slice(2);
const rate = 48000;
const speech = fs.readFileSync(pcmPath);
const silence = (s) => Buffer.alloc(Math.round(rate * s) * 2);
const data = Buffer.concat([silence(0.5), speech, silence(2)]);
const header = Buffer.alloc(44);
header.write('RIFF', 0); header.writeUInt32LE(36 + data.length, 4); header.write('WAVE', 8);
header.write('fmt ', 12); header.writeUInt32LE(16, 16); header.writeUInt16LE(1, 20); header.writeUInt16LE(1, 22);
header.writeUInt32LE(rate, 24); header.writeUInt32LE(rate * 2, 28); header.writeUInt16LE(2, 32); header.writeUInt16LE(16, 34);
header.write('data', 36); header.writeUInt32LE(data.length, 40);
fs.writeFileSync(wavPath, Buffer.concat([header, data]));
JS

# The server, on a free loopback port; its address from the `listening` log line.
mkdir -p "$work/data"
env -u VOCALIS_LISTEN -u VOCALIS_CONFIG RUST_LOG=info \
  "$binary" serve --listen 127.0.0.1:0 --data-dir "$work/data" 2>"$work/server.log" >/dev/null &
server_pid=$!
addr=""
for _ in $(seq 1 600); do
  addr="$(sed -n 's/.*listening.*addr=\([0-9.:]*\).*/\1/p' "$work/server.log" | head -n1)"
  [ -n "$addr" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  sleep 0.2
done
if [ -z "$addr" ]; then
  echo "browser-tests: vocalis serve did not start:" >&2
  cat "$work/server.log" >&2
  exit 1
fi

mkdir -p "$artifacts"
status=0
VOCALIS_URL="http://$addr/" \
VOCALIS_KEY="$(tr -d '[:space:]' <"$work/data/dev-api-key")" \
VOCALIS_DEV_KEY_PATH="$work/data/dev-api-key" \
SPEECH_WAV="$work/speech.wav" \
SPEECH_TEXT="$sentence" \
ARTIFACTS="$artifacts" \
CHROMIUM="$chromium" \
BROWSER_NODE="$cache" \
  node --test --test-reporter=spec "$root/tests/browser/playground.test.mjs" "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "browser-tests: failed; screenshots in $artifacts; server log:" >&2
  tail -n 40 "$work/server.log" >&2
fi
exit "$status"
