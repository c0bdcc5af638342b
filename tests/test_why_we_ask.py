"""A caller who asks why they are asked for their name or email.

Before, "why do you need my name?" at the greeting was kept as the caller's question ("I can help with that.
First, what's the email address on your account?") and, once the address was confirmed, searched in the KB: the
caller heard "Could you tell me a little more about that?". At the email question it was taken for an address
that did not parse ("Please spell it for me, letter by letter"), and kept as the question the same way.
"""
from __future__ import annotations

import pytest

from callflow import prompts
from callflow.flow import MAX_RETRIES
from callflow.intents import asks_why_needed
from callflow.models import NEEDS_HUMAN

from .test_call_interactions import PASSWORD_QUESTION, call_of, ticket

WHY = ["why do you need my name?", "why do you need my email?", "Why do you need that?", "what's that for?", "why?",
       "but why", "why do you need to know", "what do you need my email for", "how come you need my email address",
       "why are you asking for my email", "why is that needed", "sorry, why do you need it exactly?", "what for?"]
NOT_WHY = ["why does the app ask for my email every time I log in?", "why do I need to reset my password",
           "why can't I log in", "why is my account locked", "what is this line",
           "why do you need my email, I just want to reset my password", "Jane", "", None]


@pytest.mark.parametrize("text", WHY)
def test_asks_why_needed(text):
    assert asks_why_needed(text)


@pytest.mark.parametrize("text", NOT_WHY)
def test_a_question_about_the_product_is_not_asking_why(text):
    assert not asks_why_needed(text)


def test_why_at_the_name_and_email_questions_is_answered_and_not_kept_as_the_question(app, caller):
    caller.start()
    caller.say("why do you need my name?")
    assert caller.listening and caller.text() == f"{prompts.WHY_WE_ASK} {prompts.ASK_NAME}"
    caller.say("Mike")
    caller.say("why do you need my email?")
    assert caller.text() == f"{prompts.WHY_WE_ASK} {prompts.ASK_EMAIL}"
    caller.say("mike at example dot com")
    caller.say("what's that for?")
    assert caller.text() == f"{prompts.WHY_WE_ASK} I heard M, I, K, E, at, example dot com. Is that correct?"
    caller.say("yes")
    assert caller.text() == f"{prompts.EMAIL_CONFIRMED} {prompts.HOW_CAN_I_HELP}"
    call = call_of(app, caller)
    assert (call.name, call.email, call.pending_question, call.email_attempts) == ("Mike", "mike@example.com", None, 0)
    caller.say(PASSWORD_QUESTION)
    assert caller.text().endswith(prompts.CHECK_RESOLVED)


def test_asking_why_again_and_again_is_counted_like_unclear_answers(app, caller):
    caller.start()
    for _ in range(MAX_RETRIES):
        caller.say("why?")
        assert caller.listening
    caller.say("why?")
    assert caller.hung_up and caller.text() == prompts.NOT_UNDERSTOOD
    caller.hangup()
    assert ticket(app, caller)["outcome"] == NEEDS_HUMAN


def test_why_after_an_answer_is_not_about_the_email(caller):
    caller.start()
    for said in ("Jane", "jane at example dot com", "yes", PASSWORD_QUESTION):
        caller.say(said)
    caller.say("why?")
    assert caller.text() == f"{prompts.SAY_YES_OR_NO} {prompts.CHECK_RESOLVED}"
