"""Dashboard figures (callflow.admin.metrics and /admin/api/metrics) against calls made by the test."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from callflow.admin import metrics
from callflow.admin.metrics import Period, PeriodError, compute_metrics, group_questions, parse_period
from callflow.clock import utcnow
from callflow.extensions import db
from callflow.models import Turn

from .conftest import Caller
from .test_admin import add_calls, create_admin, escalated_call, identify, login, make_admin_app, resolved_call

PERIOD = Period(date(2025, 3, 1), date(2025, 3, 7))


def at(day: int, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, second, tzinfo=timezone.utc)


@pytest.fixture
def app(tmp_path, database_url):
    """An admin-enabled app per test, on SQLite and on PostgreSQL."""
    app = make_admin_app(tmp_path, database_url)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def march(app):
    """Eleven calls in the first week of March 2025 (and two just outside it)."""
    rows = [
        # resolved: 3 (durations 60, 120, 90; two emails confirmed)
        dict(started_at=at(1, 9), outcome="ai-resolved", duration_s=60, email_confirmed=True, topic="password reset"),
        dict(started_at=at(1, 23, 59, 59), outcome="ai-resolved", duration_s=120, email_confirmed=True,
             topic="password reset"),
        dict(started_at=at(3), outcome="ai-resolved", duration_s=90, topic="billing"),
        # needs-human: 4, three of them because the KB had no answer
        dict(started_at=at(3, 8), outcome="needs-human", duration_s=200, escalation_reason="no-kb-match",
             last_question="How do I export my invoices to CSV?", topic="billing", email_confirmed=True),
        dict(started_at=at(4), outcome="needs-human", duration_s=100, escalation_reason="not-grounded",
             last_question="can I export invoices as a csv file", topic="billing"),
        dict(started_at=at(5), outcome="needs-human", duration_s=40, escalation_reason="no-kb-match",
             last_question="Do you support dark mode", topic="general inquiry"),
        dict(started_at=at(5, 13), outcome="needs-human", duration_s=30, escalation_reason="caller-request",
             last_question="I want to talk to someone", topic="general inquiry"),
        # abandoned: 2, one of them silent (nothing said: a pocket dial, or hung up while it rang)
        dict(started_at=at(6), outcome="abandoned", duration_s=10, topic="no question",
             turns=[Turn(seq=1, speaker="caller", text="My name is Sam", state="greet", created_at=at(6))]),
        dict(started_at=at(7, 0, 0, 0), outcome="abandoned", duration_s=20, topic="no question",
             turns=[Turn(seq=1, speaker="caller", text=" ", state="greet", created_at=at(7))]),
        # in progress: 2 (no end, no duration, no outcome)
        dict(started_at=at(7, 10), outcome=None, ended_at=None, duration_s=None, state="answer"),
        dict(started_at=at(7, 23, 59), outcome=None, ended_at=None, duration_s=None, state="greet"),
        # outside the period
        dict(started_at=at(1) - timedelta(hours=12, seconds=1), outcome="ai-resolved", topic="password reset",
             escalation_reason=None),
        dict(started_at=at(8, 0), outcome="needs-human", escalation_reason="no-kb-match",
             last_question="How do I export my invoices to CSV?"),
    ]
    add_calls(app, rows)
    return rows


EXPECTED_CALLS = {
    "total": 11,
    "finished": 9,
    "in_progress": 2,
    "silent": 1,
    "conversations": 8,
    "ai_resolved": 3,
    "needs_human": 4,
    "abandoned": 2,
    "email_confirmed": 3,
}
EXPECTED_RATES = {  # of the 8 conversations: the silent call is left out
    "resolution": round(3 / 8, 4),
    "escalation": round(4 / 8, 4),
    "abandon": round(1 / 8, 4),
    "email_capture": round(3 / 8, 4),
}
EXPECTED_AHT = round((60 + 120 + 90 + 200 + 100 + 40 + 30 + 10) / 8, 1)
EXPECTED_VOLUME = [
    {"date": "2025-03-01", "calls": 2},
    {"date": "2025-03-02", "calls": 0},
    {"date": "2025-03-03", "calls": 2},
    {"date": "2025-03-04", "calls": 1},
    {"date": "2025-03-05", "calls": 2},
    {"date": "2025-03-06", "calls": 1},
    {"date": "2025-03-07", "calls": 3},
]
EXPECTED_TOPICS = [
    {"topic": "billing", "calls": 3},
    {"topic": "general inquiry", "calls": 2},
    {"topic": "password reset", "calls": 2},  # "no question" (2 calls) is no call driver
]


def _check(figures: dict) -> None:
    assert figures["from"] == "2025-03-01" and figures["to"] == "2025-03-07" and figures["days"] == 7
    assert figures["calls"] == EXPECTED_CALLS
    assert figures["rates"] == EXPECTED_RATES
    assert figures["average_handling_time_s"] == EXPECTED_AHT
    assert figures["volume_per_day"] == EXPECTED_VOLUME
    assert figures["top_topics"] == EXPECTED_TOPICS
    assert figures["escalation_reasons"] == [
        {"reason": "no-kb-match", "calls": 2}, {"reason": "caller-request", "calls": 1},
        {"reason": "not-grounded", "calls": 1},
    ]
    groups = figures["unanswered_questions"]
    assert [g["count"] for g in groups] == [2, 1]
    assert set(groups[0]["examples"]) == {"How do I export my invoices to CSV?", "can I export invoices as a csv file"}
    assert groups[1]["example"] == "Do you support dark mode"
    assert all("talk to someone" not in g["example"] for g in groups)  # caller-request is not a KB gap


def test_metrics_module(app, march):
    with app.app_context():
        _check(compute_metrics(PERIOD))


def test_metrics_api(app, march):
    create_admin(app)
    client = app.test_client()
    login(client)
    response = client.get("/admin/api/metrics?from=2025-03-01&to=2025-03-07")
    assert response.status_code == 200 and response.is_json
    _check(response.json)
    with app.app_context():
        assert response.json == compute_metrics(PERIOD)


def test_dashboard_shows_the_figures(app, march):
    create_admin(app)
    client = app.test_client()
    login(client)
    html = client.get("/admin/?from=2025-03-01&to=2025-03-07").get_data(as_text=True)
    assert 'data-testid="kpi-calls">11<' in html
    assert 'data-testid="kpi-resolution">37.5 %<' in html
    assert 'data-testid="kpi-escalation">50.0 %<' in html
    assert 'data-testid="kpi-abandon">12.5 %<' in html
    assert 'data-testid="kpi-email">37.5 %<' in html
    assert 'data-testid="kpi-aht">1:21<' in html  # 81.25 s
    assert "8 conversations · <a " in html
    for outcome, text in (("ai-resolved", "3 AI resolved"), ("needs-human", "4 needs human"), ("silent", "1 silent"),
                          ("abandoned", "list"), ("in-progress", "2 in progress")):  # each figure opens its calls
        link = f'href="/admin/calls?outcome={outcome}&amp;from=2025-03-01&amp;to=2025-03-07" data-testid="calls-{outcome}"'
        assert f"{link}>{text}</a>" in html
    assert "Rates and the handling time are over the 8 finished" in html  # the definitions are on the page
    assert '<script type="application/json" id="volume-data">' in html
    assert '{"calls": 3, "date": "2025-03-07"}' in html
    assert "How do I export my invoices to CSV?" in html and "Do you support dark mode" in html


def test_empty_period_has_no_rates(app):
    with app.app_context():
        figures = compute_metrics(Period(date(2024, 1, 1), date(2024, 1, 2)))
    assert figures["calls"]["total"] == 0
    assert figures["rates"] == {"resolution": None, "escalation": None, "abandon": None, "email_capture": None}
    assert figures["average_handling_time_s"] is None
    assert figures["volume_per_day"] == [{"date": "2024-01-01", "calls": 0}, {"date": "2024-01-02", "calls": 0}]
    assert figures["top_topics"] == [] and figures["unanswered_questions"] == []


def test_metrics_of_real_calls_through_the_webhooks(app):
    client = app.test_client()
    first_day = utcnow().date()  # the calls may straddle midnight UTC
    resolved_call(client)  # 75 s, email confirmed
    escalated_call(client, "my neighbour's dog keeps barking at the mailman every morning")  # 50 s, no KB match
    abandoned = Caller(client, from_number="+14155550177")
    identify(abandoned)
    abandoned.hangup(duration=20)
    Caller(client, from_number="+14155550188").start()  # still in progress
    today = utcnow().date()
    with app.app_context():
        figures = compute_metrics(Period(first_day, today))
    assert figures["calls"] == {
        "total": 4,
        "finished": 3,
        "in_progress": 1,
        "silent": 0,
        "conversations": 3,
        "ai_resolved": 1,
        "needs_human": 1,
        "abandoned": 1,
        "email_confirmed": 3,
    }
    assert figures["rates"]["resolution"] == round(1 / 3, 4)
    assert figures["rates"]["email_capture"] == 1.0
    assert figures["average_handling_time_s"] == round((75 + 50 + 20) / 3, 1)
    assert figures["volume_per_day"][-1]["date"] == today.isoformat()
    assert sum(day["calls"] for day in figures["volume_per_day"]) == 4
    assert [g["example"] for g in figures["unanswered_questions"]] == [
        "my neighbour's dog keeps barking at the mailman every morning"
    ]
    # the escalated call's "unanswered question" and the abandoned call's "no question" are no call drivers
    assert figures["top_topics"] == [{"topic": "resetting a forgotten password", "calls": 1}]


def test_calls_in_which_nobody_spoke_are_left_out_of_the_rates_and_the_handling_time(app):
    """A pocket dial (25 s of silence) and a caller who hung up while it rang (``no-answer``, 0 s) are abandoned
    calls, but nothing the bot could have resolved: they made 1 resolved call of 3 conversations read as 20 %
    resolved and 60 % abandoned (not 33 % and 33 %), and a 34 s average handling time instead of 48 s."""
    client = app.test_client()
    first_day = utcnow().date()
    resolved_call(client)  # 75 s
    escalated_call(client)  # 50 s
    hung_up = Caller(client, from_number="+14155550177")
    identify(hung_up)
    hung_up.hangup(duration=20)  # abandoned mid-call: counted
    pocket = Caller(client, from_number="+14155550222")
    pocket.start()
    for _ in range(3):
        pocket.say("")
    assert pocket.hung_up
    pocket.hangup(duration=25)
    Caller(client, from_number="+14155550555").hangup(duration=0, status="no-answer")
    with app.app_context():
        figures = compute_metrics(Period(first_day, utcnow().date()))
    calls = figures["calls"]
    assert (calls["finished"], calls["silent"], calls["conversations"], calls["abandoned"]) == (5, 2, 3, 3)
    assert figures["rates"] == {
        "resolution": round(1 / 3, 4), "escalation": round(1 / 3, 4), "abandon": round(1 / 3, 4), "email_capture": 1.0
    }
    assert figures["average_handling_time_s"] == round((75 + 50 + 20) / 3, 1)


# -- grouping of unanswered questions -------------------------------------------------------------


def test_group_questions_by_similarity():
    groups = group_questions(
        [
            "How do I export invoices to CSV",
            "export my invoices as csv please",
            "HOW DO I EXPORT INVOICES TO CSV???",
            "Is there a dark mode",
            "",
            "   ",
            "dark mode is there",
            "Can I change my billing currency",
        ]
    )
    assert [(g["count"], g["example"]) for g in groups] == [
        (3, "How do I export invoices to CSV"),
        (2, "Is there a dark mode"),
        (1, "Can I change my billing currency"),
    ]
    assert len(groups[0]["examples"]) == 3


def test_group_questions_threshold():
    assert len(group_questions(["reset password", "reset my password now"], threshold=70)) == 1
    assert len(group_questions(["reset password", "cancel subscription"], threshold=70)) == 2


# -- periods -------------------------------------------------------------------------------------------


def test_default_period_is_the_last_30_days():
    today = date(2025, 6, 30)
    period = parse_period(None, None, today=today)
    assert (period.start, period.end, period.days) == (date(2025, 6, 1), today, 30)
    assert parse_period("2025-06-10", None, today=today) == Period(date(2025, 6, 10), today)
    assert parse_period(None, "2025-03-07", today=today) == Period(date(2025, 2, 6), date(2025, 3, 7))
    assert parse_period("2024-01-01", "2024-12-31").days == 366


@pytest.mark.parametrize(
    "start,end,message",
    [
        ("2025-13-01", "2025-12-31", "not a valid date"),
        ("2025-02-30", None, "not a valid date"),
        ("01/03/2025", None, "YYYY-MM-DD"),
        ("20250301", None, "YYYY-MM-DD"),
        ("2025-03-10", "2025-03-01", "must not be before"),
        ("2024-01-01", "2025-01-01", "366 days"),
    ],
)
def test_bad_periods(start, end, message):
    with pytest.raises(PeriodError, match=message):
        parse_period(start, end)


@pytest.mark.parametrize(
    "query",
    ["from=yesterday", "from=2025-03-10&to=2025-03-01", "from=2020-01-01&to=2025-01-01", "to=2025-02-31"],
)
def test_metrics_api_rejects_bad_dates_with_400_json(app, query):
    create_admin(app)
    client = app.test_client()
    login(client)
    response = client.get(f"/admin/api/metrics?{query}")
    assert response.status_code == 400 and response.is_json and response.json["error"]


def test_constants_are_sane():
    assert metrics.MAX_PERIOD_DAYS == 366 and metrics.SIMILARITY_THRESHOLD == 70
    assert set(metrics.UNANSWERED_REASONS) == {"no-kb-match", "not-grounded"}


def test_a_swept_call_counts_its_talk_time_not_the_idle_wait(app):
    """Twilio's status callback never came: the sweeper ended the call at the sweep, so a 10 s call
    that went quiet 40 minutes ago took 40:00 and moved the average handling time by half an hour."""
    from sqlalchemy import select

    from callflow.models import Call

    client = app.test_client()
    caller = Caller(client)
    caller.start()
    caller.say("Maria")
    with app.app_context():  # the call happened 40 minutes ago and lasted 10 s
        call = db.session.scalar(select(Call).where(Call.call_sid == caller.call_sid))
        call.started_at -= timedelta(minutes=40, seconds=10)
        call.last_activity_at -= timedelta(minutes=40)
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["tickets", "worker", "--once"])
    assert "finalized 1" in result.output
    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == caller.call_sid))
        assert call.outcome == "abandoned" and call.ended_at == call.last_activity_at
        assert call.duration_s == 10 and call.ticket.payload["duration_s"] == 10
        day = call.started_at.date()
        assert compute_metrics(Period(day, day))["average_handling_time_s"] == 10.0


def test_the_volume_per_day_is_counted_by_the_database(app):
    """One row per day with calls, not one per call: fetching every start time of a year of
    100,000 calls took ~0.8 s of a dashboard request."""
    from sqlalchemy import event

    add_calls(app, [dict(started_at=at(2, 0, 0, i)) for i in range(50)] + [dict(started_at=at(7, 23, 59, 59))])
    fetched = []
    with app.app_context():

        def count_rows(state):
            frozen = state.invoke_statement().freeze()
            fetched.append(len(frozen().all()))
            return frozen()

        event.listen(db.session(), "do_orm_execute", count_rows)
        volume = metrics.volume_per_day(PERIOD)
    assert fetched == [2]
    assert [day["calls"] for day in volume] == [0, 50, 0, 0, 0, 0, 1]


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_days_are_utc_days_whatever_the_database_session_time_zone(tmp_path, database_url, zone):
    """PostgreSQL gives a timestamptz's date in the session's TimeZone (a server default, a role's setting)."""
    options = {"connect_args": {"options": f"-c timezone={zone}"}} if database_url.startswith("postgresql") else {}
    app = make_admin_app(tmp_path, database_url, SQLALCHEMY_ENGINE_OPTIONS=options)
    try:
        add_calls(app, [dict(started_at=at(1, 0, 0, 0)), dict(started_at=at(1, 23, 59, 59)), dict(started_at=at(2, 11))])
        with app.app_context():
            volume = metrics.volume_per_day(Period(date(2025, 3, 1), date(2025, 3, 2)))
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    assert volume == [{"date": "2025-03-01", "calls": 2}, {"date": "2025-03-02", "calls": 1}]
