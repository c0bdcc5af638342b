"""The Kayako case as the support agent who opens it reads it: whole calls through the test
client, then the queued ticket's summary and HTML contents."""
from __future__ import annotations

from callflow import prompts

from .test_calls import PASSWORD_QUESTION, identify, ticket_of

PASSWORD_ARTICLE = "Resetting a forgotten password"


def test_an_answer_the_caller_never_confirmed_is_not_reported_as_solving_it(app, caller):
    """Q1 confirmed, Q2 answered, then the caller hangs up: the outcome stays ai-resolved (an answer was
    confirmed) but the summary must not claim the caller confirmed the answer to Q2."""
    identify(caller)
    caller.say("how do I reset my password")
    caller.say("yes")
    caller.say("how do I export my cases")
    assert prompts.CHECK_RESOLVED in caller.text()
    caller.hangup(duration=100)
    p = ticket_of(app, caller).payload
    assert p["outcome"] == "ai-resolved"
    assert "confirmed it solved the issue" not in p["summary"]
    assert "hung up before saying whether it helped" in p["summary"]
    assert "asked 2 questions" in p["summary"]
    assert p["sentiment"] == "neutral"


def test_a_caller_who_hangs_up_on_an_answer_did_not_ask_an_unanswered_question(app, caller):
    identify(caller)
    caller.say(PASSWORD_QUESTION)
    assert prompts.CHECK_RESOLVED in caller.text()
    caller.hangup(duration=40)
    p = ticket_of(app, caller).payload
    assert p["outcome"] == "abandoned"
    assert p["topic"] != "unanswered question"
    assert PASSWORD_ARTICLE in p["summary"] and "hung up before saying whether it helped" in p["summary"]
