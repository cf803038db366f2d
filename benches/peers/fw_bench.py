"""faster-whisper side of scripts/bench-peers.sh.

    python fw_bench.py CLIPS.tsv OUT.json --model-dir DIR [--threads 2] [--reps 3]
        [--compute-type int8] [--language en] [--label NAME]
    python fw_bench.py --once AUDIO --model-dir DIR ...   # load + transcribe one file (CLI timing)

Loads a local CTranslate2 model directory (never downloads: HF_HUB_OFFLINE=1
and a path), decodes every clip before the clock starts, then times
`model.transcribe(...)` plus consuming its segment generator, clip by clip.
Settings mirror the Vocalis harness: greedy (beam_size=1), vad_filter=False,
temperature fallback and condition_on_previous_text at their defaults.
Each measurement is checked for contention by other processes (contention.py).
"""

import argparse
import json
import os
import sys
import time

os.environ["HF_HUB_OFFLINE"] = "1"
sys.dont_write_bytecode = True  # no __pycache__ in the source tree (for contention.py)

from contention import timed  # noqa: E402
from faster_whisper import WhisperModel, decode_audio  # noqa: E402


def read_tsv(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.strip() and not line.startswith("#"):
                rows.append(line.split("\t"))
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("clips", nargs="?")
    p.add_argument("out", nargs="?")
    p.add_argument("--model-dir", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--compute-type", default="int8")
    p.add_argument("--language", default=None)
    p.add_argument("--label", default=None)
    p.add_argument("--retries", type=int, default=int(os.environ.get("BENCH_RETRIES", "30")))
    p.add_argument("--once", default=None, help="load the model, transcribe this file, print the text")
    a = p.parse_args()

    if not os.path.isfile(os.path.join(a.model_dir, "model.bin")):
        sys.exit(f"fw_bench: no CTranslate2 model in {a.model_dir}")

    def kwargs():
        return dict(beam_size=1, vad_filter=False, language=a.language)

    if a.once:
        model = WhisperModel(a.model_dir, device="cpu", compute_type=a.compute_type, cpu_threads=a.threads)
        segments, _ = model.transcribe(a.once, **kwargs())
        print("".join(s.text for s in segments).strip())
        return

    clips = [(r[0], decode_audio(r[1], sampling_rate=16000)) for r in read_tsv(a.clips)]
    started = time.perf_counter()
    model = WhisperModel(a.model_dir, device="cpu", compute_type=a.compute_type, cpu_threads=a.threads)
    load_s = time.perf_counter() - started

    def run(audio):
        segments, _info = model.transcribe(audio, **kwargs())
        return "".join(s.text for s in segments).strip()  # consumes the generator

    run(clips[0][1])  # warm-up
    seconds = [[] for _ in clips]
    texts = [""] * len(clips)
    attempts = contended = 0
    for rep in range(a.reps):
        for i, (cid, audio) in enumerate(clips):
            s, tries, clean, text = timed(lambda: run(audio), a.retries)
            dur = len(audio) / 16000
            flag = "" if clean else " CONTENDED"
            print(f"faster-whisper rep {rep} {cid}: {s:.3f} s for {dur:.1f} s ({s / dur:.3f}x){flag}", file=sys.stderr)
            attempts += tries
            contended += not clean
            seconds[i].append(s)
            texts[i] = text

    import ctranslate2
    import faster_whisper

    result = {
        "engine": "faster-whisper",
        "kind": "stt",
        "label": a.label or f"faster-whisper {a.compute_type} {a.threads}t",
        "model_dir": a.model_dir,
        "weights": a.compute_type,
        "threads": a.threads,
        "reps": a.reps,
        "language": a.language,
        "versions": {"faster_whisper": faster_whisper.__version__, "ctranslate2": ctranslate2.__version__},
        "load_s": load_s,
        "measurements": a.reps * len(clips),
        "attempts": attempts,
        "contended": contended,
        "clips": [
            {"id": cid, "duration_s": len(audio) / 16000, "seconds": secs, "text": text}
            for (cid, audio), secs, text in zip(clips, seconds, texts)
        ],
    }
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(f"fw_bench: wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
