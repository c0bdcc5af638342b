"""Kayako API v1 client: session auth, retries, lookups, help-center articles, requesters, cases.

Everything here follows https://developer.kayako.com/api/v1/ (see /work/shared/reference/kayako-api.md).
Personal data (emails, phone numbers, names, contents) is never logged, and never put into
exception messages by this module; only HTTP status, Kayako error codes, ids and CallSids are.
"""
from __future__ import annotations

import base64
import email.utils
import json
import logging
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from requests.structures import CaseInsensitiveDict
from requests.utils import guess_json_utf
from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_any, wait_exponential
from urllib3.exceptions import ConnectTimeoutError, DecodeError, HTTPError as Urllib3Error, ReadTimeoutError

from .control_chars import CONTROL_CHARS
from .phone import normalize_phone

log = logging.getLogger(__name__)

DOCS = "https://developer.kayako.com/api/v1/"
_SAFE = frozenset({"GET", "HEAD", "PUT", "DELETE"})  # idempotent: may be retried blindly
_WRITES = frozenset({"POST", "PUT", "DELETE", "PATCH"})  # need X-CSRF-Token with a session
_CALL_SID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # e.g. FIELD_DUPLICATE: logged, so nothing else (an echoed email)
_LEVEL_SLOT = {"low": 0, "normal": 1, "high": -2, "urgent": -1}
DEFAULT_NAME = "Phone caller"
#: Largest response body read from Kayako (bytes, after gzip decoding). A page of 100
#: help-center articles is well under 1 MiB; anything far bigger is not an API answer.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
#: Longest time spent reading one response body (seconds). ``read_timeout`` only bounds the
#: wait for each next byte, so a server trickling bytes could otherwise hold a call for hours.
MAX_RESPONSE_S = 60.0
_READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Reply:
    """One Kayako HTTP response, its body read in full within the client's limits.

    ``status_code`` (int), ``headers`` (case-insensitive), ``content`` (bytes, decoded from any
    ``Content-Encoding``).
    """

    status_code: int
    headers: CaseInsensitiveDict
    content: bytes

    def json(self) -> Any:
        """The body decoded as JSON (UTF-8/16/32, as RFC 8259 allows). Raises ValueError."""
        if not self.content:
            raise ValueError("empty body")
        try:
            return json.loads(self.content.decode(guess_json_utf(self.content) or "utf-8"))
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


class _RedactQuery(logging.Filter):
    """Hides query strings (they carry emails/phone numbers) in urllib3's DEBUG request lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(a.split("?", 1)[0] + "?[redacted]" if isinstance(a, str) and a.startswith("/")
                                and "?" in a else a for a in record.args)
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactQuery())


class KayakoError(Exception):
    """A failed Kayako call.

    Attributes: ``status`` (HTTP status, None when no response arrived), ``code`` (first
    ``errors[].code``, e.g. ``FIELD_DUPLICATE``; ``CONNECTION_ERROR``/``TIMEOUT`` for network
    failures, ``INVALID_RESPONSE`` for malformed bodies, ``REDIRECTED`` for a 3xx, which is
    never followed; only ``[A-Za-z0-9_.-]`` codes are kept: codes are logged), ``message``,
    ``parameter``, ``retry_after`` (seconds, from ``Retry-After``), ``transient`` (True for no
    response, a redirect, 408, 429 and 5xx: worth retrying later) and ``ambiguous`` (True when
    a non-idempotent request may have been processed although it failed: check before
    repeating it).
    Error envelope: https://developer.kayako.com/api/v1/reference/errors/
    """

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 parameter: str | None = None, retry_after: float | None = None,
                 transient: bool | None = None, ambiguous: bool = False) -> None:
        super().__init__(message)
        self.message, self.status, self.code = message, status, code
        self.parameter, self.retry_after, self.ambiguous = parameter, retry_after, ambiguous
        self.transient = (status is None or status in (408, 429) or status >= 500) if transient is None else transient

    def __str__(self) -> str:
        where = f" ({self.parameter})" if self.parameter else ""
        return f"Kayako {self.status or 'no response'} {self.code or 'ERROR'}{where}: {self.message}"

    @classmethod
    def from_response(cls, resp: "Reply") -> "KayakoError":
        """Build from an error response, tolerating non-JSON and malformed envelopes."""
        try:
            body = resp.json()
        except ValueError:
            body = None
        first = {}
        if isinstance(body, dict) and isinstance(body.get("errors"), list):
            first = next((e for e in body["errors"] if isinstance(e, dict)), {})
        code = first.get("code").strip() if isinstance(first.get("code"), str) else None
        param = first.get("parameter")
        if not isinstance(param, str):
            params = first.get("parameters")
            param = ",".join(p for p in params if isinstance(p, str)) if isinstance(params, list) else None
        message = first.get("message") if isinstance(first.get("message"), str) else f"HTTP {resp.status_code}"
        return cls(_clean(message, 300) or f"HTTP {resp.status_code}", status=resp.status_code,
                   code=code if code and _ERROR_CODE.fullmatch(code) else None, parameter=_clean(param, 100) or None,
                   retry_after=_retry_after(resp.headers.get("Retry-After")))


def _clean(text: Any, limit: int) -> str:
    """``text`` from a Kayako response on one line, at most ``limit`` characters, without control characters or
    lone surrogates (no database takes one: a ticket's ``last_error`` could not be saved); ``""`` if not a str."""
    return " ".join(CONTROL_CHARS.sub(" ", text).split())[:limit] if isinstance(text, str) else ""


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or HTTP date), never negative."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _origin(location: str | None) -> str:
    """``scheme://host[:port]`` of a redirect's ``Location`` (no user info, path or query: they may
    hold an email), "a page on the same host" for a relative one, else "an unreadable address"."""
    try:
        target = urlsplit(_clean(location, 2000))
        host, port = target.hostname, target.port
    except ValueError:
        return "an unreadable address"
    if target.scheme in ("http", "https") and host:
        return f"{target.scheme}://{host}" + (f":{port}" if port else "")
    return "a page on the same host" if not target.scheme and not target.netloc and target.path else "an unreadable address"


def _as_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 19:
        return int(value) or None
    return None


def _data(body: dict, method: str = "GET") -> dict:
    data = body.get("data")
    if not isinstance(data, dict):
        raise KayakoError("response has no data object", code="INVALID_RESPONSE",
                          transient=method not in _SAFE, ambiguous=method not in _SAFE)
    return data


def _translations(value: Any) -> dict[str, str]:
    """``[{locale, translation}, ...]`` -> ``{locale: text}`` (non-empty texts, first wins)."""
    out: dict[str, str] = {}
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict) and isinstance(item.get("translation"), str) and item["translation"].strip():
            loc = item.get("locale")
            out.setdefault(loc.strip().lower() if isinstance(loc, str) else "", item["translation"])
    return out


def _label_texts(value: Any) -> set[str]:
    """Lower-cased strings of a label that may be a string, a ``{locale: text}`` dict or locale fields."""
    if isinstance(value, str):
        return {value.strip().lower()}
    if isinstance(value, list):
        return set().union(*(_label_texts(v) for v in value)) if value else set()
    if isinstance(value, dict):
        if "translation" in value:
            return _label_texts(value["translation"])
        return set().union(*(_label_texts(v) for v in value.values() if isinstance(v, str))) if value else set()
    return set()


def _legacy_id(call_sid: Any) -> str:
    if not isinstance(call_sid, str) or not _CALL_SID.match(call_sid):
        raise KayakoError("call_sid must be 1-64 letters, digits, '-' or '_'", code="INVALID_PAYLOAD", transient=False)
    return f"callflow-{call_sid}"


def _not_sent(exc: Exception) -> bool:
    """True when the request certainly never reached the server (connect refused/timed out)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = exc.args[0] if isinstance(exc, requests.exceptions.ConnectionError) and exc.args else None
    return isinstance(getattr(reason, "reason", reason), ConnectTimeoutError)


class KayakoClient:
    """Kayako API v1 client and the callflow ``helpdesk`` (see :meth:`deliver`). Thread-safe enough
    for one worker thread plus web requests; the ``requests.Session`` is used for Kayako only.

    Timeouts are ``(connect_timeout, read_timeout)`` seconds on every request. Transient failures
    (no response, 408, 429, 5xx) are retried up to ``max_attempts`` with exponential backoff
    (``backoff`` * 2**n seconds) or ``Retry-After``, both capped at ``max_retry_wait`` seconds;
    ``sleep`` is injectable for tests. Non-idempotent POSTs are only retried when they were
    certainly not processed (connection never made, 429). A response body is read up to
    ``max_response_bytes`` (bytes, after gzip decoding) within ``max_response_s`` seconds (plus at
    most one ``read_timeout``); a larger or slower one is a transient ``KayakoError``, so a hostile
    or misrouted server cannot exhaust memory or hold the tickets worker.
    Auth: https://developer.kayako.com/api/v1/reference/authentication/ ,
    rate limits: https://developer.kayako.com/api/v1/reference/rate_limiting/
    Raises ValueError for a bad ``base_url``/``channel``/``max_attempts``.
    """

    def __init__(self, base_url: str, email: str, password: str, *, locale: str = "en-us",
                 channel: str = "NOTE", connect_timeout: float = 3.0, read_timeout: float = 10.0,
                 max_attempts: int = 4, max_retry_wait: float = 30.0,
                 session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep,
                 backoff: float = 0.5, max_pages: int = 200, max_response_bytes: int = MAX_RESPONSE_BYTES,
                 max_response_s: float = MAX_RESPONSE_S) -> None:
        parts = urlsplit(base_url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("base_url must be an absolute http(s) URL")
        if (channel or "").upper() not in ("NOTE", "MAIL"):
            raise ValueError("channel must be NOTE or MAIL")
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.base_url = base_url.rstrip("/")
        self._api = urljoin(self.base_url + "/", "api/v1/")
        self._email, self._password = email, password
        self.locale, self.channel = (locale or "en-us").lower(), channel.upper()
        self.timeout = (float(connect_timeout), float(read_timeout))
        self.max_attempts, self.max_retry_wait, self.max_pages = max_attempts, float(max_retry_wait), max_pages
        self.max_response_bytes, self.max_response_s = int(max_response_bytes), float(max_response_s)
        self._sleep, self._backoff = sleep, wait_exponential(multiplier=backoff, max=max_retry_wait)
        self._http = session or requests.Session()
        self._lock = threading.RLock()
        self._budget = threading.local()  # .deadline (time.monotonic()) of this thread's deliver(), if any
        self._session_id: str | None = None
        self._csrf: str | None = None
        self._priorities: list[dict] | None = None
        self._customer_role: int | None = None
        self._mail_channel: int | None = None

    # ---------------------------------------------------------------- transport
    def _send(self, method: str, path: str, *, params=None, json_body=None, headers: dict) -> Reply:
        """Send one request and read its whole body: at most ``max_response_bytes`` (after
        decoding) within ``max_response_s`` seconds. Raises KayakoError (transient) when there is
        no response, or when the body is too large (``RESPONSE_TOO_LARGE``) or too slow
        (``TIMEOUT``); for a non-idempotent request those are ``ambiguous``."""
        try:
            resp = self._http.request(method, urljoin(self._api, path.lstrip("/")), params=params, json=json_body,
                                      headers=headers, timeout=self.timeout, allow_redirects=False, stream=True)
        except requests.exceptions.RequestException as exc:
            # No chaining: requests' messages contain the URL, whose query may hold an email.
            network = isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout))
            code = "TIMEOUT" if isinstance(exc, requests.exceptions.Timeout) else "CONNECTION_ERROR"
            raise KayakoError(f"{method} {path}: {type(exc).__name__}", code=code, transient=network,
                              ambiguous=network and method not in _SAFE and not _not_sent(exc)) from None
        try:
            content = self._read_body(resp, method, path)
        finally:
            resp.close()
        return Reply(resp.status_code, resp.headers, content)

    def _read_body(self, resp: requests.Response, method: str, path: str) -> bytes:
        """Read the body with ``read1`` (whatever has arrived, never waiting for a full chunk),
        so the size and time limits are checked as the bytes come in."""
        deadline = time.monotonic() + self.max_response_s
        budget = getattr(self._budget, "deadline", None)
        if budget is not None:
            deadline = min(deadline, budget)

        def failed(code: str, why: str) -> KayakoError:
            return KayakoError(f"{method} {path}: {why}", status=resp.status_code, code=code, transient=True,
                               ambiguous=method not in _SAFE)

        too_large = f"response body over {self.max_response_bytes} bytes"
        declared = resp.headers.get("Content-Length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_response_bytes \
                and not resp.headers.get("Content-Encoding"):
            raise failed("RESPONSE_TOO_LARGE", too_large)
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                chunk = resp.raw.read1(_READ_CHUNK, decode_content=True)
                if not chunk:
                    return b"".join(chunks)
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise failed("RESPONSE_TOO_LARGE", too_large)
                chunks.append(chunk)
                # Past the deadline with more to come (length_remaining: bytes still due by
                # Content-Length, None when unknown): cut. A body that has all arrived is kept.
                if time.monotonic() > deadline and resp.raw.length_remaining != 0:
                    raise failed("TIMEOUT", "response body still arriving at its deadline")
        except (Urllib3Error, OSError) as exc:  # cut short, silent for read_timeout, or bad gzip
            code = ("TIMEOUT" if isinstance(exc, (ReadTimeoutError, TimeoutError))
                    else "INVALID_RESPONSE" if isinstance(exc, DecodeError) else "CONNECTION_ERROR")
            raise failed(code, f"{type(exc).__name__} while reading the response") from None

    @staticmethod
    def _parse(resp: Reply, method: str) -> dict:
        if 200 <= resp.status_code < 300:
            if not resp.content:
                return {}
            try:
                body = resp.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):  # e.g. a proxy/maintenance page: try again later
                raise KayakoError("response body is not a JSON object", status=resp.status_code,
                                  code="INVALID_RESPONSE", transient=True, ambiguous=method not in _SAFE)
            return body
        if 300 <= resp.status_code < 400:
            # Never followed (the session and credentials would go along): say where to, origin only
            # (the path or query may echo an email), e.g. http:// in KAYAKO_URL for an https:// site.
            raise KayakoError(f"redirected to {_origin(resp.headers.get('Location'))}, not followed: set "
                              "KAYAKO_URL to the address the API answers on", status=resp.status_code,
                              code="REDIRECTED", transient=True)
        err = KayakoError.from_response(resp)
        err.ambiguous = method not in _SAFE and err.transient and err.status != 429
        raise err

    def _authenticate(self) -> dict:
        """Basic auth on ``GET me.json``; keeps ``session_id`` and the ``X-CSRF-Token`` header."""
        token = base64.b64encode(f"{self._email}:{self._password}".encode()).decode("ascii")
        with self._lock:
            self._session_id = self._csrf = None
            self._http.cookies.clear()  # a stale session cookie + credentials -> 454/400
            resp = self._send("GET", "me.json", headers={"Authorization": f"Basic {token}", "Accept": "application/json"})
            body = self._parse(resp, "GET")
            sid = body.get("session_id")
            if isinstance(sid, str) and sid and not re.fullmatch(r"[\x21-\x7e]{1,1024}", sid):
                raise KayakoError("authentication response has a malformed session_id", status=resp.status_code,
                                  code="INVALID_RESPONSE", transient=True)
            if not isinstance(sid, str) or not sid:
                raise KayakoError("authentication response has no session_id", status=resp.status_code,
                                  code="INVALID_RESPONSE", transient=False)
            self._session_id, self._csrf = sid, resp.headers.get("X-CSRF-Token") or None
            log.info("kayako: session opened")
            return body

    def _call_once(self, method: str, path: str, params, json_body) -> dict:
        for attempt in (1, 2):
            with self._lock:
                if self._session_id is None:
                    self._authenticate()
                sid, csrf = self._session_id, self._csrf
            headers = {"Accept": "application/json", "X-Session-ID": sid}
            if method in _WRITES and csrf:
                headers["X-CSRF-Token"] = csrf
            resp = self._send(method, path, params=params, json_body=json_body, headers=headers)
            if attempt == 1 and self._session_rejected(resp):
                log.info("kayako: session rejected (HTTP %s), re-authenticating", resp.status_code)
                with self._lock:
                    if self._session_id == sid:
                        self._session_id = None
                continue
            return self._parse(resp, method)
        raise AssertionError("unreachable")

    @staticmethod
    def _session_rejected(resp: Reply) -> bool:
        if resp.status_code in (401, 454):
            return True
        return resp.status_code == 403 and KayakoError.from_response(resp).code == "CSRF_FAILED"

    def _wait(self, state) -> float:
        exc = state.outcome.exception()
        if isinstance(exc, KayakoError) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_retry_wait)
        return self._backoff(state)

    def _request(self, method: str, path: str, *, params: dict | None = None, json_body: Any = None,
                 retry_writes: bool = False, attempts: int | None = None) -> dict:
        """One API call with session handling and retries; returns the decoded JSON object.
        ``retry_writes`` marks a POST as safe to repeat. Raises KayakoError."""
        repeatable = method in _SAFE or retry_writes

        def retryable(exc: BaseException) -> bool:
            return isinstance(exc, KayakoError) and exc.transient and (repeatable or not exc.ambiguous)

        self._check_budget(method, path)
        retrying = Retrying(stop=self._stop(attempts or self.max_attempts), wait=self._wait,
                            retry=retry_if_exception(retryable), sleep=self._sleep, reraise=True)
        return retrying(self._call_once, method, path, params, json_body)

    @contextmanager
    def _time_budget(self, seconds: float | None) -> Iterator[None]:
        """Within the block, this thread's requests stop retrying, and no new request starts,
        once ``seconds`` have passed (None: no budget)."""
        self._budget.deadline = time.monotonic() + seconds if seconds else None
        try:
            yield
        finally:
            self._budget.deadline = None

    def _check_budget(self, method: str, path: str) -> None:
        deadline = getattr(self._budget, "deadline", None)
        if deadline is not None and time.monotonic() >= deadline:
            raise KayakoError(f"{method} {path}: time budget used up", code="DEADLINE", transient=True)

    def _stop(self, attempts: int):
        """tenacity stop: after ``attempts``, or when the next wait would end past the budget."""
        deadline = getattr(self._budget, "deadline", None)
        if deadline is None:
            return stop_after_attempt(attempts)
        return stop_any(stop_after_attempt(attempts),
                        lambda state: time.monotonic() + (state.upcoming_sleep or 0.0) >= deadline)

    def _paginate(self, path: str, params: dict | None = None, limit: int = 100,
                  strict: bool = False) -> Iterator[dict]:
        """Yield the dict items of a collection, page by page (``offset``/``limit``, ``next_url``).

        ``next_url`` is only read for its ``offset`` (session headers never go to a URL the server
        chose). Stops at ``total_count``, a short page, ``next_url: null``, a page without new ids,
        an offset that does not advance, or ``max_pages`` pages; with ``strict`` the last three raise
        KayakoError ``INCOMPLETE_LISTING`` instead, for callers that treat a missing item as deleted
        (a KB sync). https://developer.kayako.com/api/v1/reference/pagination/ . Raises KayakoError.
        """
        offset, seen = 0, set()
        for _ in range(self.max_pages):
            body = self._request("GET", path, params={**(params or {}), "offset": offset, "limit": limit})
            data = body.get("data")
            if not isinstance(data, list):
                raise KayakoError("collection response has no data list", code="INVALID_RESPONSE", transient=False)
            fresh = 0
            for item in data:
                if not isinstance(item, dict):
                    continue
                key = item.get("id") if isinstance(item.get("id"), (int, str)) else None
                if key is not None:
                    if key in seen:
                        continue
                    seen.add(key)
                fresh += 1
                yield item
            total, nxt = body.get("total_count"), body.get("next_url")
            page_limit = body.get("limit") if _as_id(body.get("limit")) else limit
            if isinstance(total, int) and offset + len(data) >= total:
                return
            if not fresh:
                if strict and data:
                    raise KayakoError(f"GET {path}: a page repeated earlier items", code="INCOMPLETE_LISTING")
                return
            if isinstance(nxt, str) and nxt:
                found = parse_qs(urlsplit(nxt).query).get("offset", [""])[0]
                usable = found.isascii() and found.isdigit() and len(found) <= 12  # int() refuses 4,300+ digits
                new_offset = int(found) if usable else offset + len(data)
            elif "next_url" in body or len(data) < int(page_limit):
                return
            else:
                new_offset = offset + len(data)
            if new_offset <= offset:
                if strict:
                    raise KayakoError(f"GET {path}: next_url does not advance", code="INCOMPLETE_LISTING")
                return
            offset = new_offset
        log.warning("kayako: stopped paging %s after %d pages", path, self.max_pages)
        if strict:
            raise KayakoError(f"GET {path}: more than {self.max_pages} pages", code="INCOMPLETE_LISTING")

    # ---------------------------------------------------------------- lookups
    def priority_id(self, label: str) -> int | None:
        """Id of the case priority labelled ``label`` (case-insensitive, localized labels accepted);
        else by ``level`` rank (low, normal, high, urgent = lowest, 2nd, 2nd-highest, highest);
        None if unknown. Cached. https://developer.kayako.com/api/v1/cases/priorities/"""
        if self._priorities is None:
            self._priorities = [p for p in self._paginate("cases/priorities.json") if _as_id(p.get("id"))]
        wanted = (label or "").strip().lower()
        for p in self._priorities:
            if wanted and wanted in _label_texts(p.get("label")):
                return _as_id(p["id"])
        ranked = sorted((p["level"], _as_id(p["id"])) for p in self._priorities
                        if isinstance(p.get("level"), int) and not isinstance(p.get("level"), bool))
        if wanted not in _LEVEL_SLOT or not ranked:
            return None
        slot = _LEVEL_SLOT[wanted]
        return ranked[min(slot, len(ranked) - 1) if slot >= 0 else max(len(ranked) + slot, 0)][1]

    def customer_role_id(self) -> int:
        """Id of the role with ``type == "CUSTOMER"``. Cached. Raises KayakoError if absent.
        https://developer.kayako.com/api/v1/users/roles/"""
        if self._customer_role is None:
            for role in self._paginate("roles.json"):
                if str(role.get("type") or "").upper() == "CUSTOMER" and _as_id(role.get("id")):
                    self._customer_role = _as_id(role["id"])
                    break
            else:
                raise KayakoError("no CUSTOMER role on this instance", code="ROLE_NOT_FOUND", transient=False)
        return self._customer_role

    def mail_channel_id(self, user_id: int) -> int | None:
        """``account.id`` of the first MAIL channel offered for ``user_id``; None if there is none.
        Cached. https://developer.kayako.com/api/v1/cases/channels/"""
        if self._mail_channel is None:
            data = self._request("GET", "cases/channels.json", params={"user_id": user_id}).get("data")
            for ch in data if isinstance(data, list) else []:
                account = ch.get("account") if isinstance(ch, dict) else None
                if str(ch.get("type") if isinstance(ch, dict) else "").upper() == "MAIL" and isinstance(account, dict):
                    if _as_id(account.get("id")):
                        self._mail_channel = _as_id(account["id"])
                        break
        return self._mail_channel

    # ---------------------------------------------------------------- articles
    def iter_articles(self, locale: str | None = None) -> Iterator[dict]:
        """Yield every help-center article (all statuses) as ``{"id": str, "title": str, "html": str,
        "locale": str, "tags": [str], "section": str|None, "status": str (upper), "updated_at": str,
        "url": str|None}`` (``locale``: the locale the title and HTML were taken from).

        Title and HTML come from the first locale having both among ``locale`` (default: the
        client's), ``en-us``, then the article's own order; articles without one are skipped, as
        are malformed items. Raises KayakoError for failed calls or a broken envelope, and
        ``INCOMPLETE_LISTING`` when the listing cannot be read to its end (a page repeating earlier
        items, a ``next_url`` that does not advance, over ``max_pages`` pages): the sync would otherwise
        delete every article it did not see. https://developer.kayako.com/api/v1/help_center/articles/
        """
        want, skipped = (locale or self.locale).lower(), 0
        for raw in self._paginate("articles.json", {"include": "locale_field,section"}, strict=True):
            article = self._normalize_article(raw, want)
            if article is None:
                skipped += 1
            else:
                yield article
        if skipped:
            log.warning("kayako: skipped %d articles without usable title/contents", skipped)

    @staticmethod
    def _normalize_article(raw: dict, want: str) -> dict | None:
        aid = raw.get("id")
        if isinstance(aid, bool) or not isinstance(aid, (int, str)) or not str(aid).strip():
            return None
        titles, contents = _translations(raw.get("titles")), _translations(raw.get("contents"))
        loc = next((l for l in [want, "en-us", *titles] if titles.get(l) and contents.get(l)), None)
        if loc is None:
            return None
        tags = raw.get("tags") if isinstance(raw.get("tags"), list) else []
        names = [t.get("name") if isinstance(t, dict) else t for t in tags]
        section, section_name = raw.get("section"), None
        if isinstance(section, dict):
            sec_titles = _translations(section.get("titles"))
            section_name = (sec_titles.get(want) or sec_titles.get("en-us") or next(iter(sec_titles.values()), None)
                            or (section["title"] if isinstance(section.get("title"), str) else None)
                            or (str(section["id"]) if _as_id(section.get("id")) else None))
        elif isinstance(section, str) and section.strip():
            section_name = section
        url = raw.get("helpcenter_url")
        return {
            "id": str(aid).strip(), "title": titles[loc].strip(), "html": contents[loc], "locale": loc,
            "tags": [n.strip() for n in names if isinstance(n, str) and n.strip()],
            "section": section_name.strip() if isinstance(section_name, str) and section_name.strip() else None,
            "status": raw["status"].upper() if isinstance(raw.get("status"), str) else "",
            "updated_at": raw["updated_at"] if isinstance(raw.get("updated_at"), str) else "",
            "url": url if isinstance(url, str) and url.startswith(("http://", "https://")) else None,
        }

    # ---------------------------------------------------------------- users
    def find_or_create_requester(self, *, name: str | None, email: str | None, phone: str | None) -> int:
        """Id of the customer for a caller, created if needed; the phone (if E.164) is attached
        as a phone identity (duplicates ignored). With an email: autocomplete exact match (users
        filter if autocomplete is 404/405), else create (``FIELD_DUPLICATE`` -> look up again).
        Without: users filter on the phone (``+E164``, then digits), else create. ``full_name``
        is ``name`` or "Phone caller". Raises KayakoError.
        https://developer.kayako.com/api/v1/users/users/ , .../users/identities/ , .../general/autocomplete/
        """
        email = email.strip() if isinstance(email, str) and "@" in email.strip() else None
        number = normalize_phone(phone)
        full_name = _clean(name, 150) or DEFAULT_NAME
        user_id = self._find_user_by_email(email) if email else None
        if user_id is None and not email and number:
            user_id = self._filter_users("identityphones.number", number) or self._filter_users(
                "identityphones.number", number[1:])
            if user_id is not None:
                return user_id
        created = user_id is None
        if created:
            user_id = self._create_user(full_name, email)
        if number:
            self._attach_phone(user_id, number, primary=created)
        return user_id

    def _find_user_by_email(self, email: str) -> int | None:
        try:
            body = self._request("GET", "autocomplete/emails.json", params={"address": email, "include": "identity_email"})
        except KayakoError as exc:
            if exc.status in (404, 405):
                return self._filter_users("identityemails.address", email)
            raise
        unverified = False
        for item in body.get("data") if isinstance(body.get("data"), list) else []:
            ident = item.get("identity") if isinstance(item, dict) else None
            parent = item.get("parent") if isinstance(item, dict) else None
            address = (ident.get("email") or ident.get("address")) if isinstance(ident, dict) else None
            if not isinstance(address, str):
                unverified = True
            elif address.strip().lower() == email.lower() and isinstance(parent, dict) and _as_id(parent.get("id")):
                return _as_id(parent["id"])
        return self._filter_users("identityemails.address", email) if unverified else None

    def _filter_users(self, field: str, value: str) -> int | None:
        predicate = {"collection_operator": "OR", "collections": [{"proposition_operator": "AND", "propositions": [
            {"field": field, "operator": "comparison_equalto", "value": value}]}]}
        body = self._request("POST", "users/filter.json", json_body={"predicates": predicate}, retry_writes=True)
        for user in body.get("data") if isinstance(body.get("data"), list) else []:
            if isinstance(user, dict) and _as_id(user.get("id")):
                return _as_id(user["id"])
        return None

    def _create_user(self, full_name: str, email: str | None) -> int:
        """POST a customer; returns its id. Caller details Kayako will not take never cost the case
        (the case contents still hold them): ``400 FIELD_DUPLICATE`` on the email looks the user up
        (autocomplete, then the exact users filter: autocomplete is a search that returns a page of
        prefix matches and may leave the address out), and if neither finds it, or on any other
        permanent 400 with an email, the customer is created without the email; a 400 without an
        email, with :data:`DEFAULT_NAME` as the name. Each step is logged with status and code only.
        Errors: https://developer.kayako.com/api/v1/reference/errors/ . Raises KayakoError."""
        payload: dict[str, Any] = {"full_name": full_name, "role_id": self.customer_role_id()}
        if email:
            payload["email"] = email
        try:
            body = self._request("POST", "users.json", json_body=payload, retry_writes=bool(email))
        except KayakoError as exc:
            if exc.transient or exc.status != 400:
                raise
            if email and exc.code == "FIELD_DUPLICATE":
                found = self._find_user_by_email(email)
                if found is None:
                    try:
                        found = self._filter_users("identityemails.address", email)
                    except KayakoError as err:
                        if err.transient:
                            raise
                if found is not None:
                    return found
                log.warning("kayako: email in use but its user not found (%s %s), creating the customer "
                            "without it", exc.status, exc.code)
                return self._create_user(full_name, None)
            if email:
                log.warning("kayako: customer with email refused (%s %s), creating it without the email",
                            exc.status, exc.code)
                return self._create_user(full_name, None)
            if full_name != DEFAULT_NAME:
                log.warning("kayako: customer refused (%s %s), creating it as %r", exc.status, exc.code, DEFAULT_NAME)
                return self._create_user(DEFAULT_NAME, None)
            raise
        user_id = _as_id(_data(body, "POST").get("id"))
        if user_id is None:
            raise KayakoError("created user has no id", code="INVALID_RESPONSE", transient=True, ambiguous=True)
        log.info("kayako: created customer user %s", user_id)
        return user_id

    def _attach_phone(self, user_id: int, number: str, *, primary: bool) -> None:
        try:
            self._request("POST", "identities/phones.json", retry_writes=True,
                          json_body={"user_id": user_id, "number": number, "is_primary": primary})
        except KayakoError as exc:
            if exc.transient:
                raise
            if exc.code != "FIELD_DUPLICATE":
                log.warning("kayako: phone identity not added to user %s (%s %s)", user_id, exc.status, exc.code)

    # ---------------------------------------------------------------- cases
    def find_case_by_marker(self, call_sid: str, *, identity_type: str | None = None,
                            identity_value: str | None = None) -> int | None:
        """Id of the case created for ``call_sid`` (``legacy_id == "callflow-<CallSid>"``), or None.

        Uses ``GET cases.json?legacy_ids=``; if that is rejected (400/404) or its items carry no
        ``legacy_id`` to verify, falls back to the first page (100, newest first) of the
        requester's cases (``identity_type`` EMAIL|PHONE + ``identity_value``), matching
        ``legacy_id`` or the CallSid in subject/contents. Raises KayakoError.
        https://developer.kayako.com/api/v1/cases/cases/
        """
        marker = _legacy_id(call_sid)
        try:
            items = self._request("GET", "cases.json", params={"legacy_ids": marker}).get("data")
            items = [c for c in items if isinstance(c, dict)] if isinstance(items, list) else []
            unverifiable = any("legacy_id" not in c for c in items)
            found = self._match_case(items, marker, call_sid, loose=False)
            if found or not unverifiable:
                return found
        except KayakoError as exc:
            if exc.status not in (400, 404):
                raise
        if not (identity_type and identity_value):
            return None
        body = self._request("GET", "cases.json", params={
            "identity_type": identity_type, "identity_value": identity_value, "offset": 0, "limit": 100})
        items = [c for c in body.get("data") if isinstance(c, dict)] if isinstance(body.get("data"), list) else []
        return self._match_case(items, marker, call_sid, loose=True)

    @staticmethod
    def _match_case(items: list[dict], marker: str, call_sid: str, *, loose: bool) -> int | None:
        for case in items:
            texts = [case.get(k) for k in ("subject", "contents") if isinstance(case.get(k), str)]
            if case.get("legacy_id") == marker or (loose and any(call_sid in t for t in texts)):
                if _as_id(case.get("id")):
                    return _as_id(case["id"])
        return None

    def create_case(self, *, subject: str, contents_html: str, requester_id: int, priority_label: str | None,
                    tags: list[str], call_sid: str) -> int:
        """POST a case; returns its id (``data.id`` of the 201).

        Body: ``subject`` (<=255 chars, "Phone call" if blank), ``contents`` (HTML + a marker line
        ``<p>callflow call: <CallSid></p>``), ``channel`` (NOTE, or MAIL + ``channel_id`` when a
        mailbox exists, else NOTE), ``channel_options: {"html": true}``, ``requester_id``,
        ``priority_id`` (looked up; omitted if unknown), ``tags`` (comma string), ``legacy_id``
        ``callflow-<CallSid>``. A POST is not repeated after an ambiguous failure: the
        KayakoError has ``ambiguous=True`` (use :meth:`deliver`, which checks the marker first).
        https://developer.kayako.com/api/v1/cases/cases/
        """
        marker = _legacy_id(call_sid)
        html = contents_html if isinstance(contents_html, str) else ""
        line = f"<p>callflow call: {call_sid}</p>"
        payload: dict[str, Any] = {
            "subject": _clean(subject, 255) or "Phone call",
            "contents": html if line in html else (f"{html}\n{line}" if html.strip() else line),
            "channel": "NOTE", "channel_options": {"html": True},
            "requester_id": int(requester_id), "legacy_id": marker,
        }
        priority = self.priority_id(priority_label) if priority_label else None
        if priority:
            payload["priority_id"] = priority
        seen: dict[str, str] = {}
        for tag in tags if isinstance(tags, (list, tuple)) else []:
            tag = " ".join(tag.replace(",", " ").split()) if isinstance(tag, str) else ""
            if tag:
                seen.setdefault(tag.lower(), tag)
        if seen:
            payload["tags"] = ",".join(seen.values())
        if self.channel == "MAIL":
            mailbox = self.mail_channel_id(int(requester_id))
            if mailbox:
                payload.update(channel="MAIL", channel_id=mailbox)
            else:
                log.warning("kayako: no MAIL channel found, creating the case as a NOTE")
        case_id = _as_id(_data(self._request("POST", "cases.json", json_body=payload), "POST").get("id"))
        if case_id is None:
            raise KayakoError("created case has no id", code="INVALID_RESPONSE", transient=True, ambiguous=True)
        log.info("kayako: created case %s for call %s", case_id, call_sid)
        return case_id

    def case_url(self, case_id: int) -> str:
        """Agent UI link ``{base_url}/agent/conversations/{id}`` (URL form per the reference's notes on
        https://developer.kayako.com/api/v1/cases/cases/ ; unconfirmed by the docs)."""
        return f"{self.base_url}/agent/conversations/{int(case_id)}"

    def deliver(self, payload: dict, *, time_budget_s: float | None = None) -> tuple[int, str]:
        """Helpdesk interface: create the one case for a finished call; returns ``(case_id, case_url)``.

        ``payload``: ``{"call_sid": str, "subject": str, "contents_html": str, "priority":
        "urgent"|"normal", "tags": [str], "requester": {"name", "email", "phone"}}`` (extra keys
        ignored). Steps: requester -> existing case by marker (idempotent) -> create. Ambiguous
        failures are retried (``max_attempts``), each retry checking the marker first, so a
        call never gets two cases. ``time_budget_s`` (seconds): no request starts and no retry
        waits past it, and a body still arriving is cut at it (``DEADLINE``/``TIMEOUT``, transient),
        so a delivery ends within the budget plus one connect and read timeout -- the outbox
        keeps that under its claim, so no second worker picks the ticket up meanwhile.
        Raises KayakoError (``.transient`` says whether to retry later; ``INVALID_PAYLOAD`` is
        permanent).
        https://developer.kayako.com/api/v1/cases/cases/
        """
        if not isinstance(payload, dict):
            raise KayakoError("payload must be a dict", code="INVALID_PAYLOAD", transient=False)
        call_sid = payload.get("call_sid")
        _legacy_id(call_sid)
        req = payload.get("requester") if isinstance(payload.get("requester"), dict) else {}
        who = {k: req.get(k) if isinstance(req.get(k), str) else None for k in ("name", "email", "phone")}
        priority = payload.get("priority") if isinstance(payload.get("priority"), str) else "normal"

        def attempt() -> int:
            requester_id = self.find_or_create_requester(**who)
            email, number = who["email"], normalize_phone(who["phone"])
            identity = ("EMAIL", email.strip()) if email and "@" in email else ("PHONE", number) if number else (None, None)
            existing = self.find_case_by_marker(call_sid, identity_type=identity[0], identity_value=identity[1])
            if existing:
                log.info("kayako: call %s already has case %s", call_sid, existing)
                return existing
            return self.create_case(subject=payload.get("subject"), contents_html=payload.get("contents_html"),
                                    requester_id=requester_id, priority_label=priority,
                                    tags=payload.get("tags"), call_sid=call_sid)

        with self._time_budget(time_budget_s):
            retrying = Retrying(stop=self._stop(self.max_attempts), wait=self._wait, sleep=self._sleep,
                                retry=retry_if_exception(lambda e: isinstance(e, KayakoError) and e.ambiguous),
                                reraise=True)
            case_id = retrying(attempt)
        return case_id, self.case_url(case_id)

    # ---------------------------------------------------------------- health
    def me(self) -> dict:
        """The authenticated agent (``data`` of ``GET me.json``). Raises KayakoError.
        https://developer.kayako.com/api/v1/users/users/"""
        return _data(self._request("GET", "me.json"))

    def ping(self) -> bool:
        """Health check: True if one ``GET me.json`` (no retries) succeeds; never raises.
        https://developer.kayako.com/api/v1/reference/authentication/"""
        try:
            self._request("GET", "me.json", attempts=1)
            return True
        except KayakoError as exc:
            log.warning("kayako: ping failed (%s %s)", exc.status, exc.code)
            return False
