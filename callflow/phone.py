"""Caller phone numbers as Twilio sends them in ``From``: only an E.164 number is one to call back.

Twilio also sends ``anonymous``, withheld-number placeholders (``+266696687``, ``+7378742833``...),
``sip:`` URIs and ``client:`` identities there. E.164: https://www.twilio.com/docs/glossary/what-e164
"""
from __future__ import annotations

import re

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
#: Caller ids Twilio sends for withheld numbers (anonymous, restricted, unknown, blocked, unavailable).
_WITHHELD = frozenset({"+266696687", "+7378742833", "+8656696", "+2562533", "+86282452253"})


def normalize_phone(phone: str | None) -> str | None:
    """``"+1 (415) 555-0104"`` -> ``"+14155550104"``; None unless E.164-looking (``"anonymous"``,
    Twilio withheld-number placeholders, numbers without ``+``, SIP and Client callers)."""
    if not isinstance(phone, str):
        return None
    compact = re.sub(r"[\s().-]", "", phone)
    return compact if _E164.match(compact) and compact not in _WITHHELD else None
