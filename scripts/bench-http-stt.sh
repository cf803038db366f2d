#!/usr/bin/env bash
# File transcription end to end over HTTP, side by side with faster-whisper
# in process (BENCHMARKS.md, "File transcription over HTTP, side by side").
#
#   scripts/bench-http-stt.sh [CLIP_IDS…]     # default: p04_short e02_meeting p01_news p06_paragraph long
#
# Needs what scripts/bench-peers.sh sets up: the clips (benches/clips/make-clips.sh),
# the peer venv (~/.cache/vocalis/bench-venv) and the CTranslate2 copy of
# tiny.en (target/bench-ct2/tiny.en). Starts its own `vocalis serve` on a
# loopback port with a private data dir, times 3 uploads per clip with curl
# (median), runs faster-whisper int8 with 2 threads on the same clips
# (benches/peers/fw_bench.py, median of 3), and prints one row per clip.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VOCALIS="${VOCALIS:-$ROOT/target/release/vocalis}"
VENV="${BENCH_VENV:-$HOME/.cache/vocalis/bench-venv}"
CLIPS="${CLIPS_OUT:-$ROOT/target/bench-clips}"
PORT="${BENCH_PORT:-18180}"
ids=("$@")
[ ${#ids[@]} -gt 0 ] || ids=(p04_short e02_meeting p01_news p06_paragraph long)

work="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
for id in "${ids[@]}"; do grep -P "^$id\t" "$CLIPS/refs.tsv"; done > "$work/clips.tsv"

VOCALIS_DATA_DIR="$work/data" "$VOCALIS" serve --listen "127.0.0.1:$PORT" 2> "$work/serve.log" &
server=$!
for _ in $(seq 100); do [ -s "$work/data/dev-api-key" ] && curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
key="$(cat "$work/data/dev-api-key")"

HF_HUB_OFFLINE=1 "$VENV/bin/python" benches/peers/fw_bench.py "$work/clips.tsv" "$work/fw.json" \
    --model-dir target/bench-ct2/tiny.en --threads 2 --reps 3 > "$work/fw.log" 2>&1

printf "clip\taudio_s\tvocalis_http_s\tfaster_whisper_s\tratio\n"
while IFS=$'\t' read -r id path duration _; do
    times=()
    for _ in 1 2 3; do
        times+=("$(curl -s -o "$work/$id.json" -w '%{time_total}' -H "Authorization: Bearer $key" \
            -F "file=@$path" -F model=whisper-1 "http://127.0.0.1:$PORT/v1/audio/transcriptions")")
    done
    ours="$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)"
    theirs="$("$VENV/bin/python" -c "
import json, statistics, sys
clips = {c['id']: c for c in json.load(open('$work/fw.json'))['clips']}
print(statistics.median(clips['$id']['seconds']))")"
    printf "%s\t%.1f\t%.3f\t%.3f\t%.2f\n" "$id" "$duration" "$ours" "$theirs" "$(echo "$ours / $theirs" | bc -l)"
done < "$work/clips.tsv"
