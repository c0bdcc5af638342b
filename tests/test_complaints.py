"""A caller with a complaint is heard out and passed to a person, with a ticket that says it is a complaint.

Before, "I'd like to make a complaint" got "Could you tell me a little more about that?", and what the caller said
next was searched in the KB: "your agent hung up on me twice" found nothing, and the caller heard "I'm sorry, I
don't have that information right now", an answer to a question nobody asked. The ticket's topic was
"unanswered question", which the admin dashboard leaves out of its call drivers.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from callflow import prompts
from callflow.intents import announces_complaint, makes_complaint
from callflow.models import ABANDONED, NEEDS_HUMAN
from callflow.tickets import PLACEHOLDER_TOPICS

from .test_call_interactions import identified, ticket

QUESTIONS = Path(__file__).parent / "data" / "kb_questions.json"

ANNOUNCED = [
    "I'd like to make a complaint", "Hi, I have a complaint please", "this is a complaint", "I'm calling to complain",
    "can I make a complaint", "yes I want to file a formal complaint", "I want to complain",
]
DESCRIBED = [
    "I want to complain about my bill", "the agent I spoke to was really rude", "your support is a joke",
    "worst customer service ever", "I'm very unhappy with your service", "my complaint is that the invoice is wrong",
    "I want to make a complaint about the agent who was rude yesterday", "your staff were extremely unprofessional",
]
NOT_COMPLAINTS = [
    "how do I log a complaint for a customer?", "where can I see complaints", "our customers complain that replies "
    "are slow", "I don't want to complain but my tickets are slow", "I have a customer complaint about tags",
    "the agent app is slow", "how do I reset my password", "I can't log in", "", None,
]


@pytest.mark.parametrize("text", ANNOUNCED + DESCRIBED)
def test_complaints_are_recognised(text):
    assert makes_complaint(text)


@pytest.mark.parametrize("text", NOT_COMPLAINTS)
def test_how_to_questions_and_the_callers_own_customers_complaints_are_not_complaints(text):
    assert not makes_complaint(text)
    assert not announces_complaint(text)


@pytest.mark.parametrize("text", ANNOUNCED)
def test_a_complaint_said_in_so_many_words_only_announces_it(text):
    assert announces_complaint(text)


@pytest.mark.parametrize("text", DESCRIBED)
def test_a_complaint_that_says_what_about_does_not_only_announce_it(text):
    assert not announces_complaint(text)


def test_no_labelled_routing_question_is_a_complaint():
    """Routing accuracy is unchanged: none of the labelled KB questions is taken for a complaint."""
    assert not [q["question"] for q in json.loads(QUESTIONS.read_text()) if makes_complaint(q["question"])]


def test_an_announced_complaint_is_asked_what_happened_then_passed_on(app, caller):
    identified(caller)
    caller.say("I'd like to make a complaint")
    assert caller.listening and caller.text() == f"{prompts.SORRY_TO_HEAR} {prompts.WHAT_HAPPENED}"
    caller.say(None)
    assert caller.text() == f"{prompts.DIDNT_CATCH} {prompts.WHAT_HAPPENED}"
    caller.say("your agent hung up on me twice yesterday")
    assert caller.hung_up and caller.text() == prompts.COMPLAINT
    caller.hangup()
    p = ticket(app, caller)
    assert (p["outcome"], p["priority"]) == (NEEDS_HUMAN, "urgent")
    assert p["subject"] == "Complaint: your agent hung up on me twice yesterday"
    assert p["summary"].startswith('Jane said: "your agent hung up on me twice yesterday".')
    assert "made a complaint" in p["summary"]
    assert (p["topic"], p["sentiment"]) == ("complaint", "negative")
    assert p["topic"] not in PLACEHOLDER_TOPICS  # counted among the dashboard's call drivers


def test_a_complaint_that_says_what_happened_is_passed_on_at_once(app, caller):
    identified(caller)
    caller.say("The agent I spoke to this morning was really rude")
    assert caller.hung_up and caller.text() == prompts.COMPLAINT
    caller.hangup()
    p = ticket(app, caller)
    assert p["subject"] == "Complaint: The agent I spoke to this morning was really rude"
    assert p["outcome"] == NEEDS_HUMAN and p["topic"] == "complaint"


def test_a_complaint_that_names_itself_is_not_labelled_twice(app, caller):
    identified(caller)
    caller.say("I want to complain about being billed twice")
    assert caller.hung_up and caller.text() == prompts.COMPLAINT
    caller.hangup()
    assert ticket(app, caller)["subject"] == "I want to complain about being billed twice"


def test_a_complaint_said_at_the_greeting_is_taken_up_after_the_email(app, caller):
    caller.start()
    caller.say("Hi, I'd like to make a complaint")
    assert caller.text().endswith(prompts.ASK_EMAIL_AFTER_QUESTION)
    caller.say("jane at example dot com")
    caller.say("yes")
    assert caller.text() == f"{prompts.EMAIL_CONFIRMED} {prompts.SORRY_TO_HEAR} {prompts.WHAT_HAPPENED}"
    caller.say("I was billed twice and nobody answered my emails")
    assert caller.hung_up and caller.text() == prompts.COMPLAINT
    caller.hangup()
    p = ticket(app, caller)
    assert p["subject"] == "Complaint: I was billed twice and nobody answered my emails"
    assert p["requester"]["email"] == "jane@example.com"


def test_a_bare_yes_to_what_happened_keeps_the_complaint_as_the_subject(app, caller):
    identified(caller)
    caller.say("I have a complaint")
    caller.say("yes")
    assert caller.hung_up and caller.text() == prompts.COMPLAINT
    caller.hangup()
    assert ticket(app, caller)["subject"] == "I have a complaint"


def test_a_caller_who_thinks_better_of_it_hears_goodbye(app, caller):
    identified(caller)
    caller.say("I'd like to make a complaint")
    caller.say("never mind")
    assert caller.hung_up and caller.text() == prompts.GOODBYE
    caller.hangup()
    assert ticket(app, caller)["outcome"] == ABANDONED


def test_an_outage_after_an_answered_question_is_the_tickets_topic(app, caller):
    """Before, the ticket kept the topic of the earlier, confirmed answer ("resetting a forgotten password")."""
    identified(caller)
    caller.say("how do I reset my password")
    caller.say("yes")
    caller.say("the website is down")
    assert caller.hung_up and caller.text() == prompts.OUTAGE
    caller.hangup()
    p = ticket(app, caller)
    assert (p["topic"], p["subject"]) == ("service outage", "The website is down")
    assert p["summary"].startswith('Jane said: "the website is down".')
