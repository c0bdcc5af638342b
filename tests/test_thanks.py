"""A caller who says thank you.

Before, "thank you" (or "cheers", "got it, thanks", "that's helpful") to "Did that solve your issue?" got "Sorry,
please say yes or no."; to "Is there anything else I can help you with?" it was searched as a short question and got
"Could you tell me a little more about that?", and a caller who then hung up left a ticket about a question
"thank you" that was never answered.
"""
from __future__ import annotations

import pytest

from callflow import prompts
from callflow.intents import is_done, praises_answer, thanks_only
from callflow.models import NEEDS_HUMAN, RESOLVED

from .test_call_interactions import PASSWORD_QUESTION, identified, ticket

THANKS = ["thank you", "thanks", "cheers", "ta", "lovely, thank you", "brilliant thanks", "got it, thanks",
          "thank you that's helpful", "thank you so much for your help", "oh lovely, thank you so much", "cheers mate",
          "Thank you, that's great."]
PRAISE_ONLY = ["that makes sense", "that helps", "understood", "brilliant", "that's what I needed", "very helpful"]
NEITHER = ["thanks but it didn't work", "not helpful", "that wasn't helpful", "thanks, how do I export my cases?",
           "great, and how do I export my cases?", "thanks for nothing", "I'm not sure thanks", "the helpful article",
           "thanks, bye", "", None]


@pytest.mark.parametrize("text", THANKS)
def test_thanks_only(text):
    assert thanks_only(text) and praises_answer(text)


@pytest.mark.parametrize("text", PRAISE_ONLY)
def test_praise_without_thanks_praises_the_answer_but_is_no_thank_you(text):
    assert praises_answer(text) and not thanks_only(text)


@pytest.mark.parametrize("text", NEITHER)
def test_more_than_thanks_is_neither(text):
    assert not thanks_only(text) and not praises_answer(text)


@pytest.mark.parametrize("said", ["thank you", "got it, thanks", "that makes sense", "brilliant"])
def test_thanks_for_the_answer_confirms_it(app, caller, said):
    identified(caller)
    caller.say(PASSWORD_QUESTION)
    caller.say(said)
    assert caller.text() == prompts.ANYTHING_ELSE


@pytest.mark.parametrize("said", ["thank you", "cheers", "lovely, thanks so much"])
def test_thanks_at_anything_else_ends_the_call(app, caller, said):
    identified(caller)
    caller.say(PASSWORD_QUESTION)
    caller.say("yes")
    caller.say(said)
    assert caller.hung_up and caller.text() == prompts.GOODBYE
    caller.hangup()
    p = ticket(app, caller)
    assert (p["outcome"], p["priority"], p["subject"]) == (RESOLVED, "normal", PASSWORD_QUESTION)


def test_thanks_before_any_question_asks_for_the_question(app, caller):
    identified(caller)
    caller.say("thank you")
    assert caller.listening and caller.text() == prompts.WHAT_IS_YOUR_QUESTION
    caller.say(PASSWORD_QUESTION)
    assert caller.text().endswith(prompts.CHECK_RESOLVED)


def test_thanks_that_says_it_did_not_work_is_a_no(app, caller):
    identified(caller)
    caller.say(PASSWORD_QUESTION)
    caller.say("thanks but it didn't work")
    assert caller.hung_up and caller.text() == prompts.NOT_RESOLVED
    caller.hangup()
    assert ticket(app, caller)["outcome"] == NEEDS_HUMAN


@pytest.mark.parametrize("text", ["no, you've been very helpful", "I'm sorted thanks", "all sorted", "take care",
                                  "no you've answered everything", "you've answered my question thanks", "have a good one",
                                  "see ya", "no, that was brilliant, thank you", "no, you've been really helpful, thanks so much"])
def test_a_farewell_or_praise_with_no_is_done(text):
    assert is_done(text)


@pytest.mark.parametrize("text", ["no, but my widget is still broken", "no wait, I have another question",
                                  "no, it's still not working", "sorted, but how do I export my cases?", "thanks", "great"])
def test_more_than_a_farewell_is_not_done(text):
    assert not is_done(text)


def test_no_with_praise_at_anything_else_ends_the_call(app, caller):
    identified(caller)
    caller.say(PASSWORD_QUESTION)
    caller.say("yes")
    caller.say("no, you've been very helpful")
    assert caller.hung_up and caller.text() == prompts.GOODBYE
    caller.hangup()
    assert ticket(app, caller)["outcome"] == RESOLVED
