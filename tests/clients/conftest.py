"""Fixtures for the client tests: one real `vocalis serve` per session.

The server is `target/release/vocalis` (built by `make`), started on
127.0.0.1:0 with a temporary data dir; its address comes from the
`listening addr=` log line and its key from `<data>/dev-api-key`. Speech
clips come from `vocalis speak` with the real Piper voice.
"""

import os
import re
import subprocess
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VOCALIS = Path(os.environ.get("VOCALIS_BIN", ROOT / "target" / "release" / "vocalis"))
SENTENCE = "Please call me back this afternoon about the delivery schedule for next week."


def words(text):
    """Lower-case words without punctuation (apostrophes kept)."""
    return re.sub(r"[^\w']+", " ", text.lower()).split()


def wer(reference, hypothesis):
    """Word error rate: word-level edit distance over the reference length."""
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j - 1] + (r != h), prev[j] + 1, cur[j - 1] + 1)
        prev = cur
    return prev[-1] / len(ref)


class Server:
    """A running `vocalis serve`."""

    def __init__(self, data_dir):
        if not VOCALIS.exists():
            pytest.exit(f"{VOCALIS} is missing; build it with `make build`", returncode=2)
        env = dict(os.environ, RUST_LOG="info")
        env.pop("VOCALIS_LISTEN", None)
        env.pop("VOCALIS_CONFIG", None)
        self.process = subprocess.Popen(
            [str(VOCALIS), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.log = []
        found = threading.Event()
        self.addr = None

        def read():
            for line in self.process.stderr:
                self.log.append(line.rstrip())
                match = re.search(r"listening.*addr=(\S+)", line)
                if match and self.addr is None:
                    self.addr = match.group(1)
                    found.set()
            found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(120) or self.addr is None:
            self.stop()
            pytest.exit("vocalis serve did not start:\n" + "\n".join(self.log), returncode=2)
        self.url = f"http://{self.addr}"
        self.key = (Path(data_dir) / "dev-api-key").read_text().strip()

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("data"))
    yield server
    server.stop()


def speak(text, path, fmt="wav", rate=None):
    """Writes `text` spoken by the Piper voice to `path`."""
    rate_args = ["--rate", str(rate)] if rate else []
    subprocess.run(
        [str(VOCALIS), "speak", text, "-o", str(path), "--format", fmt, *rate_args],
        check=True,
        capture_output=True,
        env=dict(os.environ, RUST_LOG="warn"),
    )
    return path


@pytest.fixture(scope="session")
def clip(tmp_path_factory):
    """A WAV of SENTENCE."""
    return speak(SENTENCE, tmp_path_factory.mktemp("clips") / "sentence.wav")


@pytest.fixture(scope="session")
def mulaw_call(tmp_path_factory):
    """SENTENCE as headerless μ-law at 8 kHz (telephony audio), then 1 s of
    μ-law digital silence (0xFF)."""
    path = speak(SENTENCE, tmp_path_factory.mktemp("clips") / "sentence.ul", "mulaw", 8000)
    return path.read_bytes() + b"\xff" * 8000


def deepgram_client(server):
    """A `DeepgramClient` pointed at the server: REST and WebSocket base URLs."""
    from deepgram import DeepgramClient
    from deepgram.environment import DeepgramClientEnvironment

    ws = server.url.replace("http://", "ws://")
    environment = DeepgramClientEnvironment(
        base=server.url, production=ws, agent=ws, agent_rest=server.url
    )
    return DeepgramClient(api_key=server.key, environment=environment, max_retries=0)
