"""A caller reporting a break-in ("I think I've been hacked") is passed to a person at once, with an urgent ticket
that says why. Before, "I think I've been hacked" got "Could you tell me a little more about that?", and "someone
logged into my account" was searched and answered from the locked-account article ("we temporarily block an
account after five unsuccessful sign-in attempts").
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from callflow import prompts
from callflow.admin.forms import ESCALATION_REASONS
from callflow.intents import reports_security_issue
from callflow.models import NEEDS_HUMAN

from .test_call_interactions import identified, ticket

QUESTIONS = Path(__file__).parent / "data" / "kb_questions.json"

BREAK_INS = [
    "I think I've been hacked", "my account has been hacked", "someone logged into my account",
    "somebody is using my account", "there's suspicious activity on our helpdesk", "we had a data breach",
    "one of my agents accounts was compromised", "I was hacked last night",
    "I got an email about an unrecognized login",
]
NOT_BREAK_INS = [
    "how do I see suspicious logins", "how do I stop my account being hacked", "how do I turn on two factor",
    "my account is locked", "I can't log in to my account", "someone on my team needs access", "", None,
]


@pytest.mark.parametrize("text", BREAK_INS)
def test_break_ins_are_recognised(text):
    assert reports_security_issue(text)


@pytest.mark.parametrize("text", NOT_BREAK_INS)
def test_how_to_questions_and_sign_in_problems_are_not_break_ins(text):
    assert not reports_security_issue(text)


def test_no_labelled_routing_question_is_a_break_in():
    """Routing accuracy is unchanged: no labelled question is flagged."""
    assert not [q for q in json.loads(QUESTIONS.read_text()) if reports_security_issue(q["question"])]


@pytest.mark.parametrize("said", ["I think I've been hacked", "someone logged into my account"])
def test_a_break_in_is_passed_to_a_person_at_once(app, caller, said):
    identified(caller)
    caller.say(said)
    assert caller.hung_up and caller.text() == prompts.SECURITY
    caller.hangup()
    p = ticket(app, caller)
    assert (p["outcome"], p["priority"], p["topic"]) == (NEEDS_HUMAN, "urgent", "security")
    assert "broken into" in p["summary"] and p["sentiment"] == "negative"
    assert p["subject"] == said[:1].upper() + said[1:]


def test_the_admin_names_the_reason():
    assert ESCALATION_REASONS["security"] == "Caller reported a break-in"
