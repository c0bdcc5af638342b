"""A caller whose problem the answer solved only in part, or who thanks us anyway.

Before, "sort of", "partly", "kind of" or "thanks anyway" to "Did that solve your issue?" got "Sorry, please say yes
or no.": the caller had said what they meant, and a caller who then hung up left a ticket that did not say the
answer had fallen short. Now they are a no: the call is passed to a person, who follows up.
"""
from __future__ import annotations

import pytest

from callflow import prompts
from callflow.intents import answer_fell_short, partly_but, reports_success, same_problem, yes_no
from callflow.models import NEEDS_HUMAN

from .test_call_interactions import PASSWORD_QUESTION, call_of, identified, ticket

FELL_SHORT = ["sort of", "kind of", "partly", "partially", "somewhat", "a little", "more or less", "it did sort of",
              "well, partly", "half of it", "sort of but not really", "thanks anyway", "thank you anyway",
              "ok thanks anyways", "nevermind, thanks"]
NOT_SHORT = ["what kind of plan do I need?", "yeah kind of", "ok sort of", "sort of, but how do I export my cases?", "thanks", "I see", "yes", "no",
             "it helped", "anyway, how do I export my cases?", "", None]


@pytest.mark.parametrize("said", FELL_SHORT)
def test_answer_fell_short(said):
    assert answer_fell_short(said) and yes_no(said) != "no"


@pytest.mark.parametrize("said", NOT_SHORT)
def test_answer_did_not_fall_short(said):
    assert not answer_fell_short(said)


@pytest.mark.parametrize("said", ["sort of", "partly", "thanks anyway", "ok thanks anyways"])
def test_an_answer_that_fell_short_is_passed_on(app, caller, said):
    identified(caller)
    caller.say(PASSWORD_QUESTION)
    caller.say(said)
    assert caller.text().startswith(prompts.NOT_RESOLVED)
    assert caller.hung_up
    caller.hangup()
    assert ticket(app, caller)["outcome"] == NEEDS_HUMAN
    assert call_of(app, caller).escalation_reason == "not-resolved"


def test_a_plain_remark_is_still_asked_for_a_yes_or_a_no(app, caller):
    identified(caller)
    caller.say(PASSWORD_QUESTION)
    caller.say("I see")
    assert caller.text().startswith(prompts.SAY_YES_OR_NO)


TRIED = ["I did that already", "I already tried that", "I've already done that", "I tried that", "done that already",
         "that's what I did", "yeah I tried that before I called", "I've tried all that", "been there done that",
         "we've tried all of that already", "I already did that, thanks", "I tried those steps"]
NOT_TRIED = ["I did that", "yes I did that", "I did that and it worked", "I tried that and it worked",
             "I tried it, how do I export cases?", "I'm trying it now", "I'll try that later"]


@pytest.mark.parametrize("said", TRIED)
def test_steps_tried_already_fell_short(said):
    assert answer_fell_short(said)


@pytest.mark.parametrize("said", NOT_TRIED)
def test_steps_done_now_or_to_be_tried_are_not_tried_already(said):
    assert not answer_fell_short(said)


@pytest.mark.parametrize("said", ["I did that already", "that's what I did", "I already tried that"])
def test_steps_tried_already_are_passed_on(app, caller, said):
    """"I did that already" was a yes ("I did"): the caller heard "Great. Is there anything else I can help you
    with?", and the ticket said the answer had solved the issue. "I already tried that" got "please say yes or no"."""
    identified(caller)
    caller.say(PASSWORD_QUESTION)
    caller.say(said)
    assert caller.hung_up and caller.text() == prompts.NOT_RESOLVED
    caller.hangup()
    assert ticket(app, caller)["outcome"] == NEEDS_HUMAN


@pytest.mark.parametrize("said,rest", [
    ("partially, but I still need to know how to share it", "I still need to know how to share it"),
    ("sort of, but how do I export my cases?", "how do I export my cases?"),
    ("partly. But what about admins?", "what about admins?"),
    ("yes but I still can't log in", None), ("kind of but", None), ("sort of", None), (None, None),
])
def test_partly_but(said, rest):
    assert partly_but(said) == rest


@pytest.mark.parametrize("said", ["partially, but I still need to know how to share it",
                                  "partly, but I still can't log in"])
def test_partly_but_more_is_a_no(app, caller, said):
    """"partially, but ..." got "Sorry, please say yes or no.": the caller had said it helped only in part."""
    identified(caller)
    caller.say("I forgot my password")
    caller.say(said)
    assert caller.hung_up and caller.text() == prompts.NOT_RESOLVED
    assert call_of(app, caller).escalation_reason == "not-resolved"


@pytest.mark.parametrize("said,title", [
    ("sort of, but how do I export my cases?", "Exporting cases and reports"),
    ("kind of, but it says my account is locked", "My account is locked after too many sign-in attempts"),
])
def test_partly_but_a_question_the_kb_answers_is_answered(app, caller, said, title):
    identified(caller)
    caller.say("I forgot my password")
    caller.say(said)
    assert caller.listening and caller.text().startswith(f'From our article "{title}"')
    call = call_of(app, caller)
    assert (call.state, call.resolved_count) == ("check_resolved", 0)


SUCCESS = ["it's working now", "that did it", "it works now", "I can log in now, thanks", "I'm in", "problem solved",
           "that sorted it", "fixed", "it's fine", "ok great, it's working now, thanks"]
NOT_SUCCESS = ["it's not working", "it works now but how do I export my cases", "I'm in trouble", "how do I log in",
               "same problem", "", None]
SAME = ["same problem", "still the same", "it still says the same thing", "the same issue as before"]
NOT_SAME = ["the same as what?", "is it the same for admins?", "it's working now", "", None]


@pytest.mark.parametrize("said", SUCCESS)
def test_reports_success(said):
    assert reports_success(said) and yes_no(said) != "no"


@pytest.mark.parametrize("said", NOT_SUCCESS)
def test_does_not_report_success(said):
    assert not reports_success(said)


@pytest.mark.parametrize("said", SAME)
def test_same_problem(said):
    assert same_problem(said) and yes_no(said) is None


@pytest.mark.parametrize("said", NOT_SAME)
def test_not_the_same_problem(said):
    assert not same_problem(said)


@pytest.mark.parametrize("said", ["it's working now", "I can log in now, thanks", "problem solved"])
def test_it_works_now_is_a_yes(app, caller, said):
    """"It's working now" to "Did that solve your issue?" got "Sorry, please say yes or no."."""
    identified(caller)
    caller.say("I forgot my password")
    caller.say(said)
    assert caller.text() == prompts.ANYTHING_ELSE
    assert call_of(app, caller).resolved_count == 1


@pytest.mark.parametrize("said", ["same problem", "still the same"])
def test_the_same_problem_is_a_no(app, caller, said):
    identified(caller)
    caller.say("I forgot my password")
    caller.say(said)
    assert caller.hung_up and caller.text() == prompts.NOT_RESOLVED
