"""A question that asks how to undo what an article only says how to do.

Before, "how do I turn off two-factor authentication?" found "Turning on two-factor authentication" (its words
match), and without OpenAI the caller heard its steps: "Open the Security tab and click Enable two-factor
authentication", the opposite of what they asked. The article never says how to turn it off, so the question is
now passed to the team as one the KB cannot answer.
"""
from __future__ import annotations

import pytest

from callflow import prompts
from callflow.extractive import answers_the_opposite
from callflow.models import NEEDS_HUMAN

from .test_call_interactions import identified, ticket

TWO_FA = "Turning on two-factor authentication"
TWO_FA_TEXT = ("Two-factor authentication adds a one-time code to your sign-in. Open the Security tab and click "
               "Enable two-factor authentication.")


@pytest.mark.parametrize("question", ["how do I turn off two factor authentication", "how do I disable 2FA",
                                      "how do I turn 2FA off", "can I remove two factor", "I want to stop using 2FA"])
def test_undoing_what_the_article_only_does(question):
    assert answers_the_opposite(question, TWO_FA, TWO_FA_TEXT)


@pytest.mark.parametrize("question,title,text", [
    ("how do I turn on two factor authentication", TWO_FA, TWO_FA_TEXT),
    ("my 2FA got disabled", TWO_FA, TWO_FA_TEXT),  # a problem, not a wish to undo
    ("how do I disable 2FA", TWO_FA, TWO_FA_TEXT + " To turn it off again, click Disable."),
    ("how do I disconnect Slack", "Connecting Slack", "Click Connect. To disconnect, click Remove."),
    ("how do I delete an API key", "Creating an API key", "Click Create key. Revoke a key you no longer use."),
    ("I want to stop getting so many emails", "Choosing which notifications you receive", "Untick the box."),
    ("the chat widget stopped showing on my site", "Adding the live chat widget to your website", "Paste the code."),
    (None, TWO_FA, TWO_FA_TEXT), ("how do I disable 2FA", None, TWO_FA_TEXT),
])
def test_not_the_opposite(question, title, text):
    assert not answers_the_opposite(question, title, text)


def test_turning_off_what_the_kb_only_turns_on_is_passed_to_the_team(app, caller):
    identified(caller)
    caller.say("how do I turn off two factor authentication")
    assert caller.hung_up and caller.text() == prompts.ESCALATE
    caller.hangup()
    p = ticket(app, caller)
    assert (p["outcome"], p["subject"]) == (NEEDS_HUMAN, "How do I turn off two factor authentication")
    assert "Enable two-factor authentication" not in p["contents_html"]


def test_turning_it_on_is_still_answered(app, caller):
    identified(caller)
    caller.say("how do I turn on two factor authentication")
    assert "Enable two-factor authentication" in caller.text() and caller.text().endswith(prompts.CHECK_RESOLVED)
