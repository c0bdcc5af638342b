"""The answer's steps asked for again at "Is there anything else I can help you with?".

Before, "what was the first step again?" there played the last prompt again ("Great. Is there anything else...?"),
and "actually, can you repeat the steps?" (with "actually") was searched as a question: no article, and a solved call
was passed to a person with "I don't have that information". Now the last answer is read again from the call's
utterances, then "Is there anything else...?".
"""
from __future__ import annotations

import pytest

from callflow import prompts
from callflow.intents import asks_for_answer_again

from .test_call_interactions import call_of, identified, ticket

PASSWORD_ANSWER = 'From our article "Resetting a forgotten password":'


@pytest.mark.parametrize("said,asks", [
    ("can you repeat the steps?", True), ("what was the first step again?", True),
    ("actually, can you go over the instructions again", True), ("repeat the answer please", True),
    ("can you repeat that", False), ("how do I export my cases", False), ("", False), (None, False),
])
def test_asks_for_answer_again(said, asks):
    assert asks_for_answer_again(said) is asks


def test_the_said_answer_without_its_prompts():
    said = f"{prompts.GREAT} {PASSWORD_ANSWER} Click Forgot password? {prompts.CHECK_RESOLVED}"
    assert prompts.answer_in(said) == f"{PASSWORD_ANSWER} Click Forgot password?"
    assert prompts.answer_in(prompts.CHECK_RESOLVED) == ""


@pytest.mark.parametrize("said", ["actually can you repeat the steps?", "what was the first step again?"])
def test_the_steps_again_at_anything_else(app, caller, said):
    identified(caller)
    caller.say("I forgot my password")
    answer = caller.text()[: -len(prompts.CHECK_RESOLVED)].rstrip()
    caller.say("yes")
    assert caller.text() == prompts.ANYTHING_ELSE
    caller.say(said)
    assert caller.listening and caller.text() == f"{answer} {prompts.ANYTHING_ELSE_AGAIN}"
    caller.say("no thanks")
    assert caller.hung_up and caller.text() == prompts.GOODBYE
    caller.hangup()
    assert ticket(app, caller)["outcome"] == "ai-resolved"
    assert call_of(app, caller).questions_asked == 1


def test_repeat_that_at_anything_else_is_the_question_again(app, caller):
    identified(caller)
    caller.say("I forgot my password")
    caller.say("yes")
    caller.say("can you repeat that")
    assert caller.text() == prompts.ANYTHING_ELSE


def test_the_steps_again_while_the_answer_is_checked_replay_it(app, caller):
    identified(caller)
    caller.say("I forgot my password")
    before = caller.text()
    caller.say("can you repeat the steps?")
    assert caller.text() == before
