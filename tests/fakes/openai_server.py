"""A fake OpenAI HTTP API for tests and benchmarks.

The fake speaks the real wire format closely enough that the real ``openai`` SDK works against it, so tests exercise
the same code path as production (request building, auth header, timeouts, error mapping)::

    with FakeOpenAI() as fake:
        client = openai.OpenAI(api_key="test", base_url=fake.base_url, max_retries=0)  # base_url = fake.url + "/v1"
        fake.chat_responder = lambda req: {"answer": "Hi.", "article_id": "42", "grounded": True}
        ...
        assert fake.requests_for("/v1/chat/completions")[-1].json["model"] == "gpt-4o-mini"

``fake.base_url`` is what ``OPENAI_BASE_URL`` would be set to for a whole app under test.

Endpoints (wire formats from https://platform.openai.com/docs/api-reference):

* ``POST /v1/chat/completions`` -> a ``chat.completion`` object whose single choice carries the content produced by
  :attr:`FakeOpenAI.chat_responder` (``request_json -> dict | str | ChatReply``; a dict is JSON-encoded, as a
  ``json_schema`` structured output would be). The default, :func:`default_chat_responder`, answers a drafting
  request with a grounded answer citing the first article id found in the prompt, and a summary request (schema has a
  ``sentiment`` property) with a neutral summary.
* ``POST /v1/audio/speech`` -> ``audio/mpeg`` bytes (:func:`silent_mp3`: valid silent MPEG-2 Layer III frames, 24 kHz
  mono, as OpenAI TTS outputs) or whatever :attr:`FakeOpenAI.speech_responder` returns. With ``tts_total >
  tts_ttfb`` the body is streamed with chunked transfer encoding: headers and the first chunk after ``tts_ttfb``
  seconds, the last chunk at ``tts_total`` seconds.
* Anything else -> 404 with an OpenAI-style error body.

Every request must carry ``Authorization: Bearer <key>`` (any non-empty key, or exactly ``api_key`` when given),
else 401 as the real API answers. Knobs (plain attributes, change them at any time, all times in seconds):

* ``chat_latency``: delay before a chat completion is answered.
* ``tts_ttfb`` / ``tts_total``: time to first byte / total time of a speech response.
* ``hang``: ``True`` (= 60 s) or seconds: every request sleeps this long first (meant to exceed client timeouts).
  Sleeps end early (with a 503) on :meth:`FakeOpenAI.reset` or :meth:`FakeOpenAI.stop`, so a hung test never
  blocks teardown or leaks into the next test.
* :meth:`FakeOpenAI.fail_next`: the next *n* requests (optionally only for one path) get an error status.

:attr:`FakeOpenAI.requests` logs every request as :class:`RecordedRequest` (method, path, lower-cased headers, parsed
JSON body). The fake is thread-safe (threaded werkzeug server in a daemon thread, on 127.0.0.1 and a free port).
Standalone, e.g. for a benchmark: ``python -m tests.fakes.openai_server --chat-latency 0.8 --tts-ttfb 0.3`` prints
the ``OPENAI_BASE_URL`` to use.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any
from typing import Callable
from typing import Iterator

from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

__all__ = [
    "ChatReply",
    "FakeOpenAI",
    "RecordedRequest",
    "default_chat_responder",
    "main",
    "silent_mp3",
]

HANG_TRUE_SECONDS = 60.0

# MPEG-2 Layer III, no CRC (0xFF 0xF3); 32 kbit/s, 24 kHz (0x44); mono (0xC0). Frame length = 72 * 32000 / 24000 = 96
# bytes, 576 samples (24 ms). All-zero side info and main data decode as silence.
_MP3_FRAME_HEADER = bytes((0xFF, 0xF3, 0x44, 0xC0))
_MP3_FRAME = _MP3_FRAME_HEADER + bytes(96 - len(_MP3_FRAME_HEADER))


def silent_mp3(frames: int = 10) -> bytes:
    """Return ``frames`` silent MPEG-2 Layer III frames (96 bytes and 24 ms each): a tiny but valid mp3."""
    return _MP3_FRAME * max(1, int(frames))


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received: ``headers`` keys are lower-case; ``json`` is the parsed body or ``None``."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any


@dataclass(frozen=True)
class ChatReply:
    """Full control over a chat completion choice, when returning a plain dict/str from a responder is not enough.

    ``content`` (dict is JSON-encoded) and ``refusal`` go into ``choices[0].message``; ``finish_reason`` is one of
    ``stop``, ``length``, ``content_filter``.
    """

    content: dict | str | None = None
    finish_reason: str = "stop"
    refusal: str | None = None


def _message_texts(request_json: dict) -> list[tuple[str, str]]:
    """Return (role, text) for every chat message; content parts are joined."""
    out = []
    for message in request_json.get("messages") or []:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        if isinstance(content, str):
            out.append((str(message.get("role", "")), content))
    return out


def _first_article(request_json: dict) -> dict | None:
    """Find the first ``{"id": ..., "title": ..., "text": ...}`` article in the prompt (JSON first, then a regex)."""
    texts = _message_texts(request_json)
    for _, text in sorted(texts, key=lambda rt: rt[0] != "user"):
        try:
            data = json.loads(text)
        except ValueError:
            continue
        articles = data.get("articles") if isinstance(data, dict) else None
        for article in articles or []:
            if isinstance(article, dict) and article.get("id") is not None:
                return article
    for _, text in texts:
        match = re.search(r'"id"\s*:\s*"([^"]+)"', text)
        if match:
            return {"id": match.group(1), "title": "", "text": ""}
    return None


def _spoken_from(article: dict, max_words: int = 40) -> str:
    """Make a short answer from an article: its first sentences up to ``max_words`` words."""
    text = " ".join(str(article.get("text") or "").split())
    if not text:
        title = str(article.get("title") or "").strip()
        return f"Here is what our help article {title} says." if title else "Here is what our help article says."
    sentences = re.split(r"(?<=[.!?])\s+", text)
    words: list[str] = []
    for sentence in sentences:
        sentence_words = sentence.split()
        if words and len(words) + len(sentence_words) > max_words:
            break
        words.extend(sentence_words)
    answer = " ".join(words[:max_words])
    return answer if answer[-1:] in ".!?" else answer + "."


def default_chat_responder(request_json: dict) -> dict | str:
    """Answer like a well-behaved model would.

    * summary request (``response_format.json_schema.schema.properties`` has ``sentiment``): a neutral summary;
    * drafting request (schema has ``article_id``, or the prompt contains articles): a grounded answer made from the
      first article's first sentences, citing its id; ungrounded when no article is found;
    * anything else: the string ``"OK"``.
    """
    response_format = request_json.get("response_format") or {}
    schema = (response_format.get("json_schema") or {}).get("schema") or {}
    props = schema.get("properties") or {}
    if "sentiment" in props:
        return {
            "summary": "The caller asked a support question.\nThe assistant answered from the knowledge base.",
            "topic": "support question",
            "sentiment": "neutral",
        }
    article = _first_article(request_json)
    if "article_id" in props or article is not None:
        if article is None:
            return {"answer": "I could not find that in our help articles.", "article_id": None, "grounded": False}
        return {"answer": _spoken_from(article), "article_id": str(article["id"]), "grounded": True}
    return "OK"


def _error(status: int, message: str, type_: str, code: str | None = None) -> Response:
    """Build an OpenAI-style error response."""
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return Response(json.dumps(body), status=status, mimetype="application/json")


_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
}


class _QuietHandler(WSGIRequestHandler):
    """Request handler that does not write access logs (keeps test output clean)."""

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's signature
        """Drop werkzeug's per-request log lines."""


@dataclass
class _Failure:
    status: int
    remaining: int
    path: str | None


class FakeOpenAI:
    """A fake OpenAI API server on ``127.0.0.1`` (see the module docstring for endpoints and knobs).

    :param api_key: if given, the only accepted bearer token; else any non-empty token is accepted.
    :param port: TCP port, 0 (default) for a free one.
    Use as a context manager, or call :meth:`start` / :meth:`stop`.
    """

    def __init__(self, *, api_key: str | None = None, port: int = 0) -> None:
        self.api_key = api_key
        self.port = port
        self.chat_responder: Callable[[dict], dict | str | ChatReply] = default_chat_responder
        self.speech_responder: Callable[[dict], bytes] | None = None
        self.speech_content_type = "audio/mpeg"
        self.chat_latency = 0.0
        self.tts_ttfb = 0.0
        self.tts_total = 0.0
        self.tts_chunk_size = 512
        self.hang: bool | float = False
        self.requests: list[RecordedRequest] = []
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._wake = threading.Event()  # set (and replaced) by reset()/stop() to end pending sleeps
        self._server = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------------
    def start(self) -> FakeOpenAI:
        """Start serving on a free port in a daemon thread; return self."""
        if self._server is not None:
            return self
        self._wake = threading.Event()
        self._server = make_server("127.0.0.1", self.port, self._wsgi, threaded=True, request_handler=_QuietHandler)
        server = self._server
        self._thread = threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.05), name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; wakes up hung/slow handlers first so this returns promptly."""
        if self._server is None:
            return
        self._wake.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:54321`` (the API lives under ``/v1``)."""
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def base_url(self) -> str:
        """``url + "/v1"``: the SDK's ``base_url`` / ``OPENAI_BASE_URL``."""
        return self.url + "/v1"

    # -- test helpers ------------------------------------------------------------------------------------------------
    def fail_next(self, status: int = 500, n: int = 1, *, path: str | None = None) -> None:
        """Answer the next ``n`` requests (only those to ``path``, e.g. ``/v1/audio/speech``, if given) with ``status``
        and an OpenAI-style error body."""
        with self._lock:
            self._failures.append(_Failure(status=int(status), remaining=int(n), path=path))

    def requests_for(self, path: str) -> list[RecordedRequest]:
        """Return the logged requests to ``path`` (e.g. ``/v1/chat/completions``), oldest first."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def reset(self) -> None:
        """Forget logged requests and pending failures, restore default responders, zero every knob and end the
        sleeps of requests still hanging (they get a 503)."""
        with self._lock:
            self.requests.clear()
            self._failures.clear()
            wake, self._wake = self._wake, threading.Event()
        wake.set()
        self.chat_responder = default_chat_responder
        self.speech_responder = None
        self.speech_content_type = "audio/mpeg"
        self.chat_latency = self.tts_ttfb = self.tts_total = 0.0
        self.hang = False
        self.tts_chunk_size = 512

    # -- WSGI --------------------------------------------------------------------------------------------------------
    def _sleep(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; return False if woken early by :meth:`reset` or :meth:`stop`."""
        wake = self._wake
        if seconds and seconds > 0:
            return not wake.wait(seconds)
        return not wake.is_set()

    def _take_failure(self, path: str) -> int | None:
        with self._lock:
            for failure in self._failures:
                if failure.path in (None, path) and failure.remaining > 0:
                    failure.remaining -= 1
                    if failure.remaining == 0:
                        self._failures.remove(failure)
                    return failure.status
        return None

    def _wsgi(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        return self._dispatch(request)(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        with self._lock:
            self.requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.path,
                    headers={k.lower(): v for k, v in request.headers.items()},
                    json=body,
                )
            )
        auth = request.headers.get("Authorization", "")
        token = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else ""
        if not token:
            return _error(401, "You didn't provide an API key.", "invalid_request_error")
        if self.api_key is not None and token != self.api_key:
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")

        status = self._take_failure(request.path)
        if status is not None:
            type_, code = _ERROR_TYPES.get(status, ("server_error", None))
            return _error(status, f"Injected failure ({status}).", type_, code)

        hang = HANG_TRUE_SECONDS if self.hang is True else float(self.hang or 0)
        if not self._sleep(hang):
            return _error(503, "Fake server reset or stopping.", "server_error")

        if request.method == "POST" and request.path == "/v1/chat/completions":
            return self._chat(body)
        if request.method == "POST" and request.path == "/v1/audio/speech":
            return self._speech(body)
        return _error(404, f"Invalid URL ({request.method} {request.path})", "invalid_request_error")

    def _chat(self, body: Any) -> Response:
        if not isinstance(body, dict) or not body.get("model") or not isinstance(body.get("messages"), list):
            return _error(400, "'model' and 'messages' are required.", "invalid_request_error")
        if not self._sleep(self.chat_latency):
            return _error(503, "Fake server reset or stopping.", "server_error")
        try:
            reply = self.chat_responder(body)
        except Exception as exc:  # a broken responder is a test bug: make it visible as a 500
            return _error(500, f"chat_responder raised {type(exc).__name__}", "server_error")
        if not isinstance(reply, ChatReply):
            reply = ChatReply(content=reply)
        content = json.dumps(reply.content) if isinstance(reply.content, dict) else reply.content
        prompt_tokens = sum(len(t.split()) for _, t in _message_texts(body))
        completion_tokens = len((content or "").split())
        n = next(self._ids)
        completion = {
            "id": f"chatcmpl-fake{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": reply.refusal, "annotations": []},
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }
        return Response(
            json.dumps(completion), mimetype="application/json", headers={"x-request-id": f"req_fake{n}"}
        )

    def _speech(self, body: Any) -> Response:
        if not isinstance(body, dict) or not body.get("model") or not body.get("voice") or not body.get("input"):
            return _error(400, "'model', 'voice' and 'input' are required.", "invalid_request_error")
        if body.get("response_format", "mp3") != "mp3":
            return _error(400, "The fake only produces mp3.", "invalid_request_error")
        if self.speech_responder is not None:
            audio = self.speech_responder(body)
        else:
            audio = silent_mp3(max(3, len(str(body["input"])) // 10))
        ttfb, total = float(self.tts_ttfb or 0), float(self.tts_total or 0)
        if not self._sleep(ttfb):
            return _error(503, "Fake server reset or stopping.", "server_error")
        headers = {"x-request-id": f"req_fake{next(self._ids)}"}
        if total <= ttfb:
            return Response(audio, content_type=self.speech_content_type, headers=headers)
        return Response(
            self._trickle(audio, total - ttfb), content_type=self.speech_content_type, headers=headers
        )

    def _trickle(self, audio: bytes, duration: float) -> Iterator[bytes]:
        """Yield ``audio`` in chunks, the first at once and the last after ``duration`` seconds."""
        size = max(1, int(self.tts_chunk_size))
        chunks = [audio[i : i + size] for i in range(0, len(audio), size)] or [b""]
        gap = duration / max(1, len(chunks) - 1) if len(chunks) > 1 else duration
        for i, chunk in enumerate(chunks):
            if i and not self._sleep(gap):
                return
            yield chunk
        if len(chunks) == 1:
            self._sleep(gap)


def main(argv: list[str] | None = None) -> None:
    """Run the fake standalone (for a benchmark or a manual app run): ``python -m tests.fakes.openai_server``.

    Prints the base URL to use as ``OPENAI_BASE_URL`` and serves until interrupted.
    """
    import argparse

    parser = argparse.ArgumentParser(description="Fake OpenAI API (chat completions, audio speech).")
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    parser.add_argument("--api-key", default=None, help="only accept this bearer token (default: any)")
    parser.add_argument("--chat-latency", type=float, default=0.0, help="seconds before a chat completion")
    parser.add_argument("--tts-ttfb", type=float, default=0.0, help="seconds to the first speech byte")
    parser.add_argument("--tts-total", type=float, default=0.0, help="seconds for the whole speech response")
    args = parser.parse_args(argv)
    fake = FakeOpenAI(api_key=args.api_key, port=args.port)
    fake.chat_latency, fake.tts_ttfb, fake.tts_total = args.chat_latency, args.tts_ttfb, args.tts_total
    with fake:
        print(f"OPENAI_BASE_URL={fake.base_url}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
