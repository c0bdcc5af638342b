"""A caller who asks for the answer in writing ("can you email me that?").

Before, at "Did that solve your issue?" it got "Sorry, please say yes or no."; at "Is there anything else I can help
you with?" it was searched as a question: "can you send me the link" found no article and passed the call to a
person as a question the KB could not answer. This line sends nothing in writing, so the caller now hears where to
find the answer (the article's title in the help center) and the question again.
"""
from __future__ import annotations

import pytest

from callflow import prompts
from callflow.intents import asks_to_send_answer
from callflow.models import RESOLVED

from .test_call_interactions import PASSWORD_QUESTION, PASSWORD_TITLE, call_of, identified, ticket

ASKS = ["can you email me that", "can you send me the link", "can you text me the steps", "send me the article please",
        "could you email it to me", "can I get that in writing", "can I have the steps by email please",
        "ok great, can you send me that by email?", "email me the instructions", "can you email that over to me"]
NOT_ASKS = ["can you send me a password reset link", "can you send me the reset link", "how do I send the survey by email",
            "can you email the customer", "can you send that to my colleague", "text me", "yes", "", None]


@pytest.mark.parametrize("said", ASKS)
def test_asks_to_send_answer(said):
    assert asks_to_send_answer(said)


@pytest.mark.parametrize("said", NOT_ASKS)
def test_not_a_request_for_the_answer_in_writing(said):
    assert not asks_to_send_answer(said)


def test_the_help_center_prompt_names_the_article_or_just_the_help_center():
    assert prompts.find_it_in_help_center("Resetting a forgotten password?") == (
        "I can't send emails or texts from this call, but you'll find this in our help center, in the article "
        "\"Resetting a forgotten password\".")
    assert prompts.find_it_in_help_center(None).endswith("you'll find this in our help center.")
    assert prompts.find_it_in_help_center("  ").endswith("you'll find this in our help center.")
    long = prompts.find_it_in_help_center("word " * 60)
    assert len(long) < 250 and long.endswith('word".')


def test_asked_at_did_that_solve_it(app, caller):
    identified(caller)
    caller.say(PASSWORD_QUESTION)
    caller.say("can you email me that?")
    assert caller.listening
    assert caller.text() == f"{prompts.find_it_in_help_center(PASSWORD_TITLE)} {prompts.CHECK_RESOLVED}"
    caller.say("yes")
    assert caller.text() == prompts.ANYTHING_ELSE
    caller.say("no thanks")
    caller.hangup()
    assert ticket(app, caller)["outcome"] == RESOLVED


def test_asked_at_anything_else(app, caller):
    identified(caller)
    caller.say(PASSWORD_QUESTION)
    caller.say("yes")
    caller.say("can you send me the link")
    assert caller.listening
    assert caller.text() == f"{prompts.find_it_in_help_center(PASSWORD_TITLE)} {prompts.ANYTHING_ELSE_AGAIN}"
    assert call_of(app, caller).questions_asked == 1  # not searched as a question
    caller.say("no thanks")
    caller.hangup()
    assert ticket(app, caller)["outcome"] == RESOLVED


def test_before_any_answer_it_is_taken_as_said(app, caller):
    """With no answer given yet there is nothing to send: the words go the usual way (a short question)."""
    identified(caller)
    caller.say("can you email me that")
    assert caller.text() == prompts.TELL_ME_MORE
