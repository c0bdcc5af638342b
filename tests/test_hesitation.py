"""A caller who only says "um" or "hmm" while thinking.

Twilio's speech recognition returns the sound as the SpeechResult when the caller pauses after it. Before, "hmm" for
the name gave "Thanks, Hmm.", "um" at the email question was spelled back for ("Please spell it for me"), and "um"
at "How can I help you today?" was searched as a short question ("Could you tell me a little more about that?").
Now the caller hears "Sure, take your time." and the question again, with the longer wait a caller who asks for a
moment gets.
"""
from __future__ import annotations

import pytest

from callflow import prompts
from callflow.flow import MAX_RETRIES
from callflow.intents import hesitates
from callflow.models import ABANDONED, NEEDS_HUMAN, RESOLVED

from .test_call_interactions import PASSWORD_QUESTION, call_of, identified, ticket
from .test_wait_and_defer import _gather_timeout

HESITATIONS = ["um", "uh", "hmm", "Hmm.", "Um, uh...", "er, um", "erm", "hmmm", "ah", "well", "so",
               "Hmm, let me see", "uhm"]
NOT_HESITATIONS = ["uh huh", "mm hmm", "mhm", "okay", "ok", "right", "um I forgot my password", "so my password",
                   "hi", "Jane", "", None]


@pytest.mark.parametrize("said", HESITATIONS)
def test_hesitates(said):
    assert hesitates(said)


@pytest.mark.parametrize("said", NOT_HESITATIONS)
def test_words_or_a_yes_are_no_hesitation(said):
    assert not hesitates(said)


def test_hmm_is_no_name(app, caller):
    caller.start()
    caller.say("hmm")
    assert caller.text() == f"{prompts.TAKE_YOUR_TIME} {prompts.ASK_NAME}"
    assert _gather_timeout(caller) == str(app.config["GATHER_WAIT_TIMEOUT_S"])
    caller.say("Jane")
    assert caller.text().startswith("Thanks, Jane.")
    assert call_of(app, caller).name == "Jane"


def test_um_is_no_email_address(app, caller):
    caller.start()
    caller.say("Jane")
    caller.say("um")
    assert caller.text() == f"{prompts.TAKE_YOUR_TIME} {prompts.ASK_EMAIL}"
    caller.say("jane at example dot com")
    assert "example dot com" in caller.text()


def test_um_is_no_question(app, caller):
    identified(caller)
    caller.say("um")
    assert caller.text() == f"{prompts.TAKE_YOUR_TIME} {prompts.HOW_CAN_I_HELP}"
    assert call_of(app, caller).pending_question is None
    caller.say(PASSWORD_QUESTION)
    assert caller.text().endswith(prompts.CHECK_RESOLVED)


def test_a_caller_who_only_hesitates_is_passed_on_in_the_end(app, caller):
    identified(caller)
    for _ in range(MAX_RETRIES):
        caller.say("hmm")
        assert caller.listening
    caller.say("um")
    assert not caller.listening
    caller.hangup()
    assert ticket(app, caller)["outcome"] == NEEDS_HUMAN


def test_a_line_with_only_sounds_since_the_greeting_ends_as_a_silent_one(app, caller):
    """Background noise recognised as "hmm" on a pocket dial: no urgent ticket for a caller who never spoke."""
    caller.start()
    for _ in range(MAX_RETRIES):
        caller.say("hmm")
        assert caller.listening
    caller.say("um")
    assert caller.hung_up and caller.text() == prompts.NO_INPUT
    caller.hangup()
    assert ticket(app, caller)["outcome"] == ABANDONED


def test_a_resolved_caller_who_only_hesitates_at_anything_else_hears_the_goodbye(app, caller):
    identified(caller)
    caller.say(PASSWORD_QUESTION)
    caller.say("yes")
    for _ in range(MAX_RETRIES):
        caller.say("hmm")
    caller.say("hmm")
    assert caller.hung_up and caller.text() == prompts.GOODBYE
    caller.hangup()
    assert ticket(app, caller)["outcome"] == RESOLVED
