"""The official `deepgram-sdk` Python client, unchanged, against Vocalis:
pre-recorded transcription of a file (the live WebSocket `/v1/listen` is in
test_deepgram_live.py)."""

from conftest import SENTENCE, deepgram_client as client, wer


def test_prerecorded_transcribe_file(server, clip):
    response = client(server).listen.v1.media.transcribe_file(
        request=clip.read_bytes(), model="nova-3", smart_format=True
    )
    channel = response.results.channels[0]
    transcript = channel.alternatives[0].transcript
    assert wer(SENTENCE, transcript) <= 0.10, transcript
    assert transcript[0].isupper(), "smart_format gives punctuated text"
    assert response.metadata.channels == 1
    assert response.metadata.duration > 1.0
    words = channel.alternatives[0].words
    assert len(words) >= 7 and words[0].punctuated_word == "Please"


def test_prerecorded_diarize_labels_one_voice_as_one_speaker(server, clip):
    response = client(server).listen.v1.media.transcribe_file(
        request=clip.read_bytes(), model="nova-3", diarize=True
    )
    alternative = response.results.channels[0].alternatives[0]
    assert wer(SENTENCE, alternative.transcript) <= 0.10, alternative.transcript
    assert all(w.speaker == 0 for w in alternative.words), alternative.words
    assert all(0.0 <= w.speaker_confidence <= 1.0 for w in alternative.words)
    warnings = (response.metadata.model_extra or {}).get("warnings", [])
    assert not any(w["parameter"] == "diarize" for w in warnings), warnings
