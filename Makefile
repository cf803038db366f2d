# Vocalis: the two Quickstart commands are `make run` and `make test`.
# Both do all set-up on a fresh Debian 12 machine: system packages, a release
# build, and the models (cached outside the checkout, in ~/.cache/vocalis).

CARGO        ?= cargo
VOCALIS      := target/release/vocalis
# Models the server needs to start (default STT, voice, VAD, ONNX Runtime).
RUN_MODELS   := tiny.en en_US-joe-medium silero-vad onnxruntime
# Tests also check the multilingual model. Whisper models are pulled with
# their q8_0 variant (the server's default weights).
TEST_MODELS  := $(RUN_MODELS) base resemblyzer

.PHONY: run test setup build models-run models-test lint fmt bench bench-peers fuzz-check fuzz-smoke

run: models-run
	$(VOCALIS) serve $(ARGS)

test: models-test lint fuzz-check
	$(CARGO) test --workspace --release --locked --no-fail-fast
	bash scripts/client-tests.sh
	bash scripts/browser-tests.sh

setup:
	@bash scripts/setup.sh

build: setup
	$(CARGO) build --workspace --release --locked

models-run: build
	$(VOCALIS) models pull $(RUN_MODELS)

models-test: build
	$(VOCALIS) models pull $(TEST_MODELS)

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --release --all-targets --locked -- -D warnings

fmt:
	$(CARGO) fmt --all

# The fuzz targets (fuzz/) are workspace members: `build` links them and
# `lint` lints them. fuzz-check runs each briefly (no coverage, fixed seed);
# fuzz-smoke fuzzes each for FUZZ_SECONDS (default 60) with cargo-fuzz.
fuzz-check: build
	bash scripts/fuzz-smoke.sh check

fuzz-smoke:
	@bash scripts/setup.sh fuzz
	bash scripts/fuzz-smoke.sh

bench: models-test
	$(CARGO) bench -p vocalis-audio -- --quick
	$(CARGO) bench -p vocalis-inference -- --quick

# Side-by-side with faster-whisper and piper-tts (see BENCHMARKS.md).
bench-peers: models-test
	bash scripts/bench-peers.sh
