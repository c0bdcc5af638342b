"""The admin page through the test client: login, CSRF, rate limit, calls, tickets, KB, escaping."""
from __future__ import annotations

import logging
import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Optional
from uuid import uuid4

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from callflow.clock import utcnow
from callflow.extensions import db
from callflow.models import AdminUser, Call, TicketOutbox

from .conftest import Caller, base_config, make_app

EMAIL = "a@b.co"
PASSWORD = "correct horse battery"
PASSWORD_QUESTION = "I forgot my password and can't log in, how do I reset it"
XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = '"><img src=x onerror=alert(1)>'
HOSTILE = f"{XSS_SCRIPT} {XSS_IMG}"


# -- helpers shared with test_admin_metrics.py and test_admin_browser.py ----------------------


def make_admin_app(tmp_path, database_url: Optional[str] = None, **overrides: Any):
    """An app with the admin page, CSRF on (as in production) and a fixed secret key."""
    from callflow.admin import init_admin

    config = base_config(tmp_path, database_url)
    config.update(WTF_CSRF_ENABLED=True, SECRET_KEY="admin-test-secret", RATELIMIT_STORAGE_URI="memory://")
    config.update(overrides)
    app = make_app(config)
    if "admin" not in app.blueprints:  # until create_app calls init_admin itself
        init_admin(app)
    return app


def create_admin(app, email: str = EMAIL, password: str = PASSWORD):
    """Create an admin user with the CLI, as an operator would."""
    result = app.test_cli_runner().invoke(args=["admin", "create-user", email], input=f"{password}\n{password}\n")
    assert result.exit_code == 0, result.output
    return result


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'type="hidden" name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client, email: str = EMAIL, password: str = PASSWORD, next_url: Optional[str] = None):
    """Fetch the login form (for its CSRF token) and post it."""
    url = "/admin/login" + (f"?next={next_url}" if next_url else "")
    token = csrf_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={"email": email, "password": password, "csrf_token": token})


def _call_row(**fields: Any) -> Call:
    started = fields.pop("started_at", utcnow() - timedelta(minutes=5))
    values = {
        "call_sid": "CA" + uuid4().hex,
        "from_number": "+14155550123",
        "state": "goodbye",
        "started_at": started,
        "last_activity_at": started,
        "ended_at": started + timedelta(seconds=fields.get("duration_s") or 60),
        "duration_s": 60,
        "outcome": "ai-resolved",
    }
    values.update(fields)
    return Call(**values)


def add_calls(app, rows: list[dict[str, Any]]) -> list[int]:
    """Insert call rows in one transaction (finished unless ``ended_at=None``); returns their ids."""
    with app.app_context():
        calls = [_call_row(**row) for row in rows]
        db.session.add_all(calls)
        db.session.commit()
        return [call.id for call in calls]


def add_call(app, **fields: Any) -> int:
    """Insert one call row; returns its id."""
    return add_calls(app, [fields])[0]


def identify(caller: Caller) -> None:
    caller.start()
    caller.say("My name is Jane Doe")
    caller.say("jane dot doe at example dot com")
    caller.say("yes that's right")


def resolved_call(client, from_number: str = "+14155550100") -> Caller:
    caller = Caller(client, from_number=from_number)
    identify(caller)
    caller.say(PASSWORD_QUESTION)
    caller.say("yes it did")
    caller.say("no that's all thanks")
    caller.hangup(duration=75)
    return caller


def escalated_call(client, question: str = "my neighbour's dog keeps barking at the mailman every morning") -> Caller:
    caller = Caller(client, from_number="+14155550111")
    identify(caller)
    caller.say(question)
    caller.hangup(duration=50)
    return caller


def call_id_of(app, caller: Caller) -> int:
    with app.app_context():
        return db.session.scalar(select(Call.id).where(Call.call_sid == caller.call_sid))


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict[str, Optional[str]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def assert_inert(html: str) -> None:
    """No caller text became markup: only our own scripts, no event handlers, no images."""
    assert XSS_SCRIPT not in html and "<img src=x" not in html
    parser = _Elements()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag != "img", attrs
        assert not [name for name in attrs if name.lower().startswith("on")], (tag, attrs)
        if tag == "script":
            assert (attrs.get("src") or "").startswith("/admin/static/") or attrs.get("type") == "application/json"


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def app(tmp_path, database_url):
    """An admin-enabled app per test, on each database (overrides conftest's app here)."""
    app = make_admin_app(tmp_path, database_url)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def admin(app):
    """An admin user created with the CLI."""
    create_admin(app)
    return EMAIL


@pytest.fixture
def signed_in(app, admin):
    """A test client with a signed-in admin."""
    client = app.test_client()
    response = login(client)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


# -- access ---------------------------------------------------------------------------------------

PAGES = [
    ("GET", "/admin/"),
    ("GET", "/admin/?from=2025-01-01&to=2025-01-31"),
    ("GET", "/admin/calls"),
    ("GET", "/admin/calls?outcome=needs-human&q=jane"),
    ("GET", "/admin/calls/1"),
    ("GET", "/admin/kb"),
    ("GET", "/admin/kb?q=password"),
    ("POST", "/admin/tickets/1/retry"),
    ("POST", "/admin/logout"),
]
JSON_ENDPOINTS = [
    ("GET", "/admin/api/metrics"),
    ("GET", "/admin/api/metrics?from=2025-01-01&to=2025-01-31"),
    ("POST", "/admin/api/tickets/1/retry"),
]


@pytest.mark.parametrize("method,path", PAGES)
def test_pages_redirect_to_login(app, method, path):
    response = app.test_client().open(path, method=method)
    assert response.status_code == 302
    if method == "GET":
        assert response.location.startswith("/admin/login?next=")
    else:  # a POST-only action is no page to come back to: the browser would GET it (405) after signing in
        assert response.location == "/admin/login"


@pytest.mark.parametrize("method,path", JSON_ENDPOINTS)
def test_json_endpoints_answer_401(app, method, path):
    response = app.test_client().open(path, method=method)
    assert response.status_code == 401
    assert response.is_json and response.json == {"error": "authentication required"}


def test_every_admin_route_is_covered_by_the_login_tests(app):
    tested = {(m, p.split("?")[0]) for m, p in PAGES + JSON_ENDPOINTS}
    tested_rules = set()
    for method, path in tested:
        adapter = app.url_map.bind("localhost")
        endpoint, _ = adapter.match(path, method=method)
        tested_rules.add(endpoint)
    admin_endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.")}
    assert admin_endpoints - tested_rules == {"admin.login", "admin.static"}


def test_login_page_and_assets_are_public(app):
    client = app.test_client()
    assert client.get("/admin/login").status_code == 200
    for path, marker in (
        ("/admin/static/vendor/pico/pico.min.css", b"Pico CSS"),
        ("/admin/static/vendor/chart.js/chart.umd.min.js", b"Chart.js v4"),
        ("/admin/static/admin.js", b"volume-chart"),
        ("/admin/static/admin.css", b"transcript"),
    ):
        with client.get(path) as response:
            assert response.status_code == 200 and marker in response.data


def test_next_parameter_is_kept_and_never_leaves_the_admin(app, admin):
    client = app.test_client()
    response = login(client, next_url="/admin/calls?outcome=abandoned")
    assert response.status_code == 302 and response.location == "/admin/calls?outcome=abandoned"
    client = app.test_client()
    response = login(client, next_url="https://evil.example/phish")
    assert response.location == "/admin/"
    client = app.test_client()
    assert login(client, next_url="//evil.example/").location == "/admin/"


# -- the CLI and signing in -------------------------------------------------------------------------


def test_cli_creates_a_user_with_a_hashed_password_who_can_sign_in(app):
    result = create_admin(app, "Admin@Example.COM")
    assert "created" in result.output and PASSWORD not in result.output
    with app.app_context():
        user = db.session.scalar(select(AdminUser))
        assert user.email == "admin@example.com"
        assert user.password_hash != PASSWORD and check_password_hash(user.password_hash, PASSWORD)
    client = app.test_client()
    response = login(client, "admin@example.com")
    assert response.status_code == 302 and response.location == "/admin/"
    page = client.get("/admin/")
    assert page.status_code == 200 and "Dashboard" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(AdminUser)).last_login_at is not None


def test_cli_rejects_mismatched_short_and_duplicate_passwords(app):
    runner = app.test_cli_runner()
    mismatch = runner.invoke(args=["admin", "create-user", EMAIL], input="password-one\npassword-two\n")
    assert mismatch.exit_code != 0
    short = runner.invoke(args=["admin", "create-user", EMAIL], input="pw\npw\n")
    assert short.exit_code != 0 and "at least 8" in short.output
    for address in ("not-an-email", "a..b@example.com", "jane@-bad-.com", "<x>@y.zz"):
        bad_email = runner.invoke(args=["admin", "create-user", address], input="x\n")
        assert bad_email.exit_code == 2 and "not an email address" in bad_email.output, address
    with app.app_context():
        assert db.session.scalar(select(AdminUser)) is None
    create_admin(app)
    again = runner.invoke(args=["admin", "create-user", EMAIL], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert again.exit_code != 0 and "exists" in again.output


def test_session_cookie_is_httponly_and_samesite(app, admin):
    response = login(app.test_client())
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_cookies_are_secure_outside_tests(tmp_path):
    from callflow import create_app
    from callflow.admin import init_admin

    config = base_config(tmp_path)
    config.update(TESTING=False, SECRET_KEY="s" * 32)
    app = create_app(config)
    if "admin" not in app.blueprints:
        init_admin(app)
    assert app.config["SESSION_COOKIE_SECURE"] is True and app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    config["ADMIN_COOKIE_SECURE"] = False
    app = create_app(config)
    if "admin" not in app.blueprints:
        init_admin(app)
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_wrong_password_fails_and_is_rate_limited(app, admin):
    client = app.test_client()
    for _ in range(5):
        response = login(client, password="wrong password")
        assert response.status_code == 200
        assert "Invalid email or password." in response.get_data(as_text=True)
        assert client.get("/admin/").status_code == 302
    blocked = login(client)  # even the right password: this IP + email is over the limit
    assert blocked.status_code == 429
    assert "Too many sign-in attempts" in blocked.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    # another account from the same address is still allowed (until the per-IP limit)
    create_admin(app, "b@b.co")
    assert login(app.test_client(), "b@b.co").status_code == 302


def test_the_shared_limit_store_the_docs_name_can_be_configured(tmp_path):
    """README and .env.example tell a deployment of several instances to count sign-in attempts
    in Redis: its client must be installed, or no process (web, worker, CLI) even starts."""
    from limits.storage import storage_from_string

    example = (Path(__file__).resolve().parent.parent / ".env.example").read_text()
    uri = re.search(r"RATELIMIT_STORAGE_URI=.*\(e\.g\. (redis://[^)\s]+)\)", example).group(1)
    uri = uri.replace("//host:", "//127.0.0.1:")  # the client connects on first use: no server needed here
    assert type(storage_from_string(uri)).__name__ == "RedisStorage"
    app = make_admin_app(tmp_path, RATELIMIT_STORAGE_URI=uri)
    assert "admin" in app.blueprints


def test_unknown_email_fails_like_a_wrong_password(app, admin):
    response = login(app.test_client(), email="nobody@b.co")
    assert response.status_code == 200 and "Invalid email or password." in response.get_data(as_text=True)


def test_every_login_attempt_counts(app, admin):
    """Attempts are counted before the password is checked (see the burst test), so sign-ins count too."""
    for _ in range(5):
        assert login(app.test_client()).status_code == 302
    assert login(app.test_client()).status_code == 429


def test_a_burst_of_parallel_wrong_passwords_is_limited(tmp_path, database_url):
    """Counting failures after the check let every request of a burst through: 37-40 of 40 were checked."""
    import threading
    import urllib.error
    import urllib.parse
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    from werkzeug.serving import make_server

    app = make_admin_app(tmp_path, database_url)
    create_admin(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/admin/login"
    try:
        with urllib.request.urlopen(url) as page:
            cookie, token = page.headers["Set-Cookie"].split(";")[0], csrf_from(page.read().decode())
        body = urllib.parse.urlencode({"email": EMAIL, "password": "wrong", "csrf_token": token}).encode()

        def attempt(_):
            request = urllib.request.Request(url, data=body, headers={"Cookie": cookie})
            try:
                with urllib.request.urlopen(request) as response:
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code

        with ThreadPoolExecutor(40) as pool:
            statuses = list(pool.map(attempt, range(40)))
    finally:
        server.shutdown()
    assert statuses.count(200) == 5 and statuses.count(429) == 35, statuses


@pytest.mark.parametrize("suffix", ["\x01", "\x1b", "\x7f"])
def test_a_control_character_in_the_email_does_not_reset_the_limit(app, admin, suffix):
    client = app.test_client()
    for _ in range(5):
        assert login(client, password="wrong").status_code == 200
    assert login(client, email=EMAIL + suffix, password="wrong").status_code == 429


@pytest.mark.parametrize("target", ["/admin/%0d%0aX:%20y", "/admin/%0aSet-Cookie:a=b", "/admin/%7f"])
def test_a_line_break_in_next_is_ignored(app, admin, target):
    client = app.test_client()
    response = login(client, next_url=target)
    assert response.status_code == 302 and response.location == "/admin/"
    signed_in_again = client.get(f"/admin/login?next={target}")
    assert signed_in_again.status_code == 302 and signed_in_again.location == "/admin/"


def test_password_change_and_deactivation_end_sessions(app, signed_in):
    runner = app.test_cli_runner()
    assert signed_in.get("/admin/").status_code == 200
    new = "another long password"
    assert runner.invoke(args=["admin", "set-password", EMAIL], input=f"{new}\n{new}\n").exit_code == 0
    assert signed_in.get("/admin/").status_code == 302
    client = app.test_client()
    assert login(client, password=new).status_code == 302
    assert runner.invoke(args=["admin", "deactivate", EMAIL]).exit_code == 0
    assert client.get("/admin/").status_code == 302
    assert "Invalid email or password." in login(app.test_client(), password=new).get_data(as_text=True)


# -- CSRF ---------------------------------------------------------------------------------------------


def test_login_needs_a_csrf_token(app, admin):
    client = app.test_client()
    response = client.post("/admin/login", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 400
    client.get("/admin/login")
    response = client.post("/admin/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": "forged"})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_logout_needs_post_and_a_csrf_token(signed_in):
    assert signed_in.get("/admin/logout").status_code == 405
    assert signed_in.post("/admin/logout").status_code == 400
    assert signed_in.get("/admin/").status_code == 200  # still signed in
    token = csrf_from(signed_in.get("/admin/").get_data(as_text=True))
    response = signed_in.post("/admin/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.location == "/admin/login"
    assert signed_in.get("/admin/").status_code == 302
    assert signed_in.get("/admin/api/metrics").status_code == 401


def test_twilio_webhooks_need_no_csrf_token(app, caller):
    # CSRF is checked on the admin blueprint only; signed webhooks keep working
    resolved_call(caller.client)
    with app.app_context():
        assert db.session.scalar(select(Call.outcome)) == "ai-resolved"


# -- calls list ------------------------------------------------------------------------------------------


@pytest.fixture
def many_calls(app):
    """Calls of every outcome at known times (newest: 'abandoned' one minute ago)."""
    now = utcnow()
    ids = {}
    ids["resolved"] = add_call(app, started_at=now - timedelta(days=3), name="Ana Resolved", email="ana@example.com",
                               email_confirmed=True, outcome="ai-resolved", topic="password reset", duration_s=95)
    ids["human"] = add_call(app, started_at=now - timedelta(days=2), name="Hugo Human", email="hugo@example.org",
                            from_number="+442071838750", outcome="needs-human", topic="billing",
                            escalation_reason="no-kb-match", last_question="where is my refund")
    ids["progress"] = add_call(app, started_at=now - timedelta(minutes=3), name="Paula Progress", state="answer",
                               ended_at=None, duration_s=None, outcome=None)
    ids["abandoned"] = add_call(app, started_at=now - timedelta(minutes=1), name="Abe Abandoned", outcome="abandoned",
                                call_sid="CAfeedface0123456789")
    add_calls(app, [
        dict(started_at=now - timedelta(days=20, minutes=i), name=f"Old Caller {i:02d}", outcome="ai-resolved")
        for i in range(30)
    ])
    return ids


def _names(html: str) -> list[str]:
    return re.findall(r"<td data-label=\"Caller\">([^<]*)<br>", html)


def test_calls_list_newest_first_and_paginated(app, signed_in, many_calls):
    page1 = signed_in.get("/admin/calls").get_data(as_text=True)
    assert "34 calls" in page1
    names = _names(page1)
    assert names[:4] == ["Abe Abandoned", "Paula Progress", "Hugo Human", "Ana Resolved"]
    assert len(names) == 25
    page2 = signed_in.get("/admin/calls?page=2").get_data(as_text=True)
    assert len(_names(page2)) == 9 and not set(_names(page2)) & set(names)
    assert signed_in.get("/admin/calls?page=99").status_code == 200  # empty page, not an error


def test_a_page_past_the_last_links_back_instead_of_saying_there_are_no_calls(app, signed_in, many_calls):
    """It said "34 calls" then "No calls.", with no link to any page."""
    html = signed_in.get("/admin/calls?page=9&outcome=ai-resolved").get_data(as_text=True)
    assert "31 calls matching" in html and "No calls." not in html
    assert 'href="/admin/calls?page=2&amp;outcome=ai-resolved" data-testid="last-page"' in html
    kb = signed_in.get("/admin/kb?page=999").get_data(as_text=True)
    assert "No articles: load them" not in kb and 'href="/admin/kb?page=1"' in kb


def test_calls_list_columns(app, signed_in, many_calls):
    with app.app_context():
        call = db.session.get(Call, many_calls["resolved"])
        db.session.add(TicketOutbox(call=call, payload={"subject": "x"}, status="delivered", external_id="4321",
                                    external_url="https://support.example.test/agent/conversations/4321"))
        db.session.commit()
    html = signed_in.get("/admin/calls?outcome=ai-resolved&q=ana").get_data(as_text=True)
    assert "Ana Resolved" in html and "+14155550123" in html and "ana@example.com" in html
    assert "1:35" in html and "AI resolved" in html and "password reset" in html
    assert 'href="https://support.example.test/agent/conversations/4321"' in html and "delivered" in html


@pytest.mark.parametrize(
    "query,expected",
    [
        ("outcome=ai-resolved", 31),
        ("outcome=needs-human", 1),
        ("outcome=abandoned", 1),
        ("outcome=in-progress", 1),
        ("q=hugo@example", 1),
        ("q=HUGO%40EXAMPLE.ORG", 1),
        ("q=%2B44+20+7183+8750", 1),
        ("q=(207)+183-8750", 1),
        ("q=CAfeedface0123456789", 1),
        ("q=CAfeedface", 1),
        ("q=nobody%25", 0),
        ("outcome=ai-resolved&q=ana", 1),
    ],
)
def test_calls_list_filters_and_search(app, signed_in, many_calls, query, expected):
    html = signed_in.get(f"/admin/calls?{query}").get_data(as_text=True)
    assert f"{expected} call{'' if expected == 1 else 's'}" in html


def test_escalations_are_broken_down_by_reason_from_the_dashboard_to_the_calls(app, signed_in):
    """"Escalation 67 %" alone does not say what to fix: a KB gap, callers asking for a person, or a system error.
    The reason was only on each call's own page; the list said "needs human" and could not be filtered by it."""
    client = app.test_client()
    resolved_call(client)
    gap = call_id_of(app, escalated_call(client))
    person = Caller(client, from_number="+14155550122")
    identify(person)
    person.say("I want to talk to a human")
    person.hangup(duration=30)
    person_id = call_id_of(app, person)
    today = utcnow().date()
    period = f"from={today - timedelta(days=29)}&amp;to={today}"

    assert signed_in.get("/admin/api/metrics").json["escalation_reasons"] == [
        {"reason": "caller-request", "calls": 1}, {"reason": "no-kb-match", "calls": 1}
    ]
    html = signed_in.get("/admin/").get_data(as_text=True)
    table = html[html.index('data-testid="escalation-reasons"'):]
    for reason, label in (("caller-request", "Caller asked for a person"), ("no-kb-match", "No KB article matched")):
        assert f'href="/admin/calls?outcome=needs-human&amp;reason={reason}&amp;{period}">{label}</a>' in table

    def listed(query: str) -> set[int]:
        page = signed_in.get(f"/admin/calls?{query}").get_data(as_text=True)
        return {int(i) for i in re.findall(r'href="/admin/calls/(\d+)" data-testid="call-link"', page)}

    assert listed("outcome=needs-human&reason=caller-request") == {person_id}
    assert listed("reason=no-kb-match") == {gap}
    assert listed("reason=unknown") == set()
    assert len(listed("reason=bogus")) == 3  # an unknown reason is ignored, with the warning
    rows = signed_in.get("/admin/calls").get_data(as_text=True)
    assert '<small class="muted" data-testid="reason">Caller asked for a person</small>' in rows
    assert '<small class="muted" data-testid="reason">No KB article matched</small>' in rows
    assert rows.count('data-testid="reason"') == 2  # the resolved call has none
    detail = signed_in.get(f"/admin/calls/{person_id}").get_data(as_text=True)
    assert "Caller asked for a person" in detail and "<code>caller-request</code>" in detail


def test_calls_list_date_range(app, signed_in, many_calls):
    today = utcnow().date()
    start, end = today - timedelta(days=3), today - timedelta(days=2)
    html = signed_in.get(f"/admin/calls?from={start}&to={end}").get_data(as_text=True)
    assert sorted(_names(html)) == ["Ana Resolved", "Hugo Human"]
    # The day the two recent calls (3 and 1 minutes old) started on: yesterday for a few minutes after midnight UTC.
    recent = (utcnow() - timedelta(minutes=5)).date()
    html = signed_in.get(f"/admin/calls?from={recent}").get_data(as_text=True)
    assert sorted(_names(html)) == ["Abe Abandoned", "Paula Progress"]
    html = signed_in.get("/admin/calls?from=not-a-date&outcome=bogus").get_data(as_text=True)
    assert "were not valid and were ignored" in html and "34 calls" in html


def test_pagination_links_keep_the_filters(app, signed_in, many_calls):
    html = signed_in.get("/admin/calls?outcome=ai-resolved").get_data(as_text=True)
    assert "/admin/calls?page=2&amp;outcome=ai-resolved" in html


def _listed_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'href="/admin/calls/(\d+)" data-testid="call-link"', html)]


@pytest.mark.parametrize("sort, key", [
    ("oldest", lambda c: (c.started_at, c.id)),
    ("longest", lambda c: (c.duration_s is None, -(c.duration_s or 0), -c.id)),
    ("shortest", lambda c: (c.duration_s is None, c.duration_s or 0, -c.id)),
])
def test_calls_list_sorts_by_time_or_duration_through_the_pages(app, signed_in, many_calls, sort, key):
    """A support admin could only read the calls newest first: the longest calls (the ones worth a look) or the
    oldest were nowhere to be sorted. Calls without a duration (in progress) come last on both databases; equal
    durations keep one order (by id), so no call is on two pages or none."""
    add_calls(app, [dict(name=f"Short Caller {i}", duration_s=i, outcome="abandoned") for i in range(3)])
    with app.app_context():
        calls = db.session.scalars(select(Call)).all()
        expected = [c.id for c in sorted(calls, key=key)]
    page1 = signed_in.get(f"/admin/calls?sort={sort}").get_data(as_text=True)
    assert f'<option selected value="{sort}">' in page1 and "37 calls, " in page1
    assert f'href="/admin/calls?page=2&amp;sort={sort}"' in page1  # the pages keep the order
    page2 = signed_in.get(f"/admin/calls?page=2&sort={sort}").get_data(as_text=True)
    assert _listed_ids(page1) + _listed_ids(page2) == expected
    filtered = signed_in.get(f"/admin/calls?sort={sort}&outcome=abandoned").get_data(as_text=True)
    assert "4 calls matching, " in filtered and 'name="sort"' in filtered
    assert _listed_ids(filtered) == [i for i in expected if i in set(_listed_ids(filtered))]
    if sort != "oldest":
        assert _names(page2)[-1] == "Paula Progress"  # no duration: last, on SQLite as on PostgreSQL
    if sort == "longest":
        assert _names(page1)[0] == "Ana Resolved" and "longest first" in page1


@pytest.mark.parametrize("sort", ["bogus", "", "duration_s", "started_at;DROP TABLE call", "LONGEST", "newest"])
def test_an_unknown_sort_is_the_default_order(app, signed_in, many_calls, sort):
    response = signed_in.get("/admin/calls", query_string={"sort": sort, "page": 2})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "34 calls, newest first" in html
    assert _names(signed_in.get("/admin/calls").get_data(as_text=True))[:4] == _names(
        signed_in.get("/admin/calls", query_string={"sort": sort}).get_data(as_text=True))[:4]
    assert ("were not valid and were ignored" in html) is (sort != "newest")
    assert "sort=" not in html.split('aria-label="Pages"')[1]  # the links name no order: the default one


def test_silent_calls_are_listed_from_the_dashboard(app, signed_in):
    """The dashboard counted "2 silent" calls (a pocket dial, a caller who hung up while it rang) with no link, and
    the calls list could only show every abandoned call: the silent ones among them were not to be found."""
    client = app.test_client()
    resolved_call(client)
    mid_call = Caller(client, from_number="+14155550177")
    identify(mid_call)
    mid_call.hangup(duration=20)  # abandoned, but the caller spoke
    pocket = Caller(client, from_number="+14155550222")
    pocket.start()
    for _ in range(3):
        pocket.say("")
    pocket.hangup(duration=25)
    rang_out = Caller(client, from_number="+14155550555")
    rang_out.hangup(duration=0, status="no-answer")
    live = Caller(client, from_number="+14155550199")
    live.start()  # in progress: not silent yet
    silent = {call_id_of(app, pocket), call_id_of(app, rang_out)}

    today = utcnow().date()
    period = f"from={today - timedelta(days=29)}&amp;to={today}"
    html = signed_in.get("/admin/").get_data(as_text=True)
    assert f'href="/admin/calls?outcome=silent&amp;{period}" data-testid="calls-silent">2 silent</a>' in html
    assert signed_in.get("/admin/api/metrics").json["calls"]["silent"] == 2
    listed = signed_in.get(f"/admin/calls?outcome=silent&{period.replace('&amp;', '&')}").get_data(as_text=True)
    assert set(_listed_ids(listed)) == silent and "2 calls matching" in listed
    assert '<option selected value="silent">Abandoned — nobody spoke</option>' in listed
    abandoned = signed_in.get("/admin/calls?outcome=abandoned").get_data(as_text=True)
    assert set(_listed_ids(abandoned)) == silent | {call_id_of(app, mid_call)}
    paged = signed_in.get("/admin/calls?outcome=silent&sort=longest").get_data(as_text=True)
    assert _listed_ids(paged) == [call_id_of(app, pocket), call_id_of(app, rang_out)]  # 25 s, then 0 s


# -- call detail and retry ---------------------------------------------------------------------------


class _DownHelpdesk:
    """A helpdesk that always refuses the ticket (a permanent error: the ticket fails)."""

    def deliver(self, payload, *, time_budget_s=None):
        error = RuntimeError("Kayako answered 422: requester email invalid")
        error.transient = False
        raise error


def _fail_ticket(app, call_id: int) -> int:
    from callflow.outbox import run_once

    with app.app_context():
        app.extensions["helpdesk"] = _DownHelpdesk()
        run_once()
        ticket = db.session.scalar(select(TicketOutbox).where(TicketOutbox.call_id == call_id))
        assert ticket.status == "failed"
        return ticket.id


def test_call_detail_shows_transcript_article_times_ticket_and_attempts(app, signed_in):
    caller = resolved_call(app.test_client())
    call_id = call_id_of(app, caller)
    ticket_id = _fail_ticket(app, call_id)
    html = signed_in.get(f"/admin/calls/{call_id}").get_data(as_text=True)
    # transcript as a conversation, with the states and server times
    assert "turn turn-caller" in html and "turn turn-agent" in html
    assert PASSWORD_QUESTION.replace("'", "&#39;") in html
    for state in ("greet", "collect_email", "confirm_email", "answer"):
        assert f"<code>{state}</code>" in html
    assert re.search(r"\d+ ms</span>", html)
    # the article used and its score
    with app.app_context():
        call = db.session.get(Call, call_id)
        from callflow.models import KbArticle

        title = db.session.scalar(select(KbArticle.title).where(KbArticle.external_id == call.article_id))
        score = call.article_score
    assert title and title.replace("'", "&#39;") in html
    assert f'data-testid="article-score">{score:.1f}<' in html
    assert "Used to answer the caller." in html
    # the ticket payload and its failed attempt
    assert "ai-call" in html and "ai-resolved" in html and "jane.doe@example.com" in html
    assert 'sandbox=""' in html and "srcdoc=" in html
    assert "Kayako answered 422: requester email invalid" in html
    assert 'data-testid="retry"' in html and f"/admin/tickets/{ticket_id}/retry" in html
    assert signed_in.get("/admin/calls/999999").status_code == 404


def test_failed_tickets_are_found_from_the_dashboard_and_the_calls_list(app, signed_in):
    """A ticket that never reached the helpdesk was only to be found by opening every call."""
    failed = call_id_of(app, resolved_call(app.test_client()))
    _fail_ticket(app, failed)
    queued = call_id_of(app, escalated_call(app.test_client()))
    live = Caller(app.test_client(), from_number="+14155550199")
    live.start()
    delivered = add_call(app, name="Dee Delivered")
    with app.app_context():
        db.session.add(TicketOutbox(call=db.session.get(Call, delivered), payload={"subject": "x"}, status="delivered"))
        db.session.commit()

    def listed(query: str) -> set[int]:
        html = signed_in.get(f"/admin/calls?{query}").get_data(as_text=True)
        return {int(i) for i in re.findall(r'href="/admin/calls/(\d+)" data-testid="call-link"', html)}

    assert listed("ticket=failed") == {failed}
    assert listed("ticket=queued") == {queued}
    assert listed("ticket=delivered") == {delivered}
    assert listed("ticket=none") == {call_id_of(app, live)}
    assert len(listed("ticket=bogus")) == 4
    today = utcnow().date()
    html = signed_in.get("/admin/").get_data(as_text=True)
    assert 'data-testid="kpi-tickets-failed">1<' in html
    assert f'href="/admin/calls?ticket=failed&amp;from={today - timedelta(days=29)}&amp;to={today}"' in html
    tickets = signed_in.get("/admin/api/metrics").json["tickets"]
    assert tickets == {"queued": 1, "sending": 0, "delivered": 1, "local": 0, "failed": 1}


def test_retry_button_requeues_a_failed_ticket(app, signed_in):
    call_id = call_id_of(app, resolved_call(app.test_client()))
    ticket_id = _fail_ticket(app, call_id)
    detail = signed_in.get(f"/admin/calls/{call_id}").get_data(as_text=True)
    token = csrf_from(detail)
    assert signed_in.post(f"/admin/tickets/{ticket_id}/retry").status_code == 400  # no token
    with app.app_context():
        assert db.session.get(TicketOutbox, ticket_id).status == "failed"
    response = signed_in.post(f"/admin/tickets/{ticket_id}/retry", data={"csrf_token": token})
    assert response.status_code == 302 and response.location == f"/admin/calls/{call_id}#ticket"
    with app.app_context():
        ticket = db.session.get(TicketOutbox, ticket_id)
        assert ticket.status == "queued" and ticket.next_attempt_at <= utcnow()
    page = signed_in.get(f"/admin/calls/{call_id}").get_data(as_text=True)
    assert "is queued for delivery again" in page


def test_escalated_call_shows_the_best_match_as_not_used(app, signed_in):
    call_id = call_id_of(app, escalated_call(app.test_client()))
    html = signed_in.get(f"/admin/calls/{call_id}").get_data(as_text=True)
    assert "Best match only: its score was below the answer threshold" in html
    assert 'data-testid="retry"' not in html  # a queued ticket that was never attempted


def test_retry_of_a_delivered_ticket_changes_nothing(app, signed_in):
    call_id = call_id_of(app, resolved_call(app.test_client()))
    with app.app_context():
        ticket = db.session.scalar(select(TicketOutbox).where(TicketOutbox.call_id == call_id))
        ticket.status, ticket.delivered_at = "delivered", utcnow()
        db.session.commit()
        ticket_id = ticket.id
    token = csrf_from(signed_in.get(f"/admin/calls/{call_id}").get_data(as_text=True))
    signed_in.post(f"/admin/tickets/{ticket_id}/retry", data={"csrf_token": token})
    with app.app_context():
        assert db.session.get(TicketOutbox, ticket_id).status == "delivered"


def test_json_retry_needs_the_csrf_header(app, signed_in):
    call_id = call_id_of(app, resolved_call(app.test_client()))
    ticket_id = _fail_ticket(app, call_id)
    token = csrf_from(signed_in.get("/admin/").get_data(as_text=True))
    refused = signed_in.post(f"/admin/api/tickets/{ticket_id}/retry")
    assert refused.status_code == 400 and refused.is_json and "CSRF" in refused.json["error"]
    response = signed_in.post(f"/admin/api/tickets/{ticket_id}/retry", headers={"X-CSRFToken": token})
    assert response.status_code == 200 and response.json["status"] == "queued"
    with app.app_context():
        db.session.get(TicketOutbox, ticket_id).status = "delivered"
        db.session.commit()
    again = signed_in.post(f"/admin/api/tickets/{ticket_id}/retry", headers={"X-CSRFToken": token})
    assert again.status_code == 409 and again.json["status"] == "delivered"
    missing = signed_in.post("/admin/api/tickets/424242/retry", headers={"X-CSRFToken": token})
    assert missing.status_code == 404 and missing.is_json


def test_kayako_link_must_be_http(app, signed_in):
    call_id = add_call(app, name="Link Test")
    with app.app_context():
        call = db.session.get(Call, call_id)
        db.session.add(TicketOutbox(call=call, payload={}, status="delivered", external_id="9",
                                    external_url="javascript:alert(1)"))
        db.session.commit()
    for path in ("/admin/calls", f"/admin/calls/{call_id}"):
        html = signed_in.get(path).get_data(as_text=True)
        assert "javascript:" not in html


# -- KB page -------------------------------------------------------------------------------------------


def test_kb_page_lists_articles_with_last_sync(app, signed_in):
    html = signed_in.get("/admin/kb").get_data(as_text=True)
    with app.app_context():
        from sqlalchemy import func

        from callflow.models import KbArticle

        total, last = db.session.execute(select(func.count(KbArticle.id), func.max(KbArticle.synced_at))).one()
        first = db.session.scalar(select(KbArticle.title).order_by(KbArticle.section, KbArticle.title))
    assert f"{total} articles" in html
    assert last.strftime("%Y-%m-%d %H:%M") in html
    assert first.replace("'", "&#39;") in html and "published" in html


def test_kb_try_a_question_ranks_hits_against_the_cutoff(app, signed_in):
    html = signed_in.get("/admin/kb", query_string={"q": PASSWORD_QUESTION}).get_data(as_text=True)
    assert 'data-testid="kb-hits"' in html and "clears the threshold" in html
    scores = [float(s) for s in re.findall(r'<td class="num">(\d+\.\d)</td>', html)]
    assert scores and scores == sorted(scores, reverse=True)
    html = signed_in.get("/admin/kb", query_string={"q": "my neighbour's dog keeps barking"}).get_data(as_text=True)
    assert "would escalate" in html


# -- escaping of hostile caller text ------------------------------------------------------------------


def test_hostile_caller_text_is_inert_in_every_view(app, signed_in):
    caller = escalated_call(app.test_client(), question=f"how do I {HOSTILE} my account")
    call_id = call_id_of(app, caller)
    hostile_id = add_call(app, name=HOSTILE, email=f"{XSS_IMG}@example.com", topic=HOSTILE, outcome="needs-human",
                          escalation_reason="not-grounded", last_question=HOSTILE, from_number=XSS_SCRIPT)
    with app.app_context():
        turn_call = db.session.get(Call, call_id)
        assert HOSTILE in turn_call.last_question and turn_call.escalation_reason in ("no-kb-match", "not-grounded")
    views = [
        "/admin/calls",
        f"/admin/calls?q={XSS_SCRIPT}",
        f"/admin/calls/{call_id}",
        f"/admin/calls/{hostile_id}",
        "/admin/",
    ]
    for path in views:
        response = signed_in.get(path)
        assert response.status_code == 200, path
        assert_inert(response.get_data(as_text=True))
    dashboard = signed_in.get("/admin/").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in dashboard
    kb = signed_in.get("/admin/kb", query_string={"q": HOSTILE})
    assert kb.status_code == 200
    html = kb.get_data(as_text=True)
    assert_inert(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in signed_in.get(f"/admin/calls/{call_id}").get_data(as_text=True)


def test_pages_send_security_headers(signed_in):
    response = signed_in.get("/admin/calls")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_pages_have_one_layout_and_a_viewport(signed_in):
    for path in ("/admin/", "/admin/calls", "/admin/kb"):
        html = signed_in.get(path).get_data(as_text=True)
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
        assert "/admin/static/vendor/pico/pico.min.css" in html
        assert "<script>" not in html  # no inline scripts


def test_dashboard_period_errors_are_shown(signed_in):
    response = signed_in.get("/admin/?from=2025-02-10&to=2025-02-01")
    assert response.status_code == 400
    assert "&#39;to&#39; must not be before &#39;from&#39;" in response.get_data(as_text=True)


@pytest.mark.parametrize("q", ["Émile", "émile", "ÆRØ", "ærøskøbing"])
def test_search_folds_case_beyond_ascii(app, signed_in, q):
    """SQLite's own lower() folds ASCII only: an exact "Émile" found nothing there (PostgreSQL was right)."""
    add_call(app, name="Émile Ærøskøbing", email="emile@example.com")
    add_call(app, name="Other", email="other@example.com")
    html = signed_in.get("/admin/calls", query_string={"q": q}).get_data(as_text=True)
    assert 'data-testid="calls-total">1 call ' in html and "Émile" in html


@pytest.mark.parametrize("q, expected", [
    ("bob415@example.com", {"Bob"}),      # an email's digits are no phone number
    ("CA415", set()),
    ("415", {"Bob", "Other"}),            # digits alone: a phone search (and Bob's email has them)
    ("(415) 555-0199", {"Other"}),
    ("+1 212 555", {"Bob"}),
])
def test_phone_search_only_for_phone_like_queries(app, signed_in, q, expected):
    add_call(app, name="Bob", email="bob415@example.com", from_number="+12125550000")
    add_call(app, name="Other", email="x@example.com", from_number="+14155550199")
    html = signed_in.get("/admin/calls", query_string={"q": q}).get_data(as_text=True)
    assert {name for name in ("Bob", "Other") if f">{name}<" in html} == expected


@pytest.mark.parametrize("secret", [None, "", "dev-only-change-me", "short"])
def test_a_deployment_twilio_calls_refuses_to_start_with_the_public_default_secret_key(tmp_path, secret, caplog):
    """With the default key anyone can sign an admin session cookie (and name a caller's audio file). Where
    Twilio calls in (a token is set) the app does not start; on a laptop without a token it only warns."""
    from callflow import create_app

    config = dict(base_config(tmp_path), TESTING=False, SECRET_KEY=secret)
    with pytest.raises(RuntimeError, match="SECRET_KEY must be set"):
        create_app(config)
    with caplog.at_level(logging.WARNING, logger="callflow.admin"):
        create_app(dict(config, TWILIO_AUTH_TOKEN=None, TWILIO_VALIDATE_SIGNATURES=False))
    assert "SECRET_KEY is not set" in caplog.text
    assert create_app(dict(config, SECRET_KEY="x" * 32)).config["SECRET_KEY"] == "x" * 32


@pytest.mark.parametrize("q, expected", [
    ("bob@example.com", {"Bob"}),           # a whole address: that one, not jimbob@ (an index lookup)
    ("BOB@Example.COM", {"Bob"}),
    ("bob@example", {"Bob", "Jim"}),        # part of one: a substring, as before
    ("CA0123ABCDEF", {"Bob"}),              # a CallSid prefix, any case (the unique index on call_sid)
    ("ca0123abcdef0123456789abcdef012345", {"Bob"}),
    ("CA0123abcdef0123456789abcdef0123456", set()),  # longer than a CallSid: text, found nowhere
    ("Cade", {"Cade"}),                     # CA + 2 hex digits: a name too, still searched as text
    ("+1 212 555 0000", {"Bob"}),           # with its country code: a prefix of the number (indexed),
    ("+1 212", {"Bob"}),                    # so not +44 1212 555 0000
    ("212 555 0000", {"Bob", "Cade"}),      # without: its digits anywhere, as before
])
def test_search_by_whole_email_callsid_prefix_and_international_number(app, signed_in, q, expected):
    add_call(app, name="Bob", email="bob@example.com", from_number="+12125550000",
             call_sid="CA0123abcdef0123456789abcdef012345")
    add_call(app, name="Jim", email="jimbob@example.com", from_number="+14155550199")
    add_call(app, name="Cade", email="c@example.com", from_number="+4412125550000")
    html = signed_in.get("/admin/calls", query_string={"q": q}).get_data(as_text=True)
    assert {name for name in ("Bob", "Jim", "Cade") if f">{name}<" in html} == expected


def test_complaints_and_case_follow_ups_are_their_own_escalation_reasons_and_call_drivers(app, signed_in):
    """A complaint and a call about an earlier case were "No KB article matched" on the dashboard (a KB gap to fill)
    and their topic "unanswered question", which the top topics leave out; they are neither."""
    client = app.test_client()
    complainer = Caller(client, from_number="+14155550131")
    identify(complainer)
    complainer.say("the agent I spoke to yesterday was really rude")
    complainer.hangup(duration=40)
    follower = Caller(client, from_number="+14155550132")
    identify(follower)
    follower.say("I'm calling about case number 4 5 6 7 8")
    follower.hangup(duration=35)
    ids = {call_id_of(app, complainer): "complaint", call_id_of(app, follower): "case-follow-up"}

    metrics = signed_in.get("/admin/api/metrics").json
    assert sorted(metrics["escalation_reasons"], key=lambda row: row["reason"]) == [
        {"reason": "case-follow-up", "calls": 1}, {"reason": "complaint", "calls": 1}
    ]
    assert {row["topic"] for row in metrics["top_topics"]} == {"complaint", "case follow-up"}
    html = signed_in.get("/admin/").get_data(as_text=True)
    table = html[html.index('data-testid="escalation-reasons"'):]
    assert ">Caller made a complaint</a>" in table and ">Caller followed up on a case</a>" in table
    for call_id, reason in ids.items():
        page = signed_in.get(f"/admin/calls?reason={reason}").get_data(as_text=True)
        assert re.findall(r'href="/admin/calls/(\d+)" data-testid="call-link"', page) == [str(call_id)]
