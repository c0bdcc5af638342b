"""The call flow as an explicit state machine (python-statemachine 2.x).

States: greet, collect_email, confirm_email, answer, check_resolved, escalate, goodbye.
The state lives in the call's database row (``call.state``): on every webhook the
thread's machine is pointed at the row just read (:func:`callflow.conversation._machine_for`;
building a machine costs ~0.4 ms, an event ~0.05 ms) and the row is saved before the
TwiML goes out. The machine only knows which moves are legal and which
guards pick between them; :mod:`callflow.conversation` reads the caller's words and
sends the events.

    greet ──introduce──▶ collect_email ──email_heard──▶ confirm_email
                            ▲   │ email_unclear (≥3 tries ▶ answer)      │ confirm ▶ answer
                            └───┴──────────── reject (≥3 tries ▶ answer) ◀┘
    answer ──kb_hit──▶ check_resolved ──resolved──▶ answer ("anything else?")
                       check_resolved ──deferred──▶ answer ("I'll try that later": "anything else?")
    answer ──done──▶ goodbye            check_resolved ──not_resolved──▶ escalate
    greet, collect_email, confirm_email ──leave ("bye", "wrong number")──▶ goodbye
    confirm_email ──ask_number (no address in 3 tries, no caller id)──▶ collect_email (a number to call back on)
    collect_email ──number_heard──▶ confirm_email (the number read back) ──number_confirmed──▶ answer
                                    confirm_email ──ask_number (a no: the number again)──▶ collect_email
    answer ──kb_miss──▶ escalate        any live state ──escalate_call──▶ escalate
"""
from __future__ import annotations

from statemachine import State, StateMachine

MAX_EMAIL_ATTEMPTS = 3
MAX_NUMBER_ATTEMPTS = 3  # read-backs of a callback number the caller may reject; then the call goes on without one
MAX_RETRIES = 2  # re-prompts after silence or an unclear answer, then escalate
MAX_QUESTIONS = 5  # questions answered in one call; the next one is passed to a person
#: The states in which the caller gives, spells, corrects or confirms their email address.
EMAIL_STATES = frozenset({"collect_email", "confirm_email"})


class CallFlow(StateMachine, strict_states=True):
    """Legal moves of one call; the model is a :class:`callflow.models.Call`.

    Raises ``statemachine.exceptions.TransitionNotAllowed`` for an event the current
    state does not accept (for example a replayed webhook after the call ended).
    """

    greet = State(initial=True)
    collect_email = State()
    confirm_email = State()
    answer = State()
    check_resolved = State()
    escalate = State(final=True)
    goodbye = State(final=True)

    introduce = greet.to(collect_email)
    email_heard = collect_email.to(confirm_email) | confirm_email.to.itself()
    email_unclear = collect_email.to(answer, cond="email_attempts_exhausted") | collect_email.to.itself()
    no_email = collect_email.to(answer)  # "I don't have an email": the call goes on without one
    confirm = confirm_email.to(answer)
    reject = confirm_email.to(answer, cond="email_attempts_exhausted") | confirm_email.to(collect_email)
    ask_number = confirm_email.to(collect_email)  # no address after 3 tries, no caller id: a number to call back on
    number_heard = collect_email.to(confirm_email) | confirm_email.to.itself()  # a callback number, read back
    number_confirmed = confirm_email.to(answer)  # yes to the number read back (the email stays unconfirmed)
    kb_hit = answer.to(check_resolved)
    kb_miss = answer.to(escalate)
    ask_again = answer.to.itself()
    resolved = check_resolved.to(answer)
    deferred = check_resolved.to(answer)  # "I'll try that later": neither solved nor not, "anything else?" next
    asked_more = check_resolved.to(answer)  # a follow-up question instead of a yes or a no: answered next
    not_resolved = check_resolved.to(escalate)
    done = answer.to(goodbye)
    no_input = greet.to(goodbye)  # a silent line: nothing heard after the greeting and its re-prompts
    leave = goodbye.from_(greet, collect_email, confirm_email)  # "bye", "sorry, wrong number" before any question
    escalate_call = escalate.from_(greet, collect_email, confirm_email, answer, check_resolved)

    def email_attempts_exhausted(self) -> bool:
        """Guard: the caller has used MAX_EMAIL_ATTEMPTS tries (counted before the event)."""
        return self.model.email_attempts >= MAX_EMAIL_ATTEMPTS

    def on_reject(self) -> None:
        """``reject``: forget the address the caller said is wrong (``email`` None, not confirmed)."""
        self.model.email = None
        self.model.email_confirmed = False

    def on_confirm(self) -> None:
        """``confirm``: the caller said yes to the read-back address."""
        self.model.email_confirmed = True

    def on_resolved(self) -> None:
        """``resolved``: count the answered question; "anything else?" is asked next."""
        self.model.resolved_count += 1
        self.model.anything_else_asked = True
        self.model.answer_deferred = False

    def on_deferred(self) -> None:
        """``deferred``: the caller will try the answer later; "anything else?" is asked next."""
        self.model.answer_deferred = True
        self.model.anything_else_asked = True

    def on_enter_state(self, event: str) -> None:
        """Progress clears the count of silent/unclear turns. ``ask_again`` ("yes" with no
        question yet) is not progress: it keeps counting, so a caller cannot loop in the
        answer state forever (the conversation escalates after ``MAX_RETRIES``)."""
        if event != "ask_again":
            self.model.retry_count = 0

    def on_enter_escalate(self) -> None:
        """Entering escalate: a call escalated without a reason gets ``escalation_reason = "unknown"``."""
        if not self.model.escalation_reason:
            self.model.escalation_reason = "unknown"
