"""Deepgram semantics with the official `deepgram-sdk` client, unchanged:
`utterances=true` on pre-recorded audio, unsupported features reported in
`metadata.warnings`, and errors in Deepgram's `err_code`/`err_msg`/
`request_id` shape."""

import pytest

from conftest import SENTENCE, deepgram_client as client, wer


def test_prerecorded_utterances(server, clip):
    response = client(server).listen.v1.media.transcribe_file(
        request=clip.read_bytes(), model="nova-3", utterances=True, punctuate=True
    )
    utterances = response.results.utterances
    assert utterances, response
    joined = " ".join(u.transcript for u in utterances)
    assert wer(SENTENCE, joined) <= 0.10, joined
    for utterance in utterances:
        assert utterance.channel == 0 and utterance.id
        assert 0.0 <= utterance.confidence <= 1.0
        assert utterance.start <= utterance.end
        assert utterance.words and utterance.words[0].start == utterance.start


def test_unsupported_features_are_warnings(server, clip):
    response = client(server).listen.v1.media.transcribe_file(
        request=clip.read_bytes(), model="nova-3", redact="pci", numerals=True
    )
    warnings = (response.metadata.model_extra or {}).get("warnings", [])
    reported = {w["parameter"] for w in warnings}
    assert {"redact", "numerals"} <= reported, warnings


def test_errors_have_deepgram_fields(server, clip):
    from deepgram import DeepgramClient
    from deepgram.core.api_error import ApiError
    from deepgram.environment import DeepgramClientEnvironment

    ws = server.url.replace("http://", "ws://")
    environment = DeepgramClientEnvironment(
        base=server.url, production=ws, agent=ws, agent_rest=server.url
    )
    bad = DeepgramClient(api_key="sk_live_nope", environment=environment, max_retries=0)
    with pytest.raises(ApiError) as raised:
        bad.listen.v1.media.transcribe_file(request=clip.read_bytes(), model="nova-3")
    error = raised.value
    assert error.status_code == 401
    assert sorted(error.body) == ["err_code", "err_msg", "request_id"], error.body
    assert error.body["err_code"] == "INVALID_AUTH"
