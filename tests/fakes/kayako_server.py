"""A fake Kayako API v1 (https://developer.kayako.com/api/v1/) over real HTTP, for tests.

It speaks the wire format of the docs closely enough that :class:`callflow.kayako.KayakoClient` runs
its real code path (auth, sessions, CSRF, envelopes, paging, errors) against it::

    with FakeKayako() as fake:                       # 127.0.0.1, free port, daemon thread
        client = KayakoClient(fake.url, fake.email, fake.password, sleep=lambda s: None)
        case_id, url = client.deliver(payload)
        assert fake.cases[case_id]["tags"] == ["ai-call", "needs-human"]
        assert fake.requests_for("/api/v1/cases", method="POST")[0].body["channel"] == "NOTE"

Rules enforced (as documented, see /work/shared/reference/kayako-api.md):

* Auth: ``Authorization: Basic b64(email:password)`` on any request opens a session: the body gets a
  top-level ``session_id`` and the response an ``X-CSRF-Token`` header. Later requests send
  ``X-Session-ID`` (or ``_session_id``); Basic *and* a session id -> 400 ``PARAMETERS_INCONSISTENT``;
  an unknown/expired session -> 454 ``SESSION_LOADING_FAILED`` (or 401, see :meth:`expire_sessions`);
  POST/PUT/DELETE with a session need ``X-CSRF-Token`` -> else 403 ``CSRF_FAILED``; no auth -> 401
  ``AUTHENTICATION_FAILED`` (help-center articles are public). ``Accept`` must allow JSON -> else 406.
* Envelopes: ``{status, data, resource}``; collections add ``offset, limit (default 10, max 100),
  total_count, next_url``; errors ``{status, errors: [{code, parameter, message, more_info}]}``.
  The ``.json`` suffix is optional. ``X-API-Version: 1`` on every response.
* ``include=locale_field`` expands article ``titles``/``contents`` (else ``{id, resource_type}``
  refs); ``include=section`` expands the article section (``titles`` locale fields);
  ``include=identity_email``/``identity_phone`` expand user/autocomplete identities.

Endpoints (under ``/api/v1``): ``GET me``; ``GET articles`` (``filter=PUBLISHED``, ``section_id``),
``GET articles/<id>``; ``GET cases/priorities`` (ids 11..14: Low, Normal, High, Urgent - deliberately
not 1..4); ``GET roles`` (CUSTOMER is id 7); ``GET cases/channels?user_id=`` (NOTE, then MAIL with
mailbox ``account.id`` 21); ``GET autocomplete/emails?address=`` (case-insensitive prefix);
``POST users`` (``FIELD_DUPLICATE`` on a used email), ``GET users/<id>``, ``POST users/filter``
(``identityemails.address`` / ``identityphones.number`` with ``comparison_equalto``);
``POST identities/phones`` (``FIELD_DUPLICATE`` on a used number); ``POST cases`` (subject, contents,
channel, requester_id required; MAIL needs the mailbox ``channel_id``; ``tags`` must be a comma string;
``priority_id`` must exist), ``GET cases`` (``legacy_ids``, ``ids``, or ``identity_type`` +
``identity_value``; newest first), ``GET cases/<id>``.

State (plain attributes, guarded by ``fake.lock`` while the server runs): ``users`` {id: {id, full_name,
role_id, emails: [{id, email, is_primary}], phones: [{id, number, is_primary}], legacy_id}}, ``cases``
{id: {id, subject, contents, channel, channel_id, channel_options, requester_id, priority_id, tags:
[str], tags_raw, legacy_id, created_at, updated_at}}, ``articles`` (list of Kayako article resources
with expanded locale fields; append raw, even malformed, dicts to test hostile payloads),
``requests`` (list of :class:`RecordedRequest`), ``sessions`` {session_id: csrf_token},
``basic_auth_count``.

Fault injection (all times in seconds; ``path_prefix`` matches whole segments of the path with the
``.json`` suffix removed, e.g. ``"/api/v1/cases"`` matches ``/api/v1/cases.json`` and
``/api/v1/cases/12`` unless ``exact=True``; ``None`` matches everything, including the ``me.json`` login):
:meth:`fail_next`, :meth:`respond_next`, :meth:`delay`, :meth:`pad_body`, :meth:`down`/:meth:`up`,
:meth:`expire_sessions`, :meth:`invalidate_csrf`, :meth:`clear_faults`.
"""
from __future__ import annotations

import base64
import copy
import itertools
import json
import re
import secrets
import threading
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable
from urllib.parse import urlencode

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

__all__ = ["DEFAULT_ARTICLES", "FakeKayako", "RecordedRequest", "make_articles"]

DOCS_ERRORS = "https://developer.kayako.com/api/v1/reference/errors/"
_EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)

#: Default seed: published en-us articles, a DRAFT, a de-de-only article and an en-us + fr-fr one.
DEFAULT_ARTICLES: list[dict] = [
    {"id": 1, "title": "How do I reset my password?", "section": "Account", "status": "PUBLISHED",
     "html": "<p>Open <b>Settings</b> &gt; <b>Security</b> and click <i>Reset password</i>. "
             "We email you a link that is valid for 24 hours.</p>",
     "tags": ["account", "password"], "updated_at": "2024-03-01T10:00:00+00:00"},
    {"id": 2, "title": "Refund policy", "section": "Billing", "status": "PUBLISHED",
     "html": "<p>Refunds are issued within 14 days of purchase to the original payment method.</p>",
     "tags": ["billing", "refund"], "updated_at": "2024-03-02T10:00:00+00:00",
     "translations": {"fr-fr": {"title": "Politique de remboursement",
                                "html": "<p>Les remboursements sont effectués sous 14 jours.</p>"}}},
    {"id": 3, "title": "Upcoming pricing changes", "section": "Billing", "status": "DRAFT",
     "html": "<p>Draft: new plans start next quarter.</p>", "tags": ["billing"],
     "updated_at": "2024-03-03T10:00:00+00:00"},
    {"id": 4, "title": "Lieferzeiten", "section": "Versand", "status": "PUBLISHED", "locale": "de-de",
     "html": "<p>Bestellungen werden innerhalb von 2 Werktagen versandt.</p>", "tags": ["shipping"],
     "updated_at": "2024-03-04T10:00:00+00:00"},
    {"id": 5, "title": "Business hours", "section": "General", "status": "PUBLISHED",
     "html": "<p>Support is open Monday to Friday, 9am to 5pm Pacific time.</p>", "tags": ["hours"],
     "updated_at": "2024-03-05T10:00:00+00:00"},
]

DEFAULT_PRIORITIES = [{"id": 11, "label": "Low", "level": 1}, {"id": 12, "label": "Normal", "level": 2},
                      {"id": 13, "label": "High", "level": 3}, {"id": 14, "label": "Urgent", "level": 4}]
DEFAULT_ROLES = [{"id": 3, "title": "Owner", "type": "OWNER"}, {"id": 5, "title": "Administrator", "type": "ADMIN"},
                 {"id": 6, "title": "Agent", "type": "AGENT"}, {"id": 7, "title": "Customer", "type": "CUSTOMER"},
                 {"id": 8, "title": "Collaborator", "type": "COLLABORATOR"}]
_WRITES = {"POST", "PUT", "DELETE", "PATCH"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NUMBER = re.compile(r"^\+?\d{5,16}$")


def make_articles(n: int, *, start_id: int = 1000, status: str = "PUBLISHED") -> list[dict]:
    """``n`` simple article specs (ids ``start_id``...), e.g. to test paging."""
    return [{"id": start_id + i, "title": f"Article {i}", "html": f"<p>Body of article {i}.</p>",
             "tags": [f"t{i % 7}"], "section": f"Section {i % 3}", "status": status,
             "updated_at": (_EPOCH + timedelta(minutes=i)).isoformat()} for i in range(n)]


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received. ``headers`` keys are lower-case; ``body`` is the parsed JSON
    (or a form dict, or the raw text if it was not parseable); ``query`` maps names to values."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    query: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        """Alias of ``body`` (same name as the other fakes)."""
        return self.body


@dataclass
class _Rule:
    kind: str  # "respond" | "delay" | "pad"
    remaining: int | None
    path_prefix: str | None
    method: str | None
    status: int = 200
    body: Any = None
    headers: dict | None = None
    seconds: float = 0.0
    exact: bool = False
    pad: dict | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        if self.path_prefix is None:
            return True
        prefix = _strip_json(self.path_prefix.rstrip("/"))
        return path == prefix or (not self.exact and path.startswith(prefix + "/"))


class _QuietHandler(WSGIRequestHandler):
    """No access log (query strings hold emails); HTTP/1.0 so a 'down' server refuses at once."""

    protocol_version = "HTTP/1.0"

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's signature
        pass


class _Reply(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


class FakeKayako:
    """Fake Kayako instance; see the module docstring for the rules, endpoints and state.

    ``articles``: seed specs ``{id, title, html, tags: [str], section: str|None, status, updated_at}``
    plus optional ``locale`` (default ``en-us``) and ``translations`` ``{locale: {title, html}}``;
    default :data:`DEFAULT_ARTICLES`. ``priorities``/``roles``: raw resources (ids/labels to test
    lookups). ``mailbox_id``: the MAIL channel's ``account.id``.
    """

    def __init__(self, articles: Iterable[dict] | None = None, *, email: str = "agent@example.com",
                 password: str = "agent-password", priorities: list[dict] | None = None,
                 roles: list[dict] | None = None, mailbox_id: int = 21, host: str = "127.0.0.1",
                 port: int = 0, max_limit: int = 100) -> None:
        self.email, self.password, self.host, self.port = email, password, host, port
        self.mailbox_id, self.max_limit = mailbox_id, max_limit
        self.lock = threading.RLock()
        self.priorities = copy.deepcopy(DEFAULT_PRIORITIES if priorities is None else priorities)
        self.roles = copy.deepcopy(DEFAULT_ROLES if roles is None else roles)
        self.users: dict[int, dict] = {}
        self.cases: dict[int, dict] = {}
        self.articles: list[dict] = []
        self.requests: list[RecordedRequest] = []
        self.streamed: list[int] = []  # body bytes yielded by each pad_body() response
        self.sessions: dict[str, str] = {}
        self.basic_auth_count = 0
        self._ids = itertools.count(101)  # users, identities
        self._case_ids = itertools.count(1001)
        self._lf_ids = itertools.count(5001)
        self._sections: dict[str, dict] = {}
        self._rules: list[_Rule] = []
        self._expired_status = 454
        self._down: str | None = None
        self._server = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.agent_id = self.add_user("Support Agent", email=email, role_type="AGENT")
        for spec in DEFAULT_ARTICLES if articles is None else articles:
            self.add_article(spec)

    # ------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        """Base URL (``http://127.0.0.1:<port>``), valid after :meth:`start`."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> "FakeKayako":
        """Start serving in a daemon thread (no-op if running); returns self."""
        if self._server is None:
            self._stopping.clear()
            try:
                self._server = make_server(self.host, self.port, self._wsgi, threaded=True, request_handler=_QuietHandler)
            except SystemExit as exc:  # werkzeug exits when the port is taken
                raise RuntimeError(f"cannot bind {self.host}:{self.port}") from exc
            self.port = self._server.server_port
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="fake-kayako", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (ends pending :meth:`delay` sleeps early)."""
        self._stopping.set()
        self._close_server()

    def _close_server(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self) -> "FakeKayako":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------ seeding / inspection
    def add_user(self, full_name: str, *, email: str | None = None, phones: Iterable[str] = (),
                 role_type: str = "CUSTOMER") -> int:
        """Create a user directly (no request); returns its id."""
        role_id = next(r["id"] for r in self.roles if r.get("type") == role_type)
        with self.lock:
            uid = next(self._ids)
            emails = [{"id": next(self._ids), "email": email, "is_primary": True}] if email else []
            numbers = [{"id": next(self._ids), "number": p, "is_primary": i == 0} for i, p in enumerate(phones)]
            self.users[uid] = {"id": uid, "full_name": full_name, "role_id": role_id, "emails": emails,
                               "phones": numbers, "legacy_id": None, "created_at": self._now()}
        return uid

    def add_article(self, spec: dict) -> dict:
        """Convert a simple spec (see the class docstring) into a Kayako article resource and store it."""
        texts = {spec.get("locale", "en-us"): {"title": spec["title"], "html": spec["html"]}}
        texts.update(spec.get("translations") or {})
        slug = re.sub(r"[^a-z0-9]+", "-", spec["title"].lower()).strip("-") or "article"
        first_locale = next(iter(texts))
        section = spec.get("section")
        if section and section not in self._sections:
            self._sections[section] = {"id": 31 + len(self._sections), "titles": [self._lf(first_locale, section)]}
        article = {
            "id": spec["id"], "uuid": f"fake-{spec['id']}",
            "titles": [self._lf(loc, t["title"]) for loc, t in texts.items()],
            "slugs": [{"locale": loc, "translation": slug} for loc in texts],
            "contents": [self._lf(loc, t["html"]) for loc, t in texts.items()],
            "section": {"id": self._sections[section]["id"], "resource_type": "section"} if section else None,
            "status": spec.get("status", "PUBLISHED"),
            "tags": [{"id": 700 + i, "name": t, "resource_type": "tag"} for i, t in enumerate(spec.get("tags", []))],
            "helpcenter_url": f"/{first_locale}/article/{spec['id']}-{slug}",  # host added when served
            "created_at": spec.get("updated_at"), "updated_at": spec.get("updated_at"),
            "published_at": spec.get("updated_at") if spec.get("status", "PUBLISHED") == "PUBLISHED" else None,
            "resource_type": "article",
        }
        with self.lock:
            self.articles.append(article)
        return article

    def requests_for(self, path_prefix: str, method: str | None = None, *, exact: bool = False) -> list[RecordedRequest]:
        """Recorded requests whose path matches ``path_prefix`` (segment-wise, ``.json`` optional;
        ``exact=True``: that path only, e.g. ``/api/v1/users`` without ``/api/v1/users/filter``)."""
        rule = _Rule("respond", None, path_prefix, method, exact=exact)
        with self.lock:
            return [r for r in self.requests if rule.matches(r.method, _strip_json(r.path))]

    def user_by_email(self, email: str) -> dict | None:
        """The stored user owning ``email`` (case-insensitive), or None."""
        with self.lock:
            return next((u for u in self.users.values()
                         if any(e["email"].lower() == email.lower() for e in u["emails"])), None)

    # ------------------------------------------------------------ fault injection
    def respond_next(self, status: int = 200, body: Any = None, *, n: int | None = 1, path_prefix: str | None = None,
                     method: str | None = None, headers: dict | None = None, exact: bool = False) -> None:
        """The next ``n`` matching requests (``None``: all, until :meth:`clear_faults`) get this canned
        response, before any auth check: ``body`` dict/list -> JSON, str/bytes -> ``text/html``.
        ``exact=True`` matches ``path_prefix`` itself only, not the paths below it."""
        with self.lock:
            self._rules.append(_Rule("respond", n, path_prefix, method, status, body, headers, exact=exact))

    def fail_next(self, status: int, n: int | None = 1, *, code: str | None = None, message: str | None = None,
                  parameter: str | None = None, retry_after: float | None = None, path_prefix: str | None = None,
                  method: str | None = None, body: Any = None, exact: bool = False) -> None:
        """The next ``n`` matching requests fail with ``status`` and a Kayako error envelope (``code``
        defaults by status, e.g. 429 ``RATE_LIMIT_REACHED``), ``Retry-After`` if given, or the raw
        ``body`` instead of the envelope (hostile non-JSON bodies)."""
        code = code or _DEFAULT_CODES.get(status, "INTERNAL_SERVER_ERROR" if status >= 500 else "FIELD_INVALID")
        if body is None:
            body = _error_body(status, code, message or f"Injected {code}", parameter)
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        self.respond_next(status, body, n=n, path_prefix=path_prefix, method=method, headers=headers, exact=exact)

    def delay(self, seconds: float, path_prefix: str | None = None, *, method: str | None = None,
              n: int | None = None, exact: bool = False) -> None:
        """Matching requests are processed normally, then the response waits ``seconds`` (a client
        read timeout therefore leaves the write done: the ambiguous case). ``n=None``: until cleared."""
        with self.lock:
            self._rules.append(_Rule("delay", n, path_prefix, method, seconds=seconds, exact=exact))

    def pad_body(self, padding_bytes: int, path_prefix: str | None = None, *, method: str | None = None,
                 n: int | None = 1, chunk_bytes: int = 64 * 1024, interval: float = 0.0, gzip: bool = False,
                 exact: bool = False) -> None:
        """Matching requests are processed normally, but the JSON body is sent after
        ``padding_bytes`` of leading spaces (still valid JSON), streamed in ``chunk_bytes`` pieces
        ``interval`` seconds apart with no ``Content-Length``; ``gzip=True`` compresses the whole
        stream (``Content-Encoding: gzip``: a decompression bomb when the padding is large). The
        bytes of body actually yielded per response are appended to ``fake.streamed``, once the
        response ends or the client goes away."""
        with self.lock:
            self._rules.append(_Rule("pad", n, path_prefix, method, exact=exact,
                                     pad={"size": padding_bytes, "chunk": chunk_bytes, "interval": interval,
                                          "gzip": gzip}))

    def down(self, mode: str = "refuse") -> None:
        """``"refuse"``: close the listening socket (connection refused); ``"503"``: answer every
        request with a non-JSON 503 page, as a load balancer would."""
        if mode not in ("refuse", "503"):
            raise ValueError("mode must be 'refuse' or '503'")
        self._down = mode
        if mode == "refuse":
            self._close_server()

    def up(self) -> None:
        """Undo :meth:`down` (re-listens on the same port)."""
        self._down = None
        self.start()

    def expire_sessions(self, status: int = 454) -> None:
        """Forget all sessions: the next request with an old session id gets ``status``
        (454 ``SESSION_LOADING_FAILED`` or 401 ``AUTHENTICATION_FAILED``)."""
        with self.lock:
            self.sessions.clear()
            self._expired_status = status

    def invalidate_csrf(self) -> None:
        """Rotate every session's CSRF token: the next write gets 403 ``CSRF_FAILED``."""
        with self.lock:
            for sid in self.sessions:
                self.sessions[sid] = secrets.token_urlsafe(16)

    def clear_faults(self) -> None:
        """Drop all pending :meth:`fail_next`/:meth:`respond_next`/:meth:`delay` rules."""
        with self.lock:
            self._rules.clear()

    # ------------------------------------------------------------ HTTP plumbing
    def _wsgi(self, environ: dict, start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        with self.lock:
            response, delay = self._handle(request)
            pad = next((rule for rule in self._rules if rule.kind == "pad" and rule.matches(
                request.method, _strip_json(request.path))), None)
            if pad is not None:
                self._use(pad)
        response.headers["X-API-Version"] = "1"
        if delay:
            self._stopping.wait(delay)
        if pad is not None:
            response = self._padded(response, **pad.pad)
        return response(environ, start_response)

    def _use(self, rule: _Rule) -> None:
        """Count one use of a matched rule; drop it when it is used up (call with the lock held)."""
        if rule.remaining is not None:
            rule.remaining -= 1
            if rule.remaining <= 0:
                self._rules.remove(rule)

    def _padded(self, response: Response, *, size: int, chunk: int, interval: float, gzip: bool) -> Response:
        data = response.get_data()
        record = self.streamed

        def pieces() -> Iterable[bytes]:
            left = size
            while left > 0:
                yield b" " * min(chunk, left)
                left -= chunk
                if interval and self._stopping.wait(interval):
                    return
            yield data

        def body() -> Iterable[bytes]:
            sent = 0
            packer = zlib.compressobj(wbits=31) if gzip else None
            try:
                for piece in pieces():
                    out = packer.compress(piece) if packer else piece
                    if out:
                        sent += len(out)
                        yield out
                if packer:
                    tail = packer.flush()
                    sent += len(tail)
                    yield tail
            finally:
                record.append(sent)

        padded = Response(body(), status=response.status_code, mimetype=response.mimetype)
        for key, value in response.headers.items():
            if key.lower() not in ("content-length", "content-type"):
                padded.headers[key] = value
        if gzip:
            padded.headers["Content-Encoding"] = "gzip"
        return padded

    def _handle(self, request: Request) -> tuple[Response, float]:
        method, path = request.method, _strip_json(request.path)
        raw = request.get_data(as_text=True)
        body: Any = None
        if raw and "json" in (request.mimetype or ""):
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        elif request.form:
            body = request.form.to_dict()
        self.requests.append(RecordedRequest(method, request.path, {k.lower(): v for k, v in request.headers.items()},
                                             body, request.args.to_dict()))
        if self._down == "503":
            return Response("<html><body>503 Service Unavailable</body></html>", 503, mimetype="text/html"), 0.0
        delay = 0.0
        for rule in list(self._rules):
            if rule.kind == "pad" or not rule.matches(method, path):  # "pad" applies in _wsgi
                continue
            self._use(rule)
            if rule.kind == "delay":
                delay = max(delay, rule.seconds)
                continue
            return _raw_response(rule.status, rule.body, rule.headers), delay
        accept = request.headers.get("Accept", "*/*").lower()
        if not any(t in accept for t in ("application/json", "*/*", "application/*")):
            return self._error(406, "NOT_ACCEPTABLE", "Accept must allow application/json"), delay
        if isinstance(body, str):
            return self._error(400, "PARAMETER_INVALID", "Request body is not valid JSON"), delay
        try:
            session_headers = self._authorize(request, method, path)
            if not path.startswith("/api/v1/"):
                self._fail(404, "RESOURCE_NOT_FOUND", "Not found")
            result = self._route(request, method, path[len("/api/v1/"):], body if isinstance(body, dict) else {})
        except _Reply as reply:
            return reply.response, delay
        if session_headers:
            result["session_id"] = session_headers["session_id"]
        response = _json_response(result.get("status", 200), result)
        if session_headers:
            response.headers["X-CSRF-Token"] = session_headers["csrf"]
        return response, delay

    def _authorize(self, request: Request, method: str, path: str) -> dict | None:
        auth = request.headers.get("Authorization")
        sid = request.headers.get("X-Session-ID") or request.args.get("_session_id")
        if auth:
            if sid:
                raise _Reply(self._error(400, "PARAMETERS_INCONSISTENT", "Send credentials or a session, not both"))
            try:
                scheme, _, encoded = auth.partition(" ")
                user, _, password = base64.b64decode(encoded).decode().partition(":")
            except ValueError:
                scheme, user, password = "", "", ""
            if scheme.lower() != "basic" or (user, password) != (self.email, self.password):
                raise _Reply(self._error(401, "AUTHENTICATION_FAILED", "Invalid credentials"))
            self.basic_auth_count += 1
            new_sid, csrf = secrets.token_urlsafe(24), secrets.token_urlsafe(16)
            self.sessions[new_sid] = csrf
            return {"session_id": new_sid, "csrf": csrf}
        if sid:
            if sid not in self.sessions:
                if self._expired_status == 401:
                    raise _Reply(self._error(401, "AUTHENTICATION_FAILED", "Session expired"))
                raise _Reply(self._error(self._expired_status, "SESSION_LOADING_FAILED", "Session could not be loaded"))
            if method in _WRITES and request.headers.get("X-CSRF-Token") != self.sessions[sid]:
                raise _Reply(self._error(403, "CSRF_FAILED", "CSRF token missing or invalid"))
            return None
        if method == "GET" and re.fullmatch(r"/api/v1/articles(/\d+)?", path):
            return None  # public help center
        raise _Reply(self._error(401, "AUTHENTICATION_FAILED", "Authentication required"))

    @staticmethod
    def _error(status: int, code: str, message: str, parameter: str | None = None) -> Response:
        return _json_response(status, _error_body(status, code, message, parameter))

    def _fail(self, status: int, code: str, message: str, parameter: str | None = None) -> None:
        raise _Reply(self._error(status, code, message, parameter))

    def _route(self, request: Request, method: str, path: str, body: dict) -> dict:
        routes = [
            ("GET", r"me", lambda: self._ok(self._user(self.agent_id, request), "user")),
            ("GET", r"articles", lambda: self._list_articles(request)),
            ("GET", r"articles/(\d+)", lambda aid: self._get_article(request, int(aid))),
            ("GET", r"cases/priorities", lambda: self._collection(request, [
                {**p, "resource_type": "case_priority"} for p in self.priorities], "case_priority")),
            ("GET", r"roles", lambda: self._collection(request, [
                {**r, "is_system": True, "resource_type": "role"} for r in self.roles], "role")),
            ("GET", r"cases/channels", lambda: self._channels(request)),
            ("GET", r"autocomplete/emails", lambda: self._autocomplete(request)),
            ("POST", r"users", lambda: self._create_user(request, body)),
            ("GET", r"users/(\d+)", lambda uid: self._ok(self._user(self._need(self.users, uid), request), "user")),
            ("POST", r"users/filter", lambda: self._filter_users(request, body)),
            ("POST", r"identities/phones", lambda: self._add_phone(body)),
            ("POST", r"cases", lambda: self._create_case(request, body)),
            ("GET", r"cases", lambda: self._list_cases(request)),
            ("GET", r"cases/(\d+)", lambda cid: self._ok(self._case(self._need(self.cases, cid), request), "case")),
        ]
        path_known = False
        for verb, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match:
                path_known = True
                if verb == method:
                    return handler(*match.groups())
        if path_known:
            self._fail(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed here")
        self._fail(404, "RESOURCE_NOT_FOUND", "Resource not found")
        raise AssertionError("unreachable")

    # ------------------------------------------------------------ envelopes
    @staticmethod
    def _ok(data: Any, resource: str, status: int = 200) -> dict:
        return {"status": status, "data": data, "resource": resource}

    def _collection(self, request: Request, items: list, resource: str) -> dict:
        try:
            offset = int(request.args.get("offset", 0))
            limit = int(request.args.get("limit", 10))
        except ValueError:
            self._fail(400, "PARAMETER_INVALID", "offset and limit must be integers", "limit")
        if offset < 0 or limit < 1:
            self._fail(400, "PARAMETER_INVALID", "offset must be >= 0 and limit >= 1", "limit")
        limit = min(limit, self.max_limit)
        page = items[offset:offset + limit]
        next_url = None
        if offset + limit < len(items):
            query = {**request.args.to_dict(), "offset": offset + limit, "limit": limit}
            next_url = f"{request.host_url.rstrip('/')}{request.path}?{urlencode(query)}"
        return {"status": 200, "data": page, "resource": resource, "offset": offset, "limit": limit,
                "total_count": len(items), "next_url": next_url}

    @staticmethod
    def _includes(request: Request) -> set[str]:
        return {part.strip() for part in request.args.get("include", "").split(",") if part.strip()}

    def _lf(self, locale: str, text: str) -> dict:
        return {"id": next(self._lf_ids), "locale": locale, "translation": text, "resource_type": "locale_field"}

    def _need(self, table: dict, key: str) -> dict:
        if int(key) not in table:
            self._fail(404, "RESOURCE_NOT_FOUND", "Resource not found")
        return table[int(key)]

    @staticmethod
    def _now() -> str:
        return datetime.now(timezone.utc).isoformat(timespec="seconds")

    # ------------------------------------------------------------ articles
    def _render_article(self, article: Any, request: Request) -> Any:
        if not isinstance(article, dict):
            return copy.deepcopy(article)
        out, inc = copy.deepcopy(article), self._includes(request)
        expand = "locale_field" in inc or "*" in inc
        for key in ("titles", "contents"):
            if isinstance(out.get(key), list) and not expand:
                out[key] = [{"id": f.get("id"), "resource_type": "locale_field"} if isinstance(f, dict) else f
                            for f in out[key]]
        section = out.get("section")
        if isinstance(section, dict) and ("section" in inc or "*" in inc):
            found = next((s for s in self._sections.values() if s["id"] == section.get("id")), None)
            if found:
                titles = found["titles"] if expand else [{"id": f["id"], "resource_type": "locale_field"}
                                                         for f in found["titles"]]
                out["section"] = {"id": found["id"], "titles": copy.deepcopy(titles), "resource_type": "section"}
        if isinstance(out.get("helpcenter_url"), str) and out["helpcenter_url"].startswith("/"):
            out["helpcenter_url"] = request.host_url.rstrip("/") + out["helpcenter_url"]
        return out

    def _list_articles(self, request: Request) -> dict:
        items = list(self.articles)
        if request.args.get("filter", "").upper() == "PUBLISHED":
            items = [a for a in items if isinstance(a, dict) and a.get("status") == "PUBLISHED"]
        if request.args.get("section_id"):
            items = [a for a in items if isinstance(a, dict) and isinstance(a.get("section"), dict)
                     and str(a["section"].get("id")) == request.args["section_id"]]
        page = self._collection(request, items, "article")
        page["data"] = [self._render_article(a, request) for a in page["data"]]
        return page

    def _get_article(self, request: Request, article_id: int) -> dict:
        for article in self.articles:
            if isinstance(article, dict) and article.get("id") == article_id:
                return self._ok(self._render_article(article, request), "article")
        self._fail(404, "RESOURCE_NOT_FOUND", "Article not found")
        raise AssertionError("unreachable")

    # ------------------------------------------------------------ users
    def _identity(self, kind: str, ident: dict, expand: bool) -> dict:
        if not expand:
            return {"id": ident["id"], "resource_type": kind}
        return {**ident, "is_validated": True, "resource_type": kind}

    def _user(self, user: int | dict, request: Request) -> dict:
        user = self.users[user] if isinstance(user, int) else user
        inc = self._includes(request)
        return {"id": user["id"], "full_name": user["full_name"], "legacy_id": user["legacy_id"],
                "role": {"id": user["role_id"], "resource_type": "role"},
                "emails": [self._identity("identity_email", e, "identity_email" in inc) for e in user["emails"]],
                "phones": [self._identity("identity_phone", p, "identity_phone" in inc) for p in user["phones"]],
                "is_enabled": True, "locale": "en-us", "created_at": user["created_at"],
                "updated_at": user["created_at"], "resource_type": "user",
                "resource_url": f"{request.host_url}api/v1/users/{user['id']}"}

    def _autocomplete(self, request: Request) -> dict:
        address = request.args.get("address", "").strip().lower()
        expand = "identity_email" in self._includes(request)
        data = [{"identity": self._identity("identity_email", e, expand),
                 "parent": {"id": u["id"], "resource_type": "user"}, "resource_type": "autocomplete_email"}
                for u in self.users.values() for e in u["emails"] if address and e["email"].lower().startswith(address)]
        return {"status": 200, "data": data[:10], "resource": "autocomplete_email", "total_count": len(data)}

    def _create_user(self, request: Request, body: dict) -> dict:
        full_name, role_id, email = body.get("full_name"), body.get("role_id"), body.get("email")
        if full_name is None:
            self._fail(400, "FIELD_REQUIRED", "full_name is required", "full_name")
        if not isinstance(full_name, str) or not full_name.strip():
            self._fail(400, "FIELD_EMPTY", "full_name must not be empty", "full_name")
        if role_id is None:
            self._fail(400, "FIELD_REQUIRED", "role_id is required", "role_id")
        role = next((r for r in self.roles if str(r["id"]) == str(role_id)), None)
        if role is None:
            self._fail(400, "FIELD_INVALID", "role_id is not a role", "role_id")
        if email is None and role["type"] != "CUSTOMER":
            self._fail(400, "FIELD_REQUIRED", "email is required for this role", "email")
        if email is not None:
            if not isinstance(email, str) or not _EMAIL.match(email.strip()):
                self._fail(400, "FIELD_INVALID", "email is not valid", "email")
            if self.user_by_email(email.strip()):
                self._fail(400, "FIELD_DUPLICATE", "The value is already used for another resource", "email")
        uid = next(self._ids)
        self.users[uid] = {"id": uid, "full_name": full_name.strip(), "role_id": role["id"],
                           "emails": [{"id": next(self._ids), "email": email.strip(), "is_primary": True}] if email else [],
                           "phones": [], "legacy_id": body.get("legacy_id"), "created_at": self._now()}
        return self._ok(self._user(uid, request), "user", 201)

    def _filter_users(self, request: Request, body: dict) -> dict:
        predicates = body.get("predicates")
        if not isinstance(predicates, dict) or not isinstance(predicates.get("collections"), list):
            self._fail(400, "FIELD_REQUIRED", "predicates.collections is required", "predicates")

        def test(user: dict, prop: Any) -> bool:
            if not isinstance(prop, dict) or prop.get("operator") != "comparison_equalto":
                self._fail(400, "FIELD_INVALID", "unsupported proposition", "predicates")
            value = str(prop.get("value", ""))
            if prop.get("field") == "identityemails.address":
                return any(e["email"].lower() == value.lower() for e in user["emails"])
            if prop.get("field") == "identityphones.number":
                return any(p["number"] == value for p in user["phones"])
            self._fail(400, "FIELD_INVALID", "unsupported field", "predicates")
            return False

        def collection_ok(user: dict, coll: Any) -> bool:
            props = coll.get("propositions") if isinstance(coll, dict) else None
            if not isinstance(props, list) or not props:
                self._fail(400, "FIELD_INVALID", "propositions must be a list", "predicates")
            results = [test(user, p) for p in props]
            return any(results) if str(coll.get("proposition_operator", "AND")).upper() == "OR" else all(results)

        collections = predicates["collections"]
        join = any if str(predicates.get("collection_operator", "AND")).upper() == "OR" else all
        matched = [self._user(u, request) for u in self.users.values()
                   if collections and join(collection_ok(u, c) for c in collections)]
        return self._collection(request, matched, "user")

    def _add_phone(self, body: dict) -> dict:
        user_id, number = body.get("user_id"), body.get("number")
        if user_id is None:
            self._fail(400, "FIELD_REQUIRED", "user_id is required", "user_id")
        user = self.users.get(int(user_id)) if str(user_id).isdigit() else None
        if user is None:
            self._fail(400, "FIELD_INVALID", "user_id is not a user", "user_id")
        if not isinstance(number, str) or not _NUMBER.match(number):
            self._fail(400, "FIELD_INVALID" if number else "FIELD_REQUIRED", "number is not a phone number", "number")
        if any(p["number"] == number for u in self.users.values() for p in u["phones"]):
            self._fail(400, "FIELD_DUPLICATE", "The value is already used for another resource", "number")
        primary = body.get("is_primary") in (True, 1, "1", "true")
        if primary:
            for phone in user["phones"]:
                phone["is_primary"] = False
        ident = {"id": next(self._ids), "number": number, "is_primary": primary or not user["phones"]}
        user["phones"].append(ident)
        return self._ok({**ident, "user": {"id": user["id"], "resource_type": "user"},
                         "resource_type": "identity_phone"}, "identity_phone", 201)

    def _channels(self, request: Request) -> dict:
        user_id = request.args.get("user_id", "")
        if not user_id:
            self._fail(400, "FIELD_REQUIRED", "user_id is required", "user_id")
        if not user_id.isdigit():
            self._fail(400, "FIELD_INVALID", "user_id must be an integer", "user_id")
        self._need(self.users, user_id)
        data = [{"uuid": "fake-note", "type": "NOTE", "account": None, "resource_type": "channel"},
                {"uuid": "fake-mail", "type": "MAIL", "account": {"id": self.mailbox_id, "resource_type": "mailbox"},
                 "resource_type": "channel"}]
        return self._ok(data, "channel")

    # ------------------------------------------------------------ cases
    def _create_case(self, request: Request, body: dict) -> dict:
        for key in ("subject", "contents", "channel", "requester_id"):
            if body.get(key) is None:
                self._fail(400, "FIELD_REQUIRED", f"{key} is required", key)
            if isinstance(body[key], str) and not body[key].strip():
                self._fail(400, "FIELD_EMPTY", f"{key} must not be empty", key)
        channel = str(body["channel"]).upper()
        if channel not in ("MAIL", "NOTE"):
            self._fail(400, "FIELD_INVALID", "channel must be MAIL or NOTE in this fake", "channel")
        requester = str(body["requester_id"])
        if not requester.isdigit() or int(requester) not in self.users:
            self._fail(400, "FIELD_INVALID", "requester_id is not a user", "requester_id")
        options = body.get("channel_options") or {}
        if not isinstance(options, dict):
            self._fail(400, "FIELD_INVALID", "channel_options must be an object", "channel_options")
        if channel == "NOTE" and options.get("cc"):
            self._fail(400, "FIELD_INVALID", "cc is not allowed for NOTE", "channel_options")
        if channel == "MAIL":
            if body.get("channel_id") is None:
                self._fail(400, "FIELD_REQUIRED", "channel_id is required for MAIL", "channel_id")
            if str(body["channel_id"]) != str(self.mailbox_id):
                self._fail(400, "FIELD_INVALID", "channel_id is not a mailbox", "channel_id")
        priority_id = body.get("priority_id")
        if priority_id is not None and not any(str(p.get("id")) == str(priority_id) for p in self.priorities):
            self._fail(400, "FIELD_INVALID", "priority_id is not a priority", "priority_id")
        tags = body.get("tags")
        if tags is not None and not isinstance(tags, str):
            self._fail(400, "FIELD_INVALID", "tags must be a comma separated string", "tags")
        legacy_id = body.get("legacy_id")
        if legacy_id is not None and not isinstance(legacy_id, str):
            self._fail(400, "FIELD_INVALID", "legacy_id must be a string", "legacy_id")
        cid, now = next(self._case_ids), self._now()
        self.cases[cid] = {
            "id": cid, "subject": body["subject"], "contents": body["contents"], "channel": channel,
            "channel_id": body.get("channel_id"), "channel_options": options, "requester_id": int(requester),
            "priority_id": int(priority_id) if priority_id is not None else None,
            "tags": [t.strip() for t in (tags or "").split(",") if t.strip()], "tags_raw": tags,
            "legacy_id": legacy_id, "created_at": now, "updated_at": now}
        return self._ok(self._case(self.cases[cid], request), "case", 201)

    def _case(self, case: dict, request: Request) -> dict:
        return {"id": case["id"], "legacy_id": case["legacy_id"], "subject": case["subject"],
                "requester": {"id": case["requester_id"], "resource_type": "user"},
                "creator": {"id": self.agent_id, "resource_type": "user"},
                "source_channel": {"type": case["channel"], "resource_type": "channel"},
                "priority": {"id": case["priority_id"], "resource_type": "case_priority"} if case["priority_id"] else None,
                "state": "ACTIVE", "status": {"id": 1, "resource_type": "case_status"},
                "created_at": case["created_at"], "updated_at": case["updated_at"], "resource_type": "case",
                "resource_url": f"{request.host_url}api/v1/cases/{case['id']}"}

    def _list_cases(self, request: Request) -> dict:
        args = request.args
        cases = sorted(self.cases.values(), key=lambda c: c["id"], reverse=True)  # newest first
        if args.get("legacy_ids") is not None:
            wanted = {v.strip() for v in args["legacy_ids"].split(",") if v.strip()}
            cases = [c for c in cases if c["legacy_id"] in wanted]
        elif args.get("ids") is not None:
            wanted = {v.strip() for v in args["ids"].split(",") if v.strip()}
            cases = [c for c in cases if str(c["id"]) in wanted]
        elif args.get("identity_type") or args.get("identity_value"):
            kind, value = args.get("identity_type", "").upper(), args.get("identity_value", "")
            if kind not in ("EMAIL", "PHONE", "TWITTER", "FACEBOOK") or not value:
                self._fail(400, "FIELD_REQUIRED", "identity_type and identity_value go together", "identity_value")

            def owns(user: dict | None) -> bool:
                if user is None:
                    return False
                if kind == "EMAIL":
                    return any(e["email"].lower() == value.lower() for e in user["emails"])
                return kind == "PHONE" and any(p["number"] == value for p in user["phones"])

            cases = [c for c in cases if owns(self.users.get(c["requester_id"]))]
        page = self._collection(request, cases, "case")
        page["data"] = [self._case(c, request) for c in page["data"]]
        return page


_DEFAULT_CODES = {400: "FIELD_INVALID", 401: "AUTHENTICATION_FAILED", 403: "PERMISSIONS_DENIED",
                  404: "RESOURCE_NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 406: "NOT_ACCEPTABLE",
                  429: "RATE_LIMIT_REACHED", 454: "SESSION_LOADING_FAILED"}


def _strip_json(path: str) -> str:
    return path[:-5] if path.endswith(".json") else path


def _error_body(status: int, code: str, message: str, parameter: str | None = None) -> dict:
    error = {"code": code, "message": message, "more_info": DOCS_ERRORS + code}
    if parameter:
        error["parameter"] = parameter
    return {"status": status, "errors": [error],
            "notifications": [{"type": "ERROR", "message": message, "sticky": False}]}


def _json_response(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _raw_response(status: int, body: Any, headers: dict | None) -> Response:
    if isinstance(body, (dict, list)):
        response = _json_response(status, body)
    else:
        response = Response(body if body is not None else "", status=status, mimetype="text/html")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response
