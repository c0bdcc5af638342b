"""Call simulator: place a phone call against a running callflow server over HTTP, as Twilio would.

Each caller turn is one HTTP round trip: the simulator POSTs Twilio's form-encoded webhook
parameters, reads the TwiML answer, prints what the agent says, asks the caller (a script or
the terminal) for the next utterance and follows the ``<Gather>`` action / ``<Redirect>`` URL.
When the call is over it sends the ``completed`` status callback, like Twilio.

Behaviour follows these Twilio documents (see also ``/work/shared/reference/twilio-voice.md``):

* Request parameters: https://www.twilio.com/docs/voice/twiml#request-parameters
* ``<Gather>``: https://www.twilio.com/docs/voice/twiml/gather
* ``<Redirect>``: https://www.twilio.com/docs/voice/twiml/redirect
* Your response (content types, cookies): https://www.twilio.com/docs/voice/twiml/your-response
* Status callbacks: https://www.twilio.com/docs/voice/api/call-resource#statuscallback
* Signatures: https://www.twilio.com/docs/usage/webhooks/webhooks-security

Caller line syntax (scripts and the interactive prompt alike):

* ``some words``          -- the caller says this (sent as ``SpeechResult`` with ``Confidence``)
* blank line / ``None``   -- silence (the caller says nothing before the Gather times out)
* ``#123`` or ``dtmf:123`` -- the caller presses keys ``1 2 3`` (sent as ``Digits``; keys are
  ``0-9``, ``*`` and ``#``; the Gather's ``finishOnKey``, ``#`` by default, ends the entry and is
  not sent, exactly like Twilio)
* ``/hangup``             -- the caller hangs up
* in script files only: a line starting with ``#`` that is not ``#<keys>`` is a comment
* the end of the script (or EOF / Ctrl-D / Ctrl-C at the prompt) -- the caller hangs up
"""
from __future__ import annotations

import email.utils
import math
import re
import secrets
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable, Iterator
from urllib.parse import urldefrag, urlencode, urljoin, urlsplit, urlunsplit

import click
import requests
from flask import current_app
from flask.cli import with_appcontext
from twilio.request_validator import RequestValidator

__all__ = [
    "DEFAULT_CONFIDENCE",
    "SimulatedCall",
    "parse_caller_line",
    "read_script",
    "run_call",
    "simulate_command",
]

#: ``Confidence`` sent with every ``SpeechResult`` (Twilio sends a 0.0-1.0 score as a string).
DEFAULT_CONFIDENCE = "0.92"
#: Seconds to wait for each webhook response (Twilio itself gives up after 15 s, error 11205).
REQUEST_TIMEOUT = 20.0
#: Twilio's hard limit for a webhook answer (https://www.twilio.com/docs/api/errors/11205).
TWILIO_RESPONSE_LIMIT = 15.0
#: Answers slower than this are audible on a real call; the simulator says so.
SLOW_RESPONSE = 3.0
#: Largest TwiML body Twilio accepts (https://www.twilio.com/docs/api/errors/11750).
MAX_TWIML_BYTES = 64 * 1024
#: Content types Twilio executes as TwiML (https://www.twilio.com/docs/voice/twiml/your-response).
TWIML_CONTENT_TYPES = ("text/xml", "application/xml", "text/html")

_DTMF_RE = re.compile(r"^(?:#|dtmf:\s*)([0-9*#]+)$", re.IGNORECASE)
_HANGUP_WORD = "/hangup"

# Indirection so tests can move the clock (CallDuration); monotonic seconds.
_now = time.monotonic


@dataclass
class SimulatedCall:
    """What happened on one simulated call.

    Attributes:
        call_sid: ``CA`` + 32 hex digits, the ``CallSid`` sent on every request.
        prompts: everything the agent played, in order: ``<Say>`` text (whitespace collapsed) or
            ``"[audio] <url>"`` for ``<Play>``.
        turns: webhook round trips made (TwiML documents fetched, including the first one;
            the status callback is not counted). Bounded by ``max_turns``.
        ended_by: ``"hangup"`` (the server sent ``<Hangup/>`` or ``<Reject/>``), ``"end"`` (the
            TwiML ran out of verbs), ``"caller_hangup"`` (the script ran out, ``/hangup``, or
            EOF at the prompt), ``"error"`` (HTTP error, timeout, non-TwiML answer) or
            ``"max_turns"``.
        transcript: ``(speaker, text)`` pairs, speaker ``"agent"`` or ``"caller"``; silence is
            ``("caller", "")`` and key presses ``("caller", "#123")``.
        error: a one-line description when ``ended_by == "error"``, else ``None``.
        status_callback_code: HTTP status of the ``completed`` status callback, ``None`` when it
            was not sent or could not be delivered.
        duration: whole seconds from the first request to the end of the call (``CallDuration``).
    """

    call_sid: str
    prompts: list[str] = field(default_factory=list)
    turns: int = 0
    ended_by: str = "end"
    transcript: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None
    status_callback_code: int | None = None
    duration: int = 0


def parse_caller_line(line: str | None) -> tuple[str, str]:
    """Classify one caller line (see the module docstring for the syntax).

    Args:
        line: the raw line, or ``None`` for silence.

    Returns:
        ``(kind, value)`` where kind is ``"silence"`` (value ``""``), ``"dtmf"`` (value the keys,
        e.g. ``"12#"``), ``"hangup"`` (value ``""``) or ``"speech"`` (value the stripped text).
        Speech becomes Twilio's ``SpeechResult``, keys its ``Digits``
        (https://www.twilio.com/docs/voice/twiml/gather#action).
    """
    if line is None:
        return ("silence", "")
    text = line.strip()
    if not text:
        return ("silence", "")
    if text.lower() == _HANGUP_WORD:
        return ("hangup", "")
    match = _DTMF_RE.match(text)
    if match:
        return ("dtmf", match.group(1))
    return ("speech", text)


def read_script(path) -> list[str]:
    """Read a caller script: one utterance a line, in order.

    Syntax: a blank (or whitespace-only) line is silence and becomes ``""``; ``#<keys>`` (e.g.
    ``#1``, ``#*9``) and ``dtmf:<keys>`` are key presses and are kept as written; any other line
    starting with ``#`` is a comment and dropped; ``/hangup`` hangs up; everything else is
    speech (surrounding whitespace removed). The end of the file hangs up.

    Args:
        path: a ``str`` or ``os.PathLike`` naming a UTF-8 text file.

    Returns:
        The caller lines, ready for :func:`run_call`.

    Raises:
        OSError: the file cannot be read.
        UnicodeDecodeError: the file is not UTF-8.
    """
    with open(path, encoding="utf-8") as handle:
        raw_lines = handle.read().splitlines()
    lines: list[str] = []
    for raw in raw_lines:
        text = raw.strip()
        if text.startswith("#") and not _DTMF_RE.match(text):
            continue  # comment
        lines.append(text)
    return lines


class _CallerHangup(Exception):
    """The caller hung up (script exhausted, ``/hangup``, EOF)."""


class _CallError(Exception):
    """The call cannot go on (HTTP error, timeout, answer that is not TwiML); ``hint``: what the
    tester can do about it, or ``""``."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.hint = hint


class _Caller:
    """Adapts a script iterator or an interactive callable to ``next_line(prompt)``."""

    def __init__(self, source: Iterable[str | None] | Callable[[str], str | None]):
        self._ask: Callable[[str], str | None] | None = None
        self._lines: Iterator[str | None] | None = None
        if callable(source) and not hasattr(source, "__next__"):
            self._ask = source
        else:
            self._lines = iter(source)  # type: ignore[arg-type]

    @property
    def interactive(self) -> bool:
        return self._ask is not None

    def next_line(self, prompt: str) -> str | None:
        if self._ask is not None:
            try:
                return self._ask(prompt)
            except EOFError as exc:
                raise _CallerHangup() from exc
        try:
            return next(self._lines)  # type: ignore[arg-type]
        except StopIteration as exc:
            raise _CallerHangup() from exc


def _normalise_base(url: str, what: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{what} must be an absolute http(s) URL, got {url!r}")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def _rewrite_to_server(public_url: str, base_url: str) -> str:
    """Send ``public_url`` to the server at ``base_url``: keep path and query, swap the origin."""
    pub = urlsplit(public_url)
    base = urlsplit(base_url)
    return urlunsplit((base.scheme, base.netloc, pub.path or "/", pub.query, ""))


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _text_of(element: ET.Element) -> str:
    """All text of a verb (SSML children included), whitespace collapsed."""
    return " ".join("".join(element.itertext()).split())


class _Simulator:
    """One call's state; see :func:`run_call`."""

    def __init__(
        self,
        base_url: str,
        caller: _Caller,
        *,
        auth_token: str | None,
        public_base_url: str | None,
        from_number: str,
        to_number: str,
        out: Callable[[str], None],
        session: requests.Session,
        max_turns: int,
        echo_caller: bool,
    ):
        self.base_url = base_url
        self.public_base_url = public_base_url or base_url
        self.caller = caller
        self.validator = RequestValidator(auth_token) if auth_token else None
        self.from_number = from_number
        self.to_number = to_number
        self.out = out
        self.session = session
        self.max_turns = max_turns
        self.echo_caller = echo_caller
        self.account_sid = "AC" + secrets.token_hex(16)
        self.result = SimulatedCall(call_sid="CA" + secrets.token_hex(16))
        self.started = _now()
        self.pending_prompts: list[str] = []
        self.warned_html = False

    # ----------------------------------------------------------------- parameters
    def standard_params(self, call_status: str) -> dict[str, str]:
        """Parameters Twilio sends on every webhook of an inbound call."""
        params = {
            "CallSid": self.result.call_sid,
            "AccountSid": self.account_sid,
            "From": self.from_number,
            "To": self.to_number,
            "Caller": self.from_number,
            "Called": self.to_number,
            "CallStatus": call_status,
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }
        for prefix in ("From", "To", "Caller", "Called"):
            params[f"{prefix}Country"] = "US"
            params[f"{prefix}State"] = ""
            params[f"{prefix}City"] = ""
            params[f"{prefix}Zip"] = ""
        return params

    # ----------------------------------------------------------------- HTTP
    def send(self, method: str, public_url: str, params: dict[str, str]) -> requests.Response:
        """Send one signed request; ``public_url`` is what Twilio would request and sign."""
        public_url = urldefrag(public_url)[0]
        if method == "GET":
            # Twilio appends the parameters to the query string and signs the full URL.
            query = urlencode(params)
            if query:
                separator = "&" if urlsplit(public_url).query else "?"
                public_url = public_url.rstrip("?") + separator + query
            signed_params: dict[str, str] = {}
            body = None
        else:
            signed_params = params
            body = urlencode(params).encode("utf-8")
        headers = {
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
            "X-Home-Region": "us1",
            "Accept": "*/*",
        }
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded; charset=UTF-8"
        if self.validator is not None:
            headers["X-Twilio-Signature"] = self.validator.compute_signature(public_url, signed_params)
        real_url = _rewrite_to_server(public_url, self.base_url)
        return self.session.request(
            method,
            real_url,
            data=body,
            headers=headers,
            timeout=REQUEST_TIMEOUT,
            allow_redirects=False,
        )

    def fetch_twiml(self, method: str, public_url: str, params: dict[str, str]) -> ET.Element:
        """Request a TwiML document; return its ``<Response>`` root or raise :class:`_CallError`."""
        where = f"{method} {_path_of(public_url)}"
        started = _now()
        try:
            response = self.send(method, public_url, params)
        except requests.Timeout:
            raise _CallError(f"{where}: no answer within {REQUEST_TIMEOUT:.0f} s") from None
        except requests.ConnectionError:
            raise _CallError(f"{where}: could not reach the server at {self.base_url} (connection refused "
                             "or no such host)",
                             "is callflow running there? Start it with 'make run', or give its address "
                             "with --url") from None
        except requests.RequestException as exc:
            raise _CallError(f"{where}: could not reach the server ({type(exc).__name__}: {exc})") from None
        elapsed = _now() - started
        if elapsed > TWILIO_RESPONSE_LIMIT:
            self.note(f"warning: {where} took {elapsed:.1f} s; Twilio gives up after 15 s (error 11205)")
        elif elapsed > SLOW_RESPONSE:
            self.note(f"warning: {where} took {elapsed:.1f} s; the caller hears dead air")
        if response.status_code != 200:
            snippet = " ".join(response.text[:200].split())
            raise _CallError(f"{where}: HTTP {response.status_code} "
                             "(Twilio plays 'an application error has occurred')"
                             + (f": {snippet}" if snippet else ""), self.hint_for(response.status_code, snippet))
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type not in TWIML_CONTENT_TYPES:
            raise _CallError(f"{where}: Content-Type {content_type or '(none)'!r} is not TwiML "
                             "(text/xml expected)")
        if content_type == "text/html" and not self.warned_html:
            self.warned_html = True
            self.note(f"warning: {where} answered text/html; Twilio accepts it but text/xml is right")
        if len(response.content) > MAX_TWIML_BYTES:
            raise _CallError(f"{where}: TwiML is {len(response.content)} bytes, "
                             "over Twilio's 64 kB (error 11750)")
        try:
            root = ET.fromstring(response.content)
        except ET.ParseError as exc:
            snippet = " ".join(response.text[:80].split())
            raise _CallError(f"{where}: answer is not XML ({exc}): {snippet!r}") from None
        if root.tag != "Response":
            raise _CallError(f"{where}: root element is <{root.tag}>, not <Response> (error 12102)")
        return root

    def hint_for(self, status: int, body: str = "") -> str:
        """What a tester can do about an HTTP error status (``""`` when there is nothing to say);
        ``body`` is the start of the answer (callflow names a missing token there)."""
        if status == 403:
            if "TWILIO_AUTH_TOKEN is not set" in body:
                return ("the server has no TWILIO_AUTH_TOKEN and refuses every webhook: start it with "
                        "TWILIO_VALIDATE_SIGNATURES=false (make run does), or give it and this shell the same token")
            if self.validator is None:
                return ("the server checks X-Twilio-Signature: set TWILIO_AUTH_TOKEN (and PUBLIC_BASE_URL) "
                        "here as the server has them, or start it with TWILIO_VALIDATE_SIGNATURES=false "
                        "(make run does when it has no token)")
            return (f"the signature was computed over {self.public_base_url} with this shell's "
                    "TWILIO_AUTH_TOKEN: the server's TWILIO_AUTH_TOKEN and PUBLIC_BASE_URL must be the same")
        if status == 404 and self.result.turns == 1:
            return (f"no callflow answers at {self.base_url}: --url is the server's address "
                    "(e.g. http://127.0.0.1:5000), without /voice/incoming")
        return ""

    # ----------------------------------------------------------------- output
    def note(self, text: str) -> None:
        self.out(f"[sim] {text}")

    def agent(self, text: str) -> None:
        self.result.prompts.append(text)
        self.result.transcript.append(("agent", text))
        self.pending_prompts.append(text)
        self.out(f"agent> {text}")

    def play_verb(self, verb: ET.Element) -> None:
        """Print one ``<Say>``/``<Play>``; ``<Pause>`` is skipped (no real waiting)."""
        if verb.tag == "Say":
            text = _text_of(verb)
            if text:
                self.agent(text)
        elif verb.tag == "Play":
            url = (verb.text or "").strip()
            if url:
                self.agent(f"[audio] {url}")
            elif verb.get("digits"):
                self.agent(f"[tones] {verb.get('digits')}")

    # ----------------------------------------------------------------- caller
    def ask_caller(self) -> tuple[str, str]:
        prompt = " ".join(self.pending_prompts)
        self.pending_prompts = []
        line = self.caller.next_line(prompt)
        kind, value = parse_caller_line(line)
        if kind == "hangup":
            raise _CallerHangup()
        shown = {"silence": "", "dtmf": f"#{value}", "speech": value}[kind]
        self.result.transcript.append(("caller", shown))
        if self.echo_caller:
            self.out("caller> " + {"silence": "(silence)", "dtmf": f"[keys] {value}", "speech": value}[kind])
        elif kind == "silence":
            self.note("(silence)")
        return kind, value

    def gather_input(self, gather: ET.Element) -> dict[str, str] | None:
        """Ask the caller; return the extra action parameters, or ``None`` for no input."""
        kind, value = self.ask_caller()
        inputs = (gather.get("input") or "dtmf").lower().split()
        if kind == "speech":
            if "speech" not in inputs:
                self.note(f'this <Gather> has input="{" ".join(inputs)}": Twilio does not listen for speech, '
                          "so that was silence")
                return None
            return {"SpeechResult": value, "Confidence": DEFAULT_CONFIDENCE}
        if kind == "dtmf":
            if "dtmf" not in inputs:
                self.note(f'this <Gather> has input="{" ".join(inputs)}": Twilio ignores key presses, '
                          "so that was silence")
                return None
            finish = gather.get("finishOnKey", "#")
            if finish and finish in value:
                value = value[: value.index(finish)]
            num_digits = gather.get("numDigits", "")
            if num_digits.isascii() and num_digits.isdigit() and int(num_digits) > 0:
                value = value[: int(num_digits)]
            return {"Digits": value} if value else None
        return None

    # ----------------------------------------------------------------- TwiML
    def execute(self, root: ET.Element, doc_url: str) -> tuple[str, str, dict[str, str]] | str:
        """Run one TwiML document.

        Returns ``(method, public_url, extra_params)`` for the next request, or an ``ended_by``
        string when the call is over.
        """
        for verb in list(root):
            tag = verb.tag
            if tag in ("Say", "Play", "Pause"):
                self.play_verb(verb)
            elif tag == "Gather":
                for child in list(verb):
                    if child.tag in ("Say", "Play", "Pause"):
                        self.play_verb(child)
                    else:
                        self.note(f"warning: <{child.tag}> inside <Gather> is not allowed "
                                  "(error 12200); skipped")
                extra = self.gather_input(verb)
                method = self.method_of(verb)
                action = urljoin(doc_url, (verb.get("action") or "").strip() or doc_url)
                if extra is not None:
                    return (method, action, extra)
                if (verb.get("actionOnEmptyResult") or "").lower() == "true":
                    return (method, action, {})
                # No input and no actionOnEmptyResult: Twilio goes on with the next verb.
            elif tag == "Redirect":
                target = (verb.text or "").strip()
                if not target:
                    raise _CallError("<Redirect> without a URL")
                return (self.method_of(verb), urljoin(doc_url, target), {})
            elif tag in ("Hangup", "Reject"):
                return "hangup"
            else:
                self.note(f"<{tag}> is not simulated; skipped")
        return "end"

    @staticmethod
    def method_of(verb: ET.Element) -> str:
        method = (verb.get("method") or "POST").upper()
        if method not in ("GET", "POST"):
            raise _CallError(f"<{verb.tag}> has method={method!r}; Twilio allows GET or POST")
        return method

    # ----------------------------------------------------------------- call
    def run(self) -> SimulatedCall:
        result = self.result
        next_request: tuple[str, str, dict[str, str]] | None = (
            "POST", self.public_base_url + "/voice/incoming", {})
        call_status = "ringing"
        try:
            while next_request is not None:
                if result.turns >= self.max_turns:
                    result.ended_by = "max_turns"
                    self.note(f"stopping: {self.max_turns} webhook requests without the call ending")
                    break
                method, public_url, extra = next_request
                public_url = urldefrag(public_url)[0]
                params = self.standard_params(call_status)
                params.update(extra)
                call_status = "in-progress"
                result.turns += 1
                root = self.fetch_twiml(method, public_url, params)
                outcome = self.execute(root, public_url)
                if isinstance(outcome, str):
                    result.ended_by = outcome
                    next_request = None
                else:
                    next_request = outcome
        except _CallerHangup:
            result.ended_by = "caller_hangup"
            self.note("caller hung up")
        except _CallError as exc:
            result.ended_by = "error"
            result.error = str(exc)
            self.note(f"error: {exc}")
            if exc.hint:
                self.note(f"hint: {exc.hint}")
        result.duration = max(0, int(_now() - self.started))
        return result

    def send_status(self) -> None:
        """POST the ``completed`` status callback to ``/voice/status``."""
        params = self.standard_params("completed")
        params.update({
            "CallDuration": str(self.result.duration),
            "Duration": str(max(1, math.ceil(self.result.duration / 60))),
            "Timestamp": email.utils.format_datetime(datetime.now(timezone.utc)),
            "CallbackSource": "call-progress-events",
            "SequenceNumber": "0",
        })
        try:
            response = self.send("POST", self.public_base_url + "/voice/status", params)
        except requests.RequestException as exc:
            self.note(f"warning: status callback not delivered ({type(exc).__name__})")
            return
        self.result.status_callback_code = response.status_code
        if response.status_code not in (200, 204):
            self.note(f"warning: status callback answered HTTP {response.status_code} "
                      "(Twilio logs warning 15003)")


def run_call(
    base_url: str,
    utterances: Iterable[str | None] | Callable[[str], str | None],
    *,
    auth_token: str | None = None,
    public_base_url: str | None = None,
    from_number: str = "+15005550006",
    to_number: str = "+15005550001",
    out: Callable[[str], None] = print,
    session: requests.Session | None = None,
    max_turns: int = 60,
    send_status: bool = True,
    echo_caller: bool | None = None,
) -> SimulatedCall:
    """Place one simulated inbound call against a callflow server and return what happened.

    The first request is ``POST {base_url}/voice/incoming`` with Twilio's call-start parameters
    (``CallStatus=ringing``); the TwiML answer is executed verb by verb:

    * ``<Say>`` text / ``<Play>`` URL (as ``[audio] <url>``) is printed as ``agent> ...``;
      ``<Pause>`` is skipped without waiting.
    * ``<Gather>``: the caller's next line is sent to its ``action`` (method attribute, POST by
      default; missing action = the current URL) with ``SpeechResult`` + ``Confidence`` or
      ``Digits``. Silence requests the action without them when ``actionOnEmptyResult="true"``,
      else falls through to the next verb. Speech to a Gather without ``input`` containing
      ``speech`` (the default input is ``dtmf``) counts as silence, as on Twilio.
      https://www.twilio.com/docs/voice/twiml/gather
    * ``<Redirect>`` requests its URL; ``<Hangup/>``/``<Reject/>`` or running out of verbs ends the
      call. Other verbs are reported and skipped.

    URLs are resolved like a browser against the *public* URL of the current document; every
    request goes to ``base_url``'s scheme/host/port (path and query kept), while the
    ``X-Twilio-Signature`` (sent when ``auth_token`` is given) is computed with
    ``RequestValidator.compute_signature`` over the public URL, as Twilio signs the URL it was
    configured with (https://www.twilio.com/docs/usage/webhooks/webhooks-security). GET requests
    carry the parameters in the query string and sign the full URL. One ``requests.Session`` holds
    the call's cookies; each request carries ``User-Agent: TwilioProxy/1.1`` and a fresh
    ``I-Twilio-Idempotency-Token``. Afterwards ``POST {base_url}/voice/status`` gets
    ``CallStatus=completed`` and ``CallDuration`` (whole seconds), also signed.

    Args:
        base_url: where the server really listens, e.g. ``http://127.0.0.1:5000``.
        utterances: caller lines (see :func:`parse_caller_line` for the syntax; ``None``/``""``
            is silence; an exhausted iterable means the caller hangs up), or a callable
            ``prompt -> line`` for interactive use, given the agent text since the last caller
            turn; it raises ``EOFError`` to hang up.
        auth_token: Twilio Auth Token used to sign requests; ``None``/empty sends no signature.
        public_base_url: the server's public base (its ``PUBLIC_BASE_URL``, e.g.
            ``https://abc.ngrok.app``); defaults to ``base_url``.
        from_number / to_number: E.164 numbers for ``From``/``Caller`` and ``To``/``Called``.
        out: receives each output line (``agent> ...``, ``caller> ...``, ``[sim] ...``).
        session: a session to reuse (not closed here); by default a new one per call.
        max_turns: most webhook requests made (status callback not counted); must be >= 1.
        send_status: send the ``completed`` status callback at the end.
        echo_caller: print ``caller> ...`` lines; default ``True`` for iterables and ``False``
            for callables (an interactive prompt already shows what was typed).

    Returns:
        A :class:`SimulatedCall`. Server failures (connection refused, timeout after 20 s,
        non-200, answer that is not TwiML) do not raise: they end the call with
        ``ended_by="error"`` and ``error`` set, and the status callback is still sent.

    Raises:
        ValueError: ``base_url``/``public_base_url`` is not an absolute http(s) URL, or
            ``max_turns < 1``.
    """
    base = _normalise_base(base_url, "base_url")
    public = _normalise_base(public_base_url, "public_base_url") if public_base_url else None
    if max_turns < 1:
        raise ValueError(f"max_turns must be >= 1, got {max_turns}")
    caller = _Caller(utterances)
    own_session = session is None
    http = session if session is not None else requests.Session()
    simulator = _Simulator(
        base,
        caller,
        auth_token=auth_token or None,
        public_base_url=public,
        from_number=from_number,
        to_number=to_number,
        out=out,
        session=http,
        max_turns=max_turns,
        echo_caller=(not caller.interactive) if echo_caller is None else echo_caller,
    )
    try:
        simulator.note(f"calling {_path_of(base + '/voice/incoming')} on {urlsplit(base).netloc}, "
                       f"CallSid {simulator.result.call_sid}")
        result = simulator.run()
        if send_status:
            simulator.send_status()
        simulator.note(f"call over ({result.ended_by}) after {result.turns} turn(s), {result.duration} s")
        return result
    finally:
        if own_session:
            http.close()


_TICKET_FIELDS = ("subject", "priority", "status", "outcome", "tags")


def _format_ticket(ticket: dict) -> list[str]:
    """Readable lines for a ticket dict as returned by ``ticket_lookup``."""
    def show(value) -> str:
        if value is None or value == "":
            return "-"
        if isinstance(value, (list, tuple, set)):
            return ", ".join(str(v) for v in value) or "-"
        if isinstance(value, dict):
            return ", ".join(f"{k}={show(v)}" for k, v in value.items()) or "-"
        return str(value)

    lines = []
    for key in _TICKET_FIELDS:
        if key in ticket:
            lines.append(f"  {key + ':':<10} {show(ticket[key])}")
    requester = ticket.get("requester")
    if not isinstance(requester, dict):
        requester = {k[len("requester_"):]: v for k, v in ticket.items() if k.startswith("requester_")}
        if "requester" in ticket and not requester:
            requester = {"name": ticket["requester"]}
    if requester:
        parts = [show(requester.get(k)) for k in ("name", "email", "phone") if k in requester]
        parts += [f"{k}={show(v)}" for k, v in requester.items() if k not in ("name", "email", "phone")]
        lines.append(f"  {'requester:':<10} {' | '.join(parts)}")
    if "summary" in ticket:
        lines.append("  summary:")
        summary = show(ticket["summary"])
        lines.extend("    " + line for line in summary.splitlines() or [summary])
    shown = set(_TICKET_FIELDS) | {"summary", "requester"}
    for key, value in ticket.items():
        if key in shown or key.startswith("requester_"):
            continue
        lines.append(f"  {key + ':':<10} {show(value)}")
    return lines


def _interactive_line(prompt: str) -> str | None:
    """Read one caller line from the terminal; EOF/Ctrl-C hangs up (raises ``EOFError``).

    Standard input that is not a terminal (``printf 'Jane\\n' | flask simulate``, a heredoc) is
    read a line at a time and echoed as ``caller> ...``: nothing else would show the line (a
    terminal echoes what is typed, a pipe does not), and the transcript would read
    ``caller> agent> ...``.
    """
    stdin = sys.stdin
    if not stdin.isatty():
        line = stdin.readline()
        if not line:
            raise EOFError()
        line = line.rstrip("\r\n")
        click.echo("caller> " + line)  # as a terminal shows it; silence is noted by the caller turn
        return line
    try:
        return click.prompt("caller", default="", show_default=False, prompt_suffix="> ")
    except click.Abort:
        click.echo()
        raise EOFError() from None


@click.command("simulate")
@click.option("--url", default="http://127.0.0.1:5000", show_default=True,
              help="Where the callflow server listens (requests go here).")
@click.option("--script", type=click.Path(exists=True, dir_okay=False),
              help="Caller lines, one a line: blank = silence, #123 or dtmf:123 = keys, "
                   "# text = comment, /hangup = hang up. Without it, type at the prompt (Ctrl-D hangs up).")
@click.option("--from", "from_number", default="+15005550006", show_default=True,
              help="Caller's number (E.164).")
@with_appcontext
def simulate_command(url, script, from_number):
    """Place a simulated Twilio call against a running callflow server and show the ticket.

    Requests are signed with the app's TWILIO_AUTH_TOKEN over its PUBLIC_BASE_URL, like Twilio.
    The conversation is printed, the completed status callback sent, then the ticket queued for
    the call is shown, read from this command's DATABASE_URL (give it the server's). Exit status
    1: the call ended with an error or hit the turn limit, or its ticket could not be found.

    \f
    Reads ``current_app.config["TWILIO_AUTH_TOKEN"]``/``["PUBLIC_BASE_URL"]`` (either may be unset)
    and calls ``current_app.extensions["ticket_lookup"](call_sid) -> dict | None`` (keys such as
    subject, priority, tags, requester name/email/phone as a ``requester`` dict or
    ``requester_*`` keys, outcome, summary, status; unknown keys are printed too).
    Exit status 2 (``click.BadParameter``) if ``--url`` or ``PUBLIC_BASE_URL`` is not an absolute
    http(s) URL, or the ``--script`` file is missing or not UTF-8 text.
    """
    config = current_app.config
    auth_token = config.get("TWILIO_AUTH_TOKEN") or None
    public_base_url = config.get("PUBLIC_BASE_URL") or None
    try:
        _normalise_base(url, "--url")
        if public_base_url:
            _normalise_base(public_base_url, "PUBLIC_BASE_URL")
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    try:
        utterances = read_script(script) if script else _interactive_line
    except (OSError, UnicodeDecodeError) as exc:
        reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else (exc.strerror or type(exc).__name__)
        raise click.BadParameter(f"cannot read {script!r}: {reason}", param_hint="'--script'") from None
    if auth_token:
        click.echo(f"[sim] requests are signed with TWILIO_AUTH_TOKEN over {public_base_url or url}")
    else:
        click.echo("[sim] TWILIO_AUTH_TOKEN is not set: requests are not signed")
    call = run_call(
        url,
        utterances,
        auth_token=auth_token,
        public_base_url=public_base_url,
        from_number=from_number,
        out=click.echo,
    )

    failed = call.ended_by in ("error", "max_turns")
    lookup = current_app.extensions.get("ticket_lookup")
    click.echo("")
    if lookup is None:
        click.echo("[sim] this app has no ticket_lookup; cannot show the ticket")
        failed = True
    else:
        try:
            ticket = lookup(call.call_sid)
        except Exception as exc:  # the lookup is another component: report it, don't crash
            first_line = (str(exc).splitlines() or [""])[0]
            click.echo(f"[sim] could not read the ticket from {_database_of(config)}: "
                       f"{type(exc).__name__}: {first_line}")
            click.echo("[sim] the ticket is read from this command's DATABASE_URL: run it with the server's")
            failed = True
        else:
            if ticket is None:
                failed = True
                if call.ended_by == "error":
                    click.echo(f"no ticket for {call.call_sid}: the call failed (see the error above)")
                else:
                    click.echo(f"no ticket for {call.call_sid} in {_database_of(config)}: every call "
                               "ends with one, so the server writes to another database (run this "
                               "command with the server's DATABASE_URL) or the call lost its ticket")
            else:
                click.echo(f"ticket queued for {call.call_sid}:")
                for line in _format_ticket(dict(ticket)):
                    click.echo(line)
                if ticket.get("id") is not None:
                    click.echo(f"  (in full: flask --app wsgi tickets show {ticket['id']})")
    if failed:
        click.get_current_context().exit(1)


def _database_of(config) -> str:
    """The app's database URL with any password masked, for messages (``"this app's database"``
    when the app has none)."""
    uri = config.get("SQLALCHEMY_DATABASE_URI")
    if not uri:
        return "this app's database"
    try:
        from sqlalchemy.engine import make_url

        return make_url(uri).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a message must not fail on an odd URL
        return "this app's database"
