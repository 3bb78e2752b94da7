"""Sensitive data in what would be sent to a provider: detection, and optional redaction.

Detection looks for e-mail addresses, phone numbers, payment cards (Luhn and issuer prefix),
IBANs (length per country and mod-97), US SSNs, UK NINOs and Canadian SINs (Luhn); for values
of fields the adapter marks sensitive; and applies the tenant's policy. A decision carries
reason codes only, never the values found.

Redaction replaces each value by a placeholder such as ``«EMAIL_1»`` (the same value gets the
same placeholder everywhere) and puts the values back into the answer, also when a
placeholder arrives split across stream deltas.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Literal, NamedTuple

import msgspec

from margin.adapters.types import RecordContext
from margin.providers.base import ChatMessage, ProviderRequest
from margin.resilience.config import DataPolicy, SensitiveKind, SensitiveSettings

ReasonCode = Literal["email", "phone", "card", "iban", "us_ssn", "uk_nino", "ca_sin", "field", "tenant"]

_MIN_FIELD_VALUE_CHARS = 4
"""Shorter values of sensitive fields ("42", "no") cannot be told apart from ordinary text."""

_IBAN_LENGTHS = {
    **dict.fromkeys(["NO"], 15),
    **dict.fromkeys(["BE"], 16),
    **dict.fromkeys(["DK", "FI", "FO", "GL", "NL"], 18),
    **dict.fromkeys(["MK", "SI"], 19),
    **dict.fromkeys(["AT", "BA", "EE", "KZ", "LT", "LU", "XK"], 20),
    **dict.fromkeys(["CH", "HR", "LI", "LV"], 21),
    **dict.fromkeys(["BG", "BH", "CR", "DE", "GB", "GE", "IE", "ME", "RS", "VA"], 22),
    **dict.fromkeys(["AE", "GI", "IL", "IQ", "TL"], 23),
    **dict.fromkeys(["AD", "CZ", "ES", "MD", "PK", "RO", "SA", "SE", "SK", "TN", "VG"], 24),
    **dict.fromkeys(["PT", "ST"], 25),
    **dict.fromkeys(["IS", "TR"], 26),
    **dict.fromkeys(["FR", "GR", "IT", "MC", "MR", "SM"], 27),
    **dict.fromkeys(["AL", "AZ", "BY", "CY", "DO", "GT", "HU", "LB", "PL", "SV"], 28),
    **dict.fromkeys(["BR", "EG", "PS", "QA", "UA"], 29),
    **dict.fromkeys(["JO", "KW", "MU"], 30),
    **dict.fromkeys(["MT", "SC"], 31),
    **dict.fromkeys(["LC"], 32),
}

# Speed: each pattern below would cost a scan of the whole text, so the digit-based ones (card,
# SSN, SIN, phone) only run inside runs of at least 7 digits that one cheap scan finds, e-mail
# addresses are only looked for around each "@", and the letter-led ones consume their first
# letter before the boundary check (a pattern that starts with a character class lets the
# regex engine skip ahead fast; one that starts with a lookbehind does not).
_DIGIT_RUN = re.compile(r"[+(\d](?:[ ().-]{0,2}\d){6,}\)?")
_EMAIL = re.compile(
    r"(?<![\w.+%-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,24}(?![\w-])"
)
_EMAIL_BEFORE_AT, _EMAIL_AFTER_AT = 65, 256
_PHONE = re.compile(
    # Not part of a longer run of digit groups (a card, an account number): no digit group right
    # before or after.
    r"(?<![\w+-])(?<!\d[ .-])(?:"
    # international: +CC then 2 to 6 groups, e.g. +44 20 7946 0958, +1 (415) 555-2671, +4930123456
    r"\+\d{1,3}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,5})){2,6}"
    # North American: (415) 555-2671, 415-555-2671, 1-800-555-0199
    r"|(?:1[ .-])?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}"
    # national with a trunk 0: 020 7946 0958, 030-1234-5678; French pairs: 01 23 45 67 89
    r"|0(?!0)\d{1,4}[ -]\d{3,4}[ -]?\d{3,4}|0[1-9](?:[ .]\d{2}){4}"
    r")(?![\w-])(?![ .-]\d)"
)
_CARD = re.compile(
    r"(?<![\w-])(?:\d{4}([ -]?)\d{4}\1\d{4}\1\d{4}(?:\1\d{3})?|\d{4}([ -]?)\d{6}\2\d{5}|\d{13,19})(?!\w)"
)
_US_SSN = re.compile(r"(?<![\w-])(?!000|666|9)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\w-])")
_CA_SIN = re.compile(r"(?<![\w-])[1-79]\d{2}([- ])\d{3}\1\d{3}(?![\w-])")
_IBAN = re.compile(r"[A-Z](?<!\w[A-Z])[A-Z]\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?!\w)")
_UK_NINO = re.compile(
    r"[A-CEGHJ-PR-TW-Z](?<!\w[A-Z])[A-CEGHJ-NPR-TW-Z](?<!BG|GB|KN|NK|NT|TN|ZZ)"
    r" ?\d{2} ?\d{2} ?\d{2} ?[A-D](?!\w)"
)
_PLACEHOLDER = re.compile(r"«([A-Z]+_\d+)»")
_PLACEHOLDER_START = re.compile(r"«[A-Z]*(?:_\d*)?")
_MAX_PLACEHOLDER_CHARS = 24


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _luhn(digits: str) -> bool:
    total = 0
    for position, ch in enumerate(reversed(digits)):
        value = ord(ch) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _valid_card(text: str) -> bool:
    digits = _digits(text)
    if not 13 <= len(digits) <= 19:
        return False
    # Issuers: Visa 4, Mastercard 51-55 and 2221-2720, Amex/Diners/JCB 3, Discover/UnionPay/Maestro 5-6.
    issuer = digits[0] in "3456" or 2221 <= int(digits[:4]) <= 2720
    return issuer and _luhn(digits)


def _valid_iban(text: str) -> bool:
    iban = text.replace(" ", "")
    if _IBAN_LENGTHS.get(iban[:2]) != len(iban):
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _valid_phone(text: str) -> bool:
    digits = len(_digits(text))
    if text.startswith("+"):
        return 8 <= digits <= 15
    if text.startswith("0"):
        return 9 <= digits <= 12
    local = _digits(text)[-10:]  # North American: area code and exchange start with 2-9
    return local[0] not in "01" and local[3] not in "01"


def _always(_: str) -> bool:
    return True


def _valid_sin(text: str) -> bool:
    return _luhn(_digits(text))


Detector = tuple[SensitiveKind, re.Pattern[str], Callable[[str], bool]]
_IN_DIGIT_RUNS: tuple[Detector, ...] = (
    ("card", _CARD, _valid_card),
    ("us_ssn", _US_SSN, _always),
    ("ca_sin", _CA_SIN, _valid_sin),
    ("phone", _PHONE, _valid_phone),
)
_IN_WHOLE_TEXT: tuple[Detector, ...] = (
    ("iban", _IBAN, _valid_iban),
    ("uk_nino", _UK_NINO, _always),
)
_PLACEHOLDER_NAMES = {
    "card": "CARD",
    "iban": "IBAN",
    "us_ssn": "SSN",
    "uk_nino": "NINO",
    "ca_sin": "SIN",
    "email": "EMAIL",
    "phone": "PHONE",
    "field": "FIELD",
}


class Sensitivity(msgspec.Struct, frozen=True, kw_only=True):
    """Whether a request carries sensitive data, and why (reason codes only, never values).

    ``redactable``: the tenant's policy allows sending it to a cloud provider with placeholders.
    """

    sensitive: bool
    reasons: tuple[ReasonCode, ...] = ()
    redactable: bool = False


class _Finding(NamedTuple):
    start: int
    end: int
    kind: ReasonCode


class SensitiveDetector:
    """Stateless and cheap to share: compiled patterns and the tenants' policies."""

    def __init__(self, settings: SensitiveSettings | None = None) -> None:
        self.settings = settings or SensitiveSettings()

    def assess(self, request: ProviderRequest, *, tenant: str) -> Sensitivity:
        """Scan every message that would be sent, plus the record's sensitive fields."""
        policy = self.settings.policy_for(tenant)
        reasons: set[ReasonCode] = {"tenant"} if policy.always_sensitive else set()
        values = _sensitive_values(_record_of(request))
        for message in request.messages:
            reasons.update(finding.kind for finding in _find(message.content, policy, values))
        return Sensitivity(
            sensitive=bool(reasons),
            reasons=tuple(sorted(reasons)),
            redactable=bool(reasons) and policy.on_sensitive == "redact" and not policy.always_sensitive,
        )

    def redact(self, request: ProviderRequest, *, tenant: str) -> tuple[ProviderRequest, Redaction]:
        """The request with every sensitive value replaced by a placeholder, and the way back.

        Only ``messages`` change: cloud providers read nothing else (the offline provider reads
        ``task``, but it is local and gets the original request).
        """
        policy = self.settings.policy_for(tenant)
        values = _sensitive_values(_record_of(request))
        redaction = Redaction()
        messages = tuple(
            ChatMessage(m.role, redaction.replace(m.content, _find(m.content, policy, values)))
            for m in request.messages
        )
        return msgspec.structs.replace(request, messages=messages), redaction


class Redaction:
    """The placeholders of one request and the values behind them (kept in memory only)."""

    def __init__(self) -> None:
        self._placeholders: dict[str, str] = {}  # value -> placeholder
        self._values: dict[str, str] = {}  # placeholder name (EMAIL_1) -> value
        self._counts: dict[str, int] = {}

    def replace(self, text: str, findings: list[_Finding]) -> str:
        parts: list[str] = []
        position = 0
        for start, end, kind in findings:
            value = text[start:end]
            placeholder = self._placeholders.get(value)
            if placeholder is None:
                name = _PLACEHOLDER_NAMES[kind]
                self._counts[name] = self._counts.get(name, 0) + 1
                placeholder = f"{name}_{self._counts[name]}"
                self._placeholders[value] = placeholder
                self._values[placeholder] = value
            parts += [text[position:start], f"«{placeholder}»"]
            position = end
        parts.append(text[position:])
        return "".join(parts)

    def restore(self, text: str) -> str:
        """``text`` with every known placeholder replaced by its value (unknown ones stay)."""
        if "«" not in text:
            return text
        return _PLACEHOLDER.sub(lambda m: self._values.get(m.group(1), m.group(0)), text)

    def restorer(self) -> StreamRestorer:
        return StreamRestorer(self)


class StreamRestorer:
    """Restores placeholders in a stream of deltas; holds back a placeholder's beginning until
    the delta that completes it (or shows it was no placeholder) arrives."""

    def __init__(self, redaction: Redaction) -> None:
        self._redaction = redaction
        self._held = ""

    def feed(self, delta: str) -> str:
        text = self._held + delta
        cut = text.rfind("«")
        if (
            cut != -1
            and "»" not in text[cut:]
            and len(text) - cut <= _MAX_PLACEHOLDER_CHARS
            and _PLACEHOLDER_START.fullmatch(text, cut)
        ):
            self._held, text = text[cut:], text[:cut]
        else:
            self._held = ""
        return self._redaction.restore(text)

    def flush(self) -> str:
        """What is still held back, at the end of the stream."""
        text, self._held = self._held, ""
        return self._redaction.restore(text)


def _record_of(request: ProviderRequest) -> RecordContext | None:
    return request.record


def _sensitive_values(record: RecordContext | None) -> tuple[str, ...]:
    """Values of the record's sensitive fields as they may appear in a prompt (raw and JSON-escaped)."""
    if record is None:
        return ()
    values: set[str] = set()
    for field in record.fields:
        if not field.sensitive or field.value is None or isinstance(field.value, bool):
            continue
        text = str(field.value)
        if len(text) >= _MIN_FIELD_VALUE_CHARS:
            values.add(text)
            values.add(msgspec.json.encode(text).decode()[1:-1])
    return tuple(sorted(values, key=len, reverse=True))


def _find(text: str, policy: DataPolicy, field_values: Iterable[str]) -> list[_Finding]:
    """Validated matches in ``text``, without overlaps: the earliest and longest win."""
    findings: list[_Finding] = []

    def scan(detectors: Iterable[Detector], start: int, end: int) -> None:
        for kind, pattern, valid in detectors:
            for match in pattern.finditer(text, start, end):
                if valid(match.group()):
                    findings.append(_Finding(match.start(), match.end(), kind))

    in_runs = [d for d in _IN_DIGIT_RUNS if d[0] in policy.detect]
    if in_runs:
        for run in _DIGIT_RUN.finditer(text):
            scan(in_runs, run.start(), run.end() + 2)  # + 2: the patterns' lookaheads look past the run
    scan([d for d in _IN_WHOLE_TEXT if d[0] in policy.detect], 0, len(text))
    if "email" in policy.detect:
        at = text.find("@")
        while at != -1:
            for match in _EMAIL.finditer(text, max(0, at - _EMAIL_BEFORE_AT), at + _EMAIL_AFTER_AT):
                if match.start() < at < match.end():
                    findings.append(_Finding(match.start(), match.end(), "email"))
            at = text.find("@", at + 1)
    for value in field_values:
        start = text.find(value)
        while start != -1:
            findings.append(_Finding(start, start + len(value), "field"))
            start = text.find(value, start + len(value))
    findings.sort(key=lambda f: (f.start, -f.end))
    kept: list[_Finding] = []
    for finding in findings:
        if not kept or finding.start >= kept[-1].end:
            kept.append(finding)
    return kept
