#!/usr/bin/env bash
# The cargo-fuzz targets in fuzz/ (one `[[bin]]` each in fuzz/Cargo.toml).
#
#   scripts/fuzz-smoke.sh          # `make fuzz-smoke`: fuzz each target for real
#   scripts/fuzz-smoke.sh check    # `make fuzz-check`: quick run of the plain builds
#
# Real fuzzing runs each target FUZZ_SECONDS (default 60) and fails if any
# crashes, listing the crashing inputs:
#
#   FUZZ_SECONDS=20 make fuzz-smoke
#   FUZZ_TARGETS="listen_params ws_tts_message" make fuzz-smoke
#   FUZZ_SANITIZER=address make fuzz-smoke   # ASan; needs a nightly toolchain
#
# It builds with cargo-fuzz on stable: coverage instrumentation, debug
# assertions and overflow checks, no sanitizer (FUZZ_SANITIZER=none), into
# target/fuzz/ (FUZZ_TARGET_DIR), apart from the normal release build.
# Corpora grow in fuzz/corpus/<target>/ and crashing inputs land in
# fuzz/artifacts/<target>/ (both git-ignored): turn each crash into a unit test
# with that input in the crate that owns the code.
#
# `check` needs no cargo-fuzz: `make build` links every target as a plain
# libFuzzer binary (target/release/<target>); each runs FUZZ_CHECK_RUNS
# (default 1000) inputs from a fixed seed, starting from its corpus if any.
# Without coverage feedback that is a start-up and regression check, not fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${FUZZ_TARGETS:-}" ]; then
  read -r -a targets <<<"$FUZZ_TARGETS"
else
  mapfile -t targets < <(sed -n '/^\[\[bin\]\]/{n;s/^name = "\(.*\)"/\1/p}' fuzz/Cargo.toml)
fi

if [ "${1:-}" = check ]; then
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  for target in "${targets[@]}"; do
    seeds=()
    [ -d "fuzz/corpus/$target" ] && seeds=("fuzz/corpus/$target")
    mkdir -p "$scratch/$target"
    if ! "target/release/$target" -runs="${FUZZ_CHECK_RUNS:-1000}" -seed=1 -max_len=4096 -len_control=0 -timeout=10 \
        -artifact_prefix="$scratch/$target/" "$scratch/$target" "${seeds[@]}" \
        >"$scratch/$target.log" 2>&1; then
      tail -n 40 "$scratch/$target.log" >&2
      echo "fuzz-check: $target failed" >&2
      exit 1
    fi
  done
  echo "fuzz-check: ${#targets[@]} targets ok"
  exit 0
fi

seconds="${FUZZ_SECONDS:-60}"
sanitizer="${FUZZ_SANITIZER:-none}"
toolchain=()
[ "$sanitizer" = none ] || toolchain=(+nightly)
fuzz=(cargo "${toolchain[@]}" fuzz)
# A target dir of its own: the instrumented build never waits on, or
# invalidates, the normal one (FUZZ_TARGET_DIR=target shares build scripts).
flags=(--sanitizer "$sanitizer" --debug-assertions --target-dir "${FUZZ_TARGET_DIR:-target/fuzz}")

echo "fuzz-smoke: building ${#targets[@]} targets (sanitizer: $sanitizer)"
for target in "${targets[@]}"; do
  "${fuzz[@]}" build "${flags[@]}" "$target"
done
failed=()
logs="${FUZZ_TARGET_DIR:-target/fuzz}/logs"
for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target" "$logs"
  log="$logs/$target.log"
  echo "fuzz-smoke: $target for ${seconds}s"
  if ! "${fuzz[@]}" run "${flags[@]}" "$target" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      >"$log" 2>&1; then
    failed+=("$target")
    tail -n 40 "$log" >&2
  fi
  grep -E "^stat::(number_of_executed_units|peak_rss_mb)" "$log" | sed "s/^/  /" || true
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz-smoke: FAILED: ${failed[*]}; crashing inputs:" >&2
  for target in "${failed[@]}"; do
    find "fuzz/artifacts/$target" -type f | sed "s/^/  /" >&2
  done
  exit 1
fi
echo "fuzz-smoke: ${#targets[@]} targets ran ${seconds}s each without a crash"
