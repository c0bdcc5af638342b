"""TwiML rendering: the reused ``<Say>`` documents equal what the builder makes each time."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from callflow import prompts as fixed, twiml
from callflow.services import SaySpeech


class _NoAudio:
    """A speech provider without ``always_say``: every document goes through the builder."""

    def audio_url(self, text: str, **_kw) -> None:
        return None


@pytest.mark.parametrize("listen", [True, False])
@pytest.mark.parametrize("url", ["/voice/gather?t=3", "https://cf.example.test/voice/gather?t=12&r=1"])
@pytest.mark.parametrize("prompts", [
    ["Thanks, Jane.", 'Is your email "jane at example dot com" & right?'],  # caller data: built each time
    [fixed.SAY_YES_OR_NO, fixed.CHECK_RESOLVED],  # fixed prompts: built once, reused
])
def test_reused_document_equals_a_fresh_build(listen, url, prompts):
    kwargs = dict(listen=listen, action_url=url, voice="Polly.Joanna-Neural", language="en-US",
                  hints="yes,no", timeout_s=6)
    fresh = twiml.render(prompts, speech=_NoAudio(), **kwargs)
    first = twiml.render(prompts, speech=SaySpeech(), **kwargs)
    again = twiml.render(list(prompts), speech=SaySpeech(), **kwargs)
    assert first == fresh and again == fresh
    root = ET.fromstring(fresh)
    if listen:
        assert root.find("Gather").get("action") == url and root.find("Redirect").text == url
        assert [s.text for s in root.iter("Say")] == prompts
    else:
        assert root.find("Hangup") is not None and root.find("Gather") is None


def test_each_turn_gets_its_own_action_url():
    docs = [twiml.render(["How can I help?"], listen=True, action_url=f"/voice/gather?t={n}", speech=SaySpeech(),
                         voice="Polly.Joanna-Neural") for n in (1, 2)]
    assert [ET.fromstring(d).find("Gather").get("action") for d in docs] == ["/voice/gather?t=1", "/voice/gather?t=2"]


def test_a_prompt_containing_the_slot_text_is_not_rewritten():
    prompt = f"Say {twiml._ACTION_SLOT} now."
    doc = twiml.render([prompt], listen=True, action_url="/voice/gather?t=9", speech=SaySpeech(), voice="v")
    root = ET.fromstring(doc)
    assert root.find("Gather/Say").text == prompt and root.find("Gather").get("action") == "/voice/gather?t=9"


def test_only_fixed_prompts_are_cached_never_caller_data():
    """A name or an email read-back must not stay in process memory (``calls forget`` cannot reach it)."""
    twiml._said.cache_clear()
    personal = [fixed.thanks_name("Jane"), fixed.confirm_email("jane at example dot com")]
    twiml.render(personal, listen=True, action_url="/voice/gather?t=2", speech=SaySpeech(), voice="v")
    assert twiml._said.cache_info().currsize == 0
    twiml.render([fixed.GREETING, fixed.ASK_NAME], listen=True, action_url="/voice/gather?t=1", speech=SaySpeech(), voice="v")
    twiml.render([fixed.GREETING, fixed.ASK_NAME], listen=True, action_url="/voice/gather?t=5", speech=SaySpeech(), voice="v")
    assert twiml._said.cache_info().currsize == 1 and twiml._said.cache_info().hits == 1


class _Recorder:
    """A speech provider that has audio for everything and records how it was asked."""

    def __init__(self):
        self.asked: list[tuple[str, str | None]] = []
        self.prefetched: list[tuple[str, str | None]] = []

    def audio_url(self, text: str, *, timeout: float | None = None, call_sid: str | None = None) -> str:
        self.asked.append((text, call_sid))
        return f"https://cf.example.test/tts/{len(self.asked)}.mp3"

    def synthesize_async(self, text: str, *, call_sid: str | None = None) -> None:
        self.prefetched.append((text, call_sid))


@pytest.mark.parametrize("call_sid", ["CA" + "1" * 32, None])
def test_caller_data_is_never_shared_audio(call_sid):
    """Fixed prompts use the shared cache; any other text is the call's own audio, or <Say> without a call."""
    speech = _Recorder()
    document = twiml.render([fixed.EMAIL_CONFIRMED, "Thanks, Jane.", fixed.HOW_CAN_I_HELP], listen=True,
                            action_url="/voice/gather?t=2", speech=speech, voice="Polly.Joanna-Neural",
                            deadline=None, call_sid=call_sid)
    root = ET.fromstring(document)
    if call_sid:
        expected = [(fixed.EMAIL_CONFIRMED, None), ("Thanks, Jane.", call_sid), (fixed.HOW_CAN_I_HELP, None)]
        assert speech.asked == speech.prefetched == expected
        assert len(list(root.iter("Play"))) == 3 and not list(root.iter("Say"))
    else:  # the name has no audio, so the whole turn is said in one voice
        assert speech.asked == speech.prefetched == [(fixed.EMAIL_CONFIRMED, None), (fixed.HOW_CAN_I_HELP, None)]
        assert [s.text for s in root.iter("Say")] == [fixed.EMAIL_CONFIRMED, "Thanks, Jane.", fixed.HOW_CAN_I_HELP]
        assert not list(root.iter("Play"))
