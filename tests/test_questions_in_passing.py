"""A question said where something else was asked for: with the email address, with the "yes" to its read-back,
or instead of a yes or a no to "Did that solve your issue?".

Before, the call dropped the first two: "bob at example dot com, and I forgot my password" and "yes that's
right, how do I reset my password?" were both followed by "Thank you. How can I help you today?", and the caller
had to ask again. A follow-up question at "Did that solve your issue?" ("what if I have more than one time
zone?") got "Sorry, please say yes or no." A question said in passing where a yes or a no was asked for is taken
only when the KB has an article for it, so that "is that all you need?" or "what do you mean?" is not passed to a
person as a question without an answer.
"""
from __future__ import annotations

import pytest

from callflow import prompts
from callflow.flow import CallFlow
from callflow.intents import looks_like_question, opens_with_question, question_after_yes
from callflow.models import RESOLVED

from .conftest import Caller
from .test_call_interactions import call_of, heard, identified, openai_app, ticket  # noqa: F401 (a fixture)
from .test_flow import machine

PASSWORD_ANSWER = 'From our article "Resetting a forgotten password"'
TIME_ZONE_ANSWER = 'From our article "Changing your time zone and business hours"'


@pytest.mark.parametrize("text,question", [
    ("yes that's right, how do I reset my password", "how do I reset my password"),
    ("Yes. My account is locked.", "My account is locked."),
    ("yes and I can't log in", "I can't log in"),
    ("yes that's correct, I can't log in", "I can't log in"),
    ("yes, I need help with my invoice", "I need help with my invoice"),
    ("Yes, that's it. How do I export my cases?", "How do I export my cases?"),
])
def test_question_after_yes(text, question):
    assert question_after_yes(text) == question


@pytest.mark.parametrize("text", [
    "yes", "yes that's right", "yes it is", "Yes, that's correct.", "yep that's it", "yes correct thank you",
    "yes that's my work email", "yes that's the email on my account", "Yes, that's correct. Thanks for your help.",
    "Yes. That's the one I use.", "I can't log in", "no, I can't log in", "", None,
])
def test_a_confirmation_alone_has_no_question(text):
    assert question_after_yes(text) is None


def test_a_question_said_with_the_address_is_answered_once_it_is_confirmed(app, caller):
    caller.start()
    caller.say("Bob")
    caller.say("it's bob at example dot com, and I forgot my password")
    assert caller.text().startswith("I heard B, O, B, at, example dot com")
    caller.say("yes")
    assert caller.text().startswith(f"{prompts.EMAIL_CONFIRMED} {PASSWORD_ANSWER}")
    assert caller.text().endswith(prompts.CHECK_RESOLVED)
    caller.say("yes")
    caller.say("no thanks")
    caller.hangup()
    p = ticket(app, caller)
    assert (p["outcome"], p["subject"]) == (RESOLVED, "I forgot my password")


def test_a_question_said_with_the_yes_to_the_read_back_is_answered(app, caller):
    caller.start()
    caller.say("Jane")
    caller.say("jane at example dot com")
    caller.say("yes that's right, how do I reset my password?")
    assert caller.text().startswith(f"{prompts.EMAIL_CONFIRMED} {PASSWORD_ANSWER}")
    caller.say("yes")
    assert caller.text() == prompts.ANYTHING_ELSE
    caller.say("no thanks")
    caller.hangup()
    p = ticket(app, caller)
    assert (p["outcome"], p["subject"]) == (RESOLVED, "How do I reset my password?")


def test_a_question_stated_at_the_greeting_is_kept_over_a_later_remark(app, caller):
    caller.start()
    caller.say("Hi, this is Jane, I forgot my password")
    caller.say("jane at example dot com")
    caller.say("yes, and how do I export my cases?")
    assert caller.text().startswith(f"{prompts.EMAIL_CONFIRMED} {PASSWORD_ANSWER}")


@pytest.mark.parametrize("said", ["Yes. It's the one on my account.", "yes is that all you need?",
                                  "yes, can you hurry up please", "yes that's the email on my account"])
def test_a_remark_with_the_yes_that_the_kb_cannot_answer_is_not_taken_for_the_question(caller, said):
    caller.start()
    caller.say("Jane")
    caller.say("jane at example dot com")
    caller.say(said)
    assert caller.text() == f"{prompts.EMAIL_CONFIRMED} {prompts.HOW_CAN_I_HELP}"


def test_a_follow_up_question_instead_of_a_yes_or_a_no_is_answered(app, caller):
    identified(caller)
    caller.say("how do I set up an SLA")
    assert caller.text().endswith(prompts.CHECK_RESOLVED)
    caller.say("what if I have more than one time zone?")
    assert caller.text().startswith(TIME_ZONE_ANSWER) and caller.text().endswith(prompts.CHECK_RESOLVED)
    caller.say("yes")
    assert caller.text() == prompts.ANYTHING_ELSE
    caller.say("no thanks")
    caller.hangup()
    p = ticket(app, caller)
    assert p["outcome"] == RESOLVED
    assert "asked 2 questions" in p["contents_html"] and "time zone" in p["contents_html"]


@pytest.mark.parametrize("said", ["what do you mean?", "is that everything?", "I'm not sure"])
def test_a_remark_instead_of_a_yes_or_a_no_is_still_asked_again(caller, said):
    identified(caller)
    caller.say("how do I reset my password")
    caller.say(said)
    assert caller.text() == f"{prompts.SAY_YES_OR_NO} {prompts.CHECK_RESOLVED}"


def test_asked_more_goes_from_check_resolved_back_to_answer():
    sm, row = machine("check_resolved")
    sm.send("asked_more")
    assert row.state == "answer" and row.resolved_count == 0 and not row.anything_else_asked
    assert "asked_more" in {e.id for e in CallFlow.events}


def test_a_follow_up_that_leans_on_the_answer_is_asked_again_without_a_drafting_model(caller):
    """Without OpenAI a follow-up is searched by itself, and "what about for admins?" finds no article."""
    identified(caller)
    caller.say("how do I reset my password")
    caller.say("what about for admins?")
    assert caller.text() == f"{prompts.SAY_YES_OR_NO} {prompts.CHECK_RESOLVED}"


def test_openai_a_follow_up_that_leans_on_the_answer_is_searched_with_it(openai_app):
    """With a drafting model, "what about for admins?" is searched together with the earlier question, and answered
    as a follow-up would be after "yes, and ...?"."""
    caller = Caller(openai_app.test_client())
    identified(caller)
    caller.say("how do I reset my password")
    caller.say("what about for admins?")
    assert caller.listening and heard(openai_app, caller).endswith(prompts.CHECK_RESOLVED)
    call = call_of(openai_app, caller)
    assert (call.state, call.questions_asked) == ("check_resolved", 2)
    assert call.last_question == "how do I reset my password what about for admins?"


@pytest.mark.parametrize("said", ["it keeps crashing", "the page is still blank", "the reset email goes to spam"])
def test_how_the_answer_went_is_no_follow_up_question(caller, said):
    """A symptom said at "Did that solve your issue?" tells how the answer went: it is asked for a yes or a no again,
    not answered as a new question."""
    identified(caller)
    caller.say("how do I reset my password")
    caller.say(said)
    assert caller.text() == f"{prompts.SAY_YES_OR_NO} {prompts.CHECK_RESOLVED}"


@pytest.mark.parametrize("said", ["it says my account is locked", "It says my account is locked."])
def test_what_trying_the_answer_led_to_is_answered_from_another_article(app, caller, said):
    """"It says my account is locked" after the password answer was asked for a yes or a no, though it names the next
    problem, which another article answers: it is answered from that article, as a follow-up question is, and the
    password answer is not counted as a solved one."""
    identified(caller)
    caller.say("how do I reset my password")
    caller.say(said)
    assert caller.text().startswith('From our article "My account is locked after too many sign-in attempts"')
    assert caller.listening and caller.text().endswith(prompts.CHECK_RESOLVED)
    call = call_of(app, caller)
    assert (call.questions_asked, call.resolved_count) == (2, 0)


@pytest.mark.parametrize("text", ["my emails are not arriving", "the widget isn't showing", "notifications stopped",
                                  "the app keeps freezing", "I get a blank screen", "the chat is offline",
                                  "Slack messages stopped coming through", "customers aren't getting replies",
                                  "my cases disappeared", "Reports from finance are wrong", "the export came out empty",
                                  "half the tickets went missing"])
def test_a_symptom_without_a_problem_word_is_a_question(text):
    assert looks_like_question(text)


@pytest.mark.parametrize("text", ["Jane", "Hi, this is Jane", "I'm not sure", "not really", "sorry, wrong number",
                                  "not today", "Jane, not Joan", "wrong number"])
def test_no_symptom(text):
    assert not looks_like_question(text)


def test_something_gone_wrong_said_at_the_greeting_is_kept_as_the_question(app, caller):
    caller.start()
    caller.say("Hi, it's Jane, my cases disappeared")
    assert caller.text() == f"{prompts.thanks_name('Jane')} {prompts.ASK_EMAIL_AFTER_QUESTION}"
    assert call_of(app, caller).pending_question == "my cases disappeared"


def test_a_symptom_said_at_the_greeting_is_kept_as_the_question(app, caller):
    caller.start()
    caller.say("Hi, this is Jane, my emails are not arriving")
    assert caller.text() == f"{prompts.thanks_name('Jane')} {prompts.ASK_EMAIL_AFTER_QUESTION}"
    assert call_of(app, caller).pending_question == "my emails are not arriving"


@pytest.mark.parametrize("text,opens", [
    ("what if I have more than one time zone?", True), ("ok, and how long does the link last?", True),
    ("does it work on the mobile app too", True), ("it keeps crashing", False), ("the page is still blank", False),
    ("yes", False), ("", False), (None, False),
])
def test_opens_with_question(text, opens):
    assert opens_with_question(text) is opens


@pytest.mark.parametrize("said", ["how do I do that for my whole team", "can I do that for my whole team?"])
def test_a_question_with_i_do_in_it_is_no_yes(app, caller, said):
    """"how do I do that for my whole team" at "Did that solve your issue?" held "I do", a yes: the caller heard
    "Great. Is there anything else I can help you with?", and the ticket said the answer had solved the issue."""
    identified(caller)
    caller.say("how do I set up a macro")
    caller.say(said)
    assert caller.listening and caller.text() != prompts.ANYTHING_ELSE
    call = call_of(app, caller)
    assert call.resolved_count == 0


@pytest.mark.parametrize("said", ["yes, I do", "yes it did", "I do"])
def test_a_yes_with_do_in_it_is_still_a_yes(app, caller, said):
    identified(caller)
    caller.say("how do I set up a macro")
    caller.say(said)
    assert caller.text() == prompts.ANYTHING_ELSE
