#!/usr/bin/env bash
# Synthesises the benchmark clip set described in benches/clips/clips.tsv.
#
#   benches/clips/make-clips.sh [--force]
#
# Writes (nothing is committed; all under $CLIPS_OUT, default target/bench-clips):
#   16k/<id>.wav        16 kHz mono s16 WAV (the STT input)
#   8k-mulaw/<id>.wav   8 kHz mono G.711 μ-law WAV (the telephony path)
#   <id>.txt            reference transcript
#   refs.tsv            id, 16 kHz path, duration s, reference (for the harnesses)
#   refs-mulaw.tsv      the same for the μ-law files
#   tts-texts.tsv       id, text (every clip text; the TTS comparison input)
#
# Piper clips come from `vocalis speak` (voice en_US-joe-medium), the others
# from espeak-ng (different, robotic voices: harder for Whisper). `long` is
# the Piper clips joined with 0.7 s pauses (> 60 s, exercises the seek loop).
# Piper's sampling is random, so clips are only regenerated when clips.tsv or
# the script changes (or with --force): numbers stay comparable across runs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VOCALIS="${VOCALIS:-$ROOT/target/release/vocalis}"
OUT="${CLIPS_OUT:-$ROOT/target/bench-clips}"
SPEC="$ROOT/benches/clips/clips.tsv"
VOICE="${CLIPS_VOICE:-en_US-joe-medium}"

for tool in sox espeak-ng; do
    command -v "$tool" >/dev/null || {
        echo "make-clips: $tool is missing (apt-get install sox espeak-ng)" >&2
        exit 1
    }
done
[ -x "$VOCALIS" ] || {
    echo "make-clips: $VOCALIS not built (cargo build --release -p vocalis)" >&2
    exit 1
}

stamp="$(cat "$SPEC" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)"
if [ "${1:-}" != "--force" ] && [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$stamp" ]; then
    echo "make-clips: $OUT is up to date (--force regenerates)"
    exit 0
fi

rm -rf "$OUT"
mkdir -p "$OUT/raw" "$OUT/16k" "$OUT/8k-mulaw"
: >"$OUT/refs.tsv"
: >"$OUT/refs-mulaw.tsv"
: >"$OUT/tts-texts.tsv"

long_parts=()
long_text=""
sox -n -r 16000 -c 1 -b 16 "$OUT/raw/pause.wav" trim 0 0.7

add_clip() { # id text
    local id="$1" text="$2" dur
    sox "$OUT/16k/$id.wav" -r 8000 -c 1 -e u-law "$OUT/8k-mulaw/$id.wav"
    printf '%s\n' "$text" >"$OUT/$id.txt"
    dur="$(soxi -D "$OUT/16k/$id.wav")"
    printf '%s\t%s\t%s\t%s\n' "$id" "$OUT/16k/$id.wav" "$dur" "$text" >>"$OUT/refs.tsv"
    printf '%s\t%s\t%s\t%s\n' "$id" "$OUT/8k-mulaw/$id.wav" "$dur" "$text" >>"$OUT/refs-mulaw.tsv"
    printf '%s: %.1f s\n' "$id" "$dur"
}

while IFS=$'\t' read -r id synth opts text; do
    case "$id" in '' | '#'*) continue ;; esac
    case "$synth" in
    piper)
        "$VOCALIS" speak --voice "$VOICE" -o "$OUT/raw/$id.wav" "$text" >/dev/null 2>>"$OUT/speak.log"
        long_parts+=("$OUT/16k/$id.wav" "$OUT/raw/pause.wav")
        long_text="${long_text:+$long_text }$text"
        ;;
    espeak)
        read -r ev speed <<<"$opts"
        espeak-ng -v "$ev" -s "$speed" -w "$OUT/raw/$id.wav" "$text"
        ;;
    *)
        echo "make-clips: unknown synthesiser $synth for $id" >&2
        exit 1
        ;;
    esac
    sox "$OUT/raw/$id.wav" -r 16000 -c 1 -b 16 "$OUT/16k/$id.wav"
    printf '%s\t%s\n' "$id" "$text" >>"$OUT/tts-texts.tsv"
    add_clip "$id" "$text"
done <"$SPEC"

unset 'long_parts[${#long_parts[@]}-1]' # no pause after the last part
sox "${long_parts[@]}" "$OUT/16k/long.wav"
add_clip long "$long_text"

echo "$stamp" >"$OUT/.stamp"
echo "make-clips: $(($(wc -l <"$OUT/refs.tsv"))) clips in $OUT"
