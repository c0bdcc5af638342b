"""OpenAI text-to-speech, a content-addressed mp3 cache and the ``GET /tts/<sha256>.mp3`` route Twilio ``<Play>``s.

Wiring (done by the app factory, :func:`callflow.services.init_services`)::

    cache = make_tts_cache(app.config, app.instance_path)   # TTSCache (directory) or S3TTSCache (bucket)
    app.extensions["tts_cache"] = cache
    app.extensions["tts"] = OpenAISpeech(client, cache, model="gpt-4o-mini-tts", voice="alloy", instructions="...",
                                         timeout=2.0, public_base_url=app.config["PUBLIC_BASE_URL"])
    app.register_blueprint(tts.bp)

Rule sources:

* ``<Play>`` fetches the URL with a plain GET (no parameters, no signature), needs a matching ``Content-Type``
  (``audio/mpeg`` for mp3) and plays a processing sound while a first, uncached download runs; a bad URL means an
  application error for the caller, so ``<Play>`` is only emitted for files known to exist and be audio, else
  ``<Say>``: https://www.twilio.com/docs/voice/twiml/play
* Twilio's caching proxies honour ``Cache-Control: max-age`` and ETag; a changed file needs a new URL:
  https://support.twilio.com/hc/en-us/articles/223180508-How-can-I-change-the-cache-behavior-of-audio-files
  Hence content-addressed URLs (sha256 of text, voice, model, instructions) served ``public, max-age=31536000,
  immutable`` with the key as ETag.
* Webhook replies must arrive within 15 s (https://www.twilio.com/docs/api/errors/11205): synthesis inside a turn
  waits at most ``timeout`` seconds, then the caller falls back to ``<Say>`` while synthesis may finish in the
  background for the next use.
* OpenAI speech API (``input`` at most 4096 characters; ``instructions`` not supported by ``tts-1``/``tts-1-hd``):
  https://platform.openai.com/docs/api-reference/audio/createSpeech
* Several instances behind a load balancer must serve each other's files, so the cache is shared storage: a
  directory (:class:`TTSCache`, e.g. an NFS mount) or an S3-compatible bucket (:class:`callflow.tts_storage.S3TTSCache`).
  Both implement :class:`TTSStore`; the route only uses that interface.
* Audio of a prompt that carries caller data (a name, an email read-back, an answer drafted from the caller's
  question) is personal data. It is never content-addressed in the shared cache, where anyone could test a guessed
  text against the public route: it is stored per call under ``call/<group>/<key>`` (both HMAC-SHA256 under the
  app's ``SECRET_KEY``, so unguessable), served ``Cache-Control: private, no-store``, and deleted by the tickets
  worker once the call is over (its ticket's first attempt), when ``calls forget``/``calls purge`` erase the call,
  and by the worker once older than ``TTS_CALL_AUDIO_MAX_AGE_S`` (:func:`delete_call_audio`,
  :func:`expire_call_audio`). Only the fixed prompts of :mod:`callflow.prompts` are shared.
* MP3 frame header layout (sync, version, layer, bitrate and sample-rate tables):
  http://www.mp3-tech.org/programmer/frame_header.html
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import hmac
import io
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from typing import Iterable
from typing import Protocol

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the SDK is imported only when OpenAI is switched on (about 1 s of start-up)
    import openai
from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import request
from flask import send_file

log = logging.getLogger(__name__)

KEY_RE = re.compile(r"^[0-9a-f]{64}$")
#: A store key: a shared key, or ``call/<group>/<key>`` for one call's personal audio.
STORE_KEY_RE = re.compile(r"^(?:call/[0-9a-f]{64}/)?[0-9a-f]{64}$")
CALL_PREFIX = "call/"
CALL_KEY_VERSION = "callflow-tts-call-v1"
NO_STORE = "private, no-store"  # Cache-Control of personal (per-call) audio
MAX_INPUT_CHARS = 4096  # OpenAI speech API input limit
CACHE_MAX_AGE = 31_536_000  # seconds (one year)
CACHE_CONTROL = f"public, max-age={CACHE_MAX_AGE}, immutable"  # for the route and for stored S3 objects
KEY_VERSION = "callflow-tts-v1"

bp = Blueprint("tts", __name__)


# -- mp3 sniffing --------------------------------------------------------------------------------------------------

_L3_BITRATES = {  # kbit/s for Layer III by "is MPEG-1"; index 0 (free) and 15 (bad) are rejected
    True: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    False: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}  # MPEG 1 / 2 / 2.5


def _frame_length(header: bytes) -> int | None:
    """Return the byte length of the MPEG Layer III frame starting with ``header`` (4 bytes), or None if invalid."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version = (header[1] >> 3) & 3
    layer = (header[1] >> 1) & 3
    bitrate_index = header[2] >> 4
    rate_index = (header[2] >> 2) & 3
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    bitrate = _L3_BITRATES[version == 3][bitrate_index] * 1000
    sample_rate = _SAMPLE_RATES[version][rate_index]
    padding = (header[2] >> 1) & 1
    return (144 if version == 3 else 72) * bitrate // sample_rate + padding


def looks_like_mp3(data: bytes) -> bool:
    """Tell whether ``data`` is an MPEG Layer III stream: an optional ID3v2 tag, then one complete valid frame
    (frame sync ``0xFFE``, known version/bitrate/sample rate) followed by another frame header, an ID3v1 ``TAG`` or
    the end of the data."""
    data = bytes(data)
    start = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        size = 0
        for byte in data[6:10]:  # syncsafe integer: 4 x 7 bits
            if byte & 0x80:
                return False
            size = (size << 7) | byte
        start = 10 + size + (10 if data[5] & 0x10 else 0)  # footer flag
    length = _frame_length(data[start : start + 4])
    if not length or start + length > len(data):
        return False
    after = data[start + length : start + length + 4]
    return not after or after[:3] == b"TAG" or len(after) < 4 or _frame_length(after) is not None


def normalize_text(text: str) -> str:
    """Collapse runs of whitespace and strip: the text that is both hashed and synthesized."""
    return " ".join(str(text).split())


def _hmac_hex(secret: str, material: list[str]) -> str:
    encoded = json.dumps(material, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hmac.new(str(secret).encode("utf-8"), encoded, hashlib.sha256).hexdigest()


def call_group(secret: str, call_sid: str) -> str:
    """Return the folder name (64 hex chars) of one call's personal audio: HMAC-SHA256 of the CallSid under
    ``secret`` (the app's ``SECRET_KEY``), so a CallSid alone does not reveal it."""
    return _hmac_hex(secret, [CALL_KEY_VERSION, "group", str(call_sid)])


def call_key(secret: str, call_sid: str, text: str, voice: str, model: str, instructions: str = "") -> str:
    """Return the store key ``call/<group>/<key>`` of ``text`` spoken in one call: both parts HMAC-SHA256 under
    ``secret``, so the URL cannot be derived from a guessed text (unlike :meth:`TTSCache.key`)."""
    material = [CALL_KEY_VERSION, "mp3", str(call_sid), model, voice, instructions or "", normalize_text(text)]
    return f"{CALL_PREFIX}{call_group(secret, call_sid)}/{_hmac_hex(secret, material)}"


def is_call_key(key: str) -> bool:
    """True for a per-call (personal) store key ``call/<group>/<key>``."""
    return isinstance(key, str) and key.startswith(CALL_PREFIX)


def short_key(key: str) -> str:
    """What logs show of a store key: 12 hex chars, after ``call/`` for personal audio (never a text)."""
    return (CALL_PREFIX if is_call_key(key) else "") + str(key)[-64:][:12]


# -- cache -----------------------------------------------------------------------------------------------------------


class TTSStorageError(OSError):
    """The shared TTS storage (bucket) failed or timed out; the key's state is unknown (not "missing")."""


class TTSStore(Protocol):
    """What :class:`OpenAISpeech` and the ``/tts/<key>.mp3`` route need from a cache backend.

    Keys are 64 lower-case hex chars (:meth:`TTSCache.key`); values are whole mp3 files (bytes). Implementations:
    :class:`TTSCache` (a directory, possibly shared) and :class:`callflow.tts_storage.S3TTSCache` (a bucket).
    """

    def has(self, key: str) -> bool:
        """True only if a playable mp3 is stored for ``key``; False when missing, malformed or on any failure."""
        ...

    def put(self, key: str, data: bytes) -> None:
        """Store ``data``. :raises ValueError: bad key or not mp3. :raises OSError: storage failure."""
        ...

    def get(self, key: str) -> bytes | None:
        """Return the stored mp3, None if missing. :raises OSError: storage failure (:class:`TTSStorageError`)."""
        ...

    def source(self, key: str) -> Path | bytes | None:
        """What the route sends: a local file path, the bytes, or None if missing. :raises OSError: failure."""
        ...

    def delete_group(self, group: str) -> int:
        """Delete one call's personal audio (``call/<group>/*``); return how many files went (0 if none).
        :raises ValueError: ``group`` is not 64 lower-case hex. :raises OSError: storage failure."""
        ...

    def expire_calls(self, older_than_s: float) -> int:
        """Delete every per-call file stored more than ``older_than_s`` seconds ago; return how many went.
        :raises OSError: storage failure."""
        ...

    def prune_shared(self, keep: set[str], dry_run: bool = False) -> int:
        """Delete every shared (content-addressed) mp3 whose key is not in ``keep``; return how many went (or would
        go, on ``dry_run``). :raises OSError: storage failure."""
        ...


class TTSCache:
    """Content-addressed mp3 files, one per key, in ``directory`` (``<instance>/tts`` by default in the app); a
    call's personal audio in ``directory/call/<group>/``.

    Instances behind a load balancer share it by pointing ``TTS_CACHE_DIR`` at one shared directory (NFS, a
    mounted volume): any instance serves what another one stored. Files are only ever written whole (temp file in
    the same directory, fsync, ``os.replace``, which is atomic on POSIX file systems) and only if they look like
    mp3, so :meth:`has` means "playable" and a concurrent reader never sees half a file. Implements
    :class:`TTSStore`; :class:`callflow.tts_storage.S3TTSCache` is the bucket equivalent.
    """

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)

    @staticmethod
    def key(text: str, voice: str, model: str, instructions: str = "") -> str:
        """Return the cache key: sha256 hex (64 chars) of the whitespace-normalised text, voice, model and
        instructions (and a format version), so any change gives a new URL."""
        material = [KEY_VERSION, "mp3", model, voice, instructions or "", normalize_text(text)]
        encoded = json.dumps(material, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return hashlib.sha256(encoded).hexdigest()

    def path(self, key: str) -> Path:
        """Return the file path for ``key``. :raises ValueError: ``key`` is not 64 lower-case hex chars, or
        ``call/<64 hex>/<64 hex>``."""
        if not isinstance(key, str) or not STORE_KEY_RE.fullmatch(key):
            raise ValueError("invalid TTS cache key")
        return self.directory / f"{key}.mp3"

    def has(self, key: str) -> bool:
        """Tell whether a non-empty mp3 is stored for ``key`` (False for malformed keys)."""
        try:
            return self.path(key).stat().st_size > 0
        except (ValueError, OSError):
            return False

    def get(self, key: str) -> bytes | None:
        """Return the stored mp3 bytes for ``key``, or None if missing, empty or the key is malformed.

        :raises OSError: the file exists but cannot be read (permissions, I/O error).
        """
        try:
            data = self.path(key).read_bytes()
        except (ValueError, FileNotFoundError):
            return None
        return data or None

    def source(self, key: str) -> Path | None:
        """Return the file path to send for ``key`` (the route streams it, with Range support), or None."""
        return self.path(key) if self.has(key) else None

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` for ``key`` atomically (temp file in the same directory, fsync, ``os.replace``).

        :raises ValueError: malformed key, or ``data`` does not look like mp3 (see :func:`looks_like_mp3`).
        :raises OSError: the directory cannot be created or written.
        """
        target = self.path(key)
        if not looks_like_mp3(data):
            raise ValueError("refusing to cache data that is not mp3")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.stem[:16]}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def delete_group(self, group: str) -> int:
        """Delete ``directory/call/<group>/`` (one call's personal audio); return the number of mp3 files removed.

        :raises ValueError: ``group`` is not 64 lower-case hex chars. :raises OSError: the files cannot be removed.
        """
        if not isinstance(group, str) or not KEY_RE.fullmatch(group):
            raise ValueError("invalid TTS call group")
        folder = self.directory / "call" / group
        try:
            count = sum(1 for name in os.listdir(folder) if name.endswith(".mp3"))
        except FileNotFoundError:
            return 0
        shutil.rmtree(folder, ignore_errors=False, onerror=_ignore_missing)
        return count

    def expire_calls(self, older_than_s: float) -> int:
        """Delete the per-call files modified more than ``older_than_s`` seconds ago (and folders left empty);
        return how many mp3 files went. :raises OSError: ``directory/call`` exists but cannot be listed."""
        cutoff = time.time() - older_than_s
        removed = 0
        try:
            groups = list(os.scandir(self.directory / "call"))
        except FileNotFoundError:
            return 0
        for group in groups:
            if not group.is_dir(follow_symlinks=False) or not KEY_RE.fullmatch(group.name):
                continue
            try:
                entries = list(os.scandir(group.path))
            except FileNotFoundError:
                continue
            for entry in entries:
                try:
                    if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += entry.name.endswith(".mp3")
                except FileNotFoundError:
                    continue
            try:
                os.rmdir(group.path)  # only succeeds once empty: a call still speaking keeps its folder
            except OSError:
                pass
        return removed

    def prune_shared(self, keep: set[str], dry_run: bool = False) -> int:
        """Delete the shared ``<key>.mp3`` files of ``directory`` whose key is not in ``keep`` (per-call audio is
        left to :meth:`expire_calls`); return how many went, or would go on ``dry_run``.
        :raises OSError: the directory exists but cannot be listed, or a file cannot be removed."""
        removed = 0
        try:
            entries = list(os.scandir(self.directory))
        except FileNotFoundError:
            return 0
        for entry in entries:
            key = entry.name[: -len(".mp3")]
            if not entry.name.endswith(".mp3") or not KEY_RE.fullmatch(key) or key in keep:
                continue
            if not dry_run:
                try:
                    os.unlink(entry.path)
                except FileNotFoundError:
                    continue
            removed += 1
        return removed


def _ignore_missing(function, path, exc_info) -> None:
    """``rmtree`` error handler: a file another process removed first is not an error."""
    if not issubclass(exc_info[0], FileNotFoundError):
        raise exc_info[1]


# -- synthesis -------------------------------------------------------------------------------------------------------


class _SynthesisFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OpenAISpeech:
    """Turns agent prompts into cached mp3 URLs with OpenAI ``audio.speech``.

    :param client: ``openai.OpenAI`` (used with ``max_retries=0``).
    :param cache: where mp3s are stored (:class:`TTSStore`: :class:`TTSCache` or
        :class:`callflow.tts_storage.S3TTSCache`); its ``has`` must not raise, ``put`` errors count as a failed
        synthesis (the caller gets ``<Say>``).
    :param model: e.g. ``gpt-4o-mini-tts``; ``voice``: e.g. ``alloy``; ``instructions``: voice style (omitted from
        the request when empty, as ``tts-1`` models reject it).
    :param timeout: seconds :meth:`audio_url` waits for a synthesis inside a webhook turn.
    :param public_base_url: absolute ``http(s)://host[/prefix]`` the ``/tts/<key>.mp3`` route is reachable at; empty
        means "not public": :meth:`audio_url` then always returns None (``<Say>``), :meth:`warm` still works.
    :param background_timeout: seconds one synthesis may take in total (also bounds :meth:`warm` per text).
    :param max_workers: synthesis threads; ``max_pending``: cap on queued/running syntheses (extra ones are dropped).
    :param max_bytes: largest accepted mp3 (bytes).
    :param call_secret: key of the HMACs that name personal audio (the app's ``SECRET_KEY``); see
        :meth:`key_for`.
    :raises ValueError: a non-empty ``public_base_url`` that is not absolute http(s), or a non-positive ``timeout``.
    """

    def __init__(
        self,
        client: openai.OpenAI,
        cache: TTSStore,
        model: str,
        voice: str,
        instructions: str,
        timeout: float,
        public_base_url: str,
        *,
        background_timeout: float = 30.0,
        max_workers: int = 4,
        max_pending: int = 64,
        max_bytes: int = 5 * 1024 * 1024,
        call_secret: str = "",
    ) -> None:
        if public_base_url and not re.match(r"^https?://[^/\s]+", public_base_url):
            raise ValueError("public_base_url must be an absolute http(s) URL")
        if not public_base_url:
            log.warning("no public base URL: TTS audio cannot be played, prompts use <Say>")
        if not timeout or timeout <= 0:
            raise ValueError("timeout must be > 0 seconds")
        with_options = getattr(client, "with_options", None)  # a test double may not have it
        self.client = with_options(max_retries=0) if with_options else client
        self.cache = cache
        self.model = model
        self.voice = voice
        self.instructions = instructions or ""
        self.timeout = float(timeout)
        self.public_base_url = (public_base_url or "").rstrip("/")
        self.background_timeout = max(float(background_timeout), self.timeout)
        self.max_pending = max_pending
        self.max_bytes = max_bytes
        self.call_secret = call_secret or ""
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="tts")
        self._inflight: dict[str, concurrent.futures.Future] = {}
        self._lock = threading.Lock()

    def key_for(self, text: str, call_sid: str | None = None) -> str:
        """Return the store key of ``text`` with this instance's voice, model and instructions.

        Without ``call_sid``: the shared, content-addressed key (for fixed prompts, which carry no caller data).
        With it: the call's personal key ``call/<group>/<key>`` (:func:`call_key`), for any text that may carry
        caller data; the caller (:func:`callflow.twiml.render`) decides which.
        """
        if call_sid:
            return call_key(self.call_secret, call_sid, text, self.voice, self.model, self.instructions)
        return TTSCache.key(text, self.voice, self.model, self.instructions)

    def url_for(self, key: str) -> str:
        """Return the absolute ``<public_base_url>/tts/<key>.mp3`` URL (does not check the cache); a call's key
        gives ``/tts/call/<group>/<key>.mp3``."""
        return f"{self.public_base_url}/tts/{key}.mp3"

    def audio_url(
        self, text: str, *, synthesize: bool = True, timeout: float | None = None, call_sid: str | None = None
    ) -> str | None:
        """Return the absolute mp3 URL for ``text`` if it is cached, or once synthesized within ``timeout`` seconds
        (default: the instance's ``timeout``; callers pass what is left of their turn's deadline).

        ``call_sid`` stores the audio as that call's personal audio (:meth:`key_for`): pass it for every text that
        may carry caller data.

        Returns ``None`` (the caller uses ``<Say>``) when the text is empty or over 4096 chars, when not cached and
        ``synthesize`` is False, or on any synthesis failure or timeout; a timed-out synthesis keeps running in the
        background (up to ``background_timeout``) so the next use is cached. Never raises.
        """
        try:
            text = normalize_text(text)
            if not text or len(text) > MAX_INPUT_CHARS or not self.public_base_url:
                return None
            key = self.key_for(text, call_sid)
            if self.cache.has(key):
                return self.url_for(key)
            if not synthesize:
                return None
            future = self._submit(key, text, bounded=True)
            if future is None:
                return None
            wait = self.timeout if timeout is None else max(0.0, min(timeout, self.timeout))
            ok = future.result(timeout=wait)
            return self.url_for(key) if ok and self.cache.has(key) else None
        except concurrent.futures.TimeoutError:
            log.warning("tts not ready in time, using <Say>")
            return None
        except Exception as exc:  # never break a call turn over TTS
            log.warning("tts audio_url failed: %s", type(exc).__name__)
            return None

    def synthesize_async(self, text: str, *, call_sid: str | None = None) -> None:
        """Start synthesizing ``text`` in the background (bounded pool, duplicates share one job) so the next
        :meth:`audio_url` (with the same ``call_sid``) finds it cached. Does nothing if cached, invalid or the queue
        is full. Never raises."""
        try:
            text = normalize_text(text)
            if not text or len(text) > MAX_INPUT_CHARS:
                return
            key = self.key_for(text, call_sid)
            if not self.cache.has(key):
                self._submit(key, text, bounded=True)
        except Exception as exc:
            log.warning("tts synthesize_async failed: %s", type(exc).__name__)

    def warm(self, texts: Iterable[str]) -> dict[str, int]:
        """Synthesize the texts not cached yet (in parallel, each within ``background_timeout`` s) and wait.

        Duplicates count once. Returns ``{"cached": n, "synthesized": n, "failed": n}`` (empty or over-long texts
        count as failed). Meant for start-up or a CLI command, not for a webhook turn.
        """
        counts = {"cached": 0, "synthesized": 0, "failed": 0}
        seen: set[str] = set()
        futures: list[concurrent.futures.Future] = []
        for raw in texts:
            text = normalize_text(raw)
            if not text or len(text) > MAX_INPUT_CHARS:
                counts["failed"] += 1
                continue
            key = self.key_for(text)
            if key in seen:
                continue
            seen.add(key)
            if self.cache.has(key):
                counts["cached"] += 1
            else:
                futures.append(self._submit(key, text, bounded=False))
        for future in futures:
            try:
                ok = future.result(timeout=self.background_timeout + 1.0)
            except Exception:
                ok = False
            counts["synthesized" if ok else "failed"] += 1
        return counts

    def close(self) -> None:
        """Stop the worker threads without waiting (running syntheses end by ``background_timeout``)."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- internals -------------------------------------------------------------------------------------------------
    def _submit(self, key: str, text: str, *, bounded: bool) -> concurrent.futures.Future | None:
        """Return the running job for ``key`` or start one; None if ``bounded`` and ``max_pending`` is reached."""
        with self._lock:
            future = self._inflight.get(key)
            if future is not None:
                return future
            if bounded and len(self._inflight) >= self.max_pending:
                log.warning("tts queue full (%d), not synthesizing", len(self._inflight))
                return None
            future = self._executor.submit(self._synthesize, key, text)
            self._inflight[key] = future
        future.add_done_callback(lambda done: self._forget(key, done))
        return future

    def _forget(self, key: str, future: concurrent.futures.Future) -> None:
        with self._lock:
            if self._inflight.get(key) is future:
                del self._inflight[key]

    def _synthesize(self, key: str, text: str) -> bool:
        """Fetch mp3 bytes for ``text``, check them and store them under ``key``; return success, never raise."""
        import openai

        started = time.monotonic()
        deadline = started + self.background_timeout
        try:
            if self.cache.has(key):
                return True
            kwargs: dict[str, Any] = {
                "model": self.model,
                "voice": self.voice,
                "input": text,
                "response_format": "mp3",
                "timeout": self.background_timeout,
            }
            if self.instructions:
                kwargs["instructions"] = self.instructions
            data = bytearray()
            with self.client.audio.speech.with_streaming_response.create(**kwargs) as response:
                content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if content_type and not content_type.startswith(("audio/", "application/octet-stream")):
                    raise _SynthesisFailed("content_type")
                for chunk in response.iter_bytes(64 * 1024):
                    data += chunk
                    if len(data) > self.max_bytes:
                        raise _SynthesisFailed("too_large")
                    if time.monotonic() > deadline:
                        raise _SynthesisFailed("timeout")
            if not looks_like_mp3(data):
                raise _SynthesisFailed("not_mp3")
            self.cache.put(key, bytes(data))
            log.info("tts synthesized %s in %d ms", short_key(key), (time.monotonic() - started) * 1000)
            return True
        except _SynthesisFailed as exc:
            reason = exc.reason
        except openai.APITimeoutError:
            reason = "timeout"
        except openai.APIStatusError as exc:
            reason = f"http_{exc.status_code}"
        except openai.APIConnectionError:
            reason = "connection"
        except Exception as exc:
            reason = type(exc).__name__
        log.warning("tts synthesis of %s failed: reason=%s after %d ms", short_key(key), reason,
                    (time.monotonic() - started) * 1000)
        return False


# -- personal audio retention -----------------------------------------------------------------------------------------


def delete_call_audio(call_sids: Iterable[str]) -> int:
    """Delete the personal audio of these calls from the app's TTS store (inside an app context); return how many
    files went. Called by the tickets worker on a ticket's first attempt (the call is over) and when ``calls
    forget``/``calls purge`` erase calls. CallSids that are not strings are skipped.

    Never raises: a storage failure is logged (error class only, no CallSid) and the files are left to
    :func:`expire_call_audio`. Audio a background synthesis stores after this runs is left to it too.
    """
    store = current_app.extensions.get("tts_cache")
    if store is None:
        return 0
    secret = current_app.config.get("SECRET_KEY") or ""
    removed = 0
    for sid in call_sids:
        if not isinstance(sid, str) or not sid:
            continue
        try:
            removed += store.delete_group(call_group(secret, sid))
        except Exception as exc:
            log.warning("tts call audio not deleted: %s", type(exc).__name__)
    return removed


#: Smallest age (seconds) :func:`expire_call_audio` deletes at, whatever the setting says.
MIN_CALL_AUDIO_AGE_S = 60.0


def expire_call_audio(older_than_s: float | None = None) -> int:
    """Delete every call's personal audio stored more than ``older_than_s`` seconds ago (default
    ``TTS_CALL_AUDIO_MAX_AGE_S``, 14,400 s: Twilio's default and largest call ``timeLimit`` is 4 hours, so no call
    still speaking loses a prompt; never under 60 s); return how many files went. Catches what
    :func:`delete_call_audio` missed: a failed deletion, a changed ``SECRET_KEY``, a synthesis that finished after
    the call ended, a call whose ticket the worker has not reached. Never raises.
    https://www.twilio.com/docs/voice/api/call-resource#create-a-call-resource (``TimeLimit``)
    """
    store = current_app.extensions.get("tts_cache")
    if store is None:
        return 0
    if older_than_s is None:
        older_than_s = float(current_app.config.get("TTS_CALL_AUDIO_MAX_AGE_S") or 14_400)
    older_than_s = max(MIN_CALL_AUDIO_AGE_S, older_than_s)  # never a prompt Twilio has not fetched yet
    try:
        removed = store.expire_calls(older_than_s)
    except Exception as exc:
        log.warning("tts call audio expiry failed: %s", type(exc).__name__)
        return 0
    if removed:
        log.info("tts call audio expired: %d files", removed)
    return removed


# -- route ---------------------------------------------------------------------------------------------------------


def _cacheable(response: Response, key: str) -> Response:
    response.set_etag(key)
    response.cache_control.public = True
    response.cache_control.max_age = CACHE_MAX_AGE
    response.cache_control.immutable = True
    return response


@bp.get("/tts/<key>.mp3")
def audio(key: str):
    """Serve a cached mp3 from ``app.extensions["tts_cache"]`` (any :class:`TTSStore`) for Twilio ``<Play>``.

    Unsigned GET/HEAD. 404 unless ``key`` is 64 lower-case hex chars and stored; 503 if the shared storage fails
    (a bucket error or timeout: not cacheable, unlike a 404). 200 is ``audio/mpeg`` with ETag = key and
    ``Cache-Control: public, max-age=31536000, immutable``; an ``If-None-Match`` naming the key (or ``*``) gets a
    304 without reading the file or object (contents never change for a key); ``Range`` → 206 via
    ``send_file(conditional=True)``. Conditional requests: https://www.rfc-editor.org/rfc/rfc9110#section-13.1.2
    """
    if not KEY_RE.fullmatch(key):
        abort(404)
    cache: TTSStore = current_app.extensions["tts_cache"]
    if request.if_none_match and request.if_none_match.contains_weak(key):
        if not cache.has(key):
            abort(404)
        return _cacheable(Response(status=304), key)
    return _cacheable(_send(cache, key, etag=key, max_age=CACHE_MAX_AGE), key)


@bp.get("/tts/call/<group>/<key>.mp3")
def call_audio(group: str, key: str):
    """Serve one call's personal mp3 (``call/<group>/<key>``, see :func:`call_key`) for Twilio ``<Play>``.

    Like :func:`audio`, but ``Cache-Control: private, no-store`` and no ETag: the file is deleted when the call
    ends, and no proxy should keep a caller's name or email read-back. 404 unless both parts are 64 lower-case hex
    chars and the file is stored; 503 if the storage fails; ``Range`` → 206.
    """
    if not (KEY_RE.fullmatch(group) and KEY_RE.fullmatch(key)):
        abort(404)
    response = _send(current_app.extensions["tts_cache"], f"{CALL_PREFIX}{group}/{key}", etag=False, max_age=None)
    response.cache_control.no_store = True
    response.cache_control.private = True
    return response


def _send(cache: TTSStore, key: str, *, etag: str | bool, max_age: int | None) -> Response:
    """The ``audio/mpeg`` response for a store key (Range supported); aborts with 404 if missing, 503 on failure."""
    try:
        source = cache.source(key)
    except (ValueError, FileNotFoundError):
        abort(404)
    except OSError as exc:  # TTSStorageError from a bucket, or an unreadable shared directory
        log.warning("tts serve of %s failed: %s", short_key(key), type(exc).__name__)
        abort(503)
    if source is None:
        abort(404)
    body = source if isinstance(source, Path) else io.BytesIO(source)
    try:
        response = send_file(body, mimetype="audio/mpeg", conditional=True, etag=etag, max_age=max_age)
    except FileNotFoundError:  # removed between source() and open
        abort(404)
    return response
