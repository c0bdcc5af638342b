"""A caller asking for another language than English ("do you speak Spanish?", "español").

Before, "español" at the name question was taken for the caller's name ("Thanks, Español."), and "do you speak
Spanish?" was kept as the caller's question ("I can help with that. First, what's the email address...?"). The line
speaks English only: now the caller hears so, and the call is passed to a person.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from callflow import prompts
from callflow.admin.forms import ESCALATION_REASONS
from callflow.intents import asks_for_language
from callflow.models import NEEDS_HUMAN

from .test_call_interactions import identified, ticket

QUESTIONS = Path(__file__).parent / "data" / "kb_questions.json"

ASKS = ["do you speak Spanish", "español", "¿Hablas español?", "Parlez-vous français", "Spanish please",
        "en español por favor", "my English is not good", "no hablo inglés", "I speak Spanish only",
        "hola, ¿habla usted español?", "can someone help me in French"]
NOT_ASKING = ["how do I translate my help center into Spanish", "can I set my help center to French", "Jane",
              "is there someone who speaks Spanish",  # a person asked for: wants_human
              "", None]


@pytest.mark.parametrize("said", ASKS)
def test_asks_for_language(said):
    assert asks_for_language(said)


@pytest.mark.parametrize("said", NOT_ASKING)
def test_does_not_ask_for_language(said):
    assert not asks_for_language(said)


def test_no_labelled_routing_question_asks_for_a_language():
    assert not [q for q in json.loads(QUESTIONS.read_text()) if asks_for_language(q["question"])]


@pytest.mark.parametrize("said", ["español", "do you speak Spanish"])
def test_another_language_at_the_name_question_is_passed_on(app, caller, said):
    caller.start()
    caller.say(said)
    assert caller.hung_up and caller.text() == prompts.LANGUAGE
    caller.hangup()
    p = ticket(app, caller)
    assert (p["outcome"], p["topic"]) == (NEEDS_HUMAN, "another language")
    assert "another language than English" in p["summary"]
    assert p["requester"]["name"] != "Español"


def test_another_language_later_in_the_call(app, caller):
    identified(caller)
    caller.say("hablas español")
    assert caller.hung_up and caller.text() == prompts.LANGUAGE


def test_the_admin_names_the_reason():
    assert ESCALATION_REASONS["language"] == "Caller asked for another language"
