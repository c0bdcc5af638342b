"""The state machine on its own: legal moves, guards and every path to escalation."""
from __future__ import annotations

import pytest
from statemachine.exceptions import TransitionNotAllowed

from callflow.flow import MAX_EMAIL_ATTEMPTS, CallFlow


class Row:
    """A stand-in for the Call row with the fields the machine reads and writes."""

    def __init__(self, state=None, **fields):
        self.state = state
        self.email = "a@b.co"
        self.email_confirmed = False
        self.email_attempts = 0
        self.retry_count = 0
        self.resolved_count = 0
        self.anything_else_asked = False
        self.escalation_reason = None
        self.__dict__.update(fields)


def machine(state=None, **fields):
    row = Row(state, **fields)
    return CallFlow(model=row), row


def test_new_call_starts_in_greet():
    sm, row = machine()
    assert row.state == "greet"


def test_happy_path():
    sm, row = machine()
    for event, expected in [
        ("introduce", "collect_email"),
        ("email_heard", "confirm_email"),
        ("confirm", "answer"),
        ("kb_hit", "check_resolved"),
        ("resolved", "answer"),
        ("done", "goodbye"),
    ]:
        sm.send(event)
        assert row.state == expected
    assert row.email_confirmed and row.resolved_count == 1 and row.anything_else_asked
    assert sm.current_state.final


def test_state_is_restored_from_the_row():
    sm, row = machine("check_resolved")
    sm.send("not_resolved")
    assert row.state == "escalate"


@pytest.mark.parametrize("state", ["greet", "collect_email", "confirm_email", "answer", "check_resolved"])
def test_escalation_from_every_live_state(state):
    sm, row = machine(state)
    sm.send("escalate_call")
    assert row.state == "escalate" and sm.current_state.final


@pytest.mark.parametrize(
    "state,event",
    [("answer", "kb_miss"), ("check_resolved", "not_resolved")],
)
def test_other_paths_to_escalation(state, event):
    sm, row = machine(state)
    sm.send(event)
    assert row.state == "escalate"


def test_unclear_email_retries_until_attempts_exhausted():
    sm, row = machine("collect_email")
    for attempt in range(1, MAX_EMAIL_ATTEMPTS):
        row.email_attempts = attempt
        sm.send("email_unclear")
        assert row.state == "collect_email"
    row.email_attempts = MAX_EMAIL_ATTEMPTS
    sm.send("email_unclear")
    assert row.state == "answer"


def test_rejected_email_goes_back_to_collect_then_gives_up():
    sm, row = machine("confirm_email", email_attempts=1)
    sm.send("reject")
    assert row.state == "collect_email" and row.email is None
    row.email = "x@y.co"
    sm.send("email_heard")
    row.email_attempts = MAX_EMAIL_ATTEMPTS
    sm.send("reject")
    assert row.state == "answer" and not row.email_confirmed


def test_retry_counter_resets_on_a_new_state():
    sm, row = machine("greet", retry_count=2)
    sm.send("introduce")
    assert row.retry_count == 0


def test_ask_again_keeps_counting_but_a_new_email_candidate_resets():
    sm, row = machine("answer", retry_count=2)
    sm.send("ask_again")
    assert (row.state, row.retry_count) == ("answer", 2)
    sm, row = machine("confirm_email", retry_count=2)
    sm.send("email_heard")
    assert (row.state, row.retry_count) == ("confirm_email", 0)


@pytest.mark.parametrize("state", ["escalate", "goodbye"])
def test_final_states_accept_nothing(state):
    sm, row = machine(state)
    with pytest.raises(TransitionNotAllowed):
        sm.send("introduce")


def test_illegal_move_is_refused():
    sm, row = machine("greet")
    with pytest.raises(TransitionNotAllowed):
        sm.send("kb_hit")
    assert row.state == "greet"


def test_ask_number_goes_back_to_collect_email_whatever_the_tries():
    """No address after 3 tries and no caller id: back to collect_email for a number (``reject`` would go on)."""
    m, row = machine("confirm_email", email_attempts=3)
    m.send("ask_number")
    assert row.state == "collect_email"
