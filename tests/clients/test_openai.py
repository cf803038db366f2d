"""The official `openai` Python client, unchanged, against Vocalis:
transcriptions (default, verbose_json, srt) and speech (MP3, streamed)."""

import io

from openai import OpenAI

from conftest import SENTENCE, speak, wer


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


def test_transcription_stream_events(server, clip):
    with open(clip, "rb") as audio:
        stream = client(server).audio.transcriptions.create(
            model="gpt-4o-mini-transcribe", file=audio, stream=True
        )
        events = list(stream)
    *deltas, done = events
    assert deltas and all(e.type == "transcript.text.delta" for e in deltas), events
    assert all(e.logprobs is None for e in deltas)
    assert done.type == "transcript.text.done"
    assert "".join(e.delta for e in deltas) == done.text
    assert wer(SENTENCE, done.text) <= 0.10, done.text


PARAGRAPH = (
    "The library opens at nine in the morning on weekdays. "
    "Visitors can borrow up to ten books at a time with a valid card. "
    "The reading room on the second floor is kept quiet for study. "
    "Children's stories are read aloud every Saturday at eleven. "
    "Please return borrowed books before the date printed on the receipt."
)


def test_long_transcription_streams_several_deltas(server, tmp_path):
    path = speak(PARAGRAPH, tmp_path / "paragraph.wav")
    with open(path, "rb") as audio:
        stream = client(server).audio.transcriptions.create(
            model="whisper-1", file=audio, stream=True
        )
        events = list(stream)
    *deltas, done = events
    assert len(deltas) >= 2 and all(e.type == "transcript.text.delta" for e in deltas), events
    assert all(e.delta.strip() for e in deltas), events
    assert done.type == "transcript.text.done"
    assert "".join(e.delta for e in deltas) == done.text
    assert wer(PARAGRAPH, done.text) <= 0.15, done.text


def test_speech_sse_events(server):
    import base64
    import json

    # Plain words (tiny.en sometimes hears "server-sent" as "service-cent").
    text = SENTENCE
    audio, done = b"", None
    with client(server).audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts",
        voice="coral",
        input=text,
        response_format="wav",
        stream_format="sse",
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line.startswith("data: "):
                assert line == "", line
                continue
            event = json.loads(line[len("data: "):])
            if event["type"] == "speech.audio.delta":
                audio += base64.b64decode(event["audio"])
            else:
                assert event["type"] == "speech.audio.done", event
                done = event
    assert audio[:4] == b"RIFF" and len(audio) > 16000
    assert done["usage"]["input_tokens"] == len(text)
    assert done["usage"]["total_tokens"] == done["usage"]["input_tokens"] + done["usage"]["output_tokens"]
    heard = client(server).audio.transcriptions.create(
        model="whisper-1", file=("speech.wav", io.BytesIO(audio), "audio/wav")
    )
    assert wer(text, heard.text) <= 0.2, heard.text


def test_errors_have_openai_fields(server):
    import openai

    try:
        client(server).audio.speech.create(model="tts-1", voice="alloy", input="Hi.", speed=9.0)
    except openai.UnprocessableEntityError as error:
        assert error.status_code == 422
        assert error.code == "invalid_payload"
        assert error.type == "invalid_request_error"
        assert error.param is None
        assert sorted(error.body) == ["code", "message", "param", "type"], error.body
        assert "speed" in error.message
    else:
        raise AssertionError("speed 9.0 was accepted")
    bad_key = OpenAI(api_key="sk_live_nope", base_url=f"{server.url}/v1", max_retries=0)
    try:
        bad_key.audio.speech.create(model="tts-1", voice="alloy", input="Hi.")
    except openai.AuthenticationError as error:
        assert error.code == "unauthorized" and error.type == "invalid_request_error"
    else:
        raise AssertionError("a bad key was accepted")
