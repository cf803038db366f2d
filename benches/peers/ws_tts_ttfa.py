"""Time to first audio over /ws/tts against piper-tts, runs interleaved.

    python ws_tts_ttfa.py OUT.json --voice MODEL.onnx --server "NAME=BINARY [SERVE ARGS…]" [--server …]
        [--runs 20] [--text PARAGRAPH] [--encoding mulaw --sample-rate 8000]

Starts each `vocalis serve` binary (its own temporary data dir, its dev key,
default settings), loads piper-tts twice (its default session, as
`PiperVoice.load` builds it, and a 1-thread session), warms every arm up,
then runs every arm once per round, in turn, for `--runs` rounds, so a
machine shared with other work slows all arms alike. Reports medians.

Vocalis side: a connected, started session; the clock starts when `text` and
`flush` are sent and stops at the first binary message (time to first
audio) and at `flushed` (time for the whole paragraph, including encoding
and the socket). piper-tts side: `voice.synthesize(text)` in this process:
first chunk, then every chunk (floats, no encoding, no socket).
"""

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import onnxruntime
import websockets
from piper import PiperVoice
from piper.config import PiperConfig

DEFAULT_TEXT = (
    "Good morning, and welcome to the weekly update. Our team finished the new release "
    "two days ahead of schedule. Please read the notes before the meeting on Friday."
)


class Server:
    def __init__(self, name, command, models):
        self.name = name
        self.data = tempfile.TemporaryDirectory()
        env = dict(os.environ, VOCALIS_DATA_DIR=self.data.name, RUST_LOG="info", VOCALIS_MODELS=models)
        env.pop("VOCALIS_CONFIG", None)
        binary, *extra = command.split()
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", *extra],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.time() + 180
        self.addr = None
        for line in self.proc.stderr:
            m = re.search(r"addr=(\S+)", line)
            if "listening" in line and m:
                self.addr = m.group(1)
                break
            if time.time() > deadline:
                break
        if not self.addr:
            self.proc.kill()
            sys.exit(f"{name}: no listening line")
        # Keep draining the log so the server never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()
        with open(os.path.join(self.data.name, "dev-api-key"), encoding="utf-8") as f:
            self.key = f.read().strip()

    async def once(self, text, encoding, rate):
        url = f"ws://{self.addr}/ws/tts?apiKey={self.key}"
        async with websockets.connect(url, max_size=None) as ws:
            await ws.send(json.dumps({"type": "start", "config": {"encoding": encoding, "sample_rate": rate}}))
            while True:
                msg = json.loads(await ws.recv())
                if msg.get("type") == "session_started":
                    break
                if msg.get("type") == "error":
                    sys.exit(f"{self.name}: {msg}")
            t0 = time.perf_counter()
            await ws.send(json.dumps({"type": "text", "text": text}))
            await ws.send(json.dumps({"type": "flush"}))
            first = None
            while True:
                msg = await ws.recv()
                if isinstance(msg, bytes):
                    if first is None:
                        first = time.perf_counter() - t0
                    continue
                msg = json.loads(msg)
                if msg.get("type") == "flushed":
                    total = time.perf_counter() - t0
                    audio = msg["audio_seconds"]
                    break
                if msg.get("type") == "error":
                    sys.exit(f"{self.name}: {msg}")
            await ws.send(json.dumps({"type": "stop"}))
            try:
                while True:
                    await ws.recv()
            except websockets.ConnectionClosed:
                pass
        return first, total, audio

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.data.cleanup()


def piper_voice(model, threads):
    if threads <= 0:
        return PiperVoice.load(model)
    with open(model + ".json", encoding="utf-8") as f:
        config = PiperConfig.from_dict(json.load(f))
    so = onnxruntime.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(model, sess_options=so, providers=["CPUExecutionProvider"])
    return PiperVoice(config=config, session=session)


def piper_once(voice, text):
    t0 = time.perf_counter()
    chunks = iter(voice.synthesize(text))
    first_chunk = next(chunks)
    first = time.perf_counter() - t0
    samples = len(first_chunk.audio_float_array)
    for c in chunks:
        samples += len(c.audio_float_array)
    return first, time.perf_counter() - t0, samples / voice.config.sample_rate


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--voice", required=True)
    p.add_argument("--server", action="append", default=[], help="NAME=BINARY [SERVE ARGS…]")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--text", default=DEFAULT_TEXT)
    p.add_argument("--encoding", default="mulaw")
    p.add_argument("--sample-rate", type=int, default=8000)
    p.add_argument("--models", default=os.environ.get("VOCALIS_MODELS", os.path.expanduser("~/.cache/vocalis/models")))
    a = p.parse_args()

    arms = []
    servers = []
    for spec in a.server:
        name, command = spec.split("=", 1)
        server = Server(name, command, a.models)
        servers.append(server)
        arms.append((name, lambda s=server: asyncio.run(s.once(a.text, a.encoding, a.sample_rate))))
    for label, threads in (("piper-tts (default session)", 0), ("piper-tts (1 thread)", 1)):
        voice = piper_voice(a.voice, threads)
        arms.append((label, lambda v=voice: piper_once(v, a.text)))
    try:
        for _, run in arms:  # warm-up
            run()
            run()
        results = {name: [] for name, _ in arms}
        for r in range(a.runs):
            for name, run in arms:
                first, total, audio = run()
                results[name].append({"first_s": first, "total_s": total, "audio_s": audio})
            print(
                f"round {r + 1}/{a.runs}: "
                + ", ".join(f"{n} {results[n][-1]['first_s'] * 1000:.0f} ms" for n, _ in arms),
                file=sys.stderr,
            )
    finally:
        for s in servers:
            s.close()

    base = "piper-tts (default session)"
    summary = {}
    for name, rows in results.items():
        summary[name] = {
            "first_audio_s_median": statistics.median(x["first_s"] for x in rows),
            "total_s_median": statistics.median(x["total_s"] for x in rows),
            "rtf_median": statistics.median(x["total_s"] / x["audio_s"] for x in rows),
            "audio_s_median": statistics.median(x["audio_s"] for x in rows),
        }
    for name, s in summary.items():
        s["first_audio_ratio_vs_piper_default"] = s["first_audio_s_median"] / summary[base]["first_audio_s_median"]
        s["rtf_ratio_vs_piper_default"] = s["rtf_median"] / summary[base]["rtf_median"]
    out = {
        "text": a.text,
        "encoding": a.encoding,
        "sample_rate": a.sample_rate,
        "runs": a.runs,
        "load": open("/proc/loadavg").read().split()[:3],
        "summary": summary,
        "runs_raw": results,
    }
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2)
    print(f"| arm | first audio (median) | ratio vs piper-tts default | RTF (median) | RTF ratio |")
    print("|---|---|---|---|---|")
    for name, s in summary.items():
        print(
            f"| {name} | {s['first_audio_s_median'] * 1000:.0f} ms | {s['first_audio_ratio_vs_piper_default']:.2f}× "
            f"| {s['rtf_median']:.3f} | {s['rtf_ratio_vs_piper_default']:.2f}× |"
        )


if __name__ == "__main__":
    main()
