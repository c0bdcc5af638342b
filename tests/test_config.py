"""Settings from the environment (config.py): a mistyped or out-of-range value stops the start with a message naming
the variable, instead of switching a security setting off (a boolean typo), a bare int()/float() traceback, or a
setting that misbehaves later (a negative <Gather timeout>, every webhook refused with 413, a ProxyFix IndexError on
every request)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load_config(tmp_path, **env: str) -> subprocess.CompletedProcess:
    """Import config in a fresh interpreter with only ``env`` set (no .env: the working directory has none)."""
    script = "import sys; sys.path.insert(0, sys.argv[1]); from config import Config; print(repr(vars(Config)))"
    clean = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-c", script, str(ROOT)], cwd=tmp_path, env=dict(clean, **env),
        capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize("name", ["TWILIO_VALIDATE_SIGNATURES", "ADMIN_COOKIE_SECURE", "PROXY_FIX"])
@pytest.mark.parametrize("typo", ["ture", "enabled", "Y"])
def test_a_mistyped_boolean_stops_the_start_naming_the_variable(tmp_path, name, typo):
    result = load_config(tmp_path, **{name: typo})
    assert result.returncode != 0
    assert f"ValueError: {name} must be one of" in result.stderr and repr(typo) in result.stderr


@pytest.mark.parametrize(
    "value, expected", [("", "True"), (" ", "True"), ("TRUE", "True"), (" yes ", "True"), ("Off", "False"), ("0", "False")]
)
def test_boolean_spellings(tmp_path, value, expected):
    result = load_config(tmp_path, TWILIO_VALIDATE_SIGNATURES=value)
    assert result.returncode == 0, result.stderr
    assert f"'TWILIO_VALIDATE_SIGNATURES': {expected}" in result.stdout


@pytest.mark.parametrize(
    "name, value",
    [
        ("GATHER_TIMEOUT_S", "10s"),
        ("GATHER_TIMEOUT_S", "0"),
        ("GATHER_TIMEOUT_S", "-5"),
        ("EMAIL_SPEECH_TIMEOUT_S", "auto"),
        ("EMAIL_SPEECH_TIMEOUT_S", "30"),
        ("KB_SCORE_CUTOFF", "nan"),
        ("KB_SCORE_CUTOFF", "500"),
        ("MAX_CONTENT_LENGTH", "0"),
        ("MAX_CONTENT_LENGTH", "64k"),
        ("PROXY_FIX_X_FOR", "-1"),
        ("OPENAI_DRAFT_TIMEOUT_S", "3.5s"),
        ("KAYAKO_CONNECT_TIMEOUT_S", "0"),
        ("TICKET_WORKER_POLL_S", "-1"),
        ("ADMIN_PAGE_SIZE", "0"),
        ("LOG_LEVEL", "verbose"),
    ],
)
def test_a_bad_value_stops_the_start_naming_the_variable(tmp_path, name, value):
    result = load_config(tmp_path, **{name: value})
    assert result.returncode != 0
    assert f"ValueError: {name} must be" in result.stderr and repr(value) in result.stderr


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("GATHER_TIMEOUT_S", " 8 ", "8"),
        ("GATHER_TIMEOUT_S", "", "6"),
        ("KB_SCORE_CUTOFF", "0", "None"),
        ("KB_SCORE_CUTOFF", "72.5", "72.5"),
        ("MAX_CONTENT_LENGTH", "131072", "131072"),
        ("PROXY_FIX_X_PREFIX", "0", "0"),
        ("LOG_LEVEL", "debug", "'DEBUG'"),
        ("LOG_LEVEL", "warning", "'WARNING'"),
    ],
)
def test_good_values_are_read(tmp_path, name, value, expected):
    result = load_config(tmp_path, **{name: value})
    assert result.returncode == 0, result.stderr
    assert f"'{name}': {expected}," in result.stdout


@pytest.mark.parametrize("name, value", [
    ("PUBLIC_BASE_URL", "voice.example.org"), ("PUBLIC_BASE_URL", "ftp://voice.example.org"),
    ("KAYAKO_URL", "acme.kayako.com"), ("ADMIN_LOGIN_RATE_LIMIT", "lots"), ("ADMIN_LOGIN_IP_RATE_LIMIT", "30/fortnight"),
    ("PROXY_FIX_X_PORT", "-1"),
])
def test_a_bad_url_or_rate_limit_stops_the_start_naming_the_variable(tmp_path, name, value):
    result = load_config(tmp_path, **{name: value})
    assert result.returncode != 0
    assert f"ValueError: {name} must be" in result.stderr and repr(value) in result.stderr


@pytest.mark.parametrize("name, value, expected", [
    ("PUBLIC_BASE_URL", " https://voice.example.org/callflow/ ", "'https://voice.example.org/callflow'"),
    ("KAYAKO_URL", "https://acme.kayako.com", "'https://acme.kayako.com'"),
    ("ADMIN_LOGIN_RATE_LIMIT", "10 per hour", "'10 per hour'"),
    ("PROXY_FIX_X_PORT", "0", "0"),
])
def test_good_urls_and_rate_limits_are_read(tmp_path, name, value, expected):
    result = load_config(tmp_path, **{name: value})
    assert result.returncode == 0, result.stderr
    assert f"'{name}': {expected}," in result.stdout
