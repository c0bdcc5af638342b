"""Shared storage for the TTS mp3 cache: an S3-compatible bucket (:class:`S3TTSCache`) and the factory that picks
the backend from the app config (:func:`make_tts_cache`).

Several callflow instances behind a load balancer must serve any ``/tts/<key>.mp3`` another instance synthesized,
so the cache is either a directory they all mount (:class:`callflow.tts.TTSCache` with ``TTS_CACHE_DIR``) or one
bucket (``TTS_STORAGE=s3``). Both implement :class:`callflow.tts.TTSStore`.

Settings (see ``.env.example``)::

    TTS_STORAGE=dir | s3          default dir
    TTS_CACHE_DIR=/mnt/shared/tts  dir backend (default <instance>/tts)
    TTS_S3_BUCKET=callflow-tts     required for s3
    TTS_S3_PREFIX=tts/             object key prefix ("/" for the bucket root); objects are <prefix><sha256>.mp3
    TTS_S3_ENDPOINT_URL=           S3-compatible service (MinIO, Cloudflare R2, Ceph, ...); empty: AWS S3
    TTS_S3_REGION=                 empty: boto3's own lookup (AWS_REGION / AWS_DEFAULT_REGION / config file)
    TTS_S3_ADDRESSING_STYLE=       auto | path | virtual; empty: path with an endpoint URL, else auto
    TTS_S3_TIMEOUT_S=2             connect and read timeout of each bucket request (seconds)
    TTS_S3_LOCAL_DIR=              optional per-instance read-through disk copy used for serving

Credentials are boto3's standard chain (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``,
``AWS_PROFILE``, instance or task roles): https://boto3.amazonaws.com/v1/documentation/api/latest/guide/credentials.html

Rule sources:

* botocore client config (timeouts, retries, addressing style, checksums):
  https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html and
  https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html
* S3 calls used: HeadObject (404 when missing), PutObject (atomic: readers see the old object or the whole new
  one, never part of it; ``ContentType``/``CacheControl`` stored as object metadata), GetObject (``NoSuchKey``):
  https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html ,
  https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html ,
  https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
* S3 is strongly read-after-write consistent, so an object another instance just put is visible to every HEAD/GET:
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/Welcome.html#ConsistencyModel
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from pathlib import Path
from typing import Any
from typing import Callable
from typing import Mapping

from cachetools import TTLCache

from .tts import CACHE_CONTROL
from .tts import CALL_PREFIX
from .tts import KEY_RE
from .tts import NO_STORE
from .tts import STORE_KEY_RE
from .tts import TTSCache
from .tts import TTSStorageError
from .tts import is_call_key
from .tts import looks_like_mp3
from .tts import short_key

log = logging.getLogger(__name__)

STORAGE_KINDS = ("dir", "s3")
ADDRESSING_STYLES = ("auto", "path", "virtual")
_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}

_session: Any = None  # boto3.session.Session shared by the S3TTSCache clients of this process
_session_lock = threading.Lock()


class S3TTSCache:
    """The TTS mp3 cache in an S3-compatible bucket: object ``<prefix><key>.mp3`` per key, shared by every instance.

    Same interface as :class:`callflow.tts.TTSCache` (:class:`callflow.tts.TTSStore`): static :meth:`key`,
    :meth:`has`, :meth:`put`, :meth:`get`, :meth:`source`, :meth:`delete_group`, :meth:`expire_calls`.

    Latency and failure rules, so a slow or broken bucket never stalls a call turn:

    * every request has ``timeout`` seconds to connect and ``timeout`` seconds per read, and at most
      ``max_attempts`` attempts in total (botocore "standard" retry mode, jittered backoff under 1 s before the
      second attempt): with the defaults (2 s, 2 attempts) a blackholed bucket costs at most about 5 s once per
      ``failure_cooldown``, a refused connection well under 1 s;
    * :meth:`has` never raises: a failure means False (the caller speaks ``<Say>``); :meth:`put` raises
      :class:`callflow.tts.TTSStorageError` (an ``OSError``), which :class:`callflow.tts.OpenAISpeech` counts as a
      failed synthesis;
    * after a failure the bucket is skipped for ``failure_cooldown`` seconds (:meth:`has` False, :meth:`put`,
      :meth:`get` raise at once) instead of waiting for a timeout on every prompt;
    * keys seen to exist are remembered per process (at most ``known_max`` keys for ``known_ttl`` seconds), so a
      repeated prompt costs no HEAD; objects are immutable per key, the TTL only bounds how long a key deleted
      from the bucket (lifecycle rule, manual clean-up) is still announced. Missing keys are never remembered,
      since another instance may store them any moment.

    Only key prefixes and error classes/codes are logged, never the prompt text.

    Permissions: ``s3:GetObject``, ``s3:PutObject`` on the prefix and ``s3:ListBucket`` on the bucket. Without
    ListBucket, S3 answers 403 instead of 404 for a missing key, which reads as a failure (logged ``403``, cool-down)
    on every new prompt: https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html#API_HeadObject_RequestSyntax
    ``s3:DeleteObject`` on the prefix deletes calls' personal audio (``<prefix>call/``, :meth:`delete_group`,
    :meth:`expire_calls`); without it that audio stays until a bucket lifecycle rule expires it.

    :param bucket: bucket name (must exist; this class never creates it).
    :param prefix: object key "folder", e.g. ``"tts/"``; surrounding slashes are normalised (``"tts"`` and
        ``"/tts/"`` both mean ``tts/``; ``""`` or ``"/"`` mean the bucket root).
    :param endpoint_url: ``http(s)://host[:port]`` of an S3-compatible service; None for AWS S3.
    :param region: region name; None lets boto3 find it (env, config file), S3 falling back to ``us-east-1``.
    :param addressing_style: ``"auto"``, ``"path"`` or ``"virtual"``; None means ``"path"`` with an
        ``endpoint_url`` (what MinIO and most self-hosted services need) and ``"auto"`` otherwise.
    :param timeout: connect and read timeout in seconds of each request (> 0).
    :param max_attempts: total attempts per request, first one included (>= 1).
    :param failure_cooldown: seconds the bucket is skipped after a failure (0 disables).
    :param known_max: entries in the per-process memory of existing keys; ``known_ttl``: their lifetime (seconds).
    :param max_bytes: largest object :meth:`get` reads (bytes); larger ones count as missing.
    :param local_dir: optional directory for a per-instance read-through copy: :meth:`put` also writes it and
        :meth:`source` serves from it (fetching from the bucket once); None serves bytes from the bucket.
    :param client: a ready boto3 S3 client (tests); otherwise one is built from the parameters above.
    :raises ValueError: empty bucket, bad endpoint URL, addressing style, timeout or attempts.
    """

    key = staticmethod(TTSCache.key)

    def __init__(
        self,
        bucket: str,
        prefix: str = "tts/",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        addressing_style: str | None = None,
        timeout: float = 2.0,
        max_attempts: int = 2,
        failure_cooldown: float = 5.0,
        known_max: int = 10_000,
        known_ttl: float = 3600.0,
        max_bytes: int = 10 * 1024 * 1024,
        local_dir: str | os.PathLike | None = None,
        max_pool_connections: int = 16,
        client: Any = None,
    ) -> None:
        if not bucket or not str(bucket).strip():
            raise ValueError("S3 TTS storage needs a bucket name (TTS_S3_BUCKET)")
        if endpoint_url and not re.match(r"^https?://[^/\s]+", endpoint_url):
            raise ValueError("TTS_S3_ENDPOINT_URL must be an absolute http(s) URL")
        if addressing_style and addressing_style not in ADDRESSING_STYLES:
            raise ValueError(f"TTS_S3_ADDRESSING_STYLE must be one of {', '.join(ADDRESSING_STYLES)}")
        if not timeout or timeout <= 0:
            raise ValueError("TTS_S3_TIMEOUT_S must be > 0 seconds")
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.bucket = str(bucket).strip()
        prefix = (prefix or "").strip().strip("/")
        self.prefix = f"{prefix}/" if prefix else ""
        self.endpoint_url = endpoint_url or None
        self.timeout = float(timeout)
        self.failure_cooldown = max(0.0, float(failure_cooldown))
        self.max_bytes = max_bytes
        self.local = TTSCache(local_dir) if local_dir else None
        self._known: TTLCache = TTLCache(maxsize=known_max, ttl=known_ttl)
        self._lock = threading.Lock()
        self._down_until = 0.0
        if client is None:
            client = self._make_client(region, addressing_style, max_attempts, max_pool_connections)
        self.client = client
        from botocore.exceptions import BotoCoreError
        from botocore.exceptions import ClientError

        self._client_error = ClientError
        self._errors = (BotoCoreError, ClientError)

    def _make_client(self, region: str | None, addressing_style: str | None, max_attempts: int, pool: int) -> Any:
        import boto3
        from botocore.config import Config

        style = addressing_style or ("path" if self.endpoint_url else "auto")
        options: dict[str, Any] = dict(
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
            retries={"total_max_attempts": max_attempts, "mode": "standard"},
            s3={"addressing_style": style},
            max_pool_connections=pool,
        )
        if self.endpoint_url:  # many S3-compatible services reject the newer default CRC checksum headers
            options.update(request_checksum_calculation="when_required", response_checksum_validation="when_required")
        global _session
        # One private session per process (loading the S3 model costs ~0.4 s per session); clients are thread-safe,
        # client creation from a session is not, hence the lock. Credentials are resolved on the first client:
        # https://boto3.amazonaws.com/v1/documentation/api/latest/guide/clients.html#multithreading-or-multiprocessing-with-clients
        with _session_lock:
            if _session is None:
                _session = boto3.session.Session()
            client = _session.client(
                "s3", endpoint_url=self.endpoint_url, region_name=region or None, config=Config(**options)
            )
        client.meta.events.register("before-send.s3.PutObject", _drop_expect_continue)
        return client

    # -- helpers -----------------------------------------------------------------------------------------------------
    def object_key(self, key: str) -> str:
        """Return the object key ``<prefix><key>.mp3`` (``<prefix>call/<group>/<key>.mp3`` for a call's personal
        audio). :raises ValueError: ``key`` is not a store key (:data:`callflow.tts.STORE_KEY_RE`)."""
        if not isinstance(key, str) or not STORE_KEY_RE.fullmatch(key):
            raise ValueError("invalid TTS cache key")
        return f"{self.prefix}{key}.mp3"

    def _local_for(self, key: str) -> TTSCache | None:
        """The per-instance copy, never for personal audio: another instance could not delete it."""
        return None if is_call_key(key) else self.local

    @property
    def available(self) -> bool:
        """False while the bucket is skipped after a failure (see ``failure_cooldown``)."""
        return time.monotonic() >= self._down_until

    def _remember(self, key: str) -> None:
        with self._lock:
            self._known[key] = True

    def _forget(self, key: str) -> None:
        with self._lock:
            self._known.pop(key, None)

    def _is_known(self, key: str) -> bool:
        with self._lock:
            return key in self._known

    def _error_code(self, exc: BaseException) -> str:
        if isinstance(exc, self._client_error):
            error = exc.response.get("Error", {}) if isinstance(exc.response, dict) else {}
            return str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or "")
        return ""

    def _failed(self, operation: str, key: str, exc: BaseException) -> TTSStorageError:
        """Log a bucket failure (no text, no URL), start the cool-down and return the error to raise."""
        self._down_until = time.monotonic() + self.failure_cooldown
        name = type(exc).__name__
        code = self._error_code(exc)
        detail = f"{name} {code}" if code and code != name else name
        log.warning("tts s3 %s of %s failed: %s", operation, short_key(key), detail)
        return TTSStorageError(f"S3 {operation} failed: {detail}")

    def _check_available(self, operation: str) -> None:
        if not self.available:
            raise TTSStorageError(f"S3 {operation} skipped: bucket failed less than {self.failure_cooldown:g} s ago")

    # -- TTSStore ----------------------------------------------------------------------------------------------------
    def has(self, key: str) -> bool:
        """Tell whether a non-empty ``audio/mpeg`` object is stored for ``key``: memory, then the local copy, then
        a HEAD.

        False for malformed keys, missing objects, while cooling down after a failure, and on any error or
        timeout (then logged and the cool-down starts). Never raises.
        """
        try:
            name = self.object_key(key)
        except ValueError:
            return False
        if not self.available:
            return False
        local = self._local_for(key)
        if self._is_known(key) or (local is not None and local.has(key)):
            return True
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=name)
        except self._errors as exc:
            if self._error_code(exc) in _MISSING_CODES:
                return False
            self._failed("head", key, exc)
            return False
        except Exception as exc:  # never break a call turn over the cache
            self._failed("head", key, exc)
            return False
        content_type = str(head.get("ContentType") or "audio/mpeg").split(";")[0].strip().lower()
        if int(head.get("ContentLength") or 0) <= 0 or content_type != "audio/mpeg":
            return False  # not written by put(): never announced as playable
        self._remember(key)
        return True

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` as ``<prefix><key>.mp3`` with ``Content-Type: audio/mpeg`` and ``Cache-Control: public,
        max-age=31536000, immutable`` (one PutObject, atomic for readers), then in the local copy if configured.
        A call's personal audio gets ``Cache-Control: private, no-store`` and no local copy.

        :raises ValueError: malformed key, or ``data`` does not look like mp3 (nothing is sent).
        :raises TTSStorageError: the bucket failed or timed out, or is cooling down after a failure.
        """
        name = self.object_key(key)
        data = bytes(data)
        if not looks_like_mp3(data):
            raise ValueError("refusing to cache data that is not mp3")
        self._check_available("put")
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=name, Body=data, ContentType="audio/mpeg",
                CacheControl=NO_STORE if is_call_key(key) else CACHE_CONTROL,
            )
        except Exception as exc:
            raise self._failed("put", key, exc) from None
        self._remember(key)
        self._store_local(key, data)

    def get(self, key: str) -> bytes | None:
        """Return the stored mp3 bytes for ``key`` (local copy first, then GetObject), or None when missing,
        malformed, larger than ``max_bytes`` or not mp3 (a foreign object is never served as audio).

        :raises TTSStorageError: the bucket failed or timed out, or is cooling down after a failure.
        """
        try:
            name = self.object_key(key)
        except ValueError:
            return None
        local = self._local_for(key)
        if local is not None:
            try:
                data = local.get(key)
            except OSError:
                data = None
            if data:
                return data
        self._check_available("get")
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=name)
            body = response["Body"]
            try:
                if int(response.get("ContentLength") or 0) > self.max_bytes:
                    log.warning("tts s3 object %s is over %d bytes, not served", short_key(key), self.max_bytes)
                    return None
                data = body.read(self.max_bytes + 1)
            finally:
                body.close()
        except self._errors as exc:
            if self._error_code(exc) in _MISSING_CODES:
                self._forget(key)
                return None
            raise self._failed("get", key, exc) from None
        except Exception as exc:
            raise self._failed("get", key, exc) from None
        if not data or len(data) > self.max_bytes or not looks_like_mp3(data):
            log.warning("tts s3 object %s is not a playable mp3, not served", short_key(key))
            self._forget(key)
            return None
        self._remember(key)
        return data

    def source(self, key: str) -> Path | bytes | None:
        """What the route sends for ``key``: the local copy's path (fetched from the bucket once and kept, when
        ``local_dir`` is set), else the object's bytes; None when missing.

        :raises TTSStorageError: the bucket failed or timed out.
        """
        local = self._local_for(key)
        if local is not None and local.has(key):
            return local.path(key)
        data = self.get(key)
        if data is None:
            return None
        if self._store_local(key, data):
            return self.local.path(key)
        return data

    def _store_local(self, key: str, data: bytes) -> bool:
        """Best-effort write of the local copy; True if it is there."""
        if self._local_for(key) is None:
            return False
        try:
            self.local.put(key, data)
            return True
        except (OSError, ValueError) as exc:
            log.warning("tts local copy of %s failed: %s", short_key(key), type(exc).__name__)
            return False

    def delete_group(self, group: str) -> int:
        """Delete one call's personal audio: every object under ``<prefix>call/<group>/`` (ListObjectsV2, then
        DeleteObjects per page of 1,000); return how many objects went.

        :raises ValueError: ``group`` is not 64 lower-case hex chars.
        :raises TTSStorageError: the bucket failed, timed out or refused a key (needs ``s3:DeleteObject``).
        """
        if not isinstance(group, str) or not KEY_RE.fullmatch(group):
            raise ValueError("invalid TTS call group")
        return self._delete_listed(f"{CALL_PREFIX}{group}/", lambda item: True, label=f"{CALL_PREFIX}{group[:12]}")

    def expire_calls(self, older_than_s: float) -> int:
        """Delete every object under ``<prefix>call/`` whose ``LastModified`` is more than ``older_than_s`` seconds
        ago; return how many went. :raises TTSStorageError: the bucket failed or timed out."""
        cutoff = datetime.now(timezone.utc) - timedelta(seconds=older_than_s)
        return self._delete_listed(CALL_PREFIX, lambda item: item["LastModified"] < cutoff, label=f"{CALL_PREFIX}*")

    def prune_shared(self, keep: set[str], dry_run: bool = False) -> int:
        """Delete the shared objects ``<prefix><key>.mp3`` whose key is not in ``keep`` (objects under
        ``<prefix>call/`` are left to :meth:`expire_calls`), and the same files of this instance's local copy;
        return how many objects went (or would go, on ``dry_run``). :raises TTSStorageError: the bucket failed."""

        def stale(item: dict) -> bool:
            key = item["Key"][len(self.prefix): -len(".mp3")]
            return bool(KEY_RE.fullmatch(key)) and key not in keep

        count = self._delete_listed("", stale, label="shared audio", top_level=True, dry_run=dry_run)
        if self.local is not None:
            self.local.prune_shared(keep, dry_run=dry_run)
        return count

    def _delete_listed(self, folder: str, wanted: Callable[[dict], bool], *, label: str, top_level: bool = False,
                       dry_run: bool = False) -> int:
        """Delete the ``*.mp3`` objects under ``<prefix><folder>`` (only its top level with ``top_level``) for
        which ``wanted(listed_item)`` is true; return how many went (would go, on ``dry_run``).
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html (at most 1,000 keys a request;
        a ListObjectsV2 page has at most 1,000)

        A failure does not start the cool-down: a missing ``s3:DeleteObject`` permission must not turn the
        prompts of calls still running into ``<Say>``. :raises TTSStorageError: on any failure."""
        self._check_available("delete")
        removed = 0
        listing = {"Bucket": self.bucket, "Prefix": f"{self.prefix}{folder}"}
        if top_level:
            listing["Delimiter"] = "/"
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(**listing):
                names = [item["Key"] for item in page.get("Contents") or ()
                         if item["Key"].endswith(".mp3") and wanted(item)]
                if names and not dry_run:
                    result = self.client.delete_objects(
                        Bucket=self.bucket, Delete={"Objects": [{"Key": n} for n in names], "Quiet": True}
                    )
                    if result.get("Errors"):
                        raise RuntimeError(f"{len(result['Errors'])} not deleted: {result['Errors'][0].get('Code')}")
                    for name in names:
                        self._forget(name[len(self.prefix): -len(".mp3")])
                removed += len(names)
        except Exception as exc:
            name = type(exc).__name__
            code = self._error_code(exc)
            detail = f"{name} {code}" if code and code != name else name
            log.warning("tts s3 delete of %s failed: %s", label, detail)
            raise TTSStorageError(f"S3 delete failed: {detail}") from None
        return removed

    def __repr__(self) -> str:
        return f"S3TTSCache(bucket={self.bucket!r}, prefix={self.prefix!r}, endpoint_url={self.endpoint_url!r})"


def _drop_expect_continue(request: Any, **_: Any) -> None:
    """Send PutObject bodies at once instead of after ``Expect: 100-continue``: botocore adds it to every upload,
    and a server or proxy that never answers ``100`` costs a fixed 1 s wait per put, for bodies of a few KB."""
    if "Expect" in request.headers:
        del request.headers["Expect"]


def make_tts_cache(config: Mapping[str, Any], instance_path: str | os.PathLike) -> TTSCache | S3TTSCache:
    """Build the TTS cache backend ``app.extensions["tts_cache"]`` from the app config.

    ``TTS_STORAGE`` ``dir`` (default): :class:`callflow.tts.TTSCache` in ``TTS_CACHE_DIR`` or
    ``<instance_path>/tts``. ``s3``: :class:`S3TTSCache` from the ``TTS_S3_*`` settings (module docstring). Makes no
    network request (a wrong bucket or credentials show as logged ``has``/``put`` failures and ``<Say>`` prompts).

    :raises ValueError: unknown ``TTS_STORAGE``, ``s3`` without ``TTS_S3_BUCKET``, a bad endpoint URL, addressing
        style or timeout; so a misconfigured app fails at ``create_app``.
    """
    kind = str(config.get("TTS_STORAGE") or "dir").strip().lower()
    if kind not in STORAGE_KINDS:
        raise ValueError(f"TTS_STORAGE must be one of {', '.join(STORAGE_KINDS)}, not {kind!r}")
    if kind == "dir":
        return TTSCache(config.get("TTS_CACHE_DIR") or Path(instance_path) / "tts")
    bucket = (config.get("TTS_S3_BUCKET") or "").strip()
    if not bucket:
        raise ValueError("TTS_STORAGE=s3 needs TTS_S3_BUCKET")
    prefix = config.get("TTS_S3_PREFIX")
    try:
        timeout = float(config.get("TTS_S3_TIMEOUT_S") or 2.0)
    except (TypeError, ValueError):
        raise ValueError("TTS_S3_TIMEOUT_S must be a number of seconds") from None
    return S3TTSCache(
        bucket,
        "tts/" if prefix is None else str(prefix),
        endpoint_url=(config.get("TTS_S3_ENDPOINT_URL") or "").strip() or None,
        region=(config.get("TTS_S3_REGION") or "").strip() or None,
        addressing_style=(config.get("TTS_S3_ADDRESSING_STYLE") or "").strip().lower() or None,
        timeout=timeout,
        local_dir=config.get("TTS_S3_LOCAL_DIR") or None,
    )
