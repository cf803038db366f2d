#!/usr/bin/env python3
"""Reference speaker embeddings for crates/inference/tests/diarize_reference.rs.

Run ONCE (results are committed under crates/inference/tests/data/diarize/):
  python3 -m venv ~/.cache/vocalis/diarize-venv
  ~/.cache/vocalis/diarize-venv/bin/pip install torch librosa numpy scipy webrtcvad-wheels
  ~/.cache/vocalis/diarize-venv/bin/pip install --no-deps resemblyzer==0.1.4
  ~/.cache/vocalis/diarize-venv/bin/python scripts/diarize-reference.py

Each clip is espeak-ng speech resampled to 16 kHz and stored as 16-bit WAV, so
Rust and Python read the same samples. The real resemblyzer VoiceEncoder then
embeds it with embed_utterance (no preprocess_wav: the Rust side gets the
samples as stored).
"""
import json, os, subprocess, sys, tempfile, wave
import numpy as np
import librosa
from resemblyzer import VoiceEncoder

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "inference", "tests", "data", "diarize")
CLIPS = [
    ("m3", "en+m3", "The quick brown fox jumps over the lazy dog near the river bank."),
    ("f2", "en+f2", "Please call Stella and ask her to bring these things with her from the store."),
    ("us_f4", "en-us+f4", "Seven hundred people waited for the morning train in the rain."),
]

def main():
    enc = VoiceEncoder("cpu")
    refs = []
    for name, voice, text in CLIPS:
        with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
            subprocess.run(["espeak-ng", "-v", voice, "-w", tmp.name, text], check=True)
            y, sr = librosa.load(tmp.name, sr=None)
        y = librosa.resample(y, orig_sr=sr, target_sr=16000)
        pcm = np.clip(np.round(y * 32767), -32768, 32767).astype(np.int16)
        path = os.path.join(OUT, f"{name}.wav")
        with wave.open(path, "wb") as w:
            w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
            w.writeframes(pcm.tobytes())
        wav = pcm.astype(np.float32) / 32768.0
        embed, partials, _ = enc.embed_utterance(wav, return_partials=True)
        refs.append({
            "wav": f"{name}.wav",
            "voice": voice,
            "embedding": [round(float(v), 6) for v in embed],
            "first_partial": [round(float(v), 6) for v in partials[0]],
            "partials": len(partials),
        })
        print(name, len(wav) / 16000, "s", len(partials), "partials", file=sys.stderr)
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump({"model": "resemblyzer 0.1.4", "clips": refs}, f)

if __name__ == "__main__":
    main()
