"""The Kayako case as the support agent who opens it reads it: whole calls through the test
client, then the queued ticket's summary and HTML contents."""
from __future__ import annotations

import pytest
from sqlalchemy import select, update

from callflow import prompts
from callflow.drafts import CallSummary
from callflow.extensions import db
from callflow.models import Call, KbArticle
from callflow.tickets import compose_ticket

from .conftest import Caller
from .test_calls import PASSWORD_QUESTION, identify, ticket_of

PASSWORD_ARTICLE = "Resetting a forgotten password"
EXPORT_ARTICLE = "Exporting cases and reports"


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


def test_a_caller_who_asks_for_a_person_after_an_answer_did_not_ask_an_unanswered_question(app, caller):
    identify(caller)
    caller.say(PASSWORD_QUESTION)
    caller.say("can I talk to a real person please")
    assert prompts.CALLER_REQUEST in caller.text()
    caller.hangup(duration=40)
    p = ticket_of(app, caller).payload
    assert p["outcome"] == "needs-human" and p["topic"] == PASSWORD_ARTICLE.lower()[:40]


def test_the_ticket_names_the_articles_read_and_not_the_best_guess_for_an_unanswered_question(app, caller):
    identify(caller)
    caller.say(PASSWORD_QUESTION)
    caller.say("yes")
    caller.say("my invoice from the warehouse robot exploded, what now?")
    assert caller.hung_up and prompts.ESCALATE in caller.text()
    caller.hangup()
    html = ticket_of(app, caller).payload["contents_html"]
    with app.app_context():
        closest = db.session.scalar(
            select(KbArticle.title).join(Call, Call.article_id == KbArticle.external_id)
            .where(Call.call_sid == caller.call_sid))
    assert closest and closest != PASSWORD_ARTICLE
    assert f"Answered from: {PASSWORD_ARTICLE}</li>" in html
    assert f"Closest help-center article (not read to the caller): {closest}</li>" in html
    assert f"Help-center article: {closest}" not in html


def test_articles_link_to_the_help_center_only_over_http(app, caller):
    with app.app_context():
        db.session.execute(update(KbArticle).where(KbArticle.title == PASSWORD_ARTICLE)
                           .values(url="https://help.example.com/en-us/article/1-reset?a=1&b=2"))
        db.session.execute(update(KbArticle).where(KbArticle.title == EXPORT_ARTICLE)
                           .values(url="javascript:alert(1)"))
        db.session.commit()
    identify(caller)
    caller.say("how do I reset my password")
    caller.say("yes")
    caller.say("how do I export my cases")
    caller.say("yes")
    caller.say("no thanks")
    caller.hangup()
    html = ticket_of(app, caller).payload["contents_html"]
    assert f'<a href="https://help.example.com/en-us/article/1-reset?a=1&amp;b=2">{PASSWORD_ARTICLE}</a>' in html
    assert "javascript:" not in html and f", {EXPORT_ARTICLE}</li>" in html


@pytest.mark.parametrize("from_number", ["+266696687", "anonymous", "sip:alice@example.com"])
def test_a_withheld_caller_id_is_not_shown_as_a_number_to_call(client, app, from_number):
    caller = Caller(client, from_number=from_number)
    caller.start()
    caller.say("Jane")
    for _ in range(3):
        caller.say("I don't know")
    caller.say("I want to talk to a person")
    caller.hangup()
    p = ticket_of(app, caller).payload
    html = p["contents_html"]
    assert f"Phone: {from_number}<" not in html
    assert "Phone: none to call back" in html
    assert "No way to reach the caller" in html
    assert p["requester"]["phone"] == from_number  # the helpdesk client drops it (normalize_phone)


def test_a_caller_with_a_number_is_reachable(app, caller):
    caller.start()
    caller.say("Jane")
    caller.hangup()
    html = ticket_of(app, caller).payload["contents_html"]
    assert f"Phone: {caller.from_number}</li>" in html and "No way to reach the caller" not in html


def test_the_transcript_labels_the_bot_and_leaves_out_internal_state_names(app, caller):
    identify(caller)
    caller.say(PASSWORD_QUESTION)
    caller.say("no it didn't")
    caller.hangup()
    html = ticket_of(app, caller).payload["contents_html"]
    transcript = html.split("CALL TRANSCRIPT", 1)[1]
    assert "Agent" not in transcript  # a Kayako agent is a person of the team, not callflow
    assert "] Bot:</b> Thank you for calling" in transcript and "] Caller:</b> " in transcript
    for state in ("greet", "collect_email", "confirm_email", "check_resolved", "escalate"):
        assert f"({state})" not in transcript


def test_summary_lines_stay_lines(app, caller):
    identify(caller)
    caller.hangup()
    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == caller.call_sid))
        summary = CallSummary(summary="Jane <b>called</b>.\nShe hung up.", topic="t", sentiment="neutral")
        html = compose_ticket(call, summary, source="openai")["contents_html"]
    assert "<p>Jane &lt;b&gt;called&lt;/b&gt;.<br>She hung up.</p>" in html
