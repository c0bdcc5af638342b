"""A caller who says yes to "Did that solve your issue?" and goes on to another problem.

Before, "yes, one more thing, my emails are not arriving" or "yes. Another question: I can't find my invoices" was
read as a no (the negative words of the new problem), and the caller heard "I'm sorry that didn't help" and was
passed on; "yes, also my account is locked" was read as a plain yes, and the caller heard "Great. Is there anything
else I can help you with?" and had to say the problem again.
"""
from __future__ import annotations

import pytest

from callflow import prompts
from callflow.intents import another_problem_after_yes
from callflow.models import NEEDS_HUMAN, RESOLVED

from .test_call_interactions import PASSWORD_QUESTION, call_of, identified, ticket


@pytest.mark.parametrize("said,problem", [
    ("yes, also my account is locked", "my account is locked"),
    ("yes, one more thing, my emails are not arriving", "my emails are not arriving"),
    ("yes. Another question: I can't find my invoices", "I can't find my invoices"),
    ("yes, but I also can't log in", "I also can't log in"),
    ("yeah, and also the chat is offline", "the chat is offline"),
    ("it did, and I also can't find my invoices", "I also can't find my invoices"),
    ("yes I have a question, how do I export cases?", "how do I export cases?"),
    ("yes, one more question about my invoice", "one more question about my invoice"),  # the cue says what about
])
def test_another_problem_after_yes(said, problem):
    assert another_problem_after_yes(said) == problem


@pytest.mark.parametrize("said", [
    "yes", "yes also", "yes, also thanks", "yes, one more thing",
    "yes but it didn't help", "yes but I still can't log in", "yes, also it didn't work",
    "yes, and I can't log in",         # no cue: after a password answer that may be the answer failing
    "no, also my account is locked",   # a no is a no
    "also my account is locked",       # no yes before it
    "yes but also no", "", None,
])
def test_no_other_problem_after_yes(said):
    assert another_problem_after_yes(said) is None


@pytest.mark.parametrize("said,article", [
    ("yes, one more thing, my emails are not arriving", "Connecting a support email address"),
    ("yes. Another question: I can't find my invoices", "Finding invoices"),
    ("yes, also my account is locked", "My account is locked"),
])
def test_the_next_problem_is_answered_and_the_first_resolved(app, caller, said, article):
    identified(caller)
    caller.say(PASSWORD_QUESTION)
    caller.say(said)
    assert caller.text().startswith(prompts.GREAT + " ")
    assert f'From our article "{article}' in caller.text()
    assert caller.text().endswith(prompts.CHECK_RESOLVED)
    caller.say("yes")
    caller.say("no thanks")
    caller.hangup()
    payload = ticket(app, caller)
    assert payload["outcome"] == RESOLVED
    call = call_of(app, caller)
    assert call.questions_asked == 2


def test_a_yes_that_says_the_answer_failed_is_still_a_no(app, caller):
    identified(caller)
    caller.say(PASSWORD_QUESTION)
    caller.say("yes but I still can't log in")
    assert caller.text().startswith(prompts.NOT_RESOLVED)
    caller.hangup()
    assert ticket(app, caller)["outcome"] == NEEDS_HUMAN
