"""The official `openai` Python client, unchanged, against Vocalis:
transcriptions (default, verbose_json, srt) and speech (MP3, streamed)."""

import io

from openai import OpenAI

from conftest import SENTENCE, wer


def client(server):
    return OpenAI(api_key=server.key, base_url=f"{server.url}/v1", max_retries=0)


def test_transcription_text(server, clip):
    with open(clip, "rb") as audio:
        result = client(server).audio.transcriptions.create(model="whisper-1", file=audio)
    assert wer(SENTENCE, result.text) <= 0.10, result.text


def test_transcription_verbose_json(server, clip):
    with open(clip, "rb") as audio:
        result = client(server).audio.transcriptions.create(
            model="whisper-1",
            file=audio,
            response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
        )
    assert result.language == "english"
    assert result.duration > 1.0
    assert wer(SENTENCE, result.text) <= 0.10, result.text
    assert result.segments and result.segments[0].end > result.segments[0].start
    assert len(result.words) >= 7
    assert all(w.start <= w.end for w in result.words)


def test_transcription_srt(server, clip):
    with open(clip, "rb") as audio:
        result = client(server).audio.transcriptions.create(
            model="whisper-1", file=audio, response_format="srt"
        )
    assert isinstance(result, str)
    assert result.startswith("1\n00:00:0"), result
    assert " --> " in result


def test_speech_mp3_round_trip(server):
    text = "The weather is lovely today, so we will walk to the park after lunch."
    speech = client(server).audio.speech.create(model="tts-1", voice="alloy", input=text)
    audio = speech.content
    assert len(audio) > 1000
    # An MPEG audio frame sync (or an ID3 tag) starts the file.
    assert audio[:3] == b"ID3" or (audio[0] == 0xFF and audio[1] & 0xE0 == 0xE0)
    heard = client(server).audio.transcriptions.create(
        model="whisper-1", file=("speech.mp3", io.BytesIO(audio), "audio/mpeg")
    )
    assert wer(text, heard.text) <= 0.15, heard.text


def test_speech_streams_in_chunks(server):
    text = " ".join(f"This is sentence number {i}." for i in range(1, 6))
    chunks = []
    with client(server).audio.speech.with_streaming_response.create(
        model="tts-1", voice="nova", input=text, response_format="wav"
    ) as response:
        assert response.headers["content-type"] == "audio/wav"
        assert response.headers.get("transfer-encoding") == "chunked"
        for chunk in response.iter_bytes():
            chunks.append(chunk)
    audio = b"".join(chunks)
    assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE"
    assert len(chunks) > 1
