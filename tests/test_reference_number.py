"""A caller who asks for a ticket number ("can I get a ticket number?").

Before, it was searched as a question: "ticket number" found "Adding custom fields to cases" (number fields), and
the caller heard how to add a case field. The case is created when the call ends, so there is no number to give
on the call; now the caller hears so, and the question again.
"""
from __future__ import annotations

import pytest

from callflow import prompts
from callflow.intents import asks_for_reference

from .test_call_interactions import call_of, identified, ticket

ASKS = ["can I get a ticket number?", "is there a reference number", "what's my case number",
        "oh one more thing, can I have a reference number please", "will I get a ticket for this",
        "I need a reference number for this call", "could you give me a case number"]
NOT_ASKING = ["my ticket number is 12345", "what's the status of my ticket", "how do I add a number field to a case",
              "can I get a ticket number for my last call because it was wrong", "ticket", "", None]


@pytest.mark.parametrize("said", ASKS)
def test_asks_for_reference(said):
    assert asks_for_reference(said)


@pytest.mark.parametrize("said", NOT_ASKING)
def test_does_not_ask_for_reference(said):
    assert not asks_for_reference(said)


def test_a_ticket_number_asked_at_anything_else(app, caller):
    identified(caller)
    caller.say("I forgot my password")
    caller.say("yes")
    caller.say("can I get a ticket number?")
    assert caller.listening and caller.text() == f"{prompts.REFERENCE} {prompts.ANYTHING_ELSE_AGAIN}"
    caller.say("no thanks")
    assert caller.hung_up and caller.text() == prompts.GOODBYE
    caller.hangup()
    p = ticket(app, caller)
    assert p["outcome"] == "ai-resolved"
    assert call_of(app, caller).questions_asked == 1  # no question searched


def test_a_ticket_number_asked_before_any_question(app, caller):
    identified(caller)
    caller.say("is there a reference number")
    assert caller.text() == f"{prompts.REFERENCE} {prompts.HOW_CAN_I_HELP}"
    assert call_of(app, caller).article_id is None
