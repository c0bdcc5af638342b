"""KayakoClient against the fake Kayako (tests/fakes/kayako_server.py), over real HTTP."""
from __future__ import annotations

import logging
import time

import pytest
import requests

from callflow.kayako import KayakoClient, KayakoError
from callflow.phone import normalize_phone
from tests.fakes.kayako_server import FakeKayako, make_articles

CALL_SID = "CA0123456789abcdef0123456789abcdef"


@pytest.fixture
def fake():
    with FakeKayako() as server:
        yield server


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def make_client(fake, sleeps):
    def build(**kwargs):
        kwargs.setdefault("sleep", sleeps.append)
        return KayakoClient(fake.url, fake.email, fake.password, **kwargs)

    return build


@pytest.fixture
def client(make_client):
    return make_client()


def payload(**overrides):
    body = {"call_sid": CALL_SID, "subject": "Caller cannot reset password",
            "contents_html": "<p>Caller said: &lt;help&gt;</p>", "priority": "urgent",
            "tags": ["ai-call", "needs-human"],
            "requester": {"name": "Jane Caller", "email": "jane@example.com", "phone": "+14155550104"}}
    body.update(overrides)
    return body


# ---------------------------------------------------------------- auth / session
def test_one_basic_auth_then_session_reused(client, fake):
    client.me()
    list(client.iter_articles())
    client.priority_id("Urgent")
    client.find_or_create_requester(name="A", email="a@example.com", phone=None)
    assert fake.basic_auth_count == 1
    first, *later = fake.requests
    assert first.path == "/api/v1/me.json" and first.headers["authorization"].startswith("Basic ")
    assert later and all("authorization" not in r.headers for r in later)
    assert all(r.headers["x-session-id"] in fake.sessions for r in later)
    assert all("application/json" in r.headers["accept"] for r in fake.requests)


def test_csrf_token_sent_on_writes_only(client, fake):
    client.find_or_create_requester(name="A", email="a@example.com", phone="+14155550100")
    token = next(iter(fake.sessions.values()))
    posts = [r for r in fake.requests if r.method == "POST"]
    gets = [r for r in fake.requests[1:] if r.method == "GET"]
    assert posts and all(r.headers["x-csrf-token"] == token for r in posts)
    assert gets and all("x-csrf-token" not in r.headers for r in gets)
    assert all(r.headers["content-type"] == "application/json" for r in posts)


@pytest.mark.parametrize("status", [401, 454])
def test_reauthenticates_once_on_expired_session(client, fake, status):
    client.me()
    fake.expire_sessions(status)
    assert client.me()["full_name"] == "Support Agent"
    assert fake.basic_auth_count == 2


def test_reauthenticates_on_csrf_failed(client, fake):
    client.me()
    fake.invalidate_csrf()
    client.find_or_create_requester(name="A", email="a@example.com", phone=None)
    assert fake.basic_auth_count == 2
    assert fake.user_by_email("a@example.com")


def test_reauth_is_attempted_only_once(client, fake):
    fake.fail_next(401, n=5, path_prefix="/api/v1/roles")
    with pytest.raises(KayakoError) as info:
        client.customer_role_id()
    assert info.value.status == 401 and not info.value.transient
    assert fake.basic_auth_count == 2
    assert len(fake.requests_for("/api/v1/roles")) == 2


def test_bad_credentials_are_permanent(fake, sleeps):
    client = KayakoClient(fake.url, fake.email, "wrong", sleep=sleeps.append)
    with pytest.raises(KayakoError) as info:
        client.me()
    assert (info.value.status, info.value.code, info.value.transient) == (401, "AUTHENTICATION_FAILED", False)
    assert sleeps == [] and len(fake.requests) == 1
    assert client.ping() is False


# ---------------------------------------------------------------- errors / retries
def test_error_envelope_becomes_kayako_error_fields(client, fake):
    fake.fail_next(400, code="FIELD_INVALID", parameter="label", message="Label\nis bad", path_prefix="/api/v1/cases/priorities")
    with pytest.raises(KayakoError) as info:
        client.priority_id("Urgent")
    err = info.value
    assert (err.status, err.code, err.parameter, err.message) == (400, "FIELD_INVALID", "label", "Label is bad")
    assert err.transient is False and err.retry_after is None
    assert "FIELD_INVALID" in str(err)
    assert len(fake.requests_for("/api/v1/cases/priorities")) == 1  # 400: not retried


def test_hostile_non_json_error_body(client, fake, sleeps):
    fake.fail_next(502, n=10, body="<html><b>Bad gateway</b> jane@example.com</html>", path_prefix="/api/v1/roles")
    with pytest.raises(KayakoError) as info:
        client.customer_role_id()
    err = info.value
    assert (err.status, err.code, err.transient) == (502, None, True)
    assert "html" not in err.message and "jane" not in str(err)
    assert len(fake.requests_for("/api/v1/roles")) == 4
    assert sleeps == [0.5, 1.0, 2.0]  # exponential backoff


def test_error_envelope_with_wrong_types_is_tolerated(client, fake):
    fake.respond_next(400, {"status": 400, "errors": ["x", {"code": 5, "message": ["no"], "parameters": ["a", 1]}]},
                      path_prefix="/api/v1/roles")
    with pytest.raises(KayakoError) as info:
        client.customer_role_id()
    assert (info.value.status, info.value.code, info.value.parameter) == (400, None, "a")
    assert info.value.message == "HTTP 400"


def test_500_retried_then_success(client, fake, sleeps):
    fake.fail_next(500, n=2, path_prefix="/api/v1/cases/priorities")
    assert client.priority_id("Urgent") == 14
    assert len(fake.requests_for("/api/v1/cases/priorities")) == 3
    assert sleeps == [0.5, 1.0]


def test_429_retry_after_is_honoured_and_capped(make_client, fake, sleeps):
    client = make_client(max_retry_wait=10.0)
    fake.fail_next(429, retry_after=7, path_prefix="/api/v1/roles")
    assert client.customer_role_id() == 7
    fake.fail_next(429, retry_after=120, path_prefix="/api/v1/cases/priorities")
    assert client.priority_id("Normal") == 12
    assert sleeps == [7.0, 10.0]


def test_429_on_case_creation_is_retried_once_processed(client, fake, sleeps):
    fake.fail_next(429, retry_after=2, path_prefix="/api/v1/cases", method="POST")
    case_id, _ = client.deliver(payload())
    assert list(fake.cases) == [case_id]
    assert len(fake.requests_for("/api/v1/cases", method="POST")) == 2
    assert 2.0 in sleeps


def test_400_on_case_creation_is_not_retried(client, fake):
    fake.fail_next(400, code="FIELD_INVALID", parameter="subject", path_prefix="/api/v1/cases", method="POST")
    with pytest.raises(KayakoError) as info:
        client.deliver(payload())
    assert info.value.code == "FIELD_INVALID" and not info.value.transient and not info.value.ambiguous
    assert len(fake.requests_for("/api/v1/cases", method="POST")) == 1 and not fake.cases


def test_connection_refused_is_transient(client, fake, sleeps):
    client.me()
    fake.down()
    with pytest.raises(KayakoError) as info:
        client.find_or_create_requester(name="Jane", email="jane@example.com", phone=None)
    err = info.value
    assert (err.status, err.code, err.transient) == (None, "CONNECTION_ERROR", True)
    assert "jane" not in str(err) and err.__cause__ is None
    assert len(sleeps) == 3
    assert client.ping() is False
    fake.up()
    assert client.ping() is True


def test_503_maintenance_page_is_transient(client, fake):
    fake.down("503")
    with pytest.raises(KayakoError) as info:
        client.me()
    assert (info.value.status, info.value.transient) == (503, True)


def test_timeouts_on_every_request(fake, sleeps):
    seen = []

    class Recording(requests.Session):
        def request(self, method, url, **kwargs):
            seen.append(kwargs.get("timeout"))
            return super().request(method, url, **kwargs)

    client = KayakoClient(fake.url, fake.email, fake.password, session=Recording(), sleep=sleeps.append)
    client.deliver(payload())
    list(client.iter_articles())
    assert len(seen) > 8 and set(seen) == {(3.0, 10.0)}


def test_read_timeout_is_transient_and_get_is_retried(make_client, fake, sleeps):
    client = make_client(read_timeout=0.2, max_attempts=2)
    fake.delay(1.0, "/api/v1/roles", n=2)
    started = time.monotonic()
    with pytest.raises(KayakoError) as info:
        client.customer_role_id()
    assert (info.value.code, info.value.transient, info.value.status) == ("TIMEOUT", True, None)
    assert len(fake.requests_for("/api/v1/roles")) == 2 and sleeps == [0.5]
    assert time.monotonic() - started < 2


# ---------------------------------------------------------------- hostile response bodies
MIB = 1024 * 1024


def test_padded_and_gzipped_bodies_within_limits_are_read(client, fake):
    fake.pad_body(200_000, "/api/v1/roles", chunk_bytes=7_000)
    assert client.customer_role_id() == 7
    fake.pad_body(3 * MIB, "/api/v1/cases/priorities", gzip=True)
    assert client.priority_id("Urgent") == 14
    assert len(fake.streamed) == 2 and fake.streamed[1] < MIB  # the gzip stream itself was small


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip-bomb"])
def test_oversized_body_is_refused_without_reading_it_all(make_client, fake, sleeps, gzip):
    client = make_client(max_response_bytes=MIB, max_attempts=2)
    fake.pad_body(256 * MIB, "/api/v1/roles", n=2, gzip=gzip)
    started = time.monotonic()
    with pytest.raises(KayakoError) as info:
        client.customer_role_id()
    err = info.value
    assert (err.code, err.status, err.transient, err.ambiguous) == ("RESPONSE_TOO_LARGE", 200, True, False)
    assert len(fake.requests_for("/api/v1/roles")) == 2 and sleeps == [0.5]  # retried like a 5xx
    assert time.monotonic() - started < 10
    for _ in range(100):  # the server notices the closed connection on its next write
        if len(fake.streamed) == 2:
            break
        time.sleep(0.05)
    limit = 64 * MIB if not gzip else MIB  # loopback socket buffers hold a few MiB at most
    assert len(fake.streamed) == 2 and max(fake.streamed) < limit, fake.streamed
    assert client.customer_role_id() == 7  # and the next, normal answer is read


def test_declared_oversized_body_is_refused_before_reading(make_client, fake):
    client = make_client(max_response_bytes=1000, max_attempts=1)
    fake.respond_next(200, {"status": 200, "data": [{"id": 7, "type": "CUSTOMER"}] * 100}, path_prefix="/api/v1/roles")
    with pytest.raises(KayakoError) as info:
        client.customer_role_id()
    assert info.value.code == "RESPONSE_TOO_LARGE"


def test_trickling_body_is_cut_at_the_deadline(make_client, fake, sleeps):
    client = make_client(max_response_s=1.0, read_timeout=5.0, max_attempts=1)
    fake.pad_body(200, "/api/v1/roles", chunk_bytes=1, interval=0.05)  # 10 s in all, never 5 s silent
    started = time.monotonic()
    with pytest.raises(KayakoError) as info:
        client.customer_role_id()
    elapsed = time.monotonic() - started
    assert (info.value.code, info.value.transient) == ("TIMEOUT", True)
    assert 1.0 <= elapsed < 3.0


def test_oversized_answer_to_case_creation_does_not_duplicate_the_case(make_client, fake, sleeps):
    client = make_client(max_response_bytes=MIB)
    fake.pad_body(8 * MIB, "/api/v1/cases", method="POST", exact=True)  # the case is created, the answer is junk
    case_id, _ = client.deliver(payload())
    assert list(fake.cases) == [case_id]
    assert len(fake.requests_for("/api/v1/cases", method="POST")) == 1  # found by its marker, not re-posted


# ---------------------------------------------------------------- articles
def test_pages_through_250_articles(fake, sleeps):
    with FakeKayako(articles=make_articles(250)) as big:
        client = KayakoClient(big.url, big.email, big.password, sleep=sleeps.append)
        articles = list(client.iter_articles())
        calls = big.requests_for("/api/v1/articles")
    assert len(articles) == 250 and len({a["id"] for a in articles}) == 250
    assert [c.query["offset"] for c in calls] == ["0", "100", "200"]
    assert all(c.query["limit"] == "100" for c in calls)
    assert all("locale_field" in c.query["include"].split(",") for c in calls)


def test_paging_stops_on_a_repeating_server(client, fake):
    page = {"status": 200, "resource": "article", "offset": 0, "limit": 2, "total_count": 999,
            "next_url": "http://evil.example/api/v1/articles.json?offset=0&limit=2",
            "data": [{"id": 1, "titles": [{"locale": "en-us", "translation": "T"}],
                      "contents": [{"locale": "en-us", "translation": "<p>x</p>"}]}]}
    fake.respond_next(200, page, n=None, path_prefix="/api/v1/articles")
    seen = []
    with pytest.raises(KayakoError) as info:  # the listing has no end to read: a sync must not delete the rest
        for article in client.iter_articles():
            seen.append(article["id"])
    assert info.value.code == "INCOMPLETE_LISTING" and seen == ["1"]
    assert len(fake.requests_for("/api/v1/articles")) <= 2


def test_paging_is_capped(make_client, fake):
    client = make_client(max_pages=3)
    for page in range(1, 6):
        fake.respond_next(200, {"status": 200, "total_count": None, "next_url": f"/x?offset={page * 10}",
                                "data": [{"id": page, "titles": [], "contents": []}]},
                          path_prefix="/api/v1/articles")
    with pytest.raises(KayakoError) as info:  # more pages than the cap: not the whole listing
        list(client.iter_articles())
    assert info.value.code == "INCOMPLETE_LISTING"
    assert [r.query["offset"] for r in fake.requests_for("/api/v1/articles")] == ["0", "10", "20"]


def test_locale_picking_and_normalized_shape(make_client, fake):
    articles = {a["id"]: a for a in make_client().iter_articles()}
    assert set(articles) == {"1", "2", "3", "4", "5"}
    assert articles["3"]["status"] == "DRAFT"  # all statuses are yielded; the caller filters
    assert articles["4"]["title"] == "Lieferzeiten"  # only de-de exists: the first locale
    assert articles["2"]["title"] == "Refund policy"
    first = articles["1"]
    assert first["tags"] == ["account", "password"] and first["section"] == "Account"
    assert first["url"].startswith(fake.url + "/") and first["html"].startswith("<p>Open <b>Settings</b>")
    assert first["updated_at"] == "2024-03-01T10:00:00+00:00"
    french = {a["id"]: a for a in make_client(locale="fr-FR").iter_articles()}
    assert french["2"]["title"] == "Politique de remboursement" and french["1"]["title"].startswith("How do I")
    assert {a["id"]: a for a in make_client().iter_articles(locale="fr-fr")}["2"]["html"].startswith("<p>Les")


def test_articles_without_expanded_locale_fields_are_skipped(client, fake):
    fake.respond_next(200, {"status": 200, "data": [{"id": 9, "titles": [{"id": 1, "resource_type": "locale_field"}],
                                                     "contents": [{"id": 2, "resource_type": "locale_field"}]}],
                            "total_count": 1}, path_prefix="/api/v1/articles")
    assert list(client.iter_articles()) == []


def test_hostile_article_payloads(client, fake):
    good = {"locale": "en-us", "translation": "Fine"}
    fake.articles[:] = [
        "not a dict", 42, None,
        {"titles": [good], "contents": [good]},  # no id
        {"id": {"x": 1}, "titles": [good], "contents": [good]},
        {"id": 10, "titles": "oops", "contents": [good]},
        {"id": 11, "titles": [{"locale": "en-us", "translation": 5}], "contents": [good]},
        {"id": 12, "titles": [good]},
        {"id": 13, "titles": [good, "junk", {"locale": None}], "contents": [{"translation": "<p>no locale</p>"}],
         "tags": [1, {"name": 5}, {"name": " ok "}, "plain", None], "status": 3, "updated_at": 7,
         "section": ["bad"], "helpcenter_url": "javascript:alert(1)"},
        {"id": "14", "titles": [{"locale": "EN-US", "translation": "Upper"}],
         "contents": [{"locale": "en-us", "translation": "<p>u</p>"}], "tags": "a,b", "status": "published",
         "section": {"id": 99, "resource_type": "section"}},
    ]
    got = list(client.iter_articles())
    assert [a["id"] for a in got] == ["14"]
    assert got[0] == {"id": "14", "title": "Upper", "html": "<p>u</p>", "locale": "en-us", "tags": [], "section": "99",
                      "status": "PUBLISHED", "updated_at": "", "url": None}
    fake.articles[:] = [{"id": 13, "titles": [{"translation": "T"}], "contents": [{"translation": "<p>c</p>"}],
                         "tags": [1, {"name": 5}, {"name": " ok "}, "plain"], "status": 3, "updated_at": 7,
                         "section": ["bad"], "helpcenter_url": "javascript:alert(1)"}]
    (only,) = list(client.iter_articles())
    assert only == {"id": "13", "title": "T", "html": "<p>c</p>", "locale": "", "tags": ["ok", "plain"], "section": None,
                    "status": "", "updated_at": "", "url": None}


@pytest.mark.parametrize("body, transient", [({"status": 200, "data": "nope"}, False), (["a", "list"], True),
                                             ("<html>maintenance</html>", True)])
def test_broken_collection_envelope_raises_kayako_error(client, fake, body, transient):
    fake.respond_next(200, body, n=None, path_prefix="/api/v1/articles")
    with pytest.raises(KayakoError) as info:
        list(client.iter_articles())
    assert info.value.code == "INVALID_RESPONSE" and info.value.transient is transient
    assert len(fake.requests_for("/api/v1/articles")) == (4 if transient else 1)  # a non-JSON page may pass


# ---------------------------------------------------------------- lookups
def test_instance_ids_are_looked_up_and_cached(client, fake):
    assert (client.priority_id("Urgent"), client.priority_id("normal"), client.priority_id("LOW")) == (14, 12, 11)
    assert client.customer_role_id() == 7 and client.customer_role_id() == 7
    assert client.priority_id("nonsense") is None
    assert len(fake.requests_for("/api/v1/cases/priorities")) == 1
    assert len(fake.requests_for("/api/v1/roles")) == 1


def test_localized_labels_and_level_fallback(fake, sleeps):
    localized = [{"id": 91, "label": [{"locale": "de-de", "translation": "Dringend"}, {"locale": "en-us", "translation": "Urgent"}], "level": 9},
                 {"id": 92, "label": {"en-us": "Normal"}, "level": 5}]
    with FakeKayako(priorities=localized) as other:
        client = KayakoClient(other.url, other.email, other.password, sleep=sleeps.append)
        assert (client.priority_id("urgent"), client.priority_id("Normal")) == (91, 92)
    unlabelled = [{"id": 40 + lvl, "level": lvl} for lvl in (4, 1, 3, 2)]
    with FakeKayako(priorities=unlabelled, roles=[{"id": 70, "title": "Kunde", "type": "customer"},
                                                  {"id": 71, "title": "Agent", "type": "AGENT"}]) as other:
        client = KayakoClient(other.url, other.email, other.password, sleep=sleeps.append)
        assert [client.priority_id(x) for x in ("low", "normal", "high", "urgent")] == [41, 42, 43, 44]
        assert client.customer_role_id() == 70


def test_missing_customer_role_is_a_permanent_error(fake, sleeps):
    with FakeKayako(roles=[{"id": 1, "title": "Agent", "type": "AGENT"}]) as other:
        client = KayakoClient(other.url, other.email, other.password, sleep=sleeps.append)
        with pytest.raises(KayakoError) as info:
            client.customer_role_id()
    assert info.value.code == "ROLE_NOT_FOUND" and not info.value.transient


# ---------------------------------------------------------------- requesters
def test_creates_requester_with_email_and_phone(client, fake):
    user_id = client.find_or_create_requester(name="Jane Caller", email="Jane@Example.com", phone="+1 (415) 555-0104")
    user = fake.users[user_id]
    assert user["full_name"] == "Jane Caller" and user["role_id"] == 7
    assert user["emails"][0]["email"] == "Jane@Example.com"
    assert user["phones"] == [{"id": user["phones"][0]["id"], "number": "+14155550104", "is_primary": True}]
    (create,) = fake.requests_for("/api/v1/users", method="POST", exact=True)
    assert create.body == {"full_name": "Jane Caller", "role_id": 7, "email": "Jane@Example.com"}
    (phone,) = fake.requests_for("/api/v1/identities/phones")
    assert phone.body == {"user_id": user_id, "number": "+14155550104", "is_primary": True}


def test_finds_existing_user_by_exact_email(client, fake):
    fake.add_user("Janet", email="jane@example.com.au")
    jane = fake.add_user("Jane", email="Jane@Example.com")
    assert client.find_or_create_requester(name="X", email="jane@example.COM", phone=None) == jane
    assert not fake.requests_for("/api/v1/users", method="POST", exact=True)
    (lookup,) = fake.requests_for("/api/v1/autocomplete/emails")
    assert lookup.query["address"] == "jane@example.COM"


def test_existing_user_gets_phone_attached_and_duplicates_ignored(client, fake):
    jane = fake.add_user("Jane", email="jane@example.com")
    assert client.find_or_create_requester(name=None, email="jane@example.com", phone="+14155550104") == jane
    assert client.find_or_create_requester(name=None, email="jane@example.com", phone="+14155550104") == jane
    assert [p["number"] for p in fake.users[jane]["phones"]] == ["+14155550104"]
    assert fake.requests_for("/api/v1/identities/phones")[0].body["is_primary"] is False


def test_autocomplete_unavailable_falls_back_to_users_filter(client, fake):
    jane = fake.add_user("Jane", email="jane@example.com")
    fake.fail_next(404, path_prefix="/api/v1/autocomplete")
    assert client.find_or_create_requester(name=None, email="jane@example.com", phone=None) == jane
    (flt,) = fake.requests_for("/api/v1/users/filter")
    prop = flt.body["predicates"]["collections"][0]["propositions"][0]
    assert prop == {"field": "identityemails.address", "operator": "comparison_equalto", "value": "jane@example.com"}


def test_unverifiable_autocomplete_falls_back_to_filter(client, fake):
    jane = fake.add_user("Jane", email="jane@example.com")
    fake.respond_next(200, {"status": 200, "data": [{"identity": {"id": 1, "resource_type": "identity_email"},
                                                     "parent": {"id": 999, "resource_type": "user"}}]},
                      path_prefix="/api/v1/autocomplete")
    assert client.find_or_create_requester(name=None, email="jane@example.com", phone=None) == jane


def test_duplicate_email_on_create_looks_up_again(client, fake):
    jane = fake.add_user("Jane", email="jane@example.com")
    fake.respond_next(200, {"status": 200, "data": [], "total_count": 0}, path_prefix="/api/v1/autocomplete")
    assert client.find_or_create_requester(name="Jane", email="jane@example.com", phone=None) == jane
    (create,) = fake.requests_for("/api/v1/users", method="POST", exact=True)
    assert len(fake.users) == 2  # agent + jane: nothing created
    assert len(fake.requests_for("/api/v1/autocomplete")) == 2


def test_duplicate_email_the_autocomplete_misses_is_found_by_the_users_filter(client, fake):
    """Autocomplete is a search (a page of prefix matches): when it leaves the address out, the
    ``FIELD_DUPLICATE`` used to end the delivery with a permanent error, parking the call's ticket as failed."""
    jane = fake.add_user("Jane", email="jane@example.com")
    fake.respond_next(200, {"status": 200, "data": [], "total_count": 0}, n=None, path_prefix="/api/v1/autocomplete")
    assert client.find_or_create_requester(name="Jane", email="jane@example.com", phone=None) == jane
    assert len(fake.users) == 2  # agent + jane: nothing created


def test_duplicate_email_no_lookup_finds_gives_a_customer_without_it(client, fake, caplog):
    fake.add_user("Jane", email="jane@example.com")
    fake.respond_next(200, {"status": 200, "data": [], "total_count": 0}, n=None, path_prefix="/api/v1/autocomplete")
    fake.respond_next(200, {"status": 200, "data": [], "total_count": 0}, n=None, path_prefix="/api/v1/users/filter")
    user_id = client.find_or_create_requester(name="Jane Caller", email="jane@example.com", phone=None)
    assert fake.users[user_id]["full_name"] == "Jane Caller" and fake.users[user_id]["emails"] == []
    assert "400 FIELD_DUPLICATE" in caplog.text and "jane@" not in caplog.text


@pytest.mark.parametrize("error", [{"code": "FIELD_INVALID"}, {"code": "FIELD_INVALID", "parameter": "emails"},
                                   {"code": "EMAIL_DOMAIN_BLOCKED", "message": "jane@example.com is blocked"}])
def test_email_refused_in_any_400_gives_a_customer_without_it(client, fake, caplog, error):
    """Only ``parameter == "email"`` used to be recognised: a refusal naming no (or another) parameter failed the
    ticket for good. The error's message may quote the address: it is not logged."""
    fake.fail_next(400, path_prefix="/api/v1/users", method="POST", exact=True, **error)
    user_id = client.find_or_create_requester(name="Jane Caller", email="jane@example.com", phone="+14155550104")
    assert fake.users[user_id]["emails"] == [] and fake.users[user_id]["phones"][0]["number"] == "+14155550104"
    assert "jane@" not in caplog.text


def test_name_refused_gives_a_customer_with_the_default_name(client, fake):
    fake.fail_next(400, code="FIELD_INVALID", parameter="full_name", path_prefix="/api/v1/users", method="POST",
                   exact=True)
    user_id = client.find_or_create_requester(name="J" * 150, email=None, phone="+14155550104")
    assert fake.users[user_id]["full_name"] == "Phone caller"
    fake.fail_next(400, code="FIELD_INVALID", parameter="role_id", n=None, path_prefix="/api/v1/users", method="POST",
                   exact=True)
    with pytest.raises(KayakoError) as caught:  # still refused: the error, after two tries
        client.find_or_create_requester(name="Bob", email=None, phone="+14155550199")
    assert caught.value.code == "FIELD_INVALID" and not caught.value.transient
    assert len(fake.requests_for("/api/v1/users", method="POST", exact=True)) == 4


def test_an_error_code_that_is_not_an_identifier_is_dropped(client, fake):
    """The code goes to logs: a server echoing the caller's address in it must not put it there."""
    fake.fail_next(400, code="jane@example.com is taken", path_prefix="/api/v1/me")
    with pytest.raises(KayakoError) as caught:
        client.me()
    assert caught.value.code is None and caught.value.status == 400


@pytest.mark.parametrize("location, shown", [
    ("https://agent:secret@acme.kayako.com/api/v1/me.json?address=jane@example.com", "https://acme.kayako.com"),
    ("/login?next=jane@example.com", "a page on the same host"),
    (None, "an unreadable address"),
])
def test_a_redirect_is_not_followed_and_says_where_to(make_client, fake, sleeps, location, shown):
    """``http://`` in KAYAKO_URL for an https-only instance, or a moved instance: the 301 used to be a permanent
    ``Kayako 301 ERROR: HTTP 301`` (every call's ticket parked as failed, and no word of why). Now a transient
    ``REDIRECTED`` naming the origin only; the credentials never leave for the other host."""
    fake.respond_next(301, "", n=None, path_prefix="/api/v1/me", headers={"Location": location} if location else None)
    with pytest.raises(KayakoError) as caught:
        make_client(max_attempts=2).me()
    err = caught.value
    assert (err.status, err.code, err.transient) == (301, "REDIRECTED", True) and len(sleeps) == 1
    assert f"redirected to {shown}, not followed: set KAYAKO_URL" in str(err)
    assert "jane" not in str(err) and "secret" not in str(err)
    assert len(fake.requests) == 2  # both to the fake: nothing followed


def test_phone_only_caller_found_by_e164_then_digits(client, fake):
    plus = fake.add_user("Plus", phones=["+14155550104"])
    digits = fake.add_user("Digits", phones=["14155550199"])
    assert client.find_or_create_requester(name=None, email=None, phone="+14155550104") == plus
    assert client.find_or_create_requester(name=None, email=None, phone="+1 415 555 0199") == digits
    values = [r.body["predicates"]["collections"][0]["propositions"][0]["value"]
              for r in fake.requests_for("/api/v1/users/filter")]
    assert values == ["+14155550104", "+14155550199", "14155550199"]
    assert not fake.requests_for("/api/v1/users", method="POST", exact=True)


def test_phone_only_caller_is_created_with_phone_identity(client, fake):
    user_id = client.find_or_create_requester(name="  ", email=None, phone="+442071838750")
    user = fake.users[user_id]
    assert user["full_name"] == "Phone caller" and user["emails"] == [] and user["role_id"] == 7
    assert [p["number"] for p in user["phones"]] == ["+442071838750"]
    (create,) = fake.requests_for("/api/v1/users", method="POST", exact=True)
    assert create.body == {"full_name": "Phone caller", "role_id": 7}


@pytest.mark.parametrize("phone", ["anonymous", "+266696687", "", None, "4155550104", "+1"])
def test_withheld_or_malformed_numbers_are_not_attached(client, fake, phone):
    user_id = client.find_or_create_requester(name="Caller", email=None, phone=phone)
    assert fake.users[user_id]["phones"] == []
    assert not fake.requests_for("/api/v1/identities/phones") and not fake.requests_for("/api/v1/users/filter")


def test_normalize_phone():
    assert normalize_phone("+1 (415) 555-0104") == "+14155550104"
    assert normalize_phone("+7378742833") is None and normalize_phone("restricted") is None


# ---------------------------------------------------------------- cases / deliver
def test_deliver_creates_note_case_with_expected_payload(client, fake):
    case_id, url = client.deliver(payload())
    assert url == f"{fake.url}/agent/conversations/{case_id}"
    (post,) = fake.requests_for("/api/v1/cases", method="POST")
    body = post.body
    assert body["subject"] == "Caller cannot reset password"
    assert body["channel"] == "NOTE" and "channel_id" not in body
    assert body["channel_options"] == {"html": True}
    assert body["tags"] == "ai-call,needs-human"
    assert body["priority_id"] == 14
    assert body["legacy_id"] == f"callflow-{CALL_SID}"
    assert body["contents"].startswith("<p>Caller said: &lt;help&gt;</p>")
    assert f"<p>callflow call: {CALL_SID}</p>" in body["contents"]
    assert body["requester_id"] == fake.user_by_email("jane@example.com")["id"]
    assert fake.cases[case_id]["tags"] == ["ai-call", "needs-human"]


def test_normal_priority_and_tag_cleanup(client, fake):
    client.deliver(payload(priority="normal", tags=["ai-call", "a,b", " ", "AI-CALL", 5]))
    (post,) = fake.requests_for("/api/v1/cases", method="POST")
    assert post.body["priority_id"] == 12 and post.body["tags"] == "ai-call,a b"


def test_mail_channel_uses_looked_up_mailbox(make_client, fake):
    client = make_client(channel="MAIL")
    client.deliver(payload())
    (post,) = fake.requests_for("/api/v1/cases", method="POST")
    assert post.body["channel"] == "MAIL" and post.body["channel_id"] == 21
    (channels,) = fake.requests_for("/api/v1/cases/channels")
    assert channels.query["user_id"] == str(post.body["requester_id"])


def test_ambiguous_timeout_on_create_does_not_duplicate_case(make_client, fake, sleeps):
    client = make_client(read_timeout=0.5)
    fake.delay(1.5, "/api/v1/cases", method="POST", n=1)  # processed, but the answer comes too late
    case_id, _ = client.deliver(payload())
    assert list(fake.cases) == [case_id]
    assert len(fake.requests_for("/api/v1/cases", method="POST")) == 1
    assert [r.query.get("legacy_ids") for r in fake.requests_for("/api/v1/cases", method="GET", exact=True)] == [
        f"callflow-{CALL_SID}"] * 2
    # and a later redelivery of the same call is a no-op too
    assert client.deliver(payload())[0] == case_id and len(fake.cases) == 1


def test_time_budget_stops_waits_and_requests_past_it(make_client, fake):
    client = make_client(sleep=time.sleep)  # real waits: the budget is wall-clock time
    fake.fail_next(429, retry_after=5, path_prefix="/api/v1/cases", method="POST", exact=True)
    started = time.monotonic()
    with pytest.raises(KayakoError) as info:
        client.deliver(payload(), time_budget_s=1.0)
    assert time.monotonic() - started < 1.5  # no 5 s wait inside a 1 s budget
    assert (info.value.status, info.value.transient, info.value.ambiguous) == (429, True, False)
    assert not fake.cases
    fake.pad_body(100, "/api/v1/cases", method="GET", exact=True, chunk_bytes=1, interval=0.05)  # 5 s of trickle
    started = time.monotonic()
    with pytest.raises(KayakoError) as info:
        client.deliver(payload(), time_budget_s=1.0)
    assert time.monotonic() - started < 2.0 and info.value.code == "TIMEOUT"
    fake.delay(1.2, None, n=1)  # the first request alone (the requester lookup) uses the budget up
    with pytest.raises(KayakoError) as info:
        client.deliver(payload(), time_budget_s=1.0)
    assert info.value.code == "DEADLINE" and info.value.transient and not fake.cases
    fake.clear_faults()
    case_id, _ = client.deliver(payload(), time_budget_s=1.0)  # and within the budget, as usual
    assert list(fake.cases) == [case_id]


def test_create_case_alone_reports_ambiguity(make_client, fake):
    client = make_client(read_timeout=0.3)
    requester = client.find_or_create_requester(name="J", email="j@example.com", phone=None)
    fake.delay(1.0, "/api/v1/cases", method="POST", n=1)
    with pytest.raises(KayakoError) as info:
        client.create_case(subject="s", contents_html="<p>c</p>", requester_id=requester, priority_label="normal",
                           tags=[], call_sid="CA1")
    assert info.value.transient and info.value.ambiguous and info.value.code == "TIMEOUT"
    assert len(fake.requests_for("/api/v1/cases", method="POST")) == 1


def test_server_error_on_create_is_checked_before_retry(client, fake, sleeps):
    fake.fail_next(500, path_prefix="/api/v1/cases", method="POST")
    case_id, _ = client.deliver(payload())
    assert list(fake.cases) == [case_id]
    assert len(fake.requests_for("/api/v1/cases", method="POST")) == 2
    assert len(fake.requests_for("/api/v1/cases", method="GET", exact=True)) == 2


def test_marker_lookup_falls_back_to_requester_cases(client, fake):
    case_id, _ = client.deliver(payload())
    fake.fail_next(400, code="PARAMETER_INVALID", path_prefix="/api/v1/cases", method="GET", exact=True)
    assert client.deliver(payload())[0] == case_id
    fallback = fake.requests_for("/api/v1/cases", method="GET", exact=True)[-1]
    assert fallback.query["identity_type"] == "EMAIL" and fallback.query["identity_value"] == "jane@example.com"
    assert len(fake.cases) == 1


def test_marker_lookup_ignores_unrelated_cases(client, fake):
    client.deliver(payload(call_sid="CAother"))
    assert client.find_case_by_marker(CALL_SID) is None
    fake.respond_next(200, {"status": 200, "data": [{"id": 1001, "subject": "x"}]}, path_prefix="/api/v1/cases",
                      exact=True)
    # unverifiable answer (no legacy_id) and no identity to fall back on -> not found
    assert client.find_case_by_marker(CALL_SID) is None


def test_phone_only_deliver_and_fallback_by_phone(client, fake):
    body = payload(requester={"name": None, "email": None, "phone": "+14155550104"})
    case_id, _ = client.deliver(body)
    assert fake.users[fake.cases[case_id]["requester_id"]]["full_name"] == "Phone caller"
    fake.fail_next(404, path_prefix="/api/v1/cases", method="GET", exact=True)
    assert client.deliver(body)[0] == case_id
    assert fake.requests_for("/api/v1/cases", method="GET", exact=True)[-1].query["identity_type"] == "PHONE"


@pytest.mark.parametrize("bad", [None, "x", {"call_sid": "bad sid!"}, {"call_sid": ""}])
def test_invalid_payload_is_permanent(client, fake, bad):
    with pytest.raises(KayakoError) as info:
        client.deliver(bad)
    assert info.value.code == "INVALID_PAYLOAD" and not info.value.transient
    assert not fake.cases


def test_base_url_with_trailing_slash(fake, sleeps):
    client = KayakoClient(fake.url + "/", fake.email, fake.password, sleep=sleeps.append)
    case_id, url = client.deliver(payload())
    assert url == f"{fake.url}/agent/conversations/{case_id}"
    assert all(r.path.startswith("/api/v1/") for r in fake.requests)


def test_no_personal_data_in_logs(client, fake, caplog):
    caplog.set_level(logging.DEBUG)
    client.deliver(payload())
    fake.down()
    with pytest.raises(KayakoError):
        client.deliver(payload(call_sid="CA2"))
    text = caplog.text + " ".join(str(r.args) for r in caplog.records)
    for secret in ("jane@example.com", "jane%40example.com", "4155550104", "Jane Caller", fake.password):
        assert secret not in text


def test_constructor_validation():
    with pytest.raises(ValueError):
        KayakoClient("kayako.example", "a", "b")
    with pytest.raises(ValueError):
        KayakoClient("https://x.example", "a", "b", channel="PHONE")


# ---------------------------------------------------------------- the fake itself (reused by others)
def test_fake_enforces_wire_rules(fake):
    base = fake.url + "/api/v1"
    login = requests.get(base + "/me", auth=(fake.email, fake.password), timeout=5)
    sid, csrf = login.json()["session_id"], login.headers["X-CSRF-Token"]
    assert login.headers["X-API-Version"] == "1"
    both = requests.get(base + "/me.json", auth=(fake.email, fake.password), headers={"X-Session-ID": sid}, timeout=5)
    assert both.status_code == 400 and both.json()["errors"][0]["code"] == "PARAMETERS_INCONSISTENT"
    html_only = requests.get(base + "/roles.json", headers={"X-Session-ID": sid, "Accept": "text/html"}, timeout=5)
    assert html_only.status_code == 406
    no_csrf = requests.post(base + "/cases.json", json={}, headers={"X-Session-ID": sid}, timeout=5)
    assert no_csrf.status_code == 403 and no_csrf.json()["errors"][0]["code"] == "CSRF_FAILED"
    write = {"X-Session-ID": sid, "X-CSRF-Token": csrf}
    missing = requests.post(base + "/cases.json", json={"contents": "x"}, headers=write, timeout=5).json()
    assert missing["status"] == 400 and missing["errors"][0]["parameter"] == "subject"
    listed = {"subject": "s", "contents": "c", "channel": "NOTE", "requester_id": fake.agent_id, "tags": ["a"]}
    assert requests.post(base + "/cases.json", json=listed, headers=write, timeout=5).json()["errors"][0]["parameter"] == "tags"
    refs = requests.get(base + "/articles.json?limit=2", timeout=5).json()  # public, default: locale_field refs
    assert refs["data"][0]["titles"][0] == {"id": refs["data"][0]["titles"][0]["id"], "resource_type": "locale_field"}
    assert (refs["offset"], refs["limit"], refs["total_count"]) == (0, 2, 5) and "offset=2" in refs["next_url"]
    assert requests.get(base + "/roles.json", timeout=5).status_code == 401
    assert requests.get(base + "/nope.json", headers={"X-Session-ID": sid}, timeout=5).status_code == 404


# -- hostile bodies the JSON parser or int() refuse ----------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 500])
def test_deeply_nested_json_is_an_invalid_response(client, fake, status):
    """json.loads raises RecursionError (not ValueError) on 100,000 "[": it escaped the client as a traceback."""
    fake.respond_next(status, "[" * 100_000, n=None, path_prefix="/api/v1/articles")
    with pytest.raises(KayakoError) as info:
        list(client.iter_articles())
    assert info.value.transient


@pytest.mark.parametrize("extra", [{"limit": "9" * 5000}, {"next_url": "/x?offset=" + "9" * 5000}])
def test_numbers_over_4300_digits_are_not_a_crash(client, fake, extra):
    """int() refuses strings of over 4,300 digits (ValueError): a limit or next_url offset like that is ignored."""
    fake.respond_next(200, {"status": 200, "total_count": 1, **extra,
                            "data": [{"id": 1, "titles": [{"locale": "en-us", "translation": "T"}],
                                      "contents": [{"locale": "en-us", "translation": "<p>x</p>"}]}]},
                      path_prefix="/api/v1/articles")
    assert [a["id"] for a in client.iter_articles()] == ["1"]


@pytest.mark.parametrize("session_id", ["abc\nX-Injected: 1", " abc", "abc def", "\u2603", "x" * 2000])
def test_a_session_id_that_cannot_be_a_header_is_a_transient_error(client, fake, session_id):
    """It made every later request fail as a non-transient connection error (requests refuses the header), so
    tickets were marked failed for good while Kayako was fine, until the process restarted."""
    original = fake._authorize
    handed = []

    def authorize(request, method, path):
        answer = original(request, method, path)
        if answer and not handed:
            handed.append(1)
            answer["session_id"] = session_id
        return answer

    fake._authorize = authorize
    assert client.deliver(payload())  # refused as a transient error, retried: signs in again and delivers
    assert handed and len(fake.cases) == 1
    assert len(fake.requests_for("/api/v1/me.json")) == 2
