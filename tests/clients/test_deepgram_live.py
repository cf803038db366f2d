"""The official `deepgram-sdk` Python client, unchanged, against Vocalis's
live `WS /v1/listen`: a telephony-style μ-law 8 kHz stream sent in real time,
20 ms per frame, with the SDK's own `Finalize` and `CloseStream`; every
message must parse into the SDK's typed models (and validate strictly, not
only through its lenient fallback). Plus the raw `websockets` library for the
live MP3 stream and the close code of an undecodable (MIDI) stream."""

import hashlib
import json
import threading
import time

import pydantic
import pytest
import websockets
from websockets.sync.client import connect as ws_connect
from deepgram.core.events import EventType
from deepgram.listen.v1.types import (
    ListenV1Metadata,
    ListenV1Results,
    ListenV1SpeechStarted,
    ListenV1UtteranceEnd,
)

from conftest import SENTENCE, deepgram_client, speak, wer

FRAME = 160  # 20 ms of μ-law at 8 kHz
TIMEOUT = 120  # seconds; the machine running the tests may be busy


def strictly_valid(message):
    """Re-validates an SDK model: the SDK falls back to building models
    unchecked when validation fails, which would hide a missing field."""
    try:
        type(message).model_validate(message.model_dump(mode="json", by_alias=True))
    except pydantic.ValidationError as error:
        pytest.fail(f"{type(message).__name__} does not validate: {error}")


def test_live_mulaw_stream_with_the_sdk(server, mulaw_call, caplog):
    caplog.set_level("WARNING", logger="deepgram")
    messages, errors = [], []
    closed = threading.Event()
    with deepgram_client(server).listen.v1.connect(
        model="nova-2",
        encoding="mulaw",
        sample_rate=8000,
        interim_results=True,
        punctuate=True,
        vad_events=True,
        utterance_end_ms=1000,
    ) as connection:
        connection.on(EventType.MESSAGE, messages.append)
        connection.on(EventType.ERROR, errors.append)
        connection.on(EventType.CLOSE, lambda _: closed.set())
        listener = threading.Thread(target=connection.start_listening, daemon=True)
        listener.start()

        started = time.monotonic()
        for index, offset in enumerate(range(0, len(mulaw_call), FRAME)):
            connection.send_media(mulaw_call[offset : offset + FRAME])
            time.sleep(max(0.0, started + (index + 1) * 0.02 - time.monotonic()))
        connection.send_finalize()
        connection.send_close_stream()

        assert closed.wait(TIMEOUT), f"no close after CloseStream; got {messages}"
        listener.join(10)
        # The SDK exposes no close code; the websockets connection it wraps does.
        close_code = connection._websocket.close_code

    assert errors == [], errors
    assert close_code == 1000

    kinds = (ListenV1Results, ListenV1SpeechStarted, ListenV1UtteranceEnd, ListenV1Metadata)
    unknown = [m for m in messages if not isinstance(m, kinds)]
    assert unknown == [], unknown
    # The SDK drops (with a warning) text frames it cannot parse at all.
    assert not [r for r in caplog.records if "Skipping unknown" in r.getMessage()]
    for message in messages:
        strictly_valid(message)

    results = [m for m in messages if isinstance(m, ListenV1Results)]
    finals = [r for r in results if r.is_final]
    assert finals, results
    assert any(not r.is_final for r in results), "interim_results=true gives interim results"
    transcript = " ".join(
        r.channel.alternatives[0].transcript for r in finals if r.channel.alternatives[0].transcript
    )
    assert wer(SENTENCE, transcript) <= 0.15, transcript
    assert transcript[0].isupper() and transcript.rstrip()[-1] in ".!?", "punctuate=true"
    words = [w for r in finals for w in r.channel.alternatives[0].words]
    assert len(words) >= 7
    assert all(w.punctuated_word for w in words), words
    assert all(0 <= w.start <= w.end for w in words)
    assert all(r.channel_index == [0, 1] for r in results)
    request_ids = {r.metadata.request_id for r in results}
    assert len(request_ids) == 1

    speech_started = [m for m in messages if isinstance(m, ListenV1SpeechStarted)]
    assert speech_started, "vad_events=true gives SpeechStarted"
    assert speech_started[0].channel == [0, 1]
    assert 0 <= speech_started[0].timestamp <= words[0].start + 0.5
    assert messages.index(speech_started[0]) < messages.index(finals[0])

    utterance_ends = [m for m in messages if isinstance(m, ListenV1UtteranceEnd)]
    assert utterance_ends, "interim_results + utterance_end_ms give UtteranceEnd"
    assert utterance_ends[-1].channel == [0, 1]
    assert utterance_ends[-1].last_word_end == pytest.approx(words[-1].end, abs=0.01)

    metadata = messages[-1]
    assert isinstance(metadata, ListenV1Metadata), messages[-1]
    assert [m for m in messages if isinstance(m, ListenV1Metadata)] == [metadata]
    assert metadata.channels == 1
    assert metadata.duration == pytest.approx(len(mulaw_call) / 8000, abs=0.01)
    assert metadata.sha256 == hashlib.sha256(mulaw_call).hexdigest()
    assert metadata.request_id in request_ids


def test_live_endpointing_false_finalize_and_warnings_with_the_sdk(server, mulaw_call):
    """`endpointing=false`: the one final comes from the SDK's `Finalize`
    (`from_finalize`, not `speech_final`); `UtteranceEnd` after 1 s of audio
    past the last word; `redact` is reported in the closing `Metadata`, and no
    message the SDK does not know reaches its handler."""
    messages, errors = [], []
    closed = threading.Event()
    with deepgram_client(server).listen.v1.connect(
        model="nova-2",
        encoding="mulaw",
        sample_rate=8000,
        interim_results=True,
        endpointing="false",
        utterance_end_ms=1000,
        redact="pci",
    ) as connection:
        connection.on(EventType.MESSAGE, messages.append)
        connection.on(EventType.ERROR, errors.append)
        connection.on(EventType.CLOSE, lambda _: closed.set())
        listener = threading.Thread(target=connection.start_listening, daemon=True)
        listener.start()
        # Faster than real time: the timing is audio time. Two more seconds
        # of silence; no final may end the utterance before Finalize.
        audio = mulaw_call + b"\xff" * 16000
        for offset in range(0, len(audio), 1600):
            connection.send_media(audio[offset : offset + 1600])
        connection.send_finalize()
        connection.send_close_stream()
        assert closed.wait(TIMEOUT), f"no close after CloseStream; got {messages}"
        listener.join(10)

    assert errors == [], errors
    assert None not in messages, "a message the SDK does not know"
    finals = [m for m in messages if isinstance(m, ListenV1Results) and m.is_final]
    assert len(finals) == 1, finals
    assert finals[0].from_finalize is True
    assert finals[0].speech_final is False
    assert wer(SENTENCE, finals[0].channel.alternatives[0].transcript) <= 0.2
    utterance_ends = [m for m in messages if isinstance(m, ListenV1UtteranceEnd)]
    assert len(utterance_ends) == 1, messages
    metadata = messages[-1]
    assert isinstance(metadata, ListenV1Metadata), metadata
    assert metadata.warnings[0]["parameter"] == "redact"


def ogg_crc(data):
    """CRC-32 of Ogg pages: polynomial 0x04C11DB7, not reflected, initial 0."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
    return crc


def test_live_mp3_stream_is_transcribed(server, tmp_path):
    # MP3 (like Ogg Opus, WebM Opus, FLAC and fragmented MP4) is a live
    # container: detected from its first bytes, decoded frame by frame.
    url = server.url.replace("http://", "ws://") + "/v1/listen?model=nova-2&punctuate=true"
    audio = speak(SENTENCE, tmp_path / "sentence.mp3", "mp3").read_bytes()
    assert audio[:3] == b"ID3" or audio[0] == 0xFF
    received = []
    with ws_connect(url, additional_headers={"Authorization": f"Token {server.key}"}) as ws:
        for offset in range(0, len(audio), 1024):
            ws.send(audio[offset : offset + 1024])
        ws.send('{"type": "CloseStream"}')
        try:
            while True:
                received.append(json.loads(ws.recv(timeout=TIMEOUT)))
        except websockets.ConnectionClosed:
            pass
        except TimeoutError:
            pytest.fail(f"the server kept the socket open; got {received}")
        assert ws.close_code == 1000, (ws.close_code, ws.close_reason)
    finals = [m for m in received if m.get("type") == "Results" and m.get("is_final")]
    transcript = " ".join(m["channel"]["alternatives"][0]["transcript"] for m in finals)
    assert wer(SENTENCE, transcript) <= 0.2, received
    assert received[-1]["type"] == "Metadata", received


def test_undecodable_stream_is_refused_with_data_0000(server):
    # A container Vocalis cannot decode (a MIDI file) closes 1008 DATA-0000.
    url = server.url.replace("http://", "ws://") + "/v1/listen?model=nova-2"
    received = []
    with ws_connect(url, additional_headers={"Authorization": f"Token {server.key}"}) as ws:
        try:
            ws.send(b"MThd\0\0\0\x06\0\x01\0\x02\x01\xe0" + b"MTrk" * 256)
            while True:
                received.append(ws.recv(timeout=TIMEOUT))
        except websockets.ConnectionClosed:
            pass
        except TimeoutError:
            pytest.fail(f"the server kept the socket open; got {received}")
        assert (ws.close_code, ws.close_reason) == (1008, "DATA-0000"), received
    assert received == []
