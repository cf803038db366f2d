"""piper-tts side of scripts/bench-peers.sh.

    python piper_bench.py TEXTS.tsv OUT.json --voice MODEL.onnx [--threads 1] [--reps 3]
        [--ttfa PARAGRAPH] [--label NAME]

Same voice file and texts as the Vocalis harness. `--threads N` builds the
ONNX Runtime session with N intra-op threads (otherwise as piper-tts does:
`PiperVoice.load`, ORT's defaults: one thread per core, spinning on).
Times `voice.synthesize(text)` (phonemize + model + peak normalisation, per
sentence) until every chunk is produced; time to first audio is the first
chunk of a three-sentence paragraph. piper-tts adds no silence between
sentences in `synthesize`, so the Vocalis side runs with sentence_silence 0.
Each measurement is checked for contention by other processes (contention.py).
"""

import argparse
import json
import os
import sys
import time

import onnxruntime
from piper import PiperVoice
from piper.config import PiperConfig

sys.dont_write_bytecode = True  # no __pycache__ in the source tree (for contention.py)
from contention import timed  # noqa: E402

DEFAULT_TTFA = (
    "Good morning, and welcome to the weekly update. Our team finished the new release "
    "two days ahead of schedule. Please read the notes before the meeting on Friday."
)


def read_tsv(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.strip() and not line.startswith("#"):
                rows.append(line.split("\t"))
    return rows


def load_voice(model, threads):
    if threads <= 0:
        return PiperVoice.load(model)
    with open(model + ".json", encoding="utf-8") as f:
        config = PiperConfig.from_dict(json.load(f))
    so = onnxruntime.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(model, sess_options=so, providers=["CPUExecutionProvider"])
    return PiperVoice(config=config, session=session)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("texts")
    p.add_argument("out")
    p.add_argument("--voice", required=True)
    p.add_argument("--threads", type=int, default=1, help="0 = piper-tts default session")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--ttfa", default=DEFAULT_TTFA)
    p.add_argument("--label", default=None)
    p.add_argument("--retries", type=int, default=int(os.environ.get("BENCH_RETRIES", "30")))
    a = p.parse_args()

    texts = [(r[0], r[1]) for r in read_tsv(a.texts) if len(r) >= 2]
    started = time.perf_counter()
    voice = load_voice(a.voice, a.threads)
    load_s = time.perf_counter() - started
    rate = voice.config.sample_rate

    def synth(text):
        return sum(len(c.audio_float_array) for c in voice.synthesize(text)) / rate

    def paragraph():
        t0 = time.perf_counter()
        chunks = iter(voice.synthesize(a.ttfa))
        first = next(chunks)
        first_s = time.perf_counter() - t0
        samples = len(first.audio_float_array)
        n = 1
        for c in chunks:
            samples += len(c.audio_float_array)
            n += 1
        return first_s, first, samples, n

    synth(texts[0][1])  # warm-up
    seconds = [[] for _ in texts]
    audio_s = [[] for _ in texts]
    ttfa = []
    attempts = contended = 0
    for rep in range(a.reps):
        for i, (tid, text) in enumerate(texts):
            s, tries, clean, au = timed(lambda: synth(text), a.retries)
            flag = "" if clean else " CONTENDED"
            print(f"piper-tts rep {rep} {tid}: {s:.3f} s for {au:.2f} s of audio{flag}", file=sys.stderr)
            attempts += tries
            contended += not clean
            seconds[i].append(s)
            audio_s[i].append(au)
        total_s, tries, clean, (first_s, first, samples, n) = timed(paragraph, a.retries)
        attempts += tries
        contended += not clean
        print(f"piper-tts rep {rep} paragraph: first audio {first_s:.3f} s, all {total_s:.3f} s, {n} chunks", file=sys.stderr)
        ttfa.append(
            {
                "first_s": first_s,
                "total_s": total_s,
                "first_audio_s": len(first.audio_float_array) / rate,
                "audio_s": samples / rate,
                "chunks": n,
            }
        )

    import piper

    result = {
        "engine": "piper-tts",
        "kind": "tts",
        "label": a.label or (f"piper-tts {a.threads}t" if a.threads > 0 else "piper-tts default session"),
        "voice": a.voice,
        "threads": a.threads,
        "reps": a.reps,
        "versions": {"piper_tts": getattr(piper, "__version__", "1.8.0"), "onnxruntime": onnxruntime.__version__},
        "load_s": load_s,
        "measurements": a.reps * (len(texts) + 1),
        "attempts": attempts,
        "contended": contended,
        "sentence_silence_s": 0.0,
        "texts": [{"id": tid, "seconds": s, "audio_s": au} for (tid, _), s, au in zip(texts, seconds, audio_s)],
        "ttfa_text": a.ttfa,
        "ttfa": ttfa,
    }
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(f"piper_bench: wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
