"""Tests for the shared TTS cache backends (callflow.tts_storage): an S3-compatible bucket served by moto's server
mode on loopback and driven by the real boto3 client, plus the backend choice from the app config.

moto and boto3 are test/runtime dependencies; without them this module is skipped on a developer's machine and
fails in CI (``CI`` set), like the PostgreSQL leg.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid

import pytest
from flask import Flask

try:
    import boto3
    from botocore.config import Config as BotoConfig
    from moto.server import ThreadedMotoServer
except ImportError as exc:  # pragma: no cover - depends on the machine
    if os.environ.get("CI"):
        raise
    pytest.skip(f"S3 storage tests need boto3 and moto[server]: {exc}", allow_module_level=True)

from callflow.llm import make_openai_client
from callflow.tts import OpenAISpeech
from callflow.tts import TTSCache
from callflow.tts import TTSStorageError
from callflow.tts import bp
from callflow.tts import looks_like_mp3
from callflow.tts_storage import S3TTSCache
from callflow.tts_storage import make_tts_cache
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.openai_server import silent_mp3

BASE = "https://callflow.example.test"
SPEECH = "/v1/audio/speech"
CACHE_CONTROL = {"public", "max-age=31536000", "immutable"}


# -- fixtures ------------------------------------------------------------------------------------------------------


def _start_moto() -> tuple[ThreadedMotoServer, str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


@pytest.fixture(scope="module")
def moto_endpoint():
    """One moto S3 server on 127.0.0.1 and a free port for the module; yields its endpoint URL."""
    server, endpoint = _start_moto()
    yield endpoint
    server.stop()


@pytest.fixture(scope="module", autouse=True)
def aws_env(tmp_path_factory):
    """Dummy credentials in the standard AWS variables, and nothing else of the machine's AWS setup or proxies
    (module-wide: the boto3 session that S3TTSCache shares per process resolves credentials once)."""
    tmp_path = tmp_path_factory.mktemp("aws")
    with pytest.MonkeyPatch.context() as monkeypatch:
        _aws_env(monkeypatch, tmp_path)
        yield


def _aws_env(monkeypatch, tmp_path) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                 "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy",
                 "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture(scope="module")
def s3(moto_endpoint, aws_env):
    """A plain boto3 client on the moto server (test-side checks and setup)."""
    return boto3.session.Session().client(
        "s3", endpoint_url=moto_endpoint, region_name="us-east-1", config=BotoConfig(s3={"addressing_style": "path"})
    )


@pytest.fixture
def bucket(s3):
    """A fresh, empty bucket per test."""
    name = f"tts-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def _cache(endpoint: str, bucket: str, **kwargs) -> S3TTSCache:
    options = dict(prefix="tts/", endpoint_url=endpoint, timeout=2.0)
    options.update(kwargs)
    return S3TTSCache(bucket, **options)


@pytest.fixture
def cache(moto_endpoint, bucket):
    """An S3TTSCache on the test's bucket (one "instance")."""
    return _cache(moto_endpoint, bucket)


def _count_calls(cache: S3TTSCache, operation: str) -> list[int]:
    """Count ``operation`` (e.g. ``HeadObject``) requests the cache's client makes."""
    calls: list[int] = []
    cache.client.meta.events.register(f"before-call.s3.{operation}", lambda **_: calls.append(1))
    return calls


def _keys(s3, bucket: str) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def _route_client(cache) -> "Flask.test_client_class":
    app = Flask(__name__)
    app.config["TESTING"] = True
    app.extensions["tts_cache"] = cache
    app.register_blueprint(bp)
    return app.test_client()


@pytest.fixture(scope="module")
def openai_server():
    """A fake OpenAI server for the module."""
    with FakeOpenAI(api_key="test") as fake_server:
        yield fake_server


@pytest.fixture
def fake(openai_server):
    openai_server.reset()
    yield openai_server
    openai_server.reset()


@pytest.fixture(scope="module")
def openai_client(openai_server):
    return make_openai_client(api_key="test", base_url=openai_server.url + "/v1", timeout=2.0)


def _speech(client, cache, **kwargs) -> OpenAISpeech:
    options = dict(model="gpt-4o-mini-tts", voice="alloy", instructions="Warm.", timeout=1.5, public_base_url=BASE)
    options.update(kwargs)
    return OpenAISpeech(client, cache, **options)


KEY = TTSCache.key("Hello", "alloy", "gpt-4o-mini-tts")


# -- has / put / get -----------------------------------------------------------------------------------------------


def test_put_has_get_round_trip(cache, s3, bucket):
    assert S3TTSCache.key("Hello", "alloy", "gpt-4o-mini-tts") == cache.key("Hello", "alloy", "gpt-4o-mini-tts") == KEY
    assert not cache.has(KEY)
    assert cache.get(KEY) is None
    cache.put(KEY, silent_mp3(4))
    assert cache.has(KEY)
    assert cache.get(KEY) == silent_mp3(4)
    assert _keys(s3, bucket) == [f"tts/{KEY}.mp3"]
    head = s3.head_object(Bucket=bucket, Key=f"tts/{KEY}.mp3")
    assert head["ContentType"] == "audio/mpeg"
    assert {d.strip() for d in head["CacheControl"].split(",")} == CACHE_CONTROL
    cache.put(KEY, silent_mp3(2))  # same key again: a whole overwrite
    assert cache.get(KEY) == silent_mp3(2)


def test_malformed_keys(cache):
    for bad in ("../../etc/passwd", "A" * 64, "0" * 63, "", None):
        assert not cache.has(bad)
        assert cache.get(bad) is None
        assert cache.source(bad) is None
        with pytest.raises(ValueError):
            cache.put(bad, silent_mp3())


@pytest.mark.parametrize("data", [b"not audio", b"<html>busy</html>", b"\x00" * 500, b""])
def test_non_mp3_is_never_stored(cache, s3, bucket, data):
    calls = _count_calls(cache, "PutObject")
    with pytest.raises(ValueError):
        cache.put(KEY, data)
    assert calls == [] and _keys(s3, bucket) == []
    assert not cache.has(KEY)


def test_foreign_object_is_not_served_as_audio(cache, s3, bucket):
    s3.put_object(Bucket=bucket, Key=f"tts/{KEY}.mp3", Body=b"<html>not audio</html>", ContentType="text/html")
    assert not cache.has(KEY)  # wrong content type
    assert cache.get(KEY) is None  # and not mp3 bytes
    s3.put_object(Bucket=bucket, Key=f"tts/{KEY}.mp3", Body=b"garbage" * 20, ContentType="audio/mpeg")
    assert cache.get(KEY) is None
    with _route_client(cache).get(f"/tts/{KEY}.mp3") as response:
        assert response.status_code == 404


def test_known_keys_skip_the_head_request(cache):
    heads = _count_calls(cache, "HeadObject")
    assert not cache.has(KEY) and not cache.has(KEY)
    assert len(heads) == 2  # misses are never remembered: another instance may store the key any moment
    cache.put(KEY, silent_mp3())
    for _ in range(5):
        assert cache.has(KEY)
    assert len(heads) == 2
    other = TTSCache.key("Other", "alloy", "m")
    cache.client.put_object(Bucket=cache.bucket, Key=f"tts/{other}.mp3", Body=silent_mp3(), ContentType="audio/mpeg")
    assert cache.has(other) and cache.has(other)
    assert len(heads) == 3


def test_known_keys_memory_is_bounded(moto_endpoint, bucket):
    cache = _cache(moto_endpoint, bucket, known_max=2)
    keys = [TTSCache.key(f"text {i}", "alloy", "m") for i in range(4)]
    for key in keys:
        cache.put(key, silent_mp3())
    assert len(cache._known) == 2
    assert all(cache.has(key) for key in keys)  # the forgotten ones are found with a HEAD


def test_prefix_is_normalised(moto_endpoint, bucket, s3):
    for prefix, expected in (("voice/prompts", "voice/prompts/"), ("/a/", "a/"), ("", ""), ("/", "")):
        cache = _cache(moto_endpoint, bucket, prefix=prefix)
        assert cache.object_key(KEY) == f"{expected}{KEY}.mp3"
    _cache(moto_endpoint, bucket, prefix="").put(KEY, silent_mp3())
    assert _keys(s3, bucket) == [f"{KEY}.mp3"]


# -- the route on an S3 backend ------------------------------------------------------------------------------------


def test_route_serves_from_bucket(cache):
    cache.put(KEY, silent_mp3(4))
    client = _route_client(cache)
    with client.get(f"/tts/{KEY}.mp3") as response:
        data = response.data
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "audio/mpeg"
    assert data == silent_mp3(4) and response.content_length == len(data)
    assert response.headers["ETag"] == f'"{KEY}"'
    assert {d.strip() for d in response.headers["Cache-Control"].split(",")} == CACHE_CONTROL

    gets = _count_calls(cache, "GetObject")
    for tag in (f'"{KEY}"', f'W/"{KEY}"', "*", f'"other", "{KEY}"'):
        with client.get(f"/tts/{KEY}.mp3", headers={"If-None-Match": tag}) as cached:
            assert cached.status_code == 304 and cached.data == b""
            assert cached.headers["ETag"] == f'"{KEY}"'
            assert "immutable" in cached.headers["Cache-Control"]
    assert gets == []  # a revalidation never downloads the object
    with client.get(f"/tts/{KEY}.mp3", headers={"If-None-Match": '"something-else"'}) as changed:
        assert changed.status_code == 200 and changed.data == silent_mp3(4)
    with client.get(f"/tts/{KEY}.mp3", headers={"Range": "bytes=0-3"}) as partial:
        assert partial.status_code == 206 and partial.data == silent_mp3(1)[:4]
    with client.head(f"/tts/{KEY}.mp3") as head:
        assert head.status_code == 200 and head.headers["Content-Type"] == "audio/mpeg"


@pytest.mark.parametrize("name", ["abc", "A" * 64, "g" * 64, "0" * 63, "..%2F..%2Fetc%2Fpasswd", "0" * 64])
def test_route_404s_on_bucket(cache, name):
    client = _route_client(cache)
    with client.get(f"/tts/{name}.mp3") as response:
        assert response.status_code == 404
    with client.get(f"/tts/{name}.mp3", headers={"If-None-Match": f'"{name}"'}) as response:
        assert response.status_code == 404


def test_route_serves_from_local_read_through_copy(moto_endpoint, bucket, s3, tmp_path):
    writer = _cache(moto_endpoint, bucket)
    reader = _cache(moto_endpoint, bucket, local_dir=tmp_path / "local")
    writer.put(KEY, silent_mp3(3))
    client = _route_client(reader)
    with client.get(f"/tts/{KEY}.mp3") as first:
        assert first.status_code == 200 and first.data == silent_mp3(3)
    assert (tmp_path / "local" / f"{KEY}.mp3").read_bytes() == silent_mp3(3)
    s3.delete_object(Bucket=bucket, Key=f"tts/{KEY}.mp3")
    gets = _count_calls(reader, "GetObject")
    with client.get(f"/tts/{KEY}.mp3", headers={"Range": "bytes=0-3"}) as again:  # from disk, no bucket request
        assert again.status_code == 206 and again.data == silent_mp3(1)[:4]
    assert gets == []
    other = TTSCache.key("Written here", "alloy", "m")
    reader.put(other, silent_mp3(2))  # put writes the local copy too
    assert (tmp_path / "local" / f"{other}.mp3").read_bytes() == silent_mp3(2)


# -- two instances sharing one bucket / one directory --------------------------------------------------------------


def test_two_instances_share_one_bucket(fake, openai_client, moto_endpoint, bucket):
    cache_a = _cache(moto_endpoint, bucket)  # instance A: its own client and key memory
    cache_b = _cache(moto_endpoint, bucket)  # instance B
    speech_a = _speech(openai_client, cache_a)
    speech_b = _speech(openai_client, cache_b)
    try:
        url = speech_a.audio_url("Thanks for calling, please hold.")
        assert url is not None and len(fake.requests_for(SPEECH)) == 1
        key = url.rsplit("/", 1)[1].removesuffix(".mp3")

        assert speech_b.audio_url("Thanks  for calling, please hold.", synthesize=False) == url
        assert speech_b.audio_url("Thanks for calling, please hold.") == url
        assert len(fake.requests_for(SPEECH)) == 1  # B never synthesized it again
        with _route_client(cache_b).get(f"/tts/{key}.mp3") as response:
            assert response.status_code == 200 and response.mimetype == "audio/mpeg"
            assert response.data == cache_a.get(key) and looks_like_mp3(response.data)
    finally:
        speech_a.close()
        speech_b.close()


def test_two_instances_share_one_directory(fake, openai_client, tmp_path):
    shared = tmp_path / "shared-tts"
    cache_a, cache_b = TTSCache(shared), TTSCache(shared)
    speech_a, speech_b = _speech(openai_client, cache_a), _speech(openai_client, cache_b)
    try:
        url = speech_a.audio_url("Your ticket is on its way.")
        assert url is not None
        key = url.rsplit("/", 1)[1].removesuffix(".mp3")
        assert speech_b.audio_url("Your ticket is on its way.", synthesize=False) == url
        with _route_client(cache_b).get(f"/tts/{key}.mp3") as response:
            assert response.status_code == 200 and response.data == cache_a.get(key)
        assert looks_like_mp3(response.data) and len(fake.requests_for(SPEECH)) == 1
    finally:
        speech_a.close()
        speech_b.close()


# -- failures and timeouts -----------------------------------------------------------------------------------------


def test_stopped_bucket_fails_fast_and_never_escapes(fake, openai_client, bucket, s3):
    server, endpoint = _start_moto()  # moto's backend is per process: the bucket exists on this server too
    cache = _cache(endpoint, bucket, timeout=1.0, failure_cooldown=30.0)
    cache.put(KEY, silent_mp3())
    speech = _speech(openai_client, cache)
    route = _route_client(cache)
    server.stop()
    try:
        other = TTSCache.key("Never stored", "alloy", "m")
        started = time.monotonic()
        assert not cache.has(other)  # connection refused, one retry
        assert time.monotonic() - started < 2.0
        assert not cache.available

        started = time.monotonic()
        assert not cache.has(KEY)  # known, but the bucket is down: <Say> rather than a URL that may 404
        with pytest.raises(TTSStorageError):
            cache.put(other, silent_mp3())
        with pytest.raises(TTSStorageError):
            cache.get(KEY)
        with route.get(f"/tts/{KEY}.mp3") as response:
            assert response.status_code == 503  # a storage failure, not a (cacheable) 404
        with route.get(f"/tts/{KEY}.mp3", headers={"If-None-Match": f'"{KEY}"'}) as response:
            assert response.status_code == 404  # has() is False while the bucket is down
        assert time.monotonic() - started < 0.5  # cooling down: no request at all

        started = time.monotonic()
        assert speech.audio_url("Bucket is down.") is None  # synthesized, but not storable: <Say>, no exception
        assert time.monotonic() - started < 1.5 + 0.5
        assert speech.warm(["Bucket is down too."]) == {"cached": 0, "synthesized": 0, "failed": 1}
    finally:
        speech.close()


def test_bucket_error_on_get_is_503(cache, monkeypatch):
    cache.put(KEY, silent_mp3())
    from botocore.exceptions import EndpointConnectionError

    def broken(**kwargs):
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    monkeypatch.setattr(cache.client, "get_object", broken)
    with _route_client(cache).get(f"/tts/{KEY}.mp3") as response:
        assert response.status_code == 503
    assert not cache.available


@pytest.fixture
def silent_endpoint():
    """A loopback TCP server that accepts connections and never answers: a hung bucket."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    listener.close()


def test_hung_bucket_times_out(silent_endpoint):
    cache = S3TTSCache("hung", endpoint_url=silent_endpoint, timeout=0.3, max_attempts=1)
    started = time.monotonic()
    assert not cache.has(KEY)
    assert time.monotonic() - started < 0.3 + 0.5
    cache._down_until = 0.0  # end the cool-down to time a put too
    started = time.monotonic()
    with pytest.raises(TTSStorageError):
        cache.put(KEY, silent_mp3())
    assert time.monotonic() - started < 0.3 + 0.5


def _our_logs(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("callflow"))


def test_missing_bucket_put_fails_and_is_logged(moto_endpoint, caplog):
    cache = _cache(moto_endpoint, f"missing-{uuid.uuid4().hex[:8]}", failure_cooldown=0)
    assert not cache.has(KEY)  # a HEAD cannot tell a missing bucket from a missing key (bodiless 404)
    with pytest.raises(TTSStorageError, match="NoSuchBucket"):
        cache.put(KEY, silent_mp3())
    logs = _our_logs(caplog)
    assert f"tts s3 put of {KEY[:12]} failed: NoSuchBucket" in logs and KEY not in logs


def test_no_prompt_text_is_logged(fake, openai_client, caplog, bucket):
    server, endpoint = _start_moto()
    cache = _cache(endpoint, bucket, timeout=0.5, max_attempts=1)
    speech = _speech(openai_client, cache)
    secret = "Hello Jane Roe, jane.roe@example.com"
    try:
        assert speech.audio_url(secret) is not None
        server.stop()
        cache._known.clear()
        assert speech.audio_url(secret + " again") is None
    finally:
        speech.close()
    logs = _our_logs(caplog)
    assert "tts s3 head of" in logs and "reason=TTSStorageError" in logs
    assert "Jane" not in caplog.text and "jane.roe" not in caplog.text


# -- configuration -------------------------------------------------------------------------------------------------


def test_make_tts_cache_defaults_to_a_directory(tmp_path):
    cache = make_tts_cache({}, tmp_path)
    assert isinstance(cache, TTSCache) and cache.directory == tmp_path / "tts"
    cache = make_tts_cache({"TTS_STORAGE": "DIR", "TTS_CACHE_DIR": str(tmp_path / "x")}, tmp_path)
    assert isinstance(cache, TTSCache) and cache.directory == tmp_path / "x"


def test_make_tts_cache_builds_s3(moto_endpoint, bucket, tmp_path):
    cache = make_tts_cache(
        {"TTS_STORAGE": "s3", "TTS_S3_BUCKET": bucket, "TTS_S3_PREFIX": "prompts", "TTS_S3_ENDPOINT_URL": moto_endpoint,
         "TTS_S3_REGION": "eu-west-1", "TTS_S3_TIMEOUT_S": 1.5, "TTS_S3_LOCAL_DIR": str(tmp_path / "copy")},
        tmp_path,
    )
    assert isinstance(cache, S3TTSCache)
    assert (cache.bucket, cache.prefix, cache.endpoint_url, cache.timeout) == (bucket, "prompts/", moto_endpoint, 1.5)
    assert cache.client.meta.region_name == "eu-west-1"
    assert cache.client.meta.config.connect_timeout == 1.5 and cache.client.meta.config.read_timeout == 1.5
    assert cache.client.meta.config.s3["addressing_style"] == "path"
    cache.put(KEY, silent_mp3())
    assert cache.get(KEY) == silent_mp3()
    assert make_tts_cache({"TTS_STORAGE": "s3", "TTS_S3_BUCKET": "b"}, tmp_path).prefix == "tts/"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"TTS_STORAGE": "s3"}, "TTS_S3_BUCKET"),
        ({"TTS_STORAGE": "s3", "TTS_S3_BUCKET": "  "}, "TTS_S3_BUCKET"),
        ({"TTS_STORAGE": "ftp"}, "TTS_STORAGE"),
        ({"TTS_STORAGE": "s3", "TTS_S3_BUCKET": "b", "TTS_S3_ENDPOINT_URL": "minio:9000"}, "TTS_S3_ENDPOINT_URL"),
        ({"TTS_STORAGE": "s3", "TTS_S3_BUCKET": "b", "TTS_S3_ADDRESSING_STYLE": "dns"}, "TTS_S3_ADDRESSING_STYLE"),
        ({"TTS_STORAGE": "s3", "TTS_S3_BUCKET": "b", "TTS_S3_TIMEOUT_S": "soon"}, "TTS_S3_TIMEOUT_S"),
        ({"TTS_STORAGE": "s3", "TTS_S3_BUCKET": "b", "TTS_S3_TIMEOUT_S": -1}, "TTS_S3_TIMEOUT_S"),
    ],
)
def test_make_tts_cache_rejects_misconfiguration(tmp_path, config, message):
    with pytest.raises(ValueError, match=message):
        make_tts_cache(config, tmp_path)


def test_create_app_picks_the_backend(tmp_path, moto_endpoint, bucket):
    from callflow import create_app
    from tests.conftest import base_config

    config = base_config(tmp_path)
    with pytest.raises(ValueError, match="TTS_S3_BUCKET"):
        create_app({**config, "TTS_STORAGE": "s3", "TTS_S3_BUCKET": None})

    app = create_app({**config, "TTS_STORAGE": "s3", "TTS_S3_BUCKET": bucket, "TTS_S3_ENDPOINT_URL": moto_endpoint})
    cache = app.extensions["tts_cache"]
    assert isinstance(cache, S3TTSCache) and cache.bucket == bucket and cache.prefix == "tts/"
    cache.put(KEY, silent_mp3(2))
    with app.test_client().get(f"/tts/{KEY}.mp3") as response:
        assert response.status_code == 200 and response.data == silent_mp3(2)

    app = create_app({**config, "TTS_STORAGE": "dir"})
    assert isinstance(app.extensions["tts_cache"], TTSCache)


# -- a call's personal audio in the bucket -------------------------------------------------------------------------


def _call_key(group: str, n: int) -> str:
    return f"call/{group}/{str(n) * 64}"


def test_personal_audio_is_private_and_has_no_local_copy(moto_endpoint, bucket, s3, tmp_path):
    cache = _cache(moto_endpoint, bucket, local_dir=tmp_path / "local")
    group = "a" * 64
    key = _call_key(group, 1)
    cache.put(key, silent_mp3(3))
    head = s3.head_object(Bucket=bucket, Key=f"tts/{key}.mp3")
    assert head["CacheControl"] == "private, no-store" and head["ContentType"] == "audio/mpeg"
    assert cache.has(key) and cache.get(key) == silent_mp3(3)
    with _route_client(cache).get(f"/tts/{key}.mp3") as served:
        assert served.status_code == 200 and served.data == silent_mp3(3)
        assert "no-store" in served.headers["Cache-Control"] and "ETag" not in served.headers
    # no per-instance copy that another instance's deletion could not reach
    assert not (tmp_path / "local" / "call").exists()


def test_delete_group_and_expiry_in_the_bucket(moto_endpoint, bucket, s3):
    cache = _cache(moto_endpoint, bucket)
    a, b = "a" * 64, "b" * 64
    for key in (_call_key(a, 1), _call_key(a, 2), _call_key(b, 3), KEY):
        cache.put(key, silent_mp3(2))
    s3.put_object(Bucket=bucket, Key=f"tts/call/{a}/notes.txt", Body=b"left alone")  # not ours: not an mp3
    deletes = _count_calls(cache, "DeleteObjects")
    assert cache.delete_group(a) == 2
    assert len(deletes) == 1
    assert not cache.has(_call_key(a, 1))  # the per-process memory of existing keys forgot it too
    assert sorted(_keys(s3, bucket)) == sorted([f"tts/call/{a}/notes.txt", f"tts/{_call_key(b, 3)}.mp3", f"tts/{KEY}.mp3"])
    assert cache.delete_group(a) == 0
    with pytest.raises(ValueError):
        cache.delete_group("x" * 64)
    assert cache.expire_calls(3600) == 0  # written just now
    assert cache.expire_calls(-60) == 1  # everything under call/ is "older" than a cutoff in the future
    assert sorted(_keys(s3, bucket)) == sorted([f"tts/call/{a}/notes.txt", f"tts/{KEY}.mp3"])  # shared audio stays


def test_failed_delete_raises_without_cooling_the_bucket_down(cache, s3, bucket, caplog):
    s3.delete_bucket(Bucket=bucket)
    with pytest.raises(TTSStorageError):
        cache.delete_group("d" * 64)
    assert cache.available  # prompts of calls still running keep their audio
    assert "tts s3 delete of call/dddddddddddd failed: NoSuchBucket" in caplog.text


def test_prune_shared_keeps_fixed_prompts_and_call_audio(moto_endpoint, bucket, s3, tmp_path):
    cache = _cache(moto_endpoint, bucket, local_dir=tmp_path / "local")
    keep, stale = TTSCache.key("Kept", "alloy", "m"), TTSCache.key("Old wording", "alloy", "m")
    call = _call_key("e" * 64, 7)
    for key in (keep, stale, call):
        cache.put(key, silent_mp3(2))
    assert (tmp_path / "local" / f"{stale}.mp3").exists()
    assert cache.prune_shared({keep}, dry_run=True) == 1 and len(_keys(s3, bucket)) == 3
    assert cache.prune_shared({keep}) == 1
    assert sorted(_keys(s3, bucket)) == sorted([f"tts/{keep}.mp3", f"tts/{call}.mp3"])
    assert not (tmp_path / "local" / f"{stale}.mp3").exists() and (tmp_path / "local" / f"{keep}.mp3").exists()
    assert not cache.has(stale)
