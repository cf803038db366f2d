#!/usr/bin/env bash
# Vocalis vs its Python peers on the same models, clips and texts:
#   STT: whisper.cpp (Vocalis, ggml f16 / q8_0) vs faster-whisper (CTranslate2 int8)
#   TTS: Piper through ort (Vocalis) vs piper-tts (onnxruntime, Python)
#
#   scripts/bench-peers.sh            # everything; results in target/bench-results/
#
# Environment: BENCH_REPS (3), BENCH_TTFA_RUNS (25), BENCH_BASE (1: also the base model), BENCH_CLI (1:
# hyperfine end-to-end tables), BENCH_IDLE_TIMEOUT (300: seconds to wait for
# the CPUs to go idle before each timed phase), BENCH_RETRIES (30: a single
# measurement during which other processes used > 5% of the CPUs is repeated;
# the box has 2 cores, and ggml's threads spin-wait, so contention distorts
# every number; see benches/peers/contention.py),
# BENCH_VENV (~/.cache/vocalis/bench-venv), VOCALIS_MODELS, VOCALIS_DOWNLOADS.
#
# Writes target/bench-results/: one JSON per run, machine.json, peers.md (the
# tables BENCHMARKS.md shows) and summary.json.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
REPS="${BENCH_REPS:-3}"
VENV="${BENCH_VENV:-$HOME/.cache/vocalis/bench-venv}"
MODELS="${VOCALIS_MODELS:-$HOME/.cache/vocalis/models}"
DOWNLOADS="${VOCALIS_DOWNLOADS:-$(dirname "$MODELS")/downloads}"
OUT="$ROOT/target/bench-results"
CLIPS="${CLIPS_OUT:-$ROOT/target/bench-clips}"
CT2="$ROOT/target/bench-ct2"
VOICE="en_US-joe-medium"
IDLE_TIMEOUT="${BENCH_IDLE_TIMEOUT:-300}"
export BENCH_RETRIES="${BENCH_RETRIES:-30}" # read by the harnesses
export VOCALIS_MODELS="$MODELS"
export HF_HUB_OFFLINE=1          # faster-whisper: local paths only, never the hub
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ under benches/

say() { printf '\n== %s\n' "$*" >&2; }

# --- prerequisites -----------------------------------------------------------
for tool in sox espeak-ng python3; do
    command -v "$tool" >/dev/null || {
        echo "bench-peers: $tool is missing (scripts/setup.sh installs it)" >&2
        exit 1
    }
done

missing=()
for f in tiny.en/ggml-model.bin tiny.en/ggml-model-q8_0.bin "$VOICE/$VOICE.onnx" silero-vad/silero_vad.onnx; do
    [ -f "$MODELS/$f" ] || missing+=("$f")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "bench-peers: models missing from $MODELS: ${missing[*]}" >&2
    echo "  run: vocalis models pull tiny.en $VOICE silero-vad onnxruntime base" >&2
    exit 1
fi
WITH_BASE="${BENCH_BASE:-1}"
if [ "$WITH_BASE" = 1 ] && [ ! -f "$MODELS/base/ggml-model.bin" ]; then
    echo "bench-peers: base not installed (vocalis models pull base); skipping the base table" >&2
    WITH_BASE=0
fi

if ! "$VENV/bin/python" -c 'import faster_whisper, piper, jiwer, websockets' 2>/dev/null; then
    say "creating the peer venv $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet faster-whisper==1.2.1 piper-tts==1.8.0 jiwer==4.0.0 websockets==15.0.1
fi
PY="$VENV/bin/python"

HYPERFINE=1
if [ "${BENCH_CLI:-1}" != 1 ]; then
    HYPERFINE=0
elif ! command -v hyperfine >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        say "installing hyperfine"
        apt-get install -y -qq hyperfine >/dev/null 2>&1 ||
            { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; } || HYPERFINE=0
    else
        echo "bench-peers: hyperfine missing and not root; skipping the end-to-end CLI tables" >&2
        HYPERFINE=0
    fi
fi

# --- builds, clips, CTranslate2 copies of the same checkpoints ----------------
say "building (release)"
if ! cargo build --release -p vocalis; then
    [ -x target/release/vocalis ] || exit 1
    echo "bench-peers: the build failed; using the existing target/release/vocalis" >&2
fi
PEERS="$(cargo bench -p vocalis-inference --bench peers --no-run --message-format=json 2>/dev/null |
    "$PY" -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "peers" and m.get("executable"):
        print(m["executable"])')"
[ -x "$PEERS" ] || { echo "bench-peers: could not build the peers harness" >&2; exit 1; }
VOCALIS="$ROOT/target/release/vocalis"

say "clips"
VOCALIS="$VOCALIS" CLIPS_OUT="$CLIPS" benches/clips/make-clips.sh
"$PY" benches/peers/ct2_models.py models/manifest.toml "$DOWNLOADS" tiny.en "$CT2/tiny.en"
[ "$WITH_BASE" = 1 ] && "$PY" benches/peers/ct2_models.py models/manifest.toml "$DOWNLOADS" base "$CT2/base"

rm -rf "$OUT"
mkdir -p "$OUT"

# --- timing helpers -------------------------------------------------------------
cpu_busy() { # % of all CPUs busy over the next 2 s (everything: other builds, tests, us)
    local a b
    read -r _ a <<<"$(head -1 /proc/stat)"
    sleep 2
    read -r _ b <<<"$(head -1 /proc/stat)"
    awk -v a="$a" -v b="$b" 'BEGIN {
        n = split(a, x, " "); split(b, y, " "); t = 0
        for (i = 1; i <= n; i++) t += y[i] - x[i]
        idle = (y[4] - x[4]) + (y[5] - x[5])
        printf "%d", (t > 0) ? (100 * (t - idle) / t) : 0 }'
}
phases=()
wait_idle() { # phase name; waits until the CPUs are idle (two quiet samples in a row)
    local waited=0 quiet=0 busy
    while :; do
        busy="$(cpu_busy)"
        waited=$((waited + 2))
        if [ "$busy" -lt 10 ]; then quiet=$((quiet + 1)); else quiet=0; fi
        [ "$quiet" -ge 2 ] && break
        if [ "$waited" -ge "$IDLE_TIMEOUT" ]; then
            echo "bench-peers: CPUs still ${busy}% busy after ${IDLE_TIMEOUT}s; timing $1 anyway" >&2
            break
        fi
    done
    IDLE_NOTE="$1: CPUs ${busy}% busy before (waited ${waited}s)"
}
HZ="$(getconf CLK_TCK)"
NCPU="$(nproc)"
TIMES="$(mktemp)"
trap 'rm -f "$TIMES"' EXIT
busy_jiffies() { head -1 /proc/stat | awk '{ print $2 + $3 + $4 + $7 + $8 + $9 }'; }
children_cpu() { # CPU seconds of this shell's finished children, as of the last `times >"$TIMES"`
    tail -1 "$TIMES" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); t += a[1] * 60 + a[2] } print t }'
}
phase() { # name command... (records how much CPU other processes used meanwhile)
    local name="$1" b0 c0 t0 others
    shift
    wait_idle "$name"
    say "$name"
    times >"$TIMES" # in this shell: a $(…) subshell would see no children
    b0="$(busy_jiffies)" c0="$(children_cpu)" t0="$(date +%s.%N)"
    "$@"
    times >"$TIMES"
    others="$(awk -v b0="$b0" -v b1="$(busy_jiffies)" -v c0="$c0" -v c1="$(children_cpu)" \
        -v t0="$t0" -v t1="$(date +%s.%N)" -v hz="$HZ" -v n="$NCPU" \
        'BEGIN { o = (b1 - b0) / hz - (c1 - c0); w = (t1 - t0) * n; printf "%d", (w > 0 && o > 0) ? (100 * o / w) : 0 }')"
    phases+=("$IDLE_NOTE; other processes used ${others}% of the CPUs while it ran")
}

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- STT ------------------------------------------------------------------------
R="$CLIPS/refs.tsv"
phase "vocalis tiny.en f16" "$PEERS" stt "$R" "$OUT/stt-vocalis-tiny-f16.json" model=tiny.en threads=2 reps="$REPS" \
    label="Vocalis tiny.en f16"
phase "faster-whisper tiny.en int8" "$PY" benches/peers/fw_bench.py "$R" "$OUT/stt-fw-tiny-int8.json" \
    --model-dir "$CT2/tiny.en" --threads 2 --reps "$REPS" --label "faster-whisper tiny.en int8"
phase "vocalis tiny.en q8_0" "$PEERS" stt "$R" "$OUT/stt-vocalis-tiny-q8_0.json" model=tiny.en quant=q8_0 threads=2 \
    reps="$REPS" label="Vocalis tiny.en q8_0"
phase "vocalis tiny.en f16 full window" "$PEERS" stt "$R" "$OUT/stt-vocalis-tiny-f16-full.json" model=tiny.en \
    threads=2 reps="$REPS" audio_ctx=full label="Vocalis tiny.en f16, full 30 s window"
phase "vocalis tiny.en f16 flash attention" "$PEERS" stt "$R" "$OUT/stt-vocalis-tiny-f16-fa.json" model=tiny.en \
    threads=2 reps="$REPS" flash_attn=1 label="Vocalis tiny.en f16, flash attention"
phase "vocalis tiny.en f16 1 thread" "$PEERS" stt "$R" "$OUT/stt-vocalis-tiny-f16-1t.json" model=tiny.en threads=1 \
    reps="$REPS" label="Vocalis tiny.en f16, 1 thread"
phase "faster-whisper tiny.en int8 1 thread" "$PY" benches/peers/fw_bench.py "$R" "$OUT/stt-fw-tiny-int8-1t.json" \
    --model-dir "$CT2/tiny.en" --threads 1 --reps "$REPS" --label "faster-whisper tiny.en int8, 1 thread"

M="$CLIPS/refs-mulaw.tsv"
phase "vocalis tiny.en μ-law" "$PEERS" stt "$M" "$OUT/mulaw-vocalis-tiny-f16.json" model=tiny.en threads=2 \
    reps="$REPS" label="Vocalis tiny.en f16 (8 kHz μ-law)"
phase "faster-whisper tiny.en μ-law" "$PY" benches/peers/fw_bench.py "$M" "$OUT/mulaw-fw-tiny-int8.json" \
    --model-dir "$CT2/tiny.en" --threads 2 --reps "$REPS" --label "faster-whisper tiny.en int8 (8 kHz μ-law)"

if [ "$WITH_BASE" = 1 ]; then
    phase "vocalis base f16" "$PEERS" stt "$R" "$OUT/stt-vocalis-base-f16.json" model=base language=en threads=2 \
        reps="$REPS" label="Vocalis base f16"
    if [ -f "$MODELS/base/ggml-model-q8_0.bin" ]; then
        phase "vocalis base q8_0" "$PEERS" stt "$R" "$OUT/stt-vocalis-base-q8_0.json" model=base quant=q8_0 \
            language=en threads=2 reps="$REPS" label="Vocalis base q8_0"
    fi
    phase "faster-whisper base int8" "$PY" benches/peers/fw_bench.py "$R" "$OUT/stt-fw-base-int8.json" \
        --model-dir "$CT2/base" --language en --threads 2 --reps "$REPS" --label "faster-whisper base int8"
fi

# --- TTS ------------------------------------------------------------------------
T="$CLIPS/tts-texts.tsv"
ONNX="$MODELS/$VOICE/$VOICE.onnx"
for t in 1 2; do
    phase "vocalis piper ${t}t" "$PEERS" tts "$T" "$OUT/tts-vocalis-${t}t.json" threads="$t" reps="$REPS" \
        label="Vocalis Piper, $t thread$([ "$t" = 1 ] || echo s)"
    phase "piper-tts ${t}t" "$PY" benches/peers/piper_bench.py "$T" "$OUT/tts-piper-${t}t.json" --voice "$ONNX" \
        --threads "$t" --reps "$REPS" --label "piper-tts, $t thread$([ "$t" = 1 ] || echo s)"
done
phase "vocalis piper 2t spinning" "$PEERS" tts "$T" "$OUT/tts-vocalis-2t-spin.json" threads=2 spinning=1 \
    reps="$REPS" label="Vocalis Piper, 2 threads, intra-op spinning on"
phase "piper-tts default session" "$PY" benches/peers/piper_bench.py "$T" "$OUT/tts-piper-default.json" \
    --voice "$ONNX" --threads 0 --reps "$REPS" --label "piper-tts, default session (PiperVoice.load)"
# Time to first audio over /ws/tts (the server as shipped, μ-law 8 kHz) against
# piper-tts in process, the arms interleaved run by run (BENCH_TTFA_RUNS, 25).
phase "ws/tts first audio vs piper-tts" "$PY" benches/peers/ws_tts_ttfa.py "$OUT/ws-tts-ttfa.json" \
    --voice "$ONNX" --server "vocalis=$VOCALIS" --runs "${BENCH_TTFA_RUNS:-25}" >"$OUT/ws-tts-ttfa.md"

# --- end to end CLI (process start + load + one request) ------------------------
if [ "$HYPERFINE" = 1 ]; then
    CLIP="$CLIPS/16k/p01_news.wav"
    SENT="$(head -1 "$T" | cut -f2)"
    QSENT="$(printf '%q' "$SENT")"
    phase "hyperfine STT CLI" hyperfine --warmup 1 --runs 5 --export-json "$OUT/cli-stt.json" \
        -n "vocalis transcribe --threads 2 (tiny.en f16, VAD gate)" "$VOCALIS transcribe --threads 2 $CLIP" \
        -n "faster-whisper (python: import + load tiny.en int8 + transcribe)" \
        "$PY benches/peers/fw_bench.py --once $CLIP --model-dir $CT2/tiny.en --threads 2"
    phase "hyperfine TTS CLI" hyperfine --warmup 1 --runs 5 --export-json "$OUT/cli-tts.json" \
        -n "vocalis speak -o out.wav" "$VOCALIS speak -o $OUT/cli-vocalis.wav $QSENT" \
        -n "piper -m voice.onnx -f out.wav" "$VENV/bin/piper -m $ONNX -f $OUT/cli-piper.wav $QSENT"
fi

# --- machine description and report -------------------------------------------
REPS="$REPS" LOADS="$(printf '%s\n' "${phases[@]}")" LOAD_BEFORE="$load_before" CLIPS="$CLIPS" OUT="$OUT" "$PY" - <<'EOF'
import json, os, platform, subprocess, datetime
import ctranslate2, faster_whisper, onnxruntime
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
flags = next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), [])
def cmd(*a):
    try:
        return subprocess.run(a, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"
machine = {
    "cpu": cpu,
    "cores": os.cpu_count(),
    "simd": " ".join(f for f in ("avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx_vnni") if f in flags),
    "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    "os": cmd("sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"),
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "load_before": os.environ["LOAD_BEFORE"],
    "load_after": " ".join(open("/proc/loadavg").read().split()[:3]),
    "phases": os.environ["LOADS"].splitlines(),
    "clips": os.environ["CLIPS"],
    "reps": int(os.environ["REPS"]),
    "versions": {
        "vocalis": cmd("git", "rev-parse", "--short", "HEAD"),
        "toolchain": cmd("rustc", "--version"),
        "faster-whisper": faster_whisper.__version__,
        "ctranslate2": ctranslate2.__version__,
        "piper-tts": "1.8.0",
        "onnxruntime (python)": onnxruntime.__version__,
        "python": platform.python_version(),
    },
}
json.dump(machine, open(os.path.join(os.environ["OUT"], "machine.json"), "w"), indent=2)
EOF
"$PY" benches/peers/report.py "$OUT" >/dev/null
say "done: $OUT/peers.md"
cat "$OUT/peers.md"
