"""A caller who reads out a message from their screen ("I get an error saying my account is locked").

Before, the words that frame the message ("I get an error saying") weighed on the KB search: "I get an error saying
my account is locked" scored 37 against the cutoff of 42 and the call was passed on as a question without an answer,
though "my account is locked" finds its article at 90. And "no, it says my account is locked" to "Did that solve
your issue?" was a no: passed on, while "it says my account is locked" without the "no" was answered from that
article. Now the message is searched by itself when the question misses, and a no that reads out a message another
article answers is answered from it.
"""
from __future__ import annotations

import pytest

from callflow import prompts
from callflow.intents import screen_message
from callflow.models import NEEDS_HUMAN

from .test_call_interactions import call_of, identified, ticket

LOCKED_TITLE = "My account is locked after too many sign-in attempts"


@pytest.mark.parametrize("said,message", [
    ("I get an error saying my account is locked", "my account is locked"),
    ('no, it says "too many sign-in attempts"', "too many sign-in attempts"),
    ("I get a message that reads: invalid token", "invalid token"),
    ("my screen shows a blank page", "a blank page"),
    ("it keeps telling me that my session expired.", "my session expired"),
    ("it says no", None),                                    # too little to search by itself
    ("the agent said I should call", None),                  # what a person said, not a screen
    ("desktop pop ups aren't showing up for me", None),      # "showing up" shows no message
    ("how do I reset my password", None), ("", None), (None, None),
])
def test_screen_message(said, message):
    assert screen_message(said) == message


def test_a_huge_transcript_is_read_up_to_the_cap():
    assert len(screen_message("it says " + "locked " * 100_000)) < 2100


@pytest.mark.parametrize("question", [
    "I get an error saying my account is locked",
    "I'm getting a message that says too many sign in attempts",
])
def test_a_message_read_out_is_answered_from_its_article(app, caller, question):
    identified(caller)
    caller.say(question)
    assert caller.listening and caller.text().startswith(f'From our article "{LOCKED_TITLE}"')
    assert caller.text().endswith(prompts.CHECK_RESOLVED)
    caller.say("yes")
    caller.say("no thanks")
    caller.hangup()
    p = ticket(app, caller)
    assert p["outcome"] != NEEDS_HUMAN and question in p["subject"] + p["contents_html"]


def test_no_it_says_is_answered_from_the_article_for_the_message(app, caller):
    identified(caller)
    caller.say("I forgot my password")
    assert caller.text().startswith('From our article "Resetting a forgotten password"')
    caller.say("no, it says my account is locked")
    assert caller.listening and caller.text().startswith(f'From our article "{LOCKED_TITLE}"')
    call = call_of(app, caller)
    assert (call.state, call.resolved_count, call.escalation_reason) == ("check_resolved", 0, None)


@pytest.mark.parametrize("said", ["no, I still can't log in", "no, it says invalid password", "no"])
def test_a_no_without_a_message_another_article_answers_is_passed_on(app, caller, said):
    identified(caller)
    caller.say("I forgot my password")
    caller.say(said)
    assert caller.hung_up and caller.text() == prompts.NOT_RESOLVED
    assert call_of(app, caller).escalation_reason == "not-resolved"
