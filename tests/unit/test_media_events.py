"""Media and recording callbacks parsed at the edge: the SDK's and the service's tone words become keys."""

import json

import pytest

from shared.domain import events as ev
from shared.errors import ValidationError
from tests.payloads import callback


@pytest.mark.parametrize("tones, digits", [(["one"], "1"), (["pound"], "#"), (["asterisk"], "*"),
                                           (["zero", "Nine"], "09")])
def test_tone_words_become_the_keys_pressed(tones, digits):
    body = callback("RecognizeCompleted", dtmfResult={"tones": tones})
    [event] = ev.parse_callback_body(json.dumps(body).encode())
    assert isinstance(event, ev.RecognizeCompleted) and event.digits == digits


@pytest.mark.parametrize("tones", [["hash"], [1], "one"])
def test_a_tone_that_is_not_one_is_refused_naming_it(tones):
    body = callback("RecognizeCompleted", dtmfResult={"tones": tones})
    with pytest.raises(ValidationError) as caught:
        ev.parse_callback_body(json.dumps(body).encode())
    assert "dtmfResult.tones" in caught.value.field


def test_play_failed_keeps_the_index_of_the_file_that_failed():
    [event] = ev.parse_callback_body(json.dumps(callback("PlayFailed")).encode())
    assert event.failed_play_source_index == 0 and event.result.sub_code == 8535


def test_recording_state_changed_names_its_recording():
    [event] = ev.parse_callback_body(json.dumps(callback("RecordingStateChanged")).encode())
    assert event.recording_state == "active" and event.recording_id.startswith("eyJ")
