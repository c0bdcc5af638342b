"""Hostile query strings and ids on the admin pages: a clean page or a 4xx, never a 500.

Signed in as an admin (the pages are only reachable that way), on both databases: ids past
PostgreSQL's 32-bit ``INTEGER``, dates at the ends of Python's ``date`` range and page
numbers whose OFFSET overflows a 64-bit integer and a NUL in the calls search (PostgreSQL
text refuses it) each gave a 500 before.
"""
from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import Caller
from .test_admin import EMAIL, PASSWORD, create_admin, csrf_from, login, make_admin_app

PAGES = ["/admin/", "/admin/api/metrics", "/admin/calls", "/admin/kb", "/admin/calls/1"]
KEYS = ["from", "to", "q", "page", "per_page", "outcome"]
EDGES = [
    "", "0", "-1", "1.5", "nan", "%", "\x00", "today", "99999999999999999999", "400000000000000000",
    "0001-01-01", "9999-12-31", "2026-02-30", "2026-13-45", "1999-12-31", "3000-01-01", "2026-11-22T00:00",
]


@pytest.fixture
def admin_client(tmp_path, database_url):
    app = make_admin_app(tmp_path, database_url)
    create_admin(app)
    client = app.test_client()
    assert login(client).status_code in (302, 303)
    Caller(app.test_client()).start()  # one call in the lists
    return client


@pytest.mark.parametrize(
    "url, expected",
    [
        ("/admin/calls/999999999999999999999", 404),  # past SQLite's INTEGER: OverflowError
        ("/admin/calls/2147483648", 404),  # past PostgreSQL's INTEGER: NumericValueOutOfRange
        ("/admin/calls/2147483647", 404),
        ("/admin/?from=9999-12-31", 400),  # the day after the period's end overflowed date
        ("/admin/api/metrics?to=9999-12-31", 400),
        ("/admin/api/metrics?from=0001-01-01&to=0001-01-02", 400),
        ("/admin/calls?to=9999-12-31", 200),  # an invalid filter is shown as such and dropped
        ("/admin/calls?page=400000000000000000", 200),  # OFFSET overflowed: now an empty last page
        ("/admin/kb?page=99999999999999999999", 200),
        ("/admin/calls?q=%00", 200),  # PostgreSQL text refuses NUL: DataError
        ("/admin/calls?q=CA%00%1b", 200),
        ("/admin/kb?q=%00reset%07password", 200),
    ],
)
def test_edge_values_that_gave_a_500(admin_client, url, expected):
    response = admin_client.get(url)
    assert response.status_code == expected, response.get_data(as_text=True)[:500]
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize("url", ["/admin/tickets/99999999999999999999/retry", "/admin/api/tickets/2147483648/retry"])
def test_retry_of_an_impossible_ticket_id_is_a_404(admin_client, url):
    assert admin_client.post(url).status_code == 404


@pytest.mark.parametrize("email", ["\x00", "nobody\x00@example.com", EMAIL + "\x00"])
def test_a_login_email_with_a_nul_is_not_a_500(tmp_path, database_url, email):
    """PostgreSQL text refuses NUL: the login form drops control characters before the lookup."""
    app = make_admin_app(tmp_path, database_url)
    create_admin(app)
    client = app.test_client()
    token = csrf_from(client.get("/admin/login").get_data(as_text=True))
    response = client.post("/admin/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code < 500
    assert (response.status_code in (302, 303)) == (email == EMAIL + "\x00")  # the same admin, once cleaned


def test_fuzzed_query_strings_never_give_a_500(admin_client):
    seen: list[tuple[str, dict, int]] = []

    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(
        path=st.sampled_from(PAGES),
        params=st.dictionaries(st.sampled_from(KEYS), st.one_of(st.sampled_from(EDGES), st.text(max_size=30)), max_size=4),
    )
    def visit(path, params):
        response = admin_client.get(path + "?" + urlencode(params))
        if response.status_code >= 500:
            seen.append((path, params, response.status_code))

    visit()
    assert seen == []
