"""Two questions in one breath: "how do I reset my password, and how do I export my cases?".

Before, the whole sentence was searched as one question: the caller heard the password answer, said yes, heard "Is
there anything else I can help you with?" and had to ask the second question again. A caller who said no was
passed on, and the ticket named only the first question. Now two questions that two articles answer are taken
one at a time: the first answer, then the other once the caller says whether the first helped; the ticket says
when the call ended before the other was reached.
"""
from __future__ import annotations

import flask_migrate
import pytest
from sqlalchemy import select

from callflow import create_app, prompts
from callflow.extensions import db
from callflow.intents import split_questions
from callflow.models import NEEDS_HUMAN, RESOLVED

from .conftest import base_config
from .migration_rows import add_call_at, call_table
from .test_admin import admin, signed_in  # noqa: F401 (fixtures)
from .test_call_interactions import call_of, identified, ticket

TWO = "how do I reset my password, and how do I export my cases?"
PASSWORD = 'From our article "Resetting a forgotten password"'
EXPORT = 'From our article "Exporting cases and reports"'


@pytest.mark.parametrize("text,first,rest", [
    ("how do I reset my password and how do I export my cases", "how do I reset my password",
     "how do I export my cases"),
    ("how do I reset my password, and also how can I export cases?", "how do I reset my password",
     "how can I export cases?"),
    ("How do I reset my password? Also, one more thing: how do I connect slack", "How do I reset my password?",
     "how do I connect slack"),
    ("how do I add an agent and what roles can they have", "how do I add an agent", "what roles can they have"),
])
def test_split_questions(text, first, rest):
    assert (first, rest) in split_questions(text)


@pytest.mark.parametrize("text", ["how do I export cases and reports", "how do I reset my password",
                                  "I forgot my password and can't log in, how do I reset it",  # "it": one question
                                  "I forgot my password and can't log in", "my screen is blank and does not load",
                                  "I can't log in and my invoices are missing", "yes and no", "hi", "", None,
                                  "how do I reset it, and how"])
def test_one_question_is_not_split(text):
    assert split_questions(text) == []


def test_every_split_keeps_both_sides_long_enough():
    text = "I have two questions. How do I reset my password? And how do I export my cases?"
    pairs = split_questions(text)
    assert ("I have two questions. How do I reset my password?", "how do I export my cases?") in pairs
    assert all(len(a.split()) >= 3 and len(b.split()) >= 3 for a, b in pairs)



def test_two_questions_are_answered_one_at_a_time(app, caller):
    identified(caller)
    caller.say(TWO)
    assert caller.text().startswith(f"{prompts.ONE_AT_A_TIME} {PASSWORD}")
    assert caller.text().endswith(prompts.CHECK_RESOLVED)
    caller.say("yes")
    assert caller.text().startswith(f"{prompts.GREAT} {prompts.OTHER_QUESTION} {EXPORT}")
    caller.say("yes")
    assert caller.text() == prompts.ANYTHING_ELSE
    caller.say("no thanks")
    caller.hangup()
    p = ticket(app, caller)
    assert p["outcome"] == RESOLVED and "also asked" not in p["summary"]
    call = call_of(app, caller)
    assert (call.questions_asked, call.resolved_count, call.next_question) == (2, 2, None)


def test_a_no_to_the_first_passes_both_on(app, caller):
    identified(caller)
    caller.say(TWO)
    caller.say("no")
    assert caller.hung_up and caller.text() == prompts.NOT_RESOLVED
    caller.hangup()
    p = ticket(app, caller)
    assert p["outcome"] == NEEDS_HUMAN
    assert 'also asked: "how do I export my cases?"; it was not answered on the call.' in p["summary"]


def test_a_hang_up_before_the_other_question_is_in_the_ticket(app, caller):
    identified(caller)
    caller.say(TWO)
    caller.hangup()
    assert "also asked" in ticket(app, caller)["summary"]


def test_trying_the_first_later_goes_on_to_the_other(app, caller):
    identified(caller)
    caller.say(TWO)
    caller.say("I'll try that later")
    assert caller.text().startswith(f"{prompts.TRY_LATER} {prompts.OTHER_QUESTION} {EXPORT}")


def test_two_questions_said_with_the_name_are_answered_after_the_address(app, caller):
    caller.start()
    caller.say(f"Hi, this is Jane, {TWO}")
    caller.say("jane at example dot com")
    caller.say("yes")
    assert caller.text().startswith(f"{prompts.EMAIL_CONFIRMED} {prompts.ONE_AT_A_TIME} {PASSWORD}")
    caller.say("yes")
    assert EXPORT in caller.text()


def test_a_follow_up_question_comes_before_the_other(app, caller):
    """"Yes, and how do I connect Slack?" is answered at once; the other question waits for its yes."""
    identified(caller)
    caller.say(TWO)
    caller.say("yes, and how do I connect slack?")
    assert 'From our article "Connecting Slack"' in caller.text()
    caller.say("yes")
    assert EXPORT in caller.text()


def test_two_halves_one_article_answer_once(app, caller):
    """"What is SSO, and how do I set it up?" asks about one article: answered as one question."""
    identified(caller)
    caller.say("what is single sign-on, and how do I set it up?")
    assert prompts.ONE_AT_A_TIME not in caller.text()
    caller.say("yes")
    assert caller.text() == prompts.ANYTHING_ELSE
    assert call_of(app, caller).next_question is None


def test_a_half_the_kb_cannot_answer_is_no_second_question(app, caller):
    identified(caller)
    caller.say("how do I reset my password, and how do I configure the flux capacitor on my spaceship?")
    assert prompts.ONE_AT_A_TIME not in caller.text()
    assert call_of(app, caller).next_question is None


def test_the_migration_adds_next_question_to_existing_calls(tmp_path, database_url):
    app = create_app(base_config(tmp_path, database_url))
    with app.app_context():
        add_call_at("d5f2c7a9e813", "CA" + "6" * 32, answer_deferred=False)
        flask_migrate.upgrade()
        with db.engine.connect() as conn:
            call = call_table(conn)
            assert conn.execute(select(call.c.call_sid, call.c.next_question)).one() == ("CA" + "6" * 32, None)
        flask_migrate.downgrade(revision="d5f2c7a9e813")
        with db.engine.connect() as conn:
            assert "next_question" not in call_table(conn).c

def test_the_admin_sees_the_question_not_reached(app, caller, signed_in):  # noqa: F811 (a fixture)
    identified(caller)
    caller.say(TWO)
    caller.hangup()
    html = signed_in.get(f"/admin/calls/{call_of(app, caller).id}").get_data(as_text=True)
    assert 'data-testid="next-question"' in html and "how do I export my cases?" in html
