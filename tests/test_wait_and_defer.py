"""A caller who needs a moment, or can only try the answer later.

Before, "hold on, let me check" was taken for an answer: at the email question it was spelled back, at "Did that
solve your issue?" the caller heard "Sorry, please say yes or no", and the silence that followed while they
checked was counted against them with Twilio's usual 6 s wait. "I'll try that later" got "please say yes or no"
twice and then "I'm having trouble understanding", an urgent ticket for a caller who had been answered.
"""
from __future__ import annotations

import flask_migrate
import pytest
from sqlalchemy import select

from callflow import create_app, prompts
from callflow.extensions import db
from callflow.intents import asks_to_wait, defers_answer
from callflow.models import ABANDONED, RESOLVED

from .conftest import base_config
from .migration_rows import add_call_at, call_table
from .test_call_interactions import identified, ticket

WAITS = ["one moment, let me find it", "hold on", "hang on a second", "one moment please", "ok let me check",
         "let me try it now", "just a sec",
         "give me a minute", "wait", "hold on let me check", "sorry, one second", "bear with me", "let me find it",
         "hang on I'm trying it now", "I'm trying it now", "I'm just checking", "I'm looking at it"]
NOT_WAITS = ["hold on, it's jane at example dot com", "let me check my invoice, how do I pay it", "yes", "no",
             "I'm trying to reset my password",
             "I'll try that later", "", None]
DEFERS = ["I'll try that later", "I'll give it a go", "I don't know yet", "I haven't tried it yet",
          "I'll try it tomorrow", "I'll have to try it when I get back to my desk", "I'll let you know",
          "I can't try it right now", "I'll try it and see", "not sure yet", "ok I'll test it later thanks",
          "I'll try it", "I'll do that", "I'll try", "will do", "I'll give that a try", "I'll have a look",
          "I'll do that, thanks", "I'll call back later", "I'll call you back if it doesn't work", "I'll call back",
          "ok I'll ring back tomorrow", "I'll call back if I have more questions",
          # the steps are someone else's to do (was "Sorry, please say yes or no.")
          "I'll have to check with my IT team", "I need to ask my admin", "let me check with my boss first",
          "I'll check with IT"]
NOT_DEFERS = ["I'm not sure", "yes", "no", "I tried it and it didn't work", "later", "hold on", "", None,
              "I'll do that but it didn't work before", "I'll try again but it's not working", "I do",
              "I'll call back to cancel my subscription", "can you call me back", "I need to ask my admin how to do that",
          "I'll check it"]


@pytest.mark.parametrize("text", WAITS)
def test_asks_to_wait(text):
    assert asks_to_wait(text)


@pytest.mark.parametrize("text", NOT_WAITS)
def test_an_answer_is_not_a_wait(text):
    assert not asks_to_wait(text)


@pytest.mark.parametrize("text", DEFERS)
def test_defers_answer(text):
    assert defers_answer(text)


@pytest.mark.parametrize("text", NOT_DEFERS)
def test_a_yes_a_no_or_a_bare_not_sure_is_not_put_off(text):
    assert not defers_answer(text)


def _gather_timeout(caller) -> str:
    return caller.last.find("Gather").get("timeout")


def test_a_caller_who_asks_for_a_moment_gets_a_longer_wait_and_the_question_again(app, caller):
    identified(caller)
    caller.say("how do I reset my password")
    assert _gather_timeout(caller) == str(app.config["GATHER_TIMEOUT_S"])
    caller.say("hold on, let me check")
    assert caller.listening and caller.text() == f"{prompts.TAKE_YOUR_TIME} {prompts.CHECK_RESOLVED}"
    assert _gather_timeout(caller) == str(app.config["GATHER_WAIT_TIMEOUT_S"]) == "20"
    caller.say("yes it worked")
    assert caller.text() == prompts.ANYTHING_ELSE
    assert _gather_timeout(caller) == str(app.config["GATHER_TIMEOUT_S"])  # the next question waits as usual
    caller.say("no thanks")
    caller.hangup()
    assert ticket(app, caller)["outcome"] == RESOLVED


def test_a_caller_looking_up_their_email_is_asked_for_it_again(app, caller):
    caller.start()
    caller.say("Jane")
    caller.say("one moment, let me find it")
    assert caller.text() == f"{prompts.TAKE_YOUR_TIME} {prompts.ASK_EMAIL}"
    caller.say("jane at example dot com")
    assert caller.text().startswith("I heard J, A, N, E, at, example dot com")


def test_asking_for_a_moment_again_and_again_is_counted_like_an_unclear_answer(app, caller):
    identified(caller)
    for _ in range(2):
        caller.say("hold on")
        assert caller.listening
    caller.say("hold on")
    assert caller.hung_up and caller.text() == prompts.NOT_UNDERSTOOD


def test_i_will_try_that_later_goes_on_to_anything_else(app, caller):
    identified(caller)
    caller.say("how do I reset my password")
    caller.say("I'll try that later")
    assert caller.listening and caller.text() == f"{prompts.TRY_LATER} {prompts.ANYTHING_ELSE_AGAIN}"
    caller.say("no that's all")
    assert caller.hung_up and caller.text() == prompts.GOODBYE
    caller.hangup()
    p = ticket(app, caller)
    assert (p["outcome"], p["priority"]) == (ABANDONED, "normal")  # nobody was promised a call back
    assert "would try it later" in p["summary"] and "Resetting a forgotten password" in p["summary"]
    assert p["sentiment"] == "neutral"


def test_silence_at_anything_else_after_putting_it_off_says_goodbye(app, caller):
    """Like a resolved caller: silence there means "no", not a caller we cannot understand (an urgent ticket)."""
    identified(caller)
    caller.say("how do I reset my password")
    caller.say("I'll give it a go")
    for _ in range(3):
        caller.say(None)
    assert caller.hung_up and caller.text() == prompts.GOODBYE
    caller.hangup()
    p = ticket(app, caller)
    assert p["outcome"] == ABANDONED  # as after "that's all": nothing was confirmed
    assert "would try it later" in p["summary"] and "confirmed" not in p["summary"]


def test_a_later_confirmed_answer_clears_the_deferral(app, caller):
    identified(caller)
    caller.say("how do I reset my password")
    caller.say("I'll try that later")
    caller.say("how do I cancel my subscription")
    caller.say("yes that worked")
    caller.say("no thanks")
    caller.hangup()
    p = ticket(app, caller)
    assert p["outcome"] == RESOLVED and "would try it later" not in p["summary"]
    assert p["sentiment"] == "positive"


def test_the_migration_adds_answer_deferred_false_to_existing_calls(tmp_path, database_url):
    app = create_app(base_config(tmp_path, database_url))
    with app.app_context():
        add_call_at("b3e8a1c52d07", "CA" + "5" * 32)
        flask_migrate.upgrade()
        with db.engine.connect() as conn:
            assert conn.scalar(select(call_table(conn).c.answer_deferred)) is False
        flask_migrate.downgrade(revision="b3e8a1c52d07")
        with db.engine.connect() as conn:
            assert "answer_deferred" not in call_table(conn).c

def test_i_will_do_that_puts_the_answer_off(app, caller):
    """"I'll do that" at "Did that solve your issue?" got "Sorry, please say yes or no."."""
    identified(caller)
    caller.say("how do I reset my password")
    caller.say("I'll do that")
    assert caller.text() == f"{prompts.TRY_LATER} {prompts.ANYTHING_ELSE_AGAIN}"


@pytest.mark.parametrize("said", ["I'll call back later", "I'll call you back if it doesn't work"])
def test_i_will_call_back_puts_the_answer_off(app, caller, said):
    """"I'll call back later" at "Did that solve your issue?" got "Sorry, please say yes or no."."""
    identified(caller)
    caller.say("how do I reset my password")
    caller.say(said)
    assert caller.text() == f"{prompts.TRY_LATER} {prompts.ANYTHING_ELSE_AGAIN}"


def test_trying_it_now_gets_a_longer_wait(app, caller):
    """"Hang on, I'm trying it now" got "Sorry, please say yes or no.", and the usual 6 s wait for the answer."""
    identified(caller)
    caller.say("how do I reset my password")
    caller.say("hang on, I'm trying it now")
    assert caller.text() == f"{prompts.TAKE_YOUR_TIME} {prompts.CHECK_RESOLVED}"
    assert _gather_timeout(caller) == str(app.config["GATHER_WAIT_TIMEOUT_S"])


@pytest.mark.parametrize("said", ["I'll call back later", "sorry, I have to go"])
def test_a_caller_who_leaves_before_asking_hears_goodbye(app, caller, said):
    """At "How can I help you today?" "I'll call back later" was searched as a question, found nothing, and the caller
    heard "I'll pass this on to our expert team": an urgent ticket for a caller who asked nothing."""
    identified(caller)
    caller.say(said)
    assert caller.hung_up and caller.text() == prompts.GOODBYE
    caller.hangup()
    p = ticket(app, caller)
    assert (p["outcome"], p["priority"]) == (ABANDONED, "normal")
