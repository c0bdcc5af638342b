"""A caller who calls about a case they already opened is passed to the team that can look it up.

Before, "what's the status of my ticket?" and "I'm calling about case number 45678" found no article and the caller
heard "I'm sorry, I don't have that information right now", and "I sent an email yesterday and nobody got back to
me" was answered with the article on connecting a support mailbox (the word "email"). The ticket's subject did not
say it was a follow-up, nor which case.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from callflow import prompts
from callflow.intents import case_number, follows_up_on_case
from callflow.models import NEEDS_HUMAN

from .test_call_interactions import identified, ticket

QUESTIONS = Path(__file__).parent / "data" / "kb_questions.json"

FOLLOW_UPS = [
    "what's the status of my ticket", "I'm calling about case number 4 5 6 7 8", "any update on my case?",
    "I'm following up on my support request from last week", "I sent an email yesterday and nobody got back to me",
    "I haven't heard back", "I already emailed you about this", "we previously opened a ticket about SSO",
    "I'm calling about ticket 12345", "nobody has replied to my emails", "I still haven't had a reply back",
    # a call or a case before this call (was "Could you tell me a little more about that?", then a search)
    "I called yesterday about my ticket", "I opened a ticket last week", "I spoke to someone yesterday about this",
    "I submitted a ticket and haven't heard back", "we opened a case on Monday and nothing happened",
]
NOT_FOLLOW_UPS = [
    # the caller's own helpdesk: questions about the product
    "ticket 123 disappeared from my inbox", "how do I reopen a case", "how do I check the status of a ticket",
    "my customers haven't heard back from my agents", "the status of the case field is wrong",
    "how do I follow up on a case", "I'm not calling about my ticket, how do I export my cases",
    "I can't log in", "how do I see tickets opened last week", "I didn't call yesterday",
    "my customer called yesterday and the ticket did not show up", "", None,
]


@pytest.mark.parametrize("text", FOLLOW_UPS)
def test_follow_ups_are_recognised(text):
    assert follows_up_on_case(text)


@pytest.mark.parametrize("text", NOT_FOLLOW_UPS)
def test_questions_about_the_callers_own_tickets_are_not_follow_ups(text):
    assert not follows_up_on_case(text)


@pytest.mark.parametrize(("text", "number"), [
    ("I'm calling about case number 4 5 6 7 8", "45678"), ("ticket 12345", "12345"), ("case no. 987", "987"),
    ("my case", None), ("case 7", None), ("", None), (None, None),
])
def test_case_number(text, number):
    assert case_number(text) == number


def test_no_labelled_routing_question_is_a_follow_up():
    """Routing accuracy is unchanged: none of the labelled KB questions is taken for a follow-up."""
    assert not [q["question"] for q in json.loads(QUESTIONS.read_text()) if follows_up_on_case(q["question"])]


def test_a_follow_up_with_a_case_number_is_passed_on_with_it(app, caller):
    identified(caller)
    caller.say("I'm calling about case number 4 5 6 7 8")
    assert caller.hung_up and caller.text() == prompts.CASE_FOLLOW_UP
    caller.hangup()
    p = ticket(app, caller)
    assert (p["outcome"], p["priority"], p["subject"]) == (NEEDS_HUMAN, "urgent", "Follow-up on case 45678")
    assert "Case number given: 45678." in p["summary"] and "following up on a case" in p["summary"]
    assert p["topic"] == "case follow-up"


def test_a_follow_up_without_a_number_keeps_the_callers_words(app, caller):
    identified(caller)
    caller.say("I sent an email yesterday and nobody got back to me")
    assert caller.hung_up and caller.text() == prompts.CASE_FOLLOW_UP
    caller.hangup()
    p = ticket(app, caller)
    assert p["subject"] == "Follow-up: I sent an email yesterday and nobody got back to me"
    assert "Case number" not in p["summary"]


def test_a_follow_up_said_at_the_greeting_is_passed_on_after_the_email(app, caller):
    caller.start()
    caller.say("Hi, this is Jane, what's the status of my ticket")
    assert caller.text().endswith(prompts.ASK_EMAIL_AFTER_QUESTION)
    caller.say("jane at example dot com")
    caller.say("yes")
    assert caller.hung_up and caller.text() == f"{prompts.EMAIL_CONFIRMED} {prompts.CASE_FOLLOW_UP}"
    caller.hangup()
    assert ticket(app, caller)["requester"]["email"] == "jane@example.com"
