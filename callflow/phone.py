"""Caller phone numbers as Twilio sends them in ``From``: only an E.164 number is one to call back.

Twilio also sends ``anonymous``, withheld-number placeholders (``+266696687``, ``+7378742833``...),
``sip:`` URIs and ``client:`` identities there. E.164: https://www.twilio.com/docs/glossary/what-e164
"""
from __future__ import annotations

import re

import phonenumbers

from .spoken_email import MAX_TRANSCRIPT_CHARS, spoken_digits

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


#: The region a number said without a country code is read in when the line's own number (Twilio's ``To``) gives
#: none: a line reached from a SIP trunk or a client.
DEFAULT_CALLBACK_REGION = "US"
MIN_SPOKEN_DIGITS = 7  # a number said with its area code has more; fewer is a local number or a fragment
MAX_SPOKEN_DIGITS = 15  # E.164's longest number


#: An extension said after the number ("..., extension 23", "ext 4"): the number without it reaches the caller's
#: switchboard, and the transcript on the ticket keeps it.
_EXTENSION_RE = re.compile(r"[\s,.;-]*\b(?:extension|ext)\b.*", re.IGNORECASE | re.DOTALL)


def parse_spoken_phone(text: str | None, line_number: str | None = None) -> str | None:
    """A callback number said by the caller, as E.164: "four one five, five five five, oh one double oh" on a US
    line is ``"+14155550100"``.

    Args:
        text: the recogniser's transcript (Twilio ``SpeechResult``) or keypad digits; an extension said after the
            number ("extension 23") is left out.
        line_number: the number the caller rang (Twilio ``To``); a number said without a country code is read in
            its region (``+1...``: US), else in :data:`DEFAULT_CALLBACK_REGION`.

    Returns:
        The number in E.164 (https://www.twilio.com/docs/glossary/what-e164) when the digits said (see
        :func:`callflow.spoken_email.spoken_digits`) make a valid number for the region by the phonenumbers
        library (Google's libphonenumber metadata); ``None`` for fewer than :data:`MIN_SPOKEN_DIGITS` or more than
        :data:`MAX_SPOKEN_DIGITS` digits, an invalid number, or Twilio's withheld-number placeholders.

    Raises:
        Nothing.
    """
    if isinstance(text, str):
        # "415 555 0100 extension 23": the line's number; spoken_digits reads no more than this either
        text = _EXTENSION_RE.sub("", text[:MAX_TRANSCRIPT_CHARS])
    digits = spoken_digits(text)
    if not MIN_SPOKEN_DIGITS <= len(digits.lstrip("+")) <= MAX_SPOKEN_DIGITS:
        return None
    region = DEFAULT_CALLBACK_REGION
    line = normalize_phone(line_number)
    try:
        if line:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(line)) or region
        number = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return normalize_phone(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def spoken_number(number: str) -> str:
    """An E.164 number as a caller hears it read back: ``"+14155550100"`` -> ``"4, 1, 5, 5, 5, 5, 0, 1, 0, 0"``
    (the national digits, one by one, so that text-to-speech does not read "four billion...")."""
    try:  # the national format keeps a trunk prefix ("020 7946 0000" in the UK)
        national = re.sub(r"\D", "", phonenumbers.format_number(phonenumbers.parse(number),
                                                                 phonenumbers.PhoneNumberFormat.NATIONAL))
    except phonenumbers.NumberParseException:
        national = re.sub(r"\D", "", number or "")
    return ", ".join(national)
