"""An article that says how to delete or cancel something is read only to a caller who asks for that.

Before, "how do I get my data out" found "Deleting a customer's personal data (GDPR)" (64.4, above the export
article's 51.0) and the caller was read its deletion steps ("choose Delete user and data"); "I need to change the email
on my account" found "Cancelling your subscription" (45.0) and was read the steps to cancel. Now such an article is
no hit for a question that asks for nothing of the kind: the next article answers, or a person does.
"""
from __future__ import annotations

import pytest

from callflow import prompts
from callflow.conversation import _unasked_destruction

from .test_call_interactions import call_of, identified

GDPR = "Deleting a customer's personal data (GDPR)"
CANCEL = "Cancelling your subscription"


@pytest.mark.parametrize("question,title,unasked", [
    ("how do I get my data out", GDPR, True),
    ("I need to change the email on my account", CANCEL, True),
    ("how do I delete a customer", GDPR, False), ("GDPR request", GDPR, False),
    ("how do I close my account", CANCEL, False), ("end my subscription", CANCEL, False),
    ("can I get a refund for unused months", CANCEL, False),
    ("how do I get my data out", "Exporting cases and reports", False),
    ("anything", "", False),
])
def test_unasked_destruction(question, title, unasked):
    assert _unasked_destruction(question, title) is unasked


def test_get_my_data_out_is_answered_from_the_export_article(app, caller):
    identified(caller)
    caller.say("how do I get my data out")
    assert caller.listening and caller.text().startswith('From our article "Exporting cases and reports"')
    assert "Delete" not in caller.text()


def test_changing_the_account_email_is_not_read_the_cancellation_steps(app, caller):
    identified(caller)
    caller.say("I need to change the email on my account")
    assert caller.hung_up and caller.text() == prompts.ESCALATE
    assert call_of(app, caller).escalation_reason == "no-kb-match"


@pytest.mark.parametrize("question,title", [("how do I close my account", CANCEL), ("how do I delete a customer", GDPR)])
def test_a_caller_who_asks_to_delete_or_cancel_is_answered(app, caller, question, title):
    identified(caller)
    caller.say(question)
    assert caller.text().startswith(f'From our article "{title}"')
